/**
 * Progress for long work: a single rewritten line on a terminal, plain periodic lines otherwise
 * (CI, logs), or JSON lines when asked for structured logs.
 */
export interface ProgressSink {
  update(key: string, done: number, total: number, what: string): void;
  log(level: 'info' | 'warn' | 'error', message: string, fields?: Record<string, unknown>): void;
  /** A structured event (e.g. a phase starting) for machine readers; shown only in JSON mode. */
  event(type: string, fields: Record<string, unknown>): void;
  done(): void;
}

export function createProgress(opts: { json?: boolean; quiet?: boolean; stream?: NodeJS.WriteStream; intervalMs?: number } = {}): ProgressSink {
  const stream = opts.stream ?? process.stderr;
  const tty = Boolean(stream.isTTY) && !opts.json;
  const interval = opts.intervalMs ?? (tty ? 200 : 10_000);
  const state = new Map<string, { done: number; total: number; what: string; started: number }>();
  let last = 0;
  let drawn = false;

  const line = (): string =>
    [...state.entries()]
      .map(([key, s]) => {
        const pct = s.total ? ` ${Math.floor((100 * s.done) / s.total)}%` : '';
        const secs = (Date.now() - s.started) / 1000;
        const rate = secs > 1 ? s.done / secs : 0;
        const eta = rate > 0 && s.total > s.done ? ` ETA ${fmt((s.total - s.done) / rate)}` : '';
        return `${key}: ${s.what} ${s.done}/${s.total}${pct}${rate ? ` ${rate.toFixed(1)}/s` : ''}${eta}`;
      })
      .join(' | ');

  const emit = (force: boolean): void => {
    if (opts.quiet) return;
    const t = Date.now();
    if (!force && t - last < interval) return;
    last = t;
    if (opts.json) {
      for (const [key, s] of state) stream.write(JSON.stringify({ time: new Date(t).toISOString(), type: 'progress', key, ...s }) + '\n');
    } else if (tty) {
      stream.write(`\r\x1b[K${line().slice(0, (stream.columns ?? 120) - 1)}`);
      drawn = true;
    } else if (state.size) {
      stream.write(`${new Date(t).toISOString()} ${line()}\n`);
    }
  };

  return {
    update(key, done, total, what) {
      const s = state.get(key);
      if (s && s.what === what) Object.assign(s, { done, total });
      else state.set(key, { done, total, what, started: Date.now() });
      emit(false);
      if (done >= total && total > 0 && !tty) state.delete(key);
    },
    log(level, message, fields) {
      if (opts.quiet && level === 'info') return;
      if (opts.json) stream.write(JSON.stringify({ time: new Date().toISOString(), level, message, ...fields }) + '\n');
      else {
        if (drawn) stream.write('\r\x1b[K');
        stream.write(`${level === 'info' ? '' : `${level}: `}${message}\n`);
        drawn = false;
      }
    },
    event(type, fields) {
      if (opts.json) stream.write(JSON.stringify({ time: new Date().toISOString(), type, ...fields }) + '\n');
    },
    done() {
      if (drawn) stream.write('\r\x1b[K');
      drawn = false;
      state.clear();
    },
  };
}

function fmt(s: number): string {
  if (s < 120) return `${Math.round(s)}s`;
  if (s < 7200) return `${Math.round(s / 60)}m`;
  return `${(s / 3600).toFixed(1)}h`;
}
