/**
 * Discourse TEST DOUBLE — not Discourse, and not a mock of any project code.
 *
 * Discourse cannot be installed in this environment, so this is a strict, in-process
 * HTTP stand-in (node:http, bound to 127.0.0.1 on a random port) that implements the
 * contract written down in /work/shared/reference/discourse.md (§2 REST API, §3
 * permalinks, §6 behaviour pinned by Discourse's own request specs), checked against the
 * Discourse sources (PostsController, PostCreator, TopicCreator, PostValidator,
 * NewPostManager, Auth::DefaultCurrentUserProvider, RateLimiter, UsersController,
 * Admin::PermalinksController, Category, Topic, UsernameValidator, ...).
 *
 * Covered, with Discourse's status codes and error JSON:
 *  - Auth: `Api-Key` + `Api-Username` (or `Api-User-Id`); global and single-user keys;
 *    403 `not_logged_in` / `invalid_access` shapes; inactive or suspended impersonated
 *    users (so staged users) refused; admin routes answer 404 to non-admins.
 *  - The site-wide admin API bucket (`admin_api_min`, default 60 per 60 s, a sliding log
 *    in whole seconds like lib/rate_limiter.rb) → 429 with `Retry-After`,
 *    `Discourse-Rate-Limit-Error-Code: admin_api_key_rate_limit` and
 *    `extras.wait_seconds`. Per-user create_topic/create_post/per-day limits for
 *    non-staff. The per-IP text/plain 429 is opt-in (127.0.0.1 is exempt in Discourse).
 *  - Categories (name unique per parent, case-insensitive; slugs; varchar(6) colours;
 *    group permissions; nesting; the automatic "About the … category" topic).
 *  - Groups (name rules shared with usernames), members by usernames/emails, category
 *    notification defaults (watching …), `POST /category/:id/notifications`.
 *  - Users: `POST /users.json` (always 200; active/approved/staged honoured for admin
 *    keys only; staged-user reuse; username/email rules), `GET /u/:username.json`,
 *    `GET /admin/users/list/:query.json?email=…&show_emails=true`, `PUT /u/:username.json`
 *    (self or staff; e-mail preferences email_level / email_messages_level / email_digests /
 *    mailing_list_mode validated as UserOption does, other attributes ignored).
 *  - Posts/topics: the `create_params` whitelist, `created_at`, `import_mode`,
 *    `skip_validations` (which also skips the external_id checks, leaving only the exact
 *    unique index), `external_id` rules, posting as another user, title/body/entropy/
 *    duplicate rules, approval queue ("enqueued"), post numbers in creation order, and
 *    the 120 s memoisation of identical API requests (same body, no new post).
 *    `GET /t/:id.json`, `GET /t/external_id/:id.json` (301), `GET /posts/:id.json`.
 *  - Uploads (`POST /uploads.json` multipart, authorized extensions, sizes, dedupe by sha1).
 *  - Site settings (`GET /admin/site_settings.json`, `PUT /admin/site_settings/:name`).
 *  - Permalinks in both API generations (opts.permalinkApi) and `GET <old url>` → 301.
 *  - Bookkeeping for tests: `state.notifications` / `state.emailsSent` (what Discourse
 *    would notify / e-mail given disable_emails, import_mode, staged/active users and
 *    the users' email_level / email_messages_level),
 *    `state.anomalies` (accepted-but-suspicious input), `state.requestLog`.
 *  - Fault injection for reliability tests: `setFault`.
 *
 * Not covered: sessions/cookies, User API keys, scoped keys, PM workflows beyond the
 * basic errors, markdown cooking (a trivial cook), oneboxes, search, editing/deleting
 * posts, tag groups, `handle_mail`, Sidekiq timing, plugins. Informational message texts
 * (login.*) are close to, not byte-identical with, Discourse's.
 */

