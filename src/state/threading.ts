import type { Store } from './store.js';

export interface ThreadingResult {
  threads: number;
  replies: number;
  /** Messages whose reference chain looped back on itself; each loop was broken at its oldest message. */
  cyclesBroken: number;
}

/**
 * Computes each message's parent, thread root and depth once, at index time, for both targets
 * (the rule of Discourse's mbox importer): the parent is, among the messages a reply refers to
 * (In-Reply-To and References) that are present in the archive, the one with the latest date.
 * A message whose ancestors are all missing starts a new thread. Duplicates of an earlier message
 * take no part: references resolve to the first copy.
 */
export async function computeThreads(store: Store, list: string, opts: { groupBySubject?: boolean } = {}): Promise<ThreadingResult> {
  const { db } = store;
  await db.transaction(async () => {
    await db.run('UPDATE messages SET parent_ordinal = NULL, root_ordinal = NULL, depth = NULL, replay_key = NULL WHERE list = ?', [list]);
    await db.run(
      `UPDATE messages SET parent_ordinal = (
         SELECT p.ordinal FROM message_refs r
           JOIN messages p ON p.list = r.list AND p.message_id = r.ref_id AND p.duplicate_of IS NULL
          WHERE r.list = messages.list AND r.ordinal = messages.ordinal AND p.ordinal <> messages.ordinal
          ORDER BY p.date IS NULL, p.date DESC, p.ordinal DESC LIMIT 1)
       WHERE list = ? AND (duplicate_kind IS NULL OR duplicate_kind = 'different')`,
      [list],
    );
    if (opts.groupBySubject) {
      // Fallback for archives whose headers cannot group messages: attach an orphan to the first
      // earlier message with the same normalised subject.
      await db.run(
        `UPDATE messages SET parent_ordinal = (
           SELECT f.ordinal FROM messages f WHERE f.list = messages.list AND f.thread_subject = messages.thread_subject
              AND f.duplicate_of IS NULL AND (f.date < messages.date OR (f.date = messages.date AND f.ordinal < messages.ordinal))
            ORDER BY f.date, f.ordinal LIMIT 1)
         WHERE list = ? AND parent_ordinal IS NULL AND duplicate_of IS NULL AND thread_subject IS NOT NULL AND thread_subject <> ''`,
        [list],
      );
    }
    await db.run(
      "UPDATE messages SET root_ordinal = ordinal, depth = 0, replay_key = coalesce(date, '') WHERE list = ? AND parent_ordinal IS NULL AND duplicate_kind IS NOT 'same'",
      [list],
    );
  });

  // Walk down one level per pass; real threads are shallow, so this takes few passes.
  let cyclesBroken = 0;
  for (let level = 1; ; level++) {
    const { changes } = await db.run(
      `UPDATE messages SET root_ordinal = (SELECT p.root_ordinal FROM messages p WHERE p.list = messages.list AND p.ordinal = messages.parent_ordinal),
                           depth = ?,
                           replay_key = max(coalesce(date, ''), (SELECT p.replay_key FROM messages p WHERE p.list = messages.list AND p.ordinal = messages.parent_ordinal))
        WHERE list = ? AND root_ordinal IS NULL AND parent_ordinal IS NOT NULL
          AND EXISTS (SELECT 1 FROM messages p WHERE p.list = messages.list AND p.ordinal = messages.parent_ordinal AND p.depth = ?)`,
      [level, list, level - 1],
    );
    if (changes > 0) continue;
    // Nothing left reachable from a root: what remains (if anything) hangs off a reference loop.
    const loose = await db.get<{ ordinal: number }>(
      `SELECT ordinal FROM messages WHERE list = ? AND root_ordinal IS NULL AND duplicate_kind IS NOT 'same'
        ORDER BY date IS NULL, date, ordinal LIMIT 1`,
      [list],
    );
    if (!loose) break;
    await db.run("UPDATE messages SET parent_ordinal = NULL, root_ordinal = ordinal, depth = 0, replay_key = coalesce(date, '') WHERE list = ? AND ordinal = ?", [
      list,
      loose.ordinal,
    ]);
    cyclesBroken++;
    level = 0;
  }
  // Same-content duplicates are not replayed: they share the first copy's place.
  await db.run(
    `UPDATE messages SET parent_ordinal = NULL,
        root_ordinal = (SELECT f.root_ordinal FROM messages f WHERE f.list = messages.list AND f.ordinal = messages.duplicate_of),
        depth = (SELECT f.depth FROM messages f WHERE f.list = messages.list AND f.ordinal = messages.duplicate_of)
      WHERE list = ? AND duplicate_kind = 'same'`,
    [list],
  );
  const counts = await db.get<{ threads: number; replies: number }>(
    `SELECT sum(depth = 0 AND duplicate_kind IS NOT 'same') AS threads, sum(depth > 0 AND duplicate_kind IS NOT 'same') AS replies
       FROM messages WHERE list = ?`,
    [list],
  );
  return { threads: counts?.threads ?? 0, replies: counts?.replies ?? 0, cyclesBroken };
}
