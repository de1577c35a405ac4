import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { UserError } from '../src/problems.js';
import { checkSeparator, readMbox, unescapeFromLines, type MboxMessage, type ReadMboxOptions } from '../src/mailman2/mbox.js';
import { normalizeMessageId } from '../src/mailman2/message-id.js';

const FIXTURES = fileURLToPath(new URL('../fixtures/', import.meta.url));
const TRAPS = join(FIXTURES, 'mbox');
/** fixtures/mailman2 README: "Site of this set: server time zone America/New_York". */
const SERVER_TZ = 'America/New_York';

const Chunk = z.object({
  offset: z.number(),
  end: z.number(),
  from_line: z.string(),
  message_id: z.string().nullable(),
  from: z.string().nullable(),
  subject: z.string().nullable(),
  date: z.string().nullable(),
});
const Article = z.object({
  number: z.number(),
  message_id: z.string(),
  // Superseded articles (duplicate Message-ID in one period) have no database record.
  subject: z.string().nullish(),
  author: z.string().nullish(),
  date_epoch: z.number().nullish(),
  mbox_chunk: z.number().nullable(),
  mbox_chunk_message_id: z.string().nullable(),
  mbox_chunk_offset: z.number().nullable(),
});
const Expected = z.object({
  list: z.object({ name: z.string(), posting_address: z.string(), list_charset: z.string() }),
  settings: z.object({ subject_prefix: z.string() }),
  archive: z.object({ articles: z.array(Article) }),
  mbox: z.object({ chunks_as_split_by_mailman_PortableUnixMailbox: z.array(Chunk) }),
  sent_messages: z.array(z.object({ key: z.string(), arrived: z.string(), mbox_chunk: z.number().nullable().optional() })),
  notes: z.array(z.string()),
});
type Expected = z.infer<typeof Expected>;

const LISTS = readdirSync(join(FIXTURES, 'expected'))
  .filter((f) => f.endsWith('.json'))
  .map((f) => f.slice(0, -5))
  .sort();

function expectedFor(list: string): Expected {
  return Expected.parse(JSON.parse(readFileSync(join(FIXTURES, 'expected', `${list}.json`), 'utf8')));
}

function mboxPath(list: string): string {
  return join(FIXTURES, 'mailman2', 'archives', 'private', `${list}.mbox`, `${list}.mbox`);
}

async function readAll(path: string, opts: ReadMboxOptions = {}): Promise<MboxMessage[]> {
  const out: MboxMessage[] = [];
  for await (const m of readMbox(path, opts)) out.push(m);
  return out;
}

function optsFor(exp: Expected): ReadMboxOptions {
  return {
    list: exp.list.name,
    listAddress: exp.list.posting_address,
    subjectPrefix: exp.settings.subject_prefix,
    charset: exp.list.list_charset,
    timeZone: SERVER_TZ,
  };
}

/** A chunk in which Mailman's parser found any header is a message; the others are body fragments. */
function chunkHasHeaders(c: z.infer<typeof Chunk>): boolean {
  return c.from !== null || c.subject !== null || c.date !== null || c.message_id !== null;
}

