import got, { RequestError, type Response } from 'got';
import { z } from 'zod';
import type { Problem } from '../../problems.js';

/**
 * HyperKitty over HTTP: the archiver endpoint Mailman core's mailman-hyperkitty plugin posts to
 * (`api/mailman/archive`, `api/mailman/urls`, authenticated by `Authorization: Token <key>` and
 * the client IP in MAILMAN_ARCHIVER_FROM), the public JSON API (`api/list/<fqdn>/emails/`) and the
 * web pages. The archiver key and the optional superuser password never appear in an error.
 */

export interface HyperKittyClientOptions {
  /** HyperKitty's mount point, e.g. https://lists.example.org/hyperkitty/ */
  baseUrl: string;
  archiverKey: string;
  /** A Django superuser, for the JSON API of private lists (DRF accepts HTTP Basic by default). */
  user?: { name: string; password: string };
  /** Attempts after the first on 5xx, 429 and network errors. */
  retries?: number;
  timeoutMs?: number;
  /** First backoff delay; doubles per attempt (with jitter). */
  backoffMs?: number;
}

export type ArchiveOutcome =
  | { ok: true; status: number; url: string; hash: string | null; attempts: number }
  | { ok: false; status: number; error: string; attempts: number };

/** HyperKitty did not answer as the protocol says, or not at all after the retries. */
export class HyperKittyError extends Error {
  constructor(
    readonly operation: string,
    readonly status: number,
    detail: string,
  ) {
    super(`HyperKitty ${operation}: ${status === 0 ? 'no answer' : `HTTP ${status}`}${detail ? `: ${detail}` : ''}`);
    this.name = 'HyperKittyError';
  }
}

/** One archived message as HyperKitty's JSON API lists it. */
export interface ArchivedEmail {
  messageId: string;
  hash: string;
  /** ISO 8601 with the sender's offset, as HyperKitty stores it. */
  date: string;
}

const UrlAnswer = z.object({ url: z.string().min(1) });
const ErrorAnswer = z.object({ error: z.string() });
const EmailPage = z.object({
  count: z.number().int().nonnegative(),
  next: z.string().nullable(),
  results: z.array(z.object({ message_id: z.string(), message_id_hash: z.string(), date: z.string() })),
});

const NETWORK_CODES = new Set(['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT', 'ENOTFOUND', 'EAI_AGAIN', 'ECONNABORTED', 'ERR_GOT_REQUEST_ERROR', 'UND_ERR_SOCKET']);
const MESSAGE_PATH = /\/list\/[^/]+\/message\/([A-Z2-7]{32})\/?$/;
const PAGE_SIZE = 500;

export class HyperKittyClient {
  readonly baseUrl: string;
  private readonly archiverKey: string;
  private readonly user: { name: string; password: string } | undefined;
  private readonly retries: number;
  private readonly timeoutMs: number;
  private readonly backoffMs: number;

  constructor(opts: HyperKittyClientOptions) {
    this.baseUrl = opts.baseUrl.endsWith('/') ? opts.baseUrl : `${opts.baseUrl}/`;
    this.archiverKey = opts.archiverKey;
    this.user = opts.user;
    this.retries = opts.retries ?? 6;
    this.timeoutMs = opts.timeoutMs ?? 120_000;
    this.backoffMs = opts.backoffMs ?? 500;
  }

  get hasUser(): boolean {
    return this.user !== undefined;
  }

  /** `<base>list/<fqdn>/message/<hash>/`: where HyperKitty shows the message with that id hash. */
  messageUrl(fqdn: string, hash: string): string {
    return `${this.baseUrl}list/${fqdn}/message/${hash}/`;
  }

  listUrl(fqdn: string): string {
    return `${this.baseUrl}list/${fqdn}/`;
  }

  /**
   * Posts one raw message to the archiver endpoint. 200 is success (also for a Message-ID the
   * list already has: HyperKitty answers with the existing URL, which makes re-sending safe);
   * 400 is HyperKitty refusing this message (returned, never retried); 5xx and network errors
   * are retried with backoff. `signal` only cuts the backoff waits short, never a request.
   */
  async archive(fqdn: string, raw: Buffer, signal?: AbortSignal): Promise<ArchiveOutcome> {
    const operation = `archive a message into ${fqdn}`;
    const { res, attempts } = await this.withRetries(operation, signal, () => {
      const form = new FormData();
      form.append('mlist', fqdn);
      form.append('message', new Blob([raw], { type: 'message/rfc822' }), 'message.eml');
      return got.post(new URL('api/mailman/archive', this.baseUrl), {
        body: form,
        headers: { authorization: `Token ${this.archiverKey}` },
        ...this.common(),
      });
    });
    if (res.statusCode === 200) {
      const answer = parseJson(UrlAnswer, res.body);
      if (!answer) throw new HyperKittyError(operation, 200, `unexpected answer ${snippet(res.body)}`);
      const m = MESSAGE_PATH.exec(new URL(answer.url, this.baseUrl).pathname);
      return { ok: true, status: 200, url: answer.url, hash: m ? m[1]! : null, attempts };
    }
    if (res.statusCode === 400) {
      const answer = parseJson(ErrorAnswer, res.body);
      return { ok: false, status: 400, error: answer ? answer.error : `HTTP 400 ${snippet(stripHtml(res.body))}`, attempts };
    }
    throw new HyperKittyError(operation, res.statusCode, authHint(res.statusCode) || snippet(stripHtml(res.body)));
  }

