/**
 * Share of a rate budget used, with the project's own Discourse client (src/targets/discourse/
 * client.ts: its RateBudget shares Discourse's site-wide admin bucket, 429 → Retry-After pause).
 * The local target allows `limit` requests per sliding `window-ms` (as Discourse's admin-API
 * limiter does) and answers the rest with Discourse's 429. Messages from the mbox go out as the
 * Discourse replay sends them (POST /posts.json, import_mode, created_at, journalled in SQLite).
 * Counted: requests the server accepted in the first `seconds` of the run against the budget for
 * that time (limit × seconds / window), and every 429.
 *
 * The client is told `client-limit` per window (the same budget normally; twice it to see how it
 * recovers from a budget set too high). Its window is the server's stretched by 61/60, as the
 * client stretches Discourse's 60 s to 61 s.
 */
import { rm } from 'node:fs/promises';
import { readMbox } from '../../src/mailman2/mbox.js';
import { StateDb } from '../../src/state/db.js';
import { Store } from '../../src/state/store.js';
import { DiscourseClient } from '../../src/targets/discourse/client.js';
import { PostCreateSchema } from '../../src/targets/discourse/schemas.js';
import { TargetServer } from '../replay/server-process.js';
import { flags, numberFlag, required, runMeasurement } from './emit.js';

const KEY = 'bench-api-key';

async function* posts(mbox: string): AsyncGenerator<{ key: string; params: Record<string, unknown> }> {
  for (let round = 0; ; round++) {
    let any = false;
    for await (const msg of readMbox(mbox, { list: 'bench' })) {
      if (msg.quarantined) continue;
      any = true;
      const m = msg.meta;
      const body = msg.raw.subarray(m.headerBytes).toString('utf8');
      yield {
        key: round ? `${m.messageId}#${round}` : m.messageId,
        params: {
          raw: body.slice(0, 32_000) || '*(no text)*',
          import_mode: 'true',
          skip_validations: 'true',
          auto_track: 'false',
          ...(m.date ? { created_at: m.date } : {}),
          title: m.threadSubject || m.subject || '(no subject)',
          category: 1,
        },
      };
    }
    if (!any) return;
  }
}

runMeasurement(async () => {
  const f = flags();
  const mbox = required(f, 'file');
  const stateFile = required(f, 'state');
  const limit = numberFlag(f, 'limit', 600);
  const windowMs = numberFlag(f, 'window-ms', 60_000);
  const seconds = numberFlag(f, 'seconds', 120);
  const clientLimit = numberFlag(f, 'client-limit', limit);
  const server = await TargetServer.start(KEY, { perWindow: limit, windowMs });
  for (const s of ['', '-wal', '-shm']) await rm(stateFile + s, { force: true });
  const store = await Store.open(await StateDb.open(stateFile));
  try {
    await store.ensureList('bench');
    const client = new DiscourseClient({
      baseUrl: server.origin,
      apiKey: KEY,
      apiUsername: 'system',
      requestsPerMinute: clientLimit,
      windowMs: (windowMs * 61) / 60,
    });
    const inflight = new Set<Promise<void>>();
    let done = 0;
    let failed = 0;
    const started = performance.now();
    const deadline = started + seconds * 1000;
    for await (const p of posts(mbox)) {
      if (performance.now() >= deadline) break;
      const task = (async () => {
        await store.journalPending('bench', 'archive', 'post', p.key);
        const r = await client.call({ method: 'POST', path: '/posts.json', json: p.params, schema: PostCreateSchema, accept: [400, 403, 404, 422] });
        const postId = r.ok && 'id' in r.data ? Number(r.data.id) : null;
        if (postId === null) failed++;
        done++;
        await store.journalDone('bench', 'archive', 'post', p.key, postId !== null ? { targetId: postId } : { status: 'failed', detail: { status: r.status } });
      })();
      inflight.add(task);
      const settle = (): void => void inflight.delete(task);
      task.then(settle, settle);
      // The budget queues requests itself; keep only enough waiting to never leave it idle.
      if (inflight.size >= 64) await Promise.race(inflight);
    }
    await Promise.all(inflight);
    const elapsed = (performance.now() - started) / 1000;
    const { acceptedAt, ...srv } = await server.stats();
    const acceptedInTime = acceptedAt.filter((t) => t < seconds * 1000).length;
    const budget = (limit * seconds * 1000) / windowMs;
    return {
      seconds: elapsed,
      messages: done,
      failed,
      sent: client.budget.sent,
      tooMany: client.budget.throttled,
      server: srv,
      limit,
      windowMs,
      clientLimit,
      budgetSeconds: seconds,
      budget,
      acceptedInTime,
      share: acceptedInTime / budget,
    };
  } finally {
    await store.db.close();
    for (const s of ['', '-wal', '-shm']) await rm(stateFile + s, { force: true });
    server.stop();
  }
});
