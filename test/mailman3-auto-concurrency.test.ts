/**
 * `target.replayConcurrency: auto` against the real Mailman 3 core + HyperKitty (test/stack):
 *  - the CLI with the default configuration (auto) migrates every sample list, and HyperKitty holds
 *    each message exactly once; the archive summary names the level the replay kept;
 *  - replayOverHttp with `auto` on a generated archive of a few hundred messages: every message once,
 *    at its computed URL, no reply sent before its parent was answered, and the tuner moved.
 */
import { readFile, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { messageIdHash } from '../src/mailman2/message-id.js';
import { HyperKittyClient } from '../src/targets/mailman3/hyperkitty-client.js';
import { replayOverHttp, type ReplayStats } from '../src/targets/mailman3/replay-http.js';
import { runCli } from './helpers/cli.js';
import { tempDir } from './helpers/discourse-run.js';
import { mailman3Differences, startMailman3Fixture, uniqueDomain, writeMailman3Config, type Mailman3Fixture } from './helpers/mailman3-run.js';
import { indexedGeneratedList, RecordingHyperKittyClient, repliesAfterParents } from './helpers/generated-replay.js';
import { sampleConfig, SAMPLE_LISTS } from './helpers/sample.js';

let f: Mailman3Fixture;
beforeAll(async () => {
  f = await startMailman3Fixture();
}, 300_000);
afterAll(async () => {
  await f?.stack.stop();
});

it('the CLI with replayConcurrency left at its default (auto) archives every message of every sample list exactly once', async () => {
  const dir = await tempDir('mm2m-auto-conc-');
  const run = await writeMailman3Config(f, dir, { domain: uniqueDomain('ac') });
  const cfg = JSON.parse(await readFile(run.configFile, 'utf8')) as { target: Record<string, unknown> };
  expect(cfg.target.replayConcurrency).toBeUndefined();
  cfg.target.archivePath = 'http';
  await writeFile(run.configFile, JSON.stringify(cfg, null, 2));

  const migrated = await runCli(['migrate', '--config', run.configFile, '--all'], { env: run.env, timeoutMs: 400_000 });
  expect(migrated.code, migrated.stderr.slice(-4000)).toBe(0);
  expect(await mailman3Differences(f, run.state, run.domain, SAMPLE_LISTS)).toEqual([]);

  for (const list of SAMPLE_LISTS) {
    const summaryFile = await findFile(run.reports, list, 'archive-summary.json');
    const summary = JSON.parse(await readFile(summaryFile, 'utf8')) as Omit<ReplayStats, 'problems'> & { path: string };
    expect(summary.path).toBe('http');
    expect(summary.accepted).toBe(summary.total);
    // Each list starts at 2 in flight; small lists end before the tuner has moved far.
    expect(summary.concurrencySettled).toBeGreaterThanOrEqual(1);
    expect(summary.concurrencySettled).toBeLessThanOrEqual(16);
    expect(summary.concurrencyTrace[0]).toMatchObject({ step: 1, concurrency: 2, reason: 'start' });
  }
}, 600_000);

it('replayOverHttp with auto: a generated archive goes in once, replies after their parents, and the tuner tries more than one level', async () => {
  const cfg = await sampleConfig();
  const domain = uniqueDomain('acg');
  const fqdn = `gen@${domain}`;
  const rest = (method: string, p: string, form: Record<string, string>) =>
    fetch(`${f.stack.restUrl}/3.1${p}`, { method, headers: { Authorization: f.stack.restAuthorization }, body: new URLSearchParams(form), signal: AbortSignal.timeout(60_000) });
  expect((await rest('POST', '/domains', { mail_host: domain })).status).toBe(201);
  expect((await rest('POST', '/lists', { fqdn_listname: fqdn })).status).toBe(201);
  expect((await rest('PATCH', `/lists/gen.${domain}/config`, { archive_policy: 'public' })).status).toBe(204);

  const { db, store, rows, ctx } = await indexedGeneratedList(cfg, { seed: 21, targetBytes: 2_500_000 });
  try {
    expect(rows.length).toBeGreaterThan(150);
    const client = new RecordingHyperKittyClient({ baseUrl: `${f.stack.hyperkittyUrl}/`, archiverKey: f.stack.archiverKey });
    const stats = await replayOverHttp(ctx, { client, fqdn, concurrency: 'auto' });
    const trace = JSON.stringify(stats.concurrencyTrace);

    expect(stats, trace).toMatchObject({ total: rows.length, accepted: rows.length, refused: 0, urlMismatches: 0, stopped: false });
    const want = rows.map((r) => messageIdHash(r.target_message_id)).sort();
    const archived = await new HyperKittyClient({ baseUrl: `${f.stack.hyperkittyUrl}/`, archiverKey: f.stack.archiverKey }).listEmails(fqdn);
    expect(archived!.map((e) => e.hash).sort()).toEqual(want);
    const journal = await store.journal('gen', 'archive');
    expect(journal.filter((j) => j.status === 'done').map((j) => j.target_url).sort()).toEqual(want.map((h) => `${f.stack.hyperkittyUrl}/list/${fqdn}/message/${h}/`).sort());

    const replies = repliesAfterParents(rows, client.timeline, (sent, parentAnswered) => expect(sent).toBeGreaterThanOrEqual(parentAnswered));
    expect(replies).toBeGreaterThan(30);
    expect(new Set(stats.concurrencyTrace.map((s) => s.concurrency)).size, trace).toBeGreaterThan(1);
    expect(stats.concurrencyTrace.some((s) => s.perSecond !== null && s.perSecond > 0), trace).toBe(true);
    expect(stats.concurrencySettled).toBeGreaterThanOrEqual(1);
    expect(stats.concurrencySettled).toBeLessThanOrEqual(16);
  } finally {
    await db.close();
  }
}, 600_000);

async function findFile(root: string, list: string, name: string): Promise<string> {
  const entries = await readdir(root, { recursive: true });
  const hit = entries.find((e) => e.endsWith(path.join(list, name)));
  if (!hit) throw new Error(`no ${name} for ${list} under ${root}`);
  return path.join(root, hit);
}
