import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, readFile, stat, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { StateDb } from '../src/state/db.js';
import { claimList } from '../src/state/run-lock.js';
import { Store } from '../src/state/store.js';
import { runCli } from './helpers/cli.js';
import { SAMPLE_ROOT } from './helpers/sample.js';

const children: ChildProcess[] = [];
afterEach(() => {
  for (const c of children.splice(0)) c.kill('SIGKILL');
});

/** A live process that is not an mm2migrate run, to stand for one that holds a list. */
async function liveProcess(): Promise<{ pid: number; start: string }> {
  const child = spawn('sleep', ['60'], { stdio: 'ignore' });
  children.push(child);
  await new Promise((r) => child.once('spawn', r));
  const statLine = readFileSync(`/proc/${child.pid}/stat`, 'utf8');
  return { pid: child.pid!, start: statLine.slice(statLine.lastIndexOf(')') + 2).split(' ')[19]! };
}

async function exitedPid(): Promise<number> {
  const child = spawn('true', [], { stdio: 'ignore' });
  await new Promise((r) => child.once('close', r));
  return child.pid!;
}

async function freshStore(): Promise<{ dir: string; file: string; store: Store }> {
  const dir = await mkdtemp(path.join(tmpdir(), 'mm2m-lock-'));
  const file = path.join(dir, 'state.sqlite');
  return { dir, file, store: await Store.open(await StateDb.open(file)) };
}

async function hold(store: Store, list: string, row: { pid: number; host: string; procStart: string | null }): Promise<void> {
  await store.db.run('INSERT OR REPLACE INTO list_runs (list, pid, host, proc_start, started_at) VALUES (?, ?, ?, ?, ?)', [
    list, row.pid, row.host, row.procStart, '2026-01-01T00:00:00.000Z',
  ]);
}

describe('one run per list', () => {
  it('refuses a list another live run holds, and releases it for the next claim', async () => {
    const { store } = await freshStore();
    const live = await liveProcess();
    await hold(store, 'devtalk', { pid: live.pid, host: hostname(), procStart: live.start });
    const refused = await claimList(store.db, 'devtalk');
    expect(refused).toEqual({ ok: false, holder: { pid: live.pid, host: hostname(), startedAt: '2026-01-01T00:00:00.000Z' } });
    // Other lists are free.
    const other = await claimList(store.db, 'nihongo');
    expect(other.ok).toBe(true);
    if (other.ok) await other.release();
    expect(await store.db.all('SELECT list FROM list_runs')).toEqual([{ list: 'devtalk' }]);
    await store.db.close();
  });

  it('takes over a list whose run is gone: exited, or its pid now belongs to another process', async () => {
    const { store } = await freshStore();
    await hold(store, 'devtalk', { pid: await exitedPid(), host: hostname(), procStart: '1' });
    const live = await liveProcess();
    await hold(store, 'nihongo', { pid: live.pid, host: hostname(), procStart: `${Number(live.start) + 12345}` });
    for (const list of ['devtalk', 'nihongo']) {
      const claim = await claimList(store.db, list);
      expect(claim.ok, list).toBe(true);
      expect(await store.db.get('SELECT pid FROM list_runs WHERE list = ?', [list])).toEqual({ pid: process.pid });
      if (claim.ok) await claim.release();
    }
    expect(await store.db.all('SELECT list FROM list_runs')).toEqual([]);
    await store.db.close();
  });

  it('treats a run on another host as running (it cannot be checked from here)', async () => {
    const { store } = await freshStore();
    await hold(store, 'devtalk', { pid: await exitedPid(), host: `${hostname()}-elsewhere`, procStart: null });
    expect((await claimList(store.db, 'devtalk')).ok).toBe(false);
    await store.db.close();
  });

  it('migrate leaves a held list, its state and its report alone, names the holder, and runs it once the holder is gone', async () => {
    const { dir, file, store } = await freshStore();
    const config = path.join(dir, 'config.json');
    await writeFile(
      config,
      JSON.stringify({
        source: { root: SAMPLE_ROOT, timeZone: 'UTC' },
        target: { kind: 'discourse', url: 'http://127.0.0.1:9', apiKeyEnv: 'MM2M_LOCK_UNUSED_KEY', apiUsername: 'admin' },
        state: file,
        reports: path.join(dir, 'reports'),
      }),
    );
    const live = await liveProcess();
    await hold(store, 'devtalk', { pid: live.pid, host: hostname(), procStart: live.start });
    const before = await store.ensureList('devtalk');

    const busy = await runCli(['migrate', '--config', config, '--list', 'devtalk', '--list', 'nihongo', '--dry-run', '--json', '--quiet']);
    expect(busy.code, busy.stderr).toBe(1);
    expect(busy.stderr).toContain(`devtalk: another mm2migrate run (process ${live.pid}`);
    const run = JSON.parse(busy.stdout) as { lists: { list: string; status: string; error: string | null }[] };
    expect(run.lists.find((l) => l.list === 'devtalk')).toMatchObject({ status: 'failed', error: expect.stringContaining(`process ${live.pid}`) });
    expect(run.lists.find((l) => l.list === 'nihongo')).toMatchObject({ status: 'done' });
    expect(await store.getList('devtalk')).toEqual(before);
    await expect(stat(path.join(dir, 'reports', 'devtalk', 'report.json'))).rejects.toThrow();

    children.splice(0).forEach((c) => c.kill('SIGKILL'));
    await new Promise((r) => setTimeout(r, 100));
    const ok = await runCli(['migrate', '--config', config, '--list', 'devtalk', '--dry-run', '--quiet']);
    expect(ok.code, ok.stderr).toBe(0);
    expect(JSON.parse(await readFile(path.join(dir, 'reports', 'devtalk', 'report.json'), 'utf8'))).toMatchObject({ status: 'done' });
    expect(await store.db.all('SELECT list FROM list_runs')).toEqual([]);
    await store.db.close();
  });
});
