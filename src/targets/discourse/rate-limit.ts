import PQueue from 'p-queue';

/**
 * Client-side share of Discourse's site-wide admin API bucket (`admin_api_min`: N requests in any
 * 60 s, all admin keys together). Discourse counts in whole seconds from the moment a request
 * arrives, so the window here is a little longer than 60 s: a run stays under the limit instead
 * of bouncing off it. A 429 from the server (another client used the same bucket) pauses every
 * request until the server's Retry-After has passed.
 */
export class RateBudget {
  private readonly queue: PQueue;
  private resumeAt = 0;
  private started = 0;
  /** Requests sent (each one costs one unit of the site's admin budget). */
  sent = 0;
  /** 429 answers received. */
  throttled = 0;

  constructor(
    readonly requestsPerMinute: number,
    private readonly opts: { concurrency?: number; windowMs?: number; now?: () => number; sleep?: (ms: number) => Promise<void> } = {},
  ) {
    if (!Number.isInteger(requestsPerMinute) || requestsPerMinute < 1) throw new Error(`requestsPerMinute must be a positive whole number, got ${requestsPerMinute}`);
    this.queue = new PQueue({
      concurrency: opts.concurrency ?? 4,
      intervalCap: requestsPerMinute,
      interval: opts.windowMs ?? 61_000,
      strict: true,
    });
  }

  private now(): number {
    return this.opts.now?.() ?? Date.now();
  }

  private sleep(ms: number): Promise<void> {
    return this.opts.sleep ? this.opts.sleep(ms) : new Promise((r) => setTimeout(r, ms));
  }

  /** Runs one request inside the budget. */
  async run<T>(send: () => Promise<T>): Promise<T> {
    return this.queue.add(async () => {
      for (let wait = this.resumeAt - this.now(); wait > 0; wait = this.resumeAt - this.now()) await this.sleep(wait);
      if (this.sent === 0) this.started = this.now();
      this.sent++;
      return send();
    }) as Promise<T>;
  }

  /** The server said the bucket is empty: nobody sends until `seconds` have passed. */
  pauseFor(seconds: number): void {
    this.throttled++;
    this.resumeAt = Math.max(this.resumeAt, this.now() + Math.max(1, seconds) * 1000);
  }

  /** Share of the budget used since the first request (1 = exactly the configured rate). */
  usedShare(): number {
    const minutes = (this.now() - this.started) / 60_000;
    if (this.sent === 0) return 0;
    return this.sent / (this.requestsPerMinute * Math.max(minutes, 1 / 60));
  }
}

/** Seconds a number of requests takes at the budget, counting full windows of N requests. */
export function secondsForRequests(requests: number, requestsPerMinute: number): number {
  if (requests <= 0) return 0;
  return (requests / requestsPerMinute) * 60;
}
