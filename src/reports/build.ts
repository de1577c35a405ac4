import type { ListConfig } from '../mailman2/list-config.js';
import type { Store } from '../state/store.js';
import type { TargetPlan, VerifyResult } from '../targets/target.js';
import type { ListReport } from './model.js';

/** Gathers a list's report from the state database (the single source of truth). */
export async function buildListReport(
  store: Store,
  list: string,
  opts: { config: ListConfig | null; target: 'mailman3' | 'discourse'; dryRun: boolean; plan: TargetPlan | null; verify: VerifyResult | null; monthlyTarget?: Map<string, number> },
): Promise<ListReport> {
  const { db } = store;
  const row = (await store.getList(list))!;
  const m = (await db.get<Record<string, number | null>>(
    `SELECT count(*) AS messages,
            sum(duplicate_kind IS NOT 'same') AS replayable,
            sum(depth = 0 AND duplicate_kind IS NOT 'same') AS threads,
            sum(duplicate_kind = 'same') AS dupSame,
            sum(duplicate_kind = 'different') AS dupNew,
            sum(synthetic_id) AS synthetic,
            sum(date_repaired) AS repaired
       FROM messages WHERE list = ?`,
    [list],
  ))!;
  const a = (await db.get<Record<string, number | null>>(
    `SELECT sum(stray = 0) AS articles, sum(stray = 0 AND source = 'html' AND ordinal IS NOT NULL) AS html,
            sum(stray = 0 AND source = 'mbox-order' AND ordinal IS NOT NULL) AS mboxOrder, sum(stray = 0 AND ordinal IS NULL) AS unmatched
       FROM articles WHERE list = ?`,
    [list],
  ))!;
  const q = (await db.get<{ n: number }>('SELECT count(*) AS n FROM quarantine WHERE list = ?', [list]))!;
  const monthly = await db.all<{ month: string; n: number }>(
    `SELECT substr(date, 1, 7) AS month, count(*) AS n FROM messages
      WHERE list = ? AND duplicate_kind IS NOT 'same' AND date IS NOT NULL GROUP BY month ORDER BY month`,
    [list],
  );
  const cfg = opts.config;
  const members = cfg?.members ?? [];
  return {
    list,
    displayName: cfg?.realName ?? list,
    target: opts.target,
    dryRun: opts.dryRun,
    generatedAt: new Date().toISOString(),
    phase: row.phase,
    status: row.status,
    error: row.error,
    archivePolicy: cfg?.archive.policy ?? 'never',
    counts: {
      owners: cfg?.owners.length ?? 0,
      moderators: cfg?.moderators.length ?? 0,
      members: members.length,
      digestMembers: members.filter((x) => x.delivery !== 'regular').length,
      disabledMembers: members.filter((x) => x.deliveryStatus !== 'enabled').length,
      messages: m.messages ?? 0,
      replayable: m.replayable ?? 0,
      threads: m.threads ?? 0,
      duplicatesSameContent: m.dupSame ?? 0,
      duplicatesNewId: m.dupNew ?? 0,
      syntheticIds: m.synthetic ?? 0,
      repairedDates: m.repaired ?? 0,
      quarantined: q.n,
      articles: a.articles ?? 0,
      articlesFromHtml: a.html ?? 0,
      articlesByMboxOrder: a.mboxOrder ?? 0,
      articlesUnmatched: a.unmatched ?? 0,
      applied: await store.journalCounts(list),
    },
    settings: opts.plan?.settings ?? [],
    notCarried: opts.plan?.notCarried ?? [],
    estimate: opts.plan?.estimate ?? null,
    details: opts.plan?.details ?? {},
    monthly: monthly.map((r) => ({ month: r.month, source: r.n, target: opts.monthlyTarget ? (opts.monthlyTarget.get(r.month) ?? 0) : null })),
    problems: await store.problems(list),
    verify: opts.verify,
  };
}
