import { createProgress } from '../../pipeline/progress.js';
import { openSession, selectLists, type Session } from '../../pipeline/session.js';
import { checkListRedirects } from '../../pipeline/verify-redirects.js';
import { verifyList, type ListVerification } from '../../pipeline/verify.js';
import { UserError } from '../../problems.js';
import { createTarget } from '../../targets/create.js';
import { listNames, type Command } from '../command.js';
import { onStopSignal } from '../signals.js';
import { renderTable } from '../table.js';

export const verifyCommand: Command = {
  name: 'verify',
  summary: 'compare the target with the source (roster, settings, messages) and record it in the reports',
  usage: 'mm2migrate verify --config FILE (--list NAME... | --all) [--redirects [--base-url URL]] [--json]',
  options: {
    config: { type: 'string', short: 'c', valueName: 'FILE', description: 'the migration config file' },
    list: { type: 'string', multiple: true, valueName: 'NAME', description: 'a list to verify' },
    all: { type: 'boolean', description: 'every list of the source installation' },
    redirects: { type: 'boolean', description: 'check instead that every redirect target of the lists answers 200' },
    'base-url': { type: 'string', valueName: 'URL', description: 'with --redirects: send the requests to this server (e.g. staging) instead' },
    concurrency: { type: 'string', valueName: 'N', description: 'with --redirects: requests in flight (default 8)' },
    json: { type: 'boolean', description: 'print the results as JSON' },
    quiet: { type: 'boolean', short: 'q', description: 'no progress output' },
  },
  async run(values) {
    if (typeof values.config !== 'string') throw new UserError('verify: --config FILE is required', 2);
    const session = await openSession(values.config);
    const progress = createProgress({ quiet: Boolean(values.quiet) || Boolean(values.json) });
    const controller = new AbortController();
    const release = onStopSignal(() => controller.abort());
    try {
      const lists = await selectLists(session.cfg, listNames(values.list), Boolean(values.all));
      if (values.redirects) {
        const concurrency = values.concurrency === undefined ? 8 : Number(values.concurrency);
        if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 64) throw new UserError('verify: --concurrency must be a whole number from 1 to 64', 2);
        return await verifyListRedirects(session, lists, {
          baseUrl: typeof values['base-url'] === 'string' ? values['base-url'] : undefined,
          concurrency,
          json: Boolean(values.json),
          signal: controller.signal,
        });
      }
      const target = await createTarget(session.cfg, { dryRun: false });
      const results: (ListVerification | { list: string; error: string })[] = [];
      try {
        for (const list of lists) {
          if (controller.signal.aborted) break;
          try {
            results.push(await verifyList({ cfg: session.cfg, store: session.store, target, progress, signal: controller.signal }, list));
          } catch (err) {
            results.push({ list, error: (err as Error).message.split('\n')[0]! });
          }
        }
      } finally {
        await target.close?.();
        progress.done();
      }
      const failed = results.filter((r) => 'error' in r || !r.result.ok);
      if (values.json) {
        process.stdout.write(JSON.stringify({ ok: failed.length === 0, lists: results.map((r) => ('error' in r ? r : { list: r.list, ok: r.result.ok, checks: r.result.checks, report: r.reportFile })) }, null, 2) + '\n');
      } else {
        const rows = results.flatMap((r) =>
          'error' in r
            ? [[r.list, 'error', r.error, '', '']]
            : r.result.checks.map((c) => [r.list, c.ok ? 'ok' : 'DIFFERS', c.name, short(c.expected), short(c.actual)]),
        );
        process.stdout.write(renderTable(['list', 'result', 'check', 'source', 'target'], rows) + '\n');
        process.stdout.write(failed.length ? `${failed.length} of ${results.length} list(s) differ from the source.\n` : `All ${results.length} list(s) match the source.\n`);
      }
      return failed.length ? 1 : 0;
    } finally {
      release();
      await session.close();
    }
  },
};

async function verifyListRedirects(
  session: Session,
  lists: string[],
  opts: { baseUrl?: string; concurrency: number; json: boolean; signal: AbortSignal },
): Promise<number> {
  const out = await checkListRedirects(session.store, session.cfg, lists, opts);
  const failed = out.reduce((n, l) => n + l.failed.length, 0);
  if (opts.json) process.stdout.write(JSON.stringify({ ok: failed === 0, lists: out }, null, 2) + '\n');
  else {
    process.stdout.write(
      renderTable(
        ['list', 'checked', 'ok', 'failed', 'note'],
        out.map((l) => [l.list, String(l.checked), String(l.ok), String(l.failed.length), l.skipped ?? '']),
      ) + '\n',
    );
    for (const l of out) for (const f of l.failed.slice(0, 20)) process.stdout.write(`${l.list}: ${f.oldUrl} -> ${f.newUrl}: ${f.status ?? 'no answer'} ${f.reason}\n`);
  }
  return failed ? 1 : 0;
}

function short(v: unknown): string {
  const s = typeof v === 'string' ? v : JSON.stringify(v);
  return s === undefined ? '' : s;
}
