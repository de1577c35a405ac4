/**
 * Redirects built from the pipeline's state database: the sample installation is run through the dry-run
 * pipeline into a temp state, the redirects are built from that state, and
 *  - every pipermail article of every sample list has exactly one redirect (per old URL form), landing on the
 *    HyperKitty message whose hash this test computes itself from the Message-ID the pipermail page shows
 *    (EXPECTED.json), except where the migration gave the message another id (a different message reusing an
 *    id; a message pipermail invented an id for) — then on the id the state holds for that mbox message;
 *  - real nginx and Apache httpd, loaded with the generated files, answer every old URL with that 301;
 *  - the CLI writes the files and the per-list report; verifyRedirects follows redirects against a local server;
 *  - HyperKitty's attachment numbering matches its own scrubber (when installed); lists without pipermail HTML
 *    fall back to mbox order; Discourse targets use the journaled posts and create permalinks idempotently.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LoadedConfig } from '../src/config/load.js';
import { runListJob } from '../src/pipeline/job.js';
import { createProgress } from '../src/pipeline/progress.js';
import { toApache } from '../src/redirects/apache.js';
import { redirectsFromState, type ListRedirects } from '../src/redirects/from-state.js';
import { hyperkittyAttachments } from '../src/redirects/hyperkitty-attachments.js';
import { encodePathForUrl } from '../src/redirects/keys.js';
import { toNginx } from '../src/redirects/nginx.js';
import type { RedirectEntry } from '../src/redirects/types.js';
import { verifyRedirects } from '../src/redirects/verify.js';
import { StateDb } from '../src/state/db.js';
import { Store } from '../src/state/store.js';
import { Mailman3Target } from '../src/targets/mailman3/target.js';
import { runCli } from './helpers/cli.js';
import { discourseConfig, FAST_CLIENT, KEY_ENV, runList } from './helpers/discourse-run.js';
import { expected, ROOT, SAMPLE_LISTS, SAMPLE_ROOT, sampleConfig } from './helpers/sample.js';
import { startDiscourseDouble, type DiscourseDouble } from './doubles/discourse-double.js';
import { apacheBinary, apacheModuleDir, nginxBinary, startApache, startNginx, type RunningServer } from './webservers/servers.js';

// --- EXPECTED.json (what this test reads of it) ------------------------------------------------------------

interface ExpArticle {
  number: number;
  period: string;
  filename: string;
  url: string;
  message_id: string;
  date_epoch?: number;
  mbox_chunk: number;
  mbox_chunk_offset: number;
  mbox_chunk_message_id: string | null;
}
interface Exp {
  list: { name: string; posting_address: string; public_archive: boolean; private_archive_url: string; archive_base_url: string; listinfo_url: string };
  archive: { periods: { period: string; txt: boolean; txt_gz: boolean }[]; articles: ExpArticle[]; stray_html_files: { period: string; filename: string }[] };
}
const exp = (list: string): Exp => JSON.parse(readFileSync(path.join(ROOT, 'fixtures/expected', `${list}.json`), 'utf8')) as Exp;

// --- independent HyperKitty URL arithmetic -----------------------------------------------------------------

const B32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
function hkHash(id: string): string {
  const bytes = createHash('sha1').update(id, 'utf8').digest();
  let bits = '';
  for (const b of bytes) bits += b.toString(2).padStart(8, '0');
  let out = '';
  for (let i = 0; i < bits.length; i += 5) out += B32[parseInt(bits.slice(i, i + 5).padEnd(5, '0'), 2)];
  return out;
}
const bare = (id: string): string => id.trim().replace(/^<(.*)>$/, '$1');
const NEW = 'https://lists.example.org/hyperkitty/';
const messageUrl = (fqdn: string, id: string): string => `${NEW}list/${fqdn}/message/${hkHash(id)}/`;
/** Old URLs of an article: the public form (public lists) and the private CGI form (all lists). */
function oldUrls(e: Exp, a: ExpArticle): URL[] {
  const out = [new URL(`${a.period}/${a.filename}`, e.list.private_archive_url)];
  if (e.list.public_archive) out.push(new URL(a.url));
  return out;
}

// --- the sample through the dry-run pipeline ---------------------------------------------------------------

const quiet = createProgress({ quiet: true });
const tmpRoots: string[] = [];
function tmp(prefix: string): string {
  const d = mkdtempSync(path.join(os.tmpdir(), prefix));
  tmpRoots.push(d);
  return d;
}

