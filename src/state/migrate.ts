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
  await db.exec(
    'CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)',
  );
  const done = new Set((await db.all<{ version: number }>('SELECT version FROM schema_migrations')).map((r) => r.version));
  const files = (await readdir(dir)).filter((f) => /^\d+_[\w-]+\.sql$/.test(f)).sort();
  const applied: AppliedMigration[] = [];
  for (const file of files) {
    const version = Number.parseInt(file, 10);
    if (done.has(version)) continue;
    const sql = await readFile(`${dir}/${file}`, 'utf8');
    await db.transaction(async () => {
      await db.exec(sql);
      await db.run('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)', [
        version,
        file.replace(/^\d+_|\.sql$/g, ''),
        new Date().toISOString(),
      ]);
    });
    applied.push({ version, name: file });
  }
  return applied;
}

export async function schemaVersion(db: StateDb): Promise<number> {
  const row = await db.get<{ v: number | null }>('SELECT max(version) AS v FROM schema_migrations');
  return row?.v ?? 0;
}
