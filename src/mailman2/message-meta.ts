import { createHash } from 'node:crypto';
import { TextDecoder } from 'node:util';
import libmime from 'libmime';
import type { Problem } from '../problems.js';
import { decodeWithFallbacks } from './charset.js';
import { normalizeMessageId } from './message-id.js';
import { chooseMessageDate, type DateSource } from './message-date.js';

/**
 * Per-message metadata read from the header block only. A full MIME parse (mailparser) runs at a
 * few MB/s; archives of several GB must be read at disk speed, and migration needs only identity,
 * threading, date, author and subject.
 */

export interface Address {
  name: string;
  address: string;
}

export interface MessageMetaContext {
  /** List name (Mailman's internal name), used for the DMARC " via <list>" check and problem reports. */
  list?: string;
  /** The list's subject_prefix as configured, e.g. "[DevTalk] " or "[nihongo:%05d] ". */
  subjectPrefix?: string;
  /** The list posting address; its domain also names synthetic Message-IDs. */
  listAddress?: string;
  /** The list's charset (from its preferred language), tried for raw 8-bit header bytes after UTF-8. */
  charset?: string;
  envelope?: { sender: string; date: string | null } | null;
  ordinal?: number;
  offset?: number;
  file?: string;
  /** IANA zone for dates without a zone (the Mailman server's local zone). Default UTC. */
  timeZone?: string;
  /** Reference "now" for the 15-day future check; default the current time. */
  now?: Date;
}

export interface FromMungingUndone {
  /** The From header as Mailman rewrote it ("Alice via DevTalk" <devtalk@...>). */
  munged: Address;
  /** Where the original author came from. */
  source: 'x-original-from' | 'reply-to' | 'cc' | 'envelope';
}

export interface MessageMeta {
  /** normalizeMessageId form (HyperKitty's stored id, no angle brackets). */
  messageId: string;
  rawMessageId: string | null;
  messageIdSynthetic: boolean;
  /** ISO 8601 UTC. */
  date: string | null;
  dateSource: DateSource;
  /** True whenever the Date header was not the source of `date`. */
  dateRepaired: boolean;
  /** X-Original-Date, where Mailman's ArchRunner kept a Date it replaced. */
  originalDate: string | null;
  inReplyTo: string | null;
  /** Normalised ids, oldest first (header order). */
  references: string[];
  from: Address;
  fromMungingUndone: FromMungingUndone | null;
  /** Decoded Subject ('' when absent). */
  subject: string;
  /** Subject without the list's subject_prefix; reply markers (Re:) kept. */
  subjectStripped: string;
  /** Subject without prefix and without leading Re:/Fwd:/AW:/SV:… markers, whitespace collapsed. */
  threadSubject: string;
  /** SHA-1 hex of the raw message bytes, computed on first read (keeps a reference to the bytes until then). */
  readonly contentHash: string;
  /** Bytes of the header block including the blank line that ends it. */
  headerBytes: number;
  /** False when the header block did not end with a blank line (truncated or corrupt message). */
  headersTerminated: boolean;
  problems: Problem[];
}

export interface HeaderField {
  /** Lower-case field name. */
  name: string;
  /** Byte range of the whole field including continuation lines and the final line break. */
  start: number;
  end: number;
  /** First byte after the colon. */
  valueStart: number;
}

export interface HeaderScan {
  fields: HeaderField[];
  /** Offset where the body starts (after the blank line), or where the header block stopped. */
  bodyStart: number;
  /** How the header block ended. */
  end: 'blank-line' | 'non-header-line' | 'end-of-data';
}

const LF = 0x0a;
const CR = 0x0d;
const SP = 0x20;
const TAB = 0x09;
const COLON = 0x3a;

/** What scanHeaders returns: also the header block as a latin1 string, so that fields are read without a Buffer call each. */
interface ScannedHeaders extends HeaderScan {
  fields: ScannedField[];
  /** raw[0 … at least bodyStart) as latin1 (one char per byte, so string and byte offsets agree). */
  text: string;
}

/** `folded`: continuation lines follow the first line. */
interface ScannedField extends HeaderField {
  folded: boolean;
}

const LF_LF = Buffer.from('\n\n', 'latin1');

/**
 * The header block as a latin1 string: `raw` decoded up to its first blank line, which is where the
 * block ends at the latest (a "\r\n" blank line comes before that, or the whole message is decoded).
 */
export function headerText(raw: Buffer, scan: HeaderScan): string {
  return (scan as Partial<ScannedHeaders>).text ?? raw.toString('latin1', 0, scan.bodyStart);
}

