import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { createGunzip } from 'node:zlib';
import { UserError, type Problem } from '../problems.js';
import { assertTimeZone, parseEnvelopeDate } from './message-date.js';
import { stableContentHash } from './duplicates.js';
import { parseMessageMeta, scanHeaders, type MessageMeta, type MessageMetaContext } from './message-meta.js';

/**
 * Streaming reader for Mailman 2.1 list archives (`archives/private/<list>.mbox/<list>.mbox`).
 *
 * Why not mbox-reader (installed): it splits at every line starting "From " (the very behaviour of
 * Mailman's archiver that produced the broken fragments), strips one '>' from every ">From " line,
 * rebuilds each message from line strings (CRLF becomes LF, the final newline is dropped) and has no
 * byte offsets, so neither exact raw bytes nor resumable indexing is possible. Its per-line JS path
 * also leaves little of the time budget for header parsing. Here candidate separators are found with
 * Buffer.indexOf('\nFrom ') on 1 MiB chunks, only candidate lines become strings, and raw bytes are
 * sliced, never re-encoded.
 *
 * Why a strict separator rule: Mailman's archiver (PortableUnixMailbox) split at every line starting
 * "From ", so unescaped body lines in imported legacy mboxes produced headerless fragments. We use
 * the check of Mailman's own repair tool, bin/cleanarch: the line must match Python's
 * UnixMailbox._fromlinepattern and the next line must be a header field. We take the next-line
 * check as fixed in 2.1.40 (LP #1957025: field name directly followed by ':'); the 2.1.39 version
 * accepted any line with a colon somewhere, so "I said: hi" after a quoted From_ line passed. On
 * top, the From_ date must be a real date (month and weekday names, ranges), which the regex alone
 * does not ensure. No blank line is required before a separator (cleanarch does not require one).
 */

export interface ReadMboxOptions extends Omit<MessageMetaContext, 'envelope' | 'ordinal' | 'offset' | 'file'> {
  /** Read size; 1 MiB by default. */
  chunkSize?: number;
  /**
   * Start reading at this byte (for .gz: of the decompressed stream), which must be where a message
   * begins, e.g. the end of what an earlier run indexed. Offsets stay absolute; ordinals restart at 0.
   */
  startOffset?: number;
}

export interface MboxEnvelope {
  /** The envelope sender of the From_ line ("MAILER-DAEMON", "-" and "nobody" occur). */
  sender: string;
  /** The From_ line date as ISO UTC, read in opts.timeZone when the line has no zone. */
  date: string | null;
  /** The whole From_ line without its line break. */
  line: string;
}

export interface MboxMessage {
  /** 0-based position among yielded messages (quarantined entries included). */
  ordinal: number;
  /** Byte offset of the From_ line (for .gz, in the decompressed stream). */
  offset: number;
  /** Bytes from the From_ line up to the next separator (or end of file). */
  length: number;
  /** Null for quarantined data that was not introduced by a From_ line. */
  envelope: MboxEnvelope | null;
  /** The message without the From_ line, exactly as stored (mboxo-escaped, trailing blank line kept). */
  raw: Buffer;
  meta: MessageMeta;
  problems: Problem[];
  /** Not a message to migrate as is: data before the first From_ line, or a UW-IMAP folder pseudo-message. */
  quarantined: boolean;
  /** Body lines starting "From " that did not pass the separator check (unescaped, did not split). */
  unescapedFromLines: number;
  /** Lines starting ">From " (mboxo escaping as written by Mailman's Generator, or quoting). */
  escapedFromLines: number;
  /** Content hash without volatile headers (duplicates.ts): equal for two stored copies of one post. */
  stableHash: string;
}

const LF = 0x0a;
const DECIDE_BYTES = 4096;
const NL_FROM = Buffer.from('\nFrom ', 'latin1');
const NL_ESCAPED_FROM = Buffer.from('\n>From ', 'latin1');
const ESCAPED_FROM = Buffer.from('>From ', 'latin1');
const FROM_ = Buffer.from('From ', 'latin1');

// Python 2's \s and \w on byte strings (no LOCALE/UNICODE flag): ASCII only.
const S = '[ \\t\\n\\r\\f\\v]';
const NS = '[^ \\t\\n\\r\\f\\v]';
const W = '[A-Za-z0-9_]';
/** mailbox.UnixMailbox._fromlinepattern (Python 2.7), used by bin/cleanarch. */
const FROM_LINE = new RegExp(
  `^From ${S}*${NS}+${S}+${W}{3}${S}+${W}{3}${S}+\\d?\\d${S}+\\d?\\d:\\d\\d(:\\d\\d)?(${S}+${NS}+)?${S}+\\d\\d\\d\\d${S}*${NS}*${S}*$`,
);
/** cleanarch's header check on the line after a From_ line (2.1.40 form, see above). */
const HEADER_LINE = /^[\x21-\x39\x3b-\x7e]+:/;

