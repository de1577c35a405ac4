// Hostile input: seeded mutations of the real fixtures (bit flips, truncations, byte insertions and
// deletions, duplicated regions, swapped chunks, format tokens, huge lengths in pickle opcodes) fed
// to the pickle reader (and the config.pck mapping), the mbox reader and the pipermail reader.
// Each input is parsed in a worker thread with a memory ceiling and a per-input time limit, so a
// hang or a runaway allocation is caught and named. Checks: no exception other than the documented
// ones (PickleError, UserError); the mbox reader accounts for every byte (the entries it yields,
// quarantined ones included, tile the file and keep the raw bytes exactly); the pipermail reader
// returns every article page or names it in a problem; the index phase quarantines what cannot be
// migrated (raw bytes kept in the reports folder with the reason) and counts it.
// MM2M_FUZZ_ITERATIONS=N runs N inputs per reader (default small); MM2M_FUZZ_SEED replays a run.
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { cp, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StateDb } from '../src/state/db.js';
import { indexMbox } from '../src/state/index-mbox.js';
import { Store } from '../src/state/store.js';
import { prng } from './helpers/prng.js';
import { ROOT, SAMPLE_LISTS, SAMPLE_ROOT } from './helpers/sample.js';

const SEED = Number(process.env.MM2M_FUZZ_SEED ?? Math.floor(Math.random() * 1_000_000));
const ITERATIONS = process.env.MM2M_FUZZ_ITERATIONS ? Number(process.env.MM2M_FUZZ_ITERATIONS) : null;
/** Time one input may take in the worker; generous because CI machines are loaded. */
const PER_INPUT_MS = Number(process.env.MM2M_FUZZ_TIMEOUT_MS ?? 10_000);
/** The worker's V8 heap ceiling: an input that needs more crashes it, and the test names the input. */
const HEAP_LIMIT_MB = 256;
/** Test time limit: the default inputs fit in seconds; a long run gets room per input. */
const TIME_LIMIT = ITERATIONS ? 60_000 + ITERATIONS * 100 : 120_000;
const UPSTREAM = fileURLToPath(new URL('../../shared/fixtures/upstream/', import.meta.url));

// --- mutations ---------------------------------------------------------------------------------

type Rand = () => number;
const int = (r: Rand, n: number): number => Math.floor(r() * n);

interface Mutation {
  bytes: Buffer;
  what: string;
}

function flipBits(r: Rand, b: Buffer): Mutation {
  const out = Buffer.from(b);
  const n = 1 + int(r, 8);
  for (let i = 0; i < n; i++) {
    const at = int(r, out.length);
    out[at] = out[at]! ^ (1 << int(r, 8));
  }
  return { bytes: out, what: `${n} bit flips` };
}

function truncate(r: Rand, b: Buffer): Mutation {
  const at = int(r, b.length);
  return { bytes: Buffer.from(b.subarray(0, at)), what: `truncated at ${at}` };
}

function insertBytes(r: Rand, b: Buffer): Mutation {
  const at = int(r, b.length + 1);
  const n = 1 + int(r, 64);
  const junk = Buffer.alloc(n);
  for (let i = 0; i < n; i++) junk[i] = int(r, 256);
  return { bytes: Buffer.concat([b.subarray(0, at), junk, b.subarray(at)]), what: `${n} random bytes inserted at ${at}` };
}

function deleteBytes(r: Rand, b: Buffer): Mutation {
  const at = int(r, b.length);
  const n = 1 + int(r, Math.min(256, b.length - at));
  return { bytes: Buffer.concat([b.subarray(0, at), b.subarray(at + n)]), what: `${n} bytes deleted at ${at}` };
}

function duplicateRegion(r: Rand, b: Buffer): Mutation {
  const from = int(r, b.length);
  const n = 1 + int(r, Math.min(8192, b.length - from));
  const to = int(r, b.length + 1);
  const times = 1 + int(r, 3);
  const copies = Buffer.concat(new Array<Buffer>(times).fill(b.subarray(from, from + n)));
  return { bytes: Buffer.concat([b.subarray(0, to), copies, b.subarray(to)]), what: `${n} bytes at ${from} copied ${times}x to ${to}` };
}

