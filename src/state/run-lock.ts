import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import type { StateDb } from './db.js';

/** The run that holds a list: enough for an operator to find it. */
export interface RunHolder {
  pid: number;
  host: string;
  startedAt: string;
}

export type ListClaim = { ok: true; release: () => Promise<void> } | { ok: false; holder: RunHolder };

interface ListRunRow {
  pid: number;
  host: string;
  proc_start: string | null;
  started_at: string;
}

/**
 * Claims a list for this process, so a second run of the same state (an overlapping cron job, an
 * operator in another terminal) cannot replay it at the same time. The check and the claim are one
 * write transaction; a row left by a run that was killed on this host is taken over.
 */
export async function claimList(db: StateDb, list: string): Promise<ListClaim> {
  const me = { pid: process.pid, host: hostname(), procStart: procStat(process.pid)?.start ?? null };
  const result = await db.transaction(async (): Promise<ListClaim> => {
    const row = await db.get<ListRunRow>('SELECT pid, host, proc_start, started_at FROM list_runs WHERE list = ?', [list]);
    if (row && !(row.pid === me.pid && row.host === me.host) && holderAlive(row, me.host)) {
      return { ok: false, holder: { pid: row.pid, host: row.host, startedAt: row.started_at } };
    }
    await db.run('INSERT OR REPLACE INTO list_runs (list, pid, host, proc_start, started_at) VALUES (?, ?, ?, ?, ?)', [
      list, me.pid, me.host, me.procStart, new Date().toISOString(),
    ]);
    return { ok: true, release: async () => {} };
  });
  if (!result.ok) return result;
  return {
    ok: true,
    release: async () => {
      await db.run('DELETE FROM list_runs WHERE list = ? AND pid = ? AND host = ?', [list, me.pid, me.host]);
    },
  };
}

/** One line naming the run that holds the list and what to do. */
export function busyMessage(list: string, holder: RunHolder): string {
  const elsewhere = holder.host !== hostname();
  const where = elsewhere ? `process ${holder.pid} on ${holder.host}` : `process ${holder.pid}`;
  const gone = elsewhere ? ` (if that run is gone: DELETE FROM list_runs WHERE list = '${list}' in the state database)` : '';
  return `${list}: another mm2migrate run (${where}, since ${holder.startedAt}) is migrating this list; wait for it to finish or stop it, then run again${gone}`;
}

function holderAlive(row: ListRunRow, host: string): boolean {
  // A run on another host cannot be checked from here: it is assumed to be running.
  if (row.host !== host) return true;
  try {
    process.kill(row.pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ESRCH') return false;
  }
  // The pid exists; it may be a killed run not yet reaped by its parent, or (after a reboot, in a
  // busy container) another process.
  const stat = procStat(row.pid);
  if (stat?.state === 'Z') return false;
  return row.proc_start === null || !stat || stat.start === row.proc_start;
}

/** State (field 3) and start time in clock ticks since boot (field 22) of /proc/<pid>/stat; null without /proc. */
function procStat(pid: number): { state: string; start: string } | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) is in parentheses and may contain spaces: count from its end.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return fields[0] && fields[19] ? { state: fields[0], start: fields[19] } : null;
  } catch {
    return null;
  }
}