/**
 * Field names seen so far, by a hash of their lower-cased characters: the same few dozen names
 * repeat in every message of an archive, so the string of a name is made once, not once per field.
 */
const NAME_CACHE_LIMIT = 4096;
const nameCache = new Map<number, string>();

function fieldName(text: string, start: number, end: number, hash: number): string {
  const key = (hash * 64 + (end - start)) | 0;
  const hit = nameCache.get(key);
  if (hit !== undefined && hit.length === end - start) {
    let k = 0;
    for (; k < hit.length; k++) {
      const b = text.charCodeAt(start + k);
      if ((b >= 0x41 && b <= 0x5a ? b + 32 : b) !== hit.charCodeAt(k)) break;
    }
    if (k === hit.length) return hit;
  }
  // Names stop at characters outside 0x21-0x7e, so ASCII lower-casing is all toLowerCase does here.
  const name = text.slice(start, end).toLowerCase();
  if (hit === undefined && nameCache.size < NAME_CACHE_LIMIT) nameCache.set(key, name);
  return name;
}

/**
 * Locate header fields in a raw message. Reads the header block only, never the body. Like
 * Python's email parser, a line that is neither a field nor a continuation ends the header block
 * (reported as `non-header-line`).
 */
export function scanHeaders(raw: Buffer): HeaderScan {
  const fields: ScannedField[] = [];
  const n = raw.length;
  const blank = raw.indexOf(LF_LF);
  const text = raw.toString('latin1', 0, blank < 0 ? n : blank + 2);
  let pos = 0;
  while (pos < n) {
    const nl = text.indexOf('\n', pos);
    const lineEnd = nl < 0 ? n : nl + 1;
    const c = text.charCodeAt(pos);
    if (c === LF || (c === CR && text.charCodeAt(pos + 1) === LF)) return { fields, bodyStart: lineEnd, end: 'blank-line', text } as ScannedHeaders;
    if ((c === SP || c === TAB) && fields.length > 0) {
      const last = fields[fields.length - 1]!;
      last.end = lineEnd;
      last.folded = true;
      pos = lineEnd;
      continue;
    }
    let i = pos;
    let hash = 0;
    while (i < lineEnd) {
      const b = text.charCodeAt(i);
      if (b === COLON || b <= SP || b > 0x7e) break;
      hash = (Math.imul(hash, 31) + (b >= 0x41 && b <= 0x5a ? b + 32 : b)) | 0;
      i++;
    }
    let j = i;
    while (j < lineEnd && (text.charCodeAt(j) === SP || text.charCodeAt(j) === TAB)) j++; // obsolete "Name : value"
    if (i > pos && text.charCodeAt(j) === COLON) {
      fields.push({ name: fieldName(text, pos, i, hash), start: pos, end: lineEnd, valueStart: j + 1, folded: false });
      pos = lineEnd;
      continue;
    }
    return { fields, bodyStart: pos, end: 'non-header-line', text } as ScannedHeaders;
  }
  return { fields, bodyStart: n, end: 'end-of-data', text } as ScannedHeaders;
}

const WANTED = new Set([
  'message-id', 'date', 'x-list-received-date', 'received', 'x-original-date', 'in-reply-to', 'references',
  'from', 'reply-to', 'x-original-from', 'cc', 'subject',
]);

/** Unfolded field value as a byte-preserving (latin1) string; the first occurrence wins, as with Python's msg[name]. */
function collectHeaders(raw: Buffer, scan: HeaderScan): Map<string, string> {
  const text = headerText(raw, scan);
  const out = new Map<string, string>();
  for (const f of scan.fields) {
    if (!WANTED.has(f.name) || out.has(f.name)) continue;
    const value = text.slice(f.valueStart, f.end);
    // One line: its line break is the only one, and trim() removes it (and a CR) as the replace would.
    out.set(f.name, (f as Partial<ScannedField>).folded === false ? value.trim() : value.replace(/\r?\n/g, '').trim());
  }
  return out;
}

