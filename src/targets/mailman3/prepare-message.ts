import { unescapeFromLines } from '../../mailman2/mbox.js';
import { messageIdHash } from '../../mailman2/message-id.js';
import { parseMailDate } from '../../mailman2/message-date.js';
import { scanHeaders } from '../../mailman2/message-meta.js';
import type { StateDb } from '../../state/db.js';

/** The indexed facts about one message that decide what is sent (a row of the `messages` table). */
export interface MessageToPrepare {
  /** The id HyperKitty must store (differs from the original for different-content duplicates). */
  target_message_id: string;
  /** The indexed date, ISO UTC (null when no usable date was found). */
  date: string | null;
  /** 1 when the indexed date does not come from the Date header (missing or rejected). */
  date_repaired: number;
}

export interface PreparedMessage {
  /** The bytes to archive (for the HTTP path as they are; the cleaned mbox escapes From lines). */
  raw: Buffer;
  /** HyperKitty's message_id_hash of the target id: the last part of the message URL. */
  hash: string;
  /** What was changed, for the journal and the report (empty when the message went out as stored). */
  changes: ('from-lines-unescaped' | 'message-id-added' | 'message-id-replaced' | 'date-added' | 'date-replaced')[];
  /** The Message-ID header value that was replaced, if any. */
  originalMessageId: string | null;
}

/**
 * What HyperKitty is given for one archived message: the stored bytes with one level of mboxo
 * escaping undone (">From " → "From ", as Mailman's Generator wrote them), and exactly two header
 * fixes so that HyperKitty files the message where the plan says:
 *  - Message-ID becomes `<target_message_id>` unless it already is that id. HyperKitty's archiver
 *    endpoint stores `unquote(value without whitespace)` but builds the URL it answers from
 *    `value.strip().strip("<>")`, and hyperkitty_import cleans ids its own way (`_fix_mid`): only
 *    a plain `<id>` gives the same stored id and URL on both paths. Missing ids (synthetic) and
 *    different-content duplicates get their new id this way.
 *  - A missing Date is added, and a Date the index rejected (unparseable, before 1970, far in the
 *    future or far after the arrival stamps, pipermail's rules) is replaced, both from the indexed
 *    date; the replaced text is kept in X-Original-Date as Mailman's ArchRunner did. Over HTTP
 *    HyperKitty would otherwise file an undated message under "now", and the month counts that
 *    verify compares come from the indexed dates. A Date without zone is made explicit too: the
 *    index read it in the Mailman server's zone (source.timeZone, as pipermail did), HyperKitty
 *    would read it as UTC.
 * Nothing else is changed: no re-encoding, line endings kept.
 */
export function prepareMessage(stored: Buffer, row: MessageToPrepare): PreparedMessage {
  const changes: PreparedMessage['changes'] = [];
  let raw = unescapeFromLines(stored);
  if (raw.length !== stored.length) changes.push('from-lines-unescaped');

  const target = row.target_message_id;
  const scan = scanHeaders(raw);
  const eol = lineEnding(raw);
  const edits: { start: number; end: number; text: string }[] = [];
  // Python's email package (which HyperKitty uses) answers msg['Message-Id'] with the first field.
  const idField = scan.fields.find((f) => f.name === 'message-id');
  let originalMessageId: string | null = null;
  if (!idField) {
    changes.push('message-id-added');
    edits.push({ start: insertAt(scan), end: insertAt(scan), text: `Message-ID: <${target}>${eol}` });
  } else {
    const value = raw.toString('latin1', idField.valueStart, idField.end).replace(/\r?\n/g, '').trim();
    if (value !== `<${target}>`) {
      originalMessageId = value;
      changes.push('message-id-replaced');
      edits.push({ start: idField.start, end: idField.end, text: `Message-ID: <${target}>${eol}` });
    }
  }

  const dateField = scan.fields.find((f) => f.name === 'date');
  if (row.date && (row.date_repaired || (dateField && !hasZone(raw, dateField)))) {
    const text = `Date: ${rfc2822(row.date)}${eol}`;
    if (!dateField) {
      changes.push('date-added');
      edits.push({ start: insertAt(scan), end: insertAt(scan), text });
    } else {
      changes.push('date-replaced');
      const old = raw.subarray(dateField.valueStart, dateField.end).toString('latin1').replace(/\r?\n$/, '');
      const keepOriginal = scan.fields.some((f) => f.name === 'x-original-date') ? '' : `X-Original-Date:${old}${eol}`;
      edits.push({ start: dateField.start, end: dateField.end, text: text + keepOriginal });
    }
  }

  if (edits.length) raw = applyEdits(raw, edits);
  return { raw, hash: messageIdHash(target), changes, originalMessageId };
}

