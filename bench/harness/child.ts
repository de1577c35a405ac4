/**
 * Runs one measurement in its own process and collects its one-line JSON result (see
 * bench/measure/emit.ts), so that peak RSS and any crash belong to that measurement alone.
 */
import { spawn } from 'node:child_process';

export interface ChildOutcome {
  status: 'ok' | 'failed' | 'timeout';
  /** The final result line, or null. */
  result: Record<string, unknown> | null;
  /** The last `partial` line (figures known before the child was stopped). */
  partial: Record<string, unknown> | null;
  wallSeconds: number;
  /** Last lines of stderr, for the failure note. */
  stderrTail: string;
  exitCode: number | null;
}

export interface ChildOptions {
  timeoutMs: number;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Copy the child's stderr (progress lines) to ours, indented. */
  echoStderr?: boolean;
  /** The whole stdout is one JSON document (the generator CLI pretty-prints), not JSON lines. */
  stdoutIsDocument?: boolean;
}

export function runChild(command: string, args: string[], opts: ChildOptions): Promise<ChildOutcome> {
  const started = performance.now();
  return new Promise((resolve) => {
    const child = spawn(command, args, { cwd: opts.cwd, env: opts.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    let spawnError: Error | null = null;
    child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => {
      stderr = (stderr + c).slice(-8000);
      if (opts.echoStderr) process.stderr.write(c.replace(/^(?=.)/gm, '    │ '));
    });
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGTERM');
      setTimeout(() => child.kill('SIGKILL'), 10_000).unref();
    }, opts.timeoutMs);
    child.once('error', (err) => (spawnError = err));
    child.once('close', (code) => {
      clearTimeout(timer);
      const { result, partial } = opts.stdoutIsDocument ? parseDocument(stdout) : parseLines(stdout);
      const status = timedOut ? 'timeout' : code === 0 && result ? 'ok' : 'failed';
      const tail = spawnError ? `${(spawnError as Error).message}\n${stderr}` : stderr;
      resolve({ status, result, partial, wallSeconds: (performance.now() - started) / 1000, stderrTail: tail.trim().split('\n').slice(-12).join('\n'), exitCode: code });
    });
  });
}

function parseLines(stdout: string): { result: Record<string, unknown> | null; partial: Record<string, unknown> | null } {
  let result: Record<string, unknown> | null = null;
  let partial: Record<string, unknown> | null = null;
  for (const line of stdout.split('\n')) {
    if (!line.startsWith('{')) continue;
    let obj: unknown;
    try {
      obj = JSON.parse(line);
    } catch {
      continue;
    }
    if (typeof obj !== 'object' || obj === null) continue;
    const rec = obj as Record<string, unknown>;
    if (rec.partial === true) partial = rec;
    else result = rec;
  }
  return { result, partial };
}

function parseDocument(stdout: string): { result: Record<string, unknown> | null; partial: null } {
  const start = stdout.indexOf('{');
  if (start < 0) return { result: null, partial: null };
  try {
    const obj = JSON.parse(stdout.slice(start)) as unknown;
    return { result: typeof obj === 'object' && obj !== null ? (obj as Record<string, unknown>) : null, partial: null };
  } catch {
    return { result: null, partial: null };
  }
}

/** The first line of a failure, for the table; the full tail goes to results.json. */
export function failureLine(o: ChildOutcome): string {
  if (o.status === 'timeout') return `timed out after ${o.wallSeconds.toFixed(0)} s`;
  const lines = o.stderrTail.split('\n').filter((l) => l.trim() && !/^\s+at /.test(l));
  const msg = lines.find((l) => /error/i.test(l)) ?? lines[0] ?? `exit code ${o.exitCode}`;
  return msg.trim().slice(0, 160);
}
