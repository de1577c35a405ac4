/**
 * Verification of the settings and roster phases: what the Mailman 3 core holds now, compared
 * with what the plan (`mapSettings`, `mapRoster`) says. Only reads; one check per aspect, each
 * listing the differences it found.
 */
import type { ListContext, VerifyResult } from '../target.js';
import { SETTINGS_PHASE } from './apply-list.js';
import { mailman3SettingsPlan, readPublishedTemplate, templateLocation, type RefusedSettings } from './apply-settings.js';
import { memberModeration } from './apply-roster.js';
import { templatesConfig, type Mailman3Env } from './env.js';
import { mapRoster, type MemberPreferences, type RosterPerson } from './map-roster.js';
import type { RestValue } from './map-types.js';
import {
  BanSchema,
  HeaderMatchSchema,
  ListConfigSchema,
  ListSchema,
  MemberSchema,
  PreferencesSchema,
  UriSchema,
  type CoreMember,
} from './rest-client.js';

export type Check = VerifyResult['checks'][number];

/** At most this many differing entries are shown per check (the count is always complete). */
const SHOWN = 25;

function limited<T>(entries: [string, T][]): Record<string, T> {
  return Object.fromEntries(entries.slice(0, SHOWN));
}

function differences(count: number, what: string): string {
  return count === 0 ? `all ${what} match` : `${count} ${what} differ${count > SHOWN ? ` (first ${SHOWN} shown)` : ''}`;
}

/** "7d", "3600s", "0d3600.0s" → seconds; null when it is not a Mailman duration. */
function durationSeconds(value: unknown): number | null {
  if (typeof value !== 'string') return null;
  const m = /^(?:(\d+)d)?(?:(\d+(?:\.\d+)?)s)?$/.exec(value);
  if (!m || (m[1] === undefined && m[2] === undefined)) return null;
  return Number(m[1] ?? 0) * 86400 + Number(m[2] ?? 0);
}

/** Does the core's value say the same as the planned REST value? */
export function sameSetting(planned: RestValue, actual: unknown): boolean {
  if (Array.isArray(planned)) {
    return Array.isArray(actual) && JSON.stringify([...planned].sort()) === JSON.stringify([...(actual as unknown[]).map(String)].sort());
  }
  if (typeof planned === 'boolean') return actual === planned;
  if (typeof planned === 'number') return typeof actual === 'number' && actual === planned;
  const plannedSeconds = durationSeconds(planned);
  if (plannedSeconds !== null && durationSeconds(actual) !== null) return plannedSeconds === durationSeconds(actual);
  // Unset text attributes read back as null.
  return (actual ?? '') === planned;
}

