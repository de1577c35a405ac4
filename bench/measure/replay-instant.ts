/**
 * Replay overhead: how many messages per second the project's own Mailman 3 HTTP replay
 * (src/targets/mailman3/replay-http.ts replayOverHttp with its HyperKittyClient: reads each message
 * from the mbox by offset, prepares it, journals `pending`/`done` in SQLite, posts it) pushes into
 * a target that answers at once, so the target is never the limit. The mbox is indexed and
 * threaded first (not timed). The run stops after --seconds through the replay's own stop signal.
 */
import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../../src/config/load.js';
import { readListConfig } from '../../src/mailman2/list-config.js';
import { StateDb } from '../../src/state/db.js';
import { indexMbox } from '../../src/state/index-mbox.js';
import { Store } from '../../src/state/store.js';
import { computeThreads } from '../../src/state/threading.js';
import { HyperKittyClient } from '../../src/targets/mailman3/hyperkitty-client.js';
import { replayOverHttp } from '../../src/targets/mailman3/replay-http.js';
import type { ListContext } from '../../src/targets/target.js';
import { TargetServer } from '../replay/server-process.js';
import { flags, numberFlag, required, runMeasurement } from './emit.js';

const KEY = 'bench-archiver-key';
/** Any real list configuration will do: the HTTP replay only uses the list's name and its messages. */
const LIST_CONFIG = fileURLToPath(new URL('../../../fixtures/mailman2/lists/devtalk/config.pck', import.meta.url));

runMeasurement(async () => {
  const f = flags();
  const file = required(f, 'file');
  const work = required(f, 'work');
  const seconds = numberFlag(f, 'seconds', 30);
  const concurrency = numberFlag(f, 'concurrency', 4);
  await rm(work, { recursive: true, force: true });
  await mkdir(work, { recursive: true });
  const server = await TargetServer.start(KEY);
  try {
    const configFile = path.join(work, 'config.json');
    await writeFile(
      configFile,
      JSON.stringify({
        source: { root: path.dirname(path.dirname(path.dirname(LIST_CONFIG))) },
        target: {
          kind: 'mailman3',
          rest: { url: 'http://127.0.0.1:9/', user: 'restadmin', passwordEnv: 'BENCH_REST_PASSWORD' },
          hyperkitty: { url: `${server.origin}/hyperkitty/`, archiverKeyEnv: 'BENCH_ARCHIVER_KEY' },
          replayConcurrency: concurrency,
        },
        state: path.join(work, 'state.sqlite'),
        reports: path.join(work, 'reports'),
      }),
    );
    const cfg = await loadConfig(configFile);
    const { config } = await readListConfig(LIST_CONFIG, { listName: 'devtalk' });
    const store = await Store.open(await StateDb.open(cfg.state));
    try {
      await store.ensureList('bench');
      const setupStarted = performance.now();
      await indexMbox(store, { list: 'bench', mboxPath: file, quarantineDir: path.join(work, 'quarantine') });
      await computeThreads(store, 'bench');
      const setupSeconds = (performance.now() - setupStarted) / 1000;

      const stop = new AbortController();
      const timer = setTimeout(() => stop.abort(), seconds * 1000);
      const ctx: ListContext = {
        list: 'bench',
        config,
        store,
        cfg,
        reportDir: path.join(work, 'reports', 'bench'),
        signal: stop.signal,
        progress: () => undefined,
      };
      const client = new HyperKittyClient({ baseUrl: `${server.origin}/hyperkitty/`, archiverKey: KEY });
      const stats = await replayOverHttp(ctx, { client, fqdn: 'bench@lists.example.org', concurrency });
      clearTimeout(timer);
      const { acceptedAt: _unused, ...srv } = await server.stats();
      return {
        seconds: stats.seconds,
        messages: stats.accepted + stats.refused,
        accepted: stats.accepted,
        refused: stats.refused,
        total: stats.total,
        stopped: stats.stopped,
        urlMismatches: stats.urlMismatches,
        bytes: srv.bytes,
        concurrency,
        setupSeconds,
        server: srv,
      };
    } finally {
      await store.db.close();
    }
  } finally {
    server.stop();
    await rm(work, { recursive: true, force: true });
  }
});
