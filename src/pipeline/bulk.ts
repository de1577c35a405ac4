import path from 'node:path';
import PQueue from 'p-queue';
import type { RunReport } from '../reports/model.js';
import { renderRunReport } from '../reports/html.js';
import { ensureReportDir, writeReportFile } from '../reports/write.js';
import { runListJob, type JobEnv, type ListOutcome } from './job.js';

export interface BulkResult {
  outcomes: ListOutcome[];
  report: RunReport;
  reportFile: string;
}

/**
 * Runs many lists through a bounded queue. One failing list is reported and does not stop the
 * others; a stop request lets the lists in flight finish their current request and starts no more.
 */
export async function runBulk(env: JobEnv, lists: string[], concurrency: number): Promise<BulkResult> {
  const started = Date.now();
  const queue = new PQueue({ concurrency: Math.max(1, concurrency) });
  const outcomes: ListOutcome[] = [];
  let finished = 0;
  env.progress.update('lists', 0, lists.length, 'lists done');
  for (const list of lists) {
    void queue.add(async () => {
      if (env.signal.aborted) return;
      const outcome = await runListJob(env, list);
      outcomes.push(outcome);
      finished++;
      env.progress.update('lists', finished, lists.length, 'lists done');
      const r = outcome.report;
      env.progress.log(
        outcome.ok ? 'info' : 'error',
        `${list}: ${r.status}${r.error ? ` (${r.error})` : ''} — ${r.counts.members} members, ${r.counts.messages} messages, ${r.problems.length} problems`,
      );
    });
  }
  await queue.onIdle();
  env.progress.done();
  outcomes.sort((a, b) => a.list.localeCompare(b.list));
  const dir = await ensureReportDir(env.cfg.reports);
  const report: RunReport = {
    generatedAt: new Date().toISOString(),
    dryRun: env.dryRun,
    target: env.cfg.target.kind,
    lists: outcomes.map((o) => ({
      list: o.list,
      status: o.report.status,
      phase: o.report.phase,
      error: o.report.error,
      members: o.report.counts.members,
      messages: o.report.counts.messages,
      problems: o.report.problems.length,
      report: path.relative(dir, o.reportFile),
    })),
    totals: {
      lists: outcomes.length,
      done: outcomes.filter((o) => o.report.status === 'done').length,
      failed: outcomes.filter((o) => !o.ok).length,
      members: outcomes.reduce((s, o) => s + o.report.counts.members, 0),
      messages: outcomes.reduce((s, o) => s + o.report.counts.messages, 0),
    },
    durationSeconds: (Date.now() - started) / 1000,
  };
  await writeReportFile(dir, 'run.json', JSON.stringify(report, null, 2) + '\n');
  const reportFile = await writeReportFile(dir, 'index.html', renderRunReport(report));
  return { outcomes, report, reportFile };
}
