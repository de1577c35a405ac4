/**
 * Checks that every redirect lands somewhere real: each new URL is fetched (GET, following up to five redirects,
 * a few requests at a time, each with a time limit) and must end in 200. A URL shared by many old URLs (period
 * pages all landing on one month view) is fetched once.
 */
import http from 'node:http';
import https from 'node:https';
import { encodePathForUrl } from './keys.js';
import type { RedirectEntry } from './types.js';

export interface VerifyRedirectsOptions {
  /** Requests in flight at once. */
  concurrency: number;
  /** Time limit of each request (one hop). */
  timeoutMs: number;
  /**
   * Send the requests here instead (e.g. a staging server): the scheme, host and port of every new URL, and of
   * any redirect back to that same origin, are replaced by this origin. Its path must be empty or "/".
   */
  baseUrlOverride?: string;
  /** Redirects followed at most; default 5. */
  maxRedirects?: number;
  signal?: AbortSignal;
  onProgress?: (done: number, total: number) => void;
}

export interface RedirectCheckFailure {
  /** Scheme-relative old URL, `//host/path` (the old scheme is not recorded). */
  oldUrl: string;
  newUrl: string;
  /** Last HTTP status seen, null when no answer came. */
  status: number | null;
  reason: string;
}

export interface VerifyRedirectsResult {
  /** Redirect entries checked. */
  checked: number;
  ok: number;
  failed: RedirectCheckFailure[];
  /** Distinct new URLs fetched. */
  requests: number;
}

interface Outcome {
  status: number | null;
  reason: string | null;
}

const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);

export async function verifyRedirects(entries: RedirectEntry[], opts: VerifyRedirectsOptions): Promise<VerifyRedirectsResult> {
  const concurrency = Math.max(1, Math.floor(opts.concurrency));
  const maxRedirects = opts.maxRedirects ?? 5;
  const override = opts.baseUrlOverride === undefined ? null : overrideOrigin(opts.baseUrlOverride);

  const urls = [...new Set(entries.map((e) => e.newUrl))];
  const outcomes = new Map<string, Outcome>();
  const agents = { http: new http.Agent({ keepAlive: true, maxSockets: concurrency }), https: new https.Agent({ keepAlive: true, maxSockets: concurrency }) };
  let next = 0;
  let done = 0;
  const worker = async (): Promise<void> => {
    while (next < urls.length) {
      const url = urls[next++]!;
      if (opts.signal?.aborted) {
        outcomes.set(url, { status: null, reason: 'not checked: stopped' });
        continue;
      }
      outcomes.set(url, await follow(url, { maxRedirects, timeoutMs: opts.timeoutMs, override, agents, signal: opts.signal }));
      opts.onProgress?.(++done, urls.length);
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.min(concurrency, Math.max(1, urls.length)) }, worker));
  } finally {
    agents.http.destroy();
    agents.https.destroy();
  }

  const failed: RedirectCheckFailure[] = [];
  for (const e of entries) {
    const o = outcomes.get(e.newUrl)!;
    if (o.reason !== null) failed.push({ oldUrl: `//${e.host}${encodePathForUrl(e.oldPath)}`, newUrl: e.newUrl, status: o.status, reason: o.reason });
  }
  return { checked: entries.length, ok: entries.length - failed.length, failed, requests: urls.length };
}

function overrideOrigin(base: string): URL {
  let u: URL;
  try {
    u = new URL(base);
  } catch {
    throw new Error(`baseUrlOverride "${base}" is not an absolute URL`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error(`baseUrlOverride "${base}" is not http(s)`);
  if (u.pathname !== '/' || u.search || u.hash) throw new Error(`baseUrlOverride "${base}" may only give scheme, host and port`);
  return u;
}

interface FollowOptions {
  maxRedirects: number;
  timeoutMs: number;
  override: URL | null;
  agents: { http: http.Agent; https: https.Agent };
  signal?: AbortSignal;
}

async function follow(newUrl: string, o: FollowOptions): Promise<Outcome> {
  let url: URL;
  try {
    url = new URL(newUrl);
  } catch {
    return { status: null, reason: 'the new URL is not a valid absolute URL' };
  }
  const replacedOrigin = url.origin;
  const send = (u: URL): URL => {
    if (!o.override || u.origin !== replacedOrigin) return u;
    const r = new URL(u.href);
    r.protocol = o.override.protocol;
    r.host = o.override.host;
    return r;
  };
  let status: number | null = null;
  for (let hop = 0; ; hop++) {
    const target = send(url);
    let answer: { status: number; location: string | undefined };
    try {
      answer = await get(target, o);
    } catch (err) {
      const where = hop === 0 ? '' : ` (after ${hop} redirect${hop > 1 ? 's' : ''}, at ${target.href})`;
      return { status, reason: `${(err as Error).message}${where}` };
    }
    status = answer.status;
    if (status === 200) return { status, reason: null };
    if (!REDIRECT_STATUSES.has(status)) {
      return { status, reason: `HTTP ${status}${hop === 0 ? '' : ` at ${target.href} after ${hop} redirect${hop > 1 ? 's' : ''}`}` };
    }
    if (!answer.location) return { status, reason: `HTTP ${status} without a Location header at ${target.href}` };
    if (hop >= o.maxRedirects) return { status, reason: `more than ${o.maxRedirects} redirects (last Location ${answer.location})` };
    try {
      url = new URL(answer.location, target);
    } catch {
      return { status, reason: `HTTP ${status} with an unusable Location "${answer.location}"` };
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') return { status, reason: `redirect to a non-http URL ${url.href}` };
  }
}

function get(url: URL, o: FollowOptions): Promise<{ status: number; location: string | undefined }> {
  return new Promise((resolve, reject) => {
    const mod = url.protocol === 'https:' ? https : http;
    const req = mod.get(url, { agent: url.protocol === 'https:' ? o.agents.https : o.agents.http, headers: { 'user-agent': 'mm2migrate-verify', accept: '*/*' } }, (res) => {
      // Only the status matters: an mbox export can be large, so the body is not downloaded.
      resolve({ status: res.statusCode ?? 0, location: res.headers.location });
      res.destroy();
    });
    const timer = setTimeout(() => req.destroy(new Error(`no answer within ${o.timeoutMs} ms`)), o.timeoutMs);
    const onAbort = (): void => void req.destroy(new Error('stopped'));
    o.signal?.addEventListener('abort', onAbort, { once: true });
    req.once('error', (err: NodeJS.ErrnoException) => reject(new Error(err.code && !err.message.includes(err.code) ? `${err.code}: ${err.message}` : err.message)));
    req.once('close', () => {
      clearTimeout(timer);
      o.signal?.removeEventListener('abort', onAbort);
    });
  });
}
