/**
 * The adaptive in-flight limit (src/pipeline/concurrency-tuner.ts):
 *  - with an injected clock, against a discrete-event model of a server with k parallel slots
 *    (each request takes t ms, extra ones queue): where it settles, the throughput it achieves,
 *    overload, a server that slows down under contention, a capacity that changes mid-run;
 *  - the pool that applies a changing limit;
 *  - over real HTTP on loopback, against a simulated saturating server (k requests served in
 *    parallel, each taking t ms; the rest queue, or get 503): the tuner alone, and replayOverHttp
 *    with `concurrency: 'auto'` posting a generated archive to it.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { ConcurrencyTuner, FixedConcurrency, runPool, type ConcurrencyTunerOptions, type Ticket } from '../src/pipeline/concurrency-tuner.js';
import { replayOverHttp } from '../src/targets/mailman3/replay-http.js';
import { prng } from './helpers/prng.js';
import { indexedGeneratedList, RecordingHyperKittyClient, repliesAfterParents } from './helpers/generated-replay.js';
import { sampleConfig } from './helpers/sample.js';

interface ModelServer {
  /** Parallel slots; may change with the model time (ms). */
  slots: number | ((now: number) => number);
  /** Service time of one request in ms. */
  serviceMs: number;
  /** Service times vary uniformly by ± this share. */
  jitter?: number;
  /** Each request beyond the slots in the system makes every service this much slower (lock contention). */
  contention?: number;
  /** More requests than this in the system are refused at once (503) instead of queued; the client asks again 1 ms later. */
  refuseAbove?: number;
}

interface ModelRun {
  seconds: number;
  perSecond: number;
  refused: number;
  maxInFlight: number;
  finalLimit: number;
  tuner: ConcurrencyTuner;
}

/**
 * A closed loop in model time: the client keeps `tuner.limit` messages out, asking again for a
 * refused one (and then reporting it as overload, as replayOverHttp does for a retried message);
 * the server serves `slots` at a time, first come first served. Deterministic for a seed.
 */
function runModel(server: ModelServer, requests: number, opts: ConcurrencyTunerOptions = {}, seed = 1): ModelRun {
  let now = 0;
  const random = prng(seed);
  const tuner = new ConcurrencyTuner({ ...opts, now: () => now });
  interface Req { ticket: Ticket; done: number; refusedNow: boolean; refusedOnce: boolean }
  const waiting: Req[] = [];
  const inService: Req[] = [];
  let outstanding = 0;
  let finished = 0;
  let refused = 0;
  let maxInFlight = 0;
  let nextId = 0;
  const slots = (): number => (typeof server.slots === 'number' ? server.slots : server.slots(now));
  const serviceTime = (): number =>
    server.serviceMs * (1 + (server.jitter ?? 0) * (random() * 2 - 1)) * (1 + (server.contention ?? 0) * Math.max(0, outstanding - slots()));
  const arrive = (req: Req): void => {
    const inSystem = waiting.length + inService.filter((r) => !r.refusedNow).length;
    if (server.refuseAbove !== undefined && inSystem >= server.refuseAbove) {
      // Answered at once with 503; the client asks again 1 ms later.
      req.refusedNow = req.refusedOnce = true;
      req.done = now + 1;
      inService.push(req);
    } else {
      req.refusedNow = false;
      waiting.push(req);
    }
  };
  const fill = (): void => {
    while (outstanding < tuner.limit && nextId < requests) {
      nextId++;
      outstanding++;
      maxInFlight = Math.max(maxInFlight, outstanding);
      arrive({ ticket: tuner.begin(), done: 0, refusedNow: false, refusedOnce: false });
    }
    while (waiting.length && inService.filter((r) => !r.refusedNow).length < slots()) {
      const r = waiting.shift()!;
      r.done = now + serviceTime();
      inService.push(r);
    }
  };
  fill();
  while (finished < requests) {
    inService.sort((a, b) => a.done - b.done);
    const r = inService.shift()!;
    now = r.done;
    if (r.refusedNow) {
      refused++;
      arrive(r);
    } else {
      outstanding--;
      finished++;
      tuner.end(r.ticket, r.refusedOnce ? 'overload' : 'ok');
    }
    fill();
  }
  return { seconds: now / 1000, perSecond: requests / (now / 1000), refused, maxInFlight, finalLimit: tuner.limit, tuner };
}

