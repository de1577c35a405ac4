/**
 * Mailman 3 core REST client (API 3.1): basic auth, form-encoded bodies, zod-checked answers,
 * retries with backoff on 5xx, timeouts and connection errors.
 *
 * Bodies are sent form-encoded (booleans as "true"/"false", lists as repeated keys, an empty list
 * as one empty value) because that is what every Mailman 3 version accepts: JSON bodies arrived
 * in 3.2.2 and JSON booleans only in 3.3.6, while Postorius and mailmanclient have always sent forms.
 *
 * Every error names the list and the operation and never contains the password.
 */
import got, { RequestError, type Response } from 'got';
import { z } from 'zod';

export type Method = 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE';
export type FormValue = string | number | boolean | readonly string[] | null | undefined;
export type Form = Record<string, FormValue>;

export interface CoreClientOptions {
  /** REST root, e.g. http://localhost:8001 (with or without a trailing /3.1). */
  url: string;
  user: string;
  password: string;
  /** Where the password came from (the env var name), for the hint in a 401 error. */
  passwordSource?: string;
  /** Retries after the first attempt for 5xx, timeouts and connection errors (default 5). */
  retries?: number;
  /** First backoff delay; doubled per retry, at most 30 s (default 500 ms). */
  backoffMs?: number;
  /** Per-request timeout (default 60 s). */
  timeoutMs?: number;
  sleep?: (ms: number) => Promise<void>;
}

export interface CallContext {
  /** The Mailman 2 list the request is for (omitted for site-wide requests). */
  list?: string;
  /** What the request is for, in words: "create list", "subscribe alice@example.org". */
  operation: string;
}

export interface CallOptions<T> extends CallContext {
  method: Method;
  /** Path below the API root, e.g. `/lists/devtalk.example.org/config` (no /3.1 prefix). */
  path: string;
  query?: Record<string, string | number>;
  form?: Form;
  schema: z.ZodType<T>;
  /** Statuses returned to the caller as `{ ok: false }` instead of thrown (404 for a lookup, 400 for "exists"). */
  accept?: number[];
}

export type CoreResult<T> =
  | { ok: true; status: number; data: T; location?: string }
  | { ok: false; status: number; description: string };

/** A Mailman core answer the caller did not expect, or no answer at all (status 0). */
export class CoreApiError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly description: string,
    readonly list: string | undefined,
    readonly operation: string,
  ) {
    super(message);
    this.name = 'CoreApiError';
  }
}

/** `{"title": "400 Bad Request", "description": "…"}`, Mailman's error body. */
const ErrorBody = z.object({ title: z.string().optional(), description: z.string().optional() });

/** The body of 201/204 answers: nothing (a JSON body, if any, is ignored). */
export const NoContent = z.unknown().transform(() => undefined);

/** A paginated collection: `entries` is left out when it is empty. */
export function collectionOf<T extends z.ZodType>(entry: T) {
  return z.object({ start: z.number().int(), total_size: z.number().int(), entries: z.array(entry).default([]) });
}

const RETRY_CODES = new Set(['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT', 'EAI_AGAIN', 'ECONNABORTED', 'EHOSTUNREACH', 'ENETUNREACH', 'UND_ERR_SOCKET']);

/** 429 answers waited out per request before giving up. */
const MAX_429 = 20;

/** Retry-After in seconds or as an HTTP date; the fallback when absent, at most five minutes. */
function retryAfterMs(header: string | string[] | undefined, fallbackMs: number): number {
  const value = Array.isArray(header) ? header[0] : header;
  if (value) {
    const seconds = Number(value);
    if (Number.isFinite(seconds) && seconds >= 0) return Math.min(300_000, seconds * 1000);
    const at = Date.parse(value);
    if (Number.isFinite(at)) return Math.min(300_000, Math.max(0, at - Date.now()));
  }
  return Math.min(300_000, fallbackMs);
}

export class CoreClient {
  /** API root including /3.1, without a trailing slash. */
  readonly apiUrl: string;
  readonly user: string;
  private readonly password: string;
  private readonly passwordSource: string;
  private readonly authorization: string;
  private readonly retries: number;
  private readonly backoffMs: number;
  private readonly timeoutMs: number;
  private readonly sleep: (ms: number) => Promise<void>;
  /** Requests sent, by "METHOD /path-pattern" (ids and addresses folded), for reports and tests. */
  readonly counts = new Map<string, number>();

  constructor(opts: CoreClientOptions) {
    const root = opts.url.replace(/\/+$/, '').replace(/\/3\.[01]$/, '');
    this.apiUrl = `${root}/3.1`;
    this.user = opts.user;
    this.password = opts.password;
    this.passwordSource = opts.passwordSource ?? 'the configured password';
    this.authorization = `Basic ${Buffer.from(`${opts.user}:${opts.password}`).toString('base64')}`;
    this.retries = opts.retries ?? 5;
    this.backoffMs = opts.backoffMs ?? 500;
    this.timeoutMs = opts.timeoutMs ?? 60_000;
    this.sleep = opts.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
  }

