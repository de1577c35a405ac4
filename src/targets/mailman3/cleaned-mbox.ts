import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { once } from 'node:events';
import { MessageSource } from '../../mailman2/message-source.js';
import { UserError, type Problem } from '../../problems.js';
import type { Store } from '../../state/store.js';
import { asctime, prepareMessage, replayRows, type PreparedMessage, type ReplayRow } from './prepare-message.js';

export interface CleanedEntry {
  ordinal: number;
  targetMessageId: string;
  hash: string;
  changes: PreparedMessage['changes'];
  originalMessageId: string | null;
}

export interface CleanedMbox {
  file: string;
  messages: number;
  bytes: number;
  sha256: string;
  entries: CleanedEntry[];
  problems: Problem[];
}

/** When no date is known at all: a day after hyperkitty_import's `--since 1970-01-01` in every zone. */
const UNKNOWN_DATE = '1970-01-02T12:00:00.000Z';
const NL_FROM = Buffer.from('\nFrom ', 'latin1');
const FROM_ = Buffer.from('From ', 'latin1');

/**
 * Writes the mbox the server-side path hands to `hyperkitty_import`: the messages of the list in
 * replay order (oldest thread first, parents before replies), each exactly as the HTTP path sends
 * it (prepareMessage: same Message-ID and Date), with
 *  - a fresh From_ line `From <sender> <asctime UTC of the indexed date>`. hyperkitty_import sets
 *    archived_date from it only when the sender contains '@' (incoming.py UNIXFROM_DATE_RE), so the
 *    envelope sender is used when it has one, else the From address;
 *  - every line that starts with "From " written as ">From ". Python's mailbox.mbox, which
 *    hyperkitty_import reads with, starts a new message at every such line (mboxo), so this is the
 *    only way such a line survives; it is also how Mailman's own mbox stored them;
 *  - a blank line after each message, which mailbox.mbox removes again.
 * Nothing is dropped; the output depends only on the state database and the source mbox.
 * `include` selects messages (e.g. those not yet imported); the order stays the replay order.
 */
export async function writeCleanedMbox(
  store: Store,
  list: string,
  file: string,
  include: (row: ReplayRow) => boolean = () => true,
): Promise<CleanedMbox> {
  const listRow = await store.getList(list);
  if (!listRow?.mbox_path) throw new UserError(`${list}: no indexed mbox to write a cleaned copy of`);
  const rows = (await replayRows(store.db, list)).filter(include);
  await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  const source = await MessageSource.open(listRow.mbox_path);
  const out = createWriteStream(file, { mode: 0o600 });
  const hash = createHash('sha256');
  const entries: CleanedEntry[] = [];
  const problems: Problem[] = [];
  let bytes = 0;
  const write = async (buf: Buffer): Promise<void> => {
    hash.update(buf);
    bytes += buf.length;
    if (!out.write(buf)) await once(out, 'drain');
  };
  try {
    for (const row of rows) {
      const entry = await source.entry(row.offset, row.length);
      const nl = entry.indexOf(0x0a);
      const envelopeLine = entry.toString('latin1', 0, nl < 0 ? entry.length : nl);
      const prepared = prepareMessage(nl < 0 ? Buffer.alloc(0) : entry.subarray(nl + 1), row);
      if (!row.date) {
        problems.push({
          severity: 'warning', code: 'archive-date-unknown', list, key: row.target_message_id,
          message: `${list}: message ${row.ordinal} <${row.target_message_id}> has no usable date; the cleaned mbox dates its From_ line ${UNKNOWN_DATE}`,
        });
      }
      await write(Buffer.from(`From ${envelopeSender(envelopeLine, row.from_address)} ${asctime(row.date ?? UNKNOWN_DATE)}\n`, 'latin1'));
      await write(escapeFromLines(prepared.raw));
      await write(Buffer.from(prepared.raw.length && prepared.raw[prepared.raw.length - 1] === 0x0a ? '\n' : '\n\n', 'latin1'));
      entries.push({
        ordinal: row.ordinal,
        targetMessageId: row.target_message_id,
        hash: prepared.hash,
        changes: prepared.changes,
        originalMessageId: prepared.originalMessageId,
      });
    }
  } finally {
    out.end();
    await once(out, 'close');
    await source.close();
  }
  return { file, messages: entries.length, bytes, sha256: hash.digest('hex'), entries, problems };
}

/** mboxo escaping: "From " at a line start becomes ">From ". */
export function escapeFromLines(raw: Buffer): Buffer {
  const at: number[] = [];
  if (raw.subarray(0, 5).equals(FROM_)) at.push(0);
  for (let i = raw.indexOf(NL_FROM); i >= 0; i = raw.indexOf(NL_FROM, i + 1)) at.push(i + 1);
  if (!at.length) return raw;
  const parts: Buffer[] = [];
  let pos = 0;
  for (const a of at) {
    parts.push(raw.subarray(pos, a), Buffer.from('>', 'latin1'));
    pos = a;
  }
  parts.push(raw.subarray(pos));
  return Buffer.concat(parts);
}

const ADDRESS = /^[^\s@<>"]+@[^\s@<>"]+$/;

function envelopeSender(fromLine: string, fromAddress: string | null): string {
  const sender = /^From\s+(\S+)/.exec(fromLine)?.[1];
  if (sender && ADDRESS.test(sender)) return sender;
  if (fromAddress && ADDRESS.test(fromAddress)) return fromAddress;
  return sender && /^\S+$/.test(sender) ? sender : 'MAILER-DAEMON';
}
