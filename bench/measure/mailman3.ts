/**
 * The archive paths into a real Mailman 3 + HyperKitty (test/stack): the HTTP replay
 * (replayOverHttp) at several fixed concurrencies and with `auto`, then the official procedure
 * against our server-side path, like for like:
 *  - official: `hyperkitty_import --since 1970-01-01` of the ORIGINAL mbox, then
 *    `update_index_one_list` (the documented procedure: hyperkitty_import leaves the full-text
 *    index alone), each timed as the admin runs it (its own Django start-up included);
 *  - ours: replayOnServer run through a local command, everything included: cleaned mbox, the
 *    server process (import, sender links, index update, read-back) and the journal.
 * Both write into the same shared Whoosh index, whose cost per message grows with its segment count
 * and jumps when a commit merges segments; so they alternate official, ours, ours, official
 * (--rounds 2, each round a fresh list) and the ratio is of the summed times.
 *
 * The generated mbox is indexed and threaded once (not timed); each HTTP level gets a copy of that
 * state database, so its journal is empty. An HTTP level stops after --level-seconds (ctx.signal:
 * the requests in flight are finished) so the per-level rate is the server's steady rate without
 * replaying the whole archive at concurrency 1. Exits 3 with one line when the stack is not installed.
 */
import { copyFile, mkdir, rm, writeFile } from 'node:fs/promises';
import { loadavg } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateMbox } from '../generate/mbox.js';
import { loadConfig, type LoadedConfig } from '../../src/config/load.js';
import type { Mailman3TargetConfig } from '../../src/config/schema.js';
import { readListConfig } from '../../src/mailman2/list-config.js';
import { StateDb } from '../../src/state/db.js';
import { indexMbox } from '../../src/state/index-mbox.js';
import { Store } from '../../src/state/store.js';
import { computeThreads } from '../../src/state/threading.js';
import { estimateArchivePaths } from '../../src/targets/mailman3/estimate.js';
import { HyperKittyClient } from '../../src/targets/mailman3/hyperkitty-client.js';
import { replayRows } from '../../src/targets/mailman3/prepare-message.js';
import { replayOverHttp } from '../../src/targets/mailman3/replay-http.js';
import { replayOnServer } from '../../src/targets/mailman3/replay-server.js';
import type { ListContext } from '../../src/targets/target.js';
import { StackNotInstalledError, startMailman3Stack, type Mailman3Stack } from '../../test/stack/mailman3-stack.js';
import { flags, numberFlag, required, runMeasurement } from './emit.js';
import { placeStackFiles } from './mailman3-stack-files.js';

/** Any real list configuration will do: the archive paths use the list's name and its messages. */
const LIST_CONFIG = fileURLToPath(new URL('../../../fixtures/mailman2/lists/devtalk/config.pck', import.meta.url));
const LIST = 'bench';
/** Exit status the harness (bench/harness/measurements.ts) turns into "skipped": no Mailman 3 stack here. */
const EXIT_NO_STACK = 3;

const log = (line: string): void => void process.stderr.write(`  mailman3: ${line}\n`);

