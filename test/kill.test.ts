// Kill test: `mm2migrate migrate --all` (the built CLI, two lists in flight) against the Discourse
// double is SIGKILLed at least 20 times, aimed round-robin at the index, plan, settings, roster and
// archive phases (a short random delay after the phase's --log-json event), and restarted each
// time. After every kill the state database must pass PRAGMA integrity_check; after the last
// restart the run completes and the double holds every member and message exactly once.
// SIGINT and SIGTERM: the run stops by itself after the requests in flight (exit 130), says how to
// resume, leaves no half-done journal row, and the next run completes.
// MM2M_KILLS=N kills N times (soak), MM2M_KILL_SEED replays a sequence of kill moments.
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { StateDb } from '../src/state/db.js';
import { startDiscourseDouble, type DiscourseDouble } from './doubles/discourse-double.js';
import { discourseDifferences } from './helpers/discourse-check.js';
import { discourseConfig, KEY_ENV, tempDir } from './helpers/discourse-run.js';
import { integrityCheck, killCampaign, spawnCli, type CliChild } from './helpers/kill-harness.js';
import { SAMPLE_LISTS } from './helpers/sample.js';

const KILLS = Math.max(20, Number(process.env.MM2M_KILLS ?? 20));
const SEED = Number(process.env.MM2M_KILL_SEED ?? Math.floor(Math.random() * 1_000_000));
const PHASES = ['index', 'plan', 'settings', 'roster', 'archive'];

const doubles: DiscourseDouble[] = [];
afterEach(async () => {
  await Promise.all(doubles.splice(0).map((d) => d.close()));
});

async function setup(seed: number): Promise<{ d: DiscourseDouble; configFile: string; state: string; start: (extra?: string[]) => CliChild }> {
  const d = await startDiscourseDouble({ adminRequestsPerMinute: 1_000_000, siteSettings: { disable_emails: 'yes', authorized_extensions: '*' } });
  doubles.push(d);
  // Slow down half of the writes a little so that a kill lands in the middle of real work.
  d.setFault({ match: /^(POST|PUT) /, rate: 0.5, kinds: ['slow'], slowMs: 25, seed });
  const dir = await tempDir('mm2m-kill-');
  const { file: _file, ...cfg } = discourseConfig(dir, d.url, d.adminUsername, { requestsPerMinute: 1_000_000 });
  const configFile = path.join(dir, 'config.json');
  await writeFile(configFile, JSON.stringify(cfg));
  const start = (extra: string[] = []): CliChild =>
    spawnCli(['migrate', '--config', configFile, '--all', '--concurrency', '2', '--log-json', ...extra], { env: { [KEY_ENV]: d.adminApiKey } });
  return { d, configFile, state: cfg.state, start };
}

it(`survives ${KILLS} SIGKILLs spread over the index, plan, settings, roster and archive phases`, async () => {
  const why = `seed ${SEED} (MM2M_KILL_SEED=${SEED} replays it)`;
  const { d, state, start } = await setup(SEED);
  const integrity: string[] = [];
  const result = await killCampaign({
    kills: KILLS,
    seed: SEED,
    phases: PHASES,
    maxDelayMs: { index: 40, plan: 15, settings: 30, roster: 80, archive: 300 },
    start,
    afterKill: async (k) => {
      const check = await integrityCheck(state);
      if (check.join() !== 'ok') integrity.push(`after kill ${k.round} (${k.lastEvent}): ${check.join('; ')}`);
    },
    maxRounds: KILLS * 4,
  });
  expect(integrity, why).toEqual([]);
  expect(result.kills.length, `${why}: kills (runs that ended by themselves: ${result.exits.length})`).toBeGreaterThanOrEqual(KILLS);
  for (const p of PHASES) expect(result.kills.filter((k) => k.phase === p).length, `${why}: kills aimed at ${p}`).toBeGreaterThanOrEqual(Math.floor(KILLS / PHASES.length));

  d.setFault(null);
  const last = await start().exited;
  expect(last.code, `${why}\n${last.stderr.slice(-3000)}`).toBe(0);
  expect(await integrityCheck(state)).toEqual(['ok']);
  expect(await discourseDifferences(d, state, SAMPLE_LISTS), why).toEqual([]);

  const db = await StateDb.open(state);
  try {
    const lists = await db.all<{ name: string; status: string }>('SELECT name, status FROM lists ORDER BY name');
    expect(lists).toEqual(SAMPLE_LISTS.map((name) => ({ name, status: 'done' })));
    const pending = await db.all('SELECT * FROM journal WHERE status = ?', ['pending']);
    expect(pending).toEqual([]);
  } finally {
    await db.close();
  }
  const where = result.kills.map((k) => k.lastEvent.split(':')[1]).reduce<Record<string, number>>((m, p) => ({ ...m, [p!]: (m[p!] ?? 0) + 1 }), {});
  console.log(`kill test (${why}): ${result.kills.length} kills, last phase event before each kill: ${JSON.stringify(where)}, ${d.state.requestLog.length} requests`);
}, 180_000);

describe.each(['SIGINT', 'SIGTERM'] as const)('%s', (sig) => {
  it('stops after the requests in flight with exit code 130 and how to resume; the next run completes', async () => {
    const { d, configFile, state, start } = await setup(7);
    d.setFault({ match: /^POST \/posts/, rate: 1, kinds: ['slow'], slowMs: 30 });
    const run = start();
    const postsBefore = (): number => d.state.requestLog.filter((e) => e.method === 'POST' && e.path.startsWith('/posts')).length;
    expect(await run.waitUntil(() => postsBefore() >= 5), run.phases.map((p) => p.phase).join()).toBe(true);
    const sentAt = d.state.requestLog.length;
    run.child.kill(sig);
    const timer = setTimeout(() => run.child.kill('SIGKILL'), 20_000);
    const r = await run.exited;
    clearTimeout(timer);
    expect(r.signal, 'exited by itself').toBeNull();
    expect(r.code, r.stderr.slice(-2000)).toBe(130);
    expect(r.stderr).toContain(`Resume with: mm2migrate migrate --config ${configFile} --all`);
    // Only what was in flight was finished: a post needs at most a look-up, an upload and the post.
    const after = d.state.requestLog.slice(sentAt);
    expect(after.length, JSON.stringify(after.map((e) => `${e.method} ${e.path}`))).toBeLessThanOrEqual(2 * 3);
    const db = await StateDb.open(state);
    try {
      expect(await db.all("SELECT key FROM journal WHERE status = 'pending'"), 'a clean stop leaves no pending journal row').toEqual([]);
      const done = await db.get<{ n: number }>("SELECT count(*) AS n FROM journal WHERE phase = 'archive' AND status = 'done'");
      const total = await db.get<{ n: number }>("SELECT count(*) AS n FROM messages WHERE duplicate_kind IS NOT 'same'");
      expect(done!.n).toBeLessThan(total!.n);
    } finally {
      await db.close();
    }
    expect(await integrityCheck(state)).toEqual(['ok']);

    d.setFault(null);
    const next = await start().exited;
    expect(next.code, next.stderr.slice(-2000)).toBe(0);
    expect(await discourseDifferences(d, state, SAMPLE_LISTS)).toEqual([]);
  }, 60_000);
});
