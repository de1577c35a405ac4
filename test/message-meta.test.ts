import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { DuplicateTracker, stableContentHash } from '../src/mailman2/duplicates.js';
import { readMbox, type MboxMessage, type ReadMboxOptions } from '../src/mailman2/mbox.js';
import { chooseMessageDate, parseMailDate } from '../src/mailman2/message-date.js';
import { parseMessageMeta, threadSubjectOf } from '../src/mailman2/message-meta.js';

const FIXTURES = fileURLToPath(new URL('../fixtures/', import.meta.url));
const trap = (name: string) => join(FIXTURES, 'mbox', name);
const listMbox = (list: string) => join(FIXTURES, 'mailman2', 'archives', 'private', `${list}.mbox`, `${list}.mbox`);
/** fixtures/mailman2 README: the site's server time zone. */
const SERVER_TZ = 'America/New_York';
const NOW = new Date('2024-06-01T00:00:00Z');

async function readAll(path: string, opts: ReadMboxOptions = {}): Promise<MboxMessage[]> {
  const out: MboxMessage[] = [];
  for await (const m of readMbox(path, opts)) out.push(m);
  return out;
}

const byId = (msgs: MboxMessage[]) => new Map(msgs.map((m) => [m.meta.messageId, m]));
const codes = (m: { problems: { code: string }[] }) => m.problems.map((p) => p.code);

describe('parseMailDate', () => {
  const iso = (s: string, zone = 'UTC') => {
    const d = parseMailDate(s, zone);
    return d ? new Date(d.epochMs).toISOString() : null;
  };

  it('reads RFC 5322 dates and their obsolete forms', () => {
    expect(iso('Tue, 2 Mar 1999 10:04:09 -0500 (EST)')).toBe('1999-03-02T15:04:09.000Z');
    expect(iso('Wed, 27 Nov 2019 17:01:00 -0000')).toBe('2019-11-27T17:01:00.000Z');
    expect(iso('Sat, 30 Nov 2019 22:30 -0800')).toBe('2019-12-01T06:30:00.000Z'); // no seconds
    expect(iso('Sat, 1 Jan 00 00:01:02 EST')).toBe('2000-01-01T05:01:02.000Z'); // 2-digit year ≤ 68 → 20xx
    expect(iso('Thu, 1 Jan 70 00:00:00 GMT')).toBe('1970-01-01T00:00:00.000Z'); // > 68 → 19xx
    expect(iso('Fri, 31 Dec 99 20:59 PDT')).toBe('2000-01-01T03:59:00.000Z');
    expect(iso('Mon, 4 Nov 119 10:00:00 +0000')).toBe('2019-11-04T10:00:00.000Z'); // 3-digit year: +1900 (RFC 5322 4.3)
    expect(iso('4 Nov 2019 14:00:00 UT')).toBe('2019-11-04T14:00:00.000Z');
    expect(iso('Mon, 4 Nov 2019 14:00:00 Z')).toBe('2019-11-04T14:00:00.000Z');
    expect(iso('Mon, 4 Nov 2019 14:00:00 M')).toBe('2019-11-04T14:00:00.000Z'); // military: no information
    expect(iso('Sat, 30 Aug 2008 16:40:31 +05-30')).toBe('2008-08-30T11:10:31.000Z');
    expect(iso('Sat, 30 Aug 2008 16:40:31 +05:30')).toBe('2008-08-30T11:10:31.000Z');
    expect(iso('Monday, 04-Nov-2019 14:00:00 GMT')).toBeNull(); // RFC 850 layout is not a mail date
    expect(iso('Wednesday, 6 November 2019 2:10:51 PM +0100')).toBe('2019-11-06T13:10:51.000Z');
    expect(iso('Mon Nov  4 09:00:00 2019')).toBe('2019-11-04T09:00:00.000Z'); // asctime
    expect(iso('Mon Nov  4 09:00:00 EST 2019')).toBe('2019-11-04T14:00:00.000Z');
    expect(iso('2019-11-04 09:00:00+01:00')).toBe('2019-11-04T08:00:00.000Z');
    expect(iso('Mon, 4 Nov 2019 09:00:00 +2500')).toBe('2019-11-04T09:00:00.000Z'); // absurd offset ignored
  });

  it('reads a date without zone in the given zone, across DST', () => {
    expect(iso('Mon, 4 Nov 2019 09:00:00', SERVER_TZ)).toBe('2019-11-04T14:00:00.000Z');
    expect(iso('Mon, 15 Jul 2019 09:00:00', SERVER_TZ)).toBe('2019-07-15T13:00:00.000Z');
    expect(iso('Sun Mar 10 03:30:00 2019', SERVER_TZ)).toBe('2019-03-10T07:30:00.000Z');
    expect(iso('Mon Nov  4 09:00:00 2019', 'Asia/Tokyo')).toBe('2019-11-04T00:00:00.000Z');
    expect(iso('Tue Jul 14 17:30:00 1999', 'Europe/Berlin')).toBe('1999-07-14T15:30:00.000Z');
    // Repeated hour: the first occurrence; skipped hour: moved forward.
    expect(iso('Sun Nov  3 01:30:00 2019', SERVER_TZ)).toBe('2019-11-03T05:30:00.000Z');
    expect(iso('Sun Oct 27 02:30:00 2019', 'Europe/Berlin')).toBe('2019-10-27T00:30:00.000Z');
    expect(iso('Sun Mar 10 02:30:00 2019', SERVER_TZ)).toBe('2019-03-10T07:30:00.000Z');
    expect(iso('Sun Mar 31 02:30:00 2019', 'Europe/Berlin')).toBe('2019-03-31T01:30:00.000Z');
  });

  it('rejects what is not a date', () => {
    for (const bad of ['sometime last week', '', 'Wednesday, November 27th 2019 around noon', '32 Foo 2019 99:99',
      'Mon, 30 Feb 2019 10:00:00 +0000', 'Mon, 4 Nov 2019 24:00:00 +0000', 'Mon, 4 Nov 2019 +0000', '4 Nov 10:00:00 +0000']) {
      expect(parseMailDate(bad), bad).toBeNull();
    }
  });
});

