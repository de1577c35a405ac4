// Child process of test/discourse-target-kill.test.ts: one list through the built pipeline
// (dist/), so the parent can SIGKILL it at any moment. Usage: node discourse-kill-child.mjs CONFIG.json LIST
import { readFileSync } from 'node:fs';
import { runListJob } from '../dist/src/pipeline/job.js';
import { createProgress } from '../dist/src/pipeline/progress.js';
import { StateDb } from '../dist/src/state/db.js';
import { Store } from '../dist/src/state/store.js';
import { DiscourseTarget } from '../dist/src/targets/discourse/target.js';

const [configFile, list] = process.argv.slice(2);
const cfg = JSON.parse(readFileSync(configFile, 'utf8'));
const db = await StateDb.open(cfg.state);
const store = await Store.open(db);
const target = new DiscourseTarget(cfg, { dryRun: false, client: { sleep: (ms) => new Promise((r) => setTimeout(r, Math.min(ms, 50))) } });
const outcome = await runListJob(
  { cfg, store, target, progress: createProgress({ quiet: true }), signal: new AbortController().signal, dryRun: false },
  list,
);
await db.close();
process.stdout.write(JSON.stringify({ status: outcome.report.status, error: outcome.report.error, usage: target.usage() }) + '\n');
process.exit(outcome.report.status === 'done' ? 0 : 1);
