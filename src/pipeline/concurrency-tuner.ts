/**
 * How many requests to keep in flight against a server whose capacity is not known in advance: a
 * fixed number, or a tuner that finds the number at which the server saturates and keeps it there.
 *
 * The tuner measures completed requests per second over windows that are counted in completions
 * (not in seconds), so a window always holds enough answers to compare, whatever the server's speed.
 * Windows tile the time axis (each starts where the previous ended), so answers that arrive in bursts
 * are never counted twice or lost at a boundary. After a change of level the first window waits until
 * every request started at the old level has come back, so a window only sees the new level.
 *
 * Rule: double the level while the rate rises by at least `gain` (if the first doubling does not pay,
 * try halving); when it stops rising, go back to the last level that paid, then bisect between it
 * and the level below for the smallest one whose rate is within `tolerance` of the best (more in
 * flight at the same rate only adds latency: in a closed loop, latency = in flight / rate). Then
 * hold, and now and then probe one step up or down against the mean rate of the last windows held;
 * a neighbour must be faster by `gain` over two windows to win (on a plateau the level stays, so
 * noise cannot walk it down below the knee), and a win starts the exploration again from there.
 * Probes get rarer while they fail and frequent again when the held rate drifts by a quarter.
 * A request that needed a retry (5xx, 429, timeout) is overload: an up-probe or a climb goes back
 * to the level it came from, otherwise the level is halved; the level that failed is not tried
 * again for `overloadMemory` windows. Overloads of requests sent before the back-off, or while
 * those are still out, are not acted on twice.
 */

/** What a finished request tells the limiter: `overload` when the server had to be asked again. */
export type RequestResult = 'ok' | 'overload';

/** Taken when a request starts, given back when it ends. */
export interface Ticket {
  readonly epoch: number;
  /** The limit when the request started. */
  readonly level: number;
  readonly startedAt: number;
}

export interface ConcurrencyLimit {
  /** Requests that may be in flight now. */
  readonly limit: number;
  begin(): Ticket;
  end(ticket: Ticket, result: RequestResult): void;
}

/** Why the tuner went to a level. */
export type StepReason = 'start' | 'climb' | 'refine' | 'down' | 'settle' | 'probe' | 'return' | 'overload';

/** One visit of the tuner to a level, with what it measured there (after the warm-up). */
export interface ConcurrencyStep {
  /** 1-based number of the visit (the trace keeps the first and last visits of a long run). */
  step: number;
  concurrency: number;
  reason: StepReason;
  /** Completions counted in measuring windows at this visit. */
  completions: number;
  /** Completions per second over those windows; null when no window was completed. */
  perSecond: number | null;
  /** Mean time from start to answer of the requests counted, in ms. */
  latencyMs: number | null;
}

export interface ConcurrencyReport {
  /** The level at which most requests were completed. */
  settled: number;
  steps: ConcurrencyStep[];
  /** Visits left out of `steps` (the middle of a long run). */
  omittedSteps: number;
  overloads: number;
}

export interface ConcurrencyTunerOptions {
  /** Level at the start (default 2, clamped to min..max). */
  initial?: number;
  min?: number;
  max?: number;
  /** Rise of the rate that counts as rising (default 0.10 = 10 %). */
  gain?: number;
  /** A smaller level is kept when its rate is at least (1 - tolerance) × the best (default 0.05). */
  tolerance?: number;
  /** Completions per window: max(windowMin, windowPerLevel × level). */
  windowMin?: number;
  windowPerLevel?: number;
  /** Windows held before the first probe; doubles up to `probeIntervalMax` while probes fail. */
  probeInterval?: number;
  probeIntervalMax?: number;
  /** Windows during which a level that overloaded the server is not tried again. */
  overloadMemory?: number;
  /** Milliseconds, monotonic (default performance.now). */
  now?: () => number;
}

export const AUTO_CONCURRENCY_MAX = 16;
const KEEP_STEPS = 24;
/** Relative change of the held rate that makes the tuner look around again. */
const DRIFT = 0.25;
/** Windows averaged for the rate of the held level, and measured at a neighbour before moving there. */
const HOLD_REF_WINDOWS = 4;
const PROBE_WINDOWS = 2;

type Phase =
  | { kind: 'climb'; prev: { level: number; rate: number } | null; lower: number | null }
  | { kind: 'down'; best: { level: number; rate: number } }
  | { kind: 'refine'; lo: number; hi: number; hiRate: number }
  | { kind: 'hold'; recent: number[]; windows: number; interval: number; up: boolean; anchor: number | null }
  | { kind: 'probe'; home: number; ref: number; rates: number[]; interval: number; up: boolean; anchor: number | null };

