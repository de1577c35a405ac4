/**
 * The real Mailman 3 stack (test/stack) for the reliability tests: a HyperKitty superuser (to read
 * private archives back), a migration config for the CLI (optionally through fault proxies), and
 * the check of what the target holds afterwards, read back over Mailman's REST API and HyperKitty's
 * JSON API independently of the project's own clients.
 */
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { messageIdHash } from '../../src/mailman2/message-id.js';
import { StateDb } from '../../src/state/db.js';
import { startMailman3Stack, type Mailman3Stack } from '../stack/mailman3-stack.js';
import { expected, SAMPLE_ROOT } from './sample.js';

export const MM3_ENV = { rest: 'MM2M_RELIABILITY_REST_PASSWORD', archiver: 'MM2M_RELIABILITY_ARCHIVER_KEY', hk: 'MM2M_RELIABILITY_HK_PASSWORD' } as const;

export interface Mailman3Fixture {
  stack: Mailman3Stack;
  hkUser: string;
  hkPassword: string;
}

/** Starts (or joins) the stack and makes sure a HyperKitty superuser with a fresh password exists. */
export async function startMailman3Fixture(): Promise<Mailman3Fixture> {
  const stack = await startMailman3Stack();
  // One user per call: test files run in parallel against one stack, and each sets its own password.
  const hkUser = `mm2m-rel-${process.pid}-${randomBytes(3).toString('hex')}`;
  const hkPassword = `mm2mSecretHk-${randomBytes(9).toString('hex')}`;
  await ensureHyperKittySuperuser(stack, hkUser, hkPassword, 'reliability@example.invalid');
  return { stack, hkUser, hkPassword };
}

/** Creates (or updates) a HyperKitty superuser with this password: what target.hyperkitty.user is for. */
export async function ensureHyperKittySuperuser(stack: Mailman3Stack, user: string, password: string, email: string): Promise<void> {
  const made = await stack.runManage([
    'shell',
    '-c',
    [
      'from django.contrib.auth.models import User',
      `u = User.objects.get_or_create(username=${JSON.stringify(user)}, defaults={'email': ${JSON.stringify(email)}})[0]`,
      'u.is_superuser = u.is_staff = True',
      `u.set_password(${JSON.stringify(password)})`,
      'u.save()',
    ].join('\n'),
  ]);
  if (made.code !== 0) throw new Error(`cannot create the HyperKitty superuser: ${made.stderr.slice(-2000)}`);
}

/** A form request to Mailman core's REST API (version 3.1) of the stack. */
export function coreRest(stack: () => Mailman3Stack): (method: string, p: string, form?: Record<string, string>) => Promise<Response> {
  return (method, p, form) =>
    fetch(`${stack().restUrl}/3.1${p}`, {
      method,
      headers: { Authorization: stack().restAuthorization },
      body: form === undefined ? undefined : new URLSearchParams(form),
      signal: AbortSignal.timeout(30_000),
    });
}

/** A unique mail domain per call: a reused stack keeps the lists of earlier runs. */
export function uniqueDomain(tag: string): string {
  return `${tag}${Date.now().toString(36)}${process.pid.toString(36)}${randomBytes(2).toString('hex')}.reliability.test`;
}

export interface Mailman3Run {
  configFile: string;
  state: string;
  reports: string;
  domain: string;
  env: Record<string, string>;
}

/** Writes a CLI config for the sample lists into `dir`; `restUrl`/`hyperkittyUrl` may point at fault proxies. */
export async function writeMailman3Config(
  f: Mailman3Fixture,
  dir: string,
  opts: { domain: string; restUrl?: string; hyperkittyUrl?: string; sourceRoot?: string; replayConcurrency?: number },
): Promise<Mailman3Run> {
  const cfg = {
    source: { root: opts.sourceRoot ?? SAMPLE_ROOT, timeZone: 'America/New_York' },
    target: {
      kind: 'mailman3',
      domain: opts.domain,
      rest: { url: opts.restUrl ?? f.stack.restUrl, user: f.stack.restUser, passwordEnv: MM3_ENV.rest },
      hyperkitty: { url: `${(opts.hyperkittyUrl ?? f.stack.hyperkittyUrl).replace(/\/+$/, '')}/`, archiverKeyEnv: MM3_ENV.archiver, user: f.hkUser, passwordEnv: MM3_ENV.hk },
      // HyperKitty learns that a list is private through Django's shell on its host (here: this machine).
      serverCommand: [],
      serverImport: { manage: f.stack.manageCommand, tmpDir: dir },
      ...(opts.replayConcurrency ? { replayConcurrency: opts.replayConcurrency } : {}),
    },
    archive: { newBaseUrl: 'https://lists.example.org' },
    state: path.join(dir, 'state.sqlite'),
    reports: path.join(dir, 'reports'),
  };
  const configFile = path.join(dir, 'config.json');
  await writeFile(configFile, JSON.stringify(cfg, null, 2));
  return {
    configFile,
    state: cfg.state,
    reports: cfg.reports,
    domain: opts.domain,
    env: { [MM3_ENV.rest]: f.stack.restPassword, [MM3_ENV.archiver]: f.stack.archiverKey, [MM3_ENV.hk]: f.hkPassword },
  };
}