describe('chooseMessageDate (pipermail chain)', () => {
  it('moves on from a Date far after the next candidate even when "now" would accept it', () => {
    const c = { date: 'Fri, 1 Jan 2038 00:00:00 +0000', xListReceivedDate: 'Mon, 04 Nov 2019 14:00:00 -0000' };
    const later = chooseMessageDate(c, 'UTC', new Date('2040-01-01T00:00:00Z'));
    expect(later).toMatchObject({ date: '2019-11-04T14:00:00.000Z', dateSource: 'x-list-received-date', dateRepaired: true });
    expect(later.rejected[0]!.reason).toMatch(/15 days after the x-list-received-date/);
    // 14 days ahead is within Mailman's skew and kept.
    const close = chooseMessageDate({ ...c, date: 'Mon, 18 Nov 2019 14:00:00 +0000' }, 'UTC', NOW);
    expect(close).toMatchObject({ dateSource: 'date', dateRepaired: false });
  });

  it('does not take a dummy epoch-0 From_ date as reference', () => {
    const r = chooseMessageDate({ date: 'Mon, 4 Nov 2019 09:00:00 -0500', envelopeIso: '1970-01-01T00:00:00.000Z' }, 'UTC', NOW);
    expect(r).toMatchObject({ date: '2019-11-04T14:00:00.000Z', dateSource: 'date' });
  });

  it('rejects a Date more than 15 days after now when nothing later is known', () => {
    const r = chooseMessageDate({ date: 'Fri, 1 Jan 2038 00:00:00 +0000' }, 'UTC', NOW);
    expect(r).toMatchObject({ date: null, dateSource: 'none', dateRepaired: true });
  });
});

