/**
 * A local replay target on 127.0.0.1, run as its own process so that it does not share the
 * client's event loop. It answers at once:
 *  - POST /hyperkitty/api/mailman/archive (HyperKitty's archiver endpoint: Authorization: Token,
 *    multipart with `mlist` and a `message` file) → 200 {"url": …};
 *  - POST /posts.json (Discourse: Api-Key header, JSON body with `raw`) → 200 with a post.
 * With --limit N --window-ms W it enforces, over every request, a sliding window of N accepted
 * requests per W ms as Discourse's admin-API limiter does (counted in ms here, which is never more
 * lenient than Discourse's whole seconds), and answers the rest with Discourse's 429: Retry-After,
 * Discourse-Rate-Limit-Error-Code and a JSON body with extras.wait_seconds.
 *
 * Prints {"port": N} on stdout when listening. GET /__bench/stats returns the counters.
 */
import http from 'node:http';

const args = new Map<string, string>();
for (let i = 2; i < process.argv.length; i += 2) args.set(process.argv[i]!.replace(/^--/, ''), process.argv[i + 1] ?? '');
const key = args.get('key') ?? 'bench-key';
const limit = args.has('limit') ? Number(args.get('limit')) : 0;
const windowMs = Number(args.get('window-ms') ?? 60_000);
const MESSAGE_FIELD = Buffer.from('name="message"');

/** Accept times of the last `limit` accepted requests (a ring), as Discourse keeps them in Redis. */
const ring: number[] = [];
let ringHead = 0;
const stats = { accepted: 0, rejected: 0, invalid: 0, unauthorized: 0, bytes: 0, firstAt: 0, acceptedAt: [] as number[] };

function admit(now: number): { ok: true } | { ok: false; retryAfterS: number } {
  if (limit <= 0) return { ok: true };
  if (ring.length < limit) {
    ring.push(now);
    return { ok: true };
  }
  const oldest = ring[ringHead]!;
  if (now - oldest >= windowMs) {
    ring[ringHead] = now;
    ringHead = (ringHead + 1) % limit;
    return { ok: true };
  }
  return { ok: false, retryAfterS: Math.max(1, Math.ceil((oldest + windowMs - now) / 1000)) };
}

function reply(res: http.ServerResponse, status: number, type: string, body: string, headers: http.OutgoingHttpHeaders = {}): void {
  res.writeHead(status, { 'content-type': type, ...headers });
  res.end(body);
}

/** Checks the request's credentials and shape; returns null when it is acceptable. */
function refusal(req: http.IncomingMessage, body: Buffer): [number, string] | null {
  if (req.url === '/hyperkitty/api/mailman/archive') {
    if (req.headers.authorization !== `Token ${key}`) return [401, 'unauthorized'];
    if (!String(req.headers['content-type']).startsWith('multipart/form-data') || body.indexOf(MESSAGE_FIELD) < 0) return [400, 'no message file'];
    return null;
  }
  if (req.url === '/posts.json') {
    if (req.headers['api-key'] !== key || !req.headers['api-username']) return [403, 'not logged in'];
    try {
      const json = JSON.parse(body.toString('utf8')) as { raw?: unknown };
      return typeof json.raw === 'string' ? null : [422, 'raw is missing'];
    } catch {
      return [400, 'not JSON'];
    }
  }
  return [404, 'not found'];
}

const server = http.createServer((req, res) => {
  if (req.method === 'GET' && req.url === '/__bench/stats') {
    reply(res, 200, 'application/json', JSON.stringify({ ...stats, limit, windowMs }));
    return;
  }
  const chunks: Buffer[] = [];
  let size = 0;
  req.on('data', (c: Buffer) => {
    chunks.push(c);
    size += c.length;
  });
  req.on('end', () => {
    stats.bytes += size;
    const body = Buffer.concat(chunks, size);
    const refused = req.method === 'POST' ? refusal(req, body) : ([405, 'method not allowed'] as [number, string]);
    if (refused) {
      if (refused[0] === 401 || refused[0] === 403) stats.unauthorized++;
      else stats.invalid++;
      reply(res, refused[0], 'application/json', JSON.stringify({ errors: [refused[1]], error: refused[1] }));
      return;
    }
    const now = performance.now();
    if (stats.firstAt === 0) stats.firstAt = now;
    const verdict = admit(now);
    if (!verdict.ok) {
      stats.rejected++;
      reply(
        res,
        429,
        'application/json',
        JSON.stringify({
          errors: ['You’ve performed this action too many times. Please wait before trying again.'],
          error_type: 'rate_limit',
          extras: { wait_seconds: verdict.retryAfterS, time_left: `${verdict.retryAfterS} seconds` },
        }),
        { 'retry-after': String(verdict.retryAfterS), 'discourse-rate-limit-error-code': 'admin_api_key_rate_limit' },
      );
      return;
    }
    stats.accepted++;
    if (limit > 0) stats.acceptedAt.push(now - stats.firstAt);
    const n = stats.accepted;
    if (req.url === '/posts.json') {
      reply(res, 200, 'application/json', JSON.stringify({ id: n, topic_id: n, post_number: 1, created_at: new Date().toISOString(), username: 'system' }));
    } else {
      // Not a 32-character hash: the client then keeps the hash it computed itself.
      reply(res, 200, 'application/javascript', `{"url": "https://lists.example.org/hyperkitty/list/bench@lists.example.org/message/${n}/"}`);
    }
  });
});

server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => {
  const addr = server.address();
  process.stdout.write(`${JSON.stringify({ port: typeof addr === 'object' && addr ? addr.port : 0 })}\n`);
});
process.on('SIGTERM', () => {
  server.closeAllConnections();
  server.close(() => process.exit(0));
});