export async function verifyMailman3Roster(ctx: ListContext, env: Mailman3Env): Promise<Check[]> {
  const { core } = env;
  const { list } = ctx;
  const names = env.names(ctx.config);
  const checks: Check[] = [];
  const found = await core.find({ list, operation: `verify: look up list ${names.fqdn}`, path: `/lists/${encodeURIComponent(names.fqdn)}`, schema: ListSchema });
  checks.push({ name: 'list exists', ok: found !== null, expected: names.fqdn, actual: found?.fqdn_listname ?? null });
  if (found === null) return checks;
  const base = `/lists/${encodeURIComponent(found.list_id)}`;
  const at = (operation: string) => ({ list, operation: `verify: ${operation}` });

  const settings = mailman3SettingsPlan(ctx, env);
  const config = await core.ok({ ...at('read list settings'), method: 'GET', path: `${base}/config`, schema: ListConfigSchema });
  const journal = await ctx.store.journalEntry(list, SETTINGS_PHASE, 'list-config', 'config');
  const refused = ((journal?.detail_json ? (JSON.parse(journal.detail_json) as { refused?: RefusedSettings }).refused : undefined) ?? {}) as RefusedSettings;

  const policy = settings.listConfig['archive_policy']!;
  checks.push({ name: 'archive policy', ok: config['archive_policy'] === policy, expected: policy, actual: config['archive_policy'] ?? null });

  const settingDiffs: [string, { expected: RestValue; actual: unknown; refused?: string }][] = [];
  for (const [key, value] of Object.entries(settings.listConfig)) {
    if (!sameSetting(value, config[key])) settingDiffs.push([key, { expected: value, actual: config[key] ?? null, ...(refused[key] ? { refused: refused[key]!.reason } : {}) }]);
  }
  checks.push({
    name: 'list settings',
    ok: settingDiffs.length === 0,
    expected: `${Object.keys(settings.listConfig).length} settings as planned`,
    actual: settingDiffs.length === 0 ? 'as planned' : limited(settingDiffs),
    detail: differences(settingDiffs.length, 'settings'),
  });

  const rules = await core.all({ ...at('read header matches'), path: `${base}/header-matches`, entry: HeaderMatchSchema });
  const plannedRules = settings.headerMatches.map((h) => ({ header: h.header, pattern: h.pattern, action: h.action ?? null }));
  const actualRules = rules.map((h) => ({ header: h.header, pattern: h.pattern, action: h.action ?? null }));
  checks.push({ name: 'header matches', ok: JSON.stringify(plannedRules) === JSON.stringify(actualRules), expected: plannedRules, actual: actualRules });

  const bans = new Set((await core.all({ ...at('read bans'), path: `${base}/bans`, entry: BanSchema })).map((b) => b.email));
  const covered = new Set<string>();
  for (const row of await ctx.store.journal(list, SETTINGS_PHASE)) {
    if (row.op === 'ban' && row.detail_json && (JSON.parse(row.detail_json) as { coveredByPattern?: boolean }).coveredByPattern) covered.add(row.key);
  }
  const missingBans = settings.bans.filter((b) => !bans.has(b) && !covered.has(b));
  const extraBans = [...bans].filter((b) => !settings.bans.includes(b));
  checks.push({
    name: 'bans',
    ok: missingBans.length === 0 && extraBans.length === 0,
    expected: settings.bans,
    actual: [...bans],
    ...(covered.size ? { detail: `covered by a pattern ban, so Mailman 3 keeps no entry: ${[...covered].join(', ')}` } : {}),
  });

  const nonmembers = await rosterOf(env, list, base, 'nonmember');
  const nonmemberDiffs: [string, { expected: string; actual: string | null }][] = [];
  for (const n of settings.nonmemberActions) {
    const actual = nonmembers.get(n.email.toLowerCase())?.moderation_action ?? null;
    if (actual !== n.action) nonmemberDiffs.push([n.email, { expected: n.action, actual }]);
  }
  checks.push({
    name: 'nonmember moderation',
    ok: nonmemberDiffs.length === 0,
    expected: `${settings.nonmemberActions.length} nonmember entries`,
    actual: nonmemberDiffs.length === 0 ? 'as planned' : limited(nonmemberDiffs),
    detail: differences(nonmemberDiffs.length, 'nonmember entries'),
  });

  checks.push(await verifyTemplates(ctx, env, base, found.list_id));
  checks.push(...(await verifyRoster(ctx, env, base)));
  return checks;
}

/** Templates the settings phase published: the URI is set and serves the planned text. */
async function verifyTemplates(ctx: ListContext, env: Mailman3Env, base: string, listId: string): Promise<Check> {
  const settings = mailman3SettingsPlan(ctx, env);
  const carried = (await ctx.store.journal(ctx.list, SETTINGS_PHASE)).filter((r) => r.op === 'template' && r.status === 'done');
  const cfg = templatesConfig(env.target);
  const uris = new Map((await env.core.all({ list: ctx.list, operation: 'verify: read template URIs', path: `${base}/uris`, entry: UriSchema })).map((u) => [u.name, u.uri]));
  const diffs: [string, string][] = [];
  for (const row of carried) {
    const t = settings.templates.find((x) => x.name === row.key);
    if (!t) continue;
    const uri = uris.get(t.name);
    if (uri === undefined) {
      diffs.push([t.name, 'no URI set']);
      continue;
    }
    if (cfg === null) continue;
    const expectedUri = templateLocation(cfg, listId, t.name).uri;
    if (uri !== expectedUri) diffs.push([t.name, `URI ${uri}, expected ${expectedUri}`]);
    const published = await readPublishedTemplate(cfg, uri);
    if ('error' in published) diffs.push([t.name, published.error]);
    else if (published.text !== t.text) diffs.push([t.name, `${uri} serves different text`]);
  }
  const skipped = settings.templates.length - carried.length;
  return {
    name: 'templates',
    ok: diffs.length === 0,
    expected: `${carried.length} published templates`,
    actual: diffs.length === 0 ? 'as planned' : Object.fromEntries(diffs),
    ...(skipped > 0 ? { detail: `${skipped} template(s) not carried (see problems)` } : {}),
  };
}

async function rosterOf(env: Mailman3Env, list: string, base: string, role: string): Promise<Map<string, CoreMember>> {
  const entries = await env.core.all({ list, operation: `verify: read ${role} roster`, path: `${base}/roster/${role}`, entry: MemberSchema });
  return new Map(entries.map((m) => [m.email.toLowerCase(), m]));
}

