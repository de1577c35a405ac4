// The Discourse target's pure pieces (titles, external ids, usernames, bodies) and its HTTP
// client and permalink writer against the test double.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { MessageSource } from '../src/mailman2/message-source.js';
import { DEFAULT_USERNAME_RULES, usernameCandidates, usernameProblem } from '../src/targets/discourse/authors.js';
import { messageBody, quotedTailStart, withAttachments } from '../src/targets/discourse/body.js';
import { DiscourseApiError, DiscourseClient, retryAfterSeconds } from '../src/targets/discourse/client.js';
import { checkExternalId, topicExternalId } from '../src/targets/discourse/external-id.js';
import { createPermalinks } from '../src/targets/discourse/permalinks.js';
import { mailLines, plainTextToMarkdown } from '../src/targets/discourse/plain-markdown.js';
import { listGroupName, memberLevel } from '../src/targets/discourse/plan.js';
import { PostSchema, SiteSettingsSchema } from '../src/targets/discourse/schemas.js';
import { topicTitle } from '../src/targets/discourse/titles.js';
import { startDiscourseDouble, type DiscourseDouble, type DiscourseDoubleOptions } from './doubles/discourse-double.js';
import { FIXTURES } from './helpers/discourse-run.js';

const doubles: DiscourseDouble[] = [];
afterEach(async () => {
  await Promise.all(doubles.splice(0).map((d) => d.close()));
});
async function start(opts: DiscourseDoubleOptions = {}): Promise<DiscourseDouble> {
  const d = await startDiscourseDouble({ adminRequestsPerMinute: 100_000, ...opts });
  doubles.push(d);
  return d;
}
const quick = { sleep: (ms: number) => new Promise<void>((r) => setTimeout(r, Math.min(ms, 5))) };

describe('topic titles and external ids', () => {
  it('removes reply markers, collapses whitespace and keeps titles within 255 characters', () => {
    expect(topicTitle(null, 'Re: Fwd: AW: Build   failures')).toBe('Build failures');
    expect(topicTitle('  ', null)).toBe('(no subject)');
    const long = topicTitle('word '.repeat(100), null);
    expect([...long].length).toBeLessThanOrEqual(255);
    expect(long.endsWith('…')).toBe(true);
  });

  it('hashes Message-IDs into ids Discourse accepts, distinct per list', () => {
    const ids = ['<a@b>', 'x'.repeat(900), 'ünïcödé@例え.jp', 'with spaces and "quotes"@x'].map((m) => topicExternalId('devtalk', m));
    for (const id of ids) expect(checkExternalId(id)).toBeNull();
    expect(new Set(ids).size).toBe(ids.length);
    expect(topicExternalId('a', 'm@x')).not.toBe(topicExternalId('b', 'm@x'));
    expect(checkExternalId('a'.repeat(51))).toMatch(/longer than 50/);
    expect(checkExternalId('abc@def')).toMatch(/only letters/);
    expect(checkExternalId('abc.def')).toMatch(/only letters/);
    expect(checkExternalId('')).toMatch(/empty/);
  });
});

describe('usernames', () => {
  it('derive valid, unreserved names from display names or addresses', () => {
    const first = (name: string | null, email: string) => usernameCandidates(name, email).next().value as string;
    expect(first('Zoë Ångström', 'zoe@example.se')).toBe('Zoe_Angstrom');
    expect(first('田中 薗', 'tanaka@example.jp')).toBe('tanaka');
    expect(first(null, 'admin@example.com')).not.toBe('admin');
    expect(first('A', 'b@example.com')).toMatch(/^.{3,20}$/);
    const many = [...take(usernameCandidates('Bartholomew Featherstonehaugh-Smythe', 'x@example.com'), 30)];
    for (const n of many) expect(usernameProblem(n, DEFAULT_USERNAME_RULES)).toBeNull();
    expect(new Set(many.map((n) => n.toLowerCase())).size).toBe(many.length);
    expect(usernameProblem('a..b', DEFAULT_USERNAME_RULES)).toMatch(/two special/);
    expect(usernameProblem('photo.png', DEFAULT_USERNAME_RULES)).toMatch(/file name/);
    expect(listGroupName('a-very-long-mailing-list-name')).toMatch(/^.{3,20}$/);
  });
});