  /**
   * `GET api/mailman/urls?mlist=<fqdn>`: computes a URL and touches no data, so it proves the
   * endpoint, the client IP and the archiver key without side effects.
   */
  async mailmanUrl(fqdn: string, msgid?: string): Promise<string> {
    const operation = `check the archiver key (api/mailman/urls for ${fqdn})`;
    const { res } = await this.withRetries(operation, undefined, () =>
      got.get(new URL('api/mailman/urls', this.baseUrl), {
        searchParams: msgid === undefined ? { mlist: fqdn } : { mlist: fqdn, msgid },
        headers: { authorization: `Token ${this.archiverKey}` },
        ...this.common(),
      }),
    );
    const answer = res.statusCode === 200 ? parseJson(UrlAnswer, res.body) : null;
    if (!answer) throw new HyperKittyError(operation, res.statusCode, authHint(res.statusCode) || snippet(stripHtml(res.body)));
    return answer.url;
  }

  /**
   * Every message HyperKitty has for the list, from the paginated JSON API. `null` when the list
   * does not exist in HyperKitty yet (404); throws when access is refused (private list without
   * credentials, or wrong ones).
   */
  async listEmails(fqdn: string, opts: { authenticated?: boolean } = {}): Promise<ArchivedEmail[] | null> {
    // The email list of an unknown list is a 500 (MailingList.DoesNotExist); the list itself is a 404.
    const known = await this.withRetries(`look up list ${fqdn}`, undefined, () =>
      got.get(new URL(`api/list/${encodeURIComponent(fqdn)}/`, this.baseUrl), { headers: { accept: 'application/json', ...this.basicAuth(opts.authenticated) }, ...this.common() }),
    );
    if (known.res.statusCode === 404) return null;
    const first = await this.emailPages(fqdn, PAGE_SIZE, opts.authenticated);
    if (!first) return null;
    // Offset pagination over a sort with ties (equal dates) may repeat or skip a row between
    // pages; when that happened, read the whole list in one page.
    if (first.emails.size >= first.count) return [...first.emails.values()];
    const whole = await this.emailPages(fqdn, first.count + PAGE_SIZE, opts.authenticated);
    return whole ? [...whole.emails.values()] : null;
  }

  private async emailPages(fqdn: string, limit: number, authenticated: boolean | undefined): Promise<{ count: number; emails: Map<string, ArchivedEmail> } | null> {
    const operation = `list the archived messages of ${fqdn}`;
    const emails = new Map<string, ArchivedEmail>();
    let count = 0;
    let next: string | null = new URL(`api/list/${encodeURIComponent(fqdn)}/emails/?limit=${limit}&offset=0&ordering=date`, this.baseUrl).toString();
    while (next) {
      const url: string = next;
      const { res } = await this.withRetries(operation, undefined, () =>
        got.get(url, { headers: { accept: 'application/json', ...this.basicAuth(authenticated) }, ...this.common() }),
      );
      if (res.statusCode === 404 && emails.size === 0) return null;
      if (res.statusCode !== 200) {
        const why = res.statusCode === 403 || res.statusCode === 401
          ? authenticated && this.user
            ? 'the configured HyperKitty user was refused (is it a superuser, and the password right?)'
            : 'access refused: the archive is private; configure target.hyperkitty.user/passwordEnv (a HyperKitty superuser) to read it'
          : snippet(stripHtml(res.body));
        throw new HyperKittyError(operation, res.statusCode, why);
      }
      const page = parseJson(EmailPage, res.body);
      if (!page) throw new HyperKittyError(operation, 200, `unexpected answer ${snippet(res.body)}`);
      count = page.count;
      for (const r of page.results) emails.set(r.message_id_hash, { messageId: r.message_id, hash: r.message_id_hash, date: r.date });
      // Follow HyperKitty's own link, but keep our scheme/host (it may sit behind a proxy).
      next = page.next ? new URL(new URL(page.next).pathname + new URL(page.next).search, this.baseUrl).toString() : null;
    }
    return { count, emails };
  }