describe('ConcurrencyTuner with an injected clock', () => {
  it('waits for a full window of completions before changing the level, then doubles while the rate rises', () => {
    let now = 0;
    // Windows of 8 completions at 2 and 4 in flight, 16 at 8: whole rounds of this server's answers.
    const tuner = new ConcurrencyTuner({ now: () => now, initial: 2, windowMin: 8, windowPerLevel: 2 });
    expect(tuner.limit).toBe(2);
    const history: number[] = [];
    // A server that answers each request 100 ms after it was sent, however many are out (never saturates).
    let out: { ticket: Ticket; at: number }[] = [];
    for (let step = 0; step < 40; step++) {
      while (out.length < tuner.limit) out.push({ ticket: tuner.begin(), at: now + 100 });
      out.sort((a, b) => a.at - b.at);
      const first = out.shift()!;
      now = first.at;
      tuner.end(first.ticket, 'ok');
      history.push(tuner.limit);
    }
    // The first completion ends the warm-up; 8 more close the first window at 2 in flight.
    expect(history.slice(0, 8)).toEqual(Array(8).fill(2));
    expect(history[8]).toBe(4);
    expect(history).toContain(8);
    expect(Math.max(...history)).toBeLessThanOrEqual(16);
    const { steps } = tuner.report();
    expect(steps.slice(0, 3).map((s) => [s.concurrency, s.reason])).toEqual([[2, 'start'], [4, 'climb'], [8, 'climb']]);
    expect(steps[0]!.perSecond).toBeCloseTo(20, 5); // 2 in flight, 100 ms each
    expect(steps[1]!.perSecond).toBeCloseTo(40, 5);
  });

  it.each([1, 2, 3, 4, 5, 6, 8, 12])('settles near the server\'s %i slots and achieves 90 percent of its capacity or more', (k) => {
    const ideal = k / 0.1;
    for (const seed of [1, 2]) {
      const run = runModel({ slots: k, serviceMs: 100, jitter: 0.3 }, 3000, {}, seed);
      const { settled } = run.tuner.report();
      expect(settled, JSON.stringify(run.tuner.report().steps.slice(0, 12))).toBeGreaterThanOrEqual(k);
      expect(settled).toBeLessThanOrEqual(Math.max(k + 1, Math.ceil(k * 1.5)));
      expect(run.perSecond / ideal).toBeGreaterThanOrEqual(0.9);
    }
  });

  it('is deterministic for the same completions', () => {
    const a = runModel({ slots: 4, serviceMs: 100, jitter: 0.5 }, 2000, {}, 7).tuner.report();
    const b = runModel({ slots: 4, serviceMs: 100, jitter: 0.5 }, 2000, {}, 7).tuner.report();
    expect(b).toEqual(a);
  });

  it('stays within min and max', () => {
    const wide = runModel({ slots: 40, serviceMs: 100 }, 3000, { max: 16 });
    expect(wide.maxInFlight).toBe(16);
    expect(wide.tuner.report().settled).toBe(16);
    const narrow = runModel({ slots: 1, serviceMs: 100 }, 500, { min: 3, initial: 1, max: 5 });
    expect(narrow.maxInFlight).toBeLessThanOrEqual(5);
    expect(narrow.tuner.report().steps.every((s) => s.concurrency >= 3 && s.concurrency <= 5)).toBe(true);
    const fixed = runModel({ slots: 8, serviceMs: 100 }, 500, { min: 3, max: 3 });
    expect(fixed.maxInFlight).toBe(3);
    expect(fixed.tuner.report().steps.map((s) => s.concurrency)).toEqual([3]);
  });

  it('does not go past the knee of a server that slows down under contention', () => {
    for (const k of [2, 4]) {
      const run = runModel({ slots: k, serviceMs: 100, jitter: 0.3, contention: 0.2 }, 3000);
      expect(run.tuner.report().settled).toBe(k);
      expect(run.perSecond / (k / 0.1)).toBeGreaterThanOrEqual(0.9);
    }
  });

  it('backs off on overload and does not retry the level that failed for a while', () => {
    let now = 0;
    const tuner = new ConcurrencyTuner({ now: () => now, initial: 8, max: 8, windowMin: 10, windowPerLevel: 1 });
    const old = Array.from({ length: 8 }, () => tuner.begin());
    now += 50;
    tuner.end(old[0]!, 'overload');
    expect(tuner.limit).toBe(4);
    // The other requests of the same burst were sent before the back-off: not a new overload.
    now += 1;
    tuner.end(old[1]!, 'overload');
    expect(tuner.limit).toBe(4);
    // Nor is one sent after the back-off while older ones are still out (they still load the server).
    const early = tuner.begin();
    now += 50;
    tuner.end(early, 'overload');
    expect(tuner.limit).toBe(4);
    // Once the older requests are back, an overload halves again.
    for (const t of old.slice(2)) tuner.end(t, 'ok');
    const after = tuner.begin();
    now += 50;
    tuner.end(after, 'overload');
    expect(tuner.limit).toBe(2);
    expect(tuner.report().overloads).toBe(4);
    expect(tuner.report().steps.map((s) => [s.concurrency, s.reason])).toEqual([[8, 'start'], [4, 'overload'], [2, 'overload']]);
    // The level that failed (4) is not tried again: the server answers at once from now on.
    let last = tuner.limit;
    for (let i = 0; i < 300; i++) {
      const batch = Array.from({ length: tuner.limit }, () => tuner.begin());
      now += 100;
      for (const t of batch) tuner.end(t, 'ok');
      last = Math.max(last, tuner.limit);
      if (i === 150) expect(last).toBeLessThanOrEqual(3);
    }
    // ... until the memory of the overload has run out.
    expect(last).toBeGreaterThanOrEqual(4);
  });

  it('settles below a server that refuses (503) what it cannot take, with few refusals', () => {
    for (const k of [2, 4, 6]) {
      const run = runModel({ slots: k, serviceMs: 100, jitter: 0.3, refuseAbove: k }, 3000);
      const { settled } = run.tuner.report();
      expect(settled).toBeLessThanOrEqual(k);
      expect(settled).toBeGreaterThanOrEqual(k - 1);
      // Messages that had to be sent again: only around the tries of a level above the slots.
      expect(run.tuner.report().overloads / 3000).toBeLessThan(0.02);
      expect(run.perSecond / (k / 0.1), JSON.stringify(run.tuner.report())).toBeGreaterThanOrEqual(0.85);
    }
  });

  it('follows a server whose capacity changes during the run', () => {
    const up = runModel({ slots: (now) => (now < 60_000 ? 2 : 6), serviceMs: 100, jitter: 0.3 }, 6000);
    expect(up.finalLimit).toBeGreaterThanOrEqual(6);
    const levels = up.tuner.report().steps.map((s) => s.concurrency);
    expect(levels).toContain(2);
    // After the change, the time lost against an ideal client is small: 60 s at 20/s, then 60/s.
    const ideal = 60 + (6000 - 1200) / 60;
    expect(ideal / up.seconds).toBeGreaterThanOrEqual(0.85);
  });

  it('FixedConcurrency never changes', () => {
    const fixed = new FixedConcurrency(3);
    for (let i = 0; i < 10; i++) fixed.end(fixed.begin(), i % 2 ? 'overload' : 'ok');
    expect(fixed.limit).toBe(3);
    expect(fixed.report()).toEqual({ settled: 3, steps: [], omittedSteps: 0, overloads: 0 });
  });
});

