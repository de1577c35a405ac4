import { openSession } from '../../pipeline/session.js';
import { UserError } from '../../problems.js';
import type { Command } from '../command.js';
import { renderTable } from '../table.js';

export const statusCommand: Command = {
  name: 'status',
  summary: "show every list's phase and counts from the state database",
  usage: 'mm2migrate status --config FILE [--json]',
  options: {
    config: { type: 'string', short: 'c', valueName: 'FILE', description: 'the migration config file' },
    json: { type: 'boolean', description: 'print JSON' },
  },
  async run(values) {
    if (typeof values.config !== 'string') throw new UserError('status: --config FILE is required', 2);
    const session = await openSession(values.config);
    try {
      const { db } = session.store;
      const rows = await db.all<{ name: string; phase: string; status: string; error: string | null; members: number; messages: number; articles: number; applied: number; problems: number }>(
        `SELECT l.name, l.phase, l.status, l.error,
                (SELECT count(*) FROM members m WHERE m.list = l.name AND m.role = 'member') AS members,
                (SELECT count(*) FROM messages m WHERE m.list = l.name) AS messages,
                (SELECT count(*) FROM articles a WHERE a.list = l.name AND a.stray = 0) AS articles,
                (SELECT count(*) FROM journal j WHERE j.list = l.name AND j.status = 'done') AS applied,
                (SELECT count(*) FROM problems p WHERE p.list = l.name) AS problems
           FROM lists l ORDER BY l.name`,
      );
      if (values.json) process.stdout.write(JSON.stringify({ state: session.cfg.state, lists: rows }, null, 2) + '\n');
      else if (!rows.length) process.stdout.write('No list has been indexed yet.\n');
      else
        process.stdout.write(
          renderTable(
            ['list', 'phase', 'status', 'members', 'messages', 'articles', 'applied ops', 'problems', 'error'],
            rows.map((r) => [r.name, r.phase, r.status, String(r.members), String(r.messages), String(r.articles), String(r.applied), String(r.problems), r.error ?? '']),
          ) + '\n',
        );
      return rows.some((r) => r.status === 'failed') ? 1 : 0;
    } finally {
      await session.close();
    }
  },
};