import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Ctx, SharedRuntime } from './discourse-context.js';
import { limiterPerform, limitExceeded } from './discourse-context.js';
import type { ParsedRequest } from './discourse-http.js';
import { DiscourseError, invalidAccess, notFound, notLoggedIn, parseRequest, readBody, sendJson, sendText } from './discourse-http.js';
import type { DoubleState, RequestLogEntry, SiteSettings, UserRecord, UserSeed } from './discourse-model.js';
import { createState, isStaff, newApiKey, newUser, postRelativeUrl } from './discourse-model.js';
import { MSG } from './discourse-text.js';
import * as admin from './discourse-admin.js';
import * as posts from './discourse-posts.js';
import { prng } from '../helpers/prng.js';

export type { DoubleState, SiteSettings, UserRecord, UserSeed } from './discourse-model.js';
export type {
  ApiKeyRecord,
  CategoryRecord,
  EmailRecord,
  GroupRecord,
  NotificationRecord,
  PermalinkRecord,
  PostRecord,
  RequestLogEntry,
  TopicRecord,
  UploadRecord,
} from './discourse-model.js';

export type FaultKind = '500' | 'timeout' | 'reset' | 'slow' | '429' | '500-after' | 'reset-after';

export interface FaultSpec {
  /** Probability (0..1) that a matching request gets a fault. */
  rate?: number;
  /** Kinds to choose from (uniformly) when a fault fires. */
  kinds?: FaultKind[];
  /** Seed of the deterministic PRNG (default 1). */
  seed?: number;
  /** Only requests whose "METHOD path" matches are considered, e.g. /^POST \/posts/. */
  match?: RegExp;
  /** Delay of 'slow' faults in ms (default 1500). */
  slowMs?: number;
  /** Faults for the next matching requests, in order (null = no fault); used before `rate`. */
  sequence?: (FaultKind | null)[];
}

export interface DiscourseDoubleOptions {
  /** GlobalSetting.max_admin_api_reqs_per_minute (DISCOURSE_MAX_ADMIN_API_REQS_PER_MINUTE); default 60. */
  adminRequestsPerMinute?: number;
  siteSettings?: Partial<SiteSettings>;
  /** Extra API keys; with `username` the key is a single-user key for that (seeded) user. */
  apiKeys?: { key?: string; username?: string; description?: string }[];
  /** Extra users created before the server starts. */
  users?: UserSeed[];
  /** Clock in milliseconds (rate limits, memoisation, default created_at). */
  now?: () => number;
  /** Permalink admin API generation: 'nested' (Discourse ≥ Nov 2024, default) or 'legacy'. */
  permalinkApi?: 'nested' | 'legacy';
  /** Per-IP limiter for requests without an API key (text/plain 429). Off by default. */
  perIpLimits?: { perMinute: number; per10Seconds: number };
}

export interface DiscourseDouble {
  /** Base URL, e.g. http://127.0.0.1:41234 (no trailing slash). */
  url: string;
  /** Global ("All Users") admin-issued key. Use with Api-Username: adminUsername (or any user). */
  adminApiKey: string;
  adminUsername: string;
  /** Single-user key of a regular (non-staff, trust level 1) user. */
  userApiKey: string;
  userUsername: string;
  moderatorUsername: string;
  state: DoubleState;
  setFault(spec: FaultSpec | null): void;
  /** Seeds a user directly (no API call, no e-mails). */
  addUser(seed: UserSeed): UserRecord;
  /** Adds an API key (single-user when username is given) and returns it. */
  addApiKey(opts?: { username?: string; description?: string }): string;
  close(): Promise<void>;
}

interface Reply {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
  raw?: { data: Buffer; contentType: string };
  memoised?: boolean;
}

type Guard = 'none' | 'admin' | 'staff';

interface Route {
  method: string;
  pattern: RegExp;
  guard: Guard;
  handle: (ctx: Ctx, m: RegExpExecArray, json: boolean) => Reply;
}

const ok = (body: unknown): Reply => ({ status: 200, body });
const id = (m: RegExpExecArray, i = 1) => Number(m[i]);

function redirect(status: number, location: string): Reply {
  return {
    status,
    headers: { Location: location },
    raw: {
      data: Buffer.from(`<html><body>You are being <a href="${location}">redirected</a>.</body></html>`),
      contentType: 'text/html; charset=utf-8',
    },
  };
}