  /** Sends one request (with retries) and checks the answer against `schema`. */
  async call<T>(opts: CallOptions<T>): Promise<CoreResult<T>> {
    let failures = 0;
    let throttled = 0;
    for (;;) {
      let res: Response<string> | undefined;
      let transportError: string | undefined;
      try {
        res = await this.send(opts);
      } catch (err) {
        if (!(err instanceof RequestError)) throw err;
        if (!(RETRY_CODES.has(err.code) || err.name === 'TimeoutError')) {
          throw this.error(opts, 0, `${err.code}: ${err.message}`, 'request failed');
        }
        transportError = err.name === 'TimeoutError' ? `no answer within ${this.timeoutMs / 1000} s` : err.code;
      }
      this.count(opts);
      if (res !== undefined && res.statusCode === 429 && throttled < MAX_429) {
        // A proxy or web server in front of the core may rate-limit: wait as it says, then retry.
        throttled++;
        await this.sleep(retryAfterMs(res.headers['retry-after'], this.backoffMs * 2 ** Math.min(throttled - 1, 6)));
        continue;
      }
      if (transportError !== undefined || (res !== undefined && res.statusCode >= 500)) {
        failures++;
        if (failures > this.retries) {
          const status = res?.statusCode ?? 0;
          const what = transportError ?? `HTTP ${status}: ${describe(res?.body ?? '')}`;
          throw this.error(opts, status, what, `gave up after ${failures} attempts`);
        }
        await this.sleep(Math.min(30_000, this.backoffMs * 2 ** (failures - 1)));
        continue;
      }
      const r = res!;
      if (r.statusCode === 401) {
        throw this.error(
          opts,
          401,
          'the Mailman 3 REST API refused the credentials',
          `check rest.user ("${this.user}") and ${this.passwordSource}`,
        );
      }
      const location = typeof r.headers.location === 'string' ? r.headers.location : undefined;
      if (r.statusCode >= 200 && r.statusCode < 300) {
        const body = parseJson(r.body);
        const parsed = opts.schema.safeParse(body);
        if (!parsed.success) {
          const issue = parsed.error.issues[0];
          const where = issue ? `${issue.path.join('.') || '(root)'}: ${issue.message}` : 'unexpected shape';
          throw this.error(opts, r.statusCode, `unexpected answer (${where})`);
        }
        return { ok: true, status: r.statusCode, data: parsed.data, ...(location ? { location } : {}) };
      }
      const description = describe(r.body);
      if (opts.accept?.includes(r.statusCode)) return { ok: false, status: r.statusCode, description };
      throw this.error(opts, r.statusCode, `HTTP ${r.statusCode}: ${description}`);
    }
  }

  /** call() for answers that must be 2xx. */
  async ok<T>(opts: Omit<CallOptions<T>, 'accept'>): Promise<T> {
    const r = await this.call(opts);
    if (!r.ok) throw this.error(opts, r.status, `HTTP ${r.status}: ${r.description}`);
    return r.data;
  }

  /** GET returning null on 404. */
  async find<T>(opts: Omit<CallOptions<T>, 'accept' | 'method'>): Promise<T | null> {
    const r = await this.call({ ...opts, method: 'GET', accept: [404] });
    return r.ok ? r.data : null;
  }

  /** Every entry of a paginated collection. */
  async all<T>(opts: Omit<CallOptions<T>, 'accept' | 'method' | 'schema'> & { entry: z.ZodType<T>; pageSize?: number }): Promise<T[]> {
    const count = opts.pageSize ?? 500;
    const schema = collectionOf(opts.entry);
    const out: T[] = [];
    for (let page = 1; ; page++) {
      const data = (await this.ok({ ...opts, method: 'GET', schema, query: { ...opts.query, count, page } })) as { total_size: number; entries: T[] };
      out.push(...data.entries);
      if (data.entries.length < count || out.length >= data.total_size) return out;
    }
  }

  private send(opts: CallOptions<unknown>): Promise<Response<string>> {
    const url = new URL(this.apiUrl + opts.path);
    for (const [k, v] of Object.entries(opts.query ?? {})) url.searchParams.set(k, String(v));
    const body = opts.form === undefined ? undefined : encodeForm(opts.form);
    return got(url, {
      method: opts.method,
      headers: {
        Authorization: this.authorization,
        Accept: 'application/json',
        'User-Agent': 'mm2migrate (Mailman 2 to 3 migration)',
        ...(body === undefined ? {} : { 'Content-Type': 'application/x-www-form-urlencoded; charset=utf-8' }),
      },
      ...(body === undefined ? {} : { body }),
      throwHttpErrors: false,
      followRedirect: false,
      retry: { limit: 0 },
      timeout: { request: this.timeoutMs },
      responseType: 'text',
    });
  }

