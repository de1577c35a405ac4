import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { buildRedirects } from '../src/redirects/entries.js';
import { toNginx } from '../src/redirects/nginx.js';
import { toApache } from '../src/redirects/apache.js';
import { toCsv, toJson } from '../src/redirects/tabular.js';
import { archiveView, periodSpan } from '../src/redirects/periods.js';
import type { RedirectEntry, RedirectInput, RedirectResult, Target } from '../src/redirects/types.js';
import { SAMPLE_LISTS, attachmentPaths, inputFromExpected, loadExpected } from './webservers/fixture-input.js';

const HK: Target = {
  kind: 'hyperkitty',
  baseUrl: 'https://lists.example.org/hyperkitty/',
  postoriusUrl: 'https://lists.example.org/postorius/',
};

/** HyperKitty's stored Message-ID (hyperkitty_import _fix_mid + get_message_id), written out independently here. */
function hyperkittyId(raw: string): string {
  let id = raw.replace(/\s/g, '');
  if (id.startsWith('<') && id.includes('>')) id = id.slice(0, id.indexOf('>') + 1);
  id = [...id].filter((c) => c.charCodeAt(0) < 128).join('');
  if (id.length > 1 && id.startsWith('<') && id.endsWith('>')) id = id.slice(1, -1);
  return id.slice(0, 254);
}

/** RFC 4648 base32 of SHA-1, as HyperKitty's get_message_id_hash. */
function expectedHash(raw: string): string {
  const digest = createHash('sha1').update(hyperkittyId(raw), 'utf8').digest();
  const bits = [...digest].map((b) => b.toString(2).padStart(8, '0')).join('');
  let out = '';
  for (let i = 0; i < bits.length; i += 5) out += 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567'[Number.parseInt(bits.slice(i, i + 5).padEnd(5, '0'), 2)];
  return out;
}

function at(result: RedirectResult, url: string): RedirectEntry[] {
  const u = new URL(url);
  const path = decodeURIComponent(u.pathname);
  return result.entries.filter((e) => e.host === u.hostname && e.oldPath === path);
}

const samples = SAMPLE_LISTS.map((name) => {
  const exp = loadExpected(name);
  const input = inputFromExpected(exp);
  return { name, exp, input, result: buildRedirects(input, HK) };
});