describe('date fallbacks (fixtures/mbox/dates.mbox)', async () => {
  const msgs = byId(await readAll(trap('dates.mbox'), { timeZone: SERVER_TZ, now: NOW }));
  const meta = (id: string) => msgs.get(id)!.meta;

  it.each([
    ['date-ok@example.org', '2019-11-04T13:59:30.000Z', 'date'],
    ['date-garbage@example.org', '2019-11-04T14:00:00.000Z', 'x-list-received-date'],
    ['date-received@example.org', '2019-11-04T13:59:59.000Z', 'received'],
    ['date-envelope@example.org', '2019-11-04T14:00:00.000Z', 'envelope'],
    ['date-year-0102@example.org', '2002-06-18T09:12:09.000Z', 'envelope'],
    ['date-future@example.org', '2019-11-04T14:00:00.000Z', 'x-list-received-date'],
    ['date-2digit@example.org', '2000-01-01T05:01:02.000Z', 'date'],
    ['date-2digit-99@example.org', '2000-01-01T04:59:00.000Z', 'date'],
    ['date-weird-tz@example.org', '2008-08-30T11:10:31.000Z', 'date'],
    ['date-military@example.org', '2019-11-04T14:00:00.000Z', 'date'],
    ['date-ut@example.org', '2019-11-04T14:00:00.000Z', 'date'],
    ['date-naive@example.org', '2019-11-04T14:00:00.000Z', 'date'],
    ['date-clobbered@example.org', '2019-11-03T06:30:00.000Z', 'date'],
  ])('%s → %s from %s', (id, date, source) => {
    const m = meta(id);
    expect(m.date).toBe(date);
    expect(m.dateSource).toBe(source);
    expect(m.dateRepaired).toBe(source !== 'date');
    expect(codes(m).includes('date-repaired')).toBe(source !== 'date');
  });

  it('keeps X-Original-Date and reads the repeated DST hour of the From_ line as its first occurrence', () => {
    const m = msgs.get('date-clobbered@example.org')!;
    expect(m.meta.originalDate).toBe('Thu, 13 Dec 2001 09:58:00 -0500');
    expect(meta('date-ok@example.org').originalDate).toBeNull();
    expect(m.envelope!.date).toBe('2019-11-03T05:30:00.000Z');
  });

  it('names the rejected Date in the problem', () => {
    const p = msgs.get('date-year-0102@example.org')!.problems.find((x) => x.code === 'date-repaired')!;
    expect(p.message).toMatch(/Tue, 18 Jun 0102 05:12:09 \+0500.*before 1970/);
    expect(p.message).toContain('dates.mbox');
  });

  it('has no date at all for quarantined data without From_ line', async () => {
    const [q] = await readAll(trap('garbage-first.mbox'));
    expect(q!.meta).toMatchObject({ date: null, dateSource: 'none', dateRepaired: true });
    expect(codes(q!.meta)).toContain('date-missing');
  });
});