function addressCheck(name: string, planned: RosterPerson[], actual: Map<string, CoreMember>): Check {
  const want = new Set(planned.map((p) => p.email.toLowerCase()));
  const missing = [...want].filter((e) => !actual.has(e));
  const extra = [...actual.keys()].filter((e) => !want.has(e));
  const parts = [missing.length ? `missing: ${missing.slice(0, SHOWN).join(', ')}` : '', extra.length ? `not in Mailman 2: ${extra.slice(0, SHOWN).join(', ')}` : ''].filter(Boolean);
  return {
    name,
    ok: missing.length === 0 && extra.length === 0,
    expected: want.size,
    actual: actual.size,
    ...(parts.length ? { detail: parts.join('; ') } : {}),
  };
}

async function verifyRoster(ctx: ListContext, env: Mailman3Env, base: string): Promise<Check[]> {
  const { list } = ctx;
  const roster = mapRoster(ctx.config);
  const owners = await rosterOf(env, list, base, 'owner');
  const moderators = await rosterOf(env, list, base, 'moderator');
  const members = await rosterOf(env, list, base, 'member');
  const checks: Check[] = [
    addressCheck('owners', roster.owners, owners),
    addressCheck('moderators', roster.moderators, moderators),
    addressCheck('members', roster.members, members),
  ];

  const modes: [string, { expected: string; actual: string }][] = [];
  const statuses: [string, { expected: string; actual: string | null }][] = [];
  const moderation: [string, { expected: string | null; actual: string | null }][] = [];
  const preferences: [string, Record<string, { expected: unknown; actual: unknown }>][] = [];
  const displayNames: [string, { expected: string; actual: string }][] = [];
  for (const [role, planned, actual] of [
    ['owner', roster.owners, owners],
    ['moderator', roster.moderators, moderators],
  ] as const) {
    for (const p of planned) {
      const entry = actual.get(p.email.toLowerCase());
      if (entry && p.displayName !== null && (entry.display_name ?? '') !== p.displayName) {
        displayNames.push([`${role} ${p.email}`, { expected: p.displayName, actual: entry.display_name ?? '' }]);
      }
    }
  }
  for (const m of roster.members) {
    const entry = members.get(m.email.toLowerCase());
    if (!entry) continue;
    if (entry.delivery_mode !== m.deliveryMode) modes.push([m.email, { expected: m.deliveryMode, actual: entry.delivery_mode }]);
    const wantedModeration = memberModeration(m, ctx.config);
    if ((entry.moderation_action ?? null) !== wantedModeration) moderation.push([m.email, { expected: wantedModeration, actual: entry.moderation_action ?? null }]);
    if (m.displayName !== null && (entry.display_name ?? '') !== m.displayName) displayNames.push([m.email, { expected: m.displayName, actual: entry.display_name ?? '' }]);
    const prefs = await env.core.ok({ list, operation: `verify: read preferences of ${entry.email}`, method: 'GET', path: `/members/${entry.member_id}/preferences`, schema: PreferencesSchema });
    if ((prefs.delivery_status ?? null) !== m.deliveryStatus) statuses.push([m.email, { expected: m.deliveryStatus, actual: prefs.delivery_status ?? null }]);
    const differing: Record<string, { expected: unknown; actual: unknown }> = {};
    for (const key of ['acknowledge_posts', 'hide_address', 'receive_own_postings', 'receive_list_copy', 'preferred_language'] as const satisfies readonly (keyof MemberPreferences)[]) {
      const actualValue = prefs[key] ?? null;
      if (actualValue !== m.preferences[key]) differing[key] = { expected: m.preferences[key], actual: actualValue };
    }
    if (Object.keys(differing).length) preferences.push([m.email, differing]);
  }
  const n = roster.members.length;
  checks.push(
    { name: 'member delivery modes', ok: modes.length === 0, expected: `${n} members`, actual: modes.length ? limited(modes) : 'as planned', detail: differences(modes.length, 'delivery modes') },
    { name: 'member delivery statuses', ok: statuses.length === 0, expected: `${n} members`, actual: statuses.length ? limited(statuses) : 'as planned', detail: differences(statuses.length, 'delivery statuses') },
    { name: 'member moderation', ok: moderation.length === 0, expected: `${n} members`, actual: moderation.length ? limited(moderation) : 'as planned', detail: differences(moderation.length, 'moderation actions') },
    { name: 'member preferences', ok: preferences.length === 0, expected: `${n} members`, actual: preferences.length ? limited(preferences) : 'as planned', detail: differences(preferences.length, 'members’ preferences') },
    { name: 'display names', ok: displayNames.length === 0, expected: 'names from Mailman 2', actual: displayNames.length ? limited(displayNames) : 'as planned', detail: differences(displayNames.length, 'display names') },
  );
  return checks;
}