describe.each(samples)('redirects for sample list $name', ({ exp, result }) => {
  const fqdn = exp.list.posting_address;
  const listBase = `https://lists.example.org/hyperkitty/list/${fqdn}/`;

  it('gives every article exactly one entry at the URL EXPECTED records, pointing at its Message-ID hash', () => {
    expect(exp.archive.articles.length).toBeGreaterThan(0);
    for (const a of exp.archive.articles) {
      const hits = at(result, a.url);
      expect(hits, a.url).toHaveLength(1);
      const hit = hits[0]!;
      expect(hit.kind).toBe('article');
      expect(hit.confidence).toBe('html');
      expect(a.message_id).not.toBeNull();
      expect(hit.newUrl).toBe(`${listBase}message/${expectedHash(a.message_id!)}/`);
    }
  });

  it('covers the private archive URL of every article, and /pipermail/ only for public archives', () => {
    const pipermail = result.entries.filter((e) => e.oldPath.startsWith('/pipermail/'));
    if (!exp.list.public_archive) expect(pipermail).toHaveLength(0);
    else expect(pipermail.length).toBeGreaterThan(0);
    for (const a of exp.archive.articles) {
      const rel = a.url.slice(exp.list.archive_base_url.length);
      const privateHits = at(result, exp.list.private_archive_url + rel);
      expect(privateHits, rel).toHaveLength(1);
      expect(privateHits[0]!.newUrl).toBe(`${listBase}message/${expectedHash(a.message_id!)}/`);
    }
    const articleEntries = result.entries.filter((e) => e.kind === 'article');
    const bases = exp.list.public_archive ? 2 : 1;
    expect(articleEntries).toHaveLength(exp.archive.articles.length * bases);
  });

  it('accounts for every file in every period folder: an entry, or unmapped with a reason', () => {
    const base = exp.list.archive_base_url;
    for (const p of exp.archive.periods) {
      const files = [...p.html_files, 'thread.html', 'date.html', 'subject.html', 'author.html', 'index.html'];
      for (const f of files) {
        const url = new URL(`${base}${p.period}/${f}`);
        const mapped = at(result, url.href).length;
        const unmapped = result.unmapped.filter((u) => u.host === url.hostname && u.oldPath === url.pathname);
        expect(mapped + unmapped.length, url.href).toBe(1);
        for (const u of unmapped) expect(u.reason.length).toBeGreaterThan(10);
      }
      for (const [ext, present] of [['.txt', p.txt], ['.txt.gz', p.txt_gz]] as const) {
        if (!present) continue;
        const hits = at(result, `${base}${p.period}${ext}`);
        expect(hits, `${p.period}${ext}`).toHaveLength(1);
        const span = new URL(hits[0]!.newUrl);
        expect(span.pathname).toBe(new URL(`${listBase}export/${exp.list.name}-${p.period}.mbox.gz`).pathname);
        expect(span.searchParams.get('start')! < span.searchParams.get('end')!).toBe(true);
      }
    }
  });

  it('redirects the list root, index.html and listinfo', () => {
    const base = exp.list.archive_base_url;
    for (const url of [base, base.slice(0, -1), `${base}index.html`]) {
      expect(at(result, url).map((e) => e.newUrl), url).toEqual([listBase]);
    }
    const listId = fqdn.replace('@', '.');
    expect(at(result, exp.list.listinfo_url).map((e) => e.newUrl)).toEqual([`https://lists.example.org/postorius/lists/${listId}/`]);
  });

  it('leaves attachments without a new URL unmapped, with a reason', () => {
    const atts = attachmentPaths(exp.list.name);
    const unmapped = result.unmapped.filter((u) => u.kind === 'attachment');
    expect(unmapped).toHaveLength(atts.length * (exp.list.public_archive ? 2 : 1));
    for (const u of unmapped) expect(u.code).toBe('attachment-not-migrated');
    expect(result.entries.filter((e) => e.kind === 'attachment')).toHaveLength(0);
  });

  it('keys are decoded paths of the list host and new URLs are absolute', () => {
    const host = new URL(exp.list.listinfo_url).hostname;
    for (const e of result.entries) {
      expect(e.host).toBe(host);
      expect(e.oldPath.startsWith('/')).toBe(true);
      expect(new URL(e.newUrl).protocol).toBe('https:');
    }
    expect(result.problems.filter((p) => p.severity === 'error')).toEqual([]);
  });
});

