import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { rename } from 'node:fs/promises';
import path from 'node:path';
import type { ListConfig } from '../mailman2/list-config.js';
import { memberSummary, type MemberSummary } from '../mailman2/member-summary.js';
import { writeReportFile } from '../reports/write.js';
import type { Store } from '../state/store.js';
import type { TargetPlan } from '../targets/target.js';

export interface PlanSummary {
  list: string;
  target: TargetPlan['target'];
  settings: TargetPlan['settings'];
  notCarried: TargetPlan['notCarried'];
  details: TargetPlan['details'];
  estimate: TargetPlan['estimate'];
  members: MemberSummary[];
  owners: string[];
  moderators: string[];
  archive: {
    messages: number;
    toReplay: number;
    threads: number;
    repairedDates: { ordinal: number; messageId: string; date: string | null; source: string }[];
    syntheticIds: { ordinal: number; messageId: string; subject: string | null }[];
    duplicates: { ordinal: number; messageId: string; firstOrdinal: number; kind: string; newMessageId: string | null }[];
    /** The replay order, one JSON object per line, in plan-messages.jsonl beside this file. */
    orderFile: string;
  };
}

/**
 * Writes the plan of one list: plan.json (what a person reviews) and plan-messages.jsonl (every
 * message to replay, in replay order: parents before children, chronological otherwise).
 */
export async function writePlan(store: Store, dir: string, list: string, config: ListConfig, plan: TargetPlan): Promise<PlanSummary> {
  const { db } = store;
  const orderFile = path.join(dir, 'plan-messages.jsonl');
  const tmp = `${orderFile}.${process.pid}.tmp`;
  const out = createWriteStream(tmp, { mode: 0o600 });
  let toReplay = 0;
  // Read in pages (keyset on the replay order) so that writing can wait for the file: a whole
  // archive never sits in memory.
  type Row = { ordinal: number; target_message_id: string; message_id: string; date: string | null; subject: string | null; parent_ordinal: number | null; root_ordinal: number | null; depth: number | null; date_repaired: number; synthetic_id: number; replay_key: string };
  let after: [string, number, number] | null = null;
  for (;;) {
    const rows: Row[] = await db.all<Row>(
      `SELECT ordinal, target_message_id, message_id, date, subject, parent_ordinal, root_ordinal, depth, date_repaired, synthetic_id, replay_key
         FROM messages WHERE list = ? AND duplicate_kind IS NOT 'same'
          ${after ? 'AND (replay_key, depth, ordinal) > (?, ?, ?)' : ''}
        ORDER BY replay_key, depth, ordinal LIMIT 5000`,
      after ? [list, ...after] : [list],
    );
    if (!rows.length) break;
    const text = rows
      .map((r) =>
        JSON.stringify({
          ordinal: r.ordinal,
          messageId: r.target_message_id,
          ...(r.target_message_id !== r.message_id ? { originalMessageId: r.message_id } : {}),
          date: r.date,
          subject: r.subject,
          parent: r.parent_ordinal,
          thread: r.root_ordinal,
          depth: r.depth,
          ...(r.date_repaired ? { dateRepaired: true } : {}),
          ...(r.synthetic_id ? { syntheticId: true } : {}),
        }),
      )
      .join('\n');
    toReplay += rows.length;
    if (!out.write(text + '\n')) await once(out, 'drain');
    const last = rows[rows.length - 1]!;
    after = [last.replay_key, last.depth ?? 0, last.ordinal];
  }
  out.end();
  await once(out, 'close');
  await rename(tmp, orderFile);

  const counts = (await db.get<{ messages: number; threads: number }>(
    "SELECT count(*) AS messages, coalesce(sum(depth = 0 AND duplicate_kind IS NOT 'same'), 0) AS threads FROM messages WHERE list = ?",
    [list],
  ))!;
  const summary: PlanSummary = {
    list,
    target: plan.target,
    settings: plan.settings,
    notCarried: plan.notCarried,
    details: plan.details,
    estimate: plan.estimate,
    owners: config.owners,
    moderators: config.moderators,
    members: config.members.map(memberSummary),
    archive: {
      messages: counts.messages,
      toReplay,
      threads: counts.threads,
      repairedDates: await db.all(
        "SELECT ordinal, message_id AS messageId, date, date_source AS source FROM messages WHERE list = ? AND date_repaired = 1 ORDER BY ordinal",
        [list],
      ),
      syntheticIds: await db.all(
        'SELECT ordinal, message_id AS messageId, subject FROM messages WHERE list = ? AND synthetic_id = 1 ORDER BY ordinal',
        [list],
      ),
      duplicates: await db.all(
        `SELECT ordinal, message_id AS messageId, duplicate_of AS firstOrdinal, duplicate_kind AS kind,
                CASE WHEN target_message_id <> message_id THEN target_message_id END AS newMessageId
           FROM messages WHERE list = ? AND duplicate_of IS NOT NULL ORDER BY ordinal`,
        [list],
      ),
      orderFile: path.basename(orderFile),
    },
  };
  await writeReportFile(dir, 'plan.json', JSON.stringify(summary, null, 2) + '\n');
  return summary;
}