  /** `GET api/list/<fqdn>/email/<hash>/` status, with the configured user when asked. */
  async emailStatus(fqdn: string, hash: string, opts: { authenticated?: boolean } = {}): Promise<number> {
    const url = new URL(`api/list/${encodeURIComponent(fqdn)}/email/${hash}/`, this.baseUrl).toString();
    const { res } = await this.withRetries(`read message ${hash} of ${fqdn}`, undefined, () =>
      got.get(url, { headers: { accept: 'application/json', ...this.basicAuth(opts.authenticated) }, ...this.common() }),
    );
    return res.statusCode;
  }

  /** Status and redirect target of an anonymous GET (redirects are not followed). */
  async pageStatus(url: string): Promise<{ status: number; location: string | null }> {
    const { res } = await this.withRetries(`GET ${url}`, undefined, () => got.get(url, { ...this.common() }));
    const location = res.headers.location;
    return { status: res.statusCode, location: typeof location === 'string' ? location : null };
  }

  private common() {
    return {
      throwHttpErrors: false,
      followRedirect: false,
      retry: { limit: 0 },
      timeout: { request: this.timeoutMs },
      responseType: 'text' as const,
    };
  }

  private basicAuth(authenticated: boolean | undefined): Record<string, string> {
    if (!authenticated || !this.user) return {};
    return { authorization: `Basic ${Buffer.from(`${this.user.name}:${this.user.password}`).toString('base64')}` };
  }

  private async withRetries(
    operation: string,
    signal: AbortSignal | undefined,
    send: () => Promise<Response<string>>,
  ): Promise<{ res: Response<string>; attempts: number }> {
    for (let attempt = 1; ; attempt++) {
      let res: Response<string> | null = null;
      let failure: string;
      try {
        res = await send();
        if (res.statusCode < 500 && res.statusCode !== 429) return { res, attempts: attempt };
        failure = `HTTP ${res.statusCode}`;
      } catch (err) {
        if (!(err instanceof RequestError) || !(NETWORK_CODES.has(err.code) || err.name === 'TimeoutError')) throw err;
        failure = err.code;
      }
      if (attempt > this.retries) {
        throw new HyperKittyError(operation, res?.statusCode ?? 0, `${failure} after ${attempt} attempts${res ? ` ${snippet(stripHtml(res.body))}` : ''}`);
      }
      const delay = this.backoffMs * 2 ** (attempt - 1) * (0.75 + Math.random() * 0.5);
      await sleep(Math.min(delay, 30_000), signal);
      if (signal?.aborted) throw new HyperKittyError(operation, res?.statusCode ?? 0, `${failure}; stopped before retrying`);
    }
  }
}

/**
 * Pre-flight: the endpoint answers, this machine's IP is allowed and the archiver key is accepted.
 * `api/mailman/urls` is authenticated exactly like the archive endpoint but writes nothing.
 */
export async function checkHyperKitty(env: { target: { hyperkitty: { url: string } }; archiverKey: string }, probeList = 'mm2migrate-preflight@example.invalid'): Promise<Problem[]> {
  const client = new HyperKittyClient({ baseUrl: env.target.hyperkitty.url, archiverKey: env.archiverKey, retries: 2, timeoutMs: 30_000 });
  try {
    await client.mailmanUrl(probeList);
    return [];
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    return [{ severity: 'error', code: 'hyperkitty-unavailable', message: `${message} (${client.baseUrl})` }];
  }
}

function authHint(status: number): string {
  if (status === 401) return 'the archiver key was refused (target.hyperkitty.archiverKeyEnv must hold HyperKitty\'s MAILMAN_ARCHIVER_KEY)';
  if (status === 403) return 'this machine\'s IP address is not in HyperKitty\'s MAILMAN_ARCHIVER_FROM';
  if (status === 404) return 'no archiver endpoint here: target.hyperkitty.url must be HyperKitty\'s mount point (e.g. https://host/hyperkitty/)';
  return '';
}

function parseJson<T>(schema: z.ZodType<T>, body: string): T | null {
  try {
    const parsed = schema.safeParse(JSON.parse(body));
    return parsed.success ? parsed.data : null;
  } catch {
    return null;
  }
}

function stripHtml(body: string): string {
  return body.replace(/<[^>]*>/g, ' ').replace(/\s+/g, ' ').trim();
}

function snippet(text: string): string {
  return text.length > 200 ? `${text.slice(0, 200)}…` : text;
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}
