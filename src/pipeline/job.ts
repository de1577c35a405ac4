import path from 'node:path';
import type { LoadedConfig } from '../config/load.js';
import type { ListConfig } from '../mailman2/list-config.js';
import { writePlan } from '../plan/write-plan.js';
import { UserError } from '../problems.js';
import { buildListReport } from '../reports/build.js';
import { renderListReport } from '../reports/html.js';
import type { ListReport } from '../reports/model.js';
import { ensureReportDir, writeReportFile } from '../reports/write.js';
import type { Phase } from '../state/phases.js';
import { busyMessage, claimList } from '../state/run-lock.js';
import type { Store } from '../state/store.js';
import type { ListContext, Target, TargetPlan, VerifyResult } from '../targets/target.js';
import { runIndexPhase } from './index-phase.js';
import { monthlyFromChecks } from './verify.js';
import type { ProgressSink } from './progress.js';

export interface JobEnv {
  cfg: LoadedConfig;
  store: Store;
  target: Target;
  progress: ProgressSink;
  signal: AbortSignal;
  dryRun: boolean;
}

export interface ListOutcome {
  list: string;
  ok: boolean;
  /** True when the run was asked to stop before the list was finished. */
  interrupted: boolean;
  report: ListReport;
  reportFile: string;
}

/** Apply phases in order; each is idempotent through the journal, so they always run and skip what is done. */
const APPLY: { phase: Phase; run: (t: Target, ctx: ListContext) => Promise<void> }[] = [
  { phase: 'settings', run: (t, c) => t.applySettings(c) },
  { phase: 'roster', run: (t, c) => t.applyRoster(c) },
  { phase: 'archive', run: (t, c) => t.replayArchive(c) },
];

export function listContext(env: Omit<JobEnv, 'dryRun'>, list: string, config: ListConfig, reportDir: string): ListContext {
  return {
    list,
    config,
    store: env.store,
    cfg: env.cfg,
    reportDir,
    signal: env.signal,
    progress: (done, total, what) => env.progress.update(list, done, total, what),
  };
}

/**
 * One list, phase by phase: index → plan → settings → roster → archive → verify. A dry-run stops
 * after the plan. Whatever happens, the list's report is written.
 */
export async function runListJob(env: JobEnv, list: string): Promise<ListOutcome> {
  const { store, cfg, progress, signal } = env;
  await store.ensureList(list);
  const reportDir = await ensureReportDir(cfg.reports, list);
  const claim = await claimList(store.db, list);
  if (!claim.ok) {
    // Another run owns the list, its state and its report: leave all three alone.
    const error = busyMessage(list, claim.holder);
    progress.log('error', error);
    const report = await buildListReport(store, list, { config: null, target: cfg.target.kind, dryRun: env.dryRun, plan: null, verify: null });
    return { list, ok: false, interrupted: false, report: { ...report, status: 'failed', error }, reportFile: path.join(reportDir, 'report.html') };
  }
  try {
    return await runClaimedList(env, list, reportDir);
  } finally {
    await claim.release();
  }
}

async function runClaimedList(env: JobEnv, list: string, reportDir: string): Promise<ListOutcome> {
  const { store, cfg, progress, signal } = env;
  await store.updateList(list, { status: 'running', error: null });
  let config: ListConfig | null = null;
  let plan: TargetPlan | null = null;
  let verify: VerifyResult | null = null;
  let interrupted = false;
  try {
    progress.event('phase', { list, phase: 'index' });
    const idx = await runIndexPhase(store, cfg, list, (bytes, total, messages) =>
      progress.update(list, bytes, total, `indexing (${messages} messages), bytes`),
    );
    config = idx.config;
    const ctx = listContext(env, list, config, reportDir);
    progress.event('phase', { list, phase: 'plan' });
    plan = await env.target.plan(ctx);
    await store.replaceProblems(list, 'plan', plan.problems);
    await writePlan(store, reportDir, list, config, plan);
    await store.completePhase(list, 'plan');

    if (!env.dryRun) {
      for (const step of APPLY) {
        if (signal.aborted) break;
        progress.event('phase', { list, phase: step.phase });
        await step.run(env.target, ctx);
        if (signal.aborted) break;
        await store.completePhase(list, step.phase);
      }
      if (!signal.aborted) {
        progress.event('phase', { list, phase: 'verify' });
        verify = await env.target.verify(ctx);
        if (verify.ok) await store.completePhase(list, 'verify');
      }
    }
    interrupted = signal.aborted;
    await store.updateList(list, {
      status: interrupted ? 'pending' : verify && !verify.ok ? 'failed' : 'done',
      error: verify && !verify.ok ? 'verification found differences' : null,
    });
  } catch (err) {
    if (!(err instanceof UserError) && !(err instanceof Error)) throw err;
    if (signal.aborted) {
      // Stopped on request: the list is not failed, it resumes on the next run.
      interrupted = true;
      await store.updateList(list, { status: 'pending', error: null });
      progress.log('warn', `${list}: stopped (${err.message.split('\n')[0]})`);
    } else {
      await store.updateList(list, { status: 'failed', error: err.message.split('\n')[0]! });
      progress.log('error', `${list}: ${err.message.split('\n')[0]}`);
    }
  }
  const report = await buildListReport(store, list, {
    config,
    target: cfg.target.kind,
    dryRun: env.dryRun,
    plan,
    verify,
    monthlyTarget: verify ? (monthlyFromChecks(verify) ?? undefined) : undefined,
  });
  await writeReportFile(reportDir, 'report.json', JSON.stringify(report, null, 2) + '\n');
  const reportFile = await writeReportFile(reportDir, 'report.html', renderListReport(report));
  return { list, ok: report.status !== 'failed', interrupted, report, reportFile };
}