function swapChunks(r: Rand, b: Buffer): Mutation {
  if (b.length < 4) return flipBits(r, b);
  const cuts = [int(r, b.length), int(r, b.length), int(r, b.length), int(r, b.length)].sort((x, y) => x - y) as [number, number, number, number];
  const [a, c, d, e] = cuts;
  return {
    bytes: Buffer.concat([b.subarray(0, a), b.subarray(d, e), b.subarray(c, d), b.subarray(a, c), b.subarray(e)]),
    what: `chunks ${a}-${c} and ${d}-${e} swapped`,
  };
}

function insertToken(tokens: string[]): (r: Rand, b: Buffer) => Mutation {
  return (r, b) => {
    const at = int(r, b.length + 1);
    const t = tokens[int(r, tokens.length)]!;
    const times = 1 + int(r, 4);
    return { bytes: Buffer.concat([b.subarray(0, at), Buffer.from(t.repeat(times), 'latin1'), b.subarray(at)]), what: `${JSON.stringify(t.slice(0, 40))} x${times} inserted at ${at}` };
  };
}

const MBOX_TOKENS = [
  '\nFrom ',
  '\nFrom nobody Mon Jan  1 00:00:00 2001\n',
  '\nFrom bob@example.org Sat Feb 30 25:61:00 2003\nSubject: x\n',
  '\n>From ',
  '\r\n',
  '\0',
  '\n\n',
  'x'.repeat(70_000),
  '\nContent-Type: multipart/mixed; boundary="b"\n\n--b\n',
  '\nContent-Transfer-Encoding: base64\n\n====\n',
  '=?utf-8?B?',
  '=?x-unknown?Q?=FF=FE?=',
  '\nMessage-ID: <>\n',
  '\nDate: Thu, 99 Foo 99999 99:99:99 +9999\n',
  '\nFrom: "\\"<@>" <@@>\n',
  '\nSubject: FOLDER INTERNAL DATA\nX-IMAP: 1\n',
];

const HTML_TOKENS = ['<!--', '-->', '<!--beginarticle-->', '<!--endarticle-->', '<A HREF="', '<PRE>', '</PRE>', '<META http-equiv="Content-Type" content="text/html; charset=x-bogus">', '&#xFFFFFFFF;', '<LINK REL="made" HREF="mailto:', '%', '\0', '<', '"'];

// Opcodes of pickle protocols 0-2, by how their argument is laid out (for the huge-length mutation).
const LEN1 = new Set([0x55, 0x8a]); // SHORT_BINSTRING, LONG1
const LEN4 = new Set([0x54, 0x58, 0x8b]); // BINSTRING, BINUNICODE, LONG4
const ARG: Record<number, number> = { 0x4b: 1, 0x68: 1, 0x71: 1, 0x80: 1, 0x82: 1, 0x4d: 2, 0x83: 2, 0x4a: 4, 0x6a: 4, 0x72: 4, 0x84: 4, 0x47: 8 };
const LINE = new Set([0x46, 0x49, 0x4c, 0x53, 0x56, 0x50, 0x70, 0x67]); // FLOAT INT LONG STRING UNICODE PERSID PUT GET
const TWO_LINES = new Set([0x63, 0x69]); // GLOBAL INST

/** Offsets of opcodes with a length or index argument, found by walking the pickle. */
function pickleLengthSites(b: Buffer): { at: number; op: number }[] {
  const sites: { at: number; op: number }[] = [];
  let i = 0;
  while (i < b.length) {
    const op = b[i]!;
    if (op === 0x2e) break;
    if (LEN1.has(op)) {
      sites.push({ at: i, op });
      i += 2 + (b[i + 1] ?? 0);
    } else if (LEN4.has(op)) {
      sites.push({ at: i, op });
      i += 5 + (i + 5 <= b.length ? b.readUInt32LE(i + 1) : 0);
    } else if (ARG[op] !== undefined) {
      if (op === 0x68 || op === 0x6a || op === 0x71 || op === 0x72) sites.push({ at: i, op });
      i += 1 + ARG[op]!;
    } else if (LINE.has(op)) {
      if (op === 0x49 || op === 0x4c || op === 0x70 || op === 0x67) sites.push({ at: i, op });
      const nl = b.indexOf(0x0a, i + 1);
      i = nl < 0 ? b.length : nl + 1;
    } else if (TWO_LINES.has(op)) {
      const nl = b.indexOf(0x0a, i + 1);
      const nl2 = nl < 0 ? -1 : b.indexOf(0x0a, nl + 1);
      i = nl2 < 0 ? b.length : nl2 + 1;
    } else i += 1;
  }
  return sites;
}

