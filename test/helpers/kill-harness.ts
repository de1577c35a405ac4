/**
 * Helpers for kill tests: the built CLI in a child process with its `--log-json` phase events
 * followed as they arrive, a seeded campaign that SIGKILLs it shortly after chosen phases start and
 * restarts it, and the state database's integrity check. Generalises the approach of
 * test/discourse-target-kill.test.ts (which kills a bare pipeline child during the replay only).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { StateDb } from '../../src/state/db.js';
import { prng } from './prng.js';
import { ROOT } from './sample.js';


export interface PhaseEvent {
  list: string;
  phase: string;
  /** ms since the child started. */
  at: number;
}

export interface CliExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface CliChild {
  child: ChildProcess;
  started: number;
  phases: PhaseEvent[];
  /** Resolves with the first phase event matching `phase` (any list), or null when the child exits first. */
  waitForPhase(phase: string): Promise<PhaseEvent | null>;
  /** Resolves when `cond` holds (polled every few ms) or the child exited; true when it held. */
  waitUntil(cond: () => boolean): Promise<boolean>;
  exited: Promise<CliExit>;
  readonly running: boolean;
}

/** `node dist/src/cli/main.js ARGS` (dist/ is built by test/global-setup.ts). */
export function spawnCli(args: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string } = {}): CliChild {
  const started = Date.now();
  const child = spawn(process.execPath, [path.join(ROOT, 'dist/src/cli/main.js'), ...args], {
    cwd: opts.cwd ?? ROOT,
    env: { ...process.env, ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  let partial = '';
  const phases: PhaseEvent[] = [];
  const waiters = new Set<() => void>();
  let running = true;
  child.stdout!.on('data', (b: Buffer) => (stdout += b.toString()));
  child.stderr!.on('data', (b: Buffer) => {
    const text = b.toString();
    stderr += text;
    partial += text;
    let nl: number;
    while ((nl = partial.indexOf('\n')) >= 0) {
      const line = partial.slice(0, nl);
      partial = partial.slice(nl + 1);
      if (!line.startsWith('{')) continue;
      try {
        const ev = JSON.parse(line) as { type?: string; list?: string; phase?: string };
        if (ev.type === 'phase' && typeof ev.phase === 'string') phases.push({ list: String(ev.list), phase: ev.phase, at: Date.now() - started });
      } catch {
        // not a JSON line
      }
    }
    for (const w of waiters) w();
  });
  const exited = new Promise<CliExit>((resolve) =>
    child.on('close', (code, signal) => {
      running = false;
      for (const w of waiters) w();
      resolve({ code, signal, stdout, stderr });
    }),
  );
  const waitFor = <T>(check: () => T | undefined): Promise<T | null> =>
    new Promise((resolve) => {
      const tick = (): void => {
        const v = check();
        if (v !== undefined) {
          waiters.delete(tick);
          clearInterval(timer);
          resolve(v);
        } else if (!running) {
          waiters.delete(tick);
          clearInterval(timer);
          resolve(null);
        }
      };
      const timer = setInterval(tick, 3);
      waiters.add(tick);
      tick();
    });
  return {
    child,
    started,
    phases,
    waitForPhase: (phase) => waitFor(() => phases.find((p) => p.phase === phase)),
    waitUntil: async (cond) => (await waitFor(() => (cond() ? true : undefined))) === true,
    exited,
    get running() {
      return running;
    },
  };
}

export interface KillRecord {
  round: number;
  /** The phase whose start was waited for. */
  phase: string;
  /** The last phase event seen before the kill (list:phase), i.e. where the child was. */
  lastEvent: string;
  delayMs: number;
}

export interface CampaignOptions {
  /** Kills wanted. */
  kills: number;
  seed: number;
  /** Phases to aim at, round-robin (e.g. index, plan, settings, roster, archive). */
  phases: string[];
  /** Most delay after the phase event before the kill, per phase (default 0–30 ms). */
  maxDelayMs?: Partial<Record<string, number>>;
  start: () => CliChild;
  /** Called after every kill (e.g. an integrity check of the state database). */
  afterKill?: (k: KillRecord) => Promise<void>;
  /** Rounds at most, kills or not (default kills * 3). */
  maxRounds?: number;
}

export interface CampaignResult {
  kills: KillRecord[];
  /** Runs that ended by themselves before the kill (a finished migration or a failure). */
  exits: CliExit[];
}

/**
 * SIGKILLs the CLI shortly after a chosen phase starts, restarts it, and again, until `kills`
 * kills happened. A run that ends by itself first (the phase came and went, or all work was done)
 * is recorded in `exits`; one that failed is thrown at once with its output.
 */
export async function killCampaign(opts: CampaignOptions): Promise<CampaignResult> {
  const random = prng(opts.seed);
  const kills: KillRecord[] = [];
  const exits: CliExit[] = [];
  const maxRounds = opts.maxRounds ?? opts.kills * 3;
  for (let round = 0; round < maxRounds && kills.length < opts.kills; round++) {
    const phase = opts.phases[kills.length % opts.phases.length]!;
    const max = opts.maxDelayMs?.[phase] ?? 30;
    const delayMs = Math.floor(random() * (max + 1));
    const run = opts.start();
    const ev = await run.waitForPhase(phase);
    if (ev && delayMs > 0) await new Promise((r) => setTimeout(r, delayMs));
    if (!run.running || !ev) {
      const r = await run.exited;
      if (r.code !== 0 && r.code !== 1) throw new Error(`round ${round}: the run ended with ${r.code ?? r.signal} before the kill:\n${r.stderr.slice(-3000)}`);
      exits.push(r);
      continue;
    }
    run.child.kill('SIGKILL');
    const r = await run.exited;
    const last = run.phases[run.phases.length - 1];
    if (r.signal !== 'SIGKILL') {
      // It finished in the moment between the check and the kill.
      exits.push(r);
      continue;
    }
    const k: KillRecord = { round, phase, lastEvent: last ? `${last.list}:${last.phase}` : '(none)', delayMs };
    kills.push(k);
    await opts.afterKill?.(k);
  }
  return { kills, exits };
}

/** `PRAGMA integrity_check` and `foreign_key_check` of a state database: ['ok'] when sound. */
export async function integrityCheck(stateFile: string): Promise<string[]> {
  const db = await StateDb.open(stateFile);
  try {
    const rows = await db.all<{ integrity_check: string }>('PRAGMA integrity_check');
    const fk = await db.all<Record<string, unknown>>('PRAGMA foreign_key_check');
    return [...rows.map((r) => r.integrity_check), ...fk.map((r) => `foreign key: ${JSON.stringify(r)}`)];
  } finally {
    await db.close();
  }
}
