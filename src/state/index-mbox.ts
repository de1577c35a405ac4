import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { readMbox } from '../mailman2/mbox.js';
import type { Problem } from '../problems.js';
import type { SqlValue, StateDb, Statement } from './db.js';
import type { Store } from './store.js';

export interface MboxIndexResult {
  /** `unchanged`: skipped by checksum; `incremental`: only the appended tail was read; `full`: read from the start. */
  mode: 'unchanged' | 'incremental' | 'full' | 'none';
  messages: number;
  newMessages: number;
  quarantined?: number;
  bytes: number;
  problems: Problem[];
}

export interface MboxIndexContext {
  list: string;
  mboxPath: string | null;
  subjectPrefix?: string;
  listAddress?: string;
  charset?: string;
  timeZone?: string;
  /** Where entries that cannot be migrated are kept, byte for byte (reports/<list>/quarantine). */
  quarantineDir: string;
  onProgress?: (bytes: number, total: number, messages: number) => void;
}

/** Rows are written in transactions of this size: large enough to amortise commits, small enough to resume. */
const BATCH = 2000;

/**
 * Indexes a list's mbox into the state database. An unchanged mbox (same size, mtime and prefix
 * checksum) is skipped; an mbox that only grew is indexed from where the last run stopped; any
 * other change re-indexes the list from the start.
 */
