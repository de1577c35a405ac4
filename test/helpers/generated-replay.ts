import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { generateMbox } from '../../bench/generate/mbox.js';
import type { LoadedConfig } from '../../src/config/load.js';
import { StateDb } from '../../src/state/db.js';
import { indexMbox } from '../../src/state/index-mbox.js';
import { Store } from '../../src/state/store.js';
import { computeThreads } from '../../src/state/threading.js';
import { HyperKittyClient } from '../../src/targets/mailman3/hyperkitty-client.js';
import { replayRows, type ReplayRow } from '../../src/targets/mailman3/prepare-message.js';
import type { ListContext } from '../../src/targets/target.js';

export interface GeneratedList {
  db: StateDb;
  store: Store;
  rows: ReplayRow[];
  /** Messages the generator wrote (identical copies included). */
  generated: number;
  ctx: ListContext;
}

/** A seeded generated archive for list `gen`, indexed and threaded into cfg's state, ready to replay. */
export async function indexedGeneratedList(cfg: LoadedConfig, opts: { seed: number; targetBytes: number }): Promise<GeneratedList> {
  const mbox = path.join(path.dirname(cfg.state), 'generated.mbox');
  const gen = await generateMbox({ seed: opts.seed, targetBytes: opts.targetBytes, list: 'gen', host: 'lists.example.org', legacyShare: 0 }, mbox);
  const db = await StateDb.open(cfg.state);
  const store = await Store.open(db);
  await store.ensureList('gen');
  await indexMbox(store, { list: 'gen', mboxPath: mbox, listAddress: 'gen@lists.example.org', quarantineDir: path.join(cfg.reports, 'gen', 'quarantine') });
  await computeThreads(store, 'gen');
  const rows = await replayRows(db, 'gen');
  const reportDir = path.join(cfg.reports, 'gen');
  await mkdir(reportDir, { recursive: true });
  const ctx = { list: 'gen', store, cfg, reportDir, signal: new AbortController().signal, progress: () => undefined } as unknown as ListContext;
  return { db, store, rows, generated: gen.messages, ctx };
}

/** The project's HyperKitty client, noting when each message (by Message-ID) went out and when its answer came. */
export class RecordingHyperKittyClient extends HyperKittyClient {
  readonly timeline = new Map<string, { sent: number; answered: number }>();

  override async archive(list: string, raw: Buffer, signal?: AbortSignal) {
    const id = /^Message-ID:\s*<([^>]+)>/im.exec(raw.toString('latin1'))![1]!;
    const sent = performance.now();
    const outcome = await super.archive(list, raw, signal);
    this.timeline.set(id, { sent, answered: performance.now() });
    return outcome;
  }
}

/** Asserts, through `check`, that no reply went out before its parent was answered; returns how many replies were checked. */
export function repliesAfterParents(rows: ReplayRow[], timeline: Map<string, { sent: number; answered: number }>, check: (sent: number, parentAnswered: number) => void): number {
  const byOrdinal = new Map(rows.map((r) => [r.ordinal, r]));
  let replies = 0;
  for (const r of rows) {
    const parent = r.parent_ordinal === null ? undefined : byOrdinal.get(r.parent_ordinal);
    if (!parent) continue;
    check(timeline.get(r.target_message_id)!.sent, timeline.get(parent.target_message_id)!.answered);
    replies++;
  }
  return replies;
}