function hugeLength(r: Rand, b: Buffer): Mutation {
  const sites = pickleLengthSites(b);
  if (!sites.length) return flipBits(r, b);
  const { at, op } = sites[int(r, sites.length)]!;
  const out = Buffer.from(b);
  const huge = [0xffffffff, 0x7fffffff, 0x80000000, 0x10000000, b.length + 1][int(r, 5)]!;
  if (LEN1.has(op) || op === 0x68 || op === 0x71) {
    out[at + 1] = 0xff;
    return { bytes: out, what: `opcode 0x${op.toString(16)} at ${at}: 1-byte argument set to 255` };
  }
  if (LEN4.has(op) || op === 0x6a || op === 0x72) {
    if (at + 5 > out.length) return flipBits(r, b);
    out.writeUInt32LE(huge >>> 0, at + 1);
    return { bytes: out, what: `opcode 0x${op.toString(16)} at ${at}: length/index set to ${huge}` };
  }
  // Text opcodes (INT, LONG, PUT, GET): replace the number on the line with a huge one.
  const nl = b.indexOf(0x0a, at + 1);
  if (nl < 0) return flipBits(r, b);
  const digits = ['99999999999999999999999999', '-1', '4294967296', '1e308', '9'.repeat(5000)][int(r, 5)]!;
  return { bytes: Buffer.concat([b.subarray(0, at + 1), Buffer.from(digits), b.subarray(nl)]), what: `opcode 0x${op.toString(16)} at ${at}: number set to ${digits.slice(0, 30)}` };
}

const GENERIC = [flipBits, truncate, insertBytes, deleteBytes, duplicateRegion, swapChunks];

function mutate(r: Rand, b: Buffer, extra: ((r: Rand, b: Buffer) => Mutation)[]): Mutation {
  const ops = [...GENERIC, ...extra];
  // One to three stacked mutations: single edits find shallow bugs, stacked ones reach further.
  let cur: Mutation = { bytes: b, what: '' };
  const n = 1 + int(r, 3);
  const steps: string[] = [];
  for (let i = 0; i < n; i++) {
    if (!cur.bytes.length) break;
    cur = ops[int(r, ops.length)]!(r, cur.bytes);
    steps.push(cur.what);
  }
  return { bytes: cur.bytes, what: steps.join('; ') };
}

// --- the worker that parses --------------------------------------------------------------------