export async function indexMbox(store: Store, ctx: MboxIndexContext): Promise<MboxIndexResult> {
  const { db } = store;
  const list = (await store.getList(ctx.list))!;
  if (!ctx.mboxPath) {
    await db.run('DELETE FROM messages WHERE list = ?', [ctx.list]);
    await db.run('DELETE FROM message_refs WHERE list = ?', [ctx.list]);
    await store.updateList(ctx.list, { mbox_path: null, mbox_size: 0, indexed_bytes: 0, indexed_sha256: null });
    return { mode: 'none', messages: 0, newMessages: 0, bytes: 0, problems: [] };
  }
  const st = await stat(ctx.mboxPath);
  const count = async (): Promise<number> =>
    (await db.get<{ n: number }>('SELECT count(*) AS n FROM messages WHERE list = ?', [ctx.list]))!.n;
  // Ordinals count every entry of the mbox, quarantined ones included, so they stay stable.
  const nextOrdinal = async (): Promise<number> =>
    (await db.get<{ n: number }>(
      'SELECT max(coalesce((SELECT max(ordinal) FROM messages WHERE list = ?), -1), coalesce((SELECT max(ordinal) FROM quarantine WHERE list = ?), -1)) + 1 AS n',
      [ctx.list, ctx.list],
    ))!.n;

  let start = 0;
  let mode: MboxIndexResult['mode'] = 'full';
  // Offsets in a .gz mbox refer to the decompressed stream: it is never resumed mid-file, only
  // recognised as unchanged by its checksum.
  const gz = ctx.mboxPath.endsWith('.gz');
  if (list.mbox_path === ctx.mboxPath && list.indexed_sha256 && list.indexed_bytes > 0) {
    if (list.mbox_size === st.size && list.mbox_mtime_ms === Math.trunc(st.mtimeMs) && list.indexed_bytes === st.size) {
      return { mode: 'unchanged', messages: await count(), newMessages: 0, bytes: st.size, problems: [] };
    }
    if (st.size >= list.indexed_bytes && (await sha256Prefix(ctx.mboxPath, list.indexed_bytes)) === list.indexed_sha256) {
      if (st.size === list.indexed_bytes) {
        await store.updateList(ctx.list, { mbox_mtime_ms: Math.trunc(st.mtimeMs) });
        return { mode: 'unchanged', messages: await count(), newMessages: 0, bytes: st.size, problems: [] };
      }
      if (!gz) {
        start = list.indexed_bytes;
        mode = 'incremental';
      }
    }
  }
  if (mode === 'full') {
    await db.run('DELETE FROM messages WHERE list = ?', [ctx.list]);
    await db.run('DELETE FROM message_refs WHERE list = ?', [ctx.list]);
    await db.run('DELETE FROM quarantine WHERE list = ?', [ctx.list]);
  }
  const firstOrdinal = mode === 'incremental' ? await nextOrdinal() : 0;

  const insertMsg = new MultiRowInsert(
    db,
    `INSERT INTO messages (list, ordinal, offset, length, message_id, raw_message_id, synthetic_id, target_message_id,
      date, date_source, date_repaired, from_name, from_address, subject, thread_subject, in_reply_to, refs_json, content_hash, flags_json)
    VALUES`,
    19,
  );
  const insertRef = new MultiRowInsert(db, 'INSERT OR IGNORE INTO message_refs (list, ordinal, ref_id) VALUES', 3);
  const problems: Problem[] = [];
  // Rows are kept flat (19 / 3 values each): bound as they are, without a copy per chunk.
  let rows: SqlValue[] = [];
  let refs: SqlValue[] = [];
  let pendingRows = 0;
  let n = 0;
  let lastEnd = start;
  let quarantined = 0;
  let inFlight: Promise<void> = Promise.resolve();

  const flush = async (): Promise<void> => {
    if (!rows.length) return;
    const batch = rows;
    const refBatch = refs;
    rows = [];
    refs = [];
    pendingRows = 0;
    await db.transaction(async () => {
      await insertMsg.run(batch);
      if (refBatch.length) await insertRef.run(refBatch);
    });
  };

  try {
    for await (const msg of readMbox(ctx.mboxPath, {
      list: ctx.list,
      subjectPrefix: ctx.subjectPrefix,
      listAddress: ctx.listAddress,
      charset: ctx.charset,
      timeZone: ctx.timeZone,
      startOffset: start,
    })) {
      const ordinal = firstOrdinal + n++;
      const m = msg.meta;
      const flags: Record<string, unknown> = {};
      for (const p of msg.problems) {
        flags[p.code] = true;
        problems.push({ ...p, list: ctx.list, message: `${p.message} (message ${ordinal} at byte ${msg.offset})` });
      }
      lastEnd = msg.offset + msg.length;
      if (msg.quarantined) {
        await quarantine(store, ctx, ordinal, msg.offset, msg.raw, msg.problems[0]?.message ?? 'not a mail message');
        quarantined++;
        continue;
      }
      if (msg.unescapedFromLines) flags.unescapedFromLines = msg.unescapedFromLines;
      if (msg.escapedFromLines) flags.escapedFromLines = msg.escapedFromLines;
      if (m.fromMungingUndone) flags.fromMungingUndone = m.fromMungingUndone.source;
      pendingRows++;
      rows.push(
        ctx.list,
        ordinal,
        msg.offset,
        msg.length,
        m.messageId,
        m.rawMessageId,
        m.messageIdSynthetic ? 1 : 0,
        m.messageId,
        m.date,
        m.dateSource,
        m.dateRepaired ? 1 : 0,
        m.from.name,
        m.from.address,
        m.subject,
        m.threadSubject,
        m.inReplyTo,
        JSON.stringify(m.references),
        msg.stableHash,
        Object.keys(flags).length ? JSON.stringify(flags) : null,
      );
      const ids = new Set<string>();
      if (m.inReplyTo) ids.add(m.inReplyTo);
      for (const r of m.references) ids.add(r);
      ids.delete(m.messageId);
      for (const id of ids) refs.push(ctx.list, ordinal, id);
      if (pendingRows >= BATCH) {
        // One batch is written while the next is parsed: parsing never waits for SQLite's thread
        // except when it gets two batches ahead.
        await inFlight;
        inFlight = flush();
        inFlight.catch(() => undefined); // surfaced by the next await
        ctx.onProgress?.(lastEnd, st.size, firstOrdinal + n);
      }
    }
    await inFlight;
    await flush();
  } finally {
    await inFlight.catch(() => undefined);
    await insertMsg.finalize();
    await insertRef.finalize();
  }
  ctx.onProgress?.(st.size, st.size, firstOrdinal + n);

  // Without statistics SQLite's planner walks the (list, ordinal) key for the correlated lookups
  // by Message-ID below and in threading: quadratic, minutes for 100k messages. ANALYZE lets it
  // pick the Message-ID index; analysis_limit keeps it cheap on big tables.
  await db.exec('PRAGMA analysis_limit = 1000; ANALYZE messages; ANALYZE message_refs;');
  await markDuplicates(store, ctx.list, firstOrdinal);
  await store.updateList(ctx.list, {
    mbox_path: ctx.mboxPath,
    mbox_size: st.size,
    mbox_mtime_ms: Math.trunc(st.mtimeMs),
    indexed_bytes: st.size,
    indexed_sha256: await sha256Prefix(ctx.mboxPath, st.size),
  });
  return { mode, messages: await count(), newMessages: n - quarantined, quarantined, bytes: st.size - start, problems };
}