async function dryRun(cfg: LoadedConfig, lists: readonly string[]): Promise<Store> {
  const store = await Store.open(await StateDb.open(cfg.state));
  const target = new Mailman3Target(cfg, { dryRun: true });
  for (const list of lists) {
    const outcome = await runListJob({ cfg, store, target, progress: quiet, signal: new AbortController().signal, dryRun: true }, list);
    expect(outcome.ok, `${list}: ${outcome.report.error ?? ''}`).toBe(true);
  }
  return store;
}

function writeConfigFile(cfg: LoadedConfig): string {
  const file = path.join(path.dirname(cfg.state), 'config.json');
  writeFileSync(file, JSON.stringify({ source: cfg.source, target: cfg.target, archive: cfg.archive, state: cfg.state, reports: cfg.reports }));
  return file;
}

let cfg: LoadedConfig;
let store: Store;
const built = new Map<string, ListRedirects>();
/** State message (target id, duplicate kind) holding a given mbox byte offset. */
let messageAt: (list: string, offset: number) => Promise<{ target_message_id: string; duplicate_kind: string | null }>;

beforeAll(async () => {
  cfg = await sampleConfig();
  tmpRoots.push(path.dirname(cfg.state));
  expect(cfg.archive.newBaseUrl).toBe('https://lists.example.org');
  store = await dryRun(cfg, SAMPLE_LISTS);
  for (const list of SAMPLE_LISTS) built.set(list, await redirectsFromState(store, cfg, list));
  messageAt = async (list, offset) => {
    const row = await store.db.get<{ target_message_id: string; duplicate_kind: string | null }>(
      'SELECT target_message_id, duplicate_kind FROM messages WHERE list = ? AND offset <= ? AND offset + length > ?',
      [list, offset, offset],
    );
    expect(row, `${list}: a state message holds mbox offset ${offset}`).toBeDefined();
    return row!;
  };
});

afterAll(async () => {
  await store?.db.close();
  for (const d of tmpRoots) rmSync(d, { recursive: true, force: true });
});

/** The new URL every article must get, computed here: page id, or the state's id for that mbox message. */
async function expectedArticleUrls(list: string): Promise<Map<string, string>> {
  const e = exp(list);
  const out = new Map<string, string>();
  const firstWithId = new Map<string, number>();
  for (const a of [...e.archive.articles].sort((x, y) => x.mbox_chunk - y.mbox_chunk)) {
    const msg = await messageAt(list, a.mbox_chunk_offset);
    let id: string;
    if (a.mbox_chunk_message_id !== null && bare(a.mbox_chunk_message_id) === bare(a.message_id)) {
      const first = firstWithId.get(bare(a.message_id));
      if (first === undefined || msg.duplicate_kind !== 'different') {
        // The page's own Message-ID is the message's id in the new archive.
        expect(msg.target_message_id, `${list} ${a.period}/${a.filename}`).toBe(bare(a.message_id));
        id = bare(a.message_id);
        firstWithId.set(id, a.number);
      } else {
        // A different message that reused the id: its own new id, never the first one's.
        expect(msg.target_message_id).not.toBe(bare(a.message_id));
        id = msg.target_message_id;
      }
    } else {
      // Pipermail invented the page's id (the mbox copy has none, or the page is a split fragment).
      id = msg.target_message_id;
    }
    for (const u of oldUrls(e, a)) out.set(`${u.host}${u.pathname}`, messageUrl(e.list.posting_address, id));
  }
  return out;
}