describe('period pages', () => {
  const devtalk = samples.find((s) => s.name === 'devtalk')!;

  it('maps a December period (HyperKitty compat views break on December) to the month view and export', () => {
    const base = devtalk.exp.list.archive_base_url;
    const month = 'https://lists.example.org/hyperkitty/list/devtalk@lists.example.org/2019/12/';
    for (const page of ['', 'thread.html', 'date.html', 'subject.html', 'author.html', 'index.html']) {
      expect(at(devtalk.result, `${base}2019-December/${page}`).map((e) => e.newUrl)).toEqual([month]);
    }
    expect(at(devtalk.result, `${base}2019-December`).map((e) => e.newUrl)).toEqual([month]);
    const txt = at(devtalk.result, `${base}2019-December.txt.gz`)[0]!;
    expect(txt.kind).toBe('period-txt');
    expect(txt.newUrl).toBe(
      'https://lists.example.org/hyperkitty/list/devtalk@lists.example.org/export/devtalk-2019-December.mbox.gz?start=2019-12-01&end=2020-01-01',
    );
  });

  it('gives quarterly, weekly and yearly periods a month view and dailies a day view', () => {
    const fr = samples.find((s) => s.name === 'liste-fr')!;
    expect(at(fr.result, `${fr.exp.list.archive_base_url}2020q1/date.html`)[0]!.newUrl).toMatch(/\/2020\/1\/$/);
    const jp = samples.find((s) => s.name === 'nihongo')!;
    // The week of Mon 25 Nov 2019 has six of its days in November.
    expect(at(jp.result, `${jp.exp.list.archive_base_url}Week-of-Mon-20191125/`)[0]!.newUrl).toBe(
      'https://lists.example.org/hyperkitty/list/nihongo@example.net/2019/11/',
    );
    expect(archiveView('week', '2019-12-30', '2020-01-06')).toEqual({ year: 2020, month: 1 });
    expect(archiveView('year', '1999-01-01', '2000-01-01', '1999-03-02')).toEqual({ year: 1999, month: 3 });
    expect(archiveView('year', '1999-01-01', '2000-01-01', '2004-03-02')).toEqual({ year: 1999, month: 1 });
    expect(archiveView('day', '2021-03-11', '2021-03-12')).toEqual({ year: 2021, month: 3, day: 11 });
  });

  it('reads the span of all five pipermail period forms', () => {
    expect(periodSpan('2019-December')).toEqual({ granularity: 'month', start: '2019-12-01', end: '2020-01-01' });
    expect(periodSpan('2019q4')).toEqual({ granularity: 'quarter', start: '2019-10-01', end: '2020-01-01' });
    expect(periodSpan('2002')).toEqual({ granularity: 'year', start: '2002-01-01', end: '2003-01-01' });
    expect(periodSpan('Week-of-Mon-20191230')).toEqual({ granularity: 'week', start: '2019-12-30', end: '2020-01-06' });
    expect(periodSpan('20200229')).toEqual({ granularity: 'day', start: '2020-02-29', end: '2020-03-01' });
    expect(periodSpan('20190229')).toBeNull();
    expect(periodSpan('2019-Décembre')).toBeNull();
  });

  it('uses the HyperKitty day view for daily periods', () => {
    const input = baseInput();
    input.periods = [{ name: '20210311', txt: true, txtGz: false, start: '2021-03-11', end: '2021-03-12' }];
    input.articles = [{ number: 0, period: '20210311', messageId: '<a@b>', stray: false, source: 'html' }];
    const r = buildRedirects(input, HK);
    const e = r.entries.find((x) => x.oldPath === '/pipermail/demo/20210311/thread.html')!;
    expect(e.newUrl).toBe('https://lists.example.org/hyperkitty/list/demo@example.org/2021/3/11/');
    const txt = r.entries.find((x) => x.oldPath === '/pipermail/demo/20210311.txt')!;
    expect(new URL(txt.newUrl).search).toBe('?start=2021-03-11&end=2021-03-12');
  });
});