/** Keeps an entry that cannot be migrated, byte for byte, and records why. */
async function quarantine(store: Store, ctx: MboxIndexContext, ordinal: number, offset: number, raw: Buffer, reason: string): Promise<void> {
  await mkdir(ctx.quarantineDir, { recursive: true, mode: 0o700 });
  const file = path.join(ctx.quarantineDir, `${String(ordinal).padStart(6, '0')}-at-${offset}.eml`);
  await writeFile(file, raw, { mode: 0o600 });
  await store.db.run('INSERT OR REPLACE INTO quarantine (list, ordinal, offset, reason, path) VALUES (?, ?, ?, ?, ?)', [
    ctx.list,
    ordinal,
    offset,
    reason,
    file,
  ]);
}

/**
 * Multi-row INSERTs prepared once per row count and reused. Multi-row VALUES cut node-sqlite3's
 * per-statement overhead (SQLite allows 32766 parameters); preparing each size once saves building
 * and compiling a 30,000-parameter statement per chunk. A batch is written as full chunks plus its
 * remainder split into powers of two, so at most ~log2(chunk) statements are ever prepared.
 */
class MultiRowInsert {
  private readonly statements = new Map<number, Statement>();
  private readonly per: number;

  constructor(
    private readonly db: StateDb,
    private readonly head: string,
    private readonly width: number,
  ) {
    this.per = Math.max(1, Math.floor(30000 / width));
  }

  /** `values` holds the rows flat, `width` values each. */
  async run(values: SqlValue[]): Promise<void> {
    const rows = values.length / this.width;
    let at = 0;
    while (at < rows) {
      const left = rows - at;
      const count = left >= this.per ? this.per : 2 ** Math.floor(Math.log2(left));
      const params = at === 0 && count === rows ? values : values.slice(at * this.width, (at + count) * this.width);
      await this.statement(count).run(params);
      at += count;
    }
  }

  private statement(count: number): Statement {
    let st = this.statements.get(count);
    if (!st) {
      const tuple = `(${new Array(this.width).fill('?').join(', ')})`;
      st = this.db.prepare(`${this.head} ${new Array(count).fill(tuple).join(', ')}`);
      this.statements.set(count, st);
    }
    return st;
  }

  async finalize(): Promise<void> {
    for (const st of this.statements.values()) await st.finalize();
    this.statements.clear();
  }
}

/**
 * Marks messages whose Message-ID an earlier message already has. A copy with the same content is a
 * plain duplicate (replayed once); a different message under the same id gets a deterministic new
 * Message-ID so that it is not lost (HyperKitty and Discourse both keep only one message per id).
 */
async function markDuplicates(store: Store, list: string, fromOrdinal: number): Promise<void> {
  await store.db.run(
    `UPDATE messages SET duplicate_of = (
        SELECT min(m2.ordinal) FROM messages m2 WHERE m2.list = messages.list AND m2.message_id = messages.message_id AND m2.ordinal < messages.ordinal)
      WHERE list = ? AND ordinal >= ?`,
    [list, fromOrdinal],
  );
  await store.db.run(
    `UPDATE messages SET duplicate_kind = CASE
        WHEN EXISTS (SELECT 1 FROM messages m2 WHERE m2.list = messages.list AND m2.message_id = messages.message_id
                       AND m2.ordinal < messages.ordinal AND m2.content_hash = messages.content_hash) THEN 'same'
        ELSE 'different' END
      WHERE list = ? AND ordinal >= ? AND duplicate_of IS NOT NULL`,
    [list, fromOrdinal],
  );
  const rows = await store.db.all<{ ordinal: number; message_id: string; content_hash: string }>(
    "SELECT ordinal, message_id, content_hash FROM messages WHERE list = ? AND ordinal >= ? AND duplicate_kind = 'different'",
    [list, fromOrdinal],
  );
  for (const r of rows) {
    await store.db.run('UPDATE messages SET target_message_id = ? WHERE list = ? AND ordinal = ?', [
      duplicateMessageId(r.message_id, r.content_hash),
      list,
      r.ordinal,
    ]);
  }
}

/** A stable new id for a different message that reused an existing Message-ID. */
export function duplicateMessageId(messageId: string, contentHash: string): string {
  const at = messageId.lastIndexOf('@');
  const local = at > 0 ? messageId.slice(0, at) : messageId;
  const domain = at > 0 ? messageId.slice(at + 1) : 'mm2migrate.invalid';
  return `${local}.mm2migrate-dup-${contentHash.slice(0, 12)}@${domain}`.slice(-254);
}

export async function sha256Prefix(file: string, bytes: number): Promise<string> {
  const hash = createHash('sha256');
  if (bytes > 0) {
    for await (const chunk of createReadStream(file, { start: 0, end: bytes - 1, highWaterMark: 1 << 20 })) hash.update(chunk as Buffer);
  }
  return hash.digest('hex');
}