describe('runPool', () => {
  it('starts tasks in index order, never more than the limit at once, and follows a limit that changes', async () => {
    let limit = 2;
    let active = 0;
    const seen: { index: number; active: number; limit: number }[] = [];
    await runPool(
      60,
      () => limit,
      async (i) => {
        active++;
        seen.push({ index: i, active, limit });
        await new Promise((r) => setTimeout(r, 2));
        if (i === 10) limit = 5;
        if (i === 35) limit = 1;
        active--;
      },
    );
    expect(seen.map((s) => s.index)).toEqual(Array.from({ length: 60 }, (_, i) => i));
    expect(Math.max(...seen.map((s) => s.active))).toBe(5);
    // Once the limit was lowered, the extra tasks finished and no new one ran beside another.
    expect(seen.filter((s) => s.index > 45).every((s) => s.active === 1)).toBe(true);
    expect(seen.every((s) => s.active <= Math.max(s.limit, 5))).toBe(true);
  });

  it('starts nothing once stopped, and rethrows the first error after the running tasks ended', async () => {
    const started: number[] = [];
    let stop = false;
    await runPool(100, () => 3, async (i) => {
      started.push(i);
      if (i === 4) stop = true;
      await new Promise((r) => setTimeout(r, 1));
    }, () => stop);
    expect(started).toEqual([0, 1, 2, 3, 4]);

    const ended: number[] = [];
    await expect(
      runPool(100, () => 3, async (i) => {
        await new Promise((r) => setTimeout(r, i === 5 ? 1 : 5));
        if (i === 5) throw new Error('boom at 5');
        ended.push(i);
      }),
    ).rejects.toThrow('boom at 5');
    // 3 and 4 were running beside 5 when it failed: they ended before the pool returned; nothing after 5 started.
    expect(ended.sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4]);
  });
});