/** HyperKitty's message-id hashes of the messages a list must hold (replayable rows of the state database). */
export async function expectedHashes(stateFile: string, list: string): Promise<string[]> {
  const db = await StateDb.open(stateFile);
  try {
    const rows = await db.all<{ target_message_id: string }>("SELECT target_message_id FROM messages WHERE list = ? AND duplicate_kind IS NOT 'same'", [list]);
    return rows.map((r) => messageIdHash(r.target_message_id));
  } finally {
    await db.close();
  }
}

async function getJson(url: string, authorization: string): Promise<{ status: number; body: unknown }> {
  const res = await fetch(url, { headers: { authorization, accept: 'application/json' }, signal: AbortSignal.timeout(30_000) });
  const text = await res.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON
  }
  return { status: res.status, body };
}

/**
 * Differences between the sample lists and what Mailman 3 holds: members (REST roster against
 * fixtures/expected, Mailman 2's own roster) and archived messages (HyperKitty's JSON API as the
 * superuser against the state database's replayable messages; nothing missing, nothing extra).
 */
export async function mailman3Differences(f: Mailman3Fixture, stateFile: string, domain: string, lists: readonly string[]): Promise<string[]> {
  const out: string[] = [];
  const hkAuth = `Basic ${Buffer.from(`${f.hkUser}:${f.hkPassword}`).toString('base64')}`;
  for (const list of lists) {
    const listId = `${list}.${domain}`;
    const fqdn = `${list}@${domain}`;
    const roster = await getJson(`${f.stack.restUrl}/3.1/lists/${listId}/roster/member?count=1000&page=1`, f.stack.restAuthorization);
    if (roster.status !== 200) {
      out.push(`${list}: roster: HTTP ${roster.status}`);
    } else {
      const emails = ((roster.body as { entries?: { email: string }[] }).entries ?? []).map((e) => e.email.toLowerCase());
      const source = new Set(expected(list).members.map((m) => m.address.toLowerCase()));
      if (new Set(emails).size !== emails.length) out.push(`${list}: a member twice in the roster`);
      const lost = [...source].filter((e) => !emails.includes(e));
      const extra = emails.filter((e) => !source.has(e));
      if (lost.length) out.push(`${list}: members missing on Mailman 3: ${lost.join(', ')}`);
      if (extra.length) out.push(`${list}: roster members who are not list members: ${extra.join(', ')}`);
    }
    const want = await expectedHashes(stateFile, list);
    const base = f.stack.hyperkittyUrl.replace(/\/+$/, '');
    const page = await getJson(`${base}/api/list/${encodeURIComponent(fqdn)}/emails/?limit=${want.length + 1000}&offset=0`, hkAuth);
    if (page.status !== 200) {
      out.push(`${list}: HyperKitty emails API: HTTP ${page.status}`);
      continue;
    }
    const body = page.body as { count?: number; results?: { message_id_hash: string }[] };
    const got = (body.results ?? []).map((r) => r.message_id_hash);
    if (body.count !== got.length) out.push(`${list}: HyperKitty says ${body.count} messages but listed ${got.length}`);
    if (new Set(got).size !== got.length) out.push(`${list}: a message twice in HyperKitty`);
    const missing = want.filter((h) => !got.includes(h));
    const extra = got.filter((h) => !want.includes(h));
    if (missing.length) out.push(`${list}: ${missing.length} of ${want.length} messages missing in HyperKitty, e.g. ${missing[0]}`);
    if (extra.length) out.push(`${list}: ${extra.length} messages in HyperKitty that the source does not have, e.g. ${extra[0]}`);
  }
  return out;
}

/** Private lists of the sample and their HyperKitty names and message hashes, for watchHyperKittyPrivate. */
export async function privateArchives(stateFile: string | null, domain: string, lists: readonly string[]): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>();
  for (const list of lists) {
    if (expected(list).list.public_archive) continue;
    out.set(`${list}@${domain}`, stateFile ? await expectedHashes(stateFile, list) : []);
  }
  return out;
}