function* take<T>(it: Iterable<T>, n: number): Generator<T> {
  let i = 0;
  for (const x of it) {
    if (i++ >= n) return;
    yield x;
  }
}

describe('subscriptions', () => {
  it('maps Mailman delivery to the nearest category notification level', () => {
    expect(memberLevel({ delivery: 'regular', deliveryStatus: 'enabled' }).level).toBe('watching');
    expect(memberLevel({ delivery: 'mime-digest', deliveryStatus: 'enabled' }).level).toBe('watching_first_post');
    expect(memberLevel({ delivery: 'plain-digest', deliveryStatus: 'enabled' }).level).toBe('watching_first_post');
    expect(memberLevel({ delivery: 'regular', deliveryStatus: 'by_bounces' }).level).toBe('tracking');
  });
});

describe('bodies', () => {
  it('turns plain text into Markdown with quotes as quotes and Markdown punctuation escaped', () => {
    const md = plainTextToMarkdown('Hi *all*,\n> quoted\n>> deeper\n> back\nmine again\n\n\n\n1. not a list\n    indented <tag>\nhttp://example.org/a_b_c');
    expect(md).toBe('Hi \\*all\\*,\n> quoted\n>> deeper\n>\n> back\n\nmine again\n\n1\\. not a list\n&nbsp;&nbsp;&nbsp;&nbsp;indented &lt;tag&gt;\nhttp://example.org/a_b_c');
    expect(mailLines('> > a')[0]).toEqual({ text: 'a', quoteLevel: 2 });
  });

  it('finds a quoted reply tail below the author\'s own text', () => {
    const lines = mailLines('Agreed, ship it.\n\nOn Mon, 2 Dec 2019, Bob wrote:\n> Shall we ship?\n> Yes?\n');
    expect(quotedTailStart(lines)).toBe(1);
    expect(quotedTailStart(mailLines('> only a quote\n'))).toBe(-1);
    expect(quotedTailStart(mailLines('> question\nanswer\n'))).toBe(-1);
  });

  it('decodes format=flowed, drops signatures, vCards and PGP signatures, and folds quoted tails on request', async () => {
    const raw = Buffer.from(
      [
        'From: A <a@example.org>',
        'Subject: t',
        'MIME-Version: 1.0',
        'Content-Type: multipart/signed; boundary="b"; protocol="application/pgp-signature"',
        '',
        '--b',
        'Content-Type: multipart/mixed; boundary="c"',
        '',
        '--c',
        'Content-Type: text/plain; charset=utf-8; format=flowed',
        '',
        'This line is flowed and ',
        'continues here.',
        '',
        'On Tuesday, B wrote:',
        '> old text',
        '',
        '-- ',
        'A, the signature',
        '--c',
        'Content-Type: text/x-vcard; name="a.vcf"',
        'Content-Disposition: attachment; filename="a.vcf"',
        '',
        'BEGIN:VCARD',
        'END:VCARD',
        '--c',
        'Content-Type: application/pdf; name="spec.pdf"',
        'Content-Disposition: attachment; filename="spec.pdf"',
        'Content-Transfer-Encoding: base64',
        '',
        Buffer.from('%PDF-1.4 test').toString('base64'),
        '--c--',
        '--b',
        'Content-Type: application/pgp-signature; name="signature.asc"',
        '',
        '-----BEGIN PGP SIGNATURE-----',
        'xyz',
        '-----END PGP SIGNATURE-----',
        '--b--',
        '',
      ].join('\r\n'),
    );
    const plain = await messageBody(raw, { preferHtml: false, foldQuotedTails: false });
    expect(plain.markdown).toBe('This line is flowed and continues here\\.\n\nOn Tuesday, B wrote:\n> old text');
    expect(plain.attachments.map((a) => a.filename)).toEqual(['spec.pdf']);
    expect(plain.dropped).toEqual(expect.arrayContaining(['signature', 'a.vcf (text/x-vcard)', 'signature.asc (application/pgp-signature)']));
    const folded = await messageBody(raw, { preferHtml: false, foldQuotedTails: true });
    expect(folded.markdown).toBe('This line is flowed and continues here\\.\n\n[details="Quoted text"]\nOn Tuesday, B wrote:\n> old text\n[/details]');
    const withUpload = withAttachments(plain.markdown, [{ attachment: plain.attachments[0]!, upload: { shortUrl: 'upload://abc.pdf' } }]);
    expect(withUpload).toContain('[spec.pdf|attachment](upload://abc.pdf) (13 Bytes)');
    expect(withAttachments('x', [{ attachment: plain.attachments[0]!, upload: null, reason: 'not authorized' }])).toContain('not carried over: not authorized');
  });

  it('converts HTML-only mail and undoes mboxo ">From " escaping of the devtalk archive', async () => {
    const mbox = path.join(FIXTURES, 'archives/private/devtalk.mbox/devtalk.mbox');
    const text = await readFile(mbox, 'latin1');
    const src = await MessageSource.open(mbox);
    try {
      const starts = [...text.matchAll(/^From \S+ +\w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d \d{4}$/gm)].map((m) => m.index);
      const messages: Buffer[] = [];
      for (let i = 0; i < starts.length; i++) messages.push(await src.message(starts[i]!, (starts[i + 1] ?? text.length) - starts[i]!));
      const htmlOnly = messages.find((m) => /^Content-Type: text\/html/im.test(m.toString('latin1')) && !/text\/plain/i.test(m.toString('latin1')));
      expect(htmlOnly).toBeDefined();
      const b = await messageBody(htmlOnly!, { preferHtml: false, foldQuotedTails: false });
      expect(b.source).toBe('html');
      expect(b.markdown).not.toMatch(/<\/?(p|div|b|strong|html|body)\b/i);
      const escaped = messages.find((m) => /\n>From /.test(m.toString('latin1')));
      expect(escaped).toBeDefined();
      const e = await messageBody(escaped!, { preferHtml: false, foldQuotedTails: false });
      expect(e.markdown).toMatch(/^From /m);
    } finally {
      await src.close();
    }
  });
});