describe('Message-IDs and duplicates (fixtures/mbox/message-ids.mbox)', async () => {
  const opts: ReadMboxOptions = { list: 'devtalk', listAddress: 'devtalk@lists.example.org', timeZone: SERVER_TZ };
  const msgs = await readAll(trap('message-ids.mbox'), opts);

  it('normalises ids like HyperKitty and synthesises missing ones deterministically', async () => {
    expect(msgs.map((m) => m.meta.rawMessageId)).toEqual([
      '<dup-same@example.org>', '<dup-same@example.org>', '<dup-same@example.org>', null, '', '<>',
      '<comment-id@example.org> (added by postmaster@example.org)', null,
    ]);
    expect(msgs.map((m) => m.meta.messageIdSynthetic)).toEqual([false, false, false, true, true, true, false, true]);
    expect(msgs[6]!.meta.messageId).toBe('comment-id@example.org');
    for (const i of [3, 4, 5]) {
      expect(msgs[i]!.meta.messageId).toMatch(/^mm2migrate\.[0-9a-f]{24}@lists\.example\.org$/);
      expect(codes(msgs[i]!)).toContain('message-id-missing');
    }
    // Different bytes, different ids; identical bytes (message 7 repeats message 3), the same id.
    expect(new Set([3, 4, 5].map((i) => msgs[i]!.meta.messageId)).size).toBe(3);
    expect(msgs[7]!.meta.messageId).toBe(msgs[3]!.meta.messageId);
    const again = await readAll(trap('message-ids.mbox'), opts);
    expect(again.map((m) => m.meta.messageId)).toEqual(msgs.map((m) => m.meta.messageId));
    const noList = await readAll(trap('message-ids.mbox'));
    expect(noList[3]!.meta.messageId).toMatch(/@mm2migrate\.invalid$/);
  });

  it('extracts In-Reply-To from prose and References in order', () => {
    expect(msgs[6]!.meta.inReplyTo).toBe('parent@example.org');
    expect(msgs[6]!.meta.references).toEqual(['root@example.org', 'parent@example.org']);
    expect(msgs[0]!.meta.inReplyTo).toBeNull();
    expect(msgs[0]!.meta.references).toEqual([]);
  });

  it('tells a second stored copy of one post from a different post reusing the id', () => {
    const tracker = new DuplicateTracker();
    expect(msgs.map((m) => tracker.check(m))).toEqual([
      null,
      { firstOrdinal: 0, sameContent: true }, // only Received/Status/X-List-Received-Date/X-Mailman-Version/framing differ
      { firstOrdinal: 0, sameContent: false },
      null, null, null, null,
      { firstOrdinal: 3, sameContent: true },
    ]);
    expect(msgs[1]!.meta.contentHash).not.toBe(msgs[0]!.meta.contentHash);
  });

  it('ignores line endings and header order in the duplicate hash, not the body', () => {
    const lf = Buffer.from('Message-ID: <a@b>\nSubject: x\nReceived: from a\n\nbody\n');
    const crlf = Buffer.from('Received: from b\r\nSubject: x\r\nMessage-ID: <a@b>\r\n\r\nbody\r\n\r\n');
    expect(stableContentHash(crlf)).toBe(stableContentHash(lf));
    expect(stableContentHash(Buffer.from('Message-ID: <a@b>\nSubject: x\n\nbody!\n'))).not.toBe(stableContentHash(lf));
    expect(stableContentHash(Buffer.from('Message-ID: <a@b>\nSubject: y\n\nbody\n'))).not.toBe(stableContentHash(lf));
  });
});

describe('duplicates in the Mailman fixtures', () => {
  const Chunks = z.object({
    mbox: z.object({ chunks_as_split_by_mailman_PortableUnixMailbox: z.array(z.object({ offset: z.number(), message_id: z.string().nullable() })) }),
  });

  it.each(['devtalk', 'oldproject'])('%s: every repeated Message-ID in EXPECTED is reported, as a different post', async (list) => {
    const exp = Chunks.parse(JSON.parse(readFileSync(join(FIXTURES, 'expected', `${list}.json`), 'utf8')));
    const firstOffset = new Map<string, number>();
    const repeated = new Map<number, number>(); // offset → offset of first occurrence
    for (const c of exp.mbox.chunks_as_split_by_mailman_PortableUnixMailbox) {
      if (!c.message_id) continue;
      const first = firstOffset.get(c.message_id);
      if (first === undefined) firstOffset.set(c.message_id, c.offset);
      else repeated.set(c.offset, first);
    }
    expect(repeated.size).toBeGreaterThan(0);
    const msgs = await readAll(listMbox(list), { timeZone: SERVER_TZ });
    const tracker = new DuplicateTracker();
    const found = new Map<number, number>();
    for (const m of msgs) {
      const d = tracker.check(m);
      if (!d) continue;
      // devtalk 000012/000013 and oldproject 000000/000011 carry different subjects, dates and bodies.
      expect(d.sameContent).toBe(false);
      found.set(m.offset, msgs[d.firstOrdinal]!.offset);
    }
    expect(found).toEqual(repeated);
  });
});

