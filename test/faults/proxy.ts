/**
 * A fault-injecting HTTP proxy for reliability tests: it listens on 127.0.0.1 and forwards every
 * request to one target base URL (the Discourse double, Mailman core's REST API, HyperKitty …),
 * and for a seeded share of the requests answers with a fault instead:
 *
 *  - `500`, `502`, `503`: an error answer; the request never reached the target.
 *  - `429`: Too Many Requests with `Retry-After`; the request never reached the target.
 *  - `timeout`: the request is held without an answer until the client gives up (or `holdMs`).
 *  - `timeout-after`: forwarded and carried out by the target, but the answer is held back.
 *  - `reset`: the connection is destroyed before anything is forwarded.
 *  - `reset-after`: forwarded and carried out by the target, then the connection is destroyed —
 *    the nasty case: the change exists on the target but the client never heard of it.
 *  - `slow`: forwarded and answered, `slowMs` late.
 *
 * The choice comes from a seeded PRNG (mulberry32), so a failing run replays with its seed. It is
 * target-agnostic: it knows nothing of any API beyond HTTP.
 */
import { createServer, request as httpRequest, Agent, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { prng } from '../helpers/prng.js';

export const FAULT_KINDS = ['500', '502', '503', '429', 'timeout', 'timeout-after', 'reset', 'reset-after', 'slow'] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

export interface FaultProxyOptions {
  /** Where requests go, e.g. http://127.0.0.1:8001; paths are forwarded unchanged (only host:port differ). */
  target: string;
  /** Probability (0..1) that a request (among those `match` selects) gets a fault. Default 0. */
  rate?: number;
  /** Fault kinds to draw from: a list (equal weights) or weights by kind. Default: every kind. */
  kinds?: readonly FaultKind[] | Partial<Record<FaultKind, number>>;
  /** PRNG seed (default 1). */
  seed?: number;
  /** Only requests for which this returns true can get a fault (default: all). */
  match?: (req: { method: string; path: string }) => boolean;
  /** Delay of `slow` answers in ms (default 300). */
  slowMs?: number;
  /** `timeout*`: the longest a request is held before its connection is destroyed (default 30 s). */
  holdMs?: number;
  /** Retry-After seconds sent with `429` (default 1). */
  retryAfterSeconds?: number;
}

export interface ProxyLogEntry {
  method: string;
  path: string;
  fault: FaultKind | null;
  /** Status the target answered (0 when the request was not forwarded or the target failed). */
  upstreamStatus: number;
}

export interface FaultProxy {
  /** The target URL with the proxy's host and port: use it in place of the target's. */
  url: string;
  /** Faults injected so far, by kind. */
  readonly injected: Record<FaultKind, number>;
  /** Every request the proxy saw, in arrival order. */
  readonly log: ProxyLogEntry[];
  /** Requests forwarded to the target (faults that forward included). */
  readonly forwarded: number;
  /** Changes the fault rate from now on (0 switches faults off). */
  setRate(rate: number): void;
  /** Total number of faults injected. */
  totalInjected(): number;
  close(): Promise<void>;
}


const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'proxy-authenticate', 'proxy-authorization', 'te', 'trailer', 'transfer-encoding', 'upgrade']);

function weights(kinds: FaultProxyOptions['kinds']): [FaultKind, number][] {
  if (kinds === undefined) return FAULT_KINDS.map((k) => [k, 1]);
  if (Array.isArray(kinds)) return (kinds as readonly FaultKind[]).map((k) => [k, 1]);
  return Object.entries(kinds as Partial<Record<FaultKind, number>>).filter(([, w]) => (w ?? 0) > 0) as [FaultKind, number][];
}

function readAll(stream: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    stream.on('data', (c: Buffer) => parts.push(c));
    stream.on('end', () => resolve(Buffer.concat(parts)));
    stream.on('error', reject);
    stream.on('aborted', () => reject(new Error('aborted')));
  });
}

