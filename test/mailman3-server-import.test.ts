/**
 * The server-side archive path's one-process import (src/targets/mailman3/server-import-program.ts)
 * against the real HyperKitty of test/stack: what it imports, indexes and reads back must be what
 * the documented `hyperkitty_import` + `update_index_one_list` leave, only faster; re-runs and a
 * replaced state database leave one copy of each message; a private archive is never imported into
 * a list HyperKitty shows publicly; a server process that dies is reported and nothing is journaled
 * as done that HyperKitty does not hold.
 */
import { readFile } from 'node:fs/promises';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Mailman3TargetConfig } from '../src/config/schema.js';
import { messageIdHash } from '../src/mailman2/message-id.js';
import { runIndexPhase } from '../src/pipeline/index-phase.js';
import { UserError } from '../src/problems.js';
import { StateDb } from '../src/state/db.js';
import { Store } from '../src/state/store.js';
import type { ListContext } from '../src/targets/target.js';
import { HyperKittyClient } from '../src/targets/mailman3/hyperkitty-client.js';
import { replayRows, type ReplayRow } from '../src/targets/mailman3/prepare-message.js';
import { replayOnServer, type ServerReplayStats } from '../src/targets/mailman3/replay-server.js';
import { parseServerImportResult, RESULT_MARKER } from '../src/targets/mailman3/server-import-program.js';
import { sampleConfig } from './helpers/sample.js';
import { coreRest, ensureHyperKittySuperuser } from './helpers/mailman3-run.js';
import { startMailman3Stack, type Mailman3Stack } from './stack/mailman3-stack.js';

const RUN = `${Date.now().toString(36)}${process.pid.toString(36)}`;
const DOMAIN = `s${RUN}.server-import.test`;
const HK_USER = `mm2m-srv-${RUN}`;
const HK_PASSWORD = `pw-${RUN}`;

let stack: Mailman3Stack;

const rest = coreRest(() => stack);

async function createList(fqdn: string, policy: string): Promise<void> {
  const res = await rest('POST', '/lists', { fqdn_listname: fqdn });
  expect(res.status, await res.text()).toBe(201);
  const patch = await rest('PATCH', `/lists/${fqdn.replace('@', '.')}/config`, { archive_policy: policy });
  expect(patch.status, await patch.text()).toBe(204);
}

function admin(): HyperKittyClient {
  return new HyperKittyClient({ baseUrl: `${stack.hyperkittyUrl}/`, archiverKey: stack.archiverKey, user: { name: HK_USER, password: HK_PASSWORD } });
}

/** Hashes HyperKitty serves for the list over its JSON API (independent of the import's own read-back). */
async function servedHashes(fqdn: string): Promise<string[]> {
  return ((await admin().listEmails(fqdn, { authenticated: true })) ?? []).map((e) => e.hash).sort();
}

/** Runs a Python snippet in HyperKitty's Django shell and returns the JSON it prints last. */
async function shellJson<T>(code: string): Promise<T> {
  const res = await stack.runManage(['shell', '-c', code]);
  expect(res.code, res.stderr).toBe(0);
  const line = res.stdout.trim().split('\n').pop()!;
  return JSON.parse(line) as T;
}

interface IndexDump {
  docs: number;
  distinctIds: number;
  indexTotal: number;
  digest: string;
}

/** The list's documents in the Whoosh index (stored fields), digested. */
function dumpIndex(fqdn: string): Promise<IndexDump> {
  return shellJson<IndexDump>(
    [
      'import hashlib, json',
      'from haystack import connections',
      "backend = connections['default'].get_backend()",
      'backend.setup()',
      'ix = backend.index.refresh()',
      'with ix.searcher() as s:',
      `    docs = [dict(d) for d in s.all_stored_fields() if d.get('mailinglist') == ${JSON.stringify(fqdn)}]`,
      '    total = s.doc_count()',
      "docs.sort(key=lambda d: d['id'])",
      "print(json.dumps({'docs': len(docs), 'distinctIds': len({d['id'] for d in docs}), 'indexTotal': total, 'digest': hashlib.sha256(json.dumps(docs, sort_keys=True, default=str).encode()).hexdigest()}))",
    ].join('\n'),
  );
}

interface Setup {
  ctx: ListContext;
  store: Store;
  target: Mailman3TargetConfig;
  rows: ReplayRow[];
  fqdn: string;
  close(): Promise<void>;
}