/** A limit that never changes: the configured number of requests in flight. */
export class FixedConcurrency implements ConcurrencyLimit {
  constructor(readonly limit: number) {}
  begin(): Ticket {
    return { epoch: 0, level: this.limit, startedAt: 0 };
  }
  end(_ticket: Ticket, _result: RequestResult): void {}
  report(): ConcurrencyReport {
    return { settled: this.limit, steps: [], omittedSteps: 0, overloads: 0 };
  }
}

export class ConcurrencyTuner implements ConcurrencyLimit {
  private level: number;
  private epoch = 0;
  private readonly running = new Map<number, number>();
  /** Set while requests of an earlier level are still out; counts completions of the current level. */
  private warmup: { current: number } | null = { current: 0 };
  private window: { start: number; completions: number; latency: number } | null = null;
  private phase: Phase;
  private windows = 0;
  private ceiling: { level: number; until: number } | null = null;
  /** The epoch of the last back-off (-1: none yet). */
  private backoffEpoch = -1;
  private overloads = 0;
  private readonly completedAt = new Map<number, number>();
  private readonly head: ConcurrencyStep[] = [];
  private readonly tail: ConcurrencyStep[] = [];
  private visits = 0;
  private current!: ConcurrencyStep & { seconds: number; latencySum: number };

  private readonly min: number;
  private readonly max: number;
  private readonly gain: number;
  private readonly tolerance: number;
  private readonly windowMin: number;
  private readonly windowPerLevel: number;
  private readonly probeInterval: number;
  private readonly probeIntervalMax: number;
  private readonly overloadMemory: number;
  private readonly now: () => number;

  constructor(opts: ConcurrencyTunerOptions = {}) {
    this.min = Math.max(1, Math.floor(opts.min ?? 1));
    this.max = Math.max(this.min, Math.floor(opts.max ?? AUTO_CONCURRENCY_MAX));
    this.gain = opts.gain ?? 0.1;
    this.tolerance = opts.tolerance ?? 0.05;
    this.windowMin = opts.windowMin ?? 20;
    this.windowPerLevel = opts.windowPerLevel ?? 4;
    this.probeInterval = opts.probeInterval ?? 4;
    this.probeIntervalMax = opts.probeIntervalMax ?? 16;
    this.overloadMemory = opts.overloadMemory ?? 32;
    this.now = opts.now ?? (() => performance.now());
    this.level = clamp(Math.floor(opts.initial ?? 2), this.min, this.max);
    this.phase = this.level < this.max ? { kind: 'climb', prev: null, lower: null } : this.holdPhase(this.probeInterval, false);
    this.openStep('start');
  }

  get limit(): number {
    return this.level;
  }

  begin(): Ticket {
    this.running.set(this.epoch, (this.running.get(this.epoch) ?? 0) + 1);
    return { epoch: this.epoch, level: this.level, startedAt: this.now() };
  }

  end(ticket: Ticket, result: RequestResult): void {
    const left = (this.running.get(ticket.epoch) ?? 1) - 1;
    if (left > 0) this.running.set(ticket.epoch, left);
    else this.running.delete(ticket.epoch);
    this.completedAt.set(this.level, (this.completedAt.get(this.level) ?? 0) + 1);
    const now = this.now();

    if (result === 'overload') {
      this.overloads++;
      // Requests sent before the last back-off, and any refused while those are still out, tell
      // of the congestion already acted on: halving again for them would overshoot downwards.
      const stale = ticket.epoch < this.backoffEpoch || (this.warmup !== null && this.epoch === this.backoffEpoch);
      if (!stale && ticket.level > this.level) {
        // Sent at a higher level the tuner has already left: only that level is remembered as too high.
        this.remember(ticket.level);
      } else if (!stale) {
        this.backOff();
        return;
      }
    }
    if (this.warmup) {
      if (ticket.epoch === this.epoch) this.warmup.current++;
      if (this.startedEarlier() === 0 || this.warmup.current >= this.level) {
        this.warmup = null;
        this.window = { start: now, completions: 0, latency: 0 };
      }
      return;
    }
    const w = this.window!;
    w.completions++;
    w.latency += now - ticket.startedAt;
    if (w.completions < this.windowSize() || now <= w.start) return;
    const seconds = (now - w.start) / 1000;
    const rate = w.completions / seconds;
    this.current.completions += w.completions;
    this.current.seconds += seconds;
    this.current.latencySum += w.latency;
    this.windows++;
    this.window = { start: now, completions: 0, latency: 0 };
    this.decide(rate);
  }

  /** The level held longest and a short trace of the levels tried. */
  report(): ConcurrencyReport {
    let settled = this.level;
    let most = -1;
    for (const [level, n] of this.completedAt) {
      if (n > most || (n === most && level < settled)) [settled, most] = [level, n];
    }
    this.closeStep();
    const steps = [...this.head, ...this.tail].map((s) => ({ ...s }));
    return { settled, steps, omittedSteps: this.visits - steps.length, overloads: this.overloads };
  }

