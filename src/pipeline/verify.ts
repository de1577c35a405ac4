import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { UserError } from '../problems.js';
import { buildListReport } from '../reports/build.js';
import { renderListReport } from '../reports/html.js';
import type { ListReport } from '../reports/model.js';
import { ensureReportDir, writeReportFile } from '../reports/write.js';
import { MONTHLY_CHECK, type VerifyResult } from '../targets/target.js';
import { storedConfig } from './index-phase.js';
import { listContext, type JobEnv } from './job.js';

export interface ListVerification {
  list: string;
  result: VerifyResult;
  reportFile: string;
}

/**
 * Compares the target with the source as indexed in the state database and records the result in
 * the list's report. Read-only on both sides.
 */
export async function verifyList(env: Omit<JobEnv, 'dryRun'>, list: string): Promise<ListVerification> {
  const { store, cfg } = env;
  const config = await storedConfig(store, list);
  if (!config) throw new UserError(`${list}: not indexed yet; run mm2migrate migrate --list ${list} first`);
  const reportDir = await ensureReportDir(cfg.reports, list);
  const ctx = listContext(env, list, config, reportDir);
  const result = await env.target.verify(ctx);
  if (result.ok) await store.completePhase(list, 'verify');
  // Keep the plan sections of the last report; only the verification and counts are new.
  const previous = await readFile(path.join(reportDir, 'report.json'), 'utf8').then((t) => JSON.parse(t) as ListReport, () => null);
  const monthly = monthlyFromChecks(result);
  const report = await buildListReport(store, list, {
    config,
    target: cfg.target.kind,
    dryRun: false,
    plan: previous
      ? { target: cfg.target.kind, settings: previous.settings, notCarried: previous.notCarried, details: previous.details, estimate: previous.estimate ?? { requests: 0, seconds: 0, basis: '' }, problems: [] }
      : null,
    verify: result,
    monthlyTarget: monthly ?? undefined,
  });
  await writeReportFile(reportDir, 'report.json', JSON.stringify(report, null, 2) + '\n');
  const reportFile = await writeReportFile(reportDir, 'report.html', renderListReport(report));
  return { list, result, reportFile };
}

/** The target's per-month counts, when it reported them (see MONTHLY_CHECK). */
export function monthlyFromChecks(result: VerifyResult): Map<string, number> | null {
  const check = result.checks.find((c) => c.name === MONTHLY_CHECK);
  if (!check || typeof check.actual !== 'object' || check.actual === null) return null;
  return new Map(Object.entries(check.actual as Record<string, number>));
}
