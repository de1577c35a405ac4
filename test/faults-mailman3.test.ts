// Fault injection against the real Mailman 3 stack (test/stack): the CLI migrates every sample list
// with Mailman core's REST API and HyperKitty each behind test/faults/proxy.ts, which answers 20 %
// of the requests with 5xx, 429 + Retry-After, held answers that end in a dropped connection,
// connection resets before and after the target carried the request out, and slow answers. The
// migration must complete and Mailman 3 must hold exactly the source's members and messages; the
// private list's messages must never be readable anonymously, checked all along the run.
// MM2M_FAULT_SEED replays a run; MM2M_FAULT_RATE and MM2M_FAULT_KINDS change the mix (see the README).
import { afterAll, beforeAll, expect, it } from 'vitest';
import { runCli } from './helpers/cli.js';
import { tempDir } from './helpers/discourse-run.js';
import { mailman3Differences, privateArchives, startMailman3Fixture, uniqueDomain, writeMailman3Config, type Mailman3Fixture } from './helpers/mailman3-run.js';
import { watchHyperKittyPrivate } from './helpers/private-watch.js';
import { SAMPLE_LISTS } from './helpers/sample.js';
import { startFaultProxy, type FaultKind, type FaultProxy } from './faults/proxy.js';

const SEED = Number(process.env.MM2M_FAULT_SEED ?? Math.floor(Math.random() * 1_000_000));
const RATE = Number(process.env.MM2M_FAULT_RATE ?? 0.2);
/** MM2M_FAULT_KINDS=500,reset-after,… narrows the kinds (to tell which one a failure needs); default all. */
const KINDS = process.env.MM2M_FAULT_KINDS ? (process.env.MM2M_FAULT_KINDS.split(',') as FaultKind[]) : undefined;

let f: Mailman3Fixture;
let rest: FaultProxy;
let hk: FaultProxy;
beforeAll(async () => {
  f = await startMailman3Fixture();
  // A held answer ends with the connection dropped after 1.5 s (as a load balancer's idle timeout
  // would): the clients' own timeouts are a minute or more, too long for a test.
  const common = { rate: 0, kinds: KINDS, slowMs: 200, holdMs: 1_500, retryAfterSeconds: 1 } as const;
  rest = await startFaultProxy({ ...common, target: f.stack.restUrl, seed: SEED });
  hk = await startFaultProxy({ ...common, target: f.stack.hyperkittyUrl, seed: SEED + 1 });
}, 300_000);
afterAll(async () => {
  await rest?.close();
  await hk?.close();
  await f?.stack.stop();
});

it(`migrates every sample list to Mailman 3 through ${RATE * 100}% injected faults: nothing missing, nothing twice, nothing private exposed`, async () => {
  const why = `seed ${SEED} (MM2M_FAULT_SEED=${SEED} replays it)`;
  const dir = await tempDir('mm2m-faults-mm3-');
  const run = await writeMailman3Config(f, dir, { domain: uniqueDomain('f'), restUrl: rest.url, hyperkittyUrl: hk.url });
  // Index first (no network), so that the watcher knows every private message before the replay.
  const planned = await runCli(['migrate', '--config', run.configFile, '--all', '--dry-run'], { env: run.env });
  expect(planned.code, planned.stderr).toBe(0);
  const privates = await privateArchives(run.state, run.domain, SAMPLE_LISTS);
  expect(privates.size).toBeGreaterThan(0);
  const watcher = watchHyperKittyPrivate(f.stack.hyperkittyUrl, privates);

  rest.setRate(RATE);
  hk.setRate(RATE);
  const migrated = await runCli(['migrate', '--config', run.configFile, '--all', '--log-json'], { env: run.env, timeoutMs: 400_000 });
  rest.setRate(0);
  hk.setRate(0);
  const { exposures, serverDefects } = await watcher.stop();
  // HyperKitty's own defect (README, "Known limits") is reported, not held against the migration.
  if (serverDefects.length) console.warn(`HyperKitty defect seen (${serverDefects.length} exposures), e.g. ${serverDefects[0]}`);
  const injected = { rest: rest.injected, hyperkitty: hk.injected };
  const hint = /HTTP 429/.test(migrated.stderr) ? 'a client gave up on a 429 answer instead of waiting as Retry-After says; ' : '';
  const failure = `${hint}${why}; injected ${JSON.stringify(injected)}\n${migrated.stdout}\n${migrated.stderr.split('\n').filter((l) => !l.includes('"type":"p')).join('\n').slice(-5000)}`;
  expect(migrated.code, failure).toBe(0);
  expect(exposures, why).toEqual([]);
  expect(watcher.rounds).toBeGreaterThan(3);
  expect(rest.totalInjected() + hk.totalInjected(), why).toBeGreaterThan((rest.log.length + hk.log.length) * RATE * 0.5);
  expect(await mailman3Differences(f, run.state, run.domain, SAMPLE_LISTS), why).toEqual([]);
  console.log(`faults (Mailman 3, ${why}): ${rest.log.length} REST and ${hk.log.length} HyperKitty requests, injected ${JSON.stringify(injected)}`);
}, 600_000);