const DIST = pathToFileURL(path.join(ROOT, 'dist/src/')).href;
const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const v8 = require('node:v8');
const dist = ${JSON.stringify(DIST)};
(async () => {
  const pickle = await import(dist + 'mailman2/pickle.js');
  const listConfig = await import(dist + 'mailman2/list-config.js');
  const mbox = await import(dist + 'mailman2/mbox.js');
  const pipermail = await import(dist + 'mailman2/pipermail.js');
  const { UserError } = await import(dist + 'problems.js');
  const documented = { pickle: [pickle.PickleError], config: [pickle.PickleError, UserError], mbox: [UserError], pipermail: [UserError] };
  parentPort.on('message', async (job) => {
    const heapBefore = v8.getHeapStatistics().used_heap_size;
    let result;
    try {
      if (job.reader === 'pickle') {
        const r = pickle.parsePickle(Buffer.from(job.bytes));
        result = { ok: true, summary: { end: r.end } };
      } else if (job.reader === 'config') {
        const root = pickle.parsePickle(Buffer.from(job.bytes)).value;
        if (!(root instanceof pickle.PyDict)) result = { ok: true, summary: { notADict: true } };
        else {
          const r = listConfig.listConfigFromPickle(root, { listName: job.list, file: 'fuzz/config.pck', size: job.bytes.byteLength });
          // The state database stores the mapped config as JSON.
          result = { ok: true, summary: { json: JSON.stringify(r.config).length, members: r.config.members.length, problems: r.problems.length } };
        }
      } else if (job.reader === 'mbox') {
        const entries = [];
        for await (const m of mbox.readMbox(job.file, { list: job.list, timeZone: 'America/New_York' })) {
          entries.push({ offset: m.offset, length: m.length, line: m.envelope ? m.envelope.line : null, raw: m.raw, quarantined: m.quarantined, problems: m.problems.length });
        }
        result = { ok: true, summary: { entries } };
      } else if (job.reader === 'pipermail') {
        const a = await pipermail.readPipermail(job.dir, { list: job.list, charset: job.charset });
        result = { ok: true, summary: { articles: a.articles.map((x) => x.file), strays: a.strayFiles, problems: a.problems.map((p) => ({ code: p.code, file: p.file ?? null, message: p.message })) } };
      }
    } catch (err) {
      const ok = (documented[job.reader] || []).some((E) => err instanceof E);
      result = { ok: false, documented: ok, name: err && err.name, message: String(err && err.message).slice(0, 500), stack: String(err && err.stack).slice(0, 2000) };
    }
    const heap = v8.getHeapStatistics().used_heap_size;
    parentPort.postMessage({ id: job.id, heap, grew: heap - heapBefore, ...result });
  });
  parentPort.postMessage({ ready: true });
})().catch((e) => parentPort.postMessage({ fatal: String(e && e.stack) }));
`;

interface Answer {
  id: number;
  ok: boolean;
  documented?: boolean;
  name?: string;
  message?: string;
  stack?: string;
  heap: number;
  summary?: unknown;
}

class Parser {
  private worker!: Worker;
  private nextId = 1;
  private pending = new Map<number, (a: Answer | Error) => void>();
  maxHeap = 0;

  async start(): Promise<void> {
    this.worker = new Worker(WORKER_SOURCE, { eval: true, resourceLimits: { maxOldGenerationSizeMb: HEAP_LIMIT_MB } });
    await new Promise<void>((resolve, reject) => {
      this.worker.once('error', reject);
      this.worker.on('message', (m: { ready?: boolean; fatal?: string } & Partial<Answer>) => {
        if (m.ready) return resolve();
        if (m.fatal) return reject(new Error(m.fatal));
        const done = this.pending.get(m.id!);
        this.pending.delete(m.id!);
        done?.(m as Answer);
      });
    });
    const fail = (err: Error): void => {
      for (const done of this.pending.values()) done(err);
      this.pending.clear();
    };
    this.worker.on('error', fail);
    this.worker.on('exit', (code) => fail(new Error(`parser worker exited (${code}); ERR_WORKER_OUT_OF_MEMORY means the input needed more than ${HEAP_LIMIT_MB} MB`)));
  }

  /** Parses one input; rejects on a hang (worker terminated and restarted) or a worker crash. */
  async parse(job: Record<string, unknown>): Promise<Answer> {
    const id = this.nextId++;
    const answer = await new Promise<Answer | Error>((resolve) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        resolve(new Error(`no answer within ${PER_INPUT_MS} ms (hang)`));
      }, PER_INPUT_MS);
      this.pending.set(id, (a) => {
        clearTimeout(timer);
        resolve(a);
      });
      const bytes = job.bytes as Buffer | undefined;
      this.worker.postMessage({ ...job, id, bytes: bytes ? new Uint8Array(bytes) : undefined });
    });
    if (answer instanceof Error) {
      await this.worker.terminate();
      await this.start();
      throw answer;
    }
    this.maxHeap = Math.max(this.maxHeap, answer.heap);
    return answer;
  }

  stop(): Promise<number> {
    this.worker.removeAllListeners('exit');
    return this.worker.terminate();
  }
}

// --- corpus -------------------------------------------------------------------------------------

function filesUnder(dir: string, pred: (f: string) => boolean): string[] {
  if (!existsSync(dir)) return [];
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...filesUnder(p, pred));
    else if (pred(p)) out.push(p);
  }
  return out.sort();
}

const PICKLES = [...filesUnder(SAMPLE_ROOT, (f) => f.endsWith('.pck')), ...filesUnder(path.join(UPSTREAM, 'mailman3'), (f) => f.endsWith('.pck'))];
const CONFIGS = PICKLES.filter((f) => path.basename(f).startsWith('config'));
const MBOXES = [
  ...SAMPLE_LISTS.map((l) => path.join(SAMPLE_ROOT, 'archives/private', `${l}.mbox`, `${l}.mbox`)),
  ...filesUnder(path.join(UPSTREAM, 'perceval'), (f) => f.endsWith('.mbox')),
];

const failures: string[] = [];
let parser: Parser;
let scratch: string;
const stats: Record<string, { inputs: number; ok: number; documented: number }> = {};
beforeAll(async () => {
  scratch = await mkdtemp(path.join(tmpdir(), 'mm2m-fuzz-'));
  parser = new Parser();
  await parser.start();
});
afterAll(async () => {
  await parser?.stop();
  console.log(`fuzz (seed ${SEED}): ${JSON.stringify(stats)}; worker heap peak ${Math.round(parser.maxHeap / 2 ** 20)} MB`);
  if (!failures.length) await rm(scratch, { recursive: true, force: true });
});

function count(reader: string, a: Answer): void {
  const s = (stats[reader] ??= { inputs: 0, ok: 0, documented: 0 });
  s.inputs++;
  if (a.ok) s.ok++;
  else if (a.documented) s.documented++;
}

/** Keeps a failing input for reproduction and describes it. */
async function keep(name: string, bytes: Buffer, why: string): Promise<string> {
  const file = path.join(scratch, `${name}-${createHash('sha1').update(bytes).digest('hex').slice(0, 10)}`);
  await writeFile(file, bytes);
  const line = `${why} (input kept in ${file}; MM2M_FUZZ_SEED=${SEED})`;
  failures.push(line);
  return line;
}

async function parseOrRecord(reader: string, label: string, job: Record<string, unknown>, input: Buffer): Promise<Answer | null> {
  let a: Answer;
  try {
    a = await parser.parse({ reader, ...job });
  } catch (err) {
    throw new Error(await keep(reader, input, `${label}: ${(err as Error).message}`));
  }
  count(reader, a);
  if (!a.ok && !a.documented) throw new Error(await keep(reader, input, `${label}: undocumented ${a.name}: ${a.message}\n${a.stack}`));
  return a;
}

const heapCeiling = (): number => 192 * 2 ** 20;

describe('pickle reader', () => {
  it('parses every real pickle unmutated (the corpus is sound)', async () => {
    expect(PICKLES.length).toBeGreaterThanOrEqual(4);
    for (const f of PICKLES) {
      const a = await parser.parse({ reader: 'pickle', bytes: readFileSync(f) });
      expect(a.ok, `${f}: ${a.message}`).toBe(true);
    }
  });

  it('mutated pickles: a value or a PickleError, never a hang, another exception or a large allocation', async () => {
    const n = ITERATIONS ?? 600;
    const r = prng(SEED);
    for (let i = 0; i < n; i++) {
      const f = PICKLES[i % PICKLES.length]!;
      const m = mutate(r, readFileSync(f), [hugeLength, hugeLength]);
      await parseOrRecord('pickle', `${path.basename(f)} #${i}: ${m.what}`, { bytes: m.bytes }, m.bytes);
    }
    expect(parser.maxHeap).toBeLessThan(heapCeiling());
  }, TIME_LIMIT);

  it('mutated config.pck files: a ListConfig (serialisable) or a PickleError/UserError', async () => {
    const n = ITERATIONS ?? 300;
    const r = prng(SEED + 1);
    for (let i = 0; i < n; i++) {
      const f = CONFIGS[i % CONFIGS.length]!;
      const m = mutate(r, readFileSync(f), [hugeLength]);
      await parseOrRecord('config', `${f} #${i}: ${m.what}`, { bytes: m.bytes, list: path.basename(path.dirname(f)).replace(/[^a-z0-9-]/g, '') || 'fuzz' }, m.bytes);
    }
    expect(parser.maxHeap).toBeLessThan(heapCeiling());
  }, TIME_LIMIT);
});

