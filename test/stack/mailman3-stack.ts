/**
 * A real Mailman 3 core + HyperKitty on 127.0.0.1 for integration tests, parity runs and benchmarks.
 *
 * The processes are started by test/stack/stack.py (through start.sh) from Debian's packages, which
 * test/stack/install.sh installs. Several test files (vitest forks) may share one stack: each
 * `startMailman3Stack` call takes a lease in `<workdir>/leases/`, and the stack is stopped when the
 * last live lease is released by `stop()`. A stack left running by a crashed run is reused.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, open, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir, userInfo } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';

const STACK_DIR = dirname(fileURLToPath(import.meta.url));
const START_SH = join(STACK_DIR, 'start.sh');
const STOP_SH = join(STACK_DIR, 'stop.sh');
const STACK_PY = join(STACK_DIR, 'stack.py');
const REQUIRED_BINARIES = ['/usr/bin/python3', '/usr/bin/mailman', '/usr/lib/mailman3/bin/master'];

const StackJson = z.object({
  stackVersion: z.literal(1),
  workdir: z.string(),
  restUrl: z.string().url(),
  restUser: z.string(),
  restPassword: z.string(),
  hyperkittyUrl: z.string().url(),
  archiverKey: z.string(),
  lmtpHost: z.string(),
  lmtpPort: z.number().int(),
  pids: z.record(z.string(), z.union([z.number().int(), z.array(z.number().int())])),
  logDir: z.string(),
  mailmanCfg: z.string(),
  djangoSettings: z.string(),
  manageCommand: z.array(z.string()).min(1),
  mailmanCommand: z.array(z.string()).min(1),
  qcluster: z.boolean(),
  allRunners: z.boolean(),
  startSeconds: z.number(),
});
export type StackInfo = z.infer<typeof StackJson>;

export interface CommandResult {
  stdout: string;
  stderr: string;
  /** Exit status; null when the process was killed (timeout or signal). */
  code: number | null;
}

export interface RunOptions {
  /** Kill the command after this many milliseconds (default 10 minutes). */
  timeoutMs?: number;
  cwd?: string;
}

export interface Mailman3Stack {
  workdir: string;
  restUrl: string;
  restUser: string;
  restPassword: string;
  /** Base URL of HyperKitty's mount point, without a trailing slash (…/hyperkitty). */
  hyperkittyUrl: string;
  archiverKey: string;
  lmtpHost: string;
  lmtpPort: number;
  logDir: string;
  mailmanCfg: string;
  djangoSettings: string;
  /** argv prefix of Django management commands against this HyperKitty. */
  manageCommand: string[];
  /** argv prefix of `mailman` CLI commands against this core. */
  mailmanCommand: string[];
  /** True when an already running stack was reused instead of started. */
  reused: boolean;
  /** Seconds stack.py needed to start the processes (of the run that started them). */
  startSeconds: number;
  /** `Authorization` header value for the core's REST API. */
  restAuthorization: string;
  runMailman(args: string[], options?: RunOptions): Promise<CommandResult>;
  runManage(args: string[], options?: RunOptions): Promise<CommandResult>;
  /** Releases this handle's lease; stops the processes when no other live lease remains. */
  stop(): Promise<void>;
}

export interface StartOptions {
  /**
   * true: wipe the work dir's data before starting (fails while others hold leases);
   * false: never wipe; undefined (default): wipe only when the stack has to be (re)started anyway.
   */
  fresh?: boolean;
  /** Bound on the whole start, in milliseconds (default 240 s). */
  timeoutMs?: number;
}

export class StackNotInstalledError extends Error {}

/** `$MM3_STACK_DIR`, else one directory per user under the OS temp dir (shared by a test run's files). */
export function defaultStackDir(): string {
  return process.env.MM3_STACK_DIR ?? join(tmpdir(), `mm2migrate-mm3-stack-${userInfo().uid}`);
}

export async function startMailman3Stack(workdir?: string, options: StartOptions = {}): Promise<Mailman3Stack> {
  const missing = REQUIRED_BINARIES.filter((path) => !existsSync(path));
  if (missing.length > 0) {
    throw new StackNotInstalledError(
      `Mailman 3 stack not installed (missing ${missing.join(', ')}): run \`bash test/stack/install.sh\` as root first`,
    );
  }
  const dir = resolve(workdir ?? defaultStackDir());
  const timeoutMs = options.timeoutMs ?? 240_000;
  await mkdir(join(dir, 'leases'), { recursive: true });

  return withLock(dir, timeoutMs, async () => {
    const others = await liveLeases(dir);
    const before = await readStackJson(dir).catch(() => undefined);
    const status = before === undefined ? undefined : await run(['/usr/bin/python3', STACK_PY, 'status', dir]);
    const running = status?.code === 0;
    if (options.fresh === true && others.length > 0) {
      throw new Error(`cannot wipe ${dir}: the stack is in use by pid(s) ${others.join(', ')}`);
    }
    const wipe = options.fresh === true || (options.fresh === undefined && !running && others.length === 0);
    const started = await run(['bash', START_SH, ...(wipe ? ['--fresh'] : []), dir], { timeoutMs });
    if (started.code !== 0) {
      // stack.py cleans up after its own failures, but not when it was killed by the timeout.
      if (others.length === 0) await stopProcesses(dir).catch(() => undefined);
      throw new Error(`test/stack/start.sh ${dir} failed (status ${started.code}):\n${started.stderr.slice(-6000)}`);
    }
    const info = await readStackJson(dir);
    if (info === undefined) throw new Error(`test/stack/start.sh succeeded but ${join(dir, 'stack.json')} is missing`);
    const lease = join(dir, 'leases', `${process.pid}-${Math.random().toString(36).slice(2)}`);
    await writeFile(lease, `${process.pid}\n`);
    return makeHandle(dir, info, lease, running && before?.pids.core === info.pids.core);
  });
}