describe('redirects from the dry-run state (HyperKitty target)', () => {
  it('gives every article of every sample list exactly one redirect, to the message the page shows', async () => {
    for (const list of SAMPLE_LISTS) {
      const r = built.get(list)!;
      const want = await expectedArticleUrls(list);
      const articles = r.entries.filter((x) => x.kind === 'article');
      const got = new Map(articles.map((x) => [`${x.host}${x.oldPath}`, x.newUrl]));
      expect(got.size, `${list}: one entry per article URL`).toBe(articles.length);
      expect(got, list).toEqual(want);
      // Confidence: read from the page unless pipermail invented the id.
      for (const a of exp(list).archive.articles) {
        const entry = articles.find((x) => x.oldPath.endsWith(`/${a.period}/${a.filename}`))!;
        expect(entry.confidence, `${list} ${a.period}/${a.filename}`).toBe(a.mbox_chunk_message_id === null ? 'mbox-order' : 'html');
      }
      expect(r.problems.filter((p) => p.severity === 'error')).toEqual([]);
    }
  });

  it("lands devtalk's two <meeting-notes@example.org> pages on two different messages", () => {
    const r = built.get('devtalk')!;
    const at = (f: string): string => r.entries.find((x) => x.oldPath === `/pipermail/devtalk/2019-November/${f}`)!.newUrl;
    expect(at('000012.html')).toBe(messageUrl('devtalk@lists.example.org', 'meeting-notes@example.org'));
    expect(at('000013.html')).not.toBe(at('000012.html'));
    expect(at('000013.html')).toMatch(/\/message\/[A-Z2-7]{32}\/$/);
  });

  it('covers periods, index pages, text archives, list root, mbox and listinfo; only stray copies stay unmapped', () => {
    for (const list of SAMPLE_LISTS) {
      const e = exp(list);
      const r = built.get(list)!;
      const byKey = new Map(r.entries.map((x) => [`${x.host}${x.oldPath}`, x]));
      const bases = [new URL(e.list.private_archive_url), ...(e.list.public_archive ? [new URL(e.list.archive_base_url)] : [])];
      for (const base of bases) {
        const root = `${base.host}${base.pathname}`;
        expect(byKey.get(root)?.newUrl).toBe(`${NEW}list/${e.list.posting_address}/`);
        expect(byKey.get(`${root}index.html`)?.newUrl).toBe(`${NEW}list/${e.list.posting_address}/`);
        for (const p of e.archive.periods) {
          const view = byKey.get(`${root}${p.period}/`);
          expect(view?.kind, `${list} ${p.period}`).toBe('period');
          for (const page of ['thread.html', 'date.html', 'subject.html', 'author.html', 'index.html']) {
            expect(byKey.get(`${root}${p.period}/${page}`)?.newUrl, `${list} ${p.period}/${page}`).toBe(view!.newUrl);
          }
          // The month view holding the period's first post, as HyperKitty files it (UTC).
          const first = Math.min(...e.archive.articles.filter((a) => a.period === p.period && a.date_epoch !== undefined).map((a) => a.date_epoch!));
          const d = new Date(first * 1000);
          expect(view!.newUrl, `${list} ${p.period}`).toBe(`${NEW}list/${e.list.posting_address}/${d.getUTCFullYear()}/${d.getUTCMonth() + 1}/`);
          if (p.txt_gz) expect(byKey.get(`${root}${p.period}.txt.gz`)?.newUrl).toMatch(new RegExp(`/export/${list}-${p.period}\\.mbox\\.gz\\?start=\\d{4}-\\d\\d-\\d\\d&end=`));
          if (p.txt) expect(byKey.get(`${root}${p.period}.txt`)?.kind).toBe('period-txt');
        }
      }
      const listinfo = new URL(e.list.listinfo_url);
      expect(byKey.get(`${listinfo.host}${listinfo.pathname}`)?.newUrl).toBe(
        `https://lists.example.org/postorius/lists/${e.list.posting_address.replace('@', '.')}/`,
      );
      const strays = e.archive.stray_html_files.flatMap((s) => bases.map((b) => `${b.host}${b.pathname}${s.period}/${s.filename}`));
      expect(r.unmapped.map((u) => `${u.host}${u.oldPath}`).sort(), list).toEqual(strays.sort());
      expect(r.unmapped.every((u) => u.code === 'stray-copy' && u.reason.length > 20)).toBe(true);
    }
  });

  it('sends pipermail attachment links to the same attachment in HyperKitty (and digest copies to the original)', () => {
    const r = built.get('devtalk')!;
    const att = r.entries.filter((x) => x.kind === 'attachment' && x.oldPath.startsWith('/pipermail/'));
    const dir = path.join(SAMPLE_ROOT, 'archives/private/devtalk/attachments');
    const files = readdirSync(dir, { recursive: true, withFileTypes: true }).filter((d) => d.isFile());
    expect(att).toHaveLength(files.length);
    const url = (rel: string): string => att.find((x) => x.oldPath === `/pipermail/devtalk/attachments/${rel}`)!.newUrl;
    // 2019-November/000002.html (b0271c7b994e.arm@example.net) links its build.log and dashboard.png parts.
    const arm = messageUrl('devtalk@lists.example.org', 'b0271c7b994e.arm@example.net');
    expect(url('20191105/03300cd7/attachment.bin')).toBe(`${arm}attachment/2/build.log`);
    expect(url('20191105/03300cd7/attachment.png')).toBe(`${arm}attachment/3/dashboard.png`);
    expect(url('20191105/03300cd7/attachment-0001.png')).toBe(`${arm}attachment/3/dashboard.png`);
    expect(url('20191105/c793ba5c/attachment.htm')).toBe(`${messageUrl('devtalk@lists.example.org', '0eb26f1f278a.arm-r1@example.com')}attachment/0/attachment.html`);
  });

  it('builds the same URLs for the report and writes nothing the web servers refuse', () => {
    const entries = [...built.values()].flatMap((r) => r.entries);
    expect(toNginx(entries).problems).toEqual([]);
    expect(toApache(entries).problems).toEqual([]);
  });
});

