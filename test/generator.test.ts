/**
 * The benchmark generators (bench/generate): seeded determinism, size control, an mbox that splits
 * the way Mailman's tools split it, Mailman 2.1's traces in every live post, and protocol-1 pickles
 * that decode back to what was written.
 */
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { simpleParser } from 'mailparser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateInstallation } from '../bench/generate/installation.js';
import { generateMbox, type MboxStats } from '../bench/generate/mbox.js';
import {
  PyDict,
  PyInstance,
  pickleDump,
  pyBytes,
  pyFloat,
  pyStr,
  pyTuple,
  pyUnicode,
  PyFloat as WFloat,
  PyStr as WStr,
  PyTuple as WTuple,
  PyUnicode as WUnicode,
  type PyValue as WValue,
} from '../bench/generate/pickle-writer.js';
import * as reader from '../src/mailman2/pickle.js';

const TARGET = 2 * 1024 * 1024;
const LIST = { list: 'devtalk', host: 'lists.example.org', subjectPrefix: '[DevTalk] ' };

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'mm2m-generator-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

class Collect extends Writable {
  readonly chunks: Buffer[] = [];
  override _write(chunk: Buffer, _enc: BufferEncoding, done: () => void): void {
    this.chunks.push(chunk);
    done();
  }
}

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

// --- an mbox splitter written for this test, independent of the generator ---

const STRICT_FROM = /^From \S+ +\w{3} \w{3} +\d+ \d+:\d+:\d+ \d{4}$/;
const HEADER_LINE = /^[\x21-\x39\x3b-\x7e]+:/;

/** Splits on lines that look like real separators (strict From_ line followed by a header line). */
function splitStrict(mbox: Buffer): string[] {
  const lines = mbox.toString('latin1').split('\n');
  const starts: number[] = [];
  for (let i = 0; i < lines.length - 1; i++) {
    if (STRICT_FROM.test(lines[i] as string) && HEADER_LINE.test(lines[i + 1] as string)) starts.push(i);
  }
  return starts.map((s, k) => lines.slice(s, k + 1 < starts.length ? starts[k + 1] : lines.length).join('\n'));
}

function headerBlock(message: string): string {
  const end = message.indexOf('\n\n');
  return end < 0 ? message : message.slice(0, end);
}

function header(block: string, name: string): string | null {
  const m = new RegExp(`^${name}:[ \\t]*(.*(?:\\n[ \\t].*)*)`, 'mi').exec(block);
  return m ? (m[1] as string).replace(/\n[ \t]+/g, ' ') : null;
}

