// Fault injection against the Discourse test double: every sample list is migrated through
// test/faults/proxy.ts, which answers 20 % of the requests with 5xx, 429 + Retry-After, held
// answers (timeouts), connection resets before and after the double carried the request out, and
// slow answers. The migration must complete (verify included, also through the proxy) and the
// double must hold exactly one topic/post per replayable message and exactly the lists' members,
// and the private list's posts must never be readable anonymously, checked all along the run.
// MM2M_FAULT_SEED replays a run; MM2M_FAULT_RATE changes the rate (soak: see the README).
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startDiscourseDouble, type DiscourseDouble } from './doubles/discourse-double.js';
import { startFaultProxy, type FaultProxy } from './faults/proxy.js';
import { discourseDifferences } from './helpers/discourse-check.js';
import { discourseConfig, KEY_ENV, runList, tempDir } from './helpers/discourse-run.js';
import { watchDiscoursePrivate, type WatchResult } from './helpers/private-watch.js';
import { expected, SAMPLE_LISTS } from './helpers/sample.js';

const SEED = Number(process.env.MM2M_FAULT_SEED ?? Math.floor(Math.random() * 1_000_000));
const RATE = Number(process.env.MM2M_FAULT_RATE ?? 0.2);

let d: DiscourseDouble;
let proxy: FaultProxy;
let watched: WatchResult | null = null;
let watchRounds = 0;
beforeAll(async () => {
  d = await startDiscourseDouble({ adminRequestsPerMinute: 1_000_000, siteSettings: { disable_emails: 'yes', authorized_extensions: '*' } });
  process.env[KEY_ENV] = d.adminApiKey;
  proxy = await startFaultProxy({
    target: d.url,
    rate: RATE,
    seed: SEED,
    // The "after" kinds (the double carried the request out, the client never heard) weigh double.
    kinds: { '500': 1, '502': 1, '503': 1, '429': 1, timeout: 1, 'timeout-after': 2, reset: 1, 'reset-after': 2, slow: 1 },
    slowMs: 200,
    holdMs: 10_000,
    retryAfterSeconds: 1,
  });
});
afterAll(async () => {
  await proxy?.close();
  await d?.close();
});

it(`migrates every sample list through ${RATE * 100}% injected faults: nothing missing, nothing twice`, async () => {
  const why = `seed ${SEED} (MM2M_FAULT_SEED=${SEED} replays it)`;
  const dir = await tempDir('mm2m-faults-discourse-');
  const cfg = discourseConfig(dir, proxy.url, d.adminUsername, { requestsPerMinute: 1_000_000 });
  // A held answer costs one client timeout; backoff and Retry-After waits are cut short (the proxy
  // and the double answer at once), their count is what matters.
  const client = { timeoutMs: 700, sleep: (ms: number) => new Promise<void>((r) => setTimeout(r, Math.min(ms, 20))) };

  // Private archives: checked all along the replay, not only at the end.
  const privateNames = SAMPLE_LISTS.filter((l) => !expected(l).list.public_archive).map((l) => String((expected(l) as unknown as { settings: { real_name: string } }).settings.real_name));
  expect(privateNames.length).toBeGreaterThan(0);
  const watcher = watchDiscoursePrivate(d, privateNames);
  try {
    for (const list of SAMPLE_LISTS) {
      const run = await runList(cfg, list, { target: { client } });
      expect(run.outcome.report.error ?? null, `${list}: ${why}`).toBeNull();
      expect(run.outcome.report.status, `${list}: ${why}`).toBe('done');
      expect(run.outcome.report.verify?.ok, `${list}: ${why}`).toBe(true);
    }
  } finally {
    proxy.setRate(0);
    watchRounds = watcher.rounds;
    watched = await watcher.stop();
  }

  expect(proxy.totalInjected(), why).toBeGreaterThan(proxy.log.length * RATE * 0.5);
  expect(proxy.injected['reset-after'], why).toBeGreaterThan(0);
  expect(proxy.injected['timeout-after'], why).toBeGreaterThan(0);

  expect(await discourseDifferences(d, cfg.state, SAMPLE_LISTS), why).toEqual([]);
  console.log(`faults (Discourse, ${why}): ${proxy.log.length} requests, injected ${JSON.stringify(proxy.injected)}`);
}, 120_000);

it('the private list was never readable anonymously during that run (checked all along, not only at the end)', () => {
  expect(watched, 'the migration above did not run to its end').not.toBeNull();
  expect(watchRounds, 'the private archive was watched during the run').toBeGreaterThan(10);
  expect(watched).toEqual({ exposures: [], serverDefects: [] });
});
