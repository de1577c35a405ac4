import got, { RequestError, type Response } from 'got';
import type { z } from 'zod';
import { ErrorBodySchema, type ErrorBody } from './schemas.js';
import { RateBudget } from './rate-limit.js';

export type Method = 'GET' | 'POST' | 'PUT' | 'DELETE';
export type QueryValue = string | number | boolean | (string | number)[];

export interface ClientOptions {
  baseUrl: string;
  apiKey: string;
  apiUsername: string;
  requestsPerMinute: number;
  /** Attempts after the first for 5xx and network errors (429 waits do not count). */
  retries?: number;
  /** Per-request timeout. */
  timeoutMs?: number;
  /** Most consecutive 429 answers accepted for one request before giving up. */
  max429?: number;
  userAgent?: string;
  sleep?: (ms: number) => Promise<void>;
  now?: () => number;
  /** Rate window in ms (tests shorten it); default 61 s. */
  windowMs?: number;
}

export interface CallOptions<T> {
  method: Method;
  /** Path below the site, e.g. `/posts.json`. */
  path: string;
  query?: Record<string, QueryValue | undefined>;
  json?: Record<string, unknown>;
  form?: () => FormData;
  /** Api-Username for this request (impersonation with a global key); default the configured admin. */
  as?: string;
  schema: z.ZodType<T>;
  /** Statuses handed back to the caller instead of thrown (e.g. 404 for a lookup, 422 for "taken"). */
  accept?: number[];
}

export type ApiResult<T> =
  | { ok: true; status: number; data: T; location?: string }
  | { ok: false; status: number; error: ErrorBody; location?: string };

/** A Discourse answer the caller did not expect. The message names the request, never the key. */
export class DiscourseApiError extends Error {
  constructor(
    readonly method: Method,
    readonly path: string,
    readonly status: number,
    readonly errors: string[],
    readonly errorType?: string,
  ) {
    super(`Discourse ${method} ${path}: ${status === 0 ? 'no answer' : `HTTP ${status}`}${errors.length ? `: ${errors.join('; ').slice(0, 300)}` : ''}`);
    this.name = 'DiscourseApiError';
  }

  /** The request may have been carried out (no answer, or a server error). */
  get ambiguous(): boolean {
    return this.status === 0 || this.status >= 500;
  }
}

const NETWORK_CODES = new Set(['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT', 'ENOTFOUND', 'EAI_AGAIN', 'ECONNABORTED', 'ERR_GOT_REQUEST_ERROR', 'UND_ERR_SOCKET']);

/**
 * Discourse admin API client: Api-Key/Api-Username headers, zod-checked answers, retries on 5xx
 * and network errors with backoff, 429 honoured through Retry-After or `extras.wait_seconds`, all
 * inside one client-side rate budget. Retries of a POST stay inside Discourse's 120 s window in
 * which an identical API request is answered from memory, so a retried create does not create twice.
 */
export class DiscourseClient {
  readonly budget: RateBudget;
  readonly baseUrl: string;
  readonly apiUsername: string;
  private readonly apiKey: string;
  private readonly retries: number;
  private readonly timeoutMs: number;
  private readonly max429: number;
  private readonly userAgent: string;
  private readonly sleepFn: (ms: number) => Promise<void>;
  /** Requests by "METHOD /path-pattern", for reports and tests. */
  readonly counts = new Map<string, number>();

