/**
 * The archive into a real HyperKitty (test/stack, Debian packages, loopback): both paths — the HTTP
 * replay through the archiver endpoint and the server-side hyperkitty_import of the cleaned mbox,
 * run through a local command — leave the same messages at the URLs computed in advance; re-runs,
 * aborted runs and a SIGKILLed process leave one copy of each; private lists are private before
 * the first message; and the official `hyperkitty_import` of the original mbox is compared with ours.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { loadavg } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LoadedConfig } from '../src/config/load.js';
import type { Mailman3TargetConfig } from '../src/config/schema.js';
import { messageIdHash } from '../src/mailman2/message-id.js';
import { runIndexPhase } from '../src/pipeline/index-phase.js';
import { StateDb } from '../src/state/db.js';
import { Store } from '../src/state/store.js';
import type { ListContext } from '../src/targets/target.js';
import { hyperkittyClient, replayMailman3Archive, verifyMailman3Archive, type Mailman3ArchiveEnv } from '../src/targets/mailman3/archive.js';
import { createMailman3Env } from '../src/targets/mailman3/env.js';
import { HyperKittyClient, checkHyperKitty } from '../src/targets/mailman3/hyperkitty-client.js';
import { mailman3Names } from '../src/targets/mailman3/names.js';
import { replayRows, type ReplayRow } from '../src/targets/mailman3/prepare-message.js';
import { replayOverHttp } from '../src/targets/mailman3/replay-http.js';
import { sampleConfig, SAMPLE_LISTS } from './helpers/sample.js';
import { coreRest, ensureHyperKittySuperuser } from './helpers/mailman3-run.js';
import { startMailman3Stack, type Mailman3Stack } from './stack/mailman3-stack.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const RUN = `${Date.now().toString(36)}${process.pid.toString(36)}`;
const DOMAIN = `a${RUN}.archive.test`;
const HK_USER = 'mm2m-archive-admin';
const HK_PASSWORD_ENV = 'MM2M_TEST_HK_PASSWORD';
const HK_PASSWORD = `pw-${RUN}`;

let stack: Mailman3Stack;

/** The kill tests run the compiled code, which test/global-setup.ts builds once per test run. */
function ensureBuilt(): void {
  const main = path.join(ROOT, 'dist/src/cli/main.js');
  if (!existsSync(main)) throw new Error(`${main} is missing: the global setup (tsc) did not build dist/`);
}

const rest = coreRest(() => stack);

/** Creates the list in Mailman core with the archive policy the Mailman 2 list had (the settings phase's job). */
async function createList(fqdn: string, policy: string): Promise<void> {
  const res = await rest('POST', '/lists', { fqdn_listname: fqdn });
  expect(res.status, await res.text()).toBe(201);
  const id = fqdn.replace('@', '.');
  const patch = await rest('PATCH', `/lists/${id}/config`, { archive_policy: policy });
  expect(patch.status, await patch.text()).toBe(204);
}

interface Setup {
  cfg: LoadedConfig;
  store: Store;
  ctx: ListContext;
  env: Mailman3ArchiveEnv;
  fqdn: string;
  rows: ReplayRow[];
  close(): Promise<void>;
}

/**
 * A fresh state database with `list` indexed, and the target pointing at the stack. `suffix` names
 * the HyperKitty list `<name><suffix>@<domain>`.
 */
async function setup(list: string, suffix: string, target: Partial<Mailman3TargetConfig> = {}, signal = new AbortController().signal): Promise<Setup> {
  const cfg = await sampleConfig({
    domain: DOMAIN,
    rest: { url: stack.restUrl, user: stack.restUser, passwordEnv: 'MM2M_TEST_REST_PASSWORD' },
    hyperkitty: { url: `${stack.hyperkittyUrl}/`, archiverKeyEnv: 'MM2M_TEST_ARCHIVER_KEY', user: HK_USER, passwordEnv: HK_PASSWORD_ENV },
    ...target,
  });
  const db = await StateDb.open(cfg.state);
  const store = await Store.open(db);
  const { config } = await runIndexPhase(store, cfg, list);
  const reportDir = path.join(cfg.reports, list);
  await mkdir(reportDir, { recursive: true });
  const base = createMailman3Env(cfg.target as Mailman3TargetConfig, { restPassword: stack.restPassword, archiverKey: stack.archiverKey });
  const names = (c: typeof config) => {
    const n = mailman3Names(c, cfg.target as Mailman3TargetConfig);
    const local = `${c.name.toLowerCase()}${suffix}`;
    return { ...n, fqdn: `${local}@${n.mailHost}`, listId: `${local}.${n.mailHost}` };
  };
  const env: Mailman3ArchiveEnv = { ...base, names };
  const ctx: ListContext = { list, config, store, cfg, reportDir, signal, progress: () => undefined };
  return { cfg, store, ctx, env, fqdn: names(config).fqdn, rows: await replayRows(db, list), close: () => db.close() };
}

