/**
 * The real Mailman 3 core + HyperKitty stack (test/stack/) answers on loopback and does what the
 * migration relies on: REST domain/list creation, HyperKitty's archiver endpoint with URLs that
 * match our Message-ID hash, hyperkitty_import and `mailman import21`.
 * Needs the Debian packages from test/stack/install.sh (run by .ci/run).
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { messageIdHash, normalizeMessageId } from '../src/mailman2/message-id.js';
import { startMailman3Stack, type Mailman3Stack } from './stack/mailman3-stack.js';

const FIXTURES = new URL('../fixtures/', import.meta.url);
const DEVTALK_PCK = new URL('mailman2/lists/devtalk/config.pck', FIXTURES);
const DEVTALK_EXPECTED = new URL('expected/devtalk.json', FIXTURES);

// Unique per run: a reused stack keeps the domains and lists of earlier runs.
const RUN = `${Date.now().toString(36)}${process.pid.toString(36)}`;
const DOMAIN = `s${RUN}.stack.test`;

let stack: Mailman3Stack;
let scratch: string;

async function rest(method: string, path: string, form?: Record<string, string>): Promise<Response> {
  return fetch(`${stack.restUrl}${path}`, {
    method,
    headers: { Authorization: stack.restAuthorization },
    body: form === undefined ? undefined : new URLSearchParams(form),
    signal: AbortSignal.timeout(30_000),
  });
}

async function createList(fqdn: string): Promise<void> {
  const res = await rest('POST', '/3.1/lists', { fqdn_listname: fqdn });
  expect(res.status, await res.text()).toBe(201);
}

function hyperkittyPath(suffix: string): string {
  return `${new URL(stack.hyperkittyUrl).pathname}${suffix}`;
}

async function getPage(suffix: string): Promise<{ status: number; text: string }> {
  const res = await fetch(`${stack.hyperkittyUrl}${suffix}`, { signal: AbortSignal.timeout(30_000) });
  return { status: res.status, text: await res.text() };
}

/** Minimal LMTP client (RFC 2033) for one message to one recipient; resolves with the final reply. */
function deliverLmtp(host: string, port: number, from: string, to: string, raw: string): Promise<string> {
  const steps = ['LHLO localhost', `MAIL FROM:<${from}>`, `RCPT TO:<${to}>`, 'DATA', null, 'QUIT'];
  const body = `${raw.replace(/\r?\n/g, '\r\n').replace(/^\./gm, '..')}\r\n.`;
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port });
    socket.setTimeout(30_000, () => socket.destroy(new Error('LMTP timeout')));
    let buffer = '';
    let step = -1;
    let finalReply = '';
    socket.on('data', (chunk) => {
      buffer += chunk.toString('latin1');
      let end: number;
      while ((end = buffer.indexOf('\r\n')) >= 0) {
        const line = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        if (line[3] === '-') continue; // continuation of a multi-line reply
        const code = Number(line.slice(0, 3));
        const expected = step === 3 ? 354 : step === 5 ? 221 : step === -1 ? 220 : 250;
        if (code !== expected) {
          socket.destroy();
          reject(new Error(`LMTP step ${step}: expected ${expected}, got "${line}"`));
          return;
        }
        if (step === 4) finalReply = line;
        step += 1;
        if (step >= steps.length) {
          socket.end();
          resolve(finalReply);
          return;
        }
        socket.write(`${steps[step] ?? body}\r\n`);
      }
    });
    socket.on('error', reject);
  });
}

const Roster = z.object({
  total_size: z.number(),
  entries: z.array(z.object({ email: z.string(), delivery_mode: z.string() })).default([]),
});

