// Kill test: the migration runs in a child process that is SIGKILLed at random moments during
// the replay, then started again. At the end the Discourse double must hold exactly one topic or
// post per replayable message and the journal must be complete. MM2M_KILL_SOAK=N kills N times.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { StateDb } from '../src/state/db.js';
import { prng } from './helpers/prng.js';
import { startDiscourseDouble, type DiscourseDouble } from './doubles/discourse-double.js';
import { discourseConfig, KEY_ENV, tempDir } from './helpers/discourse-run.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const CHILD = fileURLToPath(new URL('./discourse-kill-child.mjs', import.meta.url));
const KILLS = Number(process.env.MM2M_KILL_SOAK ?? 5);

let d: DiscourseDouble;
beforeAll(async () => {
  // The child runs the compiled pipeline, built once per run by test/global-setup.ts (building
  // here again would rewrite dist/ under other test files' feet).
  if (!existsSync(path.join(ROOT, 'dist/src/targets/discourse/target.js'))) throw new Error('npm run build did not produce dist/src/targets/discourse/target.js');
  d = await startDiscourseDouble({ adminRequestsPerMinute: 1_000_000, siteSettings: { disable_emails: 'yes', authorized_extensions: '*' } });
}, 300_000);
afterAll(() => d?.close());


function postsCreated(): number {
  return d.state.requestLog.filter((e) => e.method === 'POST' && e.path.startsWith('/posts') && e.status === 200 && !e.memoised).length;
}

function runChild(configFile: string): { child: ChildProcess; done: Promise<{ code: number | null; signal: NodeJS.Signals | null; out: string }> } {
  const child = spawn(process.execPath, [CHILD, configFile, 'devtalk'], { cwd: ROOT, env: { ...process.env, [KEY_ENV]: d.adminApiKey }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr!.on('data', (b: Buffer) => (out += b.toString()));
  const done = new Promise<{ code: number | null; signal: NodeJS.Signals | null; out: string }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal, out })));
  return { child, done };
}

it(`survives up to ${KILLS} SIGKILLs during the replay without duplicate or missing posts`, async () => {
  const seed = Number(process.env.MM2M_KILL_SEED ?? Date.now() % 100_000);
  const random = prng(seed);
  const dir = await tempDir('mm2m-kill-');
  const cfg = discourseConfig(dir, d.url, d.adminUsername, { requestsPerMinute: 1_000_000 });
  const configFile = path.join(dir, 'config.json');
  await writeFile(configFile, JSON.stringify(cfg));
  // Slow half of the post requests a little so that kills land inside the replay.
  d.setFault({ match: /^POST \/posts/, rate: 0.5, kinds: ['slow'], slowMs: 40, seed });

  let kills = 0;
  let finished = false;
  for (let round = 0; round < KILLS * 3 && kills < KILLS; round++) {
    const before = postsCreated();
    const wantMore = 1 + Math.floor(random() * Math.max(2, Math.floor(40 / KILLS)));
    const { child, done } = runChild(configFile);
    const exited = await Promise.race([
      done,
      (async () => {
        while (postsCreated() < before + wantMore && child.exitCode === null) await new Promise((r) => setTimeout(r, 5));
        await new Promise((r) => setTimeout(r, Math.floor(random() * 60)));
        return null;
      })(),
    ]);
    if (exited) {
      finished = exited.code === 0;
      if (finished) break;
      throw new Error(`child failed: ${exited.out}`);
    }
    child.kill('SIGKILL');
    await done;
    kills++;
  }
  d.setFault(null);
  if (!finished) {
    const last = runChild(configFile);
    const r = await last.done;
    expect(r.code, r.out).toBe(0);
  }
  expect(kills, `seed ${seed}`).toBeGreaterThan(0);

  const db = await StateDb.open(cfg.state);
  try {
    const msgs = await db.all<{ target_message_id: string; depth: number }>(
      "SELECT target_message_id, depth FROM messages WHERE list = 'devtalk' AND duplicate_kind IS NOT 'same'",
    );
    const journal = await db.all<{ key: string; status: string; target_id: string }>("SELECT key, status, target_id FROM journal WHERE list = 'devtalk' AND phase = 'archive' AND op = 'post'");
    expect(journal.filter((j) => j.status === 'done'), `seed ${seed}`).toHaveLength(msgs.length);
    expect(new Set(journal.map((j) => j.target_id)).size).toBe(msgs.length);
    const posts = [...d.state.posts.values()].filter((p) => !d.state.topics.get(p.topicId)?.isCategoryDefinition);
    expect(posts, `seed ${seed}: one post per replayable message`).toHaveLength(msgs.length);
    const topics = [...d.state.topics.values()].filter((t) => !t.isCategoryDefinition);
    expect(topics).toHaveLength(msgs.filter((m) => m.depth === 0).length);
    expect(new Set(topics.map((t) => t.externalId)).size).toBe(topics.length);
    expect(new Set(journal.map((j) => Number(j.target_id)))).toEqual(new Set(posts.map((p) => p.id)));
    const categories = [...d.state.categories.values()].filter((c) => c.name === 'DevTalk');
    expect(categories).toHaveLength(1);
    const emails = [...d.state.users.values()].map((u) => u.email);
    expect(new Set(emails).size).toBe(emails.length);
    expect(d.state.emailsSent).toEqual([]);
    // Look-ups that only a run resuming a `pending` post makes.
    const lookups = d.state.requestLog.filter((e) => e.path.startsWith('/t/external_id/') || /^\/t\/\d+\/posts/.test(e.path)).length;
    console.log(`kill test (seed ${seed}): ${kills} kills, ${posts.length} posts, ${lookups} reconciliation look-ups, ${d.state.requestLog.length} requests`);
  } finally {
    await db.close();
  }
}, 240_000);