describe('pipermail traps', () => {
  it('does not give the stray copy of a duplicated Message-ID a second entry', () => {
    const old = samples.find((s) => s.name === 'oldproject')!;
    const stray = old.exp.archive.stray_html_files[0]!;
    const strayUrl = `${old.exp.list.archive_base_url}${stray.period}/${stray.filename}`;
    expect(at(old.result, strayUrl)).toHaveLength(0);
    const un = old.result.unmapped.filter((u) => u.oldPath === new URL(strayUrl).pathname);
    expect(un).toHaveLength(1);
    expect(un[0]!.code).toBe('stray-copy');
    const number = Number.parseInt(stray.filename, 10);
    const home = old.exp.archive.articles.filter((a) => a.number === number);
    expect(home).toHaveLength(1);
    expect(at(old.result, home[0]!.url)).toHaveLength(1);
  });

  it('warns when two pages share a Message-ID and still redirects both', () => {
    const dev = samples.find((s) => s.name === 'devtalk')!;
    const w = dev.result.problems.filter((p) => p.code === 'redirect-duplicate-message-id');
    expect(w).toHaveLength(1);
    expect(w[0]!.message).toContain('meeting-notes@example.org');
    const [a12, a13] = [12, 13].map((n) => dev.exp.archive.articles.find((a) => a.number === n)!);
    expect(at(dev.result, a12!.url)[0]!.newUrl).toBe(at(dev.result, a13!.url)[0]!.newUrl);
  });

  it('uses the new Message-ID the migration gave a duplicate', () => {
    const dev = samples.find((s) => s.name === 'devtalk')!;
    const input = structuredClone(dev.input);
    const a12 = input.articles.find((a) => a.number === 12)!;
    a12.newMessageId = '<meeting-notes.dup1@mm2migrate.invalid>';
    const r = buildRedirects(input, HK);
    const url = dev.exp.archive.articles.find((a) => a.number === 12)!.url;
    expect(at(r, url)[0]!.newUrl).toContain(`/message/${expectedHash('<meeting-notes.dup1@mm2migrate.invalid>')}/`);
    expect(r.problems.filter((p) => p.code === 'redirect-duplicate-message-id')).toHaveLength(0);
  });

  it('leaves a page without Message-ID unmapped and marks mbox-order matches', () => {
    const input = baseInput();
    input.articles = [
      { number: 0, period: '2019-December', messageId: null, stray: false, source: 'html' },
      { number: 1, period: '2019-December', messageId: '<x@y>', stray: false, source: 'mbox-order' },
      { number: 2, period: '2019-December', messageId: '<>', stray: false, source: 'html' },
    ];
    const r = buildRedirects(input, HK);
    const codes = r.unmapped.filter((u) => u.kind === 'article').map((u) => `${u.oldPath} ${u.code}`);
    expect(codes).toEqual(
      expect.arrayContaining([
        '/pipermail/demo/2019-December/000000.html no-message-id',
        '/pipermail/demo/2019-December/000002.html empty-message-id',
      ]),
    );
    expect(r.entries.find((e) => e.oldPath === '/pipermail/demo/2019-December/000001.html')!.confidence).toBe('mbox-order');
  });

  it('zero-pads numbers to six digits and lets them grow past 999999', () => {
    const input = baseInput();
    input.articles = [
      { number: 7, period: '2019-December', messageId: '<s@y>', stray: false, source: 'html' },
      { number: 1234567, period: '2019-December', messageId: '<b@y>', stray: false, source: 'html' },
    ];
    const paths = buildRedirects(input, HK).entries.filter((e) => e.kind === 'article').map((e) => e.oldPath);
    expect(paths).toContain('/pipermail/demo/2019-December/000007.html');
    expect(paths).toContain('/pipermail/demo/2019-December/1234567.html');
  });
});

