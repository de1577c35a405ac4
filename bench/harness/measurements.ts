/**
 * Each measurement: which child to run on which input, with what time limit, and what it returned.
 * Figures stay raw here (bytes, seconds, counts); rows.ts turns them into the table.
 */
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { failureLine, runChild, type ChildOutcome } from './child.js';
import { MAIN_CLI, PROFILE_DIR, PYTHON_BASELINE, WORK_DIR, measureScript } from './paths.js';
import type { MeasurementId, Sizes } from './plan.js';

export interface MeasurementRecord {
  id: MeasurementId;
  status: 'ok' | 'failed' | 'timeout' | 'skipped';
  /** Why it was skipped or failed, in one line. */
  note?: string;
  figures: Record<string, unknown>;
  /** Figures a stopped child reported before it was stopped. */
  partial?: Record<string, unknown>;
  wallSeconds?: number;
  input?: string;
  stderrTail?: string;
}

export interface MeasureEnv {
  sizes: Sizes;
  timeoutScale: number;
  python: string | null;
  log: (line: string) => void;
}

export function skipped(id: MeasurementId, note: string): MeasurementRecord {
  return { id, status: 'skipped', note, figures: {} };
}

function fromChild(id: MeasurementId, o: ChildOutcome, input?: string): MeasurementRecord {
  const rec: MeasurementRecord = { id, status: o.status, figures: o.result ?? {}, wallSeconds: Number(o.wallSeconds.toFixed(2)), input };
  if (o.partial) rec.partial = o.partial;
  if (o.status !== 'ok') {
    rec.note = failureLine(o);
    rec.stderrTail = o.stderrTail;
  }
  return rec;
}

/** Time limit: a base plus a floor throughput of 2 MB/s for what the child reads. */
function limitMs(env: MeasureEnv, baseSeconds: number, bytes = 0): number {
  return (baseSeconds + bytes / 2e6) * 1000 * env.timeoutScale;
}

function node(script: string, args: string[], env: MeasureEnv, timeoutMs: number, execArgv: string[] = []): Promise<ChildOutcome> {
  return runChild(process.execPath, [...execArgv, measureScript(script), ...args], { timeoutMs, echoStderr: true });
}

export async function rawRead(env: MeasureEnv, file: string, bytes: number): Promise<MeasurementRecord> {
  return fromChild('raw-read', await node('raw-read.js', ['--file', file], env, limitMs(env, 120, bytes)), file);
}

export async function pythonBaseline(env: MeasureEnv, file: string, bytes: number): Promise<MeasurementRecord> {
  if (!env.python) return skipped('python', 'python3 not found on PATH: install Python 3 for the standard-library baseline');
  const o = await runChild('python3', [PYTHON_BASELINE, '--file', file], { timeoutMs: limitMs(env, 300, bytes), echoStderr: true });
  return fromChild('python', o, file);
}

export async function reader(env: MeasureEnv, file: string, bytes: number): Promise<MeasurementRecord> {
  return fromChild('reader', await node('read-mbox.js', ['--file', file], env, limitMs(env, 300, bytes)), file);
}

export async function indexMbox(env: MeasureEnv, id: 'index' | 'index-large', file: string, bytes: number): Promise<MeasurementRecord> {
  await mkdir(WORK_DIR, { recursive: true });
  const state = path.join(WORK_DIR, `${id}.sqlite`);
  return fromChild(id, await node('index-mbox.js', ['--file', file, '--state', state], env, limitMs(env, 300, bytes)), file);
}

/** The index once more under the V8 sampling profiler; returns the .cpuprofile path or null. */
export async function profileIndex(env: MeasureEnv, file: string, bytes: number, name: string): Promise<{ file: string | null; outcome: MeasurementRecord }> {
  await mkdir(PROFILE_DIR, { recursive: true });
  const profile = path.join(PROFILE_DIR, `${name}.cpuprofile`);
  await rm(profile, { force: true });
  const state = path.join(WORK_DIR, 'index-profile.sqlite');
  const o = await node('index-mbox.js', ['--file', file, '--state', state], env, limitMs(env, 300, bytes), [
    '--cpu-prof',
    '--cpu-prof-dir',
    PROFILE_DIR,
    '--cpu-prof-name',
    `${name}.cpuprofile`,
  ]);
  return { file: existsSync(profile) ? profile : null, outcome: fromChild('index', o, file) };
}

