import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { MessageSource } from '../../mailman2/message-source.js';
import { AUTO_CONCURRENCY_MAX, ConcurrencyTuner, FixedConcurrency, runPool, type ConcurrencyStep } from '../../pipeline/concurrency-tuner.js';
import { UserError, type Problem } from '../../problems.js';
import type { ListContext } from '../target.js';
import type { ArchiveOutcome, HyperKittyClient } from './hyperkitty-client.js';
import { prepareMessage, replayRows, type ReplayRow } from './prepare-message.js';

export const ARCHIVE_PHASE = 'archive';
/** Journal op of one archived message; its key is the target Message-ID (stable across re-indexing). */
export const ARCHIVE_OP = 'message';

export interface HttpReplayOptions {
  client: HyperKittyClient;
  /** HyperKitty's list name (list@domain). */
  fqdn: string;
  /** Messages posted at once; `auto` finds the level at which HyperKitty saturates and keeps it there. */
  concurrency: number | 'auto';
}

export interface ReplayStats {
  /** Messages to archive in total (identical copies excluded). */
  total: number;
  /** Already done in an earlier run, not sent again. */
  skipped: number;
  accepted: number;
  /** Refused by HyperKitty (400), quarantined and reported. */
  refused: number;
  /** Accepted, but HyperKitty's URL differs from the one computed in advance. */
  urlMismatches: number;
  /** True when ctx.signal stopped the replay before every message was sent. */
  stopped: boolean;
  seconds: number;
  /** The number of messages in flight the replay kept (for `auto`, the level held longest); 0 when nothing was sent. */
  concurrencySettled: number;
  /** For `auto`: the levels tried, in order, with the rate measured at each (first and last visits of a long run). */
  concurrencyTrace: ConcurrencyStep[];
  problems: Problem[];
}

/**
 * The HTTP path: posts every message of the list to HyperKitty's archiver endpoint, in replay order,
 * `concurrency` at a time (for `auto`, as many as HyperKitty can take: see pipeline/concurrency-tuner),
 * but never a reply before its parent was answered (HyperKitty threads a
 * message only under a parent it already has). Journal: `pending` before each request, `done` with
 * the URL after; a message whose row is `done` is not sent again, a `pending` one is simply re-sent
 * (HyperKitty keeps one message per Message-ID and answers a repeat with the existing URL). When
 * ctx.signal fires, no new request starts; those in flight are finished and journaled.
 */
