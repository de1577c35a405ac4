import { createHash } from 'node:crypto';
import { headerText, scanHeaders, type HeaderScan } from './message-meta.js';

/**
 * Duplicate Message-IDs in an archive come in two kinds that need opposite handling:
 *
 * - the same post stored twice (an old mbox appended again before `bin/arch --wipe`, a post delivered
 *   through two routes, a live copy plus an imported backup): drop the second copy;
 * - two different posts that share an id (broken MUAs, "resent" messages, hand-made ids such as
 *   <meeting-notes@example.org>): both must survive, and HyperKitty would silently drop the second.
 *
 * To tell them apart the content is compared without the headers that differ between two stored
 * copies of one post: transport headers added on each delivery (Received, Return-Path, Delivered-To,
 * …), mailbox state written by MUAs and IMAP servers (Status, X-Status, X-UID, X-Mozilla-Status,
 * Content-Length, Lines), headers Mailman adds or rewrites per processing (X-List-Received-Date,
 * X-BeenThere, X-Mailman-Version, List-*, and Date/X-Original-Date, which ArchRunner's date clobbering
 * rewrites depending on when the copy was processed), and spam/virus scanner verdicts. Header order
 * is ignored (Mailman's change_header deletes and re-appends), line endings are normalised to LF and
 * trailing blank lines (mbox framing) are dropped. What remains – author, recipients, subject, ids,
 * MIME structure and body – is what makes two copies the same post.
 */
const VOLATILE_EXACT = new Set([
  'received', 'return-path', 'delivered-to', 'x-original-to', 'envelope-to', 'x-envelope-from', 'x-envelope-to',
  'x-list-received-date', 'x-beenthere', 'x-mailman-version', 'precedence', 'errors-to', 'sender',
  'date', 'x-original-date', 'x-archived-at', 'archived-at',
  'status', 'x-status', 'x-keywords', 'x-uid', 'x-imap', 'x-imapbase', 'content-length', 'lines',
  'x-mozilla-status', 'x-mozilla-status2', 'x-mozilla-keys', 'x-evolution', 'x-evolution-source',
  'authentication-results', 'received-spf', 'x-received', 'x-gm-message-state', 'x-google-smtp-source',
]);
const VOLATILE_PREFIXES = ['list-', 'x-spam', 'x-virus', 'arc-', 'x-ms-exchange-', 'x-mailman-'];

const volatileNames = new Map<string, boolean>();

function isVolatile(name: string): boolean {
  let v = volatileNames.get(name);
  if (v === undefined) {
    v = VOLATILE_EXACT.has(name) || VOLATILE_PREFIXES.some((p) => name.startsWith(p));
    // Field names repeat across an archive; the bound only guards against hostile input.
    if (volatileNames.size < 4096) volatileNames.set(name, v);
  }
  return v;
}

/** Sorts like `Array.prototype.sort()` does strings; in place, without sort's scratch copy for the usual dozen fields. */
function sortStrings(a: string[]): void {
  if (a.length > 32) {
    a.sort();
    return;
  }
  for (let i = 1; i < a.length; i++) {
    const v = a[i]!;
    let j = i - 1;
    while (j >= 0 && a[j]! > v) {
      a[j + 1] = a[j]!;
      j--;
    }
    a[j + 1] = v;
  }
}

/**
 * SHA-1 hex of the message with volatile headers removed (see above). `scan` may be passed when the
 * caller already ran scanHeaders on the same bytes.
 */
export function stableContentHash(raw: Buffer, scan?: HeaderScan): string {
  let text = raw;
  if (raw.includes(0x0d)) {
    text = Buffer.from(raw.toString('latin1').replace(/\r\n/g, '\n'), 'latin1');
    scan = undefined;
  }
  scan ??= scanHeaders(text);
  const head = headerText(text, scan);
  const kept: string[] = [];
  for (const f of scan.fields) {
    if (!isVolatile(f.name)) kept.push(head.slice(f.start, f.end > f.start && head.charCodeAt(f.end - 1) === 0x0a ? f.end - 1 : f.end));
  }
  sortStrings(kept);
  let bodyEnd = text.length;
  while (bodyEnd > scan.bodyStart && (text[bodyEnd - 1] === 0x0a || text[bodyEnd - 1] === 0x20 || text[bodyEnd - 1] === 0x09)) bodyEnd--;
  const h = createHash('sha1');
  h.update(kept.join('\n'), 'latin1');
  h.update('\n\n', 'latin1');
  h.update(text.subarray(scan.bodyStart, bodyEnd));
  return h.digest('hex');
}

export interface DuplicateInfo {
  /** Ordinal of the first message seen with this Message-ID. */
  firstOrdinal: number;
  /** True when both copies are the same post (see stableContentHash), false for an id collision. */
  sameContent: boolean;
}

export interface TrackableMessage {
  ordinal: number;
  raw: Buffer;
  meta: { messageId: string };
  /** stableContentHash(raw) when the reader already computed it (MboxMessage does). */
  stableHash?: string;
}

/**
 * Remembers every normalised Message-ID seen in one list's archive. In-memory (about 100 bytes per
 * message), meant for `inspect`; the migration pipeline keeps the same data in its SQLite state.
 */
export class DuplicateTracker {
  private readonly seen = new Map<string, { ordinal: number; hash: string }>();

  /** Null for the first message with an id; otherwise which message came first and whether it is the same post. */
  check(msg: TrackableMessage): DuplicateInfo | null {
    const hash = msg.stableHash ?? stableContentHash(msg.raw);
    const first = this.seen.get(msg.meta.messageId);
    if (!first) {
      this.seen.set(msg.meta.messageId, { ordinal: msg.ordinal, hash });
      return null;
    }
    return { firstOrdinal: first.ordinal, sameContent: first.hash === hash };
  }

  get size(): number {
    return this.seen.size;
  }
}