function expectedHashes(rows: ReplayRow[]): string[] {
  return rows.map((r) => messageIdHash(r.target_message_id)).sort();
}

async function archivedHashes(fqdn: string): Promise<string[]> {
  const client = admin();
  const emails = await client.listEmails(fqdn, { authenticated: true });
  return (emails ?? []).map((e) => e.hash).sort();
}

/** Emails HyperKitty holds for the list, counted by the JSON API's own `count`. */
async function archivedCount(fqdn: string): Promise<number> {
  const res = await fetch(`${stack.hyperkittyUrl}/api/list/${encodeURIComponent(fqdn)}/emails/?limit=1`, {
    headers: { Authorization: `Basic ${Buffer.from(`${HK_USER}:${HK_PASSWORD}`).toString('base64')}` },
  });
  expect(res.status).toBe(200);
  return ((await res.json()) as { count: number }).count;
}

function admin(): HyperKittyClient {
  return new HyperKittyClient({ baseUrl: `${stack.hyperkittyUrl}/`, archiverKey: stack.archiverKey, user: { name: HK_USER, password: HK_PASSWORD } });
}

beforeAll(async () => {
  stack = await startMailman3Stack();
  process.env.MM2M_TEST_REST_PASSWORD = stack.restPassword;
  process.env.MM2M_TEST_ARCHIVER_KEY = stack.archiverKey;
  process.env[HK_PASSWORD_ENV] = HK_PASSWORD;
  const domain = await rest('POST', '/domains', { mail_host: DOMAIN });
  expect(domain.status, await domain.text()).toBe(201);
  // A HyperKitty superuser, to read private archives (what target.hyperkitty.user is for).
  await ensureHyperKittySuperuser(stack, HK_USER, HK_PASSWORD, 'admin@example.invalid');
}, 300_000);

afterAll(async () => {
  await stack?.stop();
});

describe('pre-flight', () => {
  it('accepts the archiver key and names a wrong one', async () => {
    const target = { hyperkitty: { url: `${stack.hyperkittyUrl}/` } };
    expect(await checkHyperKitty({ target, archiverKey: stack.archiverKey })).toEqual([]);
    const wrong = await checkHyperKitty({ target, archiverKey: 'not-the-key' });
    expect(wrong).toHaveLength(1);
    expect(wrong[0]!.message).toMatch(/HTTP 401.*archiver key was refused/);
    expect(wrong[0]!.message).not.toContain('not-the-key');
  });
});

describe.each(SAMPLE_LISTS)('archive of %s', (list) => {
  it('both paths leave the same messages at the URLs computed in advance, and verify agrees', async () => {
    // The HTTP path may use the server command for one thing: syncing a private list in HyperKitty.
    const http = await setup(list, '', { archivePath: 'http', serverCommand: [], serverImport: { manage: stack.manageCommand, tmpDir: '/tmp' } });
    const server = await setup(list, '-srv', { archivePath: 'server', serverCommand: [], serverImport: { manage: stack.manageCommand, tmpDir: '/tmp' } });
    try {
      const policy = http.ctx.config.archive.policy;
      await createList(http.fqdn, policy);
      await createList(server.fqdn, policy);

      await replayMailman3Archive(http.ctx, http.env);
      await replayMailman3Archive(server.ctx, server.env);

      const want = expectedHashes(http.rows);
      expect(new Set(want).size).toBe(want.length);
      expect(await archivedHashes(http.fqdn)).toEqual(want);
      expect(await archivedHashes(server.fqdn)).toEqual(want);

      // Every message is journaled done with its URL, on both paths.
      for (const s of [http, server]) {
        const journal = await s.store.journal(list, 'archive');
        expect(journal.filter((j) => j.status === 'done').map((j) => j.target_url).sort()).toEqual(
          want.map((h) => `${stack.hyperkittyUrl}/list/${s.fqdn}/message/${h}/`).sort(),
        );
        const checks = await verifyMailman3Archive(s.ctx, s.env);
        expect(checks.filter((c) => !c.ok), JSON.stringify(checks, null, 1)).toEqual([]);
        expect(checks.length).toBeGreaterThanOrEqual(policy === 'private' ? 4 : 3);
      }
      // The server path kept its cleaned mbox and the log of the commands it ran.
      const log = await readFile(path.join(server.ctx.reportDir, 'server-import', 'commands.log'), 'utf8');
      expect(log).toContain(`hyperkitty_import --since 1970-01-01 -l ${server.fqdn}`);
      expect(log).toContain(`update_index_one_list ${server.fqdn}`);
    } finally {
      await http.close();
      await server.close();
    }
  }, 300_000);
});