export async function replayOverHttp(ctx: ListContext, opts: HttpReplayOptions): Promise<ReplayStats> {
  const began = Date.now();
  const { store, list } = ctx;
  const rows = await replayRows(store.db, list);
  const done = new Set(
    (await store.db.all<{ key: string }>("SELECT key FROM journal WHERE list = ? AND phase = ? AND op = ? AND status = 'done'", [list, ARCHIVE_PHASE, ARCHIVE_OP])).map((r) => r.key),
  );
  const todo = rows.filter((r) => !done.has(r.target_message_id));
  const stats: ReplayStats = {
    total: rows.length, skipped: rows.length - todo.length, accepted: 0, refused: 0, urlMismatches: 0, stopped: false, seconds: 0,
    concurrencySettled: 0, concurrencyTrace: [], problems: [],
  };
  if (!todo.length) {
    ctx.progress(rows.length, rows.length, 'archive messages');
    return finish();
  }
  const listRow = await store.getList(list);
  if (!listRow?.mbox_path) throw new UserError(`${list}: the mbox has not been indexed`);
  const source = await MessageSource.open(listRow.mbox_path);

  const position = new Map(todo.map((r, i) => [r.ordinal, i]));
  const settled = todo.map(() => deferred());
  const limiter = opts.concurrency === 'auto' ? new ConcurrencyTuner({ max: AUTO_CONCURRENCY_MAX }) : new FixedConcurrency(Math.max(1, opts.concurrency));
  let failure: { error: unknown } | null = null;
  let progressed = stats.skipped;
  ctx.progress(progressed, rows.length, 'archive messages');

  const sendOne = async (row: ReplayRow): Promise<void> => {
    const prepared = prepareMessage(await source.message(row.offset, row.length), row);
    await store.journalPending(list, ARCHIVE_PHASE, ARCHIVE_OP, row.target_message_id);
    const ticket = limiter.begin();
    let outcome: ArchiveOutcome;
    try {
      outcome = await opts.client.archive(opts.fqdn, prepared.raw);
    } catch (err) {
      limiter.end(ticket, 'overload');
      throw err;
    }
    // The client retries 5xx, 429 and timeouts: a retried message means HyperKitty had more than it could take.
    limiter.end(ticket, outcome.attempts > 1 ? 'overload' : 'ok');
    const detail = {
      path: 'http',
      ordinal: row.ordinal,
      ...(prepared.changes.length ? { changes: prepared.changes } : {}),
      ...(prepared.originalMessageId !== null ? { originalMessageId: prepared.originalMessageId } : {}),
      ...(row.duplicate_kind === 'different' ? { duplicateOf: row.message_id } : {}),
    };
    if (!outcome.ok) {
      stats.refused++;
      const file = await quarantine(ctx, row, prepared.raw, outcome.error);
      stats.problems.push({
        severity: 'error', code: 'archive-refused', list, key: row.target_message_id, file,
        message: `${list}: HyperKitty refused message ${row.ordinal} <${row.target_message_id}>: ${outcome.error} (kept in ${file})`,
      });
      await store.journalDone(list, ARCHIVE_PHASE, ARCHIVE_OP, row.target_message_id, { status: 'failed', detail: { ...detail, error: outcome.error } });
      return;
    }
    stats.accepted++;
    const hash = outcome.hash ?? prepared.hash;
    if (hash !== prepared.hash) {
      stats.urlMismatches++;
      stats.problems.push({
        severity: 'error', code: 'archive-url-mismatch', list, key: row.target_message_id,
        message: `${list}: message <${row.target_message_id}> was filed under ${outcome.url}, not under the computed hash ${prepared.hash}`,
      });
    }
    await store.journalDone(list, ARCHIVE_PHASE, ARCHIVE_OP, row.target_message_id, {
      targetId: hash,
      targetUrl: opts.client.messageUrl(opts.fqdn, hash),
      detail: { ...detail, reportedUrl: outcome.url, ...(outcome.attempts > 1 ? { attempts: outcome.attempts } : {}) },
    });
  };

  const stopping = (): boolean => ctx.signal.aborted || failure !== null;
  const replayOne = async (i: number): Promise<void> => {
    const row = todo[i]!;
    try {
      const parentAt = row.parent_ordinal === null ? undefined : position.get(row.parent_ordinal);
      // Earlier in the order means another worker holds it; a later parent (never produced by
      // the threading) is not waited for, so the pool cannot deadlock.
      if (parentAt !== undefined && parentAt < i) await settled[parentAt]!.promise;
      if (stopping()) return;
      await sendOne(row);
      ctx.progress(++progressed, rows.length, 'archive messages');
    } catch (error) {
      failure ??= { error };
    } finally {
      settled[i]!.resolve();
    }
  };

  try {
    await runPool(todo.length, () => limiter.limit, replayOne, stopping);
  } finally {
    await source.close();
  }
  if (failure) throw (failure as { error: unknown }).error;
  const concurrency = limiter.report();
  stats.concurrencySettled = concurrency.settled;
  stats.concurrencyTrace = concurrency.steps;
  stats.stopped = stats.skipped + stats.accepted + stats.refused < rows.length;
  return finish();

  function finish(): ReplayStats {
    stats.seconds = (Date.now() - began) / 1000;
    return stats;
  }
}

/** Keeps a message HyperKitty refused, byte for byte as it was sent, next to the index's quarantine. */
async function quarantine(ctx: ListContext, row: ReplayRow, raw: Buffer, reason: string): Promise<string> {
  const dir = path.join(ctx.reportDir, 'quarantine');
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const file = path.join(dir, `archive-refused-${String(row.ordinal).padStart(6, '0')}-at-${row.offset}.eml`);
  await writeFile(file, raw, { mode: 0o600 });
  await ctx.store.db.run('INSERT OR REPLACE INTO quarantine (list, ordinal, offset, reason, path) VALUES (?, ?, ?, ?, ?)', [
    ctx.list,
    row.ordinal,
    row.offset,
    `HyperKitty refused the message: ${reason}`,
    file,
  ]);
  return file;
}

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}
