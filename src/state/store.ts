import type { Problem } from '../problems.js';
import type { StateDb } from './db.js';
import { applyMigrations } from './migrate.js';
import { phaseIndex, type ListPhase, type Phase } from './phases.js';

export interface ListRow {
  name: string;
  phase: ListPhase;
  status: 'pending' | 'running' | 'done' | 'failed';
  error: string | null;
  config_json: string | null;
  mbox_path: string | null;
  mbox_size: number | null;
  mbox_mtime_ms: number | null;
  indexed_bytes: number;
  indexed_sha256: string | null;
  updated_at: string;
}

export type JournalStatus = 'pending' | 'done' | 'failed' | 'skipped';

export interface JournalRow {
  list: string;
  phase: string;
  op: string;
  key: string;
  status: JournalStatus;
  target_id: string | null;
  target_url: string | null;
  detail_json: string | null;
  attempts: number;
}

const now = (): string => new Date().toISOString();

/** Typed access to the state database; every write that marks progress goes through here. */
export class Store {
  constructor(readonly db: StateDb) {}

  static async open(db: StateDb): Promise<Store> {
    await applyMigrations(db);
    return new Store(db);
  }

  async ensureList(name: string): Promise<ListRow> {
    await this.db.run('INSERT OR IGNORE INTO lists (name, updated_at) VALUES (?, ?)', [name, now()]);
    return (await this.getList(name))!;
  }

  getList(name: string): Promise<ListRow | undefined> {
    return this.db.get<ListRow>('SELECT * FROM lists WHERE name = ?', [name]);
  }

  allLists(): Promise<ListRow[]> {
    return this.db.all<ListRow>('SELECT * FROM lists ORDER BY name');
  }

  async updateList(name: string, fields: Partial<Omit<ListRow, 'name' | 'updated_at'>>): Promise<void> {
    const keys = Object.keys(fields) as (keyof typeof fields)[];
    if (!keys.length) return;
    await this.db.run(
      `UPDATE lists SET ${keys.map((k) => `${k} = ?`).join(', ')}, updated_at = ? WHERE name = ?`,
      [...keys.map((k) => (fields[k] ?? null) as string | number | null), now(), name],
    );
  }

  /** Records that `phase` completed; never moves a list backwards. */
  async completePhase(name: string, phase: Phase): Promise<void> {
    const row = await this.getList(name);
    if (row && phaseIndex(row.phase) >= phaseIndex(phase)) return;
    await this.updateList(name, { phase });
  }

  /** Moves a list back so that `phase` runs again (e.g. the source changed after indexing). */
  async resetToBefore(name: string, phase: Phase): Promise<void> {
    const row = await this.getList(name);
    if (!row) return;
    if (phaseIndex(row.phase) >= phaseIndex(phase)) {
      const order = ['new', 'index', 'plan', 'settings', 'roster', 'archive', 'redirects', 'verify'] as const;
      await this.updateList(name, { phase: order[phaseIndex(phase)] });
    }
  }

  async replaceProblems(list: string, phase: string, problems: Problem[]): Promise<void> {
    await this.db.run('DELETE FROM problems WHERE list = ? AND phase = ?', [list, phase]);
    if (!problems.length) return;
    const stmt = this.db.prepare('INSERT INTO problems (list, phase, severity, code, message, key, file) VALUES (?, ?, ?, ?, ?, ?, ?)');
    for (const p of problems) await stmt.run([list, phase, p.severity, p.code, p.message, p.key ?? null, p.file ?? null]);
    await stmt.finalize();
  }

  async addProblems(list: string, phase: string, problems: Problem[]): Promise<void> {
    const stmt = this.db.prepare('INSERT INTO problems (list, phase, severity, code, message, key, file) VALUES (?, ?, ?, ?, ?, ?, ?)');
    for (const p of problems) await stmt.run([list, phase, p.severity, p.code, p.message, p.key ?? null, p.file ?? null]);
    await stmt.finalize();
  }

  problems(list: string): Promise<(Problem & { phase: string })[]> {
    return this.db
      .all<{ phase: string; severity: Problem['severity']; code: string; message: string; key: string | null; file: string | null }>(
        'SELECT phase, severity, code, message, key, file FROM problems WHERE list = ? ORDER BY rowid',
        [list],
      )
      .then((rows) => rows.map((r) => ({ ...r, list, key: r.key ?? undefined, file: r.file ?? undefined })));
  }

  // --- journal -------------------------------------------------------------------------------

  journalEntry(list: string, phase: string, op: string, key: string): Promise<JournalRow | undefined> {
    return this.db.get<JournalRow>('SELECT * FROM journal WHERE list = ? AND phase = ? AND op = ? AND key = ?', [list, phase, op, key]);
  }

  journal(list: string, phase?: string): Promise<JournalRow[]> {
    return phase
      ? this.db.all<JournalRow>('SELECT * FROM journal WHERE list = ? AND phase = ? ORDER BY rowid', [list, phase])
      : this.db.all<JournalRow>('SELECT * FROM journal WHERE list = ? ORDER BY rowid', [list]);
  }

  /** Written before the request goes out, so a crash leaves a `pending` row to reconcile on resume. */
  async journalPending(list: string, phase: string, op: string, key: string): Promise<void> {
    await this.db.run(
      `INSERT INTO journal (list, phase, op, key, status, attempts, updated_at) VALUES (?, ?, ?, ?, 'pending', 1, ?)
       ON CONFLICT (list, phase, op, key) DO UPDATE SET status = CASE WHEN status = 'done' THEN 'done' ELSE 'pending' END,
         attempts = attempts + 1, updated_at = excluded.updated_at`,
      [list, phase, op, key, now()],
    );
  }

  async journalDone(
    list: string,
    phase: string,
    op: string,
    key: string,
    result: { status?: JournalStatus; targetId?: string | number | null; targetUrl?: string | null; detail?: unknown } = {},
  ): Promise<void> {
    await this.db.run(
      `INSERT INTO journal (list, phase, op, key, status, target_id, target_url, detail_json, attempts, updated_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, 1, ?)
       ON CONFLICT (list, phase, op, key) DO UPDATE SET status = excluded.status, target_id = excluded.target_id,
         target_url = excluded.target_url, detail_json = excluded.detail_json, updated_at = excluded.updated_at`,
      [
        list,
        phase,
        op,
        key,
        result.status ?? 'done',
        result.targetId === undefined || result.targetId === null ? null : String(result.targetId),
        result.targetUrl ?? null,
        result.detail === undefined ? null : JSON.stringify(result.detail),
        now(),
      ],
    );
  }

  async journalCounts(list: string): Promise<Record<string, Record<JournalStatus, number>>> {
    const rows = await this.db.all<{ phase: string; status: JournalStatus; n: number }>(
      'SELECT phase, status, count(*) AS n FROM journal WHERE list = ? GROUP BY phase, status',
      [list],
    );
    const out: Record<string, Record<JournalStatus, number>> = {};
    for (const r of rows) {
      out[r.phase] ??= { pending: 0, done: 0, failed: 0, skipped: 0 };
      out[r.phase]![r.status] = r.n;
    }
    return out;
  }
}