describe('old URL layout options', () => {
  const dev = samples.find((s) => s.name === 'devtalk')!;

  it('puts private archive and listinfo under private.cgi / listinfo.cgi with cgiExtension .cgi', () => {
    const r = buildRedirects(dev.input, HK, { cgiExtension: '.cgi' });
    const a = dev.exp.archive.articles[0]!;
    const rel = a.url.slice(dev.exp.list.archive_base_url.length);
    expect(at(r, `http://lists.example.org/mailman/private.cgi/devtalk/${rel}`)).toHaveLength(1);
    expect(r.entries.filter((e) => e.oldPath.startsWith('/mailman/private/'))).toHaveLength(0);
    expect(at(r, 'http://lists.example.org/mailman/listinfo.cgi/devtalk')).toHaveLength(1);
    expect(at(r, a.url)).toHaveLength(1); // the public archive path does not depend on the CGI extension
  });

  it('moves every old URL to the host of oldBaseUrl', () => {
    const r = buildRedirects(dev.input, HK, { oldBaseUrl: 'https://Archive.Example.COM' });
    expect(new Set(r.entries.map((e) => e.host))).toEqual(new Set(['archive.example.com']));
    const a = dev.exp.archive.articles[5]!;
    const path = new URL(a.url).pathname;
    expect(r.entries.filter((e) => e.oldPath === path)).toHaveLength(1);
  });

  it('follows a site PUBLIC_ARCHIVE_URL and keeps each list on its own virtual host', () => {
    const r = buildRedirects(dev.input, HK, { publicArchiveUrl: 'https://%(hostname)s/archives/%(listname)s/' });
    expect(r.entries.some((e) => e.oldPath === '/archives/devtalk/2019-December/000017.html')).toBe(true);
    const jp = samples.find((s) => s.name === 'nihongo')!;
    expect(new Set(jp.result.entries.map((e) => e.host))).toEqual(new Set(['lists.example.net']));
  });

  it('refuses list names that are unsafe in a path, with a problem naming the list', () => {
    const input = baseInput();
    input.list.name = 'bad name/..';
    const r = buildRedirects(input, HK);
    expect(r.entries).toHaveLength(0);
    expect(r.problems[0]!.severity).toBe('error');
    expect(r.problems[0]!.message).toContain('bad name/..');
  });
});

describe('attachments and odd characters', () => {
  it('redirects attachments that have a new URL and refuses control characters in keys', () => {
    const input = baseInput();
    input.attachments = [
      { path: 'attachments/20191105/03300cd7/attachment.png', newUrl: 'https://files.example.org/a.png' },
      { path: 'attachments/20191105/03300cd7/report 2019 é.pdf', newUrl: 'https://files.example.org/r%20é.pdf' },
      { path: 'attachments/20191105/03300cd7/tab\there.txt', newUrl: 'https://files.example.org/t.txt' },
      { path: 'attachments/../../etc/passwd', newUrl: 'https://files.example.org/x' },
    ];
    const r = buildRedirects(input, HK);
    const spaced = r.entries.find((e) => e.oldPath === '/pipermail/demo/attachments/20191105/03300cd7/report 2019 é.pdf')!;
    expect(spaced.newUrl).toBe('https://files.example.org/r%20%C3%A9.pdf');
    const unsafe = r.unmapped.filter((u) => u.code === 'unsafe-old-path').map((u) => u.oldPath);
    expect(unsafe.some((p) => p.includes('tab\there'))).toBe(true);
    expect(unsafe.some((p) => p.includes('/../'))).toBe(true);
    expect(r.entries.some((e) => e.oldPath.includes('\t') || e.oldPath.includes('..'))).toBe(false);
  });
});

describe('Discourse target', () => {
  it('sends articles to their post permalinks and everything else to the category', () => {
    const exp = loadExpected('devtalk');
    const input = inputFromExpected(exp, { discourse: true });
    const target: Target = { kind: 'discourse', baseUrl: 'https://forum.example.org/', categoryUrl: (l) => `https://forum.example.org/c/${l.name}/7` };
    const r = buildRedirects(input, target);
    exp.archive.articles.forEach((a, i) => {
      const hits = at(r, a.url);
      expect(hits).toHaveLength(1);
      expect(hits[0]!.newUrl).toBe(`https://forum.example.org/t/sujet-${i}/${1000 + Math.floor(i / 3)}/${(i % 3) + 1}`);
    });
    for (const e of r.entries.filter((x) => x.kind !== 'article')) expect(e.newUrl).toBe('https://forum.example.org/c/devtalk/7');
    const noPost = buildRedirects(inputFromExpected(exp), target);
    expect(noPost.entries.filter((e) => e.kind === 'article')).toHaveLength(0);
    expect(new Set(noPost.unmapped.filter((u) => u.kind === 'article').map((u) => u.code))).toEqual(new Set(['not-imported']));
  });
});