describe('non-ASCII headers (fixtures/mbox/non-ascii-headers.mbox)', async () => {
  const opts: ReadMboxOptions = {
    list: 'devtalk', listAddress: 'devtalk@lists.example.org', charset: 'iso-8859-1', subjectPrefix: '[nihongo:%05d] ', timeZone: SERVER_TZ,
  };
  const msgs = byId(await readAll(trap('non-ascii-headers.mbox'), opts));
  const meta = (id: string) => msgs.get(`${id}@example.org`)?.meta ?? msgs.get(`${id}@example.com`)!.meta;

  it('decodes RFC 2047 latin-1 Q, UTF-8 B (split across folded words) and ISO-2022-JP', () => {
    expect(meta('nonascii-latin1-q')).toMatchObject({ subject: '[Liste-FR] Première réunion', from: { name: 'François Lefèvre', address: 'francois@example.fr' } });
    expect(meta('nonascii-utf8-b')).toMatchObject({ subject: 'Re: [Liste-FR] Première réunion', from: { name: 'Иван Петров', address: 'ivan@example.ru' } });
    expect(meta('nonascii-jis')).toMatchObject({
      subject: '[nihongo:00042] Re: シフトJISのテスト',
      subjectStripped: 'Re: シフトJISのテスト',
      threadSubject: 'シフトJISのテスト',
      from: { name: '山田 太郎', address: 'yamada@example.jp' },
    });
    for (const id of ['nonascii-latin1-q', 'nonascii-utf8-b', 'nonascii-jis']) expect(codes(meta(id))).toEqual([]);
  });

  it('reads raw 8-bit headers as UTF-8, else in the list charset, else latin-1 with a problem', async () => {
    expect(meta('nonascii-raw-utf8')).toMatchObject({ subject: 'Café crème', from: { name: 'Zoë Ångström' } });
    expect(codes(meta('nonascii-raw-utf8'))).toEqual([]);
    expect(meta('nonascii-raw-latin1')).toMatchObject({ subject: "Poisson d'avril à vérifier", from: { name: 'François' } });
    expect(codes(meta('nonascii-raw-latin1'))).toEqual([]);
    const ascii = byId(await readAll(trap('non-ascii-headers.mbox'), { ...opts, charset: 'us-ascii' })).get('nonascii-raw-latin1@example.org')!;
    expect(ascii.meta.subject).toBe("Poisson d'avril à vérifier"); // no byte lost
    expect(ascii.problems.filter((p) => p.code === 'undecodable-header').map((p) => p.key)).toEqual(['From', 'Subject']);
  });

  it('keeps words in an unknown charset encoded and reports them', () => {
    const m = meta('nonascii-unknown-charset');
    expect(m.subject).toBe('=?x-unknown-8bit?q?Gr=FC=DFe?= and grüße');
    expect(m.problems.find((p) => p.code === 'unknown-charset')?.message).toContain('x-unknown-8bit');
  });

  it('undoes DMARC "X via List" From munging', () => {
    const a = msgs.get('dmarc-munged@example.com')!.meta;
    expect(a.from).toEqual({ name: 'Alice Example', address: 'alice@example.com' });
    expect(a.fromMungingUndone).toEqual({ munged: { name: 'Alice Example via DevTalk', address: 'devtalk@lists.example.org' }, source: 'reply-to' });
    const b = msgs.get('dmarc-munged-no-replyto@example.org')!.meta;
    expect(b.from).toEqual({ name: 'Bob Builder', address: 'bob@example.org' });
    expect(b.fromMungingUndone?.source).toBe('envelope');
    // Without knowing the list address nothing is undone.
    const plain = parseMessageMeta(Buffer.from('From: "Alice Example via DevTalk" <devtalk@lists.example.org>\n\nx\n'));
    expect(plain.from.address).toBe('devtalk@lists.example.org');
    expect(plain.fromMungingUndone).toBeNull();
  });
});