  private decide(rate: number): void {
    const p = this.phase;
    switch (p.kind) {
      case 'climb': {
        if (p.prev === null || rate >= p.prev.rate * (1 + this.gain)) {
          const up = Math.min(this.cap(), this.level * 2);
          if (up > this.level) {
            this.phase = { kind: 'climb', prev: { level: this.level, rate }, lower: p.prev?.level ?? null };
            this.setLevel(up, 'climb');
          } else {
            this.settle(this.level);
          }
          return;
        }
        // No meaningful rise from prev to here: prev is the candidate.
        const best = p.prev;
        if (p.lower === null && best.level > this.min) {
          // The first step up did not pay: the start may already be past the knee.
          this.phase = { kind: 'down', best };
          this.setLevel(Math.max(this.min, Math.floor(best.level / 2)), 'down');
        } else {
          this.refineOrSettle(p.lower ?? best.level, best.level, best.rate);
        }
        return;
      }
      case 'down': {
        if (rate >= p.best.rate * (1 - this.tolerance)) {
          const best = { level: this.level, rate: Math.max(rate, p.best.rate) };
          if (this.level > this.min) {
            this.phase = { kind: 'down', best };
            this.setLevel(Math.max(this.min, Math.floor(this.level / 2)), 'down');
          } else {
            this.settle(this.level);
          }
        } else {
          this.refineOrSettle(this.level, p.best.level, p.best.rate);
        }
        return;
      }
      case 'refine': {
        const m = this.level;
        if (rate >= p.hiRate * (1 - this.tolerance)) this.refineOrSettle(p.lo, m, Math.max(p.hiRate, rate));
        else this.refineOrSettle(m, p.hi, p.hiRate);
        return;
      }
      case 'hold': {
        p.recent.push(rate);
        if (p.recent.length > HOLD_REF_WINDOWS) p.recent.shift();
        p.windows++;
        const ref = mean(p.recent);
        if (p.anchor === null) p.anchor = ref;
        if (p.recent.length >= 2 && Math.abs(ref / p.anchor - 1) > DRIFT) {
          // The server's speed changed (load, other clients, heavier messages): look around soon.
          p.anchor = ref;
          p.interval = this.probeInterval;
          p.windows = Math.max(p.windows, this.probeInterval);
        }
        if (p.recent.length < 2 || p.windows < p.interval) return;
        const target = this.neighbour(p.up);
        const other = this.neighbour(!p.up);
        const chosen = target !== this.level ? { target, up: p.up } : other !== this.level ? { target: other, up: !p.up } : null;
        if (!chosen) {
          p.windows = 0;
          return;
        }
        this.phase = { kind: 'probe', home: this.level, ref, rates: [], interval: p.interval, up: chosen.up, anchor: p.anchor };
        this.setLevel(chosen.target, 'probe');
        return;
      }
      case 'probe': {
        // Both ways the neighbour must be clearly faster: on a plateau the level stays where it is,
        // so noise cannot walk it down below the knee, where every step down costs throughput.
        p.rates.push(rate);
        const measured = mean(p.rates);
        if (measured >= p.ref * (1 + this.gain)) {
          if (p.rates.length < PROBE_WINDOWS) return;
          // The server changed: explore again from here, the same way, as at the start.
          if (p.up) {
            const up = Math.min(this.cap(), this.level * 2);
            if (up > this.level) {
              this.phase = { kind: 'climb', prev: { level: this.level, rate: measured }, lower: p.home };
              this.setLevel(up, 'climb');
            } else {
              this.settle(this.level);
            }
          } else if (this.level > this.min) {
            this.phase = { kind: 'down', best: { level: this.level, rate: measured } };
            this.setLevel(Math.max(this.min, Math.floor(this.level / 2)), 'down');
          } else {
            this.settle(this.level);
          }
        } else {
          this.phase = { kind: 'hold', recent: [], windows: 0, interval: Math.min(this.probeIntervalMax, p.interval * 2), up: !p.up, anchor: p.anchor };
          this.setLevel(p.home, 'return');
        }
        return;
      }
    }
  }

  /** Bisects between a level known to be too slow (lo) and one known to be fast enough (hi). */
  private refineOrSettle(lo: number, hi: number, hiRate: number): void {
    if (hi - lo <= 1) {
      this.settle(hi);
      return;
    }
    this.phase = { kind: 'refine', lo, hi, hiRate };
    this.setLevel(Math.floor((lo + hi) / 2), 'refine');
  }

  private settle(level: number): void {
    this.phase = this.holdPhase(this.probeInterval, true);
    this.setLevel(level, 'settle');
  }

  private holdPhase(interval: number, up: boolean): Phase {
    return { kind: 'hold', recent: [], windows: 0, interval, up, anchor: null };
  }