interface MboxEntry {
  offset: number;
  length: number;
  line: string | null;
  raw: Uint8Array;
  quarantined: boolean;
}

/** The entries must tile the file: contiguous, nothing but blank lines before the first, raw bytes exact. */
function mboxCoverage(file: Buffer, entries: MboxEntry[]): string | null {
  let pos = 0;
  for (const [k, e] of entries.entries()) {
    if (e.offset !== pos) {
      const gap = file.subarray(pos, e.offset);
      if (e.offset < pos || k > 0 || !/^\s*$/.test(gap.toString('latin1'))) return `entry ${k} starts at ${e.offset}, expected ${pos}: bytes ${pos}-${e.offset} are in no entry`;
    }
    const slice = file.subarray(e.offset, e.offset + e.length);
    let expectedRaw = slice;
    if (e.line !== null) {
      const nl = slice.indexOf(0x0a);
      const head = slice.subarray(0, nl < 0 ? slice.length : nl).toString('latin1').replace(/\r$/, '');
      if (head !== e.line) return `entry ${k} at ${e.offset}: From_ line ${JSON.stringify(e.line.slice(0, 60))} is not the file's ${JSON.stringify(head.slice(0, 60))}`;
      expectedRaw = slice.subarray(nl < 0 ? slice.length : nl + 1);
    }
    if (!Buffer.from(e.raw).equals(expectedRaw)) return `entry ${k} at ${e.offset}: raw bytes differ from the file's (${e.raw.byteLength} vs ${expectedRaw.length} bytes)`;
    pos = e.offset + e.length;
  }
  if (pos !== file.length && !/^\s*$/.test(file.subarray(pos).toString('latin1'))) return `bytes ${pos}-${file.length} are in no entry`;
  return null;
}

