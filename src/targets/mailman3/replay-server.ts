import { spawn } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { appendFile, mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import type { Mailman3TargetConfig } from '../../config/schema.js';
import { messageIdHash } from '../../mailman2/message-id.js';
import { UserError, type Problem } from '../../problems.js';
import type { ListContext } from '../target.js';
import { writeCleanedMbox, type CleanedEntry } from './cleaned-mbox.js';
import type { ArchivedEmail, HyperKittyClient } from './hyperkitty-client.js';
import { replayRows, type ReplayRow } from './prepare-message.js';
import { ARCHIVE_OP, ARCHIVE_PHASE } from './replay-http.js';
import { parseServerImportResult, serverImportProgram, type ServerImportResult } from './server-import-program.js';

/**
 * The server-side path, for admins with a shell on the HyperKitty host: a cleaned mbox of the
 * messages not yet archived goes through `hyperkitty_import --since 1970-01-01` (the supported bulk
 * importer; `--since` because by default it skips everything older than the newest archived
 * message), the list's full-text index is updated (hyperkitty_import leaves it alone) and what
 * HyperKitty then holds is read back and journaled, message by message.
 *
 * With a server command, those steps run in ONE Django process (server-import-program.ts: the same
 * importer and the same index documents as `update_index_one_list`, without the site-wide Mailman
 * sync and with Whoosh updated in bulk; the read-back is a query in that process). Commands run as
 * `target.serverCommand + target.serverImport.manage + args`:
 *  - serverCommand [] runs them here, as the local user, with the mbox read where it was written;
 *  - a non-empty serverCommand is a prefix that runs ONE shell command line on the server, given as
 *    its last argument, e.g. ["ssh", "lists.example.org"], ["sudo", "-u", "www-data", "sh", "-c"],
 *    ["docker", "exec", "-i", "mailman-web", "sh", "-c"]. Every argument is shell-quoted. The mbox
 *    is copied first by piping it into `umask 077; cat > <tmpDir>/<file>` through the same prefix
 *    (so the prefix must pass stdin on: ssh does, docker/kubectl need -i), and removed afterwards;
 *  - with no serverCommand configured, the mbox is left in the report folder and the documented
 *    commands (hyperkitty_import, update_index_one_list) are written next to it (commands.sh) and
 *    reported; a later run reads back what the admin imported and journals it.
 */

export interface ServerReplayOptions {
  client: HyperKittyClient;
  fqdn: string;
  target: Mailman3TargetConfig;
  privateArchive: boolean;
}

export interface ServerReplayStats {
  total: number;
  /** Found in HyperKitty before this run's import (journaled as done now if they were not). */
  alreadyPresent: number;
  /** Messages written to the cleaned mbox this run. */
  written: number;
  imported: number;
  /** Written but absent from HyperKitty after the import. */
  missing: number;
  /** No serverCommand: the commands were written for the admin instead of being run. */
  manual: boolean;
  mboxFile: string | null;
  commands: string[][];
  /** How the full-text index was updated (null: not run here). */
  indexer: 'whoosh-bulk' | 'update_index' | null;
  /** Seconds per step, for the report and the benchmark. */
  timings: ServerReplayTimings;
  seconds: number;
  problems: Problem[];
}

export interface ServerReplayTimings {
  /** Reading what HyperKitty held before (0 when skipped: nothing journaled, server access). */
  readBefore: number;
  cleanedMbox: number;
  copy: number;
  /** The whole server process (start-up included), and its steps as it measured them. */
  server: number;
  sync: number;
  import: number;
  senders: number;
  index: number;
  readBack: number;
  journal: number;
}

export interface CommandResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export async function replayOnServer(ctx: ListContext, opts: ServerReplayOptions): Promise<ServerReplayStats> {
  const began = Date.now();
  const { store, list } = ctx;
  const { fqdn, target } = opts;
  const dir = path.join(ctx.reportDir, 'server-import');
  const log = path.join(dir, 'commands.log');
  const runner = target.serverCommand === undefined ? null : new ServerRunner(target.serverCommand, log);
  const manage = target.serverImport.manage;
  const rows = await replayRows(store.db, list);
  const timings: ServerReplayTimings = { readBefore: 0, cleanedMbox: 0, copy: 0, server: 0, sync: 0, import: 0, senders: 0, index: 0, readBack: 0, journal: 0 };
  const stats: ServerReplayStats = {
    total: rows.length, alreadyPresent: 0, written: 0, imported: 0, missing: 0, manual: runner === null, mboxFile: null, commands: [], indexer: null, timings, seconds: 0, problems: [],
  };
  const timed = async <T>(key: keyof ServerReplayTimings, fn: () => Promise<T>): Promise<T> => {
    const t = performance.now();
    try {
      return await fn();
    } finally {
      timings[key] += (performance.now() - t) / 1000;
    }
  };

  const journaled = await store.db.all<{ key: string; status: string }>('SELECT key, status FROM journal WHERE list = ? AND phase = ? AND op = ?', [list, ARCHIVE_PHASE, ARCHIVE_OP]);
  const doneKeys = new Set(journaled.filter((r) => r.status === 'done').map((r) => r.key));
  const byHash = new Map(rows.map((r) => [messageIdHash(r.target_message_id), r]));
  // What HyperKitty already has (an earlier import, the admin running the printed commands). With
  // server access and nothing journaled yet, this run has imported nothing before; should the
  // archive hold some of the messages anyway (state database replaced), hyperkitty_import skips
  // those as duplicates and the read-back journals them, so the read is not needed.
  if (!(runner && journaled.length === 0)) {
    const before = await timed('readBefore', () => readArchive(opts.client, fqdn, opts.privateArchive, runner, manage));
    const present = new Set(before?.map((e) => e.hash) ?? []);
    await timed('journal', () => journalPresent(ctx, opts, byHash, present, doneKeys, new Map()));
    stats.alreadyPresent = rows.filter((r) => present.has(messageIdHash(r.target_message_id))).length;
  }
  const todo = rows.filter((r) => !doneKeys.has(r.target_message_id));
  if (!todo.length) return finish();

  const wanted = new Set(todo.map((r) => r.ordinal));
  const mbox = await timed('cleanedMbox', () => writeCleanedMbox(store, list, path.join(dir, `${fqdn}.mbox`), (r) => wanted.has(r.ordinal)));
  stats.mboxFile = mbox.file;
  stats.written = mbox.messages;
  stats.problems.push(...mbox.problems);
  await writeFile(path.join(dir, `${fqdn}.mbox.sha256`), `${mbox.sha256}  ${path.basename(mbox.file)}\n`, { mode: 0o600 });
  const entries = new Map(mbox.entries.map((e) => [e.ordinal, e]));

  const remote = runner !== null && runner.remote;
  const serverFile = remote ? `${target.serverImport.tmpDir.replace(/\/+$/, '')}/mm2migrate-${fqdn}-${mbox.sha256.slice(0, 12)}.mbox` : mbox.file;
  const importArgs = [...manage, 'hyperkitty_import', '--since', '1970-01-01', '-l', fqdn, serverFile];
  const indexArgs = [...manage, 'update_index_one_list', fqdn];

  if (!runner) {
    stats.commands = [importArgs, indexArgs];
    const script = [
      '#!/bin/sh',
      `# mm2migrate: import the archive of ${list} into HyperKitty as ${fqdn} (${mbox.messages} messages).`,
      '# Run on the HyperKitty host, with the Django manage command of your installation',
      '# (mailman-web, or python3 manage.py in the mailman-web project). Copy the mbox there first if',
      '# this is another machine, and adjust the path. Then run mm2migrate again: it reads back what',
      '# HyperKitty holds and records it.',
      'set -e',
      shellLine(importArgs),
      shellLine(indexArgs),
      '',
    ].join('\n');
    await writeFile(path.join(dir, 'commands.sh'), script, { mode: 0o700 });
    stats.problems.push({
      severity: 'warning', code: 'archive-server-manual', list, file: path.join(dir, 'commands.sh'),
      message: `${list}: target.serverCommand is not set, so the server-side import was not run; run on the HyperKitty host: ${shellLine(importArgs)} && ${shellLine(indexArgs)} (also in ${path.join(dir, 'commands.sh')})`,
    });
    return finish();
  }

  await timed('journal', () =>
    store.db.transaction(async () => {
      for (const r of todo) await store.journalPending(list, ARCHIVE_PHASE, ARCHIVE_OP, r.target_message_id);
    }),
  );
  const programArgs = [...manage, 'shell', '-c', serverImportProgram({ fqdn, mboxFile: serverFile, requirePrivate: opts.privateArchive })];
  stats.commands = [programArgs];
  let ran: { res: CommandResult; result: ServerImportResult | null };
  try {
    if (remote) await timed('copy', () => runner.copy(mbox.file, serverFile));
    ran = await timed('server', () => runner.importArchive(programArgs));
  } finally {
    if (remote) await runner.run(['rm', '-f', serverFile]).catch(() => undefined);
  }
  const { res, result } = ran;
  if (result) {
    timings.sync = result.sync.seconds;
    timings.import = result.import?.seconds ?? 0;
    timings.senders = result.senders?.seconds ?? 0;
    timings.index = result.index?.seconds ?? 0;
    timings.readBack = result.readBack.seconds;
    stats.indexer = result.index?.method ?? null;
  }

  // The read-back: from the import's own process, else (it died early) the ordinary way.
  let found: Set<string>;
  if (result?.readBack.hashes) found = new Set(result.readBack.hashes);
  else {
    // A failure here must not hide the program's own: nothing found means nothing journaled done.
    const after = await timed('readBack', () => readArchive(opts.client, fqdn, opts.privateArchive, runner, manage)).catch(() => null);
    found = new Set(after?.map((e) => e.hash) ?? []);
  }
  await timed('journal', () => journalPresent(ctx, opts, byHash, found, doneKeys, entries));

  const failed = !result ? `the import program ended without a result (exit ${res.code}): ${lastLines(res.stderr || res.stdout)}`
    : !result.sync.ok ? `syncing the list from Mailman core failed: ${result.sync.error}`
    : !result.import?.ok ? `hyperkitty_import failed: ${result.import?.error}`
    : null;
  if (failed || !result) {
    const arrived = todo.filter((r) => found.has(messageIdHash(r.target_message_id))).length;
    throw new UserError(`${list}: ${failed} (log: ${log}); ${arrived} of the ${todo.length} messages sent are in HyperKitty and journaled, run again to import the rest`);
  }
  stats.problems.push(...importComplaints(list, res.stderr));
  if (result.senders && !result.senders.ok) {
    stats.problems.push({
      severity: 'warning', code: 'archive-senders-unlinked', list,
      message: `${list}: linking the senders of ${fqdn} to Mailman users failed (${result.senders.error}); HyperKitty's daily sync_mailman job does it later`,
    });
  }
  if (result.index && !result.index.ok) {
    stats.problems.push({
      severity: 'warning', code: 'archive-index-failed', list,
      message: `${list}: updating the search index of ${fqdn} failed (${result.index.error}); run ${shellLine(indexArgs)} on the HyperKitty host, search misses the imported messages until then`,
    });
  }

  await timed('journal', () =>
    store.db.transaction(async () => {
      for (const r of todo) {
        if (found.has(messageIdHash(r.target_message_id))) {
          stats.imported++;
          continue;
        }
        stats.missing++;
        await store.journalDone(list, ARCHIVE_PHASE, ARCHIVE_OP, r.target_message_id, { status: 'failed', detail: { path: 'server', ordinal: r.ordinal, error: 'not in HyperKitty after hyperkitty_import' } });
        stats.problems.push({
          severity: 'error', code: 'archive-import-missing', list, key: r.target_message_id,
          message: `${list}: message ${r.ordinal} <${r.target_message_id}> is not in HyperKitty after hyperkitty_import (see ${log})`,
        });
      }
    }),
  );
  return finish();

  function finish(): ServerReplayStats {
    stats.seconds = (Date.now() - began) / 1000;
    return stats;
  }
}

/** Journals as done every expected message HyperKitty has and the journal does not yet record. */
async function journalPresent(
  ctx: ListContext,
  opts: ServerReplayOptions,
  byHash: Map<string, ReplayRow>,
  present: Set<string>,
  doneKeys: Set<string>,
  written: Map<number, CleanedEntry>,
): Promise<void> {
  await ctx.store.db.transaction(async () => {
    for (const hash of present) {
      const row = byHash.get(hash);
      if (!row || doneKeys.has(row.target_message_id)) continue;
      doneKeys.add(row.target_message_id);
      const entry = written.get(row.ordinal);
      await ctx.store.journalDone(ctx.list, ARCHIVE_PHASE, ARCHIVE_OP, row.target_message_id, {
        targetId: hash,
        targetUrl: opts.client.messageUrl(opts.fqdn, hash),
        detail: {
          path: 'server',
          ordinal: row.ordinal,
          readBack: true,
          ...(entry?.changes.length ? { changes: entry.changes } : {}),
          ...(entry && entry.originalMessageId !== null ? { originalMessageId: entry.originalMessageId } : {}),
          ...(row.duplicate_kind === 'different' ? { duplicateOf: row.message_id } : {}),
        },
      });
    }
  });
}

/**
 * What HyperKitty holds for the list: through the JSON API when it may be read (public list, or a
 * configured superuser), else through a query on the server when a server command is configured.
 * `null` when HyperKitty does not know the list; throws when neither way is open.
 */
export async function readArchive(
  client: HyperKittyClient,
  fqdn: string,
  privateArchive: boolean,
  runner: ServerRunner | null,
  manage: string[],
): Promise<ArchivedEmail[] | null> {
  if (!privateArchive || client.hasUser || !runner) return client.listEmails(fqdn, { authenticated: privateArchive });
  return runner.listEmails(manage, fqdn);
}

const EmailRows = z.array(z.tuple([z.string(), z.string(), z.string()]));
const MARKER = 'MM2MIGRATE-EMAILS ';

/** Runs commands on the HyperKitty host (or locally) and logs them, without secrets, to `log`. */
export class ServerRunner {
  constructor(
    readonly prefix: string[],
    private readonly log: string,
  ) {}

  get remote(): boolean {
    return this.prefix.length > 0;
  }

  /** The argv actually started: the command itself, or the prefix plus one shell-quoted line. */
  argv(args: string[]): string[] {
    return this.remote ? [...this.prefix, shellLine(args)] : args;
  }

  /** `logStdout` shortens what goes into the log (a read-back of every message id). */
  async run(args: string[], stdinFile?: string, logStdout: (stdout: string) => string = (o) => o): Promise<CommandResult> {
    const argv = this.argv(args);
    await mkdir(path.dirname(this.log), { recursive: true, mode: 0o700 });
    await appendFile(this.log, `\n$ ${shellLine(argv)}\n`, { mode: 0o600 });
    const result = await spawnCapture(argv, stdinFile);
    await appendFile(this.log, `${logStdout(result.stdout)}${result.stderr ? `\n[stderr]\n${result.stderr}` : ''}\n[exit ${result.code}]\n`);
    return result;
  }

  /** Runs the import program (server-import-program.ts) and reads its result line. */
  async importArchive(programArgs: string[]): Promise<{ res: CommandResult; result: ServerImportResult | null }> {
    const res = await this.run(programArgs, undefined, shortenReadBack);
    return { res, result: parseServerImportResult(res.stdout) };
  }

  async copy(localFile: string, serverFile: string): Promise<void> {
    const dir = path.posix.dirname(serverFile);
    const res = await this.run(['sh', '-c', `umask 077 && mkdir -p ${shellQuote(dir)} && cat > ${shellQuote(serverFile)}`], localFile);
    if (res.code !== 0) throw new UserError(`copying ${localFile} to ${serverFile} through ${shellLine(this.prefix)} failed (exit ${res.code}): ${lastLines(res.stderr)}`);
  }

  /** Creates HyperKitty's row of the list if needed and copies its settings (archive policy) from Mailman core. */
  async syncListFromMailman(manage: string[], fqdn: string): Promise<void> {
    const code = [
      'from hyperkitty.models import MailingList',
      `MailingList.objects.get_or_create(name=${JSON.stringify(fqdn)})[0].update_from_mailman()`,
    ].join('\n');
    const res = await this.run([...manage, 'shell', '-c', code]);
    if (res.code !== 0) throw new UserError(`syncing ${fqdn} from Mailman core in HyperKitty failed (exit ${res.code}): ${lastLines(res.stderr || res.stdout)}`);
  }

  /** Every message of the list, read with a query in Django's shell on the server. */
  async listEmails(manage: string[], fqdn: string): Promise<ArchivedEmail[] | null> {
    const code = [
      'import json',
      'from hyperkitty.models import Email, MailingList',
      `name = ${JSON.stringify(fqdn)}`,
      'known = MailingList.objects.filter(name=name).exists()',
      'rows = Email.objects.filter(mailinglist__name=name).values_list("message_id", "message_id_hash", "date")',
      `print(${JSON.stringify(MARKER)} + json.dumps([[m, h, d.isoformat()] for m, h, d in rows] if known else None))`,
    ].join('\n');
    const res = await this.run([...manage, 'shell', '-c', code], undefined, (out) => out.replace(new RegExp(`^${MARKER}.*$`, 'm'), (l) => `${MARKER}[${l.length} characters]`));
    const line = res.stdout.split('\n').find((l) => l.startsWith(MARKER));
    if (res.code !== 0 || !line) throw new UserError(`reading the archive of ${fqdn} on the server failed (exit ${res.code}): ${lastLines(res.stderr || res.stdout)}`);
    const data: unknown = JSON.parse(line.slice(MARKER.length));
    if (data === null) return null;
    return EmailRows.parse(data).map(([messageId, hash, date]) => ({ messageId, hash, date }));
  }
}

function spawnCapture(argv: string[], stdinFile?: string): Promise<CommandResult> {
  const [cmd, ...args] = argv;
  if (!cmd) return Promise.reject(new Error('empty command'));
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: [stdinFile ? 'pipe' : 'ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout!.on('data', (c: Buffer) => out.push(c));
    child.stderr!.on('data', (c: Buffer) => err.push(c));
    child.on('error', (e) => reject(new UserError(`cannot run ${cmd}: ${(e as NodeJS.ErrnoException).code ?? e.message}`)));
    if (stdinFile) {
      const input = createReadStream(stdinFile);
      input.on('error', (e) => child.stdin!.destroy(e));
      child.stdin!.on('error', () => undefined); // the exit status tells what went wrong
      input.pipe(child.stdin!);
    }
    child.on('close', (code) => resolve({ code, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') }));
  });
}

/** The import program's output for the log: the read-back's hashes counted, not listed. */
function shortenReadBack(out: string): string {
  return out.replace(/("hashes": \[)([^\]]*)\]/, (_m, head: string, list: string) => `${head}"(${list ? list.split(',').length : 0} hashes)"]`);
}

/** The lines hyperkitty_import writes for messages it skipped, as problems. */
function importComplaints(list: string, stderr: string): Problem[] {
  return stderr
    .split('\n')
    .filter((l) => /Failed adding message|failed to import, skipping|Failed to convert/.test(l))
    .map((l) => ({ severity: 'error' as const, code: 'archive-import-skipped', list, message: `${list}: hyperkitty_import: ${l.trim()}` }));
}

export function shellQuote(s: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

export function shellLine(argv: string[]): string {
  return argv.map(shellQuote).join(' ');
}

function lastLines(text: string, n = 3): string {
  return text.trim().split('\n').slice(-n).join(' | ').slice(0, 500);
}