describe('generateMbox', () => {
  let first: Buffer;
  let stats: MboxStats;
  // A busier-than-default archive, so every kind of damage shows up in 2 MB.
  const options = { seed: 1, targetBytes: TARGET, ...LIST, legacyShare: 0.3, anomalyRate: 6 };

  beforeAll(async () => {
    const file = path.join(dir, 'a.mbox');
    stats = await generateMbox(options, file);
    first = await readFile(file);
  });

  it('gives byte-identical output for the same seed, through a file or a stream', async () => {
    const sink = new Collect();
    const again = await generateMbox(options, sink);
    expect(sha256(Buffer.concat(sink.chunks))).toBe(sha256(first));
    expect(again).toEqual(stats);
  });

  it('gives different output for a different seed', async () => {
    const sink = new Collect();
    await generateMbox({ ...options, seed: 2 }, sink);
    expect(sha256(Buffer.concat(sink.chunks))).not.toBe(sha256(first));
  });

  it('reaches the target size within 10% and reports the bytes written', async () => {
    expect(stats.bytes).toBe(first.length);
    expect(Math.abs(first.length - TARGET) / TARGET).toBeLessThan(0.1);
    for (const target of [300 * 1024, 5 * 1024 * 1024]) {
      const sink = new Collect();
      const s = await generateMbox({ seed: 7, targetBytes: target, ...LIST }, sink);
      const size = Buffer.concat(sink.chunks).length;
      expect(s.bytes).toBe(size);
      expect(Math.abs(size - target) / target).toBeLessThan(0.1);
    }
  });

  it('splits on strict separators into the reported messages plus the separator-like body lines', () => {
    expect(stats.separatorLikeLines).toBeGreaterThan(0);
    expect(stats.unescapedFromLines).toBeGreaterThan(stats.separatorLikeLines);
    const chunks = splitStrict(first);
    expect(chunks.length).toBe(stats.messages + stats.separatorLikeLines);
    expect(first.subarray(0, 5).toString('latin1')).toBe('From ');
    // Mailbox.AppendMessage: every message is followed by a blank line.
    expect(first.subarray(-2).toString('latin1')).toBe('\n\n');
    for (const chunk of chunks.slice(0, -1)) expect(chunk.endsWith('\n')).toBe(true);
  });

  it('writes live posts as Mailman 2.1 archives them', async () => {
    const live = splitStrict(first).filter((m) => /^X-List-Received-Date: /m.test(headerBlock(m)));
    expect(live.length).toBeGreaterThan(100);
    let clobbered = 0;
    let escaped = 0;
    for (const m of live) {
      const h = headerBlock(m);
      expect(h).toMatch(/^From \S+ {1,2}\w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d \d{4}\n/);
      expect(header(h, 'X-BeenThere')).toBe('devtalk@lists.example.org');
      expect(header(h, 'List-Id')).toMatch(/<devtalk\.lists\.example\.org>$/);
      expect(header(h, 'List-Post')).toBe('<mailto:devtalk@lists.example.org>');
      expect(header(h, 'X-List-Received-Date')).toMatch(/^\w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d -0000$/);
      if (header(h, 'X-Original-Date') !== null) {
        clobbered++;
        expect(header(h, 'Date')).toBe(header(h, 'X-List-Received-Date'));
      }
      // mangle_from_: no body line of a live post may start with "From ".
      const body = m.slice(h.length);
      expect(body).not.toMatch(/\nFrom /);
      escaped += (body.match(/\n>From /g) ?? []).length;
    }
    expect(clobbered).toBeGreaterThan(0);
    expect(escaped).toBeGreaterThan(0);
  });

  it('carries threads, charsets, encoded headers, MIME parts and broken ids like real archives', async () => {
    const messages = splitStrict(first);
    const ids = new Set<string>();
    let replies = 0;
    let resolved = 0;
    let missingId = 0;
    let duplicateId = 0;
    const charsets = new Set<string>();
    const wordCharsets = new Set<string>();
    let prefixed = 0;
    let live = 0;
    let pdfOrPng = 0;
    let html = 0;
    for (const m of messages) {
      const raw = Buffer.from(m.slice(m.indexOf('\n') + 1), 'latin1');
      const h = headerBlock(m);
      const id = header(h, 'Message-ID');
      if (id === null) missingId++;
      else if (ids.has(id)) duplicateId++;
      const parent = header(h, 'In-Reply-To');
      if (parent !== null) {
        replies++;
        if (ids.has(parent)) resolved++;
      }
      if (id !== null) ids.add(id);
      for (const w of h.matchAll(/=\?([^?]+)\?[bBqQ]\?/g)) wordCharsets.add((w[1] as string).toLowerCase());
      for (const c of m.matchAll(/charset="?([\w-]+)/gi)) charsets.add((c[1] as string).toLowerCase());
      const parsed = await simpleParser(raw);
      expect(parsed.text ?? '').not.toContain('\ufffd');
      if (parsed.html) html++;
      for (const a of parsed.attachments) {
        if (a.content.subarray(0, 5).toString('latin1') === '%PDF-' || a.content.subarray(1, 4).toString('latin1') === 'PNG') pdfOrPng++;
      }
      if (header(h, 'X-List-Received-Date') !== null) {
        live++;
        if (/^(Re: )?\[DevTalk\] /.test(parsed.subject ?? '')) prefixed++;
      }
    }
    expect(resolved / replies).toBeGreaterThan(0.8);
    expect(missingId).toBeGreaterThan(0);
    expect(duplicateId).toBeGreaterThan(0);
    expect(duplicateId).toBe(stats.duplicateMessageIds);
    // Each separator-like body line starts a header block without a Message-ID.
    expect(missingId).toBe(stats.missingMessageIds + stats.separatorLikeLines);
    for (const c of ['us-ascii', 'utf-8', 'iso-8859-1', 'koi8-r', 'iso-2022-jp']) expect(charsets).toContain(c);
    for (const c of ['utf-8', 'iso-8859-1', 'koi8-r', 'iso-2022-jp']) expect(wordCharsets).toContain(c);
    // Only raw 8-bit subjects (CookHeaders gives up on them) lack the prefix.
    expect(prefixed / live).toBeGreaterThan(0.97);
    expect(pdfOrPng).toBeGreaterThan(0);
    expect(html).toBeGreaterThan(0);
  });

  it('writes a manifest line per message that points at the message', async () => {
    const file = path.join(dir, 'b.mbox');
    const manifest = path.join(dir, 'b.jsonl');
    const s = await generateMbox({ ...options, targetBytes: 512 * 1024, manifest }, file);
    const mbox = await readFile(file);
    const lines = (await readFile(manifest, 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as { offset: number; bytes: number; messageId: string | null });
    expect(lines.length).toBe(s.messages);
    let end = 0;
    for (const l of lines) {
      expect(l.offset).toBe(end);
      expect(mbox.subarray(l.offset, l.offset + 5).toString('latin1')).toBe('From ');
      end = l.offset + l.bytes;
    }
    expect(end).toBe(mbox.length);
  });
});

// --- a pickle decoder written for this test: walks the opcodes the writer may use ---

type Decoded = null | boolean | number | { str: string } | { unicode: string } | { float: number } | { tuple: Decoded[] } | Decoded[] | { dict: Array<[Decoded, Decoded]> } | { inst: string; state: Decoded };

function walkPickle(data: Buffer): { value: Decoded; opcodes: Set<string> } {
  const stack: unknown[] = [];
  const marks: number[] = [];
  const memo = new Map<number, unknown>();
  const opcodes = new Set<string>();
  let i = 0;
  const popMark = () => stack.splice(marks.pop() as number);
  for (;;) {
    const op = String.fromCharCode(data[i++] as number);
    opcodes.add(op);
    switch (op) {
      case '(':
        marks.push(stack.length);
        break;
      case '.':
        return { value: stack.pop() as Decoded, opcodes };
      case 'N':
        stack.push(null);
        break;
      case 'I': {
        const end = data.indexOf(0x0a, i);
        const text = data.subarray(i, end).toString('latin1');
        i = end + 1;
        stack.push(text === '01' ? true : text === '00' ? false : Number(text));
        break;
      }
      case 'K':
        stack.push(data[i++]);
        break;
      case 'M':
        stack.push(data.readUInt16LE(i));
        i += 2;
        break;
      case 'J':
        stack.push(data.readInt32LE(i));
        i += 4;
        break;
      case 'G':
        stack.push({ float: data.readDoubleBE(i) });
        i += 8;
        break;
      case 'U': {
        const n = data[i++] as number;
        stack.push({ str: data.subarray(i, i + n).toString('latin1') });
        i += n;
        break;
      }
      case 'T': {
        const n = data.readUInt32LE(i);
        i += 4;
        stack.push({ str: data.subarray(i, i + n).toString('latin1') });
        i += n;
        break;
      }
      case 'X': {
        const n = data.readUInt32LE(i);
        i += 4;
        stack.push({ unicode: data.subarray(i, i + n).toString('utf8') });
        i += n;
        break;
      }
      case ']':
        stack.push([]);
        break;
      case '}':
        stack.push({ dict: [] });
        break;
      case ')':
        stack.push({ tuple: [] });
        break;
      case 't':
        stack.push({ tuple: popMark() });
        break;
      case 'a': {
        const v = stack.pop();
        (stack[stack.length - 1] as unknown[]).push(v);
        break;
      }
      case 'e': {
        const items = popMark();
        (stack[stack.length - 1] as unknown[]).push(...items);
        break;
      }
      case 's': {
        const v = stack.pop();
        const k = stack.pop();
        (stack[stack.length - 1] as { dict: unknown[] }).dict.push([k, v]);
        break;
      }
      case 'u': {
        const items = popMark();
        const d = (stack[stack.length - 1] as { dict: unknown[] }).dict;
        for (let j = 0; j < items.length; j += 2) d.push([items[j], items[j + 1]]);
        break;
      }
      case 'c': {
        const nl1 = data.indexOf(0x0a, i);
        const nl2 = data.indexOf(0x0a, nl1 + 1);
        stack.push({ global: `${data.subarray(i, nl1).toString('latin1')}.${data.subarray(nl1 + 1, nl2).toString('latin1')}` });
        i = nl2 + 1;
        break;
      }
      case 'o': {
        const [cls] = popMark() as [{ global: string }];
        stack.push({ inst: cls.global, state: null });
        break;
      }
      case 'b': {
        const state = stack.pop();
        (stack[stack.length - 1] as { state: unknown }).state = state;
        break;
      }
      case 'q':
        memo.set(data[i++] as number, stack[stack.length - 1]);
        break;
      case 'r':
        memo.set(data.readUInt32LE(i), stack[stack.length - 1]);
        i += 4;
        break;
      case 'h':
        stack.push(memo.get(data[i++] as number));
        break;
      case 'j':
        stack.push(memo.get(data.readUInt32LE(i)));
        i += 4;
        break;
      default:
        throw new Error(`unexpected opcode ${JSON.stringify(op)} at ${i - 1}`);
    }
  }
}

/** The writer's model in the decoder's shape. */
function expected(v: WValue): Decoded {
  if (v === null || typeof v === 'boolean' || typeof v === 'number') return v;
  if (v instanceof WStr) return { str: v.bytes.toString('latin1') };
  if (v instanceof WUnicode) return { unicode: v.text };
  if (v instanceof WFloat) return { float: v.value };
  if (v instanceof WTuple) return { tuple: v.items.map(expected) };
  if (v instanceof PyDict) return { dict: v.entries.map(([k, x]) => [expected(k), expected(x)] as [Decoded, Decoded]) };
  if (v instanceof PyInstance) return { inst: `${v.module}.${v.name}`, state: expected(v.state) };
  return v.map(expected);
}

/** The project's unpickler result in the decoder's shape. */
function fromReader(v: reader.PyValue): Decoded {
  if (v === null || typeof v === 'boolean' || typeof v === 'number') return v;
  if (typeof v === 'string') return { unicode: v };
  if (typeof v === 'bigint') return Number(v);
  if (v instanceof reader.PyBytes) return { str: v.latin1() };
  if (v instanceof reader.PyFloat) return { float: v.value };
  if (v instanceof reader.PyTuple) return { tuple: v.items.map(fromReader) };
  if (v instanceof reader.PyDict) return { dict: [...v.entries()].map(([k, x]) => [fromReader(k), fromReader(x)] as [Decoded, Decoded]) };
  if (v instanceof reader.PyInstance) return { inst: `${v.module}.${v.name}`, state: fromReader(v.state ?? null) };
  if (Array.isArray(v)) return v.map(fromReader);
  throw new Error(`unexpected reader value ${String(v)}`);
}

describe('pickleDump (protocol 1)', () => {
  const en = pyStr('en');
  const members = new PyDict();
  for (let i = 0; i < 1500; i++) members.set(pyStr(`user${i}@example.com`), i % 7 === 0 ? pyStr(`User${i}@example.com`) : 0);
  const value = new PyDict()
    .set(pyStr('available_languages'), [en])
    .set(pyStr('real_name'), pyStr('DevTalk'))
    .set(pyStr('description'), pyBytes(Buffer.from('Liste des \xe9v\xe9nements', 'latin1')))
    .set(pyStr('subject_prefix'), pyUnicode('[Ünïcode 日本] '))
    .set(pyStr('info'), pyStr('x'.repeat(300)))
    .set(pyStr('archive'), true)
    .set(pyStr('advertised'), false)
    .set(pyStr('mod_password'), null)
    .set(pyStr('post_id'), pyFloat(54))
    .set(pyStr('created_at'), pyFloat(1572616800.071164))
    .set(pyStr('numbers'), [0, 255, 256, 65535, 65536, -1, -2147483648, 2147483647, 2 ** 40])
    .set(pyStr('empty'), [])
    .set(pyStr('single'), [pyStr('only')])
    .set(pyStr('empty_dict'), new PyDict())
    .set(pyStr('one_item'), new PyDict().set(pyStr('k'), pyStr('v')))
    .set(pyStr('topics'), [pyTuple(pyStr('Build'), pyStr('build|ci'), pyStr('Build system'), 0), pyTuple()])
    .set(pyStr('members'), members)
    .set(pyStr('language'), new PyDict().set(pyStr('a@example.com'), en).set(pyStr('b@example.com'), en))
    .set(pyStr('preferred_language'), en)
    .set(
      pyStr('bounce_info'),
      new PyDict()
        .set(pyStr('a@example.com'), new PyInstance('Mailman.Bouncer', '_BounceInfo', new PyDict().set(pyStr('score'), pyFloat(2)).set(pyStr('date'), pyTuple(2020, 1, 4))))
        .set(pyStr('b@example.com'), new PyInstance('Mailman.Bouncer', '_BounceInfo', new PyDict().set(pyStr('score'), pyFloat(1)))),
    );
  const data = pickleDump(value);

  it('decodes (opcode walk) to exactly what was written', () => {
    const { value: decoded, opcodes } = walkPickle(data);
    expect(decoded).toEqual(expected(value));
    // The opcodes config.pck files really contain, incl. the long forms past 255 bytes / memo slots.
    for (const op of ['}', '(', 'u', 's', 'U', 'T', 'X', 'K', 'M', 'J', 'I', 'G', 'N', ']', 'a', 'e', 't', ')', 'c', 'o', 'b', 'q', 'r', 'h', 'j', '.']) {
      expect(opcodes, `opcode ${op}`).toContain(op);
    }
    expect(data[0]).toBe(0x7d);
    expect(data[data.length - 1]).toBe(0x2e);
  });

  it('batches SETITEMS by 1000 like pickle.py', () => {
    const walk = walkPickle(pickleDump(members));
    expect((walk.value as { dict: unknown[] }).dict.length).toBe(1500);
    const batches = pickleDump(members).toString('latin1').match(/u/g)?.length ?? 0;
    expect(batches).toBeGreaterThanOrEqual(2);
  });

  it('is read back by the project unpickler (src/mailman2/pickle.ts)', () => {
    expect(fromReader(reader.loadPickle(data))).toEqual(expected(value));
  });
});

describe('generateInstallation', () => {
  it('writes a Mailman 2 prefix whose config.pck and mbox files belong together', async () => {
    const root = path.join(dir, 'prefix');
    const result = await generateInstallation({ seed: 3, root, lists: 4, membersPerList: [3, 40], mboxBytesPerList: [20_000, 120_000] });
    expect(result.lists).toHaveLength(4);
    expect(result.lists).toContain('mailman');
    expect((await readdir(path.join(root, 'lists'))).sort()).toEqual([...result.lists].sort());
    let mboxBytes = 0;
    for (const name of result.lists) {
      const pck = await readFile(path.join(root, 'lists', name, 'config.pck'));
      expect(await readFile(path.join(root, 'lists', name, 'config.pck.last'))).toEqual(pck);
      const cfg = reader.loadPickle(pck);
      expect(cfg).toBeInstanceOf(reader.PyDict);
      const d = cfg as reader.PyDict;
      expect(d.size).toBe(145);
      const text = (key: string) => {
        const v = d.get(key);
        return v instanceof reader.PyBytes ? v.latin1() : typeof v === 'string' ? v : null;
      };
      expect(text('real_name')?.toLowerCase()).toBe(name);
      expect(d.get('data_version')).toBe(112);
      expect(typeof d.get('subject_prefix')).toBe('string');
      const members = d.get('members') as reader.PyDict;
      const digest = d.get('digest_members') as reader.PyDict;
      const passwords = d.get('passwords') as reader.PyDict;
      expect(members.size + digest.size).toBe(passwords.size);
      for (const [k] of passwords.entries()) expect((k as reader.PyBytes).latin1()).toBe((k as reader.PyBytes).latin1().toLowerCase());
      const mbox = path.join(root, 'archives', 'private', `${name}.mbox`, `${name}.mbox`);
      const exists = await stat(mbox).then(
        () => true,
        () => false,
      );
      if (d.get('archive') === false) expect(exists).toBe(false);
      if (exists) {
        const content = await readFile(mbox);
        mboxBytes += content.length;
        const host = text('host_name') as string;
        expect(content.toString('latin1')).toContain(`\nList-Post: <mailto:${name}@${host}>\n`);
      }
    }
    expect(mboxBytes).toBe(result.bytes);
    const again = path.join(dir, 'prefix2');
    await generateInstallation({ seed: 3, root: again, lists: 4, membersPerList: [3, 40], mboxBytesPerList: [20_000, 120_000] });
    for (const name of result.lists) {
      expect(await readFile(path.join(again, 'lists', name, 'config.pck'))).toEqual(await readFile(path.join(root, 'lists', name, 'config.pck')));
    }
  });
});