/**
 * A simulated saturating server on loopback: `slots` requests are served in parallel, each for
 * `serviceMs`; further ones wait in a queue, or, with `refuseBeyondSlots`, are answered 503 at once.
 * It answers every POST with the same small JSON (`{"url": …}`, so that HyperKittyClient accepts
 * it); it reads nothing from the request and is no stand-in for HyperKitty's behaviour.
 */
function saturatingServer(opts: { slots: number; serviceMs: number; refuseBeyondSlots?: boolean }): Promise<{ server: Server; url: string; stats: { served: number; refused: number; maxBusy: number } }> {
  const stats = { served: 0, refused: 0, maxBusy: 0 };
  let busy = 0;
  const queue: (() => void)[] = [];
  const next = (): void => {
    while (busy < opts.slots && queue.length) {
      busy++;
      stats.maxBusy = Math.max(stats.maxBusy, busy);
      const serve = queue.shift()!;
      setTimeout(() => {
        busy--;
        serve();
        next();
      }, opts.serviceMs);
    }
  };
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      if (opts.refuseBeyondSlots && busy >= opts.slots) {
        stats.refused++;
        res.writeHead(503, { 'content-type': 'text/plain' }).end('busy');
        return;
      }
      queue.push(() => {
        stats.served++;
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ url: 'http://127.0.0.1/saturating-server/' }));
      });
      next();
    });
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => resolve({ server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`, stats }));
  });
}

describe('over loopback HTTP, against a simulated saturating server', () => {
  let server: Server | undefined;
  afterEach(async () => {
    await new Promise((r) => server?.close(r) ?? r(undefined));
    server = undefined;
  });

  it('settles at the server\'s 4 slots and reaches ≥ 90 % of its capacity', async () => {
    const slots = 4;
    const serviceMs = 20;
    const requests = 1000;
    const sim = await saturatingServer({ slots, serviceMs });
    server = sim.server;
    const tuner = new ConcurrencyTuner();
    const began = performance.now();
    await runPool(requests, () => tuner.limit, async () => {
      const ticket = tuner.begin();
      const res = await fetch(sim.url, { method: 'POST', body: 'x' });
      await res.text();
      tuner.end(ticket, res.status === 200 ? 'ok' : 'overload');
    });
    const perSecond = requests / ((performance.now() - began) / 1000);
    const report = tuner.report();
    const detail = JSON.stringify({ perSecond, steps: report.steps });
    expect(sim.stats.served).toBe(requests);
    expect(report.settled, detail).toBeGreaterThanOrEqual(slots);
    expect(report.settled, detail).toBeLessThanOrEqual(slots + 2);
    expect(perSecond / (slots / (serviceMs / 1000)), detail).toBeGreaterThanOrEqual(0.9);
  }, 30_000);

  it('backs off when the server answers 503 beyond its slots', async () => {
    const slots = 3;
    const sim = await saturatingServer({ slots, serviceMs: 20, refuseBeyondSlots: true });
    server = sim.server;
    const tuner = new ConcurrencyTuner({ initial: 8, max: 16 });
    const requests = 600;
    const began = performance.now();
    // As replayOverHttp does: one ticket per message; a message that had to be sent again is overload.
    await runPool(requests, () => tuner.limit, async () => {
      const ticket = tuner.begin();
      let overloaded = false;
      for (;;) {
        const res = await fetch(sim.url, { method: 'POST', body: 'x' });
        await res.text();
        if (res.status === 200) break;
        overloaded = true;
        await new Promise((r) => setTimeout(r, 5));
      }
      tuner.end(ticket, overloaded ? 'overload' : 'ok');
    });
    const perSecond = requests / ((performance.now() - began) / 1000);
    const report = tuner.report();
    const detail = JSON.stringify({ perSecond, refused: sim.stats.refused, steps: report.steps });
    expect(report.steps[1], detail).toMatchObject({ reason: 'overload' });
    expect(report.steps[1]!.concurrency).toBeLessThan(8);
    expect(report.settled, detail).toBeLessThanOrEqual(slots);
    expect(sim.stats.maxBusy).toBe(slots);
    // Refusals come in short bursts when a level above the slots is tried, not all along.
    expect(sim.stats.refused, detail).toBeLessThan(200);
    expect(report.settled, detail).toBeGreaterThanOrEqual(slots - 1);
    // Starting twice too high costs the first seconds; the run as a whole still gets most of the capacity.
    expect(perSecond / (slots / 0.02), detail).toBeGreaterThanOrEqual(0.6);
  }, 30_000);

  it('replayOverHttp with concurrency auto: every message once, parents answered before their replies, settles at the slots', async () => {
    const slots = 3;
    const sim = await saturatingServer({ slots, serviceMs: 15, refuseBeyondSlots: true });
    server = sim.server;
    const cfg = await sampleConfig();
    const { db, store, rows, generated, ctx } = await indexedGeneratedList(cfg, { seed: 11, targetBytes: 3_000_000 });
    try {
      expect(rows.length).toBeGreaterThan(200);
      expect(rows.length).toBeLessThanOrEqual(generated);
      const client = new RecordingHyperKittyClient({ baseUrl: sim.url, archiverKey: 'unused', backoffMs: 5 });
      const stats = await replayOverHttp(ctx, { client, fqdn: 'gen@lists.example.org', concurrency: 'auto' });

      expect(stats).toMatchObject({ total: rows.length, accepted: rows.length, refused: 0, stopped: false });
      const journal = await store.journal('gen', 'archive');
      expect(journal.filter((j) => j.status === 'done')).toHaveLength(rows.length);
      expect(sim.stats.served).toBe(rows.length);
      const replies = repliesAfterParents(rows, client.timeline, (sent, parentAnswered) => expect(sent).toBeGreaterThanOrEqual(parentAnswered));
      expect(replies).toBeGreaterThan(50);
      expect(stats.concurrencySettled, JSON.stringify(stats.concurrencyTrace)).toBeLessThanOrEqual(slots);
      expect(stats.concurrencySettled).toBeGreaterThanOrEqual(2);
      expect(stats.concurrencyTrace[0]).toMatchObject({ step: 1, concurrency: 2, reason: 'start' });
    } finally {
      await db.close();
    }
  }, 60_000);
});