describe('writers', () => {
  const all = samples.flatMap((s) => s.result.entries);

  it('nginx map has one line per entry keyed by $host$uri, and falls back to regexes for case-only twins', () => {
    const { mapFile, serverSnippet, problems } = toNginx(all);
    expect(problems).toEqual([]);
    const lines = mapFile.split('\n').filter((l) => /^ {4}"/.test(l));
    expect(lines).toHaveLength(all.length);
    expect(mapFile).toContain('map $host$uri $mm2migrate_redirect {');
    expect(serverSnippet).toContain('return 301 $mm2migrate_redirect;');
    const twins: RedirectEntry[] = [
      { host: 'h.example', oldPath: '/a/File.pdf', newUrl: 'https://n.example/1', kind: 'attachment', confidence: 'derived' },
      { host: 'h.example', oldPath: '/a/file.pdf', newUrl: 'https://n.example/2', kind: 'attachment', confidence: 'derived' },
    ];
    const twinMap = toNginx(twins).mapFile;
    expect(twinMap).toContain('"~^h\\\\.example/a/File\\\\.pdf$" "https://n.example/1";');
  });

  it('writers drop conflicting duplicates with a problem and write exact duplicates once', () => {
    const e: RedirectEntry = { host: 'h.example', oldPath: '/x', newUrl: 'https://n.example/1', kind: 'article', confidence: 'html' };
    const { rewriteMap, problems } = toApache([e, { ...e }, { ...e, newUrl: 'https://n.example/2' }]);
    expect(rewriteMap.split('\n').filter((l) => l.startsWith('h.example'))).toEqual(['h.example/x https://n.example/1']);
    expect(problems.map((p) => p.code)).toEqual(['redirect-conflicting-target']);
  });

  it('Apache map keys never contain whitespace and the snippet is per host', () => {
    const withSpace: RedirectEntry = { host: 'h.example', oldPath: '/a b/é%.pdf', newUrl: 'https://n.example/1', kind: 'attachment', confidence: 'derived' };
    const { rewriteMap, vhostSnippets, configSnippet } = toApache([...all, withSpace]);
    for (const line of rewriteMap.split('\n').filter((l) => l && !l.startsWith('#'))) expect(line.split(' ')).toHaveLength(2);
    expect(rewriteMap).toContain('h.example/a%20b/%c3%a9%25.pdf https://n.example/1');
    expect(vhostSnippets.map((v) => v.host).sort()).toEqual(['h.example', 'lists.example.net', 'lists.example.org']);
    expect(configSnippet).toContain('httxt2dbm -i');
  });

  it('CSV quotes fields with commas and quotes; JSON keeps entries and unmapped', () => {
    const odd: RedirectEntry = { host: 'h.example', oldPath: '/a,"b"', newUrl: 'https://n.example/1', kind: 'attachment', confidence: 'derived' };
    const csv = toCsv([odd]);
    expect(csv).toBe('host,old_path,new_url,kind,confidence\r\nh.example,"/a,""b""",https://n.example/1,attachment,derived\r\n');
    const dev = samples.find((s) => s.name === 'devtalk')!.result;
    const doc = JSON.parse(toJson(dev.entries, dev.unmapped)) as { entries: RedirectEntry[]; unmapped: unknown[] };
    expect(doc.entries).toHaveLength(dev.entries.length);
    expect(doc.unmapped).toHaveLength(dev.unmapped.length);
  });
});

function baseInput(): RedirectInput {
  return {
    list: {
      name: 'demo',
      webPageUrl: 'http://lists.example.org/mailman/',
      hostName: 'example.org',
      postingAddress: 'demo@example.org',
      archivePrivate: false,
      volumeFrequency: 1,
    },
    articles: [],
    periods: [{ name: '2019-December', txt: true, txtGz: false, start: '2019-12-01', end: '2020-01-01' }],
    attachments: [],
  };
}
