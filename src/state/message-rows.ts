import type { SqlValue, StateDb, Statement } from './db.js';

/**
 * A `messages` row without its list, in MESSAGE_COLUMNS order with target_message_id left out: at
 * indexing time it is the message_id (markDuplicates changes it later where needed).
 */
export type MessageRow = [
  ordinal: number,
  offset: number,
  length: number,
  messageId: string,
  rawMessageId: string | null,
  synthetic: 0 | 1,
  date: string | null,
  dateSource: string,
  dateRepaired: 0 | 1,
  fromName: string,
  fromAddress: string,
  subject: string,
  threadSubject: string,
  inReplyTo: string | null,
  refsJson: string,
  contentHash: string,
  flagsJson: string | null,
];

/** A `message_refs` row without its list. */
export type RefRow = [ordinal: number, refId: string];

export interface QuarantineRow {
  ordinal: number;
  offset: number;
  reason: string;
  path: string;
}

/**
 * Rows waiting to be written. Each row becomes JSON text when it is added, so the row's array and
 * strings die young (a batch lives through several minor GCs, and promoting 2,000 rows of small
 * objects to the old generation cost more than the JSON text does).
 */
export class RowBatch {
  /** JSON texts of MessageRow arrays. */
  readonly rows: string[] = [];
  /** JSON texts of RefRow arrays. */
  readonly refs: string[] = [];
  readonly quarantine: QuarantineRow[] = [];

  addMessage(row: MessageRow, refIds: Iterable<string>): void {
    this.rows.push(JSON.stringify(row));
    const ordinal = row[0];
    for (const id of refIds) this.refs.push(JSON.stringify([ordinal, id] satisfies RefRow));
  }

  get size(): number {
    return this.rows.length;
  }

  get empty(): boolean {
    return !this.rows.length && !this.quarantine.length;
  }
}

/**
 * A transaction is committed after this long even when fewer rows came (slow input, e.g. a gzip
 * mbox on a slow disk): other jobs sharing the connection wait for it.
 */
const MAX_TRANSACTION_MS = 1000;
const TIMED_OUT = Symbol('timed out');

const MESSAGE_COLUMNS = `list, ordinal, offset, length, message_id, raw_message_id, synthetic_id, target_message_id,
  date, date_source, date_repaired, from_name, from_address, subject, thread_subject, in_reply_to, refs_json, content_hash, flags_json`;

/**
 * JSON.stringify writes a lone surrogate as a \ud8xx-\udfxx escape, which SQLite would store as
 * invalid UTF-8 where the binding stores U+FFFD; such a batch is bound value by value instead. (An
 * escaped backslash followed by "ud8" matches too: that only costs the slower path.)
 */
const LONE_SURROGATE_ESCAPE = /\\ud[89a-f]/i;

/**
 * Writes rows into `messages`, `message_refs` and `quarantine` for one list while the caller goes on
 * reading. Two things keep the main thread free for parsing:
 *
 * - Each batch of rows is bound as one JSON text and unpacked by SQLite on its worker thread;
 *   node-sqlite3 would otherwise convert ~19 values per row on the main thread. `jsonb_each` hands
 *   each row on as JSONB, which `->>` reads directly (json_each would render every row as text
 *   and parse it again: 3× the time).
 * - One transaction spans several batches (up to `rowsPerTransaction` rows or MAX_TRANSACTION_MS).
 *   Message-IDs arrive in random order, so every commit rewrites most leaf pages of the two
 *   Message-ID indexes into the WAL: with 2,000-row transactions SQLite's thread spent ~40 % more
 *   CPU (mostly writing pages) per GB than with 20,000. Batches stay small, so memory does not grow.
 *
 * `write` returns once the batch is queued; at most one batch waits while another is written. An
 * error of the writer is thrown by the next `write` or by `close`. Other jobs sharing the connection
 * wait for the open transaction like for any other (StateDb.transaction).
 */
export class MessageRowWriter {
  private readonly insertMessages: Statement;
  private readonly insertRefs: Statement;
  private readonly insertQuarantine: Statement;
  private readonly bound: BoundRows;
  private readonly queue: RowBatch[] = [];
  private wakeWriter: (() => void) | null = null;
  private wakeProducer: (() => void) | null = null;
  private closed = false;
  private failure: { error: unknown } | null = null;
  private readonly task: Promise<void>;

  constructor(
    private readonly db: StateDb,
    private readonly list: string,
    private readonly rowsPerTransaction: number,
  ) {
    const v = (i: number): string => `value ->> ${i}`;
    this.insertMessages = db.prepare(
      `INSERT INTO messages (${MESSAGE_COLUMNS})
       SELECT ?1, ${v(0)}, ${v(1)}, ${v(2)}, ${v(3)}, ${v(4)}, ${v(5)}, ${v(3)}, ${v(6)}, ${v(7)}, ${v(8)}, ${v(9)}, ${v(10)},
              ${v(11)}, ${v(12)}, ${v(13)}, ${v(14)}, ${v(15)}, ${v(16)}
       FROM jsonb_each(?2)`,
    );
    this.insertRefs = db.prepare('INSERT OR IGNORE INTO message_refs (list, ordinal, ref_id) SELECT ?1, value ->> 0, value ->> 1 FROM jsonb_each(?2)');
    this.insertQuarantine = db.prepare('INSERT OR REPLACE INTO quarantine (list, ordinal, offset, reason, path) VALUES (?, ?, ?, ?, ?)');
    this.bound = new BoundRows(db, list);
    this.task = this.run();
  }

