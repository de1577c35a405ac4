/**
 * What Mailman 2.1 does to a post between the MTA and the list mbox, reproduced on a draft:
 * CookHeaders (subject prefix, X-BeenThere, List-* headers), ArchRunner's date clobbering and
 * X-List-Received-Date, and Mailbox.AppendMessage's unix-from line, `>From ` mangling and trailing
 * blank line (see reference mailman2.md §3).
 */
import { type Charset } from './charsets.js';
import { pythonFormatdate, type ServerZone, offsetText } from './dates.js';
import { type Draft } from './messages.js';
import { encodeWords, encodeWordsShortest, foldHeader } from './mime-encoding.js';
import { type Rng } from './random.js';

export interface ListIdentity {
  /** Internal (lower-case) list name. */
  name: string;
  realName: string;
  /** Mail host (host_name). */
  host: string;
  /** Host part of web_page_url. */
  webHost: string;
  webScheme: 'http' | 'https';
  /** List description, as text. */
  description: string;
  /** Charset of the list's preferred language. */
  charset: Charset;
  /** subject_prefix, e.g. `[DevTalk] ` or `[nihongo:%05d] `. */
  subjectPrefix: string;
  archivePrivate: boolean;
}

export type ClobberPolicy = 0 | 1 | 2;

/** ARCHIVER_ALLOWABLE_SANE_DATE_SKEW default (Defaults.py.in): 15 days. */
const SANE_DATE_SKEW_MS = 15 * 86_400_000;

/** Mailman 2.1 releases, to stamp X-Mailman-Version with what a site plausibly ran at the time. */
const RELEASES: ReadonlyArray<readonly [string, string]> = [
  ['2003-02-08', '2.1.1'],
  ['2003-04-19', '2.1.2'],
  ['2004-01-01', '2.1.4'],
  ['2004-05-15', '2.1.5'],
  ['2005-05-31', '2.1.6'],
  ['2006-09-13', '2.1.9'],
  ['2008-04-21', '2.1.10'],
  ['2008-06-30', '2.1.11'],
  ['2009-02-23', '2.1.12'],
  ['2009-12-22', '2.1.13'],
  ['2010-09-20', '2.1.14'],
  ['2012-06-13', '2.1.15'],
  ['2013-10-21', '2.1.16'],
  ['2014-05-05', '2.1.18'],
  ['2015-03-31', '2.1.20'],
  ['2016-08-27', '2.1.23'],
  ['2018-02-04', '2.1.26'],
  ['2018-07-15', '2.1.29'],
  ['2020-07-26', '2.1.34'],
  ['2021-12-13', '2.1.39'],
];
const RELEASE_MS = RELEASES.map(([d, v]) => [Date.parse(d + 'T00:00:00Z'), v] as const);

export function mailmanVersionAt(ms: number, lagDays: number): string {
  const at = ms - lagDays * 86_400_000;
  let version = (RELEASES[0] as readonly [string, string])[1];
  for (const [released, v] of RELEASE_MS) if (released <= at) version = v;
  return version;
}

function versionBefore(version: string, than: string): boolean {
  const a = version.split('.').map(Number);
  const b = than.split('.').map(Number);
  for (let i = 0; i < 3; i++) if ((a[i] ?? 0) !== (b[i] ?? 0)) return (a[i] ?? 0) < (b[i] ?? 0);
  return false;
}

export interface CookedMessage {
  /** From_ line and header block, ending with the blank line (byte string). */
  head: string;
  /** Body plus the blank line Mailman appends (byte string). */
  body: string;
  /** Subject as a reader sees it after decoding (prefix included). */
  subject: string;
  dateClobbered: boolean;
}

/** Header parts that do not change between posts of one list (List-*, X-BeenThere). */
export class ListHeaders {
  private readonly tail: string;

