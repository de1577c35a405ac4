// Builds a real pipeline (state DB, Store, runListJob) against the Discourse test double, for the
// Discourse target tests. Nothing here stands in for project code.
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { LoadedConfig } from '../../src/config/load.js';
import type { DiscourseTargetConfig } from '../../src/config/schema.js';
import { runListJob, type ListOutcome } from '../../src/pipeline/job.js';
import { createProgress } from '../../src/pipeline/progress.js';
import { StateDb } from '../../src/state/db.js';
import { Store } from '../../src/state/store.js';
import { DiscourseTarget, type DiscourseTargetOptions } from '../../src/targets/discourse/target.js';

export const FIXTURES = fileURLToPath(new URL('../../fixtures/mailman2', import.meta.url));
export const KEY_ENV = 'MM2M_TEST_DISCOURSE_API_KEY';

export async function tempDir(prefix = 'mm2m-discourse-'): Promise<string> {
  return mkdtemp(path.join(tmpdir(), prefix));
}

export function discourseConfig(dir: string, url: string, apiUsername: string, target: Partial<DiscourseTargetConfig> = {}): LoadedConfig {
  return {
    file: path.join(dir, 'config.json'),
    source: { root: FIXTURES, timeZone: 'America/New_York', lists: {} },
    target: {
      kind: 'discourse',
      url,
      apiKeyEnv: KEY_ENV,
      apiUsername,
      requestsPerMinute: 60,
      authors: 'active-users',
      subscriptions: true,
      allowEmails: false,
      foldQuotedTails: false,
      preferHtml: false,
      uploadAttachments: true,
      ...target,
    },
    archive: { cgiExtension: '', groupBySubject: false },
    state: path.join(dir, 'state.sqlite'),
    reports: path.join(dir, 'reports'),
  };
}

export interface Run {
  store: Store;
  db: StateDb;
  target: DiscourseTarget;
  outcome: ListOutcome;
}

/** One list through the real pipeline; the state file persists in cfg.state between calls. */
export async function runList(cfg: LoadedConfig, list: string, opts: { dryRun?: boolean; signal?: AbortSignal; target?: Partial<DiscourseTargetOptions> } = {}): Promise<Run> {
  const db = await StateDb.open(cfg.state);
  const store = await Store.open(db);
  const target = new DiscourseTarget(cfg, { dryRun: opts.dryRun ?? false, ...opts.target });
  try {
    const outcome = await runListJob(
      { cfg, store, target, progress: createProgress({ quiet: true }), signal: opts.signal ?? new AbortController().signal, dryRun: opts.dryRun ?? false },
      list,
    );
    return { store, db, target, outcome };
  } finally {
    await db.close();
  }
}

/** Client settings for tests: quick backoff (the double answers at once). */
export const FAST_CLIENT: DiscourseTargetOptions['client'] = { sleep: (ms) => new Promise((r) => setTimeout(r, Math.min(ms, 20))) };
