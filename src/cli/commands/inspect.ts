import { inspectInstallation } from '../../inspect/inspect.js';
import { discoverListFolders } from '../../mailman2/installation.js';
import { UserError } from '../../problems.js';
import { listNames, type Command } from '../command.js';
import { renderTable } from '../table.js';

export const inspectCommand: Command = {
  name: 'inspect',
  summary: 'read a Mailman 2 installation and show its lists, rosters and archives (reads only)',
  usage: 'mm2migrate inspect --source MAILMAN2_ROOT [--list NAME]... [--json]',
  options: {
    source: { type: 'string', valueName: 'DIR', description: 'the Mailman 2 prefix holding lists/ and archives/ (e.g. /var/lib/mailman)' },
    list: { type: 'string', multiple: true, valueName: 'NAME', description: 'only this list' },
    json: { type: 'boolean', description: 'print one JSON document instead of a table' },
  },
  async run(values) {
    if (typeof values.source !== 'string') throw new UserError('inspect: --source is required (the Mailman 2 prefix, e.g. /var/lib/mailman)', 2);
    const only = listNames(values.list);
    const lists = await inspectInstallation(values.source, only);
    // Folders under lists/ that are not taken as lists are named, never dropped silently (issue 8).
    if (!only.length) for (const s of (await discoverListFolders(values.source)).skipped) process.stderr.write(`warning: ${s.reason}\n`);
    if (values.json) {
      process.stdout.write(JSON.stringify({ source: values.source, lists }, null, 2) + '\n');
    } else {
      const rows = lists.map((l) => [
        l.name,
        String(l.members.length),
        l.archive.policy ?? '?',
        String(l.archive.mboxMessages),
        String(l.archive.pipermailArticles),
        l.archive.firstDate ? `${l.archive.firstDate.slice(0, 10)} .. ${l.archive.lastDate?.slice(0, 10)}` : '-',
        l.problems.length ? `${l.problems.length}: ${l.problems[0]!.message}` : '',
      ]);
      process.stdout.write(renderTable(['list', 'members', 'archive', 'messages', 'articles', 'dates', 'problems'], rows) + '\n');
    }
    return lists.some((l) => l.problems.some((p) => p.severity === 'error' && p.code.endsWith('-unreadable'))) ? 1 : 0;
  },
};