/**
 * Decide whether a line starting "From " is a message separator. `nextLine` is null when the line is
 * the last of the file. Returns the parsed envelope or null (body text).
 */
export function checkSeparator(line: string, nextLine: string | null, timeZone = 'UTC'): MboxEnvelope | null {
  if (!FROM_LINE.test(line)) return null;
  if (nextLine === null || !HEADER_LINE.test(nextLine)) return null;
  const m = /^From [ \t\n\r\f\v]*([^ \t\n\r\f\v]+)[ \t\n\r\f\v]+(.*)$/.exec(line);
  if (!m) return null;
  const date = parseEnvelopeDate(m[2]!, timeZone);
  if (!date || date.epochMs < 0 || !validWeekday(m[2]!)) return null;
  return { sender: m[1]!, date: new Date(date.epochMs).toISOString(), line };
}

function validWeekday(dateText: string): boolean {
  const first = dateText.trim().slice(0, 3).toLowerCase();
  return ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'].includes(first);
}

/**
 * Undo one level of mboxo escaping (">From " → "From " at line starts), as written by Mailman's
 * Generator (mangle_from_=True). mboxo does not escape lines that already start with ">From ", so a
 * quoted ">From " in the original text is unescaped too; that ambiguity is inherent in the format.
 */
export function unescapeFromLines(raw: Buffer): Buffer {
  const cut: number[] = [];
  if (raw.length >= 6 && raw[0] === 0x3e && raw.subarray(1, 6).equals(FROM_)) cut.push(0);
  let i = raw.indexOf(NL_ESCAPED_FROM);
  while (i >= 0) {
    cut.push(i + 1);
    i = raw.indexOf(NL_ESCAPED_FROM, i + 1);
  }
  if (cut.length === 0) return Buffer.from(raw);
  const out = Buffer.allocUnsafe(raw.length - cut.length);
  let src = 0;
  let dst = 0;
  for (const c of cut) {
    dst += raw.copy(out, dst, src, c);
    src = c + 1; // skip the '>'
  }
  raw.copy(out, dst, src);
  return out;
}

/** Lines starting ">From " (at the start or after a LF). '>' is rarer than LF, so the search for it is faster. */
function countEscaped(raw: Buffer): number {
  let n = 0;
  let i = raw.indexOf(ESCAPED_FROM);
  while (i >= 0) {
    if (i === 0 || raw[i - 1] === LF) n++;
    i = raw.indexOf(ESCAPED_FROM, i + 1);
  }
  return n;
}

function lineText(buf: Buffer, start: number, end: number): string {
  let e = end;
  if (e > start && buf[e - 1] === 0x0d) e--;
  return buf.toString('latin1', start, e);
}

/** Is `buf[start..]` possibly the beginning of a "From " line (shorter tails count as possible)? */
function mayStartFrom(buf: Buffer, start: number): boolean {
  const n = Math.min(5, buf.length - start);
  for (let k = 0; k < n; k++) if (buf[start + k] !== FROM_[k]) return false;
  return true;
}