describe.each(LISTS)('Mailman 2.1 fixture mbox %s', (list) => {
  const exp = expectedFor(list);
  const chunks = exp.mbox.chunks_as_split_by_mailman_PortableUnixMailbox;
  const size = statSync(mboxPath(list)).size;
  let msgs: MboxMessage[] = [];
  const byOffset = new Map<number, MboxMessage>();

  it('reads the whole file', async () => {
    msgs = await readAll(mboxPath(list), optsFor(exp));
    for (const m of msgs) byOffset.set(m.offset, m);
    expect(msgs.length).toBeGreaterThan(0);
    expect(msgs.map((m) => m.ordinal)).toEqual(msgs.map((_, i) => i));
    expect(msgs.every((m) => !m.quarantined)).toBe(true);
  });

  it('splits exactly where Mailman split a message with headers, and nowhere else', () => {
    const kept = chunks.filter(chunkHasHeaders);
    expect(msgs.map((m) => m.offset)).toEqual(kept.map((c) => c.offset));
    expect(msgs.map((m) => m.envelope?.line)).toEqual(kept.map((c) => c.from_line));
    // Lengths tile the file: each message runs to the next separator.
    for (let i = 0; i < msgs.length; i++) {
      const end = i + 1 < msgs.length ? msgs[i + 1]!.offset : size;
      expect(msgs[i]!.offset + msgs[i]!.length).toBe(end);
      expect(msgs[i]!.raw.length + Buffer.byteLength(msgs[i]!.envelope!.line) + 1).toBe(msgs[i]!.length);
    }
  });

  it('keeps headerless fragments inside the message they were cut from, counted as unescaped From lines', () => {
    const fragments = chunks.filter((c) => !chunkHasHeaders(c));
    for (const f of fragments) {
      const host = msgs.find((m) => m.offset < f.offset && f.offset < m.offset + m.length);
      expect(host, `fragment at ${f.offset}`).toBeDefined();
      expect(host!.unescapedFromLines).toBeGreaterThanOrEqual(1);
      expect(host!.raw.toString('latin1')).toContain(`\n${f.from_line}\n`);
      expect(host!.problems.map((p) => p.code)).toContain('mbox-unescaped-from-line');
    }
    const total = msgs.reduce((n, m) => n + m.unescapedFromLines, 0);
    expect(total).toBe(fragments.length);
  });

  it('has the Message-IDs of the mbox chunks the articles were built from', () => {
    let checked = 0;
    for (const a of exp.archive.articles) {
      if (a.mbox_chunk_offset === null) continue;
      const m = byOffset.get(a.mbox_chunk_offset);
      if (!m) continue; // a fragment we do not split off
      checked++;
      expect(m.meta.rawMessageId).toBe(a.mbox_chunk_message_id);
      if (a.mbox_chunk_message_id === null) {
        expect(m.meta.messageIdSynthetic).toBe(true);
        // Pipermail invented an id at archive time that is not in the mbox; ours must differ from it.
        expect(m.meta.messageId).not.toBe(normalizeMessageId(a.message_id));
      } else {
        expect(m.meta.messageIdSynthetic).toBe(false);
        expect(m.meta.messageId).toBe(normalizeMessageId(a.mbox_chunk_message_id));
      }
    }
    expect(checked).toBe(msgs.length);
  });

  it('dates every message as pipermail did', () => {
    let checked = 0;
    for (const a of exp.archive.articles) {
      if (a.mbox_chunk_offset === null || a.date_epoch == null) continue;
      const m = byOffset.get(a.mbox_chunk_offset);
      if (!m) continue;
      checked++;
      expect(Date.parse(m.meta.date!), `article ${a.number}`).toBe(a.date_epoch * 1000);
    }
    expect(checked).toBeGreaterThan(0);
  });

  it('reads From_ line dates in the server time zone (= arrival times of the sent messages)', () => {
    let checked = 0;
    for (const s of exp.sent_messages) {
      if (s.mbox_chunk == null) continue;
      const m = byOffset.get(chunks[s.mbox_chunk]!.offset)!;
      expect(m.envelope!.date, s.key).toBe(new Date(s.arrived).toISOString());
      checked++;
    }
    expect(checked).toBeGreaterThan(0);
  });

  it('decodes subjects and author names as pipermail shows them', () => {
    for (const a of exp.archive.articles) {
      if (a.mbox_chunk_offset === null || !a.subject || a.author == null) continue;
      const m = byOffset.get(a.mbox_chunk_offset);
      if (!m) continue;
      // Pipermail strips one leading "Re:" (HyperArch REpat) and keeps the list prefix.
      expect(m.meta.subject.replace(/^\s*re\s*(\[\d+\]\s*)?:\s*/i, ''), `article ${a.number}`).toBe(a.subject);
      const shown = m.meta.from.name || m.meta.from.address.replace('@', ' at ');
      expect(shown, `article ${a.number}`).toBe(a.author);
    }
  });

  it('reads the same messages whatever the chunk size (separators across chunk boundaries)', async () => {
    // Tiny chunks put a boundary inside every separator and header line; each chunk is one read, so
    // the smallest sizes are used only where that stays under ~12 000 reads.
    for (const chunkSize of [3, 7, 64, 4096].filter((c) => size / c <= 12_000)) {
      const small = await readAll(mboxPath(list), { ...optsFor(exp), chunkSize });
      expect(small.map((m) => [m.offset, m.length, m.meta.contentHash])).toEqual(msgs.map((m) => [m.offset, m.length, m.meta.contentHash]));
    }
  });

  it('reads the same messages from a gzip copy, with offsets in the decompressed stream', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mm2-mbox-'));
    try {
      const gz = join(dir, `${list}.mbox.gz`);
      writeFileSync(gz, gzipSync(readFileSync(mboxPath(list))));
      const fromGz = await readAll(gz, optsFor(exp));
      expect(fromGz.map((m) => [m.offset, m.length, m.meta.messageId])).toEqual(msgs.map((m) => [m.offset, m.length, m.meta.messageId]));
      expect(fromGz.flatMap((m) => m.problems.map((p) => p.code))).not.toContain('mbox-gzip-truncated');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('resumes at a message boundary with absolute offsets', async () => {
    const from = msgs[Math.floor(msgs.length / 2)]!;
    const tail = await readAll(mboxPath(list), { ...optsFor(exp), startOffset: from.offset });
    const expected = msgs.filter((m) => m.offset >= from.offset);
    expect(tail.map((m) => [m.offset, m.length, m.meta.messageId])).toEqual(expected.map((m) => [m.offset, m.length, m.meta.messageId]));
  });
});

describe('oldproject: unescaped body From lines (EXPECTED notes)', () => {
  const exp = expectedFor('oldproject');
  const chunks = exp.mbox.chunks_as_split_by_mailman_PortableUnixMailbox;
  const article = (n: number) => exp.archive.articles.find((a) => a.number === n)!;

  it('does not split where Mailman made the headerless fragments 000002 and 000006', async () => {
    const msgs = await readAll(mboxPath('oldproject'), optsFor(exp));
    const offsets = new Set(msgs.map((m) => m.offset));
    for (const n of [2, 6]) {
      const chunk = chunks[article(n).mbox_chunk!]!;
      expect(offsets.has(chunk.offset)).toBe(false);
      const host = msgs.find((m) => m.offset < chunk.offset && chunk.offset < m.offset + m.length)!;
      // The fragment is the end of the previous article's message.
      expect(host.offset).toBe(chunks[article(n - 1).mbox_chunk!]!.offset);
      expect(host.length).toBe(chunk.end - host.offset);
    }
    expect(msgs.length).toBe(chunks.length - 2);
  });

  it('keeps 000010 (a full From_ line followed by headers) as a separator, as cleanarch does', async () => {
    const msgs = await readAll(mboxPath('oldproject'), optsFor(exp));
    const chunk = chunks[article(10).mbox_chunk!]!;
    const m = msgs.find((x) => x.offset === chunk.offset)!;
    expect(m).toBeDefined();
    expect(m.envelope!.line).toBe(chunk.from_line);
    expect(m.meta.subject).toBe(article(10).subject);
    expect(Date.parse(m.meta.date!)).toBe(article(10).date_epoch! * 1000);
    expect(checkSeparator(chunk.from_line, 'From: John Doe <jdoe@cs.example.edu>')).not.toBeNull();
  });
});

describe('devtalk: mboxo escaping by Mailman', () => {
  it('counts >From lines in exactly the chunks the EXPECTED notes name (000008, 000036, 000045)', async () => {
    const exp = expectedFor('devtalk');
    const note = exp.notes.find((n) => n.includes("'>From '"))!;
    const numbers = [...note.matchAll(/0000(\d\d)/g)].map((x) => Number(x[1]));
    expect(numbers).toEqual([8, 36, 45]);
    const msgs = await readAll(mboxPath('devtalk'), optsFor(exp));
    const withEscapes = msgs.filter((m) => m.escapedFromLines > 0).map((m) => m.ordinal);
    expect(withEscapes).toEqual(numbers);
    expect(msgs.every((m) => m.unescapedFromLines === 0)).toBe(true);
  });

  it('unescapeFromLines removes one level of > and nothing else', async () => {
    const msgs = await readAll(mboxPath('devtalk'), { timeZone: SERVER_TZ });
    const m = msgs[8]!;
    const out = unescapeFromLines(m.raw);
    expect(out.length).toBe(m.raw.length - m.escapedFromLines);
    const text = out.toString('latin1');
    expect(text).toContain('\nFrom the logs it looks like every message is split in two.\n');
    expect(text).not.toMatch(/\n>From /);
    expect(unescapeFromLines(Buffer.from('>From a\n>>From b\nx>From c\n>From d'))).toEqual(Buffer.from('From a\n>>From b\nx>From c\nFrom d'));
    expect(m.raw.toString('latin1')).toMatch(/\n>From /); // raw stays exact
  });
});

describe('trap mboxes (fixtures/mbox)', () => {
  const trap = (name: string) => join(TRAPS, name);
  const codes = (m: MboxMessage) => m.problems.map((p) => p.code);
  const tmp = mkdtempSync(join(tmpdir(), 'mm2-traps-'));
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));

  it('body From lines that fail the strict check do not split; a real one without blank line before does', async () => {
    const msgs = await readAll(trap('body-from-lines.mbox'));
    expect(msgs.map((m) => m.meta.messageId)).toEqual([
      'body-from-1@example.com', 'body-from-2@example.org', 'body-from-3@example.com', 'body-from-4@example.org',
    ]);
    // prose "From what…"/"From here…"; From_ + prose; From_ + "Subject :"; impossible date; From_ + ">From" line
    expect(msgs.map((m) => m.unescapedFromLines)).toEqual([2, 4, 0, 0]);
    expect(msgs.map((m) => m.escapedFromLines)).toEqual([0, 2, 0, 0]);
    const text = readFileSync(trap('body-from-lines.mbox'), 'latin1');
    expect(msgs[3]!.offset).toBe(text.indexOf('From erin@example.org'));
    expect(text[msgs[3]!.offset - 2]).not.toBe('\n'); // no blank line before that separator
  });

  it('cleanarch separator rule', () => {
    const line = 'From jdoe@cs.example.edu  Tue Mar  2 10:04:11 1999';
    expect(checkSeparator(line, 'Received: from x', 'UTC')).toMatchObject({ sender: 'jdoe@cs.example.edu', date: '1999-03-02T10:04:11.000Z' });
    expect(checkSeparator('From - Tue Mar  2 10:04:11 1999', 'X-Mozilla-Status: 0001')).not.toBeNull();
    expect(checkSeparator('From x Tue Mar  2 10:04 EST 1999', 'A:b')?.date).toBe('1999-03-02T15:04:00.000Z');
    expect(checkSeparator(line, null)).toBeNull(); // last line of the file
    expect(checkSeparator(line, '')).toBeNull();
    expect(checkSeparator(line, 'I said: hi')).toBeNull(); // 2.1.40 header check
    expect(checkSeparator(line, ' folded: x')).toBeNull();
    expect(checkSeparator('From the 1.0 release notes:', 'Subject: x')).toBeNull();
    expect(checkSeparator('From jdoe Tue Mar 32 10:04:11 1999', 'Subject: x')).toBeNull();
    expect(checkSeparator('From jdoe Tue Foo  2 10:04:11 1999', 'Subject: x')).toBeNull();
    expect(checkSeparator('From jdoe Xyz Mar  2 10:04:11 1999', 'Subject: x')).toBeNull();
    expect(checkSeparator('From jdoe Tue Mar  2 25:04:11 1999', 'Subject: x')).toBeNull();
    expect(checkSeparator('From jdoe Tue Mar  2 10:04:11 1999 remote from uucp', 'Subject: x')).toBeNull();
  });

  it('reads .gz input by magic bytes, same result as the plain file', async () => {
    const plain = await readAll(trap('body-from-lines.mbox'));
    const gz = await readAll(trap('body-from-lines.mbox.gz'));
    expect(gz.map((m) => [m.offset, m.length, m.meta.contentHash, m.unescapedFromLines])).toEqual(
      plain.map((m) => [m.offset, m.length, m.meta.contentHash, m.unescapedFromLines]));
    const renamed = join(tmp, 'compressed-without-extension');
    writeFileSync(renamed, readFileSync(trap('body-from-lines.mbox.gz')));
    expect((await readAll(renamed)).length).toBe(plain.length);
  });

  it('reports a truncated .gz and still yields what was decompressed', async () => {
    const full = readFileSync(trap('body-from-lines.mbox.gz'));
    const cut = join(tmp, 'cut.mbox.gz');
    writeFileSync(cut, full.subarray(0, full.length - 40));
    const msgs = await readAll(cut);
    expect(msgs.length).toBeGreaterThan(0);
    expect(codes(msgs[msgs.length - 1]!)).toContain('mbox-gzip-truncated');
  });

  it('warns about a .gz name on plain data and reads it', async () => {
    const fake = join(tmp, 'plain.mbox.gz');
    writeFileSync(fake, readFileSync(trap('crlf.mbox')));
    const msgs = await readAll(fake);
    expect(msgs.length).toBe(2);
    expect(codes(msgs[0]!)).toContain('mbox-not-gzip');
  });

  it('CRLF files: splits, keeps raw bytes exact, unfolds headers', async () => {
    const bytes = readFileSync(trap('crlf.mbox'));
    const msgs = await readAll(trap('crlf.mbox'));
    expect(msgs.map((m) => m.meta.messageId)).toEqual(['crlf-1@example.com', 'crlf-2@example.org']);
    expect(msgs[0]!.meta.subject).toBe('CRLF folded subject');
    expect(msgs[0]!.unescapedFromLines).toBe(1);
    expect(msgs[0]!.escapedFromLines).toBe(1);
    expect(msgs[1]!.offset).toBe(bytes.indexOf('From bob@example.org'));
    const rebuilt = Buffer.concat(msgs.flatMap((m) => [Buffer.from(`${m.envelope!.line}\r\n`), m.raw]));
    expect(rebuilt.equals(bytes)).toBe(true);
    expect(msgs[0]!.envelope!.line.endsWith('\r')).toBe(false);
  });

  it('yields a message cut inside its headers with problems', async () => {
    const msgs = await readAll(trap('truncated.mbox'));
    expect(msgs.length).toBe(2);
    expect(codes(msgs[0]!)).toEqual([]);
    const last = msgs[1]!;
    expect(last.meta.messageId).toBe('trunc-2@example.org');
    expect(last.meta.headersTerminated).toBe(false);
    expect(codes(last)).toEqual(expect.arrayContaining(['mbox-truncated', 'headers-unterminated']));
    expect(last.offset + last.length).toBe(statSync(trap('truncated.mbox')).size);
  });

  it('empty file: no messages, no error', async () => {
    expect(await readAll(trap('empty.mbox'))).toEqual([]);
  });

  it('quarantines data before the first From_ line instead of dropping it', async () => {
    const msgs = await readAll(trap('garbage-first.mbox'));
    expect(msgs.length).toBe(2);
    const q = msgs[0]!;
    expect(q.quarantined).toBe(true);
    expect(q.envelope).toBeNull();
    expect(q.offset).toBe(0);
    expect(q.raw.toString()).toMatch(/^This file was saved/);
    expect(q.problems[0]).toMatchObject({ severity: 'error', code: 'mbox-data-before-first-separator' });
    expect(msgs[1]!.quarantined).toBe(false);
    expect(msgs[1]!.meta.messageId).toBe('after-garbage@example.com');
    expect(msgs[1]!.ordinal).toBe(1);
  });

  it('skips leading blank lines and quarantines a UW-IMAP folder pseudo-message', async () => {
    const msgs = await readAll(trap('folder-internal-data.mbox'));
    expect(msgs.map((m) => [m.ordinal, m.offset, m.quarantined])).toEqual([[0, 2, true], [1, msgs[1]!.offset, false]]);
    expect(codes(msgs[0]!)).toContain('mbox-folder-internal-data');
    expect(msgs[0]!.envelope!.sender).toBe('MAILER-DAEMON');
  });

  it('reads every trap identically with tiny chunks', async () => {
    for (const f of readdirSync(TRAPS).filter((n) => n.endsWith('.mbox'))) {
      const a = await readAll(trap(f));
      const b = await readAll(trap(f), { chunkSize: 3 });
      expect(b.map((m) => [m.offset, m.length, m.meta.contentHash, m.unescapedFromLines, m.problems.length]), f).toEqual(
        a.map((m) => [m.offset, m.length, m.meta.contentHash, m.unescapedFromLines, m.problems.length]));
    }
  });

  it('decides on very long lines without counting them twice', async () => {
    const long = join(tmp, 'long-lines.mbox');
    writeFileSync(long, [
      'From a@example.org  Mon Nov  4 09:00:00 2019', 'Subject: one', '', `From ${'x'.repeat(20_000)}`, 'body', '',
      'From b@example.org  Mon Nov  4 10:00:00 2019', `X-Long: ${'y'.repeat(20_000)}`, 'Subject: two', '', 'end', '',
    ].join('\n'));
    for (const chunkSize of [100, 1 << 20]) {
      const msgs = await readAll(long, { chunkSize });
      expect(msgs.map((m) => [m.meta.subject, m.unescapedFromLines]), String(chunkSize)).toEqual([['one', 1], ['two', 0]]);
    }
  });

  it('fails with a one-line UserError for a missing file or a bad time zone', async () => {
    await expect(readAll(trap('does-not-exist.mbox'))).rejects.toThrow(UserError);
    await expect(readAll(trap('does-not-exist.mbox'))).rejects.toThrow(/does-not-exist\.mbox: ENOENT/);
    await expect(readAll(trap('crlf.mbox'), { timeZone: 'Mars/Olympus' })).rejects.toThrow(/Mars\/Olympus/);
  });

  it('stops cleanly when the consumer breaks early', async () => {
    let n = 0;
    for await (const m of readMbox(mboxPath('devtalk'), { chunkSize: 4096 })) {
      n += m.ordinal >= 0 ? 1 : 0;
      if (n === 3) break;
    }
    expect(n).toBe(3);
  });
});