class Reporter {
  readonly problems: Problem[] = [];
  constructor(private readonly ctx: MessageMetaContext) {}
  where(): string {
    const parts: string[] = [];
    if (this.ctx.file) parts.push(this.ctx.file);
    else if (this.ctx.list) parts.push(`list ${this.ctx.list}`);
    if (this.ctx.ordinal !== undefined) parts.push(`message #${this.ctx.ordinal}`);
    if (this.ctx.offset !== undefined) parts.push(`at byte ${this.ctx.offset}`);
    return parts.join(' ') || 'message';
  }
  add(severity: Problem['severity'], code: string, message: string, key?: string): void {
    const p: Problem = { severity, code, message: `${this.where()}: ${message}` };
    if (this.ctx.list) p.list = this.ctx.list;
    if (this.ctx.file) p.file = this.ctx.file;
    if (key) p.key = key;
    this.problems.push(p);
  }
}

// libmime's typings omit normalizeCharset, which maps MUA spellings (win-1252, ks_c_5601-1987…).
const normalizeCharset = (libmime as unknown as { normalizeCharset(cs: string): string }).normalizeCharset.bind(libmime);
const knownCharsets = new Map<string, boolean>();

/** Whether an RFC 2047 charset can be decoded (libmime would otherwise fall back to UTF-8 silently). */
function isKnownCharset(charset: string): boolean {
  const key = charset.toLowerCase();
  let known = knownCharsets.get(key);
  if (known === undefined) {
    known = false;
    for (const label of [charset, normalizeCharset(charset)]) {
      try {
        new TextDecoder(label);
        known = true;
        break;
      } catch {
        // try the next spelling
      }
    }
    knownCharsets.set(key, known);
  }
  return known;
}

/**
 * Raw 8-bit header bytes (not RFC 2047): UTF-8 if they are valid UTF-8, else the list charset (what
 * Mailman itself assumed), else latin-1 so that no byte is lost, with a problem.
 */
function decode8bit(latin1: string, ctx: MessageMetaContext, rep: Reporter, header: string): string {
  // eslint-disable-next-line no-control-regex
  if (!/[\x80-\xff]/.test(latin1)) return latin1;
  const bytes = Buffer.from(latin1, 'latin1');
  const charsets = ctx.charset ? ['utf-8', ctx.charset] : ['utf-8'];
  const decoded = decodeWithFallbacks(bytes, charsets);
  if (!decoded.lossless) {
    rep.add('warning', 'undecodable-header',
      `${header} header has raw 8-bit bytes that are neither UTF-8 nor ${ctx.charset ?? '(no list charset given)'}; read as latin-1`, header);
  }
  return decoded.text;
}

const ENCODED_WORD = /=\?([^?\s]+)\?([QqBb])\?([^?]*)\?=/g;

/** RFC 2047 via libmime; words in a charset nobody can decode are kept encoded (lossless) and reported. */
function decodeWords(text: string, rep: Reporter, header: string): string {
  if (!text.includes('=?')) return text;
  let unknown: string[] = [];
  const guarded = text.replace(ENCODED_WORD, (word: string, charset: string) => {
    const cs = charset.split('*')[0]!;
    if (isKnownCharset(cs)) return word;
    unknown.push(cs);
    return word.replace('=?', '=\u0000?');
  });
  let decoded: string;
  try {
    decoded = libmime.decodeWords(guarded);
  } catch (err) {
    rep.add('warning', 'undecodable-header', `${header} header: RFC 2047 decoding failed (${(err as Error).message}); kept encoded`, header);
    decoded = guarded;
  }
  if (unknown.length) {
    unknown = [...new Set(unknown)];
    rep.add('warning', 'unknown-charset', `${header} header uses unknown charset ${unknown.join(', ')}; kept RFC 2047 encoded`, header);
    decoded = decoded.replace(/=\u0000\?/g, '=?');
  }
  return decoded;
}

/** Split an address list at commas outside quotes, comments and angle brackets. */
function splitAddressList(value: string): string[] {
  // Without a separator the loop below would return the value itself (or nothing when blank).
  if (!value.includes(',') && !value.includes(';')) return value.trim() ? [value] : [];
  const out: string[] = [];
  let cur = '';
  let quote = false;
  let depth = 0;
  let angle = false;
  for (let i = 0; i < value.length; i++) {
    const ch = value[i]!;
    if (quote) {
      cur += ch;
      if (ch === '\\' && i + 1 < value.length) cur += value[++i];
      else if (ch === '"') quote = false;
      continue;
    }
    if (ch === '"') quote = true;
    else if (ch === '(') depth++;
    else if (ch === ')' && depth > 0) depth--;
    else if (ch === '<' && depth === 0) angle = true;
    else if (ch === '>' && depth === 0) angle = false;
    else if ((ch === ',' || ch === ';') && depth === 0 && !angle) {
      if (cur.trim()) out.push(cur);
      cur = '';
      continue;
    }
    cur += ch;
  }
  if (cur.trim()) out.push(cur);
  return out;
}