it("keeps both of devtalk's <meeting-notes@example.org> messages, the later one under its new id", async () => {
  const s = await setup('devtalk', '-dup', { archivePath: 'http' });
  try {
    const notes = s.rows.filter((r) => r.message_id === 'meeting-notes@example.org');
    expect(notes).toHaveLength(2);
    expect(notes.filter((r) => r.target_message_id === 'meeting-notes@example.org')).toHaveLength(1);
    const renamed = notes.find((r) => r.target_message_id !== 'meeting-notes@example.org')!;
    expect(renamed.duplicate_kind).toBe('different');
    await createList(s.fqdn, 'public');
    await replayMailman3Archive(s.ctx, s.env);
    const emails = (await admin().listEmails(s.fqdn))!;
    const ids = emails.map((e) => e.messageId);
    expect(ids).toContain('meeting-notes@example.org');
    expect(ids).toContain(renamed.target_message_id);
    const entry = await s.store.journalEntry('devtalk', 'archive', 'message', renamed.target_message_id);
    expect(JSON.parse(entry!.detail_json!)).toMatchObject({ duplicateOf: 'meeting-notes@example.org', originalMessageId: '<meeting-notes@example.org>' });
  } finally {
    await s.close();
  }
}, 120_000);

describe('HTTP replay re-runs', () => {
  it('running it twice (same state, then a fresh state that re-sends everything) leaves one copy of each message', async () => {
    const first = await setup('oldproject', '-twice', { archivePath: 'http' });
    const fresh = await setup('oldproject', '-twice', { archivePath: 'http' });
    try {
      await createList(first.fqdn, 'public');
      await replayMailman3Archive(first.ctx, first.env);
      const n = first.rows.length;
      expect(await archivedCount(first.fqdn)).toBe(n);

      // Same state: everything is journaled, nothing is sent.
      const again = await replayOverHttp(first.ctx, { client: hyperkittyClient(first.env), fqdn: first.fqdn, concurrency: 4 });
      expect(again).toMatchObject({ total: n, skipped: n, accepted: 0 });
      // Empty journal: every message is posted again, and HyperKitty answers each with the existing URL.
      const resent = await replayOverHttp(fresh.ctx, { client: hyperkittyClient(fresh.env), fqdn: fresh.fqdn, concurrency: 4 });
      expect(resent).toMatchObject({ total: n, skipped: 0, accepted: n, refused: 0, urlMismatches: 0 });
      expect(await archivedCount(first.fqdn)).toBe(n);
      expect(await archivedHashes(first.fqdn)).toEqual(expectedHashes(first.rows));
    } finally {
      await first.close();
      await fresh.close();
    }
  }, 180_000);

  it('a replay stopped through ctx.signal and resumed leaves one copy of each message', async () => {
    const stop = new AbortController();
    const s = await setup('devtalk', '-abort', { archivePath: 'http', replayConcurrency: 3 }, stop.signal);
    try {
      await createList(s.fqdn, 'public');
      let seen = 0;
      s.ctx.progress = (done) => {
        seen = done;
        if (done >= 10) stop.abort();
      };
      await replayMailman3Archive(s.ctx, s.env);
      const journal = await s.store.journal('devtalk', 'archive');
      const done = journal.filter((j) => j.status === 'done').length;
      // Stopped: the requests in flight were finished and journaled, nothing new was started.
      expect(done).toBeGreaterThanOrEqual(10);
      expect(done).toBeLessThan(s.rows.length);
      expect(journal.filter((j) => j.status === 'pending')).toEqual([]);
      expect(await archivedCount(s.fqdn)).toBe(done);
      expect(seen).toBe(done);

      const resumed: ListContext = { ...s.ctx, signal: new AbortController().signal, progress: () => undefined };
      await replayMailman3Archive(resumed, s.env);
      expect(await archivedCount(s.fqdn)).toBe(s.rows.length);
      expect(await archivedHashes(s.fqdn)).toEqual(expectedHashes(s.rows));
    } finally {
      await s.close();
    }
  }, 180_000);

  it('a process killed with SIGKILL mid-replay, then run again, leaves one copy of each message', async () => {
    ensureBuilt();
    const s = await setup('devtalk', '-kill', { archivePath: 'http', replayConcurrency: 2 });
    await s.close();
    await createList(s.fqdn, 'public');
    const script = path.join(s.ctx.reportDir, 'kill-child.mjs');
    await writeFile(script, childScript());
    const args = [script, JSON.stringify({ state: s.cfg.state, cfg: s.cfg, fqdn: s.fqdn, reportDir: s.ctx.reportDir })];
    const env = { ...process.env, MM2M_TEST_REST_PASSWORD: stack.restPassword, MM2M_TEST_ARCHIVER_KEY: stack.archiverKey };

    // First run: killed once a few messages are in.
    const child = spawn(process.execPath, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stderr.on('data', (b: Buffer) => (out += b.toString()));
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    for (;;) {
      if ((await archivedCount(s.fqdn).catch(() => 0)) >= 8 || child.exitCode !== null) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(child.exitCode, out).toBeNull();
    child.kill('SIGKILL');
    await exited;
    const partial = await archivedCount(s.fqdn);
    expect(partial).toBeLessThan(s.rows.length);

    // Second run: completes.
    const again = spawn(process.execPath, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out2 = '';
    again.stderr.on('data', (b: Buffer) => (out2 += b.toString()));
    const code = await new Promise<number | null>((r) => again.on('exit', (c) => r(c)));
    expect(code, out2).toBe(0);
    expect(await archivedCount(s.fqdn)).toBe(s.rows.length);
    expect(await archivedHashes(s.fqdn)).toEqual(expectedHashes(s.rows));
    const db = await StateDb.open(s.cfg.state);
    try {
      const journal = await db.all<{ status: string }>("SELECT status FROM journal WHERE list = 'devtalk' AND phase = 'archive'");
      expect(journal.filter((j) => j.status === 'done')).toHaveLength(s.rows.length);
    } finally {
      await db.close();
    }
  }, 180_000);
});

it('`mm2migrate migrate` killed with SIGKILL during the archive phase, then run again, leaves one copy of each message', async () => {
  ensureBuilt();
  const domain = `k${RUN}.archive.test`;
  const cfg = await sampleConfig({
    domain,
    archivePath: 'http',
    replayConcurrency: 2,
    rest: { url: stack.restUrl, user: stack.restUser, passwordEnv: 'MM2M_TEST_REST_PASSWORD' },
    hyperkitty: { url: `${stack.hyperkittyUrl}/`, archiverKeyEnv: 'MM2M_TEST_ARCHIVER_KEY' },
  });
  const configFile = path.join(path.dirname(cfg.state), 'config.json');
  await writeFile(configFile, JSON.stringify({ ...cfg, file: undefined }));
  const fqdn = `devtalk@${domain}`;
  const env = { ...process.env, MM2M_TEST_REST_PASSWORD: stack.restPassword, MM2M_TEST_ARCHIVER_KEY: stack.archiverKey };
  const cli = () => {
    const child = spawn(process.execPath, ['dist/src/cli/main.js', 'migrate', '--config', configFile, '--list', 'devtalk'], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    child.stderr.on('data', (b: Buffer) => (out += b.toString()));
    const exited = new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
    return { child, exited, out: () => out };
  };
  const first = cli();
  for (;;) {
    if ((await archivedCount(fqdn).catch(() => 0)) >= 8 || first.child.exitCode !== null) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  expect(first.child.exitCode, first.out()).toBeNull();
  first.child.kill('SIGKILL');
  await first.exited;
  const db = await StateDb.open(cfg.state);
  try {
    const n = (await replayRows(db, 'devtalk')).length;
    expect(await archivedCount(fqdn)).toBeLessThan(n);
    const second = cli();
    expect(await second.exited, second.out()).toBe(0);
    expect(await archivedCount(fqdn)).toBe(n);
    expect(await archivedHashes(fqdn)).toEqual(expectedHashes(await replayRows(db, 'devtalk')));
    const report = JSON.parse(await readFile(path.join(cfg.reports, 'devtalk', 'report.json'), 'utf8')) as { verify: { checks: { name: string; ok: boolean }[] } };
    const archiveChecks = report.verify.checks.filter((c) => c.name.startsWith('archive:'));
    expect(archiveChecks.length).toBeGreaterThanOrEqual(3);
    expect(archiveChecks.filter((c) => !c.ok)).toEqual([]);
  } finally {
    await db.close();
  }
}, 240_000);

/** The compiled archive phase in a child process (the SIGKILL test), without the rest of the pipeline. */
function childScript(): string {
  const dist = (p: string) => JSON.stringify(path.join(ROOT, 'dist/src', p));
  return `
import { StateDb } from ${dist('state/db.js')};
import { Store } from ${dist('state/store.js')};
import { runIndexPhase } from ${dist('pipeline/index-phase.js')};
import { createMailman3Env } from ${dist('targets/mailman3/env.js')};
import { replayMailman3Archive } from ${dist('targets/mailman3/archive.js')};
import { mailman3Names } from ${dist('targets/mailman3/names.js')};
const { state, cfg, fqdn, reportDir } = JSON.parse(process.argv[2]);
const store = await Store.open(await StateDb.open(state));
const { config } = await runIndexPhase(store, cfg, 'devtalk');
const base = createMailman3Env(cfg.target);
const names = (c) => ({ ...mailman3Names(c, cfg.target), fqdn, listId: fqdn.replace('@', '.') });
const ctx = { list: 'devtalk', config, store, cfg, reportDir, signal: new AbortController().signal, progress: () => {} };
await replayMailman3Archive(ctx, { ...base, names });
`;
}

describe('server-side import without and through a remote-style command', () => {
  it('without serverCommand: writes the mbox and the exact commands, then journals what the admin imported', async () => {
    const s = await setup('nihongo', '-manual', { archivePath: 'server', serverImport: { manage: stack.manageCommand, tmpDir: '/tmp' } });
    try {
      await createList(s.fqdn, 'public');
      await replayMailman3Archive(s.ctx, s.env);
      expect(await s.store.journal('nihongo', 'archive')).toEqual([]);
      const problems = await s.store.problems('nihongo');
      expect(problems.filter((p) => p.code === 'archive-server-manual')).toHaveLength(1);
      const script = await readFile(path.join(s.ctx.reportDir, 'server-import', 'commands.sh'), 'utf8');
      const mbox = path.join(s.ctx.reportDir, 'server-import', `${s.fqdn}.mbox`);
      expect(script).toContain(`hyperkitty_import --since 1970-01-01 -l ${s.fqdn} ${mbox}`);
      expect(script).toContain(`update_index_one_list ${s.fqdn}`);

      // The admin runs the printed import; the next run reads back and journals every message.
      const ran = await stack.runManage(['hyperkitty_import', '--since', '1970-01-01', '-l', s.fqdn, mbox]);
      expect(ran.code, ran.stderr).toBe(0);
      await replayMailman3Archive(s.ctx, s.env);
      const journal = await s.store.journal('nihongo', 'archive');
      expect(journal.filter((j) => j.status === 'done')).toHaveLength(s.rows.length);
      expect(await archivedHashes(s.fqdn)).toEqual(expectedHashes(s.rows));
      const checks = await verifyMailman3Archive(s.ctx, s.env);
      expect(checks.filter((c) => !c.ok)).toEqual([]);
    } finally {
      await s.close();
    }
  }, 120_000);

  it('through a shell-line prefix (["sh", "-c"], as ["ssh", host] works): copies the mbox, imports, removes the copy', async () => {
    const tmp = path.join(path.dirname((await sampleConfig()).state), 'server tmp');
    const s = await setup('oldproject', '-sh', { archivePath: 'server', serverCommand: ['sh', '-c'], serverImport: { manage: stack.manageCommand, tmpDir: tmp } });
    try {
      await createList(s.fqdn, 'public');
      await replayMailman3Archive(s.ctx, s.env);
      expect(await archivedHashes(s.fqdn)).toEqual(expectedHashes(s.rows));
      const log = await readFile(path.join(s.ctx.reportDir, 'server-import', 'commands.log'), 'utf8');
      expect(log).toContain('umask 077 && mkdir -p');
      expect(log).toContain(`mm2migrate-${s.fqdn}-`);
      expect(log).toContain(`hyperkitty_import --since 1970-01-01 -l ${s.fqdn}`);
      expect(log).toMatch(/\[exit 0\]/);
      const { readdir } = await import('node:fs/promises');
      expect(await readdir(tmp)).toEqual([]);
      const journal = await s.store.journal('oldproject', 'archive');
      expect(journal.filter((j) => j.status === 'done')).toHaveLength(s.rows.length);
    } finally {
      await s.close();
    }
  }, 120_000);
});

describe('private list (liste-fr)', () => {
  const anonymous = () => new HyperKittyClient({ baseUrl: `${stack.hyperkittyUrl}/`, archiverKey: stack.archiverKey });

  /** Replays and checks, right after the first message is accepted, that an anonymous visitor is refused its page. */
  async function replayWatchingFirst(s: Setup, opts?: { privateSyncTimeoutMs?: number }): Promise<number[]> {
    const first = s.rows[0]!;
    const firstUrl = `${stack.hyperkittyUrl}/list/${s.fqdn}/message/${messageIdHash(first.target_message_id)}/`;
    const statuses: number[] = [];
    let checked: Promise<void> | null = null;
    s.ctx.progress = (done) => {
      if (done === 1 && !checked) checked = anonymous().pageStatus(firstUrl).then((r) => void statuses.push(r.status));
    };
    await replayMailman3Archive(s.ctx, s.env, opts);
    await checked;
    return statuses;
  }

  it('HTTP path with a server command: HyperKitty has the list private before the first message', async () => {
    const s = await setup('liste-fr', '-priv', { archivePath: 'http', replayConcurrency: 1, serverCommand: [], serverImport: { manage: stack.manageCommand, tmpDir: '/tmp' } });
    try {
      expect(s.ctx.config.archive.policy).toBe('private');
      await createList(s.fqdn, 'private');
      expect(await replayWatchingFirst(s)).toEqual([403]);
      const page = await anonymous().pageStatus(`${stack.hyperkittyUrl}/list/${s.fqdn}/message/${messageIdHash(s.rows[1]!.target_message_id)}/`);
      expect(page.status).toBe(403);
      await expect(anonymous().listEmails(s.fqdn)).rejects.toThrow(/HTTP 403.*private/);
      expect(await archivedHashes(s.fqdn)).toEqual(expectedHashes(s.rows));
    } finally {
      await s.close();
    }
  }, 120_000);

  it('HTTP path without server access: replays once HyperKitty knows the list as private (e.g. created in Postorius)', async () => {
    const s = await setup('liste-fr', '-known', { archivePath: 'http', replayConcurrency: 1 });
    try {
      await createList(s.fqdn, 'private');
      // What Postorius' list-created signal (or HyperKitty's sync task) does.
      const synced = await stack.runManage(['shell', '-c', `from hyperkitty.models import MailingList\nMailingList.objects.get_or_create(name=${JSON.stringify(s.fqdn)})[0].update_from_mailman()`]);
      expect(synced.code, synced.stderr).toBe(0);
      expect(await replayWatchingFirst(s)).toEqual([403]);
      expect(await archivedHashes(s.fqdn)).toEqual(expectedHashes(s.rows));
    } finally {
      await s.close();
    }
  }, 120_000);

  it('HTTP path without server access: sends nothing while HyperKitty still shows the list publicly', async () => {
    // This stack runs HyperKitty's tasks inline, where the sync after the probe is overwritten.
    const s = await setup('liste-fr', '-wait', { archivePath: 'http' });
    try {
      await createList(s.fqdn, 'private');
      await expect(replayMailman3Archive(s.ctx, s.env, { privateSyncTimeoutMs: 3000 })).rejects.toThrow(/still shows .* to anonymous visitors .* no message was sent/);
      expect(await archivedCount(s.fqdn)).toBe(0);
      expect(await s.store.journal('liste-fr', 'archive')).toEqual([]);
    } finally {
      await s.close();
    }
  }, 60_000);

  it('refuses to replay when Mailman core still has the list public', async () => {
    const s = await setup('liste-fr', '-pub', { archivePath: 'http' });
    try {
      await createList(s.fqdn, 'public');
      await expect(replayMailman3Archive(s.ctx, s.env)).rejects.toThrow(/archive_policy public/);
      expect(await admin().listEmails(s.fqdn, { authenticated: true })).toBeNull();
    } finally {
      await s.close();
    }
  }, 60_000);
});

/**
 * Parity with the official path: `hyperkitty_import` of the ORIGINAL Mailman 2 mbox into
 * `<name>-off@<domain>` against this tool's set (the hashes computed in advance, which the tests
 * above show both paths produce). Every difference must be one of the documented kinds
 * (README, "The archive (HyperKitty)"): a different-content duplicate the official path drops, a message
 * without Message-ID that it files under a random id, or a fragment of a message it split at an
 * unescaped "From " line.
 */
describe.each(SAMPLE_LISTS)('parity with the official hyperkitty_import: %s', (list) => {
  it('differs only in the documented ways', async () => {
    const s = await setup(list, '-off', { archivePath: 'http' });
    try {
      await createList(s.fqdn, s.ctx.config.archive.policy);
      const mbox = (await s.store.getList(list))!.mbox_path!;
      const imported = await stack.runManage(['hyperkitty_import', '--since', '1970-01-01', '-l', s.fqdn, mbox]);
      expect(imported.code, imported.stderr).toBe(0);
      const official = (await admin().listEmails(s.fqdn, { authenticated: true })) ?? [];
      const officialHashes = new Set(official.map((e) => e.hash));
      const ours = new Map(s.rows.map((r) => [messageIdHash(r.target_message_id), r]));

      const onlyOurs = [...ours].filter(([h]) => !officialHashes.has(h)).map(([, r]) => r);
      const onlyOfficial = official.filter((e) => !ours.has(e.hash));
      const kinds = {
        duplicateKept: onlyOurs.filter((r) => r.duplicate_kind === 'different').length,
        noMessageIdStable: onlyOurs.filter((r) => r.synthetic_id === 1).length,
        // hyperkitty_import --since 1970-01-01 skips a message whose Date is before 1970; the index dates it from the next source.
        dateRepaired: onlyOurs.filter((r) => r.duplicate_kind !== 'different' && r.synthetic_id !== 1 && r.date_repaired === 1).length,
        other: onlyOurs.filter((r) => r.duplicate_kind !== 'different' && r.synthetic_id !== 1 && r.date_repaired !== 1).map((r) => r.target_message_id),
        randomIds: onlyOfficial.filter((e) => /generated@/.test(e.messageId)).length,
        officialOther: onlyOfficial.filter((e) => !/generated@/.test(e.messageId)).map((e) => e.messageId),
      };
      console.info(`${list}: ours ${ours.size}, official ${official.length}`, JSON.stringify(kinds));
      expect(kinds.other).toEqual([]);
      expect(kinds.officialOther).toEqual([]);
      // The official path keeps only the first of two different messages with one Message-ID.
      expect(kinds.duplicateKept).toBe(s.rows.filter((r) => r.duplicate_kind === 'different').length);
      // Messages without Message-ID: a random id there, a stable one here.
      expect(kinds.noMessageIdStable).toBe(s.rows.filter((r) => r.synthetic_id === 1).length);
      // Python's mailbox splits at every unescaped "From " body line: each fragment becomes a message with a random id.
      const flags = await s.store.db.all<{ flags_json: string | null }>("SELECT flags_json FROM messages WHERE list = ? AND duplicate_kind IS NOT 'same'", [list]);
      const unescaped = flags.reduce((n, f) => n + ((f.flags_json ? (JSON.parse(f.flags_json) as { unescapedFromLines?: number }).unescapedFromLines : 0) ?? 0), 0);
      expect(kinds.randomIds - kinds.noMessageIdStable).toBe(unescaped);
    } finally {
      await s.close();
    }
  }, 120_000);
});

/**
 * Throughput of the HTTP path at several concurrencies (README, "The archive (HyperKitty)"): the same
 * generated messages into a fresh list each time. Off by default (about a minute per run):
 * MM2M_ARCHIVE_BENCH=1 npx vitest run test/mailman3-archive.test.ts -t throughput
 */
describe.runIf(process.env.MM2M_ARCHIVE_BENCH)('HTTP replay throughput', () => {
  it('measures messages/s at concurrency 1, 2, 4, 8', async () => {
    const { generateMbox } = await import('../bench/generate/mbox.js');
    const { indexMbox } = await import('../src/state/index-mbox.js');
    const { computeThreads } = await import('../src/state/threading.js');
    const messages = Number(process.env.MM2M_ARCHIVE_BENCH_BYTES ?? 2_000_000);
    // Each level twice, up then down, so that drift in the machine's load shows; a new seed per run
    // so that every run creates its senders as a real migration does.
    const levels = (process.env.MM2M_ARCHIVE_BENCH_LEVELS ?? '1,2,4,8,8,4,2,1').split(',').map(Number);
    const results: Record<string, unknown>[] = [];
    for (const [run, concurrency] of levels.entries()) {
      const load = loadavg()[0]!;
      const cfg = await sampleConfig({ domain: DOMAIN });
      const mbox = path.join(path.dirname(cfg.state), 'bench.mbox');
      const gen = await generateMbox({ seed: 100 + run, targetBytes: messages, list: 'bench', host: 'lists.example.org', legacyShare: 0 }, mbox);
      const db = await StateDb.open(cfg.state);
      const store = await Store.open(db);
      await store.ensureList('bench');
      await indexMbox(store, { list: 'bench', mboxPath: mbox, listAddress: 'bench@lists.example.org', quarantineDir: path.join(cfg.reports, 'q') });
      await computeThreads(store, 'bench');
      const fqdn = `bench-r${run}-c${concurrency}@${DOMAIN}`;
      await createList(fqdn, 'public');
      const reportDir = path.join(cfg.reports, 'bench');
      await mkdir(reportDir, { recursive: true });
      const ctx = { list: 'bench', store, cfg, reportDir, signal: new AbortController().signal, progress: () => undefined } as unknown as ListContext;
      const client = new HyperKittyClient({ baseUrl: `${stack.hyperkittyUrl}/`, archiverKey: stack.archiverKey });
      const stats = await replayOverHttp(ctx, { client, fqdn, concurrency });
      const retried = (await db.all<{ detail_json: string }>("SELECT detail_json FROM journal WHERE list = 'bench' AND detail_json LIKE '%attempts%'")).length;
      const count = await archivedCount(fqdn);
      results.push({ run, concurrency, load1: +load.toFixed(1), messages: stats.total, generated: gen.messages, seconds: stats.seconds, perSecond: +(stats.accepted / stats.seconds).toFixed(2), retried, refused: stats.refused, archived: count });
      expect(count).toBe(stats.accepted);
      await db.close();
    }
    console.info(results.map((r) => JSON.stringify(r)).join('\n'));
  }, 1_800_000);
});

describe('cleaned mbox', () => {
  it.each(SAMPLE_LISTS)('%s: Python\'s mailbox reads one message per entry, each with its target Message-ID; the file is deterministic', async (list) => {
    const { writeCleanedMbox } = await import('../src/targets/mailman3/cleaned-mbox.js');
    const cfg = await sampleConfig();
    const db = await StateDb.open(cfg.state);
    try {
      const store = await Store.open(db);
      await runIndexPhase(store, cfg, list);
      const rows = await replayRows(db, list);
      const dir = path.dirname(cfg.state);
      const a = await writeCleanedMbox(store, list, path.join(dir, 'a.mbox'));
      const b = await writeCleanedMbox(store, list, path.join(dir, 'b.mbox'));
      expect(b.sha256).toBe(a.sha256);
      expect(a.messages).toBe(rows.length);
      const py = await runPython(
        'import calendar, mailbox, sys, json, time\n' +
          'out = []\n' +
          'box = mailbox.mbox(sys.argv[1])\n' +
          'for key in box.keys():\n' +
          '    m, raw = box.get_message(key), box.get_bytes(key)\n' +
          '    when = calendar.timegm(time.strptime(" ".join(m.get_from().split()[1:]), "%a %b %d %H:%M:%S %Y"))\n' +
          '    out.append([m["Message-ID"], when, sum(1 for l in raw.split(b"\\n") if l.startswith(b"From "))])\n' +
          'print(json.dumps(out))',
        path.join(dir, 'a.mbox'),
      );
      const parsed = JSON.parse(py) as [string, number, number][];
      expect(parsed.map((p) => p[0])).toEqual(rows.map((r) => `<${r.target_message_id}>`));
      // Every From_ line carries the message's own date, so hyperkitty_import's unixfrom fallback agrees.
      for (const [i, p] of parsed.entries()) {
        if (rows[i]!.date) expect(p[1]).toBe(Math.floor(Date.parse(rows[i]!.date!) / 1000));
        expect(p[2]).toBe(0);
      }
    } finally {
      await db.close();
    }
  });
});

function runPython(code: string, ...args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('/usr/bin/python3', ['-c', code, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    child.stderr.on('data', (b: Buffer) => (err += b.toString()));
    child.on('close', (c) => (c === 0 ? resolve(out) : reject(new Error(err))));
  });
}

describe('a message HyperKitty refuses', () => {
  it('is not retried, journaled failed with the error, quarantined and reported; the rest goes in', async () => {
    const { indexMbox } = await import('../src/state/index-mbox.js');
    const { computeThreads } = await import('../src/state/threading.js');
    const cfg = await sampleConfig({ domain: DOMAIN });
    const dir = path.dirname(cfg.state);
    const mbox = path.join(dir, 'refused.mbox');
    await writeFile(
      mbox,
      Buffer.from(
        [
          'From alice@example.org  Mon Jan  6 10:00:00 2020',
          'From: Alice <alice@example.org>',
          'Message-ID: <ok-1@example.org>',
          'Date: Mon, 06 Jan 2020 10:00:00 +0000',
          'Subject: fine',
          '',
          'Accepted.',
          '',
          'From bad@example.org  Mon Jan  6 11:00:00 2020',
          'From: Jos\u00e9 <jos\u00e9@ex\u00e4mple.org>',
          'Message-ID: <refused-1@example.org>',
          'Date: Mon, 06 Jan 2020 11:00:00 +0000',
          'Subject: non-ASCII address',
          '',
          'HyperKitty refuses a non-ASCII sender address.',
          '',
        ].join('\n'),
        'utf8',
      ),
    );
    const db = await StateDb.open(cfg.state);
    try {
      const store = await Store.open(db);
      await store.ensureList('refused');
      await indexMbox(store, { list: 'refused', mboxPath: mbox, listAddress: 'refused@lists.example.org', quarantineDir: path.join(cfg.reports, 'refused', 'quarantine') });
      await computeThreads(store, 'refused');
      const fqdn = `refused@${DOMAIN}`;
      await createList(fqdn, 'public');
      const reportDir = path.join(cfg.reports, 'refused');
      await mkdir(reportDir, { recursive: true });
      const ctx = { list: 'refused', store, cfg, reportDir, signal: new AbortController().signal, progress: () => undefined } as unknown as ListContext;
      const stats = await replayOverHttp(ctx, { client: new HyperKittyClient({ baseUrl: `${stack.hyperkittyUrl}/`, archiverKey: stack.archiverKey }), fqdn, concurrency: 2 });
      expect(stats).toMatchObject({ total: 2, accepted: 1, refused: 1 });
      const failed = (await store.journalEntry('refused', 'archive', 'message', 'refused-1@example.org'))!;
      expect(failed.status).toBe('failed');
      expect(failed.attempts).toBe(1);
      expect(JSON.parse(failed.detail_json!).error).toMatch(/Non-ascii sender address/i);
      expect(stats.problems[0]!.message).toMatch(/refused message 1 <refused-1@example.org>: .*Non-ascii sender address/i);
      const q = await db.all<{ path: string; reason: string }>("SELECT path, reason FROM quarantine WHERE list = 'refused'");
      expect(q).toHaveLength(1);
      expect((await readFile(q[0]!.path)).toString('utf8')).toContain('Message-ID: <refused-1@example.org>');
      expect(await archivedCount(fqdn)).toBe(1);
    } finally {
      await db.close();
    }
  }, 60_000);
});