runMeasurement(async () => {
  const f = flags();
  const work = required(f, 'work');
  const messages = numberFlag(f, 'messages');
  const levelSeconds = numberFlag(f, 'level-seconds', 60);
  const seed = numberFlag(f, 'seed', 1);
  const levels = (f.get('levels') ?? '1,2,4,8').split(',').map(Number);
  const rounds = numberFlag(f, 'rounds', 2);
  if (levels.some((l) => !Number.isInteger(l) || l < 1)) throw new Error(`--levels must be whole numbers ≥ 1, got ${f.get('levels')}`);
  if (!Number.isInteger(rounds) || rounds < 1) throw new Error(`--rounds must be a whole number ≥ 1, got ${f.get('rounds')}`);

  await placeStackFiles();
  let stack: Mailman3Stack;
  try {
    stack = await startMailman3Stack();
  } catch (err) {
    if (err instanceof StackNotInstalledError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(EXIT_NO_STACK);
    }
    throw err;
  }
  await rm(work, { recursive: true, force: true });
  await mkdir(work, { recursive: true });
  const run = `${Date.now().toString(36)}${process.pid.toString(36)}`;
  const domain = `b${run}.bench.test`;
  try {
    const rest = async (method: string, p: string, form: Record<string, string>, want: number): Promise<void> => {
      const res = await fetch(`${stack.restUrl}/3.1${p}`, { method, headers: { Authorization: stack.restAuthorization }, body: new URLSearchParams(form), signal: AbortSignal.timeout(60_000) });
      if (res.status !== want) throw new Error(`Mailman core ${method} ${p}: HTTP ${res.status} ${await res.text()}`);
    };
    await rest('POST', '/domains', { mail_host: domain }, 201);
    const createList = async (local: string): Promise<string> => {
      const fqdn = `${local}@${domain}`;
      await rest('POST', '/lists', { fqdn_listname: fqdn }, 201);
      await rest('PATCH', `/lists/${fqdn.replace('@', '.')}/config`, { archive_policy: 'public' }, 204);
      return fqdn;
    };
    const client = new HyperKittyClient({ baseUrl: `${stack.hyperkittyUrl}/`, archiverKey: stack.archiverKey });
    const archived = async (fqdn: string): Promise<number> => (await client.listEmails(fqdn))?.length ?? 0;

    // The input: about --messages messages. The generator stops at a byte size and its mean message
    // size depends on the size asked for (thread lengths, quoting), so the size is bisected.
    const mbox = path.join(work, 'archive.mbox');
    const genOpts = { seed, list: LIST, host: 'lists.example.org', legacyShare: 0 };
    let lo = 0;
    let hi = messages * 20_000;
    let gen = await generateMbox({ ...genOpts, targetBytes: messages * 5000 }, mbox);
    for (let i = 0; i < 12 && Math.abs(gen.messages - messages) > messages * 0.02; i++) {
      if (gen.messages > messages) hi = gen.bytes;
      else lo = gen.bytes;
      gen = await generateMbox({ ...genOpts, targetBytes: Math.round((lo + hi) / 2) }, mbox);
    }
    log(`generated ${gen.messages} messages, ${(gen.bytes / 1e6).toFixed(1)} MB`);

    const cfgFor = async (name: string, target: Partial<Mailman3TargetConfig> = {}): Promise<LoadedConfig> => {
      const dir = path.join(work, name);
      await mkdir(dir, { recursive: true });
      const file = path.join(dir, 'config.json');
      await writeFile(
        file,
        JSON.stringify({
          source: { root: path.dirname(path.dirname(path.dirname(LIST_CONFIG))) },
          target: {
            kind: 'mailman3',
            rest: { url: stack.restUrl, user: stack.restUser, passwordEnv: 'BENCH_REST_PASSWORD' },
            hyperkitty: { url: `${stack.hyperkittyUrl}/`, archiverKeyEnv: 'BENCH_ARCHIVER_KEY' },
            ...target,
          },
          state: path.join(dir, 'state.sqlite'),
          reports: path.join(dir, 'reports'),
        }),
      );
      return loadConfig(file);
    };
    const { config } = await readListConfig(LIST_CONFIG, { listName: 'devtalk' });

    // Index once; every path below starts from a copy of this state.
    const baseState = path.join(work, 'base.sqlite');
    let replayable: number;
    {
      const store = await Store.open(await StateDb.open(baseState));
      try {
        await store.ensureList(LIST);
        const t = performance.now();
        await indexMbox(store, { list: LIST, mboxPath: mbox, listAddress: `${LIST}@lists.example.org`, quarantineDir: path.join(work, 'quarantine') });
        await computeThreads(store, LIST);
        replayable = (await replayRows(store.db, LIST)).length;
        log(`indexed in ${((performance.now() - t) / 1000).toFixed(1)} s: ${replayable} replayable messages`);
      } finally {
        await store.db.close();
      }
    }
    const open = async (cfg: LoadedConfig, signal: AbortSignal): Promise<{ ctx: ListContext; close: () => Promise<void> }> => {
      await copyFile(baseState, cfg.state);
      const store = await Store.open(await StateDb.open(cfg.state));
      const reportDir = path.join(cfg.reports, LIST);
      await mkdir(reportDir, { recursive: true });
      return { ctx: { list: LIST, config, store, cfg, reportDir, signal, progress: () => undefined }, close: () => store.db.close() };
    };

    // (1) HTTP replay, one fresh list per concurrency, then `auto`.
    const http: Record<string, unknown>[] = [];
    let httpAuto: Record<string, unknown> = {};
    let defaultConcurrency: number | 'auto' = 0;
    for (const concurrency of [...levels, 'auto' as const]) {
      const cfg = await cfgFor(`http-c${concurrency}`);
      defaultConcurrency = (cfg.target as Mailman3TargetConfig).replayConcurrency;
      const stop = new AbortController();
      const { ctx, close } = await open(cfg, stop.signal);
      try {
        const fqdn = await createList(`http-c${concurrency}`);
        const load1 = loadavg()[0]!;
        const timer = setTimeout(() => stop.abort(), levelSeconds * 1000);
        const stats = await replayOverHttp(ctx, { client, fqdn, concurrency });
        clearTimeout(timer);
        const kept = await archived(fqdn);
        const perSecond = stats.accepted / stats.seconds;
        const row = { concurrency, perSecond, accepted: stats.accepted, refused: stats.refused, seconds: stats.seconds, stopped: stats.stopped, archived: kept, load1 };
        if (concurrency === 'auto') {
          const best = Math.max(...http.map((h) => h.perSecond as number));
          httpAuto = { ...row, settled: stats.concurrencySettled, trace: stats.concurrencyTrace, shareOfBestFixed: perSecond / best };
          log(`HTTP auto: ${perSecond.toFixed(2)} msg/s, settled at ${stats.concurrencySettled} (${((perSecond / best) * 100).toFixed(0)} % of the best fixed level; ${stats.accepted} in ${stats.seconds.toFixed(1)} s, ${kept} archived, load ${load1.toFixed(1)})`);
        } else {
          http.push(row);
          log(`HTTP concurrency ${concurrency}: ${perSecond.toFixed(2)} msg/s (${stats.accepted} in ${stats.seconds.toFixed(1)} s, ${stats.refused} refused, ${kept} archived, load ${load1.toFixed(1)})`);
        }
      } finally {
        await close();
      }
    }

    // (2) The official procedure and (3) our server-side path, alternating.
    const officialRuns: { seconds: number; indexSeconds: number; kept: number }[] = [];
    const serverRuns: { seconds: number; kept: number; written: number; imported: number; missing: number; problems: number; indexer: string | null; timings: Record<string, number> }[] = [];
    const runOfficial = async (n: number): Promise<void> => {
      const fqdn = await createList(`official${n}`);
      const t = performance.now();
      const res = await stack.runManage(['hyperkitty_import', '--since', '1970-01-01', '-l', fqdn, mbox], { timeoutMs: 3_600_000 });
      const seconds = (performance.now() - t) / 1000;
      if (res.code !== 0) throw new Error(`hyperkitty_import exited ${res.code}: ${res.stderr.trim().split('\n').slice(-3).join(' | ')}`);
      const ti = performance.now();
      const indexed = await stack.runManage(['update_index_one_list', fqdn], { timeoutMs: 3_600_000 });
      const indexSeconds = (performance.now() - ti) / 1000;
      if (indexed.code !== 0) throw new Error(`update_index_one_list exited ${indexed.code}: ${indexed.stderr.trim().split('\n').slice(-3).join(' | ')}`);
      const kept = await archived(fqdn);
      officialRuns.push({ seconds, indexSeconds, kept });
      log(`official ${n}: hyperkitty_import ${seconds.toFixed(1)} s + update_index_one_list ${indexSeconds.toFixed(1)} s = ${(seconds + indexSeconds).toFixed(1)} s, kept ${kept} of ${gen.messages} mbox entries`);
    };
    const runServer = async (n: number): Promise<void> => {
      const cfg = await cfgFor(`server${n}`, { archivePath: 'server', serverCommand: [], serverImport: { manage: stack.manageCommand, tmpDir: '/tmp' } });
      const { ctx, close } = await open(cfg, new AbortController().signal);
      try {
        const fqdn = await createList(`server${n}`);
        const stats = await replayOnServer(ctx, { client, fqdn, target: cfg.target as Mailman3TargetConfig, privateArchive: false });
        const kept = await archived(fqdn);
        const timings = Object.fromEntries(Object.entries(stats.timings).map(([k, v]) => [k, Number(v.toFixed(3))]));
        serverRuns.push({ seconds: stats.seconds, kept, written: stats.written, imported: stats.imported, missing: stats.missing, problems: stats.problems.length, indexer: stats.indexer, timings });
        const tm = stats.timings;
        log(`ours ${n}: ${stats.seconds.toFixed(1)} s (import ${tm.import.toFixed(1)}, index ${tm.index.toFixed(1)} [${stats.indexer}], server process ${tm.server.toFixed(1)}, mbox ${tm.cleanedMbox.toFixed(1)}, journal ${tm.journal.toFixed(1)}), kept ${kept} (${stats.missing} missing)`);
      } finally {
        await close();
      }
    };
    for (let round = 1; round <= rounds; round++) {
      // ABBA: what the growing shared index costs the later runs falls on both paths alike.
      if (round % 2 === 1) {
        await runOfficial(round);
        await runServer(round);
      } else {
        await runServer(round);
        await runOfficial(round);
      }
    }
    const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
    const officialImport = mean(officialRuns.map((r) => r.seconds));
    const officialIndex = mean(officialRuns.map((r) => r.indexSeconds));
    const serverSeconds = mean(serverRuns.map((r) => r.seconds));
    // Rates over the same input (the mbox's entries), so their ratio is the ratio of the times.
    const official = {
      seconds: officialImport,
      indexSeconds: officialIndex,
      totalSeconds: officialImport + officialIndex,
      kept: Math.min(...officialRuns.map((r) => r.kept)),
      importPerSecond: gen.messages / officialImport,
      perSecond: gen.messages / (officialImport + officialIndex),
      runs: officialRuns,
    };
    const server = {
      seconds: serverSeconds,
      kept: Math.min(...serverRuns.map((r) => r.kept)),
      written: serverRuns[0]!.written,
      imported: Math.min(...serverRuns.map((r) => r.imported)),
      missing: Math.max(...serverRuns.map((r) => r.missing)),
      problems: Math.max(...serverRuns.map((r) => r.problems)),
      perSecond: gen.messages / serverSeconds,
      importSeconds: mean(serverRuns.map((r) => r.timings.import ?? 0)),
      indexSeconds: mean(serverRuns.map((r) => r.timings.index ?? 0)),
      runs: serverRuns,
    };
    const comparison = {
      basis: 'official = hyperkitty_import + update_index_one_list (each with its Django start-up); ours = the whole replayOnServer (cleaned mbox, import, sender links, index, read-back, journal); means over alternating runs',
      ratio: official.totalSeconds / server.seconds,
      ratioToImportAlone: official.seconds / server.seconds,
      indexShareOfficial: official.indexSeconds / official.totalSeconds,
      indexShareOurs: server.indexSeconds / server.seconds,
    };
    log(`like for like: official ${official.totalSeconds.toFixed(1)} s (import ${official.seconds.toFixed(1)} + index ${official.indexSeconds.toFixed(1)}) vs ours ${server.seconds.toFixed(1)} s (import ${server.importSeconds.toFixed(1)} + index ${server.indexSeconds.toFixed(1)} + the rest): ${comparison.ratio.toFixed(2)}× (${comparison.ratioToImportAlone.toFixed(2)}× hyperkitty_import alone); kept ${server.kept} vs ${official.kept}`);
    const auto = httpAuto as { perSecond?: number; settled?: number; shareOfBestFixed?: number };
    const bestFixed = http.reduce((a, b) => ((b.perSecond as number) > (a.perSecond as number) ? b : a));
    const table: [string, string][] = [
      ...http.map((h): [string, string] => [`HTTP replay, concurrency ${h.concurrency as number}`, `${(h.perSecond as number).toFixed(1)} msg/s`]),
      ['HTTP replay, concurrency auto', `${auto.perSecond?.toFixed(1)} msg/s, settled at ${auto.settled}: ${((auto.shareOfBestFixed ?? 0) * 100).toFixed(0)} % of the best fixed level (${bestFixed.concurrency as number})`],
      ['official: hyperkitty_import + update_index_one_list', `${official.totalSeconds.toFixed(1)} s (${official.seconds.toFixed(1)} + ${official.indexSeconds.toFixed(1)}), ${official.perSecond.toFixed(1)} msg/s, kept ${official.kept} of ${gen.messages}`],
      ['ours: server-side path, all included', `${server.seconds.toFixed(1)} s, ${server.perSecond.toFixed(1)} msg/s, kept ${server.kept} of ${replayable} replayable, ${server.missing} missing`],
      ['ratio (official time ÷ ours)', `${comparison.ratio.toFixed(2)}× (vs hyperkitty_import alone ${comparison.ratioToImportAlone.toFixed(2)}×)`],
    ];
    for (const [k, v] of table) log(`${k.padEnd(52)} ${v}`);

    const plan = estimateArchivePaths(replayable, true);
    return {
      generated: gen.messages,
      bytes: gen.bytes,
      replayable,
      levelSeconds,
      defaultConcurrency,
      http,
      httpAuto,
      rounds,
      official,
      server,
      comparison,
      plan: { recommended: plan.recommended, httpSeconds: plan.httpSeconds, serverSeconds: plan.serverSeconds },
      stackReused: stack.reused,
    };
  } finally {
    await stack.stop();
    await rm(work, { recursive: true, force: true });
  }
});