// --- the real web servers ----------------------------------------------------------------------------------

interface Answer {
  status: number;
  location: string | undefined;
}
const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
afterAll(() => agent.destroy());

function request(port: number, host: string, p: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path: p, headers: { Host: host }, agent, timeout: 5_000 }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, location: res.headers.location }));
    });
    req.on('timeout', () => req.destroy(new Error(`timeout for ${host}${p}`)));
    req.on('error', reject);
    req.end();
  });
}

async function requestAll(port: number, reqs: { host: string; path: string }[]): Promise<Answer[]> {
  const out: Answer[] = new Array(reqs.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      while (next < reqs.length) {
        const i = next++;
        out[i] = await request(port, reqs[i]!.host, reqs[i]!.path);
      }
    }),
  );
  return out;
}

/** Every old URL of every sample list, plus every EXPECTED article URL against the independently computed target. */
async function checkServer(port: number): Promise<void> {
  const entries = [...built.values()].flatMap((r) => r.entries);
  const answers = await requestAll(port, entries.map((e) => ({ host: e.host, path: encodePathForUrl(e.oldPath) })));
  const wrong = entries.map((e, i) => ({ e, a: answers[i]! })).filter(({ e, a }) => a.status !== 301 || a.location !== e.newUrl);
  expect(wrong.map(({ e, a }) => `${e.host}${e.oldPath} -> ${a.status} ${a.location ?? ''}`)).toEqual([]);

  for (const list of SAMPLE_LISTS) {
    const want = await expectedArticleUrls(list);
    const keys = [...want.keys()];
    const got = await requestAll(port, keys.map((k) => ({ host: k.slice(0, k.indexOf('/')), path: k.slice(k.indexOf('/')) })));
    expect(new Map(keys.map((k, i) => [k, `${got[i]!.status} ${got[i]!.location}`]))).toEqual(new Map(keys.map((k) => [k, `301 ${want.get(k)}`])));
  }
  const unmapped = [...built.values()].flatMap((r) => r.unmapped);
  const un = await requestAll(port, unmapped.map((u) => ({ host: u.host, path: encodePathForUrl(u.oldPath) })));
  expect(un.map((a) => a.status)).toEqual(unmapped.map(() => 404));
}

describe.skipIf(!nginxBinary)('nginx with the generated map', () => {
  let server: RunningServer | undefined;
  beforeAll(async () => {
    const map = toNginx([...built.values()].flatMap((r) => r.entries));
    server = await startNginx(tmp('mm2m-rp-nginx-'), { ...map, hosts: ['lists.example.org', 'lists.example.net'] });
  });
  afterAll(async () => server?.stop());

  it('answers every old URL of every sample list with the expected 301', async () => {
    await checkServer(server!.port);
  });
});

describe.skipIf(!apacheBinary || !apacheModuleDir)('Apache httpd with the generated RewriteMap', () => {
  let server: (RunningServer & { ports: number[] }) | undefined;
  beforeAll(async () => {
    const dir = tmp('mm2m-rp-apache-');
    const mapPath = path.join(dir, 'redirects.txt');
    const map = toApache([...built.values()].flatMap((r) => r.entries), { mapPath });
    writeFileSync(mapPath, map.rewriteMap);
    server = await startApache(dir, [{ vhosts: map.vhostSnippets }]);
  });
  afterAll(async () => server?.stop());

  it('answers every old URL of every sample list with the expected 301', async () => {
    await checkServer(server!.ports[0]!);
  });
});

// --- the CLI -----------------------------------------------------------------------------------------------