describe('subjects', () => {
  const meta = (subject: string, subjectPrefix?: string, list?: string) =>
    parseMessageMeta(Buffer.from(`Subject: ${subject}\nMessage-ID: <s@x>\n\nbody\n`), { subjectPrefix, list });

  it('removes the list prefix the way CookHeaders matches it, keeping Re:', () => {
    expect(meta('Re: [DevTalk] Parsing old mailboxes', '[DevTalk] ')).toMatchObject({
      subjectStripped: 'Re: Parsing old mailboxes', threadSubject: 'Parsing old mailboxes' });
    expect(meta('[nihongo:00006] Re:  シフトJIS', '[nihongo:%05d] ')).toMatchObject({
      subjectStripped: 'Re:  シフトJIS', threadSubject: 'シフトJIS' });
    expect(meta('AW: SV: [Team] RE[2]: Fwd: plan', '[Team] ')).toMatchObject({ subjectStripped: 'AW: SV: RE[2]: Fwd: plan', threadSubject: 'plan' });
    expect(meta('[DevTalk] x', undefined, 'devtalk').subjectStripped).toBe('x'); // default prefix "[<list>] "
    expect(meta('a [b+c] d', '[b+c] ').subjectStripped).toBe('a d'); // regex characters in the prefix
    expect(meta('Re: plain', undefined).subjectStripped).toBe('Re: plain');
  });

  it('strips reply markers in several languages for threading', () => {
    expect(threadSubjectOf('Re: Re:  Réf : Antw: TR: WG:   the   plan')).toBe('the plan');
    expect(threadSubjectOf('Reply to all')).toBe('Reply to all');
  });

  it('strips the numbered nihongo prefix from every fixture subject', async () => {
    const msgs = await readAll(listMbox('nihongo'), { subjectPrefix: '[nihongo:%05d] ', charset: 'euc-jp' });
    expect(msgs.length).toBeGreaterThan(0);
    for (const m of msgs) {
      expect(m.meta.subject).toMatch(/^\[nihongo:\d{5}\]/);
      expect(m.meta.subjectStripped).not.toMatch(/nihongo/);
    }
  });
});

describe('header block', () => {
  it('reports a message without a blank line after its headers and measures headerBytes', () => {
    const ok = parseMessageMeta(Buffer.from('Subject: a\nMessage-ID: <a@b>\n\nbody\n'));
    expect(ok).toMatchObject({ headersTerminated: true, headerBytes: 'Subject: a\nMessage-ID: <a@b>\n\n'.length });
    const bad = parseMessageMeta(Buffer.from('Subject: a\nthis is body text\n'));
    expect(bad.headersTerminated).toBe(false);
    expect(codes(bad)).toContain('headers-unterminated');
    expect(bad.subject).toBe('a');
  });

  it('takes the first of repeated fields and unfolds continuation lines', () => {
    const m = parseMessageMeta(Buffer.from('Subject: first\n\tpart\nSubject: second\nMessage-ID:\n <folded@id>\n\nx\n'));
    expect(m.subject).toBe('first\tpart');
    expect(m.messageId).toBe('folded@id');
  });

  it('falls back to the envelope sender when From has no address', () => {
    const m = parseMessageMeta(Buffer.from('Subject: x\n\nbody\n'), { envelope: { sender: 'kim@example.org', date: null } });
    expect(m.from).toEqual({ name: '', address: 'kim@example.org' });
    expect(codes(m)).toContain('from-missing');
    expect(parseMessageMeta(Buffer.from('From: Kim <kim@example.org>\n\nx\n'), { envelope: { sender: 'bounce@example.org', date: null } }).from.address).toBe('kim@example.org');
  });

  it('parses author forms', () => {
    const from = (v: string) => parseMessageMeta(Buffer.from(`From: ${v}\n\nx\n`)).from;
    expect(from('"Doe, John" <jdoe@example.com>')).toEqual({ name: 'Doe, John', address: 'jdoe@example.com' });
    expect(from('bob@old.example.com (Bob Oldtimer)')).toEqual({ name: 'Bob Oldtimer', address: 'bob@old.example.com' });
    expect(from('victor@example.com')).toEqual({ name: '', address: 'victor@example.com' });
    expect(from('jdoe at example.com')).toEqual({ name: '', address: 'jdoe@example.com' });
    expect(from('=?utf-8?q?Erin_M=C3=BCller?= <erin@example.org>, other@example.org')).toEqual({ name: 'Erin Müller', address: 'erin@example.org' });
  });
});