async function setup(list: string, local: string, target: Partial<Mailman3TargetConfig> = {}): Promise<Setup> {
  const cfg = await sampleConfig({
    domain: DOMAIN,
    rest: { url: stack.restUrl, user: stack.restUser, passwordEnv: 'MM2M_TEST_REST_PASSWORD' },
    hyperkitty: { url: `${stack.hyperkittyUrl}/`, archiverKeyEnv: 'MM2M_TEST_ARCHIVER_KEY' },
    archivePath: 'server',
    serverCommand: [],
    serverImport: { manage: stack.manageCommand, tmpDir: '/tmp' },
    ...target,
  });
  const db = await StateDb.open(cfg.state);
  const store = await Store.open(db);
  const { config } = await runIndexPhase(store, cfg, list);
  const reportDir = path.join(cfg.reports, list);
  await mkdir(reportDir, { recursive: true });
  const ctx: ListContext = { list, config, store, cfg, reportDir, signal: new AbortController().signal, progress: () => undefined };
  return { ctx, store, target: cfg.target as Mailman3TargetConfig, rows: await replayRows(db, list), fqdn: `${local}@${DOMAIN}`, close: () => db.close() };
}

function run(s: Setup, privateArchive = false): Promise<ServerReplayStats> {
  return replayOnServer(s.ctx, { client: admin(), fqdn: s.fqdn, target: s.target, privateArchive });
}

function wanted(rows: ReplayRow[]): string[] {
  return rows.map((r) => messageIdHash(r.target_message_id)).sort();
}

beforeAll(async () => {
  stack = await startMailman3Stack();
  process.env.MM2M_TEST_REST_PASSWORD = stack.restPassword;
  process.env.MM2M_TEST_ARCHIVER_KEY = stack.archiverKey;
  const domain = await rest('POST', '/domains', { mail_host: DOMAIN });
  expect(domain.status, await domain.text()).toBe(201);
  await ensureHyperKittySuperuser(stack, HK_USER, HK_PASSWORD, 'srv@example.invalid');
}, 300_000);

afterAll(async () => {
  await stack?.stop();
});

describe('one server process for import, index and read-back (devtalk)', () => {
  it('imports every message, indexes the list exactly as update_index_one_list does, links its senders, and reads back what HyperKitty serves', async () => {
    const s = await setup('devtalk', `devtalk-one`);
    try {
      await createList(s.fqdn, 'public');
      // A sender of the archive who is a Mailman user, not yet linked in HyperKitty (Sender rows
      // are site-wide, so an earlier run may have linked it: unlink it first).
      const sender = s.rows.map((r) => r.from_address).find((a): a is string => !!a && /^[^@\s]+@[^@\s]+$/.test(a))!;
      const user = await rest('POST', '/users', { email: sender });
      expect([201, 400]).toContain(user.status);
      const mailmanUser = (await (await rest('GET', `/users/${encodeURIComponent(sender)}`)).json()) as { user_id: string | number };
      await shellJson(`from hyperkitty.models import Sender\nSender.objects.filter(address=${JSON.stringify(sender)}).update(mailman_id=None)\nprint('{}')`);

      const stats = await run(s);
      expect(stats.problems.filter((p) => p.severity === 'error')).toEqual([]);
      expect({ written: stats.written, imported: stats.imported, missing: stats.missing }).toEqual({ written: s.rows.length, imported: s.rows.length, missing: 0 });
      expect(stats.indexer).toBe('whoosh-bulk'); // the stack's HyperKitty indexes with Whoosh
      expect(stats.timings.readBefore).toBe(0); // nothing journaled yet, server access: not read
      expect(stats.timings.import).toBeGreaterThan(0);
      expect(stats.timings.index).toBeGreaterThan(0);

      // The read-back agrees with what HyperKitty serves, and every message is journaled done.
      expect(await servedHashes(s.fqdn)).toEqual(wanted(s.rows));
      const journal = await s.store.journal('devtalk', 'archive');
      expect(journal.filter((j) => j.status === 'done').map((j) => j.target_id).sort()).toEqual(wanted(s.rows));
      // What the cleaned mbox changed is journaled as on the HTTP path.
      const replaced = s.rows.filter((r) => r.duplicate_kind === 'different');
      for (const r of replaced) {
        const j = journal.find((x) => x.key === r.target_message_id)!;
        expect(JSON.parse(j.detail_json!)).toMatchObject({ path: 'server', duplicateOf: r.message_id, changes: expect.arrayContaining(['message-id-replaced']) });
      }

      // One process on the server, its steps in the log like the documented commands, without the hash list.
      const log = await readFile(path.join(s.ctx.reportDir, 'server-import', 'commands.log'), 'utf8');
      expect(log.match(/^\$ /gm)).toHaveLength(1);
      expect(log).toContain(`hyperkitty_import --since 1970-01-01 -l ${s.fqdn}`);
      expect(log).toContain(`update_index_one_list ${s.fqdn}`);
      expect(log).toContain(`(${s.rows.length} hashes)`);
      expect(log).not.toContain(messageIdHash(s.rows[0]!.target_message_id));

      // The sender is linked to its Mailman user, as hyperkitty_import's site-wide sync would have.
      const linked = await shellJson<{ id: string | null }>(`import json\nfrom hyperkitty.models import Sender\nprint(json.dumps({'id': str(Sender.objects.get(address=${JSON.stringify(sender)}).mailman_id or '') or None}))`);
      expect(linked.id?.replace(/-/g, '')).toBe(String(mailmanUser.user_id).replace(/-/g, ''));

      // The index: one document per message; update_index_one_list run afterwards replaces each by
      // an identical one (same stored fields, same number of documents in the whole index).
      const ours = await dumpIndex(s.fqdn);
      expect(ours.docs).toBe(s.rows.length);
      expect(ours.distinctIds).toBe(s.rows.length);
      const official = await stack.runManage(['update_index_one_list', s.fqdn]);
      expect(official.code, official.stderr).toBe(0);
      expect(await dumpIndex(s.fqdn)).toEqual(ours);

      // And HyperKitty's search finds a message by a word of its subject.
      const subjects = await s.store.db.all<{ target_message_id: string; subject: string | null }>("SELECT target_message_id, subject FROM messages WHERE list = 'devtalk' AND duplicate_kind IS NOT 'same'");
      const probe = subjects.find((r) => /[A-Za-z]{6,}/.test(r.subject ?? ''))!;
      const word = /[A-Za-z]{6,}/.exec(probe.subject!)![0];
      const page = await fetch(`${stack.hyperkittyUrl}/search?q=${encodeURIComponent(word)}&mlist=${encodeURIComponent(s.fqdn)}&count=200`);
      expect(page.status).toBe(200);
      expect(await page.text()).toContain(messageIdHash(probe.target_message_id));

      // A second run finds everything journaled and starts nothing on the server.
      const again = await run(s);
      expect({ written: again.written, imported: again.imported, missing: again.missing }).toEqual({ written: 0, imported: 0, missing: 0 });
      expect((await readFile(path.join(s.ctx.reportDir, 'server-import', 'commands.log'), 'utf8')).match(/^\$ /gm)).toHaveLength(1);
    } finally {
      await s.close();
    }
  }, 300_000);

  it('with a replaced state database (nothing journaled, HyperKitty already holds the list): one copy of each, all journaled', async () => {
    const first = await setup('nihongo', 'nihongo-again');
    try {
      await createList(first.fqdn, 'public');
      expect((await run(first)).imported).toBe(first.rows.length);
    } finally {
      await first.close();
    }
    const second = await setup('nihongo', 'nihongo-again');
    try {
      const stats = await run(second);
      expect({ imported: stats.imported, missing: stats.missing }).toEqual({ imported: second.rows.length, missing: 0 });
      expect(await servedHashes(second.fqdn)).toEqual(wanted(second.rows));
      const journal = await second.store.journal('nihongo', 'archive');
      expect(journal.filter((j) => j.status === 'done')).toHaveLength(second.rows.length);
      expect((await dumpIndex(second.fqdn)).docs).toBe(second.rows.length);
    } finally {
      await second.close();
    }
  }, 300_000);
});

