import { runBulk } from '../../pipeline/bulk.js';
import { createProgress } from '../../pipeline/progress.js';
import { openSession, selectLists } from '../../pipeline/session.js';
import { UserError } from '../../problems.js';
import { createTarget } from '../../targets/create.js';
import { listNames, type Command } from '../command.js';
import { onStopSignal } from '../signals.js';

export const migrateCommand: Command = {
  name: 'migrate',
  summary: 'migrate lists (or plan it with --dry-run); safe to interrupt and run again',
  usage: 'mm2migrate migrate --config FILE (--list NAME... | --all) [--dry-run] [--concurrency N]',
  options: {
    config: { type: 'string', short: 'c', valueName: 'FILE', description: 'the migration config file (YAML or JSON)' },
    list: { type: 'string', multiple: true, valueName: 'NAME', description: 'a list to migrate' },
    all: { type: 'boolean', description: 'every list of the source installation' },
    'dry-run': { type: 'boolean', description: 'read and plan only; write the plan and reports, change nothing on the target' },
    concurrency: { type: 'string', valueName: 'N', description: 'lists in flight at once (default 2)' },
    json: { type: 'boolean', description: 'print the run summary as JSON on stdout' },
    'log-json': { type: 'boolean', description: 'progress and log lines as JSON lines on stderr' },
    quiet: { type: 'boolean', short: 'q', description: 'no progress output' },
  },
  async run(values) {
    if (typeof values.config !== 'string') throw new UserError('migrate: --config FILE is required', 2);
    const concurrency = values.concurrency === undefined ? 2 : Number(values.concurrency);
    if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 64) throw new UserError('migrate: --concurrency must be a whole number from 1 to 64', 2);
    const session = await openSession(values.config);
    const dryRun = Boolean(values['dry-run']);
    const progress = createProgress({ json: Boolean(values['log-json']), quiet: Boolean(values.quiet) });
    const controller = new AbortController();
    const release = onStopSignal(() => {
      controller.abort();
      progress.log('warn', 'stopping after the requests in flight; run the same command again to resume where it stopped');
    });
    try {
      const lists = await selectLists(session.cfg, listNames(values.list), Boolean(values.all), (s) => progress.log('warn', s.reason));
      const target = await createTarget(session.cfg, { dryRun });
      try {
        if (!dryRun) {
          const problems = await target.preflight();
          const fatal = problems.filter((p) => p.severity === 'error');
          for (const p of problems) progress.log(p.severity === 'error' ? 'error' : p.severity === 'warning' ? 'warn' : 'info', p.message);
          if (fatal.length) throw new UserError(`pre-flight check failed: ${fatal[0]!.message}`);
        }
        const result = await runBulk({ cfg: session.cfg, store: session.store, target, progress, signal: controller.signal, dryRun }, lists, concurrency);
        if (values.json) process.stdout.write(JSON.stringify(result.report, null, 2) + '\n');
        else {
          const t = result.report.totals;
          process.stdout.write(
            `${dryRun ? 'Dry run' : 'Migration'}: ${t.lists} list(s), ${t.failed} failed, ${t.members} members, ${t.messages} messages.\n` +
              `Reports: ${result.reportFile}${dryRun ? ` (plans: ${session.cfg.reports}/<list>/plan.json)` : ''}\n`,
          );
        }
        if (controller.signal.aborted) {
          process.stderr.write(`Stopped. Resume with: mm2migrate migrate --config ${values.config} ${values.all ? '--all' : listNames(values.list).map((l) => `--list ${l}`).join(' ')}${dryRun ? ' --dry-run' : ''}\n`);
          return 130;
        }
        return result.report.totals.failed ? 1 : 0;
      } finally {
        await target.close?.();
      }
    } finally {
      release();
      await session.close();
    }
  },
};
