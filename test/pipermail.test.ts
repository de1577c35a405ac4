import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  frequencyToKind,
  inReplyToFromMailto,
  parseArchiveToc,
  parsePeriodName,
  periodFor,
  readPipermail,
  type PipermailArchive,
} from '../src/mailman2/pipermail.js';

const FIXTURES = fileURLToPath(new URL('../fixtures/', import.meta.url));
const PERCEVAL = fileURLToPath(new URL('../../shared/fixtures/upstream/perceval/pipermail/', import.meta.url));
const PRIVATE = path.join(FIXTURES, 'mailman2/archives/private');
/** The site that generated the fixtures ran in this zone (fixtures/mailman2 README). */
const SITE_TZ = 'America/New_York';

const ExpectedSchema = z.object({
  list: z.object({ name: z.string(), list_charset: z.string(), archive_volume_frequency: z.number() }),
  archive: z.object({
    periods: z.array(
      z.object({
        period: z.string(),
        index_symlink_target: z.string().nullable().optional(),
        txt: z.boolean(),
        txt_gz: z.boolean(),
        html_files: z.array(z.string()),
        index_pages: z.record(z.string(), z.array(z.string())),
      }),
    ),
    articles: z.array(
      z.object({
        number: z.number(),
        period: z.string(),
        filename: z.string(),
        message_id: z.string(),
        message_id_db_msgid: z.string().nullable(),
        subject: z.string().nullable().optional(),
        author: z.string().nullable().optional(),
        date_epoch: z.number().optional(),
        h1_subject_html: z.string().optional(),
        date_text_html: z.string().optional(),
        linked_from_period_indexes: z.boolean(),
      }),
    ),
    stray_html_files: z.array(
      z.object({
        period: z.string(),
        filename: z.string(),
        message_id_from_mailto: z.string(),
        linked_from_period_indexes: z.boolean(),
      }),
    ),
    db_index_msgid_order: z.record(z.string(), z.record(z.string(), z.array(z.string()))),
  }),
});
type Expected = z.infer<typeof ExpectedSchema>;

const lists = readdirSync(PRIVATE, { withFileTypes: true })
  .filter((d) => d.isDirectory() && !d.name.endsWith('.mbox'))
  .map((d) => d.name)
  .sort();

function loadExpected(list: string): Expected {
  return ExpectedSchema.parse(JSON.parse(readFileSync(path.join(FIXTURES, 'expected', `${list}.json`), 'utf8')));
}

async function readList(list: string, expected: Expected): Promise<PipermailArchive> {
  return readPipermail(path.join(PRIVATE, list), {
    list,
    charset: expected.list.list_charset,
    volumeFrequency: expected.list.archive_volume_frequency,
  });
}

/**
 * EXPECTED's HTML scan found no links in index pages written with lower-case `<a href>` (the French
 * templates), so for such periods the order comes from the pipermail database's date index instead,
 * mapped from db msgid to the article that carries it in that period.
 */
function expectedDateOrder(exp: Expected, period: string): number[] {
  const p = exp.archive.periods.find((x) => x.period === period)!;
  const scanned = p.index_pages.date ?? [];
  if (scanned.length > 0 || p.html_files.length === 0) return [...new Set(scanned.map((f) => parseInt(f, 10)))];
  const byDbId = new Map(
    exp.archive.articles.filter((a) => a.period === period && a.message_id_db_msgid).map((a) => [a.message_id_db_msgid!, a.number]),
  );
  return [...new Set((exp.archive.db_index_msgid_order[period]?.date ?? []).map((id) => byDbId.get(id)!))];
}

function expectedLinked(exp: Expected, a: Expected['archive']['articles'][number]): boolean {
  const p = exp.archive.periods.find((x) => x.period === a.period)!;
  const scannedAny = Object.values(p.index_pages).some((l) => l.length > 0);
  if (scannedAny) return a.linked_from_period_indexes;
  return a.message_id_db_msgid !== null && (exp.archive.db_index_msgid_order[a.period]?.date ?? []).includes(a.message_id_db_msgid);
}