  async write(batch: RowBatch): Promise<void> {
    while (this.queue.length > 0 && !this.failure) await new Promise<void>((resolve) => (this.wakeProducer = resolve));
    if (this.failure) throw this.failure.error;
    this.queue.push(batch);
    this.wake();
  }

  /**
   * Writes what is queued (unless `discardQueued`, after the reader failed: the rows it had not
   * handed over yet are lost either way), commits, releases the statements; throws the writer's error.
   */
  async close(discardQueued = false): Promise<void> {
    if (discardQueued) this.queue.length = 0;
    this.closed = true;
    this.wake();
    await this.task;
    await this.insertMessages.finalize();
    await this.insertRefs.finalize();
    await this.insertQuarantine.finalize();
    await this.bound.finalize();
    if (this.failure) throw this.failure.error;
  }

  private wake(): void {
    const w = this.wakeWriter;
    this.wakeWriter = null;
    w?.();
  }

  /** The next queued batch; null once closed and drained; TIMED_OUT if none came within `timeoutMs`. */
  private async next(timeoutMs = Infinity): Promise<RowBatch | null | typeof TIMED_OUT> {
    const deadline = performance.now() + timeoutMs;
    while (!this.queue.length) {
      if (this.closed) return null;
      const left = deadline - performance.now();
      if (left <= 0) return TIMED_OUT;
      await new Promise<void>((resolve) => {
        const timer = left === Infinity ? undefined : setTimeout(resolve, left);
        this.wakeWriter = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
    const batch = this.queue.shift()!;
    const p = this.wakeProducer;
    this.wakeProducer = null;
    p?.();
    return batch;
  }

  private async run(): Promise<void> {
    try {
      let batch = await this.next();
      while (batch && batch !== TIMED_OUT) {
        const first: RowBatch = batch;
        const more = await this.db.transaction(async () => {
          const started = performance.now();
          let b: RowBatch | null | typeof TIMED_OUT = first;
          let rows = 0;
          while (b && b !== TIMED_OUT) {
            await this.writeBatch(b);
            rows += b.size;
            const left = MAX_TRANSACTION_MS - (performance.now() - started);
            if (rows >= this.rowsPerTransaction || left <= 0) return true;
            b = await this.next(left);
          }
          return b === TIMED_OUT;
        });
        batch = more ? await this.next() : null;
      }
    } catch (error) {
      this.failure = { error };
      this.queue.length = 0;
      const p = this.wakeProducer;
      this.wakeProducer = null;
      p?.();
    }
  }

  private async writeBatch(batch: RowBatch): Promise<void> {
    for (const q of batch.quarantine) await this.insertQuarantine.run([this.list, q.ordinal, q.offset, q.reason, q.path]);
    if (batch.rows.length) {
      const rowsJson = `[${batch.rows.join(',')}]`;
      if (needsBinding(rowsJson)) await this.bound.messages(JSON.parse(rowsJson) as MessageRow[]);
      else await this.insertMessages.run([this.list, rowsJson]);
    }
    if (batch.refs.length) {
      const refsJson = `[${batch.refs.join(',')}]`;
      if (needsBinding(refsJson)) await this.bound.refs(JSON.parse(refsJson) as RefRow[]);
      else await this.insertRefs.run([this.list, refsJson]);
    }
  }
}

/** Whether JSON text holds an escape that SQLite decodes differently from the binding (see LONE_SURROGATE_ESCAPE). */
function needsBinding(json: string): boolean {
  // JSON.stringify writes \u escapes only for control characters and lone surrogates: rare.
  return json.includes('\\u') && LONE_SURROGATE_ESCAPE.test(json);
}

/** The same rows bound value by value (multi-row INSERTs), for batches JSON cannot carry unchanged. */
class BoundRows {
  private readonly insertMsg: MultiRowInsert;
  private readonly insertRef: MultiRowInsert;

  constructor(
    db: StateDb,
    private readonly list: string,
  ) {
    this.insertMsg = new MultiRowInsert(db, `INSERT INTO messages (${MESSAGE_COLUMNS}) VALUES`, 19);
    this.insertRef = new MultiRowInsert(db, 'INSERT OR IGNORE INTO message_refs (list, ordinal, ref_id) VALUES', 3);
  }

  async messages(rows: MessageRow[]): Promise<void> {
    const flat: SqlValue[] = [];
    for (const r of rows) {
      flat.push(this.list, r[0], r[1], r[2], r[3], r[4], r[5], r[3], r[6], r[7], r[8], r[9], r[10], r[11], r[12], r[13], r[14], r[15], r[16]);
    }
    await this.insertMsg.run(flat);
  }

  async refs(refs: RefRow[]): Promise<void> {
    const flat: SqlValue[] = [];
    for (const r of refs) flat.push(this.list, r[0], r[1]);
    await this.insertRef.run(flat);
  }

  async finalize(): Promise<void> {
    await this.insertMsg.finalize();
    await this.insertRef.finalize();
  }
}

/**
 * Multi-row INSERTs prepared once per row count and reused (SQLite allows 32766 parameters). A batch
 * is written as full chunks plus its remainder split into powers of two, so at most ~log2(chunk)
 * statements are ever prepared.
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
