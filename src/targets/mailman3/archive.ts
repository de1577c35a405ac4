import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { secretFromEnv } from '../../config/load.js';
import { UserError, type Problem } from '../../problems.js';
import { MONTHLY_CHECK, type ListContext, type VerifyResult } from '../target.js';
import type { Mailman3Env } from './env.js';
import { estimateArchivePaths } from './estimate.js';
import { HyperKittyClient, HyperKittyError, type ArchivedEmail } from './hyperkitty-client.js';
import { expectedMessageUrl, replayRows } from './prepare-message.js';
import { ARCHIVE_PHASE, replayOverHttp, type ReplayStats } from './replay-http.js';
import { readArchive, replayOnServer, ServerRunner, type ServerReplayStats } from './replay-server.js';

export type Mailman3ArchiveEnv = Pick<Mailman3Env, 'target' | 'core' | 'archiverKey' | 'names'>;
type Check = VerifyResult['checks'][number];

/** The HyperKitty client of a run: archiver key, plus the superuser for private archives if configured. */
export function hyperkittyClient(env: Pick<Mailman3Env, 'target' | 'archiverKey'>): HyperKittyClient {
  const hk = env.target.hyperkitty;
  const user = hk.user && hk.passwordEnv
    ? { name: hk.user, password: secretFromEnv(hk.passwordEnv, 'HyperKitty superuser password (target.hyperkitty.passwordEnv)') }
    : undefined;
  return new HyperKittyClient({ baseUrl: hk.url, archiverKey: env.archiverKey, user });
}

/** The archive path a list takes: the configured one, or for `auto` the plan's recommendation. */
export function chooseArchivePath(env: Pick<Mailman3Env, 'target'>, messages: number): 'http' | 'server' {
  if (env.target.archivePath !== 'auto') return env.target.archivePath;
  return estimateArchivePaths(messages, env.target.serverCommand !== undefined).recommended;
}

/**
 * The archive phase: every message of the list into HyperKitty under its precomputed URL, by the
 * HTTP replay or the server-side import. A private list must already be private in Mailman core
 * (the settings phase sets archive_policy) and in HyperKitty before the first message goes in.
 */
export async function replayMailman3Archive(ctx: ListContext, env: Mailman3ArchiveEnv, opts: { privateSyncTimeoutMs?: number } = {}): Promise<void> {
  const { list, config, store } = ctx;
  const { fqdn, listId } = env.names(config);
  const rows = await replayRows(store.db, list);
  const problems: Problem[] = [];
  if (config.archive.policy === 'never') {
    if (rows.length) {
      problems.push({
        severity: 'warning', code: 'archive-disabled', list,
        message: `${list}: archiving is off on the Mailman 2 list (archive = no), so the ${rows.length} messages of its mbox are not migrated (HyperKitty drops posts to a list whose archive_policy is never); enable archiving in Mailman 3 and run again to migrate them`,
      });
    }
    await store.replaceProblems(list, ARCHIVE_PHASE, problems);
    return;
  }
  if (!rows.length) {
    await store.replaceProblems(list, ARCHIVE_PHASE, problems);
    return;
  }
  const client = hyperkittyClient(env);
  const privateArchive = config.archive.policy === 'private';
  if (privateArchive) await assertCorePrivate(env, list, listId);
  const chosen = chooseArchivePath(env, rows.length);
  let stats: ReplayStats | ServerReplayStats;
  if (chosen === 'http') {
    if (privateArchive) {
      const server = env.target.serverCommand === undefined
        ? null
        : { runner: new ServerRunner(env.target.serverCommand, path.join(ctx.reportDir, 'server-import', 'commands.log')), manage: env.target.serverImport.manage };
      await ensurePrivateInHyperKitty(client, list, fqdn, server, opts.privateSyncTimeoutMs ?? 600_000, ctx.signal);
    }
    stats = await replayOverHttp(ctx, { client, fqdn, concurrency: env.target.replayConcurrency });
  } else {
    stats = await replayOnServer(ctx, { client, fqdn, target: env.target, privateArchive });
  }
  problems.push(...stats.problems);
  await store.replaceProblems(list, ARCHIVE_PHASE, problems);
  const { problems: _omit, ...summary } = stats;
  await writeFile(path.join(ctx.reportDir, 'archive-summary.json'), `${JSON.stringify({ path: chosen, fqdn, ...summary }, null, 2)}\n`, { mode: 0o600 });
}

const ArchivePolicyAnswer = z.object({ archive_policy: z.string() });