export async function startFaultProxy(opts: FaultProxyOptions): Promise<FaultProxy> {
  const target = new URL(opts.target);
  if (target.protocol !== 'http:') throw new Error(`fault proxy: only http targets (${opts.target})`);
  const random = prng(opts.seed ?? 1);
  const table = weights(opts.kinds);
  const totalWeight = table.reduce((n, [, w]) => n + w, 0);
  let rate = opts.rate ?? 0;
  const slowMs = opts.slowMs ?? 300;
  const holdMs = opts.holdMs ?? 30_000;
  const retryAfter = opts.retryAfterSeconds ?? 1;
  const injected = Object.fromEntries(FAULT_KINDS.map((k) => [k, 0])) as Record<FaultKind, number>;
  const log: ProxyLogEntry[] = [];
  let forwarded = 0;
  const agent = new Agent({ keepAlive: true, maxSockets: 64 });
  const sockets = new Set<Socket>();
  const timers = new Set<NodeJS.Timeout>();
  let proxyOrigin = '';

  const pick = (method: string, path: string): FaultKind | null => {
    if (rate <= 0 || totalWeight <= 0) return null;
    if (opts.match && !opts.match({ method, path })) return null;
    // Two draws per matching request whatever the outcome, so the sequence depends only on the seed.
    const fire = random();
    let r = random() * totalWeight;
    if (fire >= rate) return null;
    for (const [k, w] of table) {
      if ((r -= w) < 0) return k;
    }
    return table[table.length - 1]![0];
  };

  const wait = (ms: number): Promise<void> =>
    new Promise((resolve) => {
      const t = setTimeout(() => {
        timers.delete(t);
        resolve();
      }, ms);
      timers.add(t);
    });

  /** Holds the connection until the client gives up or holdMs passed, then destroys it. */
  const hold = (req: IncomingMessage): Promise<void> =>
    new Promise((resolve) => {
      const t = setTimeout(done, holdMs);
      timers.add(t);
      req.socket.once('close', done);
      function done(): void {
        clearTimeout(t);
        timers.delete(t);
        req.socket.destroy();
        resolve();
      }
    });

  const forward = (req: IncomingMessage, body: Buffer): Promise<{ status: number; headers: IncomingHttpHeaders; body: Buffer }> => {
    const headers: Record<string, string | string[]> = {};
    for (const [k, v] of Object.entries(req.headers)) {
      if (v === undefined || HOP_BY_HOP.has(k)) continue;
      headers[k] = v;
    }
    headers.host = target.host;
    headers['content-length'] = String(body.length);
    forwarded++;
    return new Promise((resolve, reject) => {
      const up = httpRequest(
        { host: target.hostname, port: target.port || 80, method: req.method, path: req.url ?? '/', headers, agent },
        (res) => {
          readAll(res).then((b) => resolve({ status: res.statusCode ?? 502, headers: res.headers, body: b }), reject);
        },
      );
      up.on('error', reject);
      up.end(body);
    });
  };

  const reply = (res: ServerResponse, up: { status: number; headers: IncomingHttpHeaders; body: Buffer }): void => {
    const headers: Record<string, string | string[]> = {};
    for (const [k, v] of Object.entries(up.headers)) {
      if (v === undefined || HOP_BY_HOP.has(k)) continue;
      headers[k] = v;
    }
    // Redirects to the target itself must come back through the proxy.
    const loc = headers.location;
    if (typeof loc === 'string' && loc.startsWith(target.origin)) headers.location = proxyOrigin + loc.slice(target.origin.length);
    headers['content-length'] = String(up.body.length);
    res.writeHead(up.status, headers);
    res.end(up.body);
  };

  const errorAnswer = (res: ServerResponse, status: number, extra: Record<string, string> = {}): void => {
    const text = `${status} (injected by the test fault proxy)\n`;
    res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'content-length': String(Buffer.byteLength(text)), ...extra });
    res.end(text);
  };

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const method = req.method ?? 'GET';
    const path = req.url ?? '/';
    const entry: ProxyLogEntry = { method, path, fault: pick(method, path), upstreamStatus: 0 };
    log.push(entry);
    const kind = entry.fault;
    if (kind) injected[kind]++;
    const body = await readAll(req);
    switch (kind) {
      case 'reset':
        req.socket.destroy();
        return;
      case 'timeout':
        await hold(req);
        return;
      case '500':
      case '502':
      case '503':
        errorAnswer(res, Number(kind));
        return;
      case '429':
        errorAnswer(res, 429, { 'retry-after': String(retryAfter) });
        return;
      default:
        break;
    }
    let up: { status: number; headers: IncomingHttpHeaders; body: Buffer };
    try {
      up = await forward(req, body);
    } catch {
      // The target itself failed (refused, reset): pass that on as a gateway error.
      errorAnswer(res, 502);
      return;
    }
    entry.upstreamStatus = up.status;
    if (kind === 'reset-after') {
      req.socket.destroy();
      return;
    }
    if (kind === 'timeout-after') {
      await hold(req);
      return;
    }
    if (kind === 'slow') await wait(slowMs);
    if (req.socket.destroyed) return;
    reply(res, up);
  }

  const server: Server = createServer((req, res) => {
    handle(req, res).catch(() => {
      if (!res.headersSent && !req.socket.destroyed) errorAnswer(res, 502);
      else req.socket.destroy();
    });
  });
  server.keepAliveTimeout = 5_000;
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => undefined);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('fault proxy: no TCP address');
  proxyOrigin = `http://127.0.0.1:${address.port}`;

  return {
    url: proxyOrigin + target.pathname.replace(/^\/$/, '') + target.search,
    injected,
    log,
    get forwarded() {
      return forwarded;
    },
    setRate(r: number) {
      rate = r;
    },
    totalInjected: () => Object.values(injected).reduce((a, b) => a + b, 0),
    close() {
      for (const t of timers) clearTimeout(t);
      timers.clear();
      for (const s of sockets) s.destroy();
      agent.destroy();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