/** The URL HyperKitty gives a message of `fqdn` whose stored Message-ID is `targetMessageId`. */
export function expectedMessageUrl(hyperkittyBase: string, fqdn: string, targetMessageId: string): string {
  const base = hyperkittyBase.endsWith('/') ? hyperkittyBase : `${hyperkittyBase}/`;
  return `${base}list/${fqdn}/message/${messageIdHash(targetMessageId)}/`;
}

function hasZone(raw: Buffer, field: { valueStart: number; end: number }): boolean {
  const text = raw.toString('latin1', field.valueStart, field.end).replace(/\r?\n[ \t]/g, ' ').trim();
  return parseMailDate(text, 'UTC')?.hadZone ?? true;
}

/** Where a new header field goes: after the last field, before the blank line (or body). */
function insertAt(scan: ReturnType<typeof scanHeaders>): number {
  const last = scan.fields[scan.fields.length - 1];
  return last ? last.end : 0;
}

function lineEnding(raw: Buffer): string {
  const nl = raw.indexOf(0x0a);
  return nl > 0 && raw[nl - 1] === 0x0d ? '\r\n' : '\n';
}

function applyEdits(raw: Buffer, edits: { start: number; end: number; text: string }[]): Buffer {
  // Stable by position: two insertions at one point keep their order (Message-ID before Date).
  const sorted = edits.map((e, i) => ({ ...e, i })).sort((a, b) => a.start - b.start || a.i - b.i);
  const parts: Buffer[] = [];
  let pos = 0;
  for (const e of sorted) {
    parts.push(raw.subarray(pos, e.start), Buffer.from(e.text, 'latin1'));
    pos = e.end;
  }
  parts.push(raw.subarray(pos));
  return Buffer.concat(parts);
}

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** RFC 5322 date in UTC, e.g. "Tue, 14 Mar 2023 10:00:00 +0000". */
export function rfc2822(iso: string): string {
  const d = new Date(iso);
  const p = (n: number): string => String(n).padStart(2, '0');
  return `${DAYS[d.getUTCDay()]}, ${p(d.getUTCDate())} ${MONTHS[d.getUTCMonth()]} ${d.getUTCFullYear()} ${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())} +0000`;
}

/** asctime in UTC for an mbox From_ line, e.g. "Tue Mar 14 10:00:00 2023". */
export function asctime(iso: string): string {
  const d = new Date(iso);
  const p = (n: number): string => String(n).padStart(2, '0');
  return `${DAYS[d.getUTCDay()]} ${MONTHS[d.getUTCMonth()]} ${String(d.getUTCDate()).padStart(2, ' ')} ${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())} ${d.getUTCFullYear()}`;
}

/** A message to archive, in replay order. */
export interface ReplayRow extends MessageToPrepare {
  ordinal: number;
  offset: number;
  length: number;
  message_id: string;
  synthetic_id: number;
  duplicate_kind: string | null;
  parent_ordinal: number | null;
  depth: number | null;
  from_address: string | null;
}

/**
 * Every message to archive (identical stored copies excluded: they are one message), oldest thread
 * first and parents before their replies (replay_key is max(own date, parent's key)).
 */
export function replayRows(db: StateDb, list: string): Promise<ReplayRow[]> {
  return db.all<ReplayRow>(
    `SELECT ordinal, offset, length, message_id, target_message_id, synthetic_id, duplicate_kind, date, date_repaired,
            parent_ordinal, depth, from_address
       FROM messages WHERE list = ? AND duplicate_kind IS NOT 'same' ORDER BY replay_key, depth, ordinal`,
    [list],
  );
}