describe('mm2migrate redirects', () => {
  it('writes the nginx map and server snippet, the per-list report, and a summary per kind', async () => {
    const file = writeConfigFile(cfg);
    const out = path.join(tmp('mm2m-rp-cli-'), 'conf', 'mm2migrate.map');
    const r = await runCli(['redirects', '--config', file, '--all', '--format', 'nginx', '--out', out]);
    expect(r.code, r.stderr).toBe(0);
    const map = readFileSync(out, 'utf8');
    for (const e of built.get('devtalk')!.entries) expect(map).toContain(`"${e.host}${e.oldPath}" "${e.newUrl}";`);
    expect(readFileSync(`${out}.server.conf`, 'utf8')).toContain('return 301 $mm2migrate_redirect;');
    expect(r.stderr).toMatch(/oldproject\s+unmapped\s+2/);
    expect(r.stderr).toContain('(stray-copy)');
    const report = JSON.parse(readFileSync(path.join(cfg.reports, 'oldproject', 'redirects.json'), 'utf8')) as {
      byKind: Record<string, { total: number; html: number; 'mbox-order': number }>;
      unmapped: { oldPath: string; code: string; reason: string }[];
    };
    const articles = exp('oldproject').archive.articles;
    expect(report.byKind.article!.total).toBe(articles.length * 2);
    expect(report.byKind.article!['mbox-order']).toBe(articles.filter((a) => a.mbox_chunk_message_id === null).length * 2);
    expect(report.unmapped.map((u) => u.code)).toEqual(['stray-copy', 'stray-copy']);
  });

  it('writes the Apache RewriteMap and config, JSON with a --json summary, and CSV to stdout', async () => {
    const file = writeConfigFile(cfg);
    const dir = tmp('mm2m-rp-cli-');
    const a = await runCli(['redirects', '--config', file, '--list', 'nihongo', '--format', 'apache', '--out', path.join(dir, 'map.txt')]);
    expect(a.code, a.stderr).toBe(0);
    expect(readFileSync(path.join(dir, 'map.txt'), 'utf8')).toContain('lists.example.net/pipermail/nihongo/ https://lists.example.org/hyperkitty/list/nihongo@example.net/');
    expect(readFileSync(path.join(dir, 'map.txt.conf'), 'utf8')).toContain(`RewriteMap mm2migrate "txt:${path.join(dir, 'map.txt')}"`);

    const j = await runCli(['redirects', '--config', file, '--list', 'devtalk', '--list', 'liste-fr', '--format', 'json', '--out', path.join(dir, 'r.json'), '--json']);
    expect(j.code, j.stderr).toBe(0);
    const summary = JSON.parse(j.stdout) as { lists: { list: string; redirects: number }[] };
    expect(summary.lists.map((l) => l.list)).toEqual(['devtalk', 'liste-fr']);
    const doc = JSON.parse(readFileSync(path.join(dir, 'r.json'), 'utf8')) as { entries: RedirectEntry[] };
    expect(doc.entries.length).toBe(summary.lists.reduce((n, l) => n + l.redirects, 0));

    const c = await runCli(['redirects', '--config', file, '--list', 'liste-fr', '--format', 'csv']);
    expect(c.code, c.stderr).toBe(0);
    expect(c.stdout.split('\r\n')[0]).toBe('host,old_path,new_url,kind,confidence');
    expect(c.stdout.split('\r\n').filter(Boolean)).toHaveLength(built.get('liste-fr')!.entries.length + 1);
  });

  it('refuses bad usage with exit 2 and names a list that was never indexed', async () => {
    const file = writeConfigFile(cfg);
    expect((await runCli(['redirects', '--config', file, '--all', '--format', 'htaccess'])).code).toBe(2);
    expect((await runCli(['redirects', '--config', file, '--all', '--format', 'nginx'])).code).toBe(2);
    expect((await runCli(['redirects', '--config', file, '--all', '--format', 'discourse-permalinks'])).code).toBe(2);
    const fresh = await sampleConfig();
    tmpRoots.push(path.dirname(fresh.state));
    const r = await runCli(['redirects', '--config', writeConfigFile(fresh), '--list', 'devtalk', '--format', 'json']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/devtalk: not indexed yet/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });
});

// --- verifyRedirects ---------------------------------------------------------------------------------------

describe('verifyRedirects', () => {
  let server: http.Server;
  let port = 0;
  const hits = new Map<string, number>();
  beforeAll(async () => {
    server = http.createServer((req, res) => {
      const p = req.url ?? '';
      hits.set(p, (hits.get(p) ?? 0) + 1);
      if (p.startsWith('/ok')) res.writeHead(200).end('ok');
      else if (p === '/hop') res.writeHead(302, { Location: '/ok/after-hop' }).end();
      else if (p === '/abs-hop') res.writeHead(301, { Location: 'https://lists.example.org/ok/absolute' }).end();
      else if (p.startsWith('/loop')) res.writeHead(302, { Location: `/loop${Number(p.slice(5) || 0) + 1}` }).end();
      else if (p === '/nolocation') res.writeHead(302).end();
      else if (p === '/slow') setTimeout(() => res.writeHead(200).end(), 3_000);
      else res.writeHead(404).end('no');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as { port: number }).port;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  const entry = (newUrl: string, oldPath = '/pipermail/x/2019-November/000001.html'): RedirectEntry => ({ host: 'old.example.org', oldPath, newUrl, kind: 'article', confidence: 'html' });

  it('passes 200s (after redirects), reports 404s, loops, timeouts and refused connections with a reason', async () => {
    const base = `http://127.0.0.1:${port}`;
    const entries = [
      entry(`${base}/ok/1`),
      entry(`${base}/ok/1`, '/pipermail/x/2019-November/'),
      entry(`${base}/hop`),
      entry(`${base}/missing`, '/pipermail/x/café 1.html'),
      entry(`${base}/loop`),
      entry(`${base}/nolocation`),
      entry(`${base}/slow`),
      entry('http://127.0.0.1:9/refused'),
    ];
    const r = await verifyRedirects(entries, { concurrency: 3, timeoutMs: 1_000 });
    expect(r.checked).toBe(8);
    expect(r.requests).toBe(7);
    expect(hits.get('/ok/1')).toBe(1);
    expect(hits.get('/ok/after-hop')).toBe(1);
    expect(r.ok).toBe(3);
    const why = new Map(r.failed.map((f) => [f.newUrl.replace(base, ''), f]));
    expect(why.get('/missing')).toMatchObject({ status: 404, reason: 'HTTP 404', oldUrl: '//old.example.org/pipermail/x/caf%C3%A9%201.html' });
    expect(why.get('/loop')!.reason).toMatch(/more than 5 redirects/);
    expect(hits.get('/loop5')).toBe(1);
    expect(hits.has('/loop6')).toBe(false);
    expect(why.get('/nolocation')!.reason).toMatch(/without a Location/);
    expect(why.get('/slow')).toMatchObject({ status: null, reason: 'no answer within 1000 ms' });
    expect(why.get('http://127.0.0.1:9/refused')!.reason).toMatch(/ECONNREFUSED/);
  });

  it('sends the requests to baseUrlOverride, also for redirects back to the public origin', async () => {
    const r = await verifyRedirects([entry('https://lists.example.org/abs-hop'), entry('https://lists.example.org/gone')], {
      concurrency: 2,
      timeoutMs: 2_000,
      baseUrlOverride: `http://127.0.0.1:${port}`,
    });
    expect(hits.get('/ok/absolute')).toBe(1);
    expect(r.ok).toBe(1);
    expect(r.failed.map((f) => [f.newUrl, f.status])).toEqual([['https://lists.example.org/gone', 404]]);
    await expect(verifyRedirects([], { concurrency: 1, timeoutMs: 1, baseUrlOverride: 'http://x.example/sub/' })).rejects.toThrow(/scheme, host and port/);
  });
});

// --- HyperKitty's attachment numbering, against its own scrubber ---------------------------------------------

const PY = '/usr/bin/python3';
function pythonScrubberAvailable(): boolean {
  try {
    execFileSync(PY, ['-c', 'import django_mailman3.lib.scrub'], { stdio: 'ignore', timeout: 20_000 });
    return true;
  } catch {
    return false;
  }
}

describe.skipIf(!pythonScrubberAvailable())("hyperkittyAttachments agrees with django_mailman3's Scrubber", () => {
  it('gives the same counters and names for the sample mboxes and the upstream test messages', () => {
    const files: Buffer[] = [];
    for (const list of SAMPLE_LISTS) {
      const mbox = readFileSync(path.join(SAMPLE_ROOT, 'archives/private', `${list}.mbox`, `${list}.mbox`)).toString('latin1');
      for (const m of mbox.split(/^From [^\n]*\n/m).filter(Boolean)) files.push(Buffer.from(m, 'latin1'));
    }
    for (const dir of ['/usr/lib/python3/dist-packages/django_mailman3/tests/testdata', '/usr/lib/python3/dist-packages/hyperkitty/tests/testdata']) {
      if (!existsSync(dir)) continue;
      for (const f of readdirSync(dir).filter((n) => n.endsWith('.txt')).sort()) files.push(readFileSync(path.join(dir, f)));
    }
    // A raw 8-bit UTF-8 file name and an RFC 2047 one, as mailers really send them.
    files.push(
      Buffer.from(
        'From: a@b\nMessage-ID: <x@y>\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary="B"\n\n--B\nContent-Type: text/plain\n\nhi\n' +
          '--B\nContent-Type: application/pdf\nContent-Disposition: attachment; filename="résumé v1.pdf"\nContent-Transfer-Encoding: base64\n\nAAAA\n' +
          '--B\nContent-Type: application/octet-stream\nContent-Disposition: attachment; filename="=?utf-8?q?caf=C3=A9?=.tar.gz"\n\nxx\n--B--\n',
        'utf8',
      ),
    );
    const dir = tmp('mm2m-rp-scrub-');
    files.forEach((b, i) => writeFileSync(path.join(dir, `${String(i).padStart(4, '0')}.eml`), b));
    const script = [
      'import sys, json, email, os',
      'from email import policy',
      'from django_mailman3.lib.scrub import Scrubber',
      'out = []',
      'for f in sorted(os.listdir(sys.argv[1])):',
      '    msg = email.message_from_bytes(open(os.path.join(sys.argv[1], f), "rb").read(), policy=policy.default)',
      '    try:',
      '        out.append([[a[0], a[1], a[2]] for a in Scrubber(msg).scrub()[1]])',
      '    except Exception as e:',
      '        out.append(None)',
      'print(json.dumps(out))',
    ].join('\n');
    const want = JSON.parse(execFileSync(PY, ['-c', script, dir], { encoding: 'utf8', timeout: 60_000 })) as ([number, string, string][] | null)[];
    const got = files.map((b) => hyperkittyAttachments(b).map((a) => [a.counter, a.name, a.contentType]));
    // Messages the Python scrubber itself cannot handle, or with a garbage Content-Type, are left out.
    const comparable = want.map((w, i) => ({ w, g: got[i]!, i })).filter(({ w }) => w !== null && w.every(([, , t]) => /^[a-z0-9.+-]+\/[a-z0-9.+-]+$/.test(t)));
    expect(comparable.length).toBeGreaterThan(80);
    expect(comparable.filter(({ w }) => w!.length > 0).length).toBeGreaterThan(10);
    expect(comparable.map(({ g, i }) => [i, g])).toEqual(comparable.map(({ w, i }) => [i, w]));
  });
});

// --- no pipermail HTML: mbox order and dates ---------------------------------------------------------------

describe('a list with only its mbox', () => {
  it('rebuilds article URLs from mbox order and dates, marked lower confidence', async () => {
    const root = tmp('mm2m-rp-mboxonly-');
    mkdirSync(path.join(root, 'lists', 'devtalk'), { recursive: true });
    symlinkSync(path.join(SAMPLE_ROOT, 'lists/devtalk/config.pck'), path.join(root, 'lists/devtalk/config.pck'));
    mkdirSync(path.join(root, 'archives/private/devtalk.mbox'), { recursive: true });
    symlinkSync(path.join(SAMPLE_ROOT, 'archives/private/devtalk.mbox/devtalk.mbox'), path.join(root, 'archives/private/devtalk.mbox/devtalk.mbox'));
    const base = await sampleConfig();
    tmpRoots.push(path.dirname(base.state));
    const c: LoadedConfig = { ...base, source: { ...base.source, root } };
    const s = await dryRun(c, ['devtalk']);
    try {
      const r = await redirectsFromState(s, c, 'devtalk');
      expect(r.problems.map((p) => p.code)).toContain('redirect-mbox-order-only');
      const articles = r.entries.filter((x) => x.kind === 'article');
      expect(articles.every((x) => x.confidence === 'mbox-order')).toBe(true);
      // devtalk was archived live and never rebuilt: mbox order is pipermail's numbering, dates (New York) its periods.
      const want = await expectedArticleUrls('devtalk');
      const got = new Map(articles.map((x) => [`${x.host}${x.oldPath}`, x.newUrl]));
      // Without the HTML, the id pipermail invented for a message stored without one (000010) is
      // unknown: that message keeps its own deterministic id, so only its URL differs.
      const inventedIds = (expected('devtalk').archive.articles as { filename: string; mbox_chunk_message_id: string | null }[])
        .filter((a) => a.mbox_chunk_message_id === null)
        .map((a) => a.filename);
      expect(inventedIds).toEqual(['000010.html']);
      for (const key of [...want.keys()]) {
        if (inventedIds.some((f) => key.endsWith(`/${f}`))) {
          expect(got.get(key)).toMatch(/\/message\/[A-Z2-7]{32}\/$/);
          expect(got.get(key)).not.toBe(want.get(key));
          want.delete(key);
          got.delete(key);
        }
      }
      expect(got).toEqual(want);
      expect(r.entries.some((x) => x.kind === 'period-txt')).toBe(true);
    } finally {
      await s.db.close();
    }
  });
});

// --- Discourse ---------------------------------------------------------------------------------------------

describe('Discourse target (test double)', () => {
  let double: DiscourseDouble;
  let dcfg: LoadedConfig;
  let r: ListRedirects;
  let posts: Map<string, { target_id: string; detail: { topicId: number; postNumber: number } }>;
  beforeAll(async () => {
    double = await startDiscourseDouble({ adminRequestsPerMinute: 100_000, siteSettings: { disable_emails: 'yes', authorized_extensions: '*' } });
    process.env[KEY_ENV] = double.adminApiKey;
    const dir = tmp('mm2m-rp-discourse-');
    dcfg = { ...discourseConfig(dir, double.url, double.adminUsername, { requestsPerMinute: 100_000 }), archive: { cgiExtension: '', groupBySubject: false, newBaseUrl: 'https://forum.example.org' } };
    const run = await runList(dcfg, 'devtalk', { target: { client: FAST_CLIENT } });
    expect(run.outcome.ok, run.outcome.report.error ?? '').toBe(true);
    const s = await Store.open(await StateDb.open(dcfg.state));
    try {
      r = await redirectsFromState(s, dcfg, 'devtalk');
      const rows = await s.db.all<{ key: string; target_id: string; detail_json: string }>(
        "SELECT key, target_id, detail_json FROM journal WHERE list = 'devtalk' AND phase = 'archive' AND status = 'done'",
      );
      posts = new Map(rows.map((x) => [x.key, { target_id: x.target_id, detail: JSON.parse(x.detail_json) as { topicId: number; postNumber: number } }]));
    } finally {
      await s.db.close();
    }
  }, 120_000);
  afterAll(async () => double?.close());

  it('sends each article to its journaled post and everything else to the category', async () => {
    const want = await expectedArticleUrls('devtalk'); // HyperKitty URLs: only their message hash is used here
    const articles = r.entries.filter((x) => x.kind === 'article');
    expect(articles).toHaveLength(want.size);
    for (const a of articles) {
      const m = /\/t\/[^/]+\/(\d+)\/(\d+)$/.exec(a.newUrl);
      expect(m, a.newUrl).not.toBeNull();
      expect(a.newUrl.startsWith('https://forum.example.org/t/')).toBe(true);
      const journaled = [...posts.values()].filter((p) => p.detail.topicId === Number(m![1]) && p.detail.postNumber === Number(m![2]));
      expect(journaled, a.oldPath).toHaveLength(1);
    }
    // The two pages sharing <meeting-notes@example.org> are two posts.
    const at = (f: string): string => r.entries.find((x) => x.oldPath === `/pipermail/devtalk/2019-November/${f}`)!.newUrl;
    expect(at('000012.html')).not.toBe(at('000013.html'));
    const category = r.entries.filter((x) => x.kind !== 'article').map((x) => x.newUrl);
    expect(new Set(category).size).toBe(1);
    expect(category[0]).toMatch(/^https:\/\/forum\.example\.org\/c\/[^/]+\/\d+$/);
    expect(r.unmapped.every((u) => u.kind === 'attachment' && u.code === 'attachment-not-migrated')).toBe(true);
  });

  it('the posts answer 200 on the Discourse site (verifyRedirects through baseUrlOverride)', async () => {
    const v = await verifyRedirects(r.entries.filter((x) => x.kind === 'article'), { concurrency: 4, timeoutMs: 5_000, baseUrlOverride: double.url });
    expect(v.failed).toEqual([]);
    expect(v.ok).toBe(r.entries.filter((x) => x.kind === 'article').length);
  });

  it('creates one permalink per old path through the admin API, and a second run creates none', async () => {
    const file = writeConfigFile(dcfg);
    const first = await runCli(['redirects', '--config', file, '--list', 'devtalk', '--format', 'discourse-permalinks', '--json'], { env: { [KEY_ENV]: double.adminApiKey } });
    expect(first.code, first.stderr).toBe(0);
    const paths = new Set(r.entries.map((x) => x.oldPath.replace(/^\//, '')));
    const links = [...double.state.permalinks.values()];
    expect(new Set(links.map((p) => p.url))).toEqual(paths);
    const postIds = new Map([...posts.values()].map((p) => [`${p.detail.topicId}/${p.detail.postNumber}`, Number(p.target_id)]));
    for (const a of r.entries.filter((x) => x.kind === 'article')) {
      const m = /\/(\d+)\/(\d+)$/.exec(a.newUrl)!;
      expect(links.find((p) => p.url === a.oldPath.slice(1))?.postId).toBe(postIds.get(`${m[1]}/${m[2]}`));
    }
    expect(links.filter((p) => p.categoryId !== null).length).toBe(paths.size - r.entries.filter((x) => x.kind === 'article').length);
    expect((JSON.parse(first.stdout) as { permalinks: { created: number } }).permalinks.created).toBe(paths.size);

    const again = await runCli(['redirects', '--config', file, '--list', 'devtalk', '--format', 'discourse-permalinks', '--json'], { env: { [KEY_ENV]: double.adminApiKey } });
    expect(again.code, again.stderr).toBe(0);
    expect((JSON.parse(again.stdout) as { permalinks: { created: number; existing: number } }).permalinks).toMatchObject({ created: 0, existing: paths.size });
    expect(double.state.permalinks.size).toBe(paths.size);
  });
});