/** Stops the stack in `workdir` whoever started it (leases are discarded). */
export async function stopMailman3Stack(workdir: string = defaultStackDir()): Promise<void> {
  const dir = resolve(workdir);
  if (!existsSync(dir)) return;
  await withLock(dir, 120_000, async () => {
    await rm(join(dir, 'leases'), { recursive: true, force: true });
    await stopProcesses(dir);
  });
}

function makeHandle(dir: string, info: StackInfo, lease: string, reused: boolean): Mailman3Stack {
  let released = false;
  return {
    workdir: dir,
    restUrl: info.restUrl,
    restUser: info.restUser,
    restPassword: info.restPassword,
    hyperkittyUrl: info.hyperkittyUrl,
    archiverKey: info.archiverKey,
    lmtpHost: info.lmtpHost,
    lmtpPort: info.lmtpPort,
    logDir: info.logDir,
    mailmanCfg: info.mailmanCfg,
    djangoSettings: info.djangoSettings,
    manageCommand: info.manageCommand,
    mailmanCommand: info.mailmanCommand,
    reused,
    startSeconds: info.startSeconds,
    restAuthorization: `Basic ${Buffer.from(`${info.restUser}:${info.restPassword}`).toString('base64')}`,
    runMailman: (args, options) => run([...info.mailmanCommand, ...args], { cwd: dir, ...options }),
    runManage: (args, options) => run([...info.manageCommand, ...args], { cwd: dir, ...options }),
    async stop() {
      if (released) return;
      released = true;
      await withLock(dir, 120_000, async () => {
        await rm(lease, { force: true });
        if ((await liveLeases(dir)).length === 0) await stopProcesses(dir);
      });
    },
  };
}

async function stopProcesses(dir: string): Promise<void> {
  const stopped = await run(['bash', STOP_SH, dir], { timeoutMs: 90_000 });
  if (stopped.code !== 0) {
    throw new Error(`test/stack/stop.sh ${dir} failed (status ${stopped.code}): ${stopped.stderr.trim()}`);
  }
}

async function readStackJson(dir: string): Promise<StackInfo | undefined> {
  let text: string;
  try {
    text = await readFile(join(dir, 'stack.json'), 'utf8');
  } catch {
    return undefined;
  }
  const parsed = StackJson.safeParse(JSON.parse(text));
  if (!parsed.success) throw new Error(`${join(dir, 'stack.json')}: unexpected content: ${parsed.error.message}`);
  return parsed.data;
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Pids holding a lease, after removing the leases of processes that died without releasing. */
async function liveLeases(dir: string): Promise<number[]> {
  const leasesDir = join(dir, 'leases');
  const live: number[] = [];
  for (const name of await readdir(leasesDir).catch(() => [] as string[])) {
    const pid = Number.parseInt(name.split('-')[0] ?? '', 10);
    if (Number.isInteger(pid) && pid > 0 && pidAlive(pid)) live.push(pid);
    else await rm(join(leasesDir, name), { force: true });
  }
  return live;
}

/** Cross-process mutex (vitest forks) around lease decisions and start/stop. */
async function withLock<T>(dir: string, timeoutMs: number, body: () => Promise<T>): Promise<T> {
  const lockPath = join(dir, '.lease.lock');
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const handle = await open(lockPath, 'wx');
      await handle.writeFile(`${process.pid}\n`);
      await handle.close();
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const holder = Number.parseInt(await readFile(lockPath, 'utf8').catch(() => ''), 10);
      // A lock file without a pid is being written right now, unless it has been empty for long.
      const age = Date.now() - (await stat(lockPath).catch(() => ({ mtimeMs: Date.now() }))).mtimeMs;
      if ((Number.isInteger(holder) && !pidAlive(holder)) || (!Number.isInteger(holder) && age > 10_000)) {
        await rm(lockPath, { force: true });
        continue;
      }
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${lockPath} (held by pid ${holder})`);
      await new Promise((done) => setTimeout(done, 200));
    }
  }
  try {
    return await body();
  } finally {
    await rm(lockPath, { force: true });
  }
}

/** Environment for the Debian Python tools: a pyenv/virtualenv python first in PATH breaks them. */
function debianEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!/^(PYTHON|PYENV|VIRTUAL_ENV|DJANGO_|MAILMAN_)/.test(key)) env[key] = value;
  }
  env.PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
  env.LANG = env.LANG || 'C.UTF-8';
  return env;
}

function run(argv: string[], options: RunOptions = {}): Promise<CommandResult> {
  const [command, ...args] = argv;
  if (command === undefined) return Promise.reject(new Error('empty command'));
  return new Promise((resolvePromise, reject) => {
    const child = spawn(command, args, {
      cwd: options.cwd,
      env: debianEnv(),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 600_000);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolvePromise({
        stdout: Buffer.concat(stdout).toString('utf8'),
        stderr: Buffer.concat(stderr).toString('utf8'),
        code,
      });
    });
  });
}