  constructor(readonly list: ListIdentity) {
    const address = `${list.name}@${list.host}`;
    const web = `${list.webScheme}://${list.webHost}/mailman/`;
    const request = `${list.name}-request@${list.host}`;
    const idPart = `<${list.name}.${list.host}>`;
    let listId: string;
    if (!list.description) listId = `List-Id: ${idPart}`;
    // eslint-disable-next-line no-control-regex
    else if (/[^\x00-\x7f]/.test(list.description)) {
      // Python's Charset maps euc-jp to iso-2022-jp for headers.
      const cs: Charset = list.charset === 'euc-jp' ? 'iso-2022-jp' : list.charset === 'us-ascii' ? 'utf-8' : list.charset;
      const words = cs === 'utf-8'
        ? encodeWordsShortest(list.description, cs, { lowerEncoding: true })
        : encodeWords(list.description, cs, cs === 'iso-8859-1' ? 'Q' : 'B', { lowerEncoding: true });
      listId = `List-Id: ${words.join('\n ')}\n ${idPart}`;
    } else {
      const flat = `List-Id: ${list.description} ${idPart}`;
      listId = flat.length > 78 ? `List-Id: ${list.description}\n ${idPart}` : flat;
    }
    const archive = list.archivePrivate ? `${web}private/${list.name}/` : `${list.webScheme}://${list.webHost}/pipermail/${list.name}/`;
    this.tail = [
      listId,
      `List-Unsubscribe: <${web}options/${list.name}>,\n <mailto:${request}?subject=unsubscribe>`,
      `List-Archive: <${archive}>`,
      `List-Post: <mailto:${address}>`,
      `List-Help: <mailto:${request}?subject=help>`,
      `List-Subscribe: <${web}listinfo/${list.name}>,\n <mailto:${request}?subject=subscribe>`,
    ].join('\n');
  }

  block(version: string): string {
    return `X-BeenThere: ${this.list.name}@${this.list.host}\nX-Mailman-Version: ${version}\nPrecedence: list\n${this.tail}`;
  }

  bounces(): string {
    return `${this.list.name}-bounces@${this.list.host}`;
  }
}

/**
 * CookHeaders.prefix_subject: strip the prefix and any Re:/AW:/SV: run, then write
 * `Re: [Prefix] subject` (OLD_STYLE_PREFIXING) or `[Prefix N] Re: subject` when the prefix holds a
 * post number; non-ASCII subjects are re-encoded in their first charset with lower-case `?q?`/`?b?`.
 */
export function cookSubject(draft: Draft, list: ListIdentity, postId: number): { line: string; text: string } {
  const s = draft.subject;
  const numbered = /%\d*d/.test(list.subjectPrefix);
  const prefix = list.subjectPrefix.trim().replace(/%(\d*)d/, (_m, width: string) => {
    const n = String(postId);
    return width ? n.padStart(Number(width), '0') : n;
  });
  const subjectText = s.text.trim() === '' ? '(no subject)' : s.text.trim();
  const re = s.reply ? 'Re:' : '';
  const head = numbered ? [prefix, ...(re ? [re] : [])] : [...(re ? [re] : []), prefix];
  const text = `${head.join(' ')} ${subjectText}`;
  // eslint-disable-next-line no-control-regex
  if (!/[^\x00-\x7f]/.test(subjectText)) return { line: foldHeader('Subject', [...head, ...subjectText.split(' ')], 78), text };
  const cs = s.charset === 'us-ascii' ? 'utf-8' : s.charset;
  const words =
    cs === 'utf-8'
      ? encodeWordsShortest(subjectText, cs, { lowerEncoding: true })
      : encodeWords(subjectText, cs, cs === 'iso-8859-1' ? 'Q' : 'B', { lowerEncoding: true });
  return { line: foldHeader('Subject', [...head, ...words]), text };
}

export interface CookInput {
  draft: Draft;
  headers: ListHeaders;
  zone: ServerZone;
  /** When the list's MTA received it (From_ line, Received, X-List-Received-Date). */
  receivedMs: number;
  /** When ArchRunner archived it (later than received for held posts). */
  archivedMs: number;
  /** Set for held posts approved by a moderator. */
  approvedMs: number | null;
  postId: number;
  version: string;
  policy: ClobberPolicy;
  /** Envelope is gone (bin/inject without sender): Mailman writes `From nobody <ctime>`. */
  noEnvelope: boolean;
  /** Extra trace headers added on the way in (sender MTA Received, DKIM, virus scanner). */
  traceHeaders: string[];
}