describe('client', () => {
  it('checks answers against their schema and names the request, never the key, in errors', async () => {
    const d = await start();
    const c = new DiscourseClient({ baseUrl: d.url, apiKey: d.adminApiKey, apiUsername: d.adminUsername, requestsPerMinute: 100_000, ...quick });
    const settings = await c.ok({ method: 'GET', path: '/admin/site_settings.json', schema: SiteSettingsSchema });
    expect(settings.site_settings.length).toBeGreaterThan(10);
    const err = await c.ok({ method: 'GET', path: '/admin/site_settings.json', schema: PostSchema }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DiscourseApiError);
    expect(String(err)).toMatch(/unexpected answer/);
    const bad = new DiscourseClient({ baseUrl: d.url, apiKey: 'secret-key-value', apiUsername: 'nobody', requestsPerMinute: 100_000, ...quick });
    const e403 = (await bad.ok({ method: 'GET', path: '/categories.json', schema: SiteSettingsSchema }).catch((e: unknown) => e)) as DiscourseApiError;
    expect(e403.status).toBe(403);
    expect(e403.message).not.toContain('secret-key-value');
  });

  it('retries 5xx and dropped connections, and gives up with a clear error', async () => {
    const d = await start();
    const c = new DiscourseClient({ baseUrl: d.url, apiKey: d.adminApiKey, apiUsername: d.adminUsername, requestsPerMinute: 100_000, retries: 3, timeoutMs: 2000, ...quick });
    d.setFault({ match: /^GET \/categories/, sequence: ['500', 'reset', 'timeout'] });
    const r = await c.call({ method: 'GET', path: '/categories.json', schema: SiteSettingsSchema.or(PostSchema).or(SiteSettingsSchema).catch({ site_settings: [] }) });
    expect(r.ok).toBe(true);
    expect(d.state.requestLog.filter((e) => e.path.startsWith('/categories')).map((e) => e.fault)).toEqual(['500', 'reset', 'timeout', null]);
    d.setFault({ match: /^GET \/categories/, rate: 1, kinds: ['500'] });
    const e = (await c.call({ method: 'GET', path: '/categories.json', schema: SiteSettingsSchema }).catch((x: unknown) => x)) as DiscourseApiError;
    expect(e.status).toBe(500);
    expect(e.ambiguous).toBe(true);
  }, 20_000);

  it('reads the wait from Retry-After, else from extras.wait_seconds', () => {
    expect(retryAfterSeconds('25', {})).toBe(25);
    expect(retryAfterSeconds(undefined, { errors: ['slow down'], extras: { wait_seconds: 7, time_left: '7 seconds' } })).toBe(7);
    expect(retryAfterSeconds(undefined, { errors: ['x'] })).toBe(10);
  });

  it('answers a 429 from the injected fault by waiting, then succeeds', async () => {
    const d = await start();
    let waited = 0;
    const c = new DiscourseClient({
      baseUrl: d.url,
      apiKey: d.adminApiKey,
      apiUsername: d.adminUsername,
      requestsPerMinute: 100_000,
      sleep: async (ms) => {
        waited += ms;
      },
    });
    d.setFault({ match: /^GET \/admin\/site_settings/, sequence: ['429'] });
    await c.ok({ method: 'GET', path: '/admin/site_settings.json', schema: SiteSettingsSchema });
    expect(waited).toBeGreaterThanOrEqual(2000);
    expect(c.budget.throttled).toBe(1);
  });
});