async function assertCorePrivate(env: Mailman3ArchiveEnv, list: string, listId: string): Promise<void> {
  const res = await env.core.call({
    method: 'GET', path: `/lists/${listId}/config/archive_policy`, schema: ArchivePolicyAnswer, list, operation: 'read the archive policy', accept: [404],
  });
  const policy = res.ok ? res.data.archive_policy : '(no such list)';
  if (policy !== 'private') {
    throw new UserError(`${list}: the Mailman 2 archive is private but ${listId} has archive_policy ${policy} in Mailman 3; the settings phase must make it private before any message is archived`);
  }
}

/**
 * HyperKitty copies a list's archive policy from Mailman core when a message arrives, in a task that
 * on a production site runs asynchronously after the message is stored, and it starts a new list as
 * public. So the list must be known to HyperKitty as private before the first real message:
 *  - with a server command, its list row is created and synced from Mailman core in Django's shell;
 *  - otherwise a message without Message-ID is posted: HyperKitty creates its list row and queues
 *    the sync, then refuses the message (400) and stores nothing; the list page is polled until it
 *    refuses anonymous visitors. (Where HyperKitty runs tasks inline, Q_CLUSTER sync, the row is
 *    saved again with the old policy right after the sync, so this never converges: the error
 *    says what to run instead.)
 */
async function ensurePrivateInHyperKitty(
  client: HyperKittyClient,
  list: string,
  fqdn: string,
  server: { runner: ServerRunner; manage: string[] } | null,
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<void> {
  const url = client.listUrl(fqdn);
  if (refused((await client.pageStatus(url)).status)) return;
  if (server) {
    await server.runner.syncListFromMailman(server.manage, fqdn);
  } else {
    const probe = Buffer.from('From: mm2migrate <mm2migrate@invalid.invalid>\nSubject: mm2migrate archive policy sync (never stored)\n\nThis message has no Message-ID, so HyperKitty does not archive it.\n');
    const answer = await client.archive(fqdn, probe);
    if (answer.ok) throw new UserError(`${list}: HyperKitty archived the policy probe for ${fqdn} (it must refuse a message without Message-ID); not replaying a private archive`);
  }
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { status } = await client.pageStatus(url);
    if (refused(status)) return;
    // A stop request ends the wait at once: nothing has been sent yet, the next run waits again.
    if (signal?.aborted) throw new UserError(`${list}: stopped while waiting for HyperKitty to make ${fqdn} private; nothing was sent`);
    if (Date.now() > deadline) {
      throw new UserError(
        `${list}: HyperKitty still shows ${url} to anonymous visitors (HTTP ${status}) ${Math.round(timeoutMs / 1000)} s after asking it to sync the list from Mailman core, so no message was sent. ` +
          'Either its task cluster (qcluster) is not running or is far behind, or it runs tasks inline (Q_CLUSTER sync). ' +
          `Run \`<manage> shell -c "from hyperkitty.models import MailingList; MailingList.objects.get(name='${fqdn}').update_from_mailman()"\` on the HyperKitty host, or configure target.serverCommand, then run again`,
      );
    }
    await new Promise((r) => setTimeout(r, 1000));
  }
}

function refused(status: number): boolean {
  return status === 401 || status === 403;
}

/**
 * Compares HyperKitty with the indexed mbox: messages per month (UTC, as HyperKitty files them),
 * the set of message-id hashes computed in advance, every message URL answering 200, and for a
 * private list that an anonymous visitor is refused.
 */