const ROUTES: Route[] = [
  { method: 'GET', pattern: /^\/categories$/, guard: 'none', handle: (c) => ok(admin.listCategories(c)) },
  { method: 'POST', pattern: /^\/categories$/, guard: 'none', handle: (c) => ok(admin.createCategory(c)) },
  { method: 'PUT', pattern: /^\/categories\/(\d+)$/, guard: 'none', handle: (c, m) => ok(admin.updateCategory(c, id(m))) },
  { method: 'GET', pattern: /^\/c\/(\d+)\/show$/, guard: 'none', handle: (c, m) => ok(admin.showCategory(c, id(m))) },
  {
    method: 'POST',
    pattern: /^\/category\/(\d+)\/notifications$/,
    guard: 'none',
    handle: (c, m) => ok(admin.setCategoryNotification(c, id(m))),
  },
  { method: 'POST', pattern: /^\/admin\/groups$/, guard: 'admin', handle: (c) => ok(admin.createGroup(c)) },
  { method: 'PUT', pattern: /^\/groups\/(\d+)$/, guard: 'none', handle: (c, m) => ok(admin.updateGroup(c, id(m))) },
  { method: 'PUT', pattern: /^\/groups\/(\d+)\/members$/, guard: 'none', handle: (c, m) => ok(admin.addGroupMembers(c, id(m))) },
  { method: 'GET', pattern: /^\/groups\/([^/]+)\/members$/, guard: 'none', handle: (c, m) => ok(admin.groupMembers(c, m[1] ?? '')) },
  { method: 'GET', pattern: /^\/groups\/([^/]+)$/, guard: 'none', handle: (c, m) => ok(admin.showGroup(c, m[1] ?? '')) },
  { method: 'POST', pattern: /^\/(?:users|u)$/, guard: 'none', handle: (c) => ok(admin.createUser(c)) },
  { method: 'GET', pattern: /^\/(?:users|u)\/([^/]+)$/, guard: 'none', handle: (c, m) => ok(admin.showUser(c, m[1] ?? '')) },
  { method: 'PUT', pattern: /^\/(?:users|u)\/([^/]+)$/, guard: 'none', handle: (c, m) => ok(admin.updateUser(c, m[1] ?? '')) },
  { method: 'GET', pattern: /^\/admin\/users\/list$/, guard: 'staff', handle: (c) => ok(admin.adminListUsers(c, 'active')) },
  {
    method: 'GET',
    pattern: /^\/admin\/users\/list\/([a-z_]+)$/,
    guard: 'staff',
    handle: (c, m) => ok(admin.adminListUsers(c, m[1] ?? '')),
  },
  { method: 'GET', pattern: /^\/admin\/users\/(\d+)$/, guard: 'staff', handle: (c, m) => ok(admin.adminShowUser(c, id(m))) },
  {
    method: 'POST',
    pattern: /^\/posts$/,
    guard: 'none',
    handle: (c) => {
      const r = posts.createPost(c);
      return { status: r.status, body: r.body, memoised: r.memoised };
    },
  },
  { method: 'GET', pattern: /^\/posts\/(\d+)$/, guard: 'none', handle: (c, m) => ok(posts.showPost(c, id(m))) },
  {
    method: 'GET',
    pattern: /^\/posts\/by_number\/(\d+)\/(\d+)$/,
    guard: 'none',
    handle: (c, m) => ok(posts.postByNumber(c, id(m, 1), id(m, 2))),
  },
  {
    method: 'GET',
    pattern: /^\/t\/external_id\/([^/]+)$/,
    guard: 'none',
    handle: (c, m, json) => redirect(301, posts.topicByExternalId(c, decodeURIComponent(m[1] ?? ''), json).location),
  },
  { method: 'GET', pattern: /^\/t\/(\d+)\/posts$/, guard: 'none', handle: (c, m) => ok(posts.topicPosts(c, id(m))) },
  { method: 'GET', pattern: /^\/t\/(\d+)(?:\/\d+)?$/, guard: 'none', handle: (c, m) => ok(posts.showTopic(c, id(m))) },
  { method: 'GET', pattern: /^\/t\/[^/]+\/(\d+)(?:\/\d+)?$/, guard: 'none', handle: (c, m) => ok(posts.showTopic(c, id(m))) },
  {
    method: 'GET',
    pattern: /^\/p\/(\d+)$/,
    guard: 'none',
    handle: (c, m) => {
      const post = c.state.posts.get(id(m));
      if (!post) throw notFound();
      return redirect(302, `${c.baseUrl}${postRelativeUrl(c.state, post)}`);
    },
  },
  { method: 'POST', pattern: /^\/uploads$/, guard: 'none', handle: (c) => ok(admin.createUpload(c)) },
  { method: 'GET', pattern: /^\/admin\/site_settings$/, guard: 'admin', handle: (c) => ok(admin.listSiteSettings(c)) },
  {
    method: 'PUT',
    pattern: /^\/admin\/site_settings\/([a-z0-9_]+)$/,
    guard: 'admin',
    handle: (c, m) => {
      admin.updateSiteSetting(c, m[1] ?? '');
      return { status: 200, raw: { data: Buffer.alloc(0), contentType: 'text/plain; charset=utf-8' } };
    },
  },
  { method: 'GET', pattern: /^\/admin\/permalinks$/, guard: 'admin', handle: (c) => ok(admin.listPermalinks(c)) },
  { method: 'POST', pattern: /^\/admin\/permalinks$/, guard: 'admin', handle: (c) => ok(admin.createPermalink(c)) },
  { method: 'GET', pattern: /^\/admin\/permalinks\/(\d+)$/, guard: 'admin', handle: (c, m) => ok(admin.showPermalink(c, id(m))) },
  { method: 'PUT', pattern: /^\/admin\/permalinks\/(\d+)$/, guard: 'admin', handle: (c, m) => ok(admin.updatePermalink(c, id(m))) },
  {
    method: 'DELETE',
    pattern: /^\/admin\/permalinks\/(\d+)$/,
    guard: 'admin',
    handle: (c, m) => ok(admin.deletePermalink(c, id(m))),
  },
];


