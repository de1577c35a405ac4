import { copyFile, mkdtemp, readdir, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { StateDb } from '../src/state/db.js';
import { applyMigrations, MIGRATIONS_DIR, schemaVersion } from '../src/state/migrate.js';
import { runCli } from './helpers/cli.js';
import { SAMPLE_ROOT } from './helpers/sample.js';

function sampleConfigJson(): Record<string, unknown> {
  return {
    source: { root: SAMPLE_ROOT, timeZone: 'UTC' },
    target: { kind: 'discourse', url: 'http://127.0.0.1:9', apiKeyEnv: 'MM2M_RACE_UNUSED_KEY', apiUsername: 'admin' },
  };
}

async function migrationFiles(): Promise<string[]> {
  return (await readdir(MIGRATIONS_DIR)).filter((f) => /^\d+_[\w-]+\.sql$/.test(f)).sort();
}

describe('state database migrations', () => {
  it('creates a fresh state file readable by its owner only, at the newest version', async () => {
    const file = path.join(await mkdtemp(path.join(tmpdir(), 'mm2m-state-')), 'state.sqlite');
    const db = await StateDb.open(file);
    const applied = await applyMigrations(db);
    const files = await migrationFiles();
    expect(applied.map((a) => a.name)).toEqual(files);
    expect(await schemaVersion(db)).toBe(Number.parseInt(files.at(-1)!, 10));
    expect(await applyMigrations(db)).toEqual([]);
    await db.close();
    expect((await stat(file)).mode & 0o077).toBe(0);
  });

  it('lets several runs open one fresh state file at once: each migration is applied exactly once', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'mm2m-race-'));
    const config = path.join(dir, 'config.json');
    const state = path.join(dir, 'state.sqlite');
    await writeFile(config, JSON.stringify({ ...sampleConfigJson(), state, reports: path.join(dir, 'reports') }));
    // Separate processes, as when a cron job and an operator start runs together.
    const runs = await Promise.all(Array.from({ length: 8 }, () => runCli(['status', '--config', config, '--json'])));
    for (const r of runs) expect(r.code, r.stderr).toBe(0);
    const db = await StateDb.open(state);
    const recorded = await db.all<{ name: string }>('SELECT name FROM schema_migrations ORDER BY version');
    expect(recorded.map((r) => `${r.name}`)).toEqual((await migrationFiles()).map((f) => f.replace(/^\d+_|\.sql$/g, '')));
    await db.close();
  });

  it('upgrades an older state file in place and keeps its data', async () => {
    const files = await migrationFiles();
    // Every older version a user may hold: version 0 (empty file) up to the one before the newest.
    for (let k = 0; k < files.length; k++) {
      const dir = await mkdtemp(path.join(tmpdir(), 'mm2m-old-'));
      const oldMigrations = path.join(dir, 'migrations');
      await import('node:fs/promises').then((fs) => fs.mkdir(oldMigrations));
      for (const f of files.slice(0, k)) await copyFile(path.join(MIGRATIONS_DIR, f), path.join(oldMigrations, f));
      const file = path.join(dir, 'state.sqlite');
      let db = await StateDb.open(file);
      await applyMigrations(db, oldMigrations);
      if (k > 0) await db.run("INSERT INTO lists (name, phase, updated_at) VALUES ('keepme', 'plan', '2020-01-01')");
      await db.close();

      db = await StateDb.open(file);
      const applied = await applyMigrations(db);
      expect(applied.map((a) => a.name)).toEqual(files.slice(k));
      expect(await schemaVersion(db)).toBe(Number.parseInt(files.at(-1)!, 10));
      if (k > 0) expect(await db.get("SELECT name, phase FROM lists WHERE name = 'keepme'")).toEqual({ name: 'keepme', phase: 'plan' });
      await db.close();
    }
  });

  it('leaves the previous version intact when a migration fails', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'mm2m-bad-'));
    const files = await migrationFiles();
    for (const f of files) await copyFile(path.join(MIGRATIONS_DIR, f), path.join(dir, f));
    const broken = `${String(Number.parseInt(files.at(-1)!, 10) + 1).padStart(3, '0')}_broken.sql`;
    await import('node:fs/promises').then((fs) => fs.writeFile(path.join(dir, broken), 'CREATE TABLE ok_part (x INTEGER);\nTHIS IS NOT SQL;\n'));
    const db = await StateDb.open(':memory:');
    await expect(applyMigrations(db, dir)).rejects.toThrow();
    expect(await schemaVersion(db)).toBe(Number.parseInt(files.at(-1)!, 10));
    expect(await db.get("SELECT name FROM sqlite_master WHERE name = 'ok_part'")).toBeUndefined();
    await db.close();
  });
});