export async function verifyMailman3Archive(ctx: ListContext, env: Mailman3ArchiveEnv): Promise<Check[]> {
  const { list, config, store } = ctx;
  const { fqdn } = env.names(config);
  const rows = await replayRows(store.db, list);
  if (config.archive.policy === 'never') {
    return [{ name: 'archive: not migrated (archiving disabled on the Mailman 2 list)', ok: true, expected: 0, actual: 0, detail: `${rows.length} messages in the mbox` }];
  }
  const client = hyperkittyClient(env);
  const privateArchive = config.archive.policy === 'private';
  const runner = env.target.serverCommand === undefined ? null : new ServerRunner(env.target.serverCommand, path.join(ctx.reportDir, 'server-import', 'commands.log'));
  const checks: Check[] = [];

  let emails: ArchivedEmail[] | null;
  try {
    emails = await readArchive(client, fqdn, privateArchive, runner, env.target.serverImport.manage);
  } catch (err) {
    if (!(err instanceof HyperKittyError || err instanceof UserError)) throw err;
    return [{ name: MONTHLY_CHECK, ok: false, expected: rows.length, actual: null, detail: err.message }];
  }
  const archived = emails ?? [];

  const expectedMonths = countBy(rows.map((r) => (r.date ? r.date.slice(0, 7) : 'unknown')));
  const actualMonths = countBy(archived.map((e) => utcMonth(e.date)));
  const months = [...new Set([...Object.keys(expectedMonths), ...Object.keys(actualMonths)])].sort();
  const differing = months.filter((m) => (expectedMonths[m] ?? 0) !== (actualMonths[m] ?? 0));
  checks.push({
    name: MONTHLY_CHECK,
    ok: differing.length === 0,
    expected: expectedMonths,
    actual: actualMonths,
    detail: differing.length ? `differs in ${differing.map((m) => `${m} (${expectedMonths[m] ?? 0} vs ${actualMonths[m] ?? 0})`).join(', ')}` : `${rows.length} messages in ${months.length} months`,
  });

  const have = new Set(archived.map((e) => e.hash));
  const expected = rows.map((r) => ({ id: r.target_message_id, url: expectedMessageUrl(client.baseUrl, fqdn, r.target_message_id) }));
  const missing = expected.filter((e) => !have.has(hashOfUrl(e.url)));
  const wanted = new Set(expected.map((e) => hashOfUrl(e.url)));
  const extra = archived.filter((e) => !wanted.has(e.hash));
  checks.push({
    name: 'archive: every message at its computed URL',
    ok: missing.length === 0,
    expected: expected.length,
    actual: expected.length - missing.length,
    detail: [
      missing.length ? `missing: ${missing.slice(0, 10).map((m) => `<${m.id}>`).join(', ')}${missing.length > 10 ? ` and ${missing.length - 10} more` : ''}` : '',
      extra.length ? `${extra.length} message(s) in HyperKitty that the mbox does not have (e.g. posted after the migration): ${extra.slice(0, 5).map((e) => `<${e.messageId}>`).join(', ')}` : '',
    ].filter(Boolean).join('; ') || undefined,
  });

  const present = expected.filter((e) => have.has(hashOfUrl(e.url)));
  if (!privateArchive || client.hasUser) {
    const bad = await mapLimit(present, 8, async (e) => {
      const status = privateArchive ? await client.emailStatus(fqdn, hashOfUrl(e.url), { authenticated: true }) : (await client.pageStatus(e.url)).status;
      return status === 200 ? null : `${e.url} → HTTP ${status}`;
    });
    const failures = bad.filter((b): b is string => b !== null);
    checks.push({
      name: privateArchive ? 'archive: every message readable (JSON API, as the configured superuser)' : 'archive: every message URL answers 200',
      ok: failures.length === 0,
      expected: present.length,
      actual: present.length - failures.length,
      detail: failures.length ? failures.slice(0, 10).join('; ') : undefined,
    });
  } else {
    checks.push({
      name: 'archive: every message readable',
      ok: false,
      expected: present.length,
      actual: null,
      detail: 'private archive: configure target.hyperkitty.user/passwordEnv (a HyperKitty superuser) so that its pages can be read',
    });
  }

  if (privateArchive) {
    const sample = present[0] ?? expected[0];
    const page = sample ? await client.pageStatus(sample.url) : await client.pageStatus(client.listUrl(fqdn));
    const api = await client.listEmails(fqdn).then(
      () => 200,
      (err: unknown) => (err instanceof HyperKittyError ? err.status : -1),
    );
    const pageRefused = refused(page.status) || page.status === 404 || (page.status === 302 && /login/i.test(page.location ?? ''));
    checks.push({
      name: 'archive: private, anonymous access refused',
      ok: pageRefused && (api === 403 || api === 401),
      expected: 'refused',
      actual: { page: page.status, jsonApi: api },
      detail: sample ? `anonymous GET ${sample.url}` : undefined,
    });
  }
  return checks;
}

function hashOfUrl(url: string): string {
  return /\/message\/([A-Z2-7]+)\/$/.exec(url)![1]!;
}

/** UTC month of an ISO date with offset, as HyperKitty's month pages file it. */
export function utcMonth(iso: string): string {
  const ms = Date.parse(iso);
  return Number.isNaN(ms) ? 'unknown' : new Date(ms).toISOString().slice(0, 7);
}

function countBy(keys: string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const k of keys) out[k] = (out[k] ?? 0) + 1;
  return out;
}

async function mapLimit<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await fn(items[i]!);
      }
    }),
  );
  return out;
}
