import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { PACKAGE_ROOT } from '../paths.js';
import type { StateDb } from './db.js';

export const MIGRATIONS_DIR = path.join(PACKAGE_ROOT, 'migrations');

export interface AppliedMigration {
  version: number;
  name: string;
}

/**
 * Applies every numbered migrations/NNN_name.sql not yet recorded, in order, each in its own
 * transaction, so an older state file is upgraded in place and a crash mid-upgrade leaves the
 * last complete version.
 */
export async function applyMigrations(db: StateDb, dir = MIGRATIONS_DIR): Promise<AppliedMigration[]> {
  const files = (await readdir(dir)).filter((f) => /^\d+_[\w-]+\.sql$/.test(f)).sort();
  // Several runs may open a fresh state file at once: each step re-checks the recorded version
  // inside its write transaction, so only the first run applies it and the others skip it.
  await db.transaction(() =>
    db.exec('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)'),
  );
  const applied: AppliedMigration[] = [];
  for (const file of files) {
    const version = Number.parseInt(file, 10);
    const sql = await readFile(`${dir}/${file}`, 'utf8');
    const didApply = await db.transaction(async () => {
      if (await db.get('SELECT 1 FROM schema_migrations WHERE version = ?', [version])) return false;
      await db.exec(sql);
      await db.run('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)', [
        version,
        file.replace(/^\d+_|\.sql$/g, ''),
        new Date().toISOString(),
      ]);
      return true;
    });
    if (didApply) applied.push({ version, name: file });
  }
  return applied;
}

export async function schemaVersion(db: StateDb): Promise<number> {
  const row = await db.get<{ v: number | null }>('SELECT max(version) AS v FROM schema_migrations');
  return row?.v ?? 0;
}
