/**
 * The settings and roster phases against a real Mailman 3 core (test/stack: Debian's packages on
 * loopback): domain and list creation, settings and roster read back over REST for every sample
 * list, re-runs that change nothing, templates the core really resolves, and the errors.
 */
import { readFileSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { createServer as createNetServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import libmime from 'libmime';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LoadedConfig } from '../src/config/load.js';
import type { Mailman3TargetConfig } from '../src/config/schema.js';
import type { ListConfig } from '../src/mailman2/list-config.js';
import { runIndexPhase } from '../src/pipeline/index-phase.js';
import { StateDb } from '../src/state/db.js';
import { Store } from '../src/state/store.js';
import { ensureMailman3List } from '../src/targets/mailman3/apply-list.js';
import { applyMailman3Roster } from '../src/targets/mailman3/apply-roster.js';
import { applyMailman3Settings, mailman3SettingsPlan } from '../src/targets/mailman3/apply-settings.js';
import { createMailman3Env, type Mailman3Env, type Mailman3TemplatesConfig } from '../src/targets/mailman3/env.js';
import { mapSettings } from '../src/targets/mailman3/map-settings.js';
import { CoreApiError, CoreClient, NoContent } from '../src/targets/mailman3/rest-client.js';
import { Mailman3Target } from '../src/targets/mailman3/target.js';
import { verifyMailman3Roster } from '../src/targets/mailman3/verify-roster.js';
import type { ListContext } from '../src/targets/target.js';
import { ROOT, sampleConfig, SAMPLE_LISTS } from './helpers/sample.js';
import { startMailman3Stack, type Mailman3Stack } from './stack/mailman3-stack.js';
import { mailmanShellJson } from './helpers/mailman-shell.js';

// Unique per run: a reused stack keeps the domains and lists of earlier runs.
const RUN = `${Date.now().toString(36)}${process.pid.toString(36)}`;
const DOMAIN = `c${RUN}.core.test`;

interface ExpectedMember {
  key: string;
  address: string;
  digest: boolean;
  flags: string[];
  delivery_status: 'ENABLED' | 'BYUSER' | 'BYADMIN' | 'BYBOUNCE' | 'UNKNOWN';
  moderated: boolean;
  concealed: boolean;
  language: string;
  /** `text` is the name decoded with the charset its bytes were written in. */
  realname: { text: string } | null;
}
interface Expected {
  list: { public_archive: boolean };
  settings: Record<string, unknown>;
  members: ExpectedMember[];
}
const expectedOf = (list: string): Expected => JSON.parse(readFileSync(path.join(ROOT, 'fixtures/expected', `${list}.json`), 'utf8')) as Expected;
const MM3_STATUS = { ENABLED: 'enabled', BYUSER: 'by_user', BYADMIN: 'by_moderator', BYBOUNCE: 'by_bounces', UNKNOWN: 'unknown' } as const;

let stack: Mailman3Stack;
let cfg: LoadedConfig;
let store: Store;
let db: StateDb;
let env: Mailman3Env;
let scratch: string;
const configs = new Map<string, ListConfig>();

function ctxOf(list: string, config: ListConfig = configs.get(list)!): ListContext {
  return {
    list,
    config,
    store,
    cfg,
    reportDir: path.join(scratch, 'reports', list),
    signal: new AbortController().signal,
    progress: () => undefined,
  };
}

async function rest<T = Record<string, unknown>>(p: string): Promise<{ status: number; body: T }> {
  const res = await fetch(`${stack.restUrl}/3.1${p}`, { headers: { Authorization: stack.restAuthorization }, signal: AbortSignal.timeout(30_000) });
  const text = await res.text();
  return { status: res.status, body: (text ? JSON.parse(text) : undefined) as T };
}

async function restSend(method: string, p: string, form: Record<string, string>): Promise<number> {
  const res = await fetch(`${stack.restUrl}/3.1${p}`, { method, headers: { Authorization: stack.restAuthorization }, body: new URLSearchParams(form), signal: AbortSignal.timeout(30_000) });
  await res.text();
  return res.status;
}

interface RosterEntry {
  member_id: string;
  email: string;
  delivery_mode: string;
  moderation_action?: string;
  display_name?: string;
}
async function roster(listId: string, role: string): Promise<RosterEntry[]> {
  const r = await rest<{ entries?: RosterEntry[] }>(`/lists/${listId}/roster/${role}?count=1000&page=1`);
  expect(r.status).toBe(200);
  return r.body.entries ?? [];
}

/** What the core's own template loader returns for the list (runs `mailman shell` on the stack). */
function coreTemplate(fqdn: string, name: string): Promise<string> {
  const script = [
    'from mailman.interfaces.template import ITemplateLoader',
    'from zope.component import getUtility',
    'import json',
    `print("TEMPLATE=" + json.dumps(getUtility(ITemplateLoader).get(${JSON.stringify(name)}, m)))`,
    '',
  ].join('\n');
  return mailmanShellJson<string>(stack.mailmanCommand, ['-l', fqdn], script, 'TEMPLATE');
}

/** Files in the core's outgoing queues (virgin: notices, out: deliveries) that mention the list. */
async function queuedFor(listId: string): Promise<string[]> {
  const found: string[] = [];
  for (const queue of ['virgin', 'out', 'pipeline']) {
    const dir = path.join(stack.workdir, 'core/var/queue', queue);
    for (const name of await readdir(dir).catch(() => [] as string[])) {
      const bytes = await readFile(path.join(dir, name)).catch(() => Buffer.alloc(0));
      if (bytes.includes(listId)) found.push(`${queue}/${name}`);
    }
  }
  return found;
}

function withTemplates(target: Mailman3TargetConfig, templates: Mailman3TemplatesConfig): Mailman3TargetConfig {
  return { ...target, templates } as Mailman3TargetConfig;
}

beforeAll(async () => {
  stack = await startMailman3Stack();
  scratch = await mkdtemp(path.join(tmpdir(), 'mm2m-core-'));
  const base = await sampleConfig({
    rest: { url: stack.restUrl, user: stack.restUser, passwordEnv: 'MM2M_TEST_CORE_PASSWORD' },
    hyperkitty: { url: `${stack.hyperkittyUrl}/`, archiverKeyEnv: 'MM2M_TEST_ARCHIVER_KEY' },
    domain: DOMAIN,
  });
  if (base.target.kind !== 'mailman3') throw new Error('sample config is not a mailman3 one');
  cfg = { ...base, target: withTemplates(base.target, { via: 'file', coreDir: `${stack.workdir}/templates-${RUN}`, command: [] }) };
  db = await StateDb.open(cfg.state);
  store = await Store.open(db);
  for (const list of SAMPLE_LISTS) configs.set(list, (await runIndexPhase(store, cfg, list)).config);
  if (cfg.target.kind !== 'mailman3') throw new Error('unreachable');
  env = createMailman3Env(cfg.target, { restPassword: stack.restPassword, archiverKey: stack.archiverKey });
});

afterAll(async () => {
  await db?.close();
  await stack?.stop();
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

describe('Mailman 3 core: settings and roster phases', () => {
  it('a list with a private archive is private from its creation', async () => {
    const list = 'liste-fr';
    const expected = expectedOf(list);
    expect(expected.list.public_archive).toBe(false);
    const { listId } = env.names(configs.get(list)!);
    expect((await rest(`/lists/${listId}`)).status).toBe(404);
    const ensured = await ensureMailman3List(ctxOf(list), env, 'private');
    expect(ensured).toMatchObject({ listId, createdList: true, createdDomain: true });
    const config = await rest(`/lists/${listId}/config`);
    expect(config.body['archive_policy']).toBe('private');
    // Running it again neither fails nor creates anything.
    expect(await ensureMailman3List(ctxOf(list), env, 'private')).toMatchObject({ listId, createdList: false, createdDomain: false });
  });

  it.each(SAMPLE_LISTS)('applies the settings of %s and reads them back', async (list) => {
    const config = configs.get(list)!;
    const expected = expectedOf(list);
    const s = expected.settings;
    const { listId } = env.names(config);
    await applyMailman3Settings(ctxOf(list), env);

    const read = (await rest(`/lists/${listId}/config`)).body;
    expect(read['display_name']).toBe(s['real_name']);
    expect(read['subject_prefix']).toBe(s['subject_prefix']);
    // Text decoded with the list's charset (liste-fr is ISO-8859-1, nihongo EUC-JP): not one byte lost.
    expect(read['info']).toBe(String(s['info']).replace(/\r\n/g, '\n'));
    expect(read['description']).toBe(s['description']);
    expect(read['archive_policy']).toBe(!s['archive'] ? 'never' : expected.list.public_archive ? 'public' : 'private');
    expect(read['default_nonmember_action']).toBe(['defer', 'hold', 'reject', 'discard'][s['generic_nonmember_action'] as number]);
    expect(read['max_message_size']).toBe(s['max_message_size']);
    expect(read['acceptable_aliases']).toContain(`^${list}@`);
    // Quiet until the roster is in.
    expect(read['send_welcome_message']).toBe(false);
    expect(read['admin_notify_mchanges']).toBe(false);

    const bans = (await rest<{ entries?: { email: string }[] }>(`/lists/${listId}/bans`)).body.entries ?? [];
    const mm2Bans = (s['ban_list'] as string[] | undefined) ?? [];
    expect(bans.map((b) => b.email).sort()).toEqual(mm2Bans.map((b) => (b.startsWith('^') ? b : b.toLowerCase())).sort());

    const nonmembers = await roster(listId, 'nonmember');
    const plan = mailman3SettingsPlan(ctxOf(list), env);
    expect(nonmembers.map((n) => [n.email, n.moderation_action]).sort()).toEqual(plan.nonmemberActions.map((n) => [n.email.toLowerCase(), n.action]).sort());
    const matches = (await rest<{ entries?: unknown[] }>(`/lists/${listId}/header-matches`)).body.entries ?? [];
    expect(matches).toHaveLength(plan.headerMatches.length);

    // Every planned template is served to the core, and the core resolves it to the planned text.
    const uris = (await rest<{ entries?: { name: string; uri: string }[] }>(`/lists/${listId}/uris`)).body.entries ?? [];
    expect(uris.map((u) => u.name).sort()).toEqual(plan.templates.map((t) => t.name).sort());
    for (const u of uris) expect(u.uri).toMatch(/^file:\/\//);
  });

  it('the core resolves a published template to the Mailman 2 text (liste-fr footer, ISO-8859-1)', async () => {
    const config = configs.get('liste-fr')!;
    const footer = mailman3SettingsPlan(ctxOf('liste-fr'), env).templates.find((t) => t.name === 'list:member:regular:footer');
    expect(footer?.text).toContain('désabonner');
    // The Mailman 2 listinfo link in the sentence now points at the list's Postorius page.
    expect(footer?.text).toContain(`https://lists.example.org/postorius/lists/liste-fr.${DOMAIN}/`);
    expect(footer?.text).not.toContain('%(');
    expect(await coreTemplate(env.names(config).fqdn, 'list:member:regular:footer')).toBe(footer!.text);
  });

  it.each(SAMPLE_LISTS)('imports the roster of %s and reads it back', { timeout: 120_000 }, async (list) => {
    const config = configs.get(list)!;
    const expected = expectedOf(list);
    const { listId } = env.names(config);
    await applyMailman3Roster(ctxOf(list), env);

    const members = await roster(listId, 'member');
    expect(members.map((m) => m.email).sort()).toEqual(expected.members.map((m) => m.key).sort());
    for (const e of expected.members) {
      const m = members.find((x) => x.email === e.key)!;
      const wantMode = !e.digest ? 'regular' : e.flags.includes('DisableMime') ? 'plaintext_digests' : 'mime_digests';
      expect(m.delivery_mode, e.key).toBe(wantMode);
      // Mailman 2 kept some names as RFC 2047 encoded words; Mailman 3 gets the text.
      if (e.realname?.text) expect(m.display_name, e.key).toBe(libmime.decodeWords(e.realname.text));
      const prefs = (await rest(`/members/${m.member_id}/preferences`)).body;
      expect(prefs['delivery_status'], e.key).toBe(MM3_STATUS[e.delivery_status]);
      expect(prefs['hide_address'], e.key).toBe(e.concealed);
      expect(prefs['acknowledge_posts'], e.key).toBe(e.flags.includes('AcknowledgePosts'));
      expect(prefs['receive_own_postings'], e.key).toBe(!e.flags.includes('DontReceiveOwnPosts'));
      expect(prefs['receive_list_copy'], e.key).toBe(!e.flags.includes('DontReceiveDuplicates'));
      expect(prefs['preferred_language'], e.key).toBe(e.language);
      // Explicit for every member, as import21 does (Mailman 2's per-member flag).
      expect(m.moderation_action, e.key).toBe(e.moderated ? ['hold', 'reject', 'discard'][expected.settings['member_moderation_action'] as number] : 'defer');
      // Subscribed pre-verified: the address is verified.
      const address = (await rest(`/addresses/${encodeURIComponent(e.key)}`)).body;
      expect(address['verified_on'], e.key).toBeTruthy();
      expect(String(address['original_email']).toLowerCase()).toBe(e.key);
    }
    const owners = await roster(listId, 'owner');
    expect(owners.map((o) => o.email).sort()).toEqual((expected.settings['owner'] as string[]).map((o) => o.toLowerCase()).sort());
    const moderators = await roster(listId, 'moderator');
    expect(moderators.map((o) => o.email).sort()).toEqual(((expected.settings['moderator'] as string[] | undefined) ?? []).map((o) => o.toLowerCase()).sort());

    // Afterwards the list has its own notification settings again.
    const read = (await rest(`/lists/${listId}/config`)).body;
    expect(read['send_welcome_message']).toBe(Boolean(expected.settings['send_welcome_msg']));
    expect(read['admin_notify_mchanges']).toBe(Boolean(expected.settings['admin_notify_mchanges']));
    // The core queued no welcome message or owner notice for the imported members (the stack
    // does not run the virgin and out runners, so anything queued stays there).
    expect(await queuedFor(listId)).toEqual([]);
    const journal = await store.journal(list, 'roster');
    const subscribed = journal.filter((j) => j.op === 'subscribe');
    expect(subscribed).toHaveLength(expected.members.length + owners.length + moderators.length);
    for (const j of subscribed) expect(j.status, j.key).toBe('done');
    for (const m of members) expect(subscribed.find((j) => j.key === `member:${m.email}`)?.target_id, m.email).toBe(m.member_id);

    const checks = await verifyMailman3Roster(ctxOf(list), env);
    expect(checks.filter((c) => !c.ok)).toEqual([]);
  });

  it('running the phases twice leaves exactly one copy of every member and setting', { timeout: 180_000 }, async () => {
    const before = new Map<string, string>();
    for (const list of SAMPLE_LISTS) {
      const { listId } = env.names(configs.get(list)!);
      const snapshot = { members: await roster(listId, 'member'), owners: await roster(listId, 'owner'), nonmembers: await roster(listId, 'nonmember'), bans: (await rest(`/lists/${listId}/bans`)).body['entries'], matches: (await rest(`/lists/${listId}/header-matches`)).body['entries'] };
      before.set(list, JSON.stringify(snapshot));
      await store.completePhase(list, 'roster');
    }
    const writes = (): number => [...env.core.counts.entries()].filter(([k]) => /^(POST|DELETE)/.test(k)).reduce((a, [, n]) => a + n, 0);
    const writesBefore = writes();
    for (const list of SAMPLE_LISTS) {
      await applyMailman3Settings(ctxOf(list), env);
      await applyMailman3Roster(ctxOf(list), env);
    }
    for (const list of SAMPLE_LISTS) {
      const { listId } = env.names(configs.get(list)!);
      const snapshot = { members: await roster(listId, 'member'), owners: await roster(listId, 'owner'), nonmembers: await roster(listId, 'nonmember'), bans: (await rest(`/lists/${listId}/bans`)).body['entries'], matches: (await rest(`/lists/${listId}/header-matches`)).body['entries'] };
      expect(JSON.stringify(snapshot), list).toBe(before.get(list));
      // With the roster phase done, the settings phase leaves the list's own notification settings.
      const read = (await rest(`/lists/${listId}/config`)).body;
      expect(read['send_welcome_message']).toBe(mapSettings(configs.get(list)!).listConfig['send_welcome_message']);
    }
    // The second run created and deleted nothing.
    expect(writes()).toBe(writesBefore);
    expect(writesBefore).toBeGreaterThan(0);
  });

  it('verify reports what was changed behind its back, and a re-run repairs it', { timeout: 120_000 }, async () => {
    const list = 'devtalk';
    const config = configs.get(list)!;
    const { listId } = env.names(config);
    const members = await roster(listId, 'member');
    const victim = members.find((m) => m.delivery_mode === 'regular')!;
    const gone = members.find((m) => m !== victim)!;
    expect(await restSend('PATCH', `/members/${victim.member_id}`, { delivery_mode: 'mime_digests' })).toBe(204);
    expect(await restSend('DELETE', `/members/${gone.member_id}`, {})).toBe(204);
    expect(await restSend('PATCH', `/lists/${listId}/config`, { subject_prefix: '[changed] ' })).toBe(204);

    // Unsubscribing by hand does notify (a goodbye message): the queue check above can see it.
    expect((await queuedFor(listId)).length).toBeGreaterThan(0);
    const failing = (await verifyMailman3Roster(ctxOf(list), env)).filter((c) => !c.ok).map((c) => c.name);
    expect(failing).toEqual(expect.arrayContaining(['members', 'member delivery modes', 'list settings']));

    await applyMailman3Settings(ctxOf(list), env);
    await applyMailman3Roster(ctxOf(list), env);
    expect((await verifyMailman3Roster(ctxOf(list), env)).filter((c) => !c.ok)).toEqual([]);
    expect((await roster(listId, 'member')).length).toBe(members.length);
  });

  it('publishes templates over HTTP where the core fetches them', { timeout: 60_000 }, async () => {
    const source = configs.get('nihongo')!;
    // A copy of nihongo under another name, so its templates come from the web server below.
    const config: ListConfig = { ...source, name: `nihongo-http` };
    const footer = mailman3SettingsPlan({ config, cfg }, env).templates.find((t) => t.name === 'list:member:regular:footer')!;
    const dir = path.join(scratch, 'published');
    let server: Server | undefined;
    try {
      server = createServer((req, res) => {
        // A plain static file server, as an operator's web server would be.
        readFile(path.join(dir, decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname)))
          .then((body) => res.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8' }).end(body))
          .catch(() => res.writeHead(404).end());
      });
      await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
      const port = (server.address() as { port: number }).port;
      const httpEnv = createMailman3Env(withTemplates(env.target, { via: 'http', dir, baseUrl: `http://127.0.0.1:${port}/` }), {
        restPassword: stack.restPassword,
        archiverKey: stack.archiverKey,
      });
      await applyMailman3Settings(ctxOf('nihongo-http', config), httpEnv);
      const { listId, fqdn } = httpEnv.names(config);
      const uris = (await rest<{ entries?: { name: string; uri: string }[] }>(`/lists/${listId}/uris`)).body.entries ?? [];
      expect(uris.find((u) => u.name === footer.name)?.uri).toBe(`http://127.0.0.1:${port}/${listId}/${footer.name}.txt`);
      expect(await coreTemplate(fqdn, footer.name)).toBe(footer.text);
    } finally {
      await new Promise((resolve) => (server ? server.close(resolve) : resolve(undefined)));
    }
  });

  it('without template publishing, templates are reported with their exact text and no URI is set', async () => {
    const source = configs.get('liste-fr')!;
    const config: ListConfig = { ...source, name: 'liste-fr-notpl' };
    const target = { ...env.target } as Mailman3TargetConfig & { templates?: unknown };
    delete target.templates;
    const plainEnv = createMailman3Env(target, { restPassword: stack.restPassword, archiverKey: stack.archiverKey });
    await applyMailman3Settings(ctxOf('liste-fr-notpl', config), plainEnv);
    const problems = (await store.problems('liste-fr-notpl')).filter((p) => p.code === 'template-not-carried');
    const planned = mailman3SettingsPlan({ config, cfg }, plainEnv).templates;
    expect(problems).toHaveLength(planned.length);
    for (const t of planned) {
      const p = problems.find((x) => x.message.includes(t.name))!;
      expect(p.message).toContain(JSON.stringify(t.text));
      expect(await readFile(p.file!, 'utf8')).toBe(t.text);
    }
    const uris = (await rest<{ entries?: unknown[] }>(`/lists/${plainEnv.names(config).listId}/uris`)).body.entries ?? [];
    expect(uris).toEqual([]);
  });

  it('errors name the list and the operation', async () => {
    const config: ListConfig = { ...configs.get('oldproject')!, name: 'bad list name' };
    const error = await applyMailman3Settings(ctxOf('bad list name', config), env).then(
      () => null,
      (e: unknown) => e as Error,
    );
    expect(error?.message).toMatch(/^bad list name: create list bad list name@/);
    expect(error?.message).toMatch(/Mailman 3 core refused it: Invalid list (name|posting address)/);
  });

  it('retries with backoff when the core cannot be reached or does not answer, then names list and operation', async () => {
    // A port nobody listens on (connection refused) and a listener that never answers (timeout).
    const held: Socket[] = [];
    const silent = createNetServer((socket) => void held.push(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const probe = createNetServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const closedPort = (probe.address() as { port: number }).port;
    await new Promise((resolve) => probe.close(resolve));
    try {
      for (const [url, what] of [
        [`http://127.0.0.1:${closedPort}`, /ECONNREFUSED/],
        [`http://127.0.0.1:${(silent.address() as { port: number }).port}`, /no answer within 0\.3 s/],
      ] as const) {
        const delays: number[] = [];
        const client = new CoreClient({ url, user: 'restadmin', password: 'secret-pw', retries: 2, backoffMs: 100, timeoutMs: 300, sleep: async (ms) => void delays.push(ms) });
        const error = await client.ok({ list: 'devtalk', operation: 'read list settings', method: 'GET', path: '/lists/x/config', schema: NoContent }).then(
          () => null,
          (e: unknown) => e as CoreApiError,
        );
        expect(error).toBeInstanceOf(CoreApiError);
        expect(error!.message).toMatch(/^devtalk: read list settings: Mailman 3 core GET /);
        expect(error!.message).toMatch(what);
        expect(error!.message).toContain('gave up after 3 attempts');
        expect(error!.message).not.toContain('secret-pw');
        expect(delays).toEqual([100, 200]);
      }
    } finally {
      for (const socket of held) socket.destroy();
      await new Promise((resolve) => silent.close(resolve));
    }
  });

  it('a wrong password gives a clear error that does not contain the password', async () => {
    const wrong = `not-the-password-${RUN}`;
    const badEnv = createMailman3Env(env.target, { restPassword: wrong, archiverKey: stack.archiverKey, core: { retries: 0 } });
    const error = await applyMailman3Settings(ctxOf('oldproject'), badEnv).then(
      () => null,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(CoreApiError);
    const message = (error as CoreApiError).message;
    expect((error as CoreApiError).status).toBe(401);
    expect(message).toContain('oldproject');
    expect(message).toContain('refused the credentials');
    expect(message).toContain('MM2M_TEST_CORE_PASSWORD');
    expect(message).not.toContain(wrong);

    // The pre-flight check says the same, once, before any list is touched.
    const target = new Mailman3Target({ ...cfg }, { dryRun: false }, { restPassword: wrong, archiverKey: stack.archiverKey });
    const problems = await target.preflight();
    const credentials = problems.filter((p) => p.code === 'mailman3-credentials');
    expect(credentials).toHaveLength(1);
    expect(credentials[0]!.severity).toBe('error');
    expect(JSON.stringify(problems)).not.toContain(wrong);

    const good = new Mailman3Target({ ...cfg }, { dryRun: false }, { restPassword: stack.restPassword, archiverKey: stack.archiverKey });
    expect((await good.preflight()).filter((p) => p.severity === 'error')).toEqual([]);
  });
});
