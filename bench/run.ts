/**
 * `npm run bench`: generates the inputs (bench/generate, cached in bench/data/), runs every
 * measurement in its own child process, prints a table with the goals and writes bench/results.json.
 * See bench/README.md for what each figure means.
 */
import { rm, writeFile } from 'node:fs/promises';
import { ensureInstallation, ensureMbox, freeBytes, type Prepared } from './harness/data.js';
import { machineInfo, type MachineInfo } from './harness/machine.js';
import * as m from './harness/measurements.js';
import { DATA_DIR, REPO_ROOT, RESULTS_FILE, WORK_DIR } from './harness/paths.js';
import { FULL, QUICK, USAGE, parseOptions, type MeasurementId, type Options } from './harness/plan.js';
import { renderProfile, summariseProfile, type ProfileSummary } from './harness/profile.js';
import { buildRows } from './harness/rows.js';
import { renderTable } from './harness/table.js';

const log = (line: string): void => void process.stderr.write(`${line}\n`);

async function main(): Promise<number> {
  let opts: Options;
  try {
    opts = parseOptions(process.argv.slice(2));
  } catch (err) {
    log(`bench: ${(err as Error).message}`);
    return 2;
  }
  if (opts.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const sizes = opts.quick ? QUICK : FULL;
  const machine: MachineInfo = machineInfo(REPO_ROOT);
  const want = (id: MeasurementId): boolean => opts.only.has(id);
  const started = Date.now();

  log(`mm2migrate bench (${opts.quick ? 'quick' : 'full'} run, seed ${opts.seed}) on ${machine.cpuModel}, ${machine.cores} cores, ${(machine.totalMemoryBytes / 2 ** 30).toFixed(0)} GiB, node ${machine.node}, python ${machine.python ?? 'absent'}`);
  log(`load average at start: ${machine.loadAverage.join(' ')}${machine.loadAverage[0]! > machine.cores / 2 ? '  (busy machine: figures will be low and noisy)' : ''}`);
  if (!machine.python) log('python3 not found: the standard-library baseline is skipped (install python3 to get the ratio, e.g. apt-get install python3).');
  log(`free disk in ${DATA_DIR}: ${((await freeBytes(REPO_ROOT)) / 1e9).toFixed(1)} GB`);

  const env: m.MeasureEnv = { sizes, timeoutScale: opts.timeoutScale, python: machine.python, log };
  const records = new Map<MeasurementId, m.MeasurementRecord>();
  const done = (r: m.MeasurementRecord): void => {
    records.set(r.id, r);
    const what = r.status === 'ok' ? `ok in ${r.wallSeconds?.toFixed(1) ?? '?'} s` : `${r.status}: ${r.note ?? ''}`;
    log(`  ${r.id}: ${what}`);
  };

  const needSmall = (['raw-read', 'python', 'reader', 'index'] as const).some(want);
  const needReplay = (['replay-instant', 'replay-rate-limited', 'replay-over-budget'] as const).some(want);
  const small: Prepared | null = needSmall ? await ensureMbox(opts.seed, sizes.small, log) : null;
  const replayInput: Prepared | null = needReplay ? await ensureMbox(opts.seed, sizes.replay, log) : null;
  const large: Prepared | null = want('index-large') ? await ensureMbox(opts.seed + 1, sizes.large, log) : null;
  const install: Prepared | null = want('dry-run') ? await ensureInstallation(opts.seed, sizes.lists, log) : null;
  const noData = (p: Prepared | null): string => (p && !p.ok ? p.reason : 'no input');

  const onInput = async (id: MeasurementId, input: Prepared | null, f: (file: string, bytes: number) => Promise<m.MeasurementRecord>): Promise<void> => {
    if (!want(id)) return;
    log(`▶ ${id}`);
    done(input?.ok ? await f(input.path, input.entry.bytes) : m.skipped(id, noData(input)));
  };
  const onSmall = (id: MeasurementId, f: (file: string, bytes: number) => Promise<m.MeasurementRecord>): Promise<void> => onInput(id, small, f);

  // Raw read first: it also brings the file into the page cache for every reader after it.
  await onSmall('raw-read', (f, b) => m.rawRead(env, f, b));
  await onSmall('python', (f, b) => m.pythonBaseline(env, f, b));
  await onSmall('reader', (f, b) => m.reader(env, f, b));
  await onSmall('index', (f, b) => m.indexMbox(env, 'index', f, b));

  let profile: ProfileSummary | null = null;
  if (opts.profile && small?.ok) {
    log('▶ index under --cpu-prof');
    const p = await m.profileIndex(env, small.path, small.entry.bytes, `index-${opts.quick ? 'quick' : 'full'}`);
    const f = { ...p.outcome.partial, ...p.outcome.figures };
    const phases =
      typeof f.startUs === 'number' && typeof f.loopEndUs === 'number'
        ? [
            { name: 'read loop (split, parse, insert)', fromUs: f.startUs, toUs: f.loopEndUs },
            { name: 'after the loop (duplicate marking, checksum)', fromUs: f.loopEndUs, toUs: typeof f.endUs === 'number' ? f.endUs : Number.MAX_SAFE_INTEGER },
          ]
        : [];
    if (p.file) profile = await summariseProfile(p.file, 15, phases);
    else log(`  no profile written (${p.outcome.note ?? p.outcome.status})`);
  }

  if (want('index-large')) {
    log('▶ index-large');
    const ix = records.get('index');
    if (ix && ix.status !== 'ok') done(m.skipped('index-large', `the ${sizes.small / 1e6} MB index did not finish (${ix.status})`));
    else done(large?.ok ? await m.indexMbox(env, 'index-large', large.path, large.entry.bytes) : m.skipped('index-large', noData(large)));
  }
  if (want('dry-run')) {
    log('▶ dry-run');
    done(install?.ok ? await m.dryRun(env, install.path, sizes.lists) : m.skipped('dry-run', noData(install)));
  }
  if (want('redirects')) {
    log('▶ redirects');
    done(await m.redirects(env));
  }
  await onInput('replay-instant', replayInput, (f) => m.replayInstant(env, f));
  await onInput('replay-rate-limited', replayInput, (f) => m.replayRateLimited(env, 'replay-rate-limited', f));
  await onInput('replay-over-budget', replayInput, (f) => m.replayRateLimited(env, 'replay-over-budget', f));
  if (want('mailman3')) {
    log('▶ mailman3');
    done(await m.mailman3(env, opts.seed));
  }
  await rm(WORK_DIR, { recursive: true, force: true });

  const { rows, goals } = buildRows(records, sizes, opts.quick);
  process.stdout.write(`\n${renderTable(rows)}\n`);
  if (profile) process.stdout.write(`\n${renderProfile(profile)}\n`);
  process.stdout.write(
    `\nMachine: ${machine.cpuModel}, ${machine.cores} cores, ${(machine.totalMemoryBytes / 2 ** 30).toFixed(0)} GiB, ${machine.os}; node ${machine.node}, python ${machine.python ?? 'absent'}; load ${machine.loadAverage.join(' ')}\n`,
  );

  const inputs = {
    small: small?.ok ? { path: small.path, ...small.entry, reused: small.reused } : small,
    large: large?.ok ? { path: large.path, ...large.entry, reused: large.reused } : large,
    replay: replayInput?.ok ? { path: replayInput.path, ...replayInput.entry, reused: replayInput.reused } : replayInput,
    installation: install?.ok ? { path: install.path, ...install.entry, reused: install.reused } : install,
  };
  const results = {
    generatedAt: new Date().toISOString(),
    mode: opts.quick ? 'quick' : 'full',
    seed: opts.seed,
    totalSeconds: Math.round((Date.now() - started) / 1000),
    machine,
    sizes,
    inputs,
    goals,
    table: rows,
    measurements: Object.fromEntries(records),
    profile,
  };
  await writeFile(RESULTS_FILE, `${JSON.stringify(results, null, 2)}\n`);
  process.stdout.write(`Results: ${RESULTS_FILE}\n`);
  return [...records.values()].some((r) => r.status === 'failed' || r.status === 'timeout') ? 1 : 0;
}

main().then(
  (code) => (process.exitCode = code),
  (err: unknown) => {
    log(`bench: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    process.exitCode = 1;
  },
);