interface Auth {
  user: UserRecord | null;
  isApi: boolean;
  key: 'none' | 'global' | 'single-user' | 'invalid';
}

export async function startDiscourseDouble(opts: DiscourseDoubleOptions = {}): Promise<DiscourseDouble> {
  const now = opts.now ?? (() => Date.now());
  const adminPerMinute = opts.adminRequestsPerMinute ?? 60;
  const state = createState(opts.siteSettings ?? {}, now());
  const shared: SharedRuntime = {
    postMemo: new Map(),
    limiterLogs: new Map(),
    uniquePostKeys: new Map(),
    permalinkApi: opts.permalinkApi ?? 'nested',
  };

  const adminUser = newUser(state, { username: 'admin1', email: 'admin1@double.invalid', name: 'Admin One', admin: true, trustLevel: 4 }, now());
  const moderator = newUser(state, { username: 'mod1', email: 'mod1@double.invalid', name: 'Mod One', moderator: true, trustLevel: 4 }, now());
  const regular = newUser(state, { username: 'user1', email: 'user1@double.invalid', name: 'User One', trustLevel: 1 }, now());
  for (const seed of opts.users ?? []) newUser(state, seed, now());

  const addApiKey = (o: { key?: string; username?: string; description?: string } = {}): string => {
    let userId: number | null = null;
    if (o.username !== undefined) {
      const u = [...state.users.values()].find((x) => x.usernameLower === o.username?.toLowerCase());
      if (!u) throw new Error(`discourse double: no user ${o.username} for a single-user API key`);
      userId = u.id;
    }
    const key = o.key ?? newApiKey();
    state.apiKeys.push({ key, userId, revoked: false, description: o.description ?? '' });
    return key;
  };
  const adminApiKey = addApiKey({ description: 'global key' });
  const userApiKey = addApiKey({ username: regular.username, description: 'single-user key (regular user)' });
  for (const k of opts.apiKeys ?? []) addApiKey(k);

  let fault: { spec: FaultSpec; random: () => number; sequence: (FaultKind | null)[] } | null = null;
  const pickFault = (req: ParsedRequest): FaultKind | null => {
    if (!fault) return null;
    if (fault.spec.match && !fault.spec.match.test(`${req.method} ${req.path}`)) return null;
    if (fault.sequence.length > 0) return fault.sequence.shift() ?? null;
    const kinds = fault.spec.kinds ?? [];
    if (kinds.length === 0 || fault.random() >= (fault.spec.rate ?? 0)) return null;
    return kinds[Math.floor(fault.random() * kinds.length)] ?? null;
  };

  /** Auth::DefaultCurrentUserProvider#current_user for admin-issued keys; records what it saw in `entry`. */
  function authenticate(req: ParsedRequest, entry: RequestLogEntry): Auth {
    const header = req.headers['api-key'];
    const value = Array.isArray(header) ? header[0] : header;
    if (req.headers['user-api-key'] !== undefined) {
      entry.key = 'invalid';
      throw invalidAccess();
    }
    if (value === undefined) return { user: null, isApi: false, key: 'none' };
    entry.key = 'invalid';
    const record = state.apiKeys.find((k) => k.key === value && !k.revoked);
    if (!record) throw invalidAccess(MSG.invalidApiCredentials);
    const usernameHeader = req.headers['api-username'];
    const username = Array.isArray(usernameHeader) ? usernameHeader[0] : usernameHeader;
    const userIdHeader = req.headers['api-user-id'];
    const userIdText = Array.isArray(userIdHeader) ? userIdHeader[0] : userIdHeader;
    let user: UserRecord | null = null;
    if (record.userId !== null) {
      const keyUser = state.users.get(record.userId) ?? null;
      if (keyUser && (username === undefined || keyUser.usernameLower === username.toLowerCase())) user = keyUser;
    } else if (username !== undefined) {
      user = [...state.users.values()].find((u) => u.usernameLower === username.toLowerCase()) ?? null;
    } else if (userIdText !== undefined) {
      user = state.users.get(Number.parseInt(userIdText, 10)) ?? null;
    }
    if (!user) throw invalidAccess(MSG.invalidApiCredentials);
    entry.key = record.userId === null ? 'global' : 'single-user';
    entry.username = user.username;
    if (user.suspended || !user.active) throw invalidAccess();
    const wait = limiterPerform(shared, 'admin_api_min', adminPerMinute, 60, now());
    if (wait !== null) throw limitExceeded(wait, 'admin_api_min', 'admin_api_key_rate_limit');
    entry.charged = true;
    return { user, isApi: true, key: entry.key };
  }

  function perIpLimit(req: ParsedRequest): void {
    if (!opts.perIpLimits || req.headers['api-key'] !== undefined) return;
    const checks: [string, number, number][] = [
      ['ip_10_secs_limit', opts.perIpLimits.per10Seconds, 10],
      ['ip_60_secs_limit', opts.perIpLimits.perMinute, 60],
    ];
    for (const [code, max, secs] of checks) {
      const wait = limiterPerform(shared, `${code}:${req.remoteIp}`, max, secs, now());
      if (wait !== null) {
        throw new DiscourseError(
          429,
          `Slow down, too many requests from this IP address. Please retry again in ${wait} seconds. Error code: ${code}.`,
          { 'Retry-After': String(wait), 'Discourse-Rate-Limit-Error-Code': code, 'Content-Type': 'text/plain; charset=utf-8' },
        );
      }
    }
  }

  function route(ctx: Ctx): Reply {
    const req = ctx.req;
    const json = req.path.endsWith('.json');
    const path = req.path.replace(/\.json$/, '').replace(/\/+$/, '') || '/';
    // login_required: everything but signing up needs a user (JSON answers 403 not_logged_in).
    if (state.siteSettings.login_required && !ctx.user && !(req.method === 'POST' && /^\/(?:users|u)$/.test(path))) {
      throw notLoggedIn();
    }
    for (const r of ROUTES) {
      if (r.method !== req.method) continue;
      const m = r.pattern.exec(path);
      if (!m) continue;
      // AdminConstraint / StaffConstraint: the route does not exist for others.
      if (r.guard === 'admin' && !ctx.user?.admin) throw notFound();
      if (r.guard === 'staff' && !isStaff(ctx.user)) throw notFound();
      return r.handle(ctx, m, json);
    }
    if (req.method === 'GET') {
      const upload = admin.findUploadByPath(ctx, req.path);
      if (upload) return { status: 200, raw: { data: upload.data, contentType: upload.contentType } };
      const target = admin.resolvePermalink(ctx, req.fullpath);
      if (target !== null) return redirect(301, /^https?:\/\//i.test(target) ? target : `${ctx.baseUrl}${target}`);
    }
    throw notFound();
  }

  let baseUrl = '';
  const sockets = new Set<Socket>();

  const send = (res: ServerResponse, reply: Reply) => {
    if (reply.raw) {
      res.writeHead(reply.status, { 'Content-Type': reply.raw.contentType, ...reply.headers });
      res.end(reply.raw.data);
    } else if (typeof reply.body === 'string' && reply.headers?.['Content-Type']?.startsWith('text/plain')) {
      sendText(res, reply.status, reply.body, reply.headers);
    } else {
      sendJson(res, reply.status, reply.body ?? {}, reply.headers);
    }
  };

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await readBody(req);
    let parsed: ParsedRequest;
    try {
      parsed = parseRequest(req, body);
    } catch (e) {
      if (e instanceof DiscourseError) {
        sendJson(res, e.status, e.body, e.headers);
        return;
      }
      throw e;
    }
    const entry: RequestLogEntry = {
      at: now(),
      method: parsed.method,
      path: parsed.fullpath,
      status: 0,
      username: null,
      key: 'none',
      params: parsed.params,
      charged: false,
      memoised: false,
      fault: null,
    };
    state.requestLog.push(entry);

    const kind = pickFault(parsed);
    entry.fault = kind;
    if (kind === 'reset') {
      req.socket.destroy();
      return;
    }
    if (kind === 'timeout') return; // never answered; close() destroys the socket
    if (kind === '500') {
      entry.status = 500;
      sendJson(res, 500, { errors: ['Internal Server Error (injected fault)'] });
      return;
    }
    if (kind === '429') {
      entry.status = 429;
      const e = limitExceeded(2, 'admin_api_min', 'admin_api_key_rate_limit');
      sendJson(res, e.status, e.body, e.headers);
      return;
    }
    if (kind === 'slow') await new Promise((r) => setTimeout(r, fault?.spec.slowMs ?? 1500));

    let reply: Reply;
    try {
      perIpLimit(parsed);
      const auth = authenticate(parsed, entry);
      const ctx: Ctx = { state, now, baseUrl, req: parsed, user: auth.user, isApi: auth.isApi, shared };
      reply = route(ctx);
    } catch (e) {
      if (e instanceof DiscourseError) {
        reply = { status: e.status, body: e.body, headers: e.headers };
      } else {
        const message = e instanceof Error ? e.stack ?? e.message : String(e);
        state.serverErrors.push(`${parsed.method} ${parsed.fullpath}: ${message}`);
        reply = { status: 500, body: { errors: ['Internal Server Error (double)'] } };
      }
    }
    entry.status = reply.status;
    entry.memoised = reply.memoised === true;
    if (kind === 'reset-after') {
      req.socket.destroy();
      return;
    }
    if (kind === '500-after') {
      entry.status = 500;
      sendJson(res, 500, { errors: ['Internal Server Error (injected fault after commit)'] });
      return;
    }
    send(res, reply);
  }

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((e: unknown) => {
      state.serverErrors.push(e instanceof Error ? e.stack ?? e.message : String(e));
      if (!res.headersSent) sendJson(res, 500, { errors: ['Internal Server Error (double)'] });
    });
  });
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('discourse double: no TCP address');
  baseUrl = `http://127.0.0.1:${address.port}`;

  return {
    url: baseUrl,
    adminApiKey,
    adminUsername: adminUser.username,
    userApiKey,
    userUsername: regular.username,
    moderatorUsername: moderator.username,
    state,
    setFault(spec) {
      fault = spec ? { spec, random: prng(spec.seed ?? 1), sequence: [...(spec.sequence ?? [])] } : null;
    },
    addUser(seed) {
      return newUser(state, seed, now());
    },
    addApiKey(o) {
      return addApiKey(o ?? {});
    },
    close() {
      return new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      });
    },
  };
}