describe('mbox reader', () => {
  it('mutated mboxes: every byte is in a yielded or quarantined entry, raw bytes exact, no exception', async () => {
    const n = ITERATIONS ?? 200;
    const r = prng(SEED + 2);
    const file = path.join(scratch, 'fuzz.mbox');
    for (let i = 0; i < n; i++) {
      const src = MBOXES[i % MBOXES.length]!;
      const m = mutate(r, readFileSync(src), [insertToken(MBOX_TOKENS), insertToken(MBOX_TOKENS)]);
      await writeFile(file, m.bytes);
      const label = `${path.basename(src)} #${i}: ${m.what}`;
      const a = await parseOrRecord('mbox', label, { file, list: 'fuzz' }, m.bytes);
      if (!a?.ok) continue;
      const bad = mboxCoverage(m.bytes, (a.summary as { entries: MboxEntry[] }).entries);
      if (bad) throw new Error(await keep('mbox', m.bytes, `${label}: ${bad}`));
    }
    expect(parser.maxHeap).toBeLessThan(heapCeiling());
  }, TIME_LIMIT);

  it('the index phase keeps what it cannot migrate in the reports folder with the reason, and counts it', async () => {
    const r = prng(SEED + 3);
    const n = Math.max(8, Math.floor((ITERATIONS ?? 200) / 20));
    let quarantinedSeen = 0;
    for (let i = 0; i < n; i++) {
      const src = MBOXES[i % MBOXES.length]!;
      // Junk before the first From_ line is the case that must be quarantined; mutations come on top.
      const junk = Buffer.from(`garbage line ${i}\nwithout a separator\n`);
      const mutated = mutate(r, readFileSync(src), [insertToken(MBOX_TOKENS)]);
      const m = { bytes: Buffer.concat([junk, mutated.bytes]), what: `junk prepended; ${mutated.what}` };
      const dir = await mkdtemp(path.join(scratch, 'index-'));
      const mboxPath = path.join(dir, 'list.mbox');
      await writeFile(mboxPath, m.bytes);
      const db = await StateDb.open(path.join(dir, 'state.sqlite'));
      try {
        const store = await Store.open(db);
        await store.ensureList('fuzz');
        const quarantineDir = path.join(dir, 'reports', 'fuzz', 'quarantine');
        const result = await indexMbox(store, { list: 'fuzz', mboxPath, timeZone: 'UTC', quarantineDir });
        const msgs = (await db.get<{ n: number }>("SELECT count(*) AS n FROM messages WHERE list = 'fuzz'"))!.n;
        const q = await db.all<{ ordinal: number; offset: number; reason: string; path: string }>("SELECT ordinal, offset, reason, path FROM quarantine WHERE list = 'fuzz' ORDER BY ordinal");
        const a = await parser.parse({ reader: 'mbox', file: mboxPath, list: 'fuzz' });
        const entries = (a.summary as { entries: MboxEntry[] }).entries;
        const label = `${path.basename(src)} #${i}: ${m.what}`;
        expect(msgs + q.length, `${label}: every entry is a message row or a quarantine row`).toBe(entries.length);
        expect(result.quarantined, label).toBe(q.length);
        expect(q.length, `${label}: the leading junk is quarantined`).toBeGreaterThan(0);
        for (const row of q) {
          expect(row.reason.length, label).toBeGreaterThan(10);
          expect(path.dirname(row.path)).toBe(quarantineDir);
          const entry = entries.find((e) => e.offset === row.offset)!;
          expect(Buffer.from(await readFile(row.path)).equals(Buffer.from(entry.raw)), `${label}: quarantined bytes kept exactly`).toBe(true);
          expect(statSync(row.path).mode & 0o077, 'quarantine file is owner-only').toBe(0);
        }
        quarantinedSeen += q.length;
      } finally {
        await db.close();
      }
    }
    expect(quarantinedSeen).toBeGreaterThanOrEqual(n);
  }, TIME_LIMIT);
});