/** One mailbox: `Name <addr>`, `"Quoted, Name" <addr>`, `addr (Name)`, `addr`, `user at host`. */
function parseMailbox(part: string): Address | null {
  let text = part.trim();
  const group = text.includes(':') ? /^[^"<>(),]*:(.*)$/.exec(text) : null; // "group: a@b" → a@b
  if (group && !/^[^:]*@/.test(text)) text = group[1]!.trim();
  if (!text) return null;
  const comments: string[] = [];
  // Without quotes and comments the loop below copies every character to `rest`.
  const plain = !text.includes('"') && !text.includes('(');
  let rest = plain ? text : '';
  let quote = false;
  let depth = 0;
  let comment = '';
  for (let i = 0; !plain && i < text.length; i++) {
    const ch = text[i]!;
    if (depth > 0) {
      if (ch === '\\' && i + 1 < text.length) comment += text[++i];
      else if (ch === '(') { depth++; comment += ch; }
      else if (ch === ')') {
        depth--;
        if (depth === 0) { comments.push(comment.trim()); comment = ''; } else comment += ch;
      } else comment += ch;
      continue;
    }
    if (quote) {
      if (ch === '\\' && i + 1 < text.length) rest += text[++i];
      else if (ch === '"') quote = false;
      else rest += ch;
      continue;
    }
    if (ch === '"') quote = true;
    else if (ch === '(') depth = 1;
    else rest += ch;
  }
  let name: string;
  let address: string;
  const lt = rest.lastIndexOf('<');
  const gt = rest.indexOf('>', lt);
  if (lt >= 0) {
    // An unclosed '<' happens in truncated headers: keep what is there.
    address = rest.slice(lt + 1, gt > lt ? gt : undefined).trim();
    name = rest.slice(0, lt).replace(/\s+/g, ' ').trim() || comments.join(' ');
  } else {
    address = rest.trim();
    name = comments.join(' ');
    const at = /^(\S+)\s+at\s+(\S+)$/.exec(address); // pipermail-obscured "user at host"
    if (at) address = `${at[1]}@${at[2]}`;
    else if (/\s/.test(address)) {
      const token = address.split(/\s+/).find((t) => t.includes('@'));
      if (token) {
        name = name || address.replace(token, '').replace(/\s+/g, ' ').trim();
        address = token;
      }
    }
  }
  address = address.replace(/^mailto:/i, '');
  return { name: name.replace(/\s+/g, ' ').trim(), address };
}

function parseAddresses(value: string | undefined, rep: Reporter, header: string, ctx: MessageMetaContext): Address[] {
  if (!value) return [];
  const text = decode8bit(value, ctx, rep, header);
  const out: Address[] = [];
  for (const part of splitAddressList(text)) {
    const a = parseMailbox(part);
    if (a && (a.address || a.name)) out.push({ name: decodeWords(a.name, rep, header), address: a.address });
  }
  return out;
}

function idList(value: string | undefined): string[] {
  if (!value) return [];
  const bracketed = value.match(/<[^<>]*>/g);
  const parts = bracketed ?? value.split(/[\s,]+/);
  const out: string[] = [];
  for (const p of parts) {
    const id = normalizeMessageId(p);
    if (id) out.push(id);
  }
  return out;
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

const prefixPatterns = new Map<string, RegExp | null>();

/**
 * Mailman's CookHeaders.prefix_subject: the stripped prefix, regex-escaped, with `%d`/`%05d` standing
 * for a post number; every occurrence is removed (re.sub), wherever it sits in the subject.
 */
function prefixPattern(prefix: string | undefined, list: string | undefined): RegExp | null {
  const key = `${prefix ?? ''}\u0000${list ?? ''}`;
  if (prefixPatterns.has(key)) return prefixPatterns.get(key)!;
  let re: RegExp | null = null;
  const p = (prefix ?? '').trim();
  if (p) {
    const source = escapeRegExp(p).replace(/%\d*d/g, '\\s*\\d+\\s*');
    re = new RegExp(`\\s*${source}\\s*`, 'g');
  } else if (list) {
    // No configured prefix known: Mailman's default is "[<real_name>] ".
    re = new RegExp(`\\s*\\[${escapeRegExp(list)}\\]\\s*`, 'gi');
  }
  prefixPatterns.set(key, re);
  return re;
}

/**
 * Reply/forward markers as Mailman (RE|AW|SV|VS, optionally "[2]") and common MUAs write them,
 * including localised forms and the French "RE :" spacing.
 */
const REPLY_MARKERS = /^\s*((?:re|aw|sv|vs|antw|odp|ynt|ang|res|r|rif|fw|fwd|wg|tr|enc|rv|réf|ref|vá|továbbítás)\s*(?:\[\d+\]|\(\d+\))?\s*:\s*)+/iu;

function stripPrefix(subject: string, pattern: RegExp | null): string {
  if (!pattern) return subject.trim();
  // The pattern swallows the whitespace around the prefix; put one space back between words.
  return subject.replace(pattern, (_m: string, offset: number) => (offset === 0 ? '' : ' ')).trim();
}

export function threadSubjectOf(subjectWithoutPrefix: string): string {
  let s = subjectWithoutPrefix;
  for (;;) {
    const m = REPLY_MARKERS.exec(s);
    if (!m || m[0].length === 0) break;
    s = s.slice(m[0].length);
  }
  return s.replace(/\s+/g, ' ').trim();
}

/** `<hex>@<host>` without brackets, deterministic from the message bytes so that re-runs agree. */
function syntheticMessageId(contentHash: string, ctx: MessageMetaContext): string {
  const at = ctx.listAddress?.lastIndexOf('@') ?? -1;
  const host = at >= 0 ? ctx.listAddress!.slice(at + 1).toLowerCase() : 'mm2migrate.invalid';
  return `mm2migrate.${contentHash.slice(0, 24)}@${host}`;
}

/**
 * Mailman's DMARC mitigation (from_is_list / dmarc_moderation_action "Munge From") rewrote From to
 * `"<name> via <List>" <list posting address>` and moved the author into Reply-To (appended last
 * unless already present). Recover the author so the archive shows who wrote the message.
 */
function undoFromMunging(
  from: Address,
  headers: Map<string, string>,
  ctx: MessageMetaContext,
  rep: Reporter,
): { from: Address; undone: FromMungingUndone } | null {
  if (!ctx.listAddress || from.address.toLowerCase() !== ctx.listAddress.toLowerCase()) return null;
  const m = /^(.*?)\s*\bvia\s+(.+)$/i.exec(from.name);
  if (!m) return null;
  if (ctx.list && m[2]!.trim().toLowerCase() !== ctx.list.toLowerCase()) return null;
  const origName = m[1]!.trim();
  const listAddr = ctx.listAddress.toLowerCase();
  const notList = (a: Address): boolean => a.address.includes('@') && a.address.toLowerCase() !== listAddr;
  const pick = (list: Address[], preferLast: boolean): Address | undefined => {
    const candidates = list.filter(notList);
    const byName = origName ? candidates.find((a) => a.name === origName) : undefined;
    return byName ?? (preferLast ? candidates[candidates.length - 1] : candidates[0]);
  };
  const sources: [FromMungingUndone['source'], Address | undefined][] = [
    ['x-original-from', pick(parseAddresses(headers.get('x-original-from'), rep, 'X-Original-From', ctx), false)],
    ['reply-to', pick(parseAddresses(headers.get('reply-to'), rep, 'Reply-To', ctx), true)],
    ['cc', pick(parseAddresses(headers.get('cc'), rep, 'Cc', ctx), false)],
    ['envelope', ctx.envelope?.sender && ctx.envelope.sender.includes('@') && ctx.envelope.sender.toLowerCase() !== listAddr
      ? { name: '', address: ctx.envelope.sender } : undefined],
  ];
  for (const [source, found] of sources) {
    if (!found) continue;
    rep.add('info', 'from-munging-undone', `From "${from.name}" <${from.address}> was DMARC-munged by Mailman; author taken from ${source}: ${found.address}`);
    return { from: { name: origName || found.name, address: found.address }, undone: { munged: from, source } };
  }
  rep.add('warning', 'from-munging-unresolved', `From "${from.name}" <${from.address}> was DMARC-munged by Mailman and no original author was found`);
  return null;
}

/**
 * Parse the header block of one message (raw bytes without the From_ line). Never throws on bad
 * input: everything odd becomes a problem in `problems`. `scan` may be passed when the caller
 * already ran scanHeaders on the same bytes.
 */
export function parseMessageMeta(raw: Buffer, ctx: MessageMetaContext = {}, scan: HeaderScan = scanHeaders(raw)): MessageMeta {
  const rep = new Reporter(ctx);
  // Only messages without a usable Message-ID need this hash now; others compute it on first read
  // (a SHA-1 pass over every message was ~10 % of indexing, and the index never reads it).
  let contentHash: string | undefined;
  const hashRaw = (): string => (contentHash ??= createHash('sha1').update(raw).digest('hex'));
  const headers = collectHeaders(raw, scan);

  const headersTerminated = scan.end === 'blank-line';
  if (scan.end === 'non-header-line') {
    rep.add('warning', 'headers-unterminated', scan.fields.length === 0
      ? 'message has no header fields (first line is body text)'
      : `header block ends at a non-header line at byte ${scan.bodyStart} without a blank line`);
  } else if (scan.end === 'end-of-data') {
    rep.add('warning', 'headers-unterminated', 'message ends inside its header block (truncated?)');
  }

  // Message-ID
  const rawIdHeader = headers.get('message-id');
  const rawMessageId = rawIdHeader === undefined ? null : rawIdHeader;
  let messageId = rawMessageId === null ? '' : normalizeMessageId(rawMessageId);
  let messageIdSynthetic = false;
  if (!messageId) {
    messageId = syntheticMessageId(hashRaw(), ctx);
    messageIdSynthetic = true;
    rep.add('info', 'message-id-missing', rawMessageId === null
      ? `no Message-ID header; using synthetic id <${messageId}>`
      : `unusable Message-ID ${JSON.stringify(rawMessageId)}; using synthetic id <${messageId}>`, messageId);
  }
  const key = messageId;

  // Date chain
  const chosen = chooseMessageDate(
    {
      date: headers.get('date') ?? null,
      xListReceivedDate: headers.get('x-list-received-date') ?? null,
      received: headers.get('received') ?? null,
      envelopeIso: ctx.envelope?.date ?? null,
    },
    ctx.timeZone ?? 'UTC',
    ctx.now ?? new Date(),
  );
  if (chosen.date === null) {
    rep.add('warning', 'date-missing', `no usable date (Date, X-List-Received-Date, Received, From_ line)${
      chosen.rejected.length ? `; rejected: ${chosen.rejected.map((r) => `${r.source} ${JSON.stringify(r.text)} (${r.reason})`).join(', ')}` : ''}`, key);
  } else if (chosen.dateRepaired) {
    const dateRejected = chosen.rejected.find((r) => r.source === 'date');
    rep.add('info', 'date-repaired', `${dateRejected ? `Date ${JSON.stringify(dateRejected.text)} ${dateRejected.reason}` : 'no Date header'}; using the ${chosen.dateSource} date ${chosen.date}`, key);
  }

  // Threading
  const inReplyTo = idList(headers.get('in-reply-to'))[0] ?? null;
  const references = idList(headers.get('references'));

  // Author
  let from = parseAddresses(headers.get('from'), rep, 'From', ctx)[0] ?? { name: '', address: '' };
  if (!from.address.includes('@') && ctx.envelope?.sender.includes('@')) {
    // Pipermail showed an empty author here; the envelope sender is the best evidence left.
    rep.add('info', 'from-missing', `no usable From address${from.address ? ` (${JSON.stringify(from.address)})` : ''}; using the envelope sender ${ctx.envelope.sender}`, key);
    from = { name: from.name, address: ctx.envelope.sender };
  }
  let fromMungingUndone: FromMungingUndone | null = null;
  const undone = undoFromMunging(from, headers, ctx, rep);
  if (undone) {
    from = undone.from;
    fromMungingUndone = undone.undone;
  }

  // Subject
  const subjectRaw = headers.get('subject');
  const subject = subjectRaw === undefined ? '' : decodeWords(decode8bit(subjectRaw, ctx, rep, 'Subject'), rep, 'Subject');
  const subjectStripped = stripPrefix(subject, prefixPattern(ctx.subjectPrefix, ctx.list));
  const threadSubject = threadSubjectOf(subjectStripped);

  const originalDate = headers.get('x-original-date');
  return {
    messageId,
    rawMessageId,
    messageIdSynthetic,
    date: chosen.date,
    dateSource: chosen.dateSource,
    dateRepaired: chosen.dateRepaired,
    originalDate: originalDate === undefined ? null : decode8bit(originalDate, ctx, rep, 'X-Original-Date'),
    inReplyTo,
    references,
    from,
    fromMungingUndone,
    subject,
    subjectStripped,
    threadSubject,
    get contentHash(): string {
      return hashRaw();
    },
    headerBytes: scan.bodyStart,
    headersTerminated,
    problems: rep.problems,
  };
}
