/**
 * The generated nginx and Apache configurations, loaded by the real servers: every old URL of every sample list
 * is requested with its Host header and must answer 301 with exactly the expected Location; every old URL left
 * unmapped must not be redirected. Servers listen on 127.0.0.1 only, with all their files in a temp dir.
 * test/webservers/install.sh installs the servers (CI runs it); without them these tests are skipped.
 */
import http from 'node:http';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildRedirects } from '../src/redirects/entries.js';
import { toNginx } from '../src/redirects/nginx.js';
import { toApache } from '../src/redirects/apache.js';
import { encodePathForUrl } from '../src/redirects/keys.js';
import type { RedirectEntry, RedirectInput, Target, UnmappedUrl } from '../src/redirects/types.js';
import { SAMPLE_LISTS, inputFromExpected, loadExpected } from './webservers/fixture-input.js';
import {
  apacheBinary,
  apacheModuleDir,
  buildDbm,
  httxt2dbmBinary,
  nginxBinary,
  nginxConfigTest,
  startApache,
  startNginx,
  type RunningServer,
} from './webservers/servers.js';

const HK: Target = { kind: 'hyperkitty', baseUrl: 'https://lists.example.org/hyperkitty/', postoriusUrl: 'https://lists.example.org/postorius/' };

// Filenames a site with SCRUBBER_DONT_USE_ATTACHMENT_FILENAME = No can end up with.
const ODD_NAMES = [
  'report 2019.pdf',
  'résumé – final.txt',
  '100%.txt',
  'a;b,c+d(e)~f&g=h@i!j\'k$l.txt',
  'q"uote\\back.txt',
  'C:\\temp\\new.txt',
  '[x]{y}|z^`w<v>.txt',
  '日本語.txt',
  'Case.pdf',
  'case.pdf',
];

function oddInput(): RedirectInput {
  return {
    list: {
      name: 'odd-list.x',
      webPageUrl: 'https://odd.example.org/cgi-bin/mailman/',
      hostName: 'odd.example.org',
      postingAddress: 'odd-list.x@odd.example.org',
      archivePrivate: false,
      volumeFrequency: 4,
    },
    articles: [
      { number: 0, period: '20210311', messageId: '<a@b>', stray: false, source: 'html', discoursePost: { topicId: 12, postNumber: 1, slug: 'café-réunion' } },
      { number: 1, period: '20210311', messageId: '<c@d>', stray: false, source: 'mbox-order', discoursePost: { topicId: 12, postNumber: 2, slug: '' } },
    ],
    periods: [{ name: '20210311', txt: true, txtGz: true, start: '2021-03-11', end: '2021-03-12' }],
    attachments: ODD_NAMES.map((n, i) => ({ path: `attachments/20210311/0a1b2c3d/${n}`, newUrl: `https://files.example.org/odd/${i}/${n}?v=$x` })),
  };
}

function allRedirects(): { entries: RedirectEntry[]; unmapped: UnmappedUrl[] } {
  const entries: RedirectEntry[] = [];
  const unmapped: UnmappedUrl[] = [];
  const add = (r: { entries: RedirectEntry[]; unmapped: UnmappedUrl[] }): void => {
    entries.push(...r.entries);
    unmapped.push(...r.unmapped);
  };
  for (const name of SAMPLE_LISTS) {
    const exp = loadExpected(name);
    // Attachments the plain-text digest duplicated (attachment-0001.*) stay unmapped, to check they are not redirected.
    const input = inputFromExpected(exp, {
      attachmentUrl: (rel) => (rel.includes('-0001.') ? undefined : `https://lists.example.org/files/${name}/${encodePathForUrl(rel)}`),
    });
    add(buildRedirects(input, HK));
  }
  // The same installation seen through a CGI extension and a renamed host: another virtual host in the same map.
  add(buildRedirects(inputFromExpected(loadExpected('devtalk')), HK, { cgiExtension: '.cgi', oldBaseUrl: 'https://archive.example.com' }));
  add(
    buildRedirects(oddInput(), {
      kind: 'discourse',
      baseUrl: 'https://forum.example.org',
      categoryUrl: () => 'https://forum.example.org/c/odd/9',
    }),
  );
  return { entries, unmapped };
}

interface Answer {
  status: number;
  location: string | undefined;
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });

function get(port: number, host: string, requestPath: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path: requestPath, method: 'GET', headers: { Host: host }, agent, timeout: 5_000 }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, location: res.headers.location }));
    });
    req.on('timeout', () => req.destroy(new Error(`timeout for ${host}${requestPath}`)));
    req.on('error', reject);
    req.end();
  });
}

/** Runs requests a few at a time so a server with a small worker pool is not flooded. */
async function getAll(port: number, reqs: { host: string; path: string }[]): Promise<Answer[]> {
  const out: Answer[] = new Array(reqs.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < reqs.length) {
      const i = next++;
      out[i] = await get(port, reqs[i]!.host, reqs[i]!.path);
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
  return out;
}

/** Every character of the last path segment percent-encoded, with lower- or upper-case hex. */
function fullyEncodedLastSegment(p: string, lower: boolean): string {
  const cut = p.lastIndexOf('/') + 1;
  const enc = [...Buffer.from(p.slice(cut), 'utf8')].map((b) => '%' + (lower ? b.toString(16) : b.toString(16).toUpperCase()).padStart(2, '0')).join('');
  return encodePathForUrl(p.slice(0, cut)) + enc;
}

async function checkServer(port: number, entries: RedirectEntry[], unmapped: UnmappedUrl[]): Promise<void> {
  const answers = await getAll(port, entries.map((e) => ({ host: e.host, path: encodePathForUrl(e.oldPath) })));
  const wrong = entries
    .map((e, i) => ({ e, a: answers[i]! }))
    .filter(({ e, a }) => a.status !== 301 || a.location !== e.newUrl)
    .map(({ e, a }) => `${e.host}${e.oldPath} -> ${a.status} ${a.location ?? ''} (want ${e.newUrl})`);
  expect(wrong).toEqual([]);

  // Percent-encoded spellings of the same paths decode to the same key.
  const encoded = entries.filter((e) => e.kind === 'article' || e.kind === 'attachment');
  for (const lower of [false, true]) {
    const enc = await getAll(port, encoded.map((e) => ({ host: e.host, path: fullyEncodedLastSegment(e.oldPath, lower) })));
    const bad = encoded.map((e, i) => ({ e, a: enc[i]! })).filter(({ e, a }) => a.status !== 301 || a.location !== e.newUrl);
    expect(bad.map(({ e, a }) => `${e.oldPath}: ${a.status}`)).toEqual([]);
  }

  const reachable = unmapped.filter((u) => u.code !== 'unsafe-old-path');
  const un = await getAll(port, reachable.map((u) => ({ host: u.host, path: encodePathForUrl(u.oldPath) })));
  const redirected = reachable.map((u, i) => ({ u, a: un[i]! })).filter(({ a }) => a.status === 301);
  expect(redirected.map(({ u, a }) => `${u.host}${u.oldPath} -> ${a.location ?? ''}`)).toEqual([]);
  expect(un.every((a) => a.status === 404)).toBe(true);

  // Host matching: case and port do not matter; another host gets nothing.
  const sample = entries.find((e) => e.kind === 'article' && e.host === 'lists.example.org')!;
  const p = encodePathForUrl(sample.oldPath);
  for (const host of ['LISTS.Example.ORG', `lists.example.org:${port}`]) {
    const a = await get(port, host, p);
    expect([a.status, a.location]).toEqual([301, sample.newUrl]);
  }
  expect((await get(port, 'elsewhere.example', p)).status).toBe(404);
}

const data = allRedirects();
const tmpRoots: string[] = [];
function tmp(prefix: string): string {
  const d = mkdtempSync(path.join(os.tmpdir(), prefix));
  tmpRoots.push(d);
  return d;
}
afterAll(() => {
  agent.destroy();
  for (const d of tmpRoots) rmSync(d, { recursive: true, force: true });
});

const missing = [
  ...(nginxBinary ? [] : ['nginx']),
  ...(apacheBinary && apacheModuleDir ? [] : ['apache2 with mod_rewrite']),
  ...(httxt2dbmBinary ? [] : ['httxt2dbm (apache2-utils)']),
];
if (missing.length > 0) {
  console.warn(`SKIPPING real web-server redirect tests: ${missing.join(', ')} not installed; run test/webservers/install.sh`);
}

it('the sample covers what the servers must handle', () => {
  expect(data.entries.length).toBeGreaterThan(600);
  expect(new Set(data.entries.map((e) => e.host))).toEqual(new Set(['lists.example.org', 'lists.example.net', 'archive.example.com', 'odd.example.org']));
  expect(data.entries.filter((e) => e.oldPath.includes(' ')).length).toBeGreaterThan(0);
  expect(data.entries.filter((e) => e.newUrl.includes('?')).length).toBeGreaterThan(0);
  expect(data.unmapped.filter((u) => u.kind === 'attachment').length).toBeGreaterThan(0);
  expect(data.unmapped.filter((u) => u.code === 'stray-copy').length).toBe(2);
});

describe.skipIf(!nginxBinary)('nginx serves the generated map', () => {
  let server: RunningServer | undefined;
  let dir = '';

  beforeAll(async () => {
    dir = tmp('mm2m-nginx-');
    const map = toNginx(data.entries);
    expect(map.problems).toEqual([]);
    server = await startNginx(dir, { ...map, hosts: [...new Set(data.entries.map((e) => e.host))] });
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('answers every old URL with 301 to its new URL and leaves unmapped ones alone', async () => {
    await checkServer(server!.port, data.entries, data.unmapped);
    expect(server!.errorLog()).not.toMatch(/\[(emerg|alert|crit)\]/);
  });
});

describe.skipIf(!apacheBinary || !apacheModuleDir || !httxt2dbmBinary)('Apache mod_rewrite serves the generated map (txt and dbm)', () => {
  let server: (RunningServer & { ports: number[] }) | undefined;

  beforeAll(async () => {
    const dir = tmp('mm2m-apache-');
    const txtPath = path.join(dir, 'redirects.txt');
    const dbmPath = path.join(dir, 'redirects.dbm');
    const txt = toApache(data.entries, { mapPath: txtPath });
    const dbm = toApache(data.entries, { mapPath: dbmPath, mapType: 'dbm' });
    expect(txt.problems).toEqual([]);
    writeFileSync(txtPath, txt.rewriteMap);
    buildDbm(txtPath, dbmPath);
    server = await startApache(dir, [{ vhosts: txt.vhostSnippets }, { vhosts: dbm.vhostSnippets }]);
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('txt map: every old URL 301s to its new URL, unmapped ones are not redirected', async () => {
    await checkServer(server!.ports[0]!, data.entries, data.unmapped);
  });

  it('dbm map built by httxt2dbm gives the same answers', async () => {
    await checkServer(server!.ports[1]!, data.entries, data.unmapped);
    expect(server!.errorLog()).not.toMatch(/\[(rewrite|core):(error|crit|alert|emerg)\]/);
  });
});

describe.skipIf(!nginxBinary)('nginx with a large archive', () => {
  it('starts with 24,000 long keys (hash sizing in the map file) and redirects them', async () => {
    const input: RedirectInput = {
      ...oddInput(),
      list: { ...oddInput().list, name: 'a-list-with-a-rather-long-name-for-hash-buckets', postingAddress: 'big@odd.example.org' },
      periods: [],
      attachments: [],
      articles: Array.from({ length: 12_000 }, (_, i) => ({
        number: i,
        period: `Week-of-Mon-2019${String((i % 12) + 1).padStart(2, '0')}02`,
        messageId: `<${i}.${'x'.repeat(40)}@big.example.org>`,
        stray: false,
        source: 'html' as const,
      })),
    };
    const r = buildRedirects(input, HK);
    const articles = r.entries.filter((e) => e.kind === 'article');
    expect(articles).toHaveLength(24_000);
    const map = toNginx(r.entries);
    expect(map.hashBucketSize).toBeGreaterThan(64);
    const dir = tmp('mm2m-nginx-big-');
    const server = await startNginx(dir, { ...map, hosts: ['odd.example.org'] });
    try {
      nginxConfigTest(dir); // throws with nginx's message when the config is refused
      const sample = articles.filter((_, i) => i % 401 === 0);
      const answers = await getAll(server.port, sample.map((e) => ({ host: e.host, path: encodePathForUrl(e.oldPath) })));
      expect(answers.map((a) => [a.status, a.location])).toEqual(sample.map((e) => [301, e.newUrl]));
    } finally {
      await server.stop();
    }
  });
});