  constructor(opts: ClientOptions) {
    this.baseUrl = opts.baseUrl.replace(/\/+$/, '');
    this.apiKey = opts.apiKey;
    this.apiUsername = opts.apiUsername;
    this.retries = opts.retries ?? 6;
    this.timeoutMs = opts.timeoutMs ?? 60_000;
    this.max429 = opts.max429 ?? 100;
    this.userAgent = opts.userAgent ?? 'mm2migrate (Mailman 2 archive import)';
    this.sleepFn = opts.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms)));
    this.budget = new RateBudget(opts.requestsPerMinute, { now: opts.now, sleep: this.sleepFn, windowMs: opts.windowMs });
  }

  /** Sends a request and returns the parsed answer; throws DiscourseApiError for unexpected statuses. */
  async call<T>(opts: CallOptions<T>): Promise<ApiResult<T>> {
    let failures = 0;
    let throttles = 0;
    for (;;) {
      let res: Response<string> | null = null;
      let networkError: string | null = null;
      try {
        res = await this.budget.run(() => this.send(opts));
      } catch (err) {
        if (!(err instanceof RequestError) || !(NETWORK_CODES.has(err.code) || err.name === 'TimeoutError')) throw err;
        networkError = err.code;
      }
      const key = `${opts.method} ${opts.path.replace(/\/\d+(?=[/.]|$)/g, '/:id')}`;
      this.counts.set(key, (this.counts.get(key) ?? 0) + 1);

      if (res && res.statusCode === 429) {
        throttles++;
        const body = parseBody(res.body);
        const wait = retryAfterSeconds(res.headers['retry-after'], body);
        if (throttles > this.max429) throw new DiscourseApiError(opts.method, opts.path, 429, errorList(body));
        this.budget.pauseFor(wait);
        continue;
      }
      if (networkError !== null || (res && res.statusCode >= 500)) {
        failures++;
        if (failures > this.retries) {
          const status = res?.statusCode ?? 0;
          throw new DiscourseApiError(opts.method, opts.path, status, networkError ? [networkError] : errorList(parseBody(res?.body ?? '')));
        }
        // 1, 2, 4, 8, 16, 30 … seconds: six retries fit well inside the 120 s memoisation window.
        await this.sleepFn(Math.min(30_000, 1000 * 2 ** (failures - 1)));
        continue;
      }
      const r = res!;
      const location = typeof r.headers.location === 'string' ? r.headers.location : undefined;
      const body = parseBody(r.body);
      if (r.statusCode >= 200 && r.statusCode < 300) {
        const parsed = opts.schema.safeParse(body ?? {});
        if (!parsed.success) {
          const issue = parsed.error.issues[0];
          throw new DiscourseApiError(opts.method, opts.path, r.statusCode, [
            `unexpected answer: ${issue ? `${issue.path.join('.') || '(root)'}: ${issue.message}` : 'does not match the expected shape'}`,
          ]);
        }
        return { ok: true, status: r.statusCode, data: parsed.data, location };
      }
      if (opts.accept?.includes(r.statusCode)) {
        const parsedError = ErrorBodySchema.safeParse(body ?? {});
        return { ok: false, status: r.statusCode, error: parsedError.success ? parsedError.data : {}, location };
      }
      const err = ErrorBodySchema.safeParse(body ?? {});
      throw new DiscourseApiError(opts.method, opts.path, r.statusCode, errorList(body), err.success ? err.data.error_type : undefined);
    }
  }

  /** call() for answers that must succeed. */
  async ok<T>(opts: CallOptions<T>): Promise<T> {
    const r = await this.call(opts);
    if (!r.ok) throw new DiscourseApiError(opts.method, opts.path, r.status, r.error.errors ?? []);
    return r.data;
  }

  private send(opts: CallOptions<unknown>): Promise<Response<string>> {
    const url = new URL(this.baseUrl + opts.path);
    for (const [k, v] of Object.entries(opts.query ?? {})) {
      if (v === undefined) continue;
      if (Array.isArray(v)) for (const item of v) url.searchParams.append(`${k}[]`, String(item));
      else url.searchParams.set(k, String(v));
    }
    return got(url, {
      method: opts.method,
      headers: {
        'Api-Key': this.apiKey,
        'Api-Username': opts.as ?? this.apiUsername,
        'User-Agent': this.userAgent,
        Accept: 'application/json',
      },
      ...(opts.json ? { json: opts.json } : {}),
      ...(opts.form ? { body: opts.form() } : {}),
      throwHttpErrors: false,
      followRedirect: false,
      retry: { limit: 0 },
      timeout: { request: this.timeoutMs },
      responseType: 'text',
    });
  }
}

function parseBody(text: string): unknown {
  if (!text) return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return { errors: [text.replace(/\s+/g, ' ').trim().slice(0, 200)] };
  }
}

function errorList(body: unknown): string[] {
  const parsed = ErrorBodySchema.safeParse(body ?? {});
  return parsed.success ? parsed.data.errors ?? [] : [];
}

/** Retry-After (both the JSON and the per-IP text/plain 429 carry it), else extras.wait_seconds, else 10 s. */
export function retryAfterSeconds(header: string | string[] | undefined, body: unknown): number {
  const h = Array.isArray(header) ? header[0] : header;
  if (h !== undefined) {
    const n = Number(h);
    if (Number.isFinite(n) && n >= 0) return Math.ceil(n);
    const at = Date.parse(h);
    if (!Number.isNaN(at)) return Math.max(1, Math.ceil((at - Date.now()) / 1000));
  }
  const parsed = ErrorBodySchema.safeParse(body ?? {});
  const wait = parsed.success ? parsed.data.extras?.wait_seconds : undefined;
  return typeof wait === 'number' && wait >= 0 ? Math.ceil(wait) : 10;
}
