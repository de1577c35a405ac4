import { AsyncLocalStorage } from 'node:async_hooks';
import { chmod, mkdir, open as openFile } from 'node:fs/promises';
import path from 'node:path';
import sqlite3 from 'sqlite3';
import { UserError } from '../problems.js';

export type SqlValue = string | number | bigint | null | Buffer;
export type Row = Record<string, SqlValue>;

/**
 * A small promise wrapper over node-sqlite3: the state file is the one source of truth for resuming.
 * Several list jobs share one connection, so a transaction holds the connection: statements from
 * other jobs wait until it commits instead of slipping into it (and being rolled back with it).
 */
export class StateDb {
  private txTail: Promise<void> = Promise.resolve();
  private activeTx: Promise<void> | null = null;
  private readonly inTx = new AsyncLocalStorage<true>();

  private constructor(
    private readonly db: sqlite3.Database,
    readonly file: string,
  ) {}

  /** Opens (creating if needed) a state file readable by its owner only: it holds rosters. */
  static async open(file: string): Promise<StateDb> {
    if (file !== ':memory:') {
      await mkdir(path.dirname(file), { recursive: true });
      // Create the file with 0600 before SQLite does, so it is never world-readable.
      const fh = await openFile(file, 'a', 0o600);
      await fh.close();
      await chmod(file, 0o600);
    }
    const db = await new Promise<sqlite3.Database>((resolve, reject) => {
      const d = new sqlite3.Database(file, (err) => (err ? reject(err) : resolve(d)));
    }).catch((err: Error) => {
      throw new UserError(`${file}: cannot open state database: ${err.message}`);
    });
    const state = new StateDb(db, file);
    await state.exec('PRAGMA busy_timeout = 5000; PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;');
    return state;
  }

  /** Waits while another job's transaction holds the connection. */
  async outsideOthersTx(): Promise<void> {
    while (this.activeTx && !this.inTx.getStore()) await this.activeTx;
  }

  async exec(sql: string): Promise<void> {
    await this.outsideOthersTx();
    return this.rawExec(sql);
  }

  private rawExec(sql: string): Promise<void> {
    return new Promise((resolve, reject) => this.db.exec(sql, (err) => (err ? reject(err) : resolve())));
  }

  async run(sql: string, params: SqlValue[] = []): Promise<{ changes: number; lastID: number }> {
    await this.outsideOthersTx();
    return new Promise((resolve, reject) =>
      this.db.run(sql, params, function (this: sqlite3.RunResult, err: Error | null) {
        if (err) reject(err);
        else resolve({ changes: this.changes, lastID: this.lastID });
      }),
    );
  }

  async get<T = Row>(sql: string, params: SqlValue[] = []): Promise<T | undefined> {
    await this.outsideOthersTx();
    return new Promise((resolve, reject) => this.db.get(sql, params, (err, row) => (err ? reject(err) : resolve(row as T | undefined))));
  }

  async all<T = Row>(sql: string, params: SqlValue[] = []): Promise<T[]> {
    await this.outsideOthersTx();
    return new Promise((resolve, reject) => this.db.all(sql, params, (err, rows) => (err ? reject(err) : resolve(rows as T[]))));
  }

  /** Streams rows without holding the whole result in memory. */
  async each<T = Row>(sql: string, params: SqlValue[], onRow: (row: T) => void): Promise<number> {
    await this.outsideOthersTx();
    return new Promise((resolve, reject) =>
      this.db.each(
        sql,
        params,
        (err, row) => {
          if (!err) onRow(row as T);
        },
        (err, count) => (err ? reject(err) : resolve(count)),
      ),
    );
  }

  prepare(sql: string): Statement {
    return new Statement(this.db.prepare(sql), this);
  }

  /**
   * Runs fn inside BEGIN IMMEDIATE … COMMIT; rolls back on error. Transactions of concurrent jobs
   * run one after another; a transaction started inside another joins it.
   */
  async transaction<T>(fn: () => Promise<T>): Promise<T> {
    if (this.inTx.getStore()) return fn();
    const previous = this.txTail;
    let release!: () => void;
    const mine = new Promise<void>((r) => (release = r));
    this.txTail = previous.then(() => mine);
    await previous;
    await this.outsideOthersTx();
    this.activeTx = mine;
    try {
      return await this.inTx.run(true, async () => {
        await this.rawExec('BEGIN IMMEDIATE');
        try {
          const result = await fn();
          await this.rawExec('COMMIT');
          return result;
        } catch (err) {
          await this.rawExec('ROLLBACK').catch(() => undefined);
          throw err;
        }
      });
    } finally {
      this.activeTx = null;
      release();
    }
  }

  close(): Promise<void> {
    return new Promise((resolve, reject) => this.db.close((err) => (err ? reject(err) : resolve())));
  }
}

export class Statement {
  constructor(
    private readonly stmt: sqlite3.Statement,
    private readonly owner: StateDb,
  ) {}

  async run(params: SqlValue[]): Promise<void> {
    await this.owner.outsideOthersTx();
    return new Promise((resolve, reject) => this.stmt.run(params, (err: Error | null) => (err ? reject(err) : resolve())));
  }

  finalize(): Promise<void> {
    return new Promise((resolve) => this.stmt.finalize(() => resolve()));
  }
}