async function isGzipFile(path: string): Promise<boolean> {
  let fh;
  try {
    fh = await open(path, 'r');
    const head = Buffer.alloc(2);
    const { bytesRead } = await fh.read(head, 0, 2, 0);
    return bytesRead === 2 && head[0] === 0x1f && head[1] === 0x8b;
  } catch (err) {
    throw new UserError(`cannot read mbox ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  } finally {
    await fh?.close();
  }
}

interface Pending {
  offset: number;
  envelope: MboxEnvelope | null;
  parts: Buffer[];
  unescaped: number;
}

/**
 * Stream the messages of an mbox (plain or gzip, LF or CRLF) in constant memory: one chunk plus the
 * message being assembled. Never throws on content; unreadable files raise UserError.
 */
export async function* readMbox(path: string, opts: ReadMboxOptions = {}): AsyncGenerator<MboxMessage> {
  for await (const messages of readMboxBatches(path, opts)) yield* messages;
}

/**
 * readMbox, one array per chunk read (never empty): the same messages in the same order. Each
 * step of an async generator costs a few promises (and AsyncLocalStorage's hook on each), per
 * message that is measurable at ~30,000 messages a second.
 */
export async function* readMboxBatches(path: string, opts: ReadMboxOptions = {}): AsyncGenerator<MboxMessage[]> {
  const timeZone = opts.timeZone ?? 'UTC';
  try {
    assertTimeZone(timeZone);
  } catch (err) {
    throw new UserError(`reading ${path}: ${(err as Error).message}`);
  }
  const chunkSize = opts.chunkSize ?? 1 << 20;
  const startOffset = opts.startOffset ?? 0;
  if (!Number.isSafeInteger(startOffset) || startOffset < 0) throw new UserError(`reading ${path}: invalid startOffset ${startOffset}`);
  const gzip = await isGzipFile(path);
  const fileProblems: Problem[] = [];
  if (!gzip && /\.gz$/i.test(path)) {
    fileProblems.push({ severity: 'warning', code: 'mbox-not-gzip', file: path, message: `${path}: named .gz but not gzip data; read as plain mbox` });
  }
  const file = createReadStream(path, { highWaterMark: chunkSize, start: gzip ? 0 : startOffset });
  const gunzip = gzip ? createGunzip({ chunkSize }) : null;
  // pipe() does not forward read errors; without this a failing read would leave gunzip waiting.
  if (gunzip) file.on('error', (err) => gunzip.destroy(err));
  const source: AsyncIterable<Buffer> = gunzip ? file.pipe(gunzip) : file;

  let ordinal = 0;
  let base = startOffset; // absolute offset of win[0]
  let toSkip = gzip ? startOffset : 0; // decompressed bytes before startOffset
  let carry: Buffer | null = null;
  let atLineStart = true;
  let lastByte = -1;
  let total = 0;
  let cur: Pending = { offset: startOffset, envelope: null, parts: [], unescaped: 0 };

  // One context for every message: parseMessageMeta reads it while it runs and keeps no reference.
  const ctx: MessageMetaContext = { ...opts, envelope: null, ordinal: 0, offset: 0, file: path };
  const finish = (p: Pending, end: number, extra: Problem[]): MboxMessage | null => {
    // A message within one window is a view of it (no copy); the window stays alive as long as it.
    const raw = p.parts.length === 1 ? p.parts[0]! : Buffer.concat(p.parts);
    if (!p.envelope && raw.length === 0) return null;
    if (!p.envelope && /^\s*$/.test(raw.toString('latin1'))) return null; // blank lines before the first From_
    ctx.envelope = p.envelope;
    ctx.ordinal = ordinal;
    ctx.offset = p.offset;
    const headerScan = scanHeaders(raw);
    const meta = parseMessageMeta(raw, ctx, headerScan);
    const where = `${path} message #${ordinal} at byte ${p.offset}`;
    const problems: Problem[] = [...meta.problems];
    let quarantined = false;
    if (!p.envelope) {
      quarantined = true;
      const first = raw.toString('latin1', 0, Math.min(raw.length, 200)).split(/\r?\n/)[0] ?? '';
      problems.unshift({
        severity: 'error', code: 'mbox-data-before-first-separator', file: path, key: meta.messageId,
        message: `${where}: ${raw.length} bytes before the first valid From_ line quarantined (starts ${JSON.stringify(first.slice(0, 80))})`,
      });
    } else if (/FOLDER INTERNAL DATA/i.test(meta.subject) && /^X-IMAP(base)?:/im.test(raw.toString('latin1', 0, meta.headerBytes))) {
      quarantined = true;
      problems.push({
        severity: 'warning', code: 'mbox-folder-internal-data', file: path, key: meta.messageId,
        message: `${where}: UW-IMAP "FOLDER INTERNAL DATA" pseudo-message quarantined`,
      });
    }
    if (p.unescaped > 0) {
      problems.push({
        severity: 'info', code: 'mbox-unescaped-from-line', file: path, key: meta.messageId,
        message: `${where}: ${p.unescaped} body line(s) starting "From " are not separators and did not split the message (Mailman's archiver split there)`,
      });
    }
    problems.push(...extra);
    if (opts.list) for (const pr of problems) pr.list ??= opts.list;
    return {
      ordinal: ordinal++,
      offset: p.offset,
      length: end - p.offset,
      envelope: p.envelope,
      raw,
      meta,
      problems,
      quarantined,
      unescapedFromLines: p.unescaped,
      escapedFromLines: countEscaped(raw),
      stableHash: stableContentHash(raw, headerScan),
    };
  };

  /**
   * Scan one window (carry + chunk). Returns the messages completed in it. Bytes that cannot be
   * decided yet (a candidate From line whose next line is not complete) become the next carry.
   */
  const scan = (win: Buffer, eof: boolean): MboxMessage[] => {
    const done: MboxMessage[] = [];
    let flushFrom = 0;
    let cand: number;
    if (atLineStart && mayStartFrom(win, 0) && win.length >= 5) cand = 0;
    else {
      const i = win.indexOf(NL_FROM);
      cand = i < 0 ? -1 : i + 1;
    }
    let lastDecided = -1;
    while (cand >= 0) {
      const e1 = win.indexOf(LF, cand);
      const e2 = e1 < 0 ? -1 : win.indexOf(LF, e1 + 1);
      // A From_ line is far shorter than DECIDE_BYTES and a header name ends well within it, so a
      // pathological line without line break is decided early instead of growing the carry.
      const decidable = eof || e2 >= 0 || (e1 < 0 ? win.length - cand > DECIDE_BYTES : win.length - e1 > DECIDE_BYTES);
      if (!decidable) {
        // Candidate line or its next line incomplete: decide with the next chunk.
        if (cand > flushFrom) cur.parts.push(win.subarray(flushFrom, cand));
        carry = win.subarray(cand);
        atLineStart = true;
        base += cand;
        return done;
      }
      const lineEnd = e1 < 0 ? win.length : e1;
      const line = lineText(win, cand, lineEnd);
      const next = e1 < 0 || e1 + 1 >= win.length ? null : lineText(win, e1 + 1, e2 < 0 ? win.length : e2);
      const envelope = e1 < 0 && !eof ? null : checkSeparator(line, next, timeZone);
      lastDecided = cand;
      if (envelope) {
        if (cand > flushFrom) cur.parts.push(win.subarray(flushFrom, cand));
        const msg = finish(cur, base + cand, []);
        if (msg) done.push(msg);
        cur = { offset: base + cand, envelope, parts: [], unescaped: 0 };
        flushFrom = e1 < 0 ? win.length : e1 + 1;
        const i = e1 < 0 ? -1 : win.indexOf(NL_FROM, e1);
        cand = i < 0 ? -1 : i + 1;
      } else {
        cur.unescaped++;
        const i = win.indexOf(NL_FROM, cand);
        cand = i < 0 ? -1 : i + 1;
      }
    }
    // Keep a trailing partial line that may turn out to be "From ..." for the next window.
    const lastNl = win.lastIndexOf(LF);
    const tail = lastNl + 1;
    // Without a line break in the window, its start is a line start only if the last window ended one.
    const tailAtLineStart = lastNl >= 0 || atLineStart;
    if (!eof && tail < win.length && tail >= flushFrom && tail > lastDecided && tailAtLineStart && mayStartFrom(win, tail)) {
      if (tail > flushFrom) cur.parts.push(win.subarray(flushFrom, tail));
      carry = win.subarray(tail);
      atLineStart = true;
      base += tail;
      return done;
    }
    if (win.length > flushFrom) cur.parts.push(win.subarray(flushFrom));
    carry = null;
    atLineStart = win.length > 0 ? win[win.length - 1] === LF : atLineStart;
    base += win.length;
    return done;
  };

  let streamError: Error | null = null;
  try {
    for await (const chunk of source) {
      let buf = chunk as Buffer;
      if (toSkip > 0) {
        const skip = Math.min(toSkip, buf.length);
        toSkip -= skip;
        buf = buf.subarray(skip);
      }
      if (buf.length === 0) continue;
      total += buf.length;
      lastByte = buf[buf.length - 1]!;
      const c: Buffer | null = carry;
      const win = c ? Buffer.concat([c, buf]) : buf;
      carry = null;
      const done = scan(win, false);
      if (done.length) {
        if (fileProblems.length) done[0]!.problems.unshift(...fileProblems.splice(0));
        yield done;
      }
    }
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (!gzip || !(e.code?.startsWith('Z_') || /unexpected end of file|incorrect header|invalid/i.test(e.message))) {
      throw new UserError(`cannot read mbox ${path}: ${e.code ?? e.message}`);
    }
    streamError = e;
  } finally {
    // Also runs when the consumer stops early (break): release the file.
    gunzip?.destroy();
    file.destroy();
  }
  const c2: Buffer | null = carry;
  carry = null;
  const completed = scan(c2 ?? Buffer.alloc(0), true);
  const extra: Problem[] = [];
  if (streamError) {
    extra.push({
      severity: 'error', code: 'mbox-gzip-truncated', file: path,
      message: `${path}: gzip data ends early (${streamError.message}) after ${total} bytes; the last message may be incomplete`,
    });
  } else if (total > 0 && lastByte !== LF) {
    extra.push({
      severity: 'warning', code: 'mbox-truncated', file: path,
      message: `${path}: file does not end with a line break; the last message is probably truncated`,
    });
  }
  const last = finish(cur, base, extra);
  const all = last ? [...completed, last] : completed;
  if (!last && extra.length && all.length) all[all.length - 1]!.problems.push(...extra);
  if (all.length) {
    if (fileProblems.length) all[0]!.problems.unshift(...fileProblems.splice(0));
    yield all;
  }
}
