import type { Mailman3TargetConfig } from '../../config/schema.js';
import type { ListContext, TargetPlan } from '../target.js';
import { estimateArchivePaths } from './estimate.js';
import { mapRoster } from './map-roster.js';
import { mailman3SettingsPlan } from './apply-settings.js';
import { mailman3Names } from './names.js';

/** The Mailman 3 plan of one list, computed from the state database only (the dry-run shows it). */
export async function planMailman3(ctx: ListContext, target: Mailman3TargetConfig): Promise<TargetPlan> {
  const names = mailman3Names(ctx.config, target);
  // The same mapping the settings phase applies (incl. the new listinfo link in footers).
  const settings = mailman3SettingsPlan(ctx, { target, names: (c) => mailman3Names(c, target) });
  const roster = mapRoster(ctx.config);
  const { n: replayable } = (await ctx.store.db.get<{ n: number }>(
    "SELECT count(*) AS n FROM messages WHERE list = ? AND duplicate_kind IS NOT 'same'",
    [ctx.list],
  ))!;
  const paths = estimateArchivePaths(replayable, target.serverCommand !== undefined);
  const archivePath = target.archivePath === 'auto' ? paths.recommended : target.archivePath;
  const rosterRequests = roster.owners.length + roster.moderators.length + roster.members.length * 3;
  const settingsRequests = 4 + settings.headerMatches.length + settings.bans.length + settings.nonmemberActions.length * 2 + settings.templates.length;
  const archiveSeconds = archivePath === 'server' ? paths.serverSeconds : paths.httpSeconds;
  return {
    target: 'mailman3',
    settings: [
      ...Object.entries(settings.listConfig).map(([key, value]) => ({
        key,
        value,
        from: settings.carried.filter((c) => c.to === `listConfig.${key}`).map((c) => c.key),
      })),
      ...settings.headerMatches.map((h) => ({ key: `header-match ${h.header}`, value: { pattern: h.pattern, action: h.action ?? 'defer' }, from: [h.source] })),
      ...settings.bans.map((b) => ({ key: 'ban', value: b, from: ['ban_list'] })),
      ...settings.nonmemberActions.map((n) => ({ key: `nonmember ${n.email}`, value: n.action, from: [n.source] })),
      ...settings.templates.map((t) => ({ key: `template ${t.name}`, value: t.text, from: [t.source] })),
    ],
    notCarried: [...settings.notCarried, ...roster.notCarried],
    details: {
      list: names,
      roster: {
        owners: roster.owners,
        moderators: roster.moderators,
        members: roster.members,
      },
      archive: {
        messages: replayable,
        path: archivePath,
        estimates: paths,
      },
      notApplicable: settings.notApplicable,
    },
    estimate: {
      requests: rosterRequests + settingsRequests + (archivePath === 'http' ? replayable : 2),
      seconds: (rosterRequests + settingsRequests) * 0.05 + archiveSeconds,
      basis: `archive via ${archivePath === 'http' ? 'HyperKitty archiver endpoint' : 'server-side hyperkitty_import'}: ${paths.reason}`,
    },
    problems: [...settings.problems, ...roster.problems],
  };
}