  private count(opts: CallOptions<unknown>): void {
    const pattern = opts.path
      .split('/')
      .map((s) => (/^[0-9a-f]{32}$/.test(s) || s.includes('%40') || s.includes('@') ? ':id' : s))
      .join('/');
    const key = `${opts.method} ${pattern}`;
    this.counts.set(key, (this.counts.get(key) ?? 0) + 1);
  }

  private error(ctx: CallContext & { method: Method; path: string }, status: number, what: string, hint?: string): CoreApiError {
    const where = ctx.list === undefined ? '' : `${ctx.list}: `;
    const message = this.scrub(`${where}${ctx.operation}: Mailman 3 core ${ctx.method} ${this.apiUrl}${ctx.path}: ${what}${hint ? ` (${hint})` : ''}`);
    return new CoreApiError(message, status, this.scrub(what), ctx.list, ctx.operation);
  }

  /** Belt and braces: nothing the server or a library echoes may carry the password out. */
  private scrub(text: string): string {
    return this.password.length >= 3 ? text.split(this.password).join('***') : text;
  }
}

function encodeForm(form: Form): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(form)) {
    if (value === undefined) continue;
    if (value === null) params.append(key, '');
    else if (Array.isArray(value)) {
      // Mailman reads one empty value as the empty list.
      if (value.length === 0) params.append(key, '');
      for (const v of value) params.append(key, v);
    } else params.append(key, typeof value === 'boolean' ? (value ? 'true' : 'false') : String(value));
  }
  return params.toString();
}

function parseJson(text: string): unknown {
  if (text.trim() === '') return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

/** Mailman's error description, or the start of whatever else came back. */
function describe(text: string): string {
  const body = parseJson(text);
  const parsed = ErrorBody.safeParse(body);
  if (parsed.success && parsed.data.description) return parsed.data.description;
  if (parsed.success && parsed.data.title) return parsed.data.title;
  return String(typeof body === 'string' ? body : JSON.stringify(body) ?? '').replace(/<[^>]*>/g, ' ').replace(/\s+/g, ' ').trim().slice(0, 300) || '(empty answer)';
}

// --- Answer shapes (Mailman core 3.3 REST, API 3.1) ---------------------------------------------

export const VersionsSchema = z.object({ mailman_version: z.string(), python_version: z.string().optional(), api_version: z.string() });
export const DomainSchema = z.object({ mail_host: z.string() });
export const ListSchema = z.object({
  list_id: z.string(),
  fqdn_listname: z.string(),
  list_name: z.string(),
  mail_host: z.string(),
  display_name: z.string(),
  member_count: z.number().int().optional(),
});
/** GET …/config: every attribute; values are checked where they are used. */
export const ListConfigSchema = z.record(z.string(), z.unknown());
export const RoleSchema = z.enum(['member', 'owner', 'moderator', 'nonmember']);
export const MemberSchema = z.object({
  member_id: z.string(),
  email: z.string(),
  list_id: z.string(),
  role: RoleSchema,
  delivery_mode: z.string(),
  /** Absent when the member follows the list's default action. */
  moderation_action: z.string().optional(),
  /** The address's display name ('' when none). */
  display_name: z.string().optional(),
  address: z.string(),
});
export type CoreMember = z.infer<typeof MemberSchema>;
/** Only the preferences set on the member are returned; unset ones fall back to user/address/site. */
export const PreferencesSchema = z.object({
  acknowledge_posts: z.boolean().optional(),
  hide_address: z.boolean().optional(),
  delivery_mode: z.string().optional(),
  delivery_status: z.string().optional(),
  receive_list_copy: z.boolean().optional(),
  receive_own_postings: z.boolean().optional(),
  preferred_language: z.string().optional(),
});
export type CorePreferences = z.infer<typeof PreferencesSchema>;
export const AddressSchema = z.object({
  email: z.string(),
  original_email: z.string(),
  display_name: z.string().optional(),
  verified_on: z.string().nullable().optional(),
});
export const BanSchema = z.object({ email: z.string() });
export const HeaderMatchSchema = z.object({
  position: z.number().int(),
  header: z.string(),
  pattern: z.string(),
  action: z.string().optional(),
  tag: z.string().optional(),
});
export type CoreHeaderMatch = z.infer<typeof HeaderMatchSchema>;
export const UriSchema = z.object({ name: z.string(), uri: z.string() });
/** 202 answer of POST /members when a confirmation or approval step remains. */
export const PendingSchema = z.object({ token: z.string(), token_owner: z.string() });