describe('Mailman 3 + HyperKitty stack on loopback', () => {
  beforeAll(async () => {
    const began = Date.now();
    stack = await startMailman3Stack();
    console.info(
      `mailman3 stack ${stack.reused ? 'reused' : `started (stack.py: ${stack.startSeconds} s)`} ` +
        `in ${((Date.now() - began) / 1000).toFixed(1)} s at ${stack.workdir}`,
    );
    scratch = await mkdtemp(join(tmpdir(), 'mm2migrate-stack-test-'));
    const domain = await rest('POST', '/3.1/domains', { mail_host: DOMAIN });
    expect(domain.status, await domain.text()).toBe(201);
  });

  afterAll(async () => {
    await stack?.stop();
    if (scratch) await rm(scratch, { recursive: true, force: true });
  });

  it('serves only on 127.0.0.1', () => {
    for (const url of [stack.restUrl, stack.hyperkittyUrl]) expect(new URL(url).hostname).toBe('127.0.0.1');
  });

  it('answers GET /3.1/system/versions with basic auth and refuses a wrong password', async () => {
    const res = await rest('GET', '/3.1/system/versions');
    expect(res.status).toBe(200);
    const body = z.object({ mailman_version: z.string(), api_version: z.string() }).parse(await res.json());
    expect(body.mailman_version).toMatch(/^GNU Mailman 3\./);
    expect(body.api_version).toBe('3.1');

    const wrong = await fetch(`${stack.restUrl}/3.1/system/versions`, {
      headers: { Authorization: `Basic ${Buffer.from(`${stack.restUser}:wrong`).toString('base64')}` },
    });
    expect(wrong.status).toBe(401);
  });

  it('creates a list over REST', async () => {
    const fqdn = `rest-${RUN}@${DOMAIN}`;
    await createList(fqdn);
    const res = await rest('GET', `/3.1/lists/${encodeURIComponent(fqdn)}`);
    expect(res.status).toBe(200);
    const list = z.object({ fqdn_listname: z.string(), list_id: z.string() }).parse(await res.json());
    expect(list).toEqual({ ...list, fqdn_listname: fqdn, list_id: `rest-${RUN}.${DOMAIN}` });
  });

  it('archives a posted message at the URL our Message-ID hash predicts', async () => {
    const fqdn = `arch-${RUN}@${DOMAIN}`;
    await createList(fqdn);
    // A folded Message-ID: HyperKitty strips the whitespace before hashing, and so must we.
    const rawId = `\r\n <arch.${RUN}@example.org>`;
    const raw = [
      'From: Alice Example <alice@example.org>',
      `To: ${fqdn}`,
      'Subject: =?utf-8?q?Caf=C3=A9_stack_test?=',
      `Message-ID:${rawId}`,
      'Date: Tue, 14 Mar 2023 10:00:00 +0000',
      'MIME-Version: 1.0',
      'Content-Type: text/plain; charset=utf-8',
      '',
      'Hello from the stack test.',
      '',
    ].join('\r\n');
    const archiveUrl = `${stack.hyperkittyUrl}/api/mailman/archive`;
    // Without a body: HyperKitty answers 401 before reading one, and gunicorn then resets the
    // connection while a client may still be sending it.
    const refused = await fetch(archiveUrl, { method: 'POST', headers: { Authorization: 'Token not-the-key' } });
    expect(refused.status).toBe(401);

    const form = new FormData();
    form.append('mlist', fqdn);
    form.append('message', new Blob([raw], { type: 'message/rfc822' }), 'message.eml');
    const res = await fetch(archiveUrl, {
      method: 'POST',
      headers: { Authorization: `Token ${stack.archiverKey}` },
      body: form,
      signal: AbortSignal.timeout(60_000),
    });
    const text = await res.text();
    expect(res.status, text).toBe(200);
    const { url } = z.object({ url: z.string().url() }).parse(JSON.parse(text));
    const hash = messageIdHash(normalizeMessageId(rawId));
    expect(new URL(url).pathname).toBe(hyperkittyPath(`/list/${fqdn}/message/${hash}/`));

    const page = await getPage(`/list/${fqdn}/message/${hash}/`);
    expect(page.status).toBe(200);
    expect(page.text).toContain('Café stack test');
  });

  it('archives a message delivered over LMTP through the core and its HyperKitty archiver', async () => {
    const fqdn = `lmtp-${RUN}@${DOMAIN}`;
    await createList(fqdn);
    const accept = await rest('PATCH', `/3.1/lists/${encodeURIComponent(fqdn)}/config`, {
      default_nonmember_action: 'accept',
    });
    expect(accept.status, await accept.text()).toBe(204);
    const messageId = `<lmtp.${RUN}@example.org>`;
    const raw = [
      'From: Bob Builder <bob@example.org>',
      `To: ${fqdn}`,
      'Subject: through the core',
      `Message-ID: ${messageId}`,
      'Date: Tue, 14 Mar 2023 12:00:00 +0000',
      '',
      '.A line that needs dot-stuffing.',
      '',
    ].join('\r\n');
    const reply = await deliverLmtp(stack.lmtpHost, stack.lmtpPort, 'bob@example.org', fqdn, raw);
    expect(reply).toMatch(/^250 /);

    // in -> pipeline -> archive runner -> mailman_hyperkitty -> HTTP: a few seconds.
    const path = `/list/${fqdn}/message/${messageIdHash(normalizeMessageId(messageId))}/`;
    const deadline = Date.now() + 60_000;
    let page = { status: 0, text: '' };
    while (Date.now() < deadline) {
      page = await getPage(path);
      if (page.status === 200) break;
      await new Promise((done) => setTimeout(done, 500));
    }
    expect(page.status, `${path} not archived within 60 s; see ${stack.logDir}/core/mailman.log`).toBe(200);
    expect(page.text).toContain('.A line that needs dot-stuffing.');
  }, 90_000);

  it('imports an mbox with hyperkitty_import', { timeout: 180_000 }, async () => {
    const fqdn = `imp-${RUN}@${DOMAIN}`;
    await createList(fqdn);
    const firstId = `<imp1.${RUN}@example.org>`;
    // hyperkitty_import cuts everything after the first '>' (its _fix_mid).
    const secondId = `<imp2.${RUN}@example.org> (added by postmaster@example.org)`;
    const mbox = [
      'From alice@example.org Tue Mar 14 10:00:00 2023',
      'From: Alice Example <alice@example.org>',
      `To: ${fqdn}`,
      'Subject: first imported',
      `Message-ID: ${firstId}`,
      'Date: Tue, 14 Mar 2023 10:00:00 +0000',
      '',
      'First body.',
      '',
      'From bob@example.org Tue Mar 14 11:00:00 2023',
      'From: Bob Builder <bob@example.org>',
      `To: ${fqdn}`,
      'Subject: Re: first imported',
      `Message-ID: ${secondId}`,
      `In-Reply-To: ${firstId}`,
      'Date: Tue, 14 Mar 2023 11:00:00 +0000',
      '',
      'Reply body.',
      '',
    ].join('\n');
    const mboxPath = join(scratch, `${RUN}.mbox`);
    await writeFile(mboxPath, mbox);

    const result = await stack.runManage(['hyperkitty_import', '-l', fqdn, '--since', '1970-01-01', mboxPath]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain(`Importing from mbox file ${mboxPath}`);

    const hashes = [firstId, secondId].map((id) => messageIdHash(normalizeMessageId(id)));
    for (const hash of hashes) {
      expect((await getPage(`/list/${fqdn}/message/${hash}/`)).status).toBe(200);
    }
    const res = await fetch(`${stack.hyperkittyUrl}/api/list/${fqdn}/emails/`);
    expect(res.status).toBe(200);
    const emails = z
      .object({ count: z.number(), results: z.array(z.object({ message_id_hash: z.string() })) })
      .parse(await res.json());
    expect(emails.count).toBe(2);
    expect(emails.results.map((e) => e.message_id_hash).sort()).toEqual([...hashes].sort());

    const indexed = await stack.runManage(['update_index_one_list', fqdn]);
    expect(indexed.code, indexed.stderr).toBe(0);
    expect(indexed.stdout).toContain('Indexing 2 emails');
  });

  it('imports a Mailman 2.1 config.pck with mailman import21', { timeout: 180_000 }, async () => {
    const fqdn = `devtalk-${RUN}@${DOMAIN}`;
    await createList(fqdn);
    const result = await stack.runMailman(['import21', fqdn, fileURLToPath(DEVTALK_PCK)]);
    expect(result.code, result.stderr + result.stdout).toBe(0);

    const expected = z
      .object({ members: z.array(z.object({ key: z.string(), digest: z.boolean() })) })
      .parse(JSON.parse(await readFile(DEVTALK_EXPECTED, 'utf8')));
    const res = await rest('GET', `/3.1/lists/${encodeURIComponent(fqdn)}/roster/member?count=1000&page=1`);
    expect(res.status).toBe(200);
    const roster = Roster.parse(await res.json());
    expect(roster.total_size).toBeGreaterThan(0);
    const byEmail = new Map(roster.entries.map((m) => [m.email.toLowerCase(), m.delivery_mode]));
    expect([...byEmail.keys()].sort()).toEqual(expected.members.map((m) => m.key).sort());
    for (const member of expected.members) {
      expect(byEmail.get(member.key)?.endsWith('_digests'), member.key).toBe(member.digest);
    }
  });
});