  private backOff(): void {
    const p = this.phase;
    const failed = this.level;
    this.remember(failed);
    let to: number;
    if (p.kind === 'probe' && p.up) to = p.home;
    else if (p.kind === 'climb' && p.prev) to = p.prev.level;
    else to = Math.max(this.min, Math.floor(failed / 2));
    this.phase = this.holdPhase(this.probeInterval, false);
    this.setLevel(to, 'overload');
    this.backoffEpoch = this.epoch;
  }

  /** Levels from `failed` up are not tried for a while. */
  private remember(failed: number): void {
    const current = this.ceiling && this.windows < this.ceiling.until ? this.ceiling.level : Infinity;
    const level = Math.max(this.min, Math.min(failed - 1, current));
    this.ceiling = { level, until: this.windows + this.overloadMemory };
  }

  private neighbour(up: boolean): number {
    const step = Math.max(1, Math.round(this.level / 4));
    return up ? Math.min(this.cap(), this.level + step) : Math.max(this.min, this.level - step);
  }

  private cap(): number {
    if (this.ceiling && this.windows >= this.ceiling.until) this.ceiling = null;
    return this.ceiling ? Math.min(this.max, Math.max(this.ceiling.level, this.min)) : this.max;
  }

  private windowSize(): number {
    return Math.max(this.windowMin, this.windowPerLevel * this.level);
  }

  private startedEarlier(): number {
    let n = 0;
    for (const [epoch, count] of this.running) if (epoch < this.epoch) n += count;
    return n;
  }

  /**
   * A new level starts a new epoch and a warm-up; so does an overload, even at the same level, so
   * that the answers of requests sent before it are not taken as a new overload.
   */
  private setLevel(level: number, reason: StepReason): void {
    this.closeStep();
    if (level !== this.level || reason === 'overload') {
      this.level = level;
      this.epoch++;
      this.window = null;
      this.warmup = { current: 0 };
      if (this.startedEarlier() === 0) {
        this.warmup = null;
        this.window = { start: this.now(), completions: 0, latency: 0 };
      }
    }
    this.openStep(reason);
  }

  private openStep(reason: StepReason): void {
    this.visits++;
    this.current = { step: this.visits, concurrency: this.level, reason, completions: 0, perSecond: null, latencyMs: null, seconds: 0, latencySum: 0 };
  }

  private closeStep(): void {
    const c = this.current;
    const step: ConcurrencyStep = {
      step: c.step,
      concurrency: c.concurrency,
      reason: c.reason,
      completions: c.completions,
      perSecond: c.seconds > 0 ? round2(c.completions / c.seconds) : null,
      latencyMs: c.completions > 0 ? round2(c.latencySum / c.completions) : null,
    };
    if (this.head.length < KEEP_STEPS || this.head[this.head.length - 1]!.step === c.step) {
      this.replaceOrPush(this.head, step);
      return;
    }
    this.replaceOrPush(this.tail, step);
    if (this.tail.length > KEEP_STEPS) this.tail.shift();
  }

  private replaceOrPush(list: ConcurrencyStep[], step: ConcurrencyStep): void {
    if (list.length && list[list.length - 1]!.step === step.step) list[list.length - 1] = step;
    else list.push(step);
  }
}

/**
 * Runs `task(0..count-1)` in order of index, at most `limit()` at a time; the limit is read again
 * whenever a task ends, so it may change while the pool runs (extra workers leave after their task,
 * missing ones are started). No task starts once `stopped()` is true or a task has thrown; the
 * first error is rethrown after the running tasks have ended.
 */
export async function runPool(count: number, limit: () => number, task: (index: number) => Promise<void>, stopped: () => boolean = () => false): Promise<void> {
  let next = 0;
  let active = 0;
  let failure: { error: unknown } | null = null;
  const running = new Set<Promise<void>>();
  const idle = (): boolean => failure !== null || stopped() || next >= count;

  const worker = async (): Promise<void> => {
    try {
      while (!idle() && active <= Math.max(1, limit())) {
        const i = next++;
        try {
          await task(i);
        } catch (error) {
          failure ??= { error };
          return;
        }
        spawn();
      }
    } finally {
      active--;
    }
  };
  const spawn = (): void => {
    while (!idle() && active < Math.max(1, limit())) {
      active++;
      const p: Promise<void> = worker().finally(() => running.delete(p));
      running.add(p);
    }
  };

  spawn();
  while (running.size) await Promise.all(running);
  if (failure) throw (failure as { error: unknown }).error;
}

function clamp(n: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, n));
}

function mean(values: number[]): number {
  return values.reduce((a, b) => a + b, 0) / values.length;
}

function round2(n: number): number {
  return Math.round(n * 100) / 100;
}