describe('pipermail reader', () => {
  it('mutated archives: every article page is read or named in a problem, no exception', async () => {
    const n = ITERATIONS ?? 60;
    const r = prng(SEED + 4);
    const copies: { list: string; dir: string; files: string[] }[] = [];
    for (const list of SAMPLE_LISTS) {
      const dir = path.join(scratch, 'pipermail', list);
      await cp(path.join(SAMPLE_ROOT, 'archives/private', list), dir, { recursive: true });
      copies.push({ list, dir, files: filesUnder(dir, (f) => f.endsWith('.html')) });
    }
    const charsets: Record<string, string> = { devtalk: 'us-ascii', 'liste-fr': 'iso-8859-1', nihongo: 'euc-jp', oldproject: 'us-ascii' };
    for (let i = 0; i < n; i++) {
      const c = copies[i % copies.length]!;
      const touched = Array.from({ length: 1 + int(r, 3) }, () => c.files[int(r, c.files.length)]!);
      const originals = new Map(await Promise.all([...new Set(touched)].map(async (f) => [f, await readFile(f)] as const)));
      const what: string[] = [];
      for (const [f, bytes] of originals) {
        const m = mutate(r, bytes, [insertToken(HTML_TOKENS), insertToken(HTML_TOKENS)]);
        await writeFile(f, m.bytes);
        what.push(`${path.relative(c.dir, f)}: ${m.what}`);
      }
      const label = `${c.list} #${i}: ${what.join(' | ')}`;
      try {
        const a = await parseOrRecord('pipermail', label, { dir: c.dir, list: c.list, charset: charsets[c.list] ?? 'utf-8' }, Buffer.from(label));
        if (a?.ok) {
          const s = a.summary as { articles: string[]; strays: string[]; problems: { code: string; file: string | null }[] };
          const accounted = new Set([...s.articles, ...s.strays, ...s.problems.map((p) => p.file)]);
          const pages = (await readdir(c.dir, { recursive: true }))
            .map(String)
            .filter((f) => /^[^/]+\/\d{6,}\.html$/.test(f));
          const lost = pages.filter((f) => !accounted.has(f));
          if (lost.length) throw new Error(await keep('pipermail', Buffer.from(label), `${label}: article pages neither read nor reported: ${lost.join(', ')}`));
        }
      } finally {
        for (const [f, bytes] of originals) await writeFile(f, bytes);
      }
    }
    expect(parser.maxHeap).toBeLessThan(heapCeiling());
  }, TIME_LIMIT);
});