describe('safety', () => {
  it('does not import a private archive while HyperKitty would show the list publicly', async () => {
    const s = await setup('liste-fr', 'liste-fr-public');
    try {
      // Mailman core has the list public (the settings phase did not run): the sync keeps it public.
      await createList(s.fqdn, 'public');
      const err = await run(s, true).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(UserError);
      expect((err as Error).message).toMatch(/archive policy public.*not importing a private archive/);
      expect(await servedHashes(s.fqdn)).toEqual([]);
      const journal = await s.store.journal('liste-fr', 'archive');
      expect(journal.filter((j) => j.status === 'done')).toEqual([]);
    } finally {
      await s.close();
    }
  }, 120_000);

  it('a server process that dies without a result is an error, and nothing is journaled done', async () => {
    const s = await setup('oldproject', 'oldproject-dies', { serverImport: { manage: ['/bin/sh', '-c', 'echo "mm2migrate: about to fail" >&2; exit 7', 'sh'], tmpDir: '/tmp' } });
    try {
      await createList(s.fqdn, 'public');
      const err = await run(s).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(UserError);
      expect((err as Error).message).toMatch(/ended without a result \(exit 7\).*about to fail/);
      const journal = await s.store.journal('oldproject', 'archive');
      expect(journal.length).toBe(s.rows.length);
      expect(journal.every((j) => j.status === 'pending')).toBe(true);
    } finally {
      await s.close();
    }
  }, 120_000);
});

describe('the result line', () => {
  it('is read after the import output, and a cut-off line is no result', () => {
    const result = { sync: { ok: true, seconds: 0.1 }, import: { ok: true, seconds: 2 }, senders: null, index: null, readBack: { ok: true, seconds: 0, hashes: ['A'] } };
    const out = `mm2migrate: hyperkitty_import …\n\r|\r/\r\n${RESULT_MARKER}${JSON.stringify(result)}\n`;
    expect(parseServerImportResult(out)).toEqual(result);
    expect(parseServerImportResult(out.slice(0, -20))).toBeNull();
    expect(parseServerImportResult('Traceback (most recent call last):\n')).toBeNull();
  });
});