describe('permalinks', () => {
  for (const api of ['nested', 'legacy'] as const) {
    it(`creates permalinks on the ${api} API once, skipping those that exist`, async () => {
      const d = await start({ permalinkApi: api });
      const c = new DiscourseClient({ baseUrl: d.url, apiKey: d.adminApiKey, apiUsername: d.adminUsername, requestsPerMinute: 100_000, ...quick });
      const post = await fetch(`${d.url}/posts.json`, {
        method: 'POST',
        headers: { 'Api-Key': d.adminApiKey, 'Api-Username': d.adminUsername, 'Content-Type': 'application/json' },
        body: JSON.stringify({ title: 'A topic for permalinks', raw: 'Some body text long enough.', skip_validations: 'true' }),
      }).then((r) => r.json() as Promise<{ id: number; topic_id: number }>);
      const entries = [
        { oldPath: '/pipermail/devtalk/2019-November/000001.html', postId: post.id },
        { oldPath: 'pipermail/devtalk/2019-November/thread.html', categoryId: 1 },
        { oldPath: '/pipermail/devtalk/2019-November/000000.html', topicId: post.topic_id },
      ];
      const first = await createPermalinks(c, entries);
      expect(first).toMatchObject({ api, created: 3, existing: 0, failed: [] });
      const again = await createPermalinks(c, entries);
      expect(again).toMatchObject({ created: 0, existing: 3, conflicting: [], failed: [] });
      expect(d.state.permalinks.size).toBe(3);
      const res = await fetch(`${d.url}/pipermail/devtalk/2019-November/000001.html`, { redirect: 'manual' });
      expect(res.status).toBe(301);
      expect(res.headers.get('location')).toMatch(new RegExp(`/t/[^/]+/${post.topic_id}/1$`));
    });
  }
});