export function cook(rng: Rng, input: CookInput): CookedMessage {
  const { draft, headers, zone } = input;
  const list = headers.list;
  const out: string[] = [];
  const envelope = draft.envelopeSender;
  out.push(input.noEnvelope ? `From nobody ${zone.ctime(input.archivedMs)}` : `From ${envelope}  ${zone.ctime(input.receivedMs)}`);
  out.push(`Return-Path: <${envelope}>`);
  const senderHost = `mail.${envelope.slice(envelope.lastIndexOf('@') + 1)}`;
  out.push(
    `Received: from ${senderHost} (${senderHost} [${ipFor(rng)}])\n\tby ${list.host} (Postfix) with ESMTP${rng.chance(0.7) ? 'S' : ''} id ${rng.chars('0123456789ABCDEF', 10)}\n\tfor <${list.name}@${list.host}>; ${zone.postfixDate(input.receivedMs)}`,
  );
  for (const h of input.traceHeaders) out.push(h);

  let clobber = false;
  if (draft.originalDate === null) clobber = true;
  else if (input.policy === 1) clobber = true;
  else if (input.policy === 2) clobber = Number.isNaN(draft.dateMs) || Math.abs(input.archivedMs - draft.dateMs) > SANE_DATE_SKEW_MS;

  const version = input.version;
  // prefix_subject does nothing without a prefix, and gives up on raw 8-bit subjects; the
  // client's Subject then stays where it was.
  const keepSubject = draft.subject.raw8bit || list.subjectPrefix.trim() === '';
  for (const h of draft.headers) {
    if (h.key === 'subject' && !keepSubject) continue;
    if (h.key === 'date' && clobber) continue;
    out.push(h.line);
  }
  // Before 2.1.10 CookHeaders also set Sender and Errors-To to the -bounces address.
  if (versionBefore(version, '2.1.10')) {
    out.push(`Sender: ${headers.bounces()}`, `Errors-To: ${headers.bounces()}`);
  }
  if (input.approvedMs !== null) {
    out.push(`X-Mailman-Approved-At: ${localFormatdate(zone, input.approvedMs)}`);
  }
  let subjectText: string;
  if (keepSubject) {
    subjectText = `${draft.subject.reply ? draft.subject.replyWord + ' ' : ''}${draft.subject.text}`;
  } else {
    const cooked = cookSubject(draft, list, input.postId);
    out.push(cooked.line);
    subjectText = cooked.text;
  }
  out.push(headers.block(version));
  const received = pythonFormatdate(input.receivedMs);
  if (clobber) {
    out.push(`Date: ${received}`);
    if (draft.originalDate) out.push(`X-Original-Date: ${draft.originalDate}`);
  }
  out.push(`X-List-Received-Date: ${received}`);
  const head = out.join('\n') + '\n\n';
  return { head, body: mboxBody(draft.body), subject: subjectText, dateClobbered: clobber };
}

/**
 * Mailbox.AppendMessage: the message ends with a newline, then one more newline follows. Draft
 * bodies always end with a newline (reading the last character of a big rope string would flatten
 * it, so this is by construction, and the tests check it).
 */
export function mboxBody(body: string): string {
  return body + '\n';
}

/** email.Utils.formatdate(t, localtime=True) in the server zone, as in X-Mailman-Approved-At. */
function localFormatdate(zone: ServerZone, ms: number): string {
  const offset = zone.offsetMinutes(ms);
  const d = new Date(ms + offset * 60_000);
  const dow = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'][d.getUTCDay()];
  const mon = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'][d.getUTCMonth()];
  const p = (n: number) => String(n).padStart(2, '0');
  return `${dow}, ${p(d.getUTCDate())} ${mon} ${d.getUTCFullYear()} ${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())} ${offsetText(offset)}`;
}

/** Documentation addresses (RFC 5737) for Received headers. */
export function ipFor(rng: Rng): string {
  return `${rng.pick(['192.0.2', '198.51.100', '203.0.113'])}.${rng.int(1, 254)}`;
}