function localTime(epoch: number): string {
  return new Intl.DateTimeFormat('en-GB', { timeZone: SITE_TZ, hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23' }).format(
    new Date(epoch * 1000),
  );
}

describe.each(lists)('pipermail archive of %s against EXPECTED.json', (list) => {
  let exp: Expected;
  let got: PipermailArchive;
  beforeAll(async () => {
    exp = loadExpected(list);
    got = await readList(list, exp);
  });

  it('finds the same periods, kinds, text archives and index pages', () => {
    expect(got.periods.map((p) => p.name).sort()).toEqual(exp.archive.periods.map((p) => p.period).sort());
    const kind = frequencyToKind(exp.list.archive_volume_frequency);
    for (const ep of exp.archive.periods) {
      const p = got.periods.find((x) => x.name === ep.period)!;
      expect(p.kind, ep.period).toBe(kind);
      expect([p.txt, p.txtGz], ep.period).toEqual([ep.txt, ep.txt_gz]);
      for (const view of Object.keys(ep.index_pages)) expect(p.indexPages, ep.period).toContain(`${view}.html`);
      if (ep.index_symlink_target) expect(p.indexPages, ep.period).toContain('index.html');
      expect(p.start <= p.end).toBe(true);
    }
    expect(got.problems.filter((p) => p.code === 'period-kind-differs')).toEqual([]);
  });

  it('lists the date index order of every period', () => {
    for (const ep of exp.archive.periods) {
      const p = got.periods.find((x) => x.name === ep.period)!;
      expect(p.articleNumbers, ep.period).toEqual(expectedDateOrder(exp, ep.period));
    }
  });

  it('maps every article number to its period and Message-ID', () => {
    const homes = got.articles.filter((a) => !a.stray);
    expect(homes.map((a) => `${a.number}@${a.period}`).sort()).toEqual(exp.archive.articles.map((a) => `${a.number}@${a.period}`).sort());
    for (const ea of exp.archive.articles) {
      const a = homes.find((x) => x.number === ea.number && x.period === ea.period)!;
      expect(a.file).toBe(`${ea.period}/${ea.filename}`);
      expect(a.messageId, a.file).toBe(ea.message_id);
      expect(a.linkedFromIndexes, a.file).toBe(expectedLinked(exp, ea));
    }
  });

  it('reads subject, author and the shown date of every article', () => {
    for (const ea of exp.archive.articles) {
      const a = got.articles.find((x) => !x.stray && x.number === ea.number && x.period === ea.period)!;
      if (ea.subject != null) expect(a.subject, a.file).toBe(ea.subject);
      if (ea.author != null) expect(a.author, a.file).toBe(ea.author);
      if (ea.h1_subject_html !== undefined) expect(a.subject, a.file).toBe(ea.h1_subject_html);
      if (ea.date_text_html !== undefined) expect(a.date, a.file).toBe(ea.date_text_html);
      // The page shows the date in the site's zone and language; the clock part is language-neutral.
      if (ea.date_epoch !== undefined) expect(a.date, a.file).toContain(localTime(ea.date_epoch));
    }
  });

  it('reports exactly the stray copies EXPECTED names', () => {
    expect(got.strayFiles.sort()).toEqual(exp.archive.stray_html_files.map((s) => `${s.period}/${s.filename}`).sort());
    for (const s of exp.archive.stray_html_files) {
      const a = got.articles.find((x) => x.file === `${s.period}/${s.filename}`)!;
      expect(a.stray).toBe(true);
      expect(a.messageId).toBe(s.message_id_from_mailto);
      expect(a.linkedFromIndexes).toBe(s.linked_from_period_indexes);
    }
    for (const ep of exp.archive.periods) {
      const files = got.articles.filter((a) => a.period === ep.period).map((a) => a.file.split('/')[1]);
      expect(files.sort(), ep.period).toEqual([...ep.html_files].sort());
    }
  });

  it('lists attachment files and links them to the articles that scrubbed them', () => {
    const dir = path.join(PRIVATE, list, 'attachments');
    const onDisk = existsSync(dir) ? readdirSync(dir, { recursive: true, withFileTypes: true }).filter((d) => d.isFile()).length : 0;
    expect(got.attachments).toHaveLength(onDisk);
    for (const f of got.attachments) {
      expect(statSync(path.join(PRIVATE, list, f.path)).size).toBe(f.size);
      expect(f.path).toBe(`attachments/${f.dateFolder}/${f.hashFolder}/${f.name}`);
    }
    const paths = new Set(got.attachments.map((f) => f.path));
    for (const a of got.articles.filter((x) => x.attachments.length > 0)) {
      // Scrubber: attachments/<YYYYMMDD>/<first 4 + last 4 hex of SHA-1(Message-ID)>/
      const sha = createHash('sha1').update(a.messageId!, 'utf8').digest('hex');
      for (const p of a.attachments) {
        expect(paths.has(p), p).toBe(true);
        expect(p.split('/')[2], a.file).toBe(sha.slice(0, 4) + sha.slice(-4));
      }
    }
    expect(got.problems.filter((p) => p.severity !== 'info')).toEqual([]);
  });
});

describe('charsets', () => {
  it('decodes iso-8859-1 pages (liste-fr) and euc-jp pages (nihongo)', async () => {
    for (const [list, sample] of [
      ['liste-fr', 7],
      ['nihongo', 4],
    ] as const) {
      const exp = loadExpected(list);
      const got = await readList(list, exp);
      const ea = exp.archive.articles.find((a) => a.number === sample)!;
      const a = got.articles.find((x) => x.number === sample)!;
      expect(a.subject).toBe(ea.subject);
      expect(a.author).toBe(ea.author);
      expect(a.subject).not.toContain('\uFFFD');
    }
  });

  it('honours a page META charset over the list charset', async () => {
    const dir = scratch('liste-fr', '2020q1');
    // Same page read with a wrong list charset: the META (iso-8859-1) still wins.
    const got = await readPipermail(dir, { list: 'liste-fr', charset: 'utf-8' });
    const a = got.articles.find((x) => x.number === 7)!;
    expect(a.subject).toBe("Poisson d'avril à vérifier");
  });
});

describe('damaged and unusual pages', () => {
  it('falls back to the author mailto link when LINK REL="made" is missing', async () => {
    const dir = scratch('devtalk', '2019-November');
    editPage(dir, '2019-November/000004.html', (s) => s.replace(/<LINK REL="made"[^>]*>/, ''));
    const got = await readPipermail(dir, { list: 'devtalk', charset: 'us-ascii' });
    const a = got.articles.find((x) => x.number === 4)!;
    expect(a.messageId).toBe('<aa59749ff988.cibot@build.example.com>');
    expect(got.problems.some((p) => p.code === 'missing-link-made' && p.file?.endsWith('000004.html'))).toBe(true);
  });

  it('reports a page without any In-Reply-To link and keeps the article', async () => {
    const dir = scratch('devtalk', '2019-November');
    editPage(dir, '2019-November/000004.html', (s) => s.replace(/&In-Reply-To=[^"]*/g, ''));
    const got = await readPipermail(dir, { list: 'devtalk', charset: 'us-ascii' });
    const a = got.articles.find((x) => x.number === 4)!;
    expect(a.messageId).toBeNull();
    expect(a.subject).toBe('[DevTalk] Nightly build #123 failed');
    expect(got.problems.some((p) => p.code === 'missing-message-id' && p.file?.endsWith('000004.html'))).toBe(true);
  });

  it('reads what it can from truncated pages', async () => {
    const dir = scratch('devtalk', '2019-November');
    editPage(dir, '2019-November/000002.html', (s) => s.slice(0, s.indexOf('<!--beginarticle-->') + 60));
    editPage(dir, '2019-November/000003.html', (s) => s.slice(0, 120));
    writeFileSync(path.join(dir, '2019-November/000005.html'), Buffer.from([0xff, 0x00, 0xfe, 0x3c, 0x3c, 0x3e]));
    const got = await readPipermail(dir, { list: 'devtalk', charset: 'us-ascii' });
    expect(got.articles.find((x) => x.number === 2)!.messageId).toBe('<b0271c7b994e.arm@example.net>');
    expect(got.articles.find((x) => x.number === 3)!.messageId).toBeNull();
    expect(got.articles.find((x) => x.number === 5)!.messageId).toBeNull();
    const truncated = got.problems.filter((p) => p.code === 'truncated-page').map((p) => path.basename(p.file!));
    expect(truncated.sort()).toEqual(['000002.html', '000003.html', '000005.html']);
    expect(got.articles.find((x) => x.number === 6)!.messageId).toBe('<7d1c6af6c364.cafe@example.se>');
  });

  it('reads only the head of an oversized page and says so', async () => {
    const dir = scratch('devtalk', '2019-November');
    const got = await readPipermail(dir, { list: 'devtalk', charset: 'us-ascii', maxPageBytes: 1500 });
    expect(got.articles.find((x) => x.number === 0)!.messageId).toBe('<7d6991d633b2.welcome@example.com>');
    expect(got.problems.some((p) => p.code === 'page-too-large')).toBe(true);
  });

  it('does not follow symlinks out of the archive', async () => {
    const dir = scratch('devtalk', '2019-November');
    const outside = mkdtempSync(path.join(tmpdir(), 'pipermail-outside-'));
    cleanup.push(outside);
    cpSync(path.join(PRIVATE, 'devtalk/2019-December/000017.html'), path.join(outside, '000017.html'));
    symlinkSync(path.join(outside, '000017.html'), path.join(dir, '2019-November/000099.html'));
    symlinkSync(outside, path.join(dir, '2019-October'));
    const got = await readPipermail(dir, { list: 'devtalk', charset: 'us-ascii' });
    expect(got.articles.some((a) => a.number === 99 || a.number === 17)).toBe(false);
    expect(got.periods.some((p) => p.name === '2019-October')).toBe(false);
    expect(got.problems.filter((p) => p.code === 'symlink-outside-archive')).toHaveLength(2);
  });

  it('reports index links to pages that are gone', async () => {
    const dir = scratch('devtalk', '2019-November');
    rmSync(path.join(dir, '2019-November/000007.html'));
    const got = await readPipermail(dir, { list: 'devtalk', charset: 'us-ascii' });
    expect(got.articles.some((a) => a.number === 7)).toBe(false);
    expect(got.periods[0]!.articleNumbers).toContain(7);
    const dangling = got.problems.filter((p) => p.code === 'dangling-index-link');
    expect(dangling).toHaveLength(1);
    expect(dangling[0]!.message).toContain('000007.html');
  });

  it('keeps two different articles that share a number in two periods (no stray evidence)', async () => {
    const dir = scratch('devtalk', '2019-November');
    cpSync(path.join(PRIVATE, 'devtalk/2019-December'), path.join(dir, '2019-December'), { recursive: true });
    cpSync(path.join(dir, '2019-November/000003.html'), path.join(dir, '2019-December/000003.html'));
    editPage(dir, '2019-December/000003.html', (s) => s.replace(/In-Reply-To=[^"]*/g, 'In-Reply-To=%3Cother%40example.org%3E'));
    const got = await readPipermail(dir, { list: 'devtalk', charset: 'us-ascii' });
    const threes = got.articles.filter((a) => a.number === 3);
    expect(threes.map((a) => [a.period, a.stray, a.linkedFromIndexes])).toEqual([
      ['2019-November', false, true],
      ['2019-December', false, false],
    ]);
    expect(got.strayFiles).toEqual([]);
    expect(got.problems.some((p) => p.code === 'number-in-several-periods')).toBe(true);
  });

  it('returns a problem, not an exception, for a missing archive folder', async () => {
    const got = await readPipermail(path.join(tmpdir(), 'no-such-pipermail-archive'), { list: 'nolist', charset: 'us-ascii' });
    expect(got.articles).toEqual([]);
    expect(got.problems.map((p) => p.code)).toEqual(['archive-missing']);
  });
});

describe('Message-IDs in mailto links', () => {
  const mailto = (q: string): string => `mailto:devtalk%40lists.example.org?Subject=Re%3A%20x&In-Reply-To=${q}`;

  it('decodes urllib.quote output, keeping / and + literal', () => {
    expect(inReplyToFromMailto(mailto('%3C20210315.abc%2Bdef/ghi%3Djkl%26x%25y%40mail.example.com%3E'), 'us-ascii')).toBe(
      '<20210315.abc+def/ghi=jkl&x%y@mail.example.com>',
    );
    expect(inReplyToFromMailto(mailto('%3Ca+b%40c%3E'), 'us-ascii')).toBe('<a+b@c>');
    expect(inReplyToFromMailto(mailto('a%40b%20%28comment%29'), 'us-ascii')).toBe('a@b (comment)');
  });

  it('decodes raw header bytes as UTF-8 when valid, else in the page charset', () => {
    expect(inReplyToFromMailto(mailto('%3Cr%C3%A9sum%C3%A9%40x%3E'), 'iso-8859-1')).toBe('<résumé@x>');
    expect(inReplyToFromMailto(mailto('%3Cr%E9sum%E9%40x%3E'), 'iso-8859-1')).toBe('<résumé@x>');
    expect(inReplyToFromMailto(mailto('%3C%C6%FC%CB%DC%40x%3E'), 'euc-jp')).toBe('<日本@x>');
  });

  it('finds the parameter whatever its position and case, and rejects links without it', () => {
    expect(inReplyToFromMailto('mailto:l%40h?in-reply-to=%3Ca%40b%3E&Subject=x', 'us-ascii')).toBe('<a@b>');
    expect(inReplyToFromMailto('mailto:l%40h?Subject=x', 'us-ascii')).toBeNull();
    expect(inReplyToFromMailto('mailto:l%40h?Subject=x&In-Reply-To=', 'us-ascii')).toBeNull();
    expect(inReplyToFromMailto('mailto:l%40h', 'us-ascii')).toBeNull();
  });

  it('reads such an id from a real page', async () => {
    const dir = scratch('devtalk', '2019-November');
    editPage(dir, '2019-November/000001.html', (s) =>
      s.replace(/In-Reply-To=[^"]*/g, 'In-Reply-To=%3C20210315.abc%2Bdef/ghi%3Djkl%26x%25y%40mail.example.com%3E'),
    );
    const got = await readPipermail(dir, { list: 'devtalk', charset: 'us-ascii' });
    expect(got.articles.find((a) => a.number === 1)!.messageId).toBe('<20210315.abc+def/ghi=jkl&x%y@mail.example.com>');
  });
});

describe('archive table of contents', () => {
  it('lists the periods of every fixture archive, newest first', () => {
    for (const list of lists) {
      const exp = loadExpected(list);
      const toc = parseArchiveToc(readFileSync(path.join(PRIVATE, list, 'index.html'), 'latin1'));
      const names = exp.archive.periods.map((p) => p.period);
      expect(toc.periods.sort(), list).toEqual([...names].sort());
      expect(toc.textArchives.length, list).toBe(names.length);
    }
  });

  it.skipIf(!existsSync(PERCEVAL))('reads the Perceval pipermail index samples', () => {
    const toc = parseArchiveToc(readFileSync(path.join(PERCEVAL, 'pipermail_index.html'), 'utf8'));
    expect(toc.periods).toEqual(['2016-April', '2016-March', '2015-November']);
    expect(toc.textArchives).toEqual(['2016-April.txt', '2016-March.txt', '2015-November.txt.gz']);
    expect(parseArchiveToc(readFileSync(path.join(PERCEVAL, 'pipermail_index_empty.html'), 'utf8')).periods).toEqual([]);
    // A mod_mbox (Apache) listing is not a pipermail archive.
    expect(parseArchiveToc(readFileSync(path.join(PERCEVAL, 'pipermail_apache_index.html'), 'utf8')).periods).toEqual([]);
  });

  it('reports periods the index links but that have no folder', async () => {
    const dir = scratch('devtalk', '2019-November');
    cpSync(path.join(PRIVATE, 'devtalk/index.html'), path.join(dir, 'index.html'));
    const got = await readPipermail(dir, { list: 'devtalk', charset: 'us-ascii' });
    const missing = got.problems.filter((p) => p.code === 'toc-period-missing').map((p) => p.message);
    expect(missing).toHaveLength(3);
    expect(missing.join(' ')).toContain('2020-February');
  });
});

describe('period names', () => {
  it('parses all five frequencies', () => {
    expect(parsePeriodName('2019-November')).toEqual({ name: '2019-November', kind: 'monthly', start: '2019-11-01', end: '2019-11-30' });
    expect(parsePeriodName('2019-December')).toMatchObject({ kind: 'monthly', start: '2019-12-01', end: '2019-12-31' });
    expect(parsePeriodName('2020-February')).toMatchObject({ end: '2020-02-29' });
    expect(parsePeriodName('2019-february')).toMatchObject({ kind: 'monthly', end: '2019-02-28' });
    expect(parsePeriodName('2019q4')).toMatchObject({ kind: 'quarterly', start: '2019-10-01', end: '2019-12-31' });
    expect(parsePeriodName('2020q1')).toMatchObject({ kind: 'quarterly', start: '2020-01-01', end: '2020-03-31' });
    expect(parsePeriodName('2002')).toMatchObject({ kind: 'yearly', start: '2002-01-01', end: '2002-12-31' });
    expect(parsePeriodName('Week-of-Mon-20191104')).toMatchObject({ kind: 'weekly', start: '2019-11-04', end: '2019-11-10' });
    expect(parsePeriodName('Week-of-Mon-20191230')).toMatchObject({ kind: 'weekly', start: '2019-12-30', end: '2020-01-05' });
    expect(parsePeriodName('20210311')).toMatchObject({ kind: 'daily', start: '2021-03-11', end: '2021-03-11' });
    expect(parsePeriodName('20201231')).toMatchObject({ kind: 'daily', start: '2020-12-31' });
  });

  it('rejects names pipermail never writes', () => {
    for (const bad of ['2019-Novembre', '2019q5', '2019q0', '20190230', '20191301', 'Week-of-Mon-20191332', 'attachments', 'database', '19']) {
      expect(parsePeriodName(bad), bad).toBeNull();
    }
  });

  it('files dates like dateToVolName in the server time zone', () => {
    // devtalk 000017: Sat, 30 Nov 2019 22:30 -0800 on a New York server.
    expect(periodFor(new Date('2019-11-30T22:30:00-08:00'), 'monthly', SITE_TZ)).toBe('2019-December');
    expect(periodFor(new Date('2019-11-30T22:30:00-08:00'), 'monthly', 'America/Los_Angeles')).toBe('2019-November');
    // A Berlin server files 2021-03-31 22:30 UTC in April.
    expect(periodFor(new Date('2021-03-31T22:30:00Z'), 1, 'Europe/Berlin')).toBe('2021-April');
    // liste-fr 000007 and oldproject 000012.
    expect(periodFor(new Date('2020-03-31T23:59:00-04:00'), 2, SITE_TZ)).toBe('2020q1');
    expect(periodFor(new Date('2003-12-31T23:30:00-08:00'), 0, SITE_TZ)).toBe('2004');
    expect(periodFor(new Date('2019-12-01T23:28:53-05:00'), 'weekly', SITE_TZ)).toBe('Week-of-Mon-20191125');
    expect(periodFor(new Date('2021-03-11T12:00:00Z'), 'daily', SITE_TZ)).toBe('20210311');
    // Mailman subtracts weekday*86400 s: late on the Sunday of a fall-back the "Monday" is a Tuesday.
    expect(periodFor(new Date('2019-11-04T04:30:00Z'), 'weekly', SITE_TZ)).toBe('Week-of-Mon-20191029');
  });

  it('agrees with every article of the fixtures', () => {
    for (const list of lists) {
      const exp = loadExpected(list);
      for (const a of exp.archive.articles) {
        if (a.date_epoch === undefined) continue;
        expect(periodFor(new Date(a.date_epoch * 1000), exp.list.archive_volume_frequency, SITE_TZ), `${list} ${a.number}`).toBe(a.period);
      }
    }
  });
});

const cleanup: string[] = [];
afterAll(() => {
  for (const d of cleanup) rmSync(d, { recursive: true, force: true });
});

/** A private copy of one period of a fixture list, to damage. */
function scratch(list: string, period: string): string {
  const root = mkdtempSync(path.join(tmpdir(), 'pipermail-test-'));
  cleanup.push(root);
  const dir = path.join(root, list);
  cpSync(path.join(PRIVATE, list, period), path.join(dir, period), { recursive: true });
  return dir;
}

function editPage(dir: string, rel: string, edit: (s: string) => string): void {
  const file = path.join(dir, rel);
  writeFileSync(file, Buffer.from(edit(readFileSync(file, 'latin1')), 'latin1'));
}