/** `mm2migrate migrate --all --dry-run` on a generated installation: cold (fresh state), then again (warm). */
export async function dryRun(env: MeasureEnv, root: string, lists: number): Promise<MeasurementRecord> {
  if (!existsSync(MAIN_CLI)) return skipped('dry-run', `${MAIN_CLI} is not built`);
  const dir = path.join(WORK_DIR, 'dry-run');
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  const config = path.join(dir, 'config.json');
  await writeFile(
    config,
    JSON.stringify(
      {
        source: { root },
        // Never contacted: a dry-run only reads the source and the state database.
        target: {
          kind: 'mailman3',
          rest: { url: 'http://127.0.0.1:9/', user: 'restadmin', passwordEnv: 'BENCH_REST_PASSWORD' },
          hyperkitty: { url: 'http://127.0.0.1:9/hyperkitty/', archiverKeyEnv: 'BENCH_ARCHIVER_KEY' },
        },
        archive: { newBaseUrl: 'https://lists.example.org' },
        state: path.join(dir, 'state.sqlite'),
        reports: path.join(dir, 'reports'),
      },
      null,
      2,
    ),
  );
  const probe = measureScript('rss-probe.js');
  const run = async (label: string): Promise<{ o: ChildOutcome; rss: number | null }> => {
    const rssFile = path.join(dir, `rss-${label}.json`);
    const o = await runChild(process.execPath, ['--import', probe, MAIN_CLI, 'migrate', '--config', config, '--all', '--dry-run', '--quiet', '--json'], {
      timeoutMs: limitMs(env, 900),
      env: { ...process.env, BENCH_RSS_FILE: rssFile, BENCH_REST_PASSWORD: 'bench', BENCH_ARCHIVER_KEY: 'bench' },
      stdoutIsDocument: true,
    });
    const rss = existsSync(rssFile) ? (JSON.parse(await readFile(rssFile, 'utf8')) as { peakRssBytes: number }).peakRssBytes : null;
    return { o, rss };
  };
  const cold = await run('cold');
  // Exit code 1 means some lists failed: the run is still timed, and the failures are reported.
  const usable = (o: ChildOutcome): boolean => o.result !== null && (o.exitCode === 0 || o.exitCode === 1) && o.status !== 'timeout';
  if (!usable(cold.o)) {
    const rec = fromChild('dry-run', { ...cold.o, status: cold.o.status === 'timeout' ? 'timeout' : 'failed' }, root);
    const reached = existsSync(path.join(dir, 'reports')) ? (await readdir(path.join(dir, 'reports'), { withFileTypes: true })).filter((d) => d.isDirectory()).length : 0;
    if (cold.o.status !== 'timeout' && cold.o.exitCode === 0 && !cold.o.result) {
      rec.note = `the CLI exited 0 without its --json summary after ${cold.o.wallSeconds.toFixed(1)} s (event loop drained: a promise that never settles?); ${reached}/${lists} lists got a report folder`;
    }
    return { ...rec, figures: { lists, listsReached: reached } };
  }
  const warm = await run('warm');
  const totals = (o: ChildOutcome): Record<string, unknown> => ((o.result?.totals as Record<string, unknown> | undefined) ?? {});
  return {
    id: 'dry-run',
    status: 'ok',
    input: root,
    wallSeconds: Number(cold.o.wallSeconds.toFixed(2)),
    figures: {
      lists,
      seconds: cold.o.wallSeconds,
      peakRssBytes: cold.rss,
      totals: totals(cold.o),
      warmSeconds: usable(warm.o) ? warm.o.wallSeconds : null,
      warmPeakRssBytes: warm.rss,
      exitCode: cold.o.exitCode,
    },
  };
}

export async function redirects(env: MeasureEnv): Promise<MeasurementRecord> {
  await mkdir(WORK_DIR, { recursive: true });
  const { redirectArticles, redirectLists } = env.sizes;
  const args = ['--articles', String(redirectArticles), '--lists', String(redirectLists), '--out', path.join(WORK_DIR, 'redirects.nginx.conf')];
  return fromChild('redirects', await node('redirects.js', args, env, limitMs(env, 600)));
}

export async function replayInstant(env: MeasureEnv, file: string): Promise<MeasurementRecord> {
  await mkdir(WORK_DIR, { recursive: true });
  const seconds = env.sizes.instantSeconds;
  const args = ['--file', file, '--work', path.join(WORK_DIR, 'replay-instant'), '--seconds', String(seconds), '--concurrency', '4'];
  // Indexing the replay mbox comes first (up to the index's own limit), then the timed replay.
  return fromChild('replay-instant', await node('replay-instant.js', args, env, limitMs(env, 420 + seconds, 1e8)), file);
}

export async function replayRateLimited(env: MeasureEnv, id: 'replay-rate-limited' | 'replay-over-budget', file: string): Promise<MeasurementRecord> {
  await mkdir(WORK_DIR, { recursive: true });
  const { limit, windowMs, seconds } = env.sizes.rate;
  const clientLimit = id === 'replay-over-budget' ? limit * 2 : limit;
  const args = [
    '--file', file,
    '--state', path.join(WORK_DIR, `${id}.sqlite`),
    '--limit', String(limit),
    '--window-ms', String(windowMs),
    '--seconds', String(seconds),
    '--client-limit', String(clientLimit),
  ];
  return fromChild(id, await node('replay-rate-limited.js', args, env, limitMs(env, 180 + seconds)), file);
}

/** Exit status of bench/measure/mailman3.ts when the Mailman 3 stack is not installed. */
const EXIT_NO_STACK = 3;

export async function mailman3(env: MeasureEnv, seed: number): Promise<MeasurementRecord> {
  const { messages, levelSeconds } = env.sizes.mailman3;
  // Its own scratch dir, not WORK_DIR: a concurrent bench run removes WORK_DIR when it ends.
  const args = ['--messages', String(messages), '--level-seconds', String(levelSeconds), '--levels', '1,2,4,8', '--seed', String(seed), '--work', path.join(tmpdir(), `mm2m-bench-mailman3-${process.pid}`)];
  // Stack start, generation and indexing, 4 timed HTTP levels, then two imports at a floor of 10 messages/s each.
  const o = await node('mailman3.js', args, env, limitMs(env, 300 + 4 * (levelSeconds + 60) + (2 * messages) / 10));
  if (o.exitCode === EXIT_NO_STACK) {
    return skipped('mailman3', `${o.stderrTail.split('\n').pop()?.trim() || 'Mailman 3 stack not installed'} (see test/stack/README.md)`);
  }
  return fromChild('mailman3', o);
}
