/**
 * Composes one message as the poster's mail client sent it (a "draft"): headers in the client's
 * order and style, a body in the poster's charset and transfer encoding, MIME structure,
 * attachments. What Mailman does to it afterwards lives in mailman.ts.
 */
import { canEncode, encodeText, isSevenBit, tryEncodeText, type Charset } from './charsets.js';
import { senderDate, type BadDate, type DateStyle } from './dates.js';
import { encodeBase64, encodeQuotedPrintable, encodeWords, foldHeader, wrapLines } from './mime-encoding.js';
import { boundaryFor, dateStyleFor, mailerHeader, messageIdFor, wordStyleFor, type ClientKind, type Person } from './people.js';
import { type Rng } from './random.js';
import { BinaryPool, TextPool, type Block } from './text-pool.js';
import { FROM_PROSE, SIGNATURES, type Language } from './vocabulary.js';

export type BodyKind = 'plain' | 'alternative' | 'html-only' | 'attachments' | 'signed' | 'forward' | 'log';

/** What a later reply needs to know about a message. */
export interface ThreadNode {
  messageId: string | null;
  /** References of this message (not including its own id), oldest first. */
  references: string[];
  author: Person;
  lang: Language;
  paragraphs: number[];
  sentMs: number;
}

export interface SubjectSpec {
  /** Subject text without list prefix and without `Re:`. Empty = no subject. */
  text: string;
  /** Charset the client encoded it in (Mailman re-encodes in this charset). */
  charset: Charset;
  reply: boolean;
  /** The client sent raw 8-bit bytes instead of RFC 2047 words; Mailman then leaves it alone. */
  raw8bit: boolean;
  /** The reply prefix the client wrote (`Re:`, `RE:`, `AW:`, `SV:`). */
  replyWord: string;
}

export interface HeaderLine {
  /** Lower-case header name. */
  key: string;
  /** Complete, folded header line without trailing newline (byte string). */
  line: string;
}

export interface Draft {
  envelopeSender: string;
  headers: HeaderLine[];
  subject: SubjectSpec;
  originalDate: string | null;
  /** Epoch ms of the Date header as Python's parsedate_tz/mktime_tz reads it; NaN when unusable. */
  dateMs: number;
  messageId: string | null;
  /**
   * Body as it goes into the mbox (byte string, `\n` line ends). Text parts are already
   * `From `-escaped the way Python's Generator does it (mangle_from_), so the writers add nothing;
   * escaping per part keeps big base64 attachments from being scanned and copied.
   */
  body: string;
  /** A legacy body where the old software left some `From ` lines unescaped on purpose. */
  hasUnescapedFromLines: boolean;
  node: ThreadNode;
}

export interface ComposePlan {
  author: Person;
  /** The poster's clock when sending. */
  sentMs: number;
  parent: ThreadNode | null;
  subject: { text: string; lang: Language };
  kind: BodyKind;
  /** Byte sizes of binary attachments (kind 'attachments'). */
  attachmentSizes: number[];
  /** Byte size of a pasted log (kind 'log'). */
  logBytes: number;
  legacy: boolean;
  missingMessageId: boolean;
  /** Reuse this Message-ID (a duplicate id with different content). */
  forcedMessageId: string | null;
  badDate: BadDate['kind'] | null;
  /** Add an ordinary prose line that starts with "From ". */
  fromProse: boolean;
  /** Paste a quoted mbox excerpt (a From_ line followed by header lines) into the body. */
  mboxExcerpt: boolean;
  /**
   * Legacy only: the old software did not escape the prose/excerpt `From ` lines above (every
   * other body line starting with `From ` is escaped). Forces a plain 7bit/8bit body.
   */
  keepUnescaped: boolean;
  rawSubject: boolean;
  emptySubject: boolean;
  listAddress: string;
  listName: string;
}

interface Part {
  headers: string[];
  body: string;
}

const HTML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' };

function htmlEscape(text: string): string {
  return text.replace(/[&<>"]/g, (c) => HTML_ESCAPES[c] as string);
}

const GREETINGS: Record<Language, readonly string[]> = {
  en: ['Hi all,', 'Hello,', 'Hi,', 'Folks,', 'Hi everyone,'],
  fr: ['Bonjour,', 'Bonjour à tous,', 'Salut,'],
  de: ['Hallo zusammen,', 'Hallo,', 'Moin,'],
  ru: ['Здравствуйте!', 'Привет,', 'Добрый день!'],
  ja: ['皆さん、こんにちは。', 'お疲れさまです。'],
  misc: ['Hi all,', 'Hej!', 'Γεια σας,'],
};

const MAGIC: Record<string, { type: string; ext: string; magic: Uint8Array }> = {
  pdf: { type: 'application/pdf', ext: 'pdf', magic: Buffer.from('%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n', 'latin1') },
  png: { type: 'image/png', ext: 'png', magic: Buffer.from('89504e470d0a1a0a0000000d49484452000002800000019008060000', 'hex') },
  jpeg: { type: 'image/jpeg', ext: 'jpg', magic: Buffer.from('ffd8ffe000104a46494600010101004800480000', 'hex') },
  zip: { type: 'application/zip', ext: 'zip', magic: Buffer.from('504b0304140000000800', 'hex') },
  gz: { type: 'application/x-gzip', ext: 'tar.gz', magic: Buffer.from('1f8b0800000000000003', 'hex') },
  bin: { type: 'application/octet-stream', ext: 'bin', magic: Buffer.from('7f454c46020101000000', 'hex') },
};

const FILE_STEMS = ['report', 'screenshot', 'dashboard', 'minutes', 'slides', 'patch-series', 'build-log', 'diagram', 'photo', 'invoice', 'agenda', 'results', 'Résumé', 'Übersicht', 'план', '資料'];

const LOG_LEVELS = ['DEBUG', 'INFO', 'INFO', 'INFO', 'WARNING', 'ERROR'];
const LOG_TEXTS = ['connection reset by peer', 'retrying in 5 seconds', 'queue runner started', 'lock acquired', 'message 4711 delivered', 'cannot parse header', 'timeout after 60s', 'cache miss for key', 'worker exited with status 1', 'rebuilding index'];

function pad2(n: number): string {
  return n < 10 ? '0' + n : String(n);
}

export class MessageComposer {
  constructor(
    private readonly text: TextPool,
    private readonly binary: BinaryPool,
  ) {}

  compose(rng: Rng, plan: ComposePlan): Draft {
    const { author, parent } = plan;
    const client = author.client;
    const wordStyle = wordStyleFor(client, author.charset);

    // --- body text: blocks of literal text and pool paragraphs, joined by newlines ---
    const ownCount = plan.kind === 'log' ? 1 : rng.int(1, rng.chance(0.15) ? 8 : 4);
    const paragraphs: number[] = [];
    for (let i = 0; i < ownCount; i++) paragraphs.push(this.text.randomIndex(rng, author.lang));
    const blocks: Block[] = [];
    if (rng.chance(0.35)) blocks.push(rng.pick(GREETINGS[author.lang]), '');
    const topPost = parent !== null && (client === 'outlook' || (client === 'gmail' && rng.chance(0.6)));
    if (parent && !topPost && rng.chance(0.85)) {
      blocks.push(attribution(rng, parent, author.lang));
      const take = Math.min(parent.paragraphs.length, rng.int(1, 2));
      for (let i = 0; i < take; i++) {
        if (i > 0) blocks.push('>');
        blocks.push({ lang: parent.lang, index: parent.paragraphs[i] as number, quoted: true });
      }
      blocks.push('');
    }
    const deliberate: string[] = [];
    for (let i = 0; i < paragraphs.length; i++) {
      if (plan.fromProse && i === paragraphs.length - 1) {
        const prose = rng.pick(FROM_PROSE);
        deliberate.push(prose);
        blocks.push(prose);
      }
      blocks.push({ lang: author.lang, index: paragraphs[i] as number, quoted: false }, '');
    }
    if (plan.kind === 'log') blocks.push(logLines(rng, plan.logBytes, plan.sentMs).join('\n'), '');
    if (plan.mboxExcerpt) {
      const excerpt = mboxExcerpt(rng, plan);
      deliberate.push(excerpt[2] as string);
      blocks.push(excerpt.join('\n'), '');
    }
    const signoff = rng.pick(SIGNATURES);
    if (signoff) blocks.push(signoff + (author.lang === 'en' ? ',' : ''), firstName(author));
    if (rng.chance(0.3)) blocks.push('', '-- ', author.name || author.address, ...(rng.chance(0.4) ? [`http://www.${author.address.split('@')[1]}/`] : []));
    if (topPost && parent) blocks.push('', ...outlookQuote(rng, parent, plan));
    // End with exactly one newline.
    while (blocks.length > 0 && blocks[blocks.length - 1] === '') blocks.pop();
    blocks.push('');

    // --- charset: the poster's own, or UTF-8 when the text does not fit (quoted foreign text) ---
    let charset: Charset = author.charset === 'us-ascii' || author.lang === 'en' ? 'us-ascii' : author.charset;
    let bodyBytes = this.text.encodeBlocks(blocks, charset);
    if (bodyBytes === null && author.lang === 'en' && author.charset === 'us-ascii') {
      charset = 'iso-8859-1';
      bodyBytes = this.text.encodeBlocks(blocks, charset);
    }
    if (bodyBytes === null) {
      charset = 'utf-8';
      bodyBytes = this.text.encodeBlocks(blocks, charset) as string;
    }

    // --- MIME structure ---
    const label = charset === 'us-ascii' ? 'us-ascii' : wordStyle.label === charset ? charset : charset.toUpperCase();
    const textPart = this.textPart(rng, client, 'plain', bodyBytes, charset, label, plan.legacy, plan.keepUnescaped);
    let top: Part;
    switch (plan.kind) {
      case 'plain':
      case 'log':
        top = textPart;
        break;
      case 'alternative':
      case 'html-only': {
        const html = htmlVersion(blocks.map((b) => this.text.blockText(b)).join('\n').split('\n'), label, client);
        // Same text as the plain part plus ASCII markup, so it fits the same charset.
        const htmlBytes = encodeText(html, charset);
        const htmlPart = this.textPart(rng, client, 'html', htmlBytes, charset, label, plan.legacy, false);
        top = plan.kind === 'html-only' ? htmlPart : multipart(rng, client, 'alternative', [textPart, htmlPart], false);
        break;
      }
      case 'attachments': {
        const parts: Part[] = [textPart];
        for (const size of plan.attachmentSizes) parts.push(this.attachment(rng, client, size));
        top = multipart(rng, client, 'mixed', parts, client !== 'gmail');
        break;
      }
      case 'signed':
        top = signed(rng, client, textPart);
        break;
      case 'forward':
        top = multipart(rng, client, 'mixed', [textPart, forwardedPart(rng, plan, this.text)], client !== 'gmail');
        break;
    }

    // --- headers ---
    const messageId = plan.missingMessageId ? null : plan.forcedMessageId ?? messageIdFor(rng, author, plan.sentMs);
    const { header: dateHeader, parsedMs } = makeDate(rng, plan, client);
    const subjectSpec = makeSubject(rng, plan, author);
    const fields = new Map<string, string>();
    if (messageId) fields.set('message-id', `${client === 'apple' || client === 'evolution' || client === 'eudora' || client === 'pine' ? 'Message-Id' : 'Message-ID'}: ${messageId}`);
    if (dateHeader !== null) fields.set('date', `Date: ${dateHeader}`);
    fields.set('from', fromHeader(author, wordStyle));
    const to = rng.chance(0.85) ? plan.listAddress : `${plan.listName} <${plan.listAddress}>`;
    fields.set('to', `To: ${to}`);
    if (parent && rng.chance(0.25) && parent.author.address !== author.address) fields.set('cc', `Cc: ${plainAddress(parent.author)}`);
    if (parent) {
      const outlookOld = client === 'outlook' && new Date(plan.sentMs).getUTCFullYear() < 2010;
      if (parent.messageId) {
        fields.set('in-reply-to', `In-Reply-To: ${parent.messageId}`);
        if (!outlookOld && client !== 'eudora') {
          const refs = [...parent.references.slice(-12), parent.messageId];
          fields.set('references', foldHeader('References', refs));
        }
      }
      if (client === 'outlook') fields.set('thread-index', `Thread-Index: ${Buffer.from(rng.hex(22), 'hex').toString('base64')}`);
    }
    fields.set('subject', clientSubject(subjectSpec, wordStyle));
    const mailer = mailerHeader(rng, client, new Date(plan.sentMs).getUTCFullYear());
    if (mailer) fields.set(mailer.slice(0, mailer.indexOf(':')).toLowerCase(), mailer);
    if (top.headers.length > 0 || !plan.legacy || rng.chance(0.6)) {
      fields.set('mime-version', client === 'apple' || client === 'evolution' || client === 'eudora' ? 'Mime-Version: 1.0' : 'MIME-Version: 1.0');
    }
    const contentHeaders = top.headers;
    const headers = orderHeaders(client, fields, contentHeaders);

    const node: ThreadNode = {
      messageId,
      references: parent ? [...parent.references.slice(-12), ...(parent.messageId ? [parent.messageId] : [])] : [],
      author,
      lang: author.lang,
      paragraphs,
      sentMs: plan.sentMs,
    };
    let body = top.body;
    if (plan.keepUnescaped) {
      for (const line of deliberate) body = body.replace(`\n>${line}\n`, `\n${line}\n`);
    }
    return {
      envelopeSender: envelopeFor(rng, author),
      headers,
      subject: subjectSpec,
      originalDate: dateHeader,
      dateMs: parsedMs,
      messageId,
      body,
      hasUnescapedFromLines: plan.keepUnescaped,
      node,
    };
  }

  private textPart(rng: Rng, client: ClientKind, subtype: 'plain' | 'html', bytes: string, charset: Charset, label: string, legacy: boolean, raw: boolean): Part {
    let cte: string;
    let body = bytes;
    const sevenBit = charset === 'us-ascii' || charset === 'iso-2022-jp' || isSevenBit(bytes);
    if (sevenBit && !(subtype === 'html' && (client === 'outlook' || client === 'gmail'))) {
      cte = '7bit';
    } else if (charset === 'iso-2022-jp') {
      cte = '7bit';
    } else if (raw) {
      cte = '8bit';
    } else {
      const choice = rng.weighted<'8bit' | 'quoted-printable' | 'base64'>(
        charset === 'koi8-r'
          ? [[8, '8bit'], [2, 'base64']]
          : charset === 'iso-8859-1'
            ? [[5, '8bit'], [5, 'quoted-printable']]
            : client === 'gmail' || client === 'apple'
              ? [[2, '8bit'], [5, 'quoted-printable'], [3, 'base64']]
              : [[6, '8bit'], [3, 'quoted-printable'], [1, 'base64']],
      );
      cte = choice;
      if (choice === 'quoted-printable') body = encodeQuotedPrintable(bytes);
      else if (choice === 'base64') body = encodeBase64(bytes) + '\n';
    }
    body = escapeFromLines(body);
    const flowed = subtype === 'plain' && (client === 'thunderbird' || client === 'apple') && !legacy ? '; format=flowed' : '';
    const headers = [contentTypeLine(client, `text/${subtype}`, [`charset=${quoteParam(client, label)}`]) + flowed, `Content-Transfer-Encoding: ${cte}`];
    if (legacy && charset === 'us-ascii' && rng.chance(0.4)) return { headers: [], body };
    return { headers, body };
  }

  private attachment(rng: Rng, client: ClientKind, size: number): Part {
    const kind = MAGIC[rng.weighted([[4, 'pdf'], [4, 'png'], [2, 'jpeg'], [1, 'zip'], [1, 'gz'], [1, 'bin']] as const)] as (typeof MAGIC)[string];
    const stem = rng.pick(FILE_STEMS);
    const filename = `${stem}${rng.chance(0.3) ? '-' + rng.int(1, 12) : ''}.${kind.ext}`;
    const asciiName = !/[^\x20-\x7e]/.test(filename);
    const width = client === 'thunderbird' ? 72 : 76;
    const body = this.binary.base64(rng, Math.max(1, size), kind.magic, width);
    let nameParam: string;
    let dispParam: string;
    if (asciiName) {
      nameParam = `name="${filename}"`;
      dispParam = `filename="${filename}"`;
    } else if (client === 'thunderbird' || client === 'mutt' || client === 'apple') {
      const encoded = encodeURIComponent(filename).replace(/['()*]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase());
      nameParam = `name="${encodeWords(filename, 'utf-8', 'B', { charsetLabel: 'UTF-8' }).join(' ')}"`;
      dispParam = `filename*=utf-8''${encoded}`;
    } else {
      const word = encodeWords(filename, 'utf-8', 'B', { charsetLabel: 'utf-8' }).join(' ');
      nameParam = `name="${word}"`;
      dispParam = `filename="${word}"`;
    }
    return {
      headers: [
        contentTypeLine(client, kind.type, [nameParam]),
        'Content-Transfer-Encoding: base64',
        `Content-Disposition: ${rng.chance(0.15) ? 'inline' : 'attachment'};${client === 'outlook' ? '\n\t' : client === 'thunderbird' ? '\n ' : ' '}${dispParam}`,
      ],
      body,
    };
  }
}

/** What Python's email Generator does with mangle_from_=True: `From ` at a line start becomes `>From `. */
export function escapeFromLines(body: string): string {
  if (body.startsWith('From ')) body = '>' + body;
  return body.indexOf('\nFrom ') >= 0 ? body.replace(/\nFrom /g, '\n>From ') : body;
}

function firstName(person: Person): string {
  if (!person.name) return person.address.split('@')[0] as string;
  return person.lang === 'ja' ? person.name : (person.name.split(' ')[0] as string);
}

function attribution(rng: Rng, parent: ThreadNode, lang: Language): string {
  const who = parent.author.name || parent.author.address;
  const d = new Date(parent.sentMs + parent.author.tzOffset * 60_000);
  const date = `${pad2(d.getUTCDate())}/${pad2(d.getUTCMonth() + 1)}/${d.getUTCFullYear()} ${pad2(d.getUTCHours())}:${pad2(d.getUTCMinutes())}`;
  switch (lang) {
    case 'fr':
      return `Le ${date}, ${who} a écrit :`;
    case 'de':
      return `Am ${date.replace(/\//g, '.')} schrieb ${who}:`;
    case 'ja':
      return `${who} さんは書きました:`;
    default:
      return rng.chance(0.5) ? `${who} wrote:` : `On ${date}, ${who} wrote:`;
  }
}

function outlookQuote(rng: Rng, parent: ThreadNode, plan: ComposePlan): Block[] {
  const d = new Date(parent.sentMs);
  const out: Block[] = [
    '-----Original Message-----',
    `From: ${parent.author.name || parent.author.address} [mailto:${parent.author.address}]`,
    `Sent: ${d.toUTCString()}`,
    `To: ${plan.listAddress}`,
    `Subject: ${plan.subject.text}`,
    '',
  ];
  for (const p of parent.paragraphs.slice(0, rng.int(1, 3))) out.push({ lang: parent.lang, index: p, quoted: false }, '');
  return out;
}

function logLines(rng: Rng, bytes: number, ms: number): string[] {
  const out: string[] = [];
  let size = 0;
  let t = Math.floor((ms - 3_600_000) / 1000);
  const dayStart = Math.floor(t / 86_400) * 86_400;
  const day = new Date(dayStart * 1000).toISOString().slice(0, 10);
  while (size < bytes) {
    t += rng.int(0, 4);
    const s = (t - dayStart) % 86_400;
    const line = `${day} ${pad2(Math.floor(s / 3600))}:${pad2(Math.floor(s / 60) % 60)}:${pad2(s % 60)} ${rng.pick(LOG_LEVELS)} [worker-${rng.int(1, 16)}] ${rng.pick(LOG_TEXTS)} (${rng.hex(8)})`;
    out.push(line);
    size += line.length + 1;
  }
  return out;
}

/** A quoted mbox excerpt: a full From_ line followed by header lines, as people paste them. */
function mboxExcerpt(rng: Rng, plan: ComposePlan): string[] {
  const when = new Date(plan.sentMs - rng.int(30, 2000) * 86_400_000);
  const day = when.getUTCDate();
  const dow = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'][when.getUTCDay()];
  const mon = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'][when.getUTCMonth()];
  const time = `${pad2(when.getUTCHours())}:${pad2(when.getUTCMinutes())}:${pad2(when.getUTCSeconds())}`;
  const sender = `${rng.pick(['jdoe', 'admin', 'webmaster', 'old-list-owner'])}@${rng.pick(['cs.example.edu', 'old.example.com'])}`;
  return [
    `For the record, here is the original, as it sits in my mailbox:`,
    '',
    `From ${sender} ${dow} ${mon} ${day < 10 ? ' ' + day : day} ${time} ${when.getUTCFullYear()}`,
    `From: ${sender}`,
    `Subject: ${plan.subject.text || 'announcement'}`,
    `Date: ${dow}, ${day} ${mon} ${when.getUTCFullYear()} ${time} -0500`,
    '',
    'I am starting a new project.  Comments welcome.',
  ];
}

function forwardedPart(rng: Rng, plan: ComposePlan, text: TextPool): Part {
  const when = new Date(plan.sentMs - rng.int(1, 20) * 86_400_000);
  const vendor = rng.pick(['security@vendor.example', 'announce@upstream.example', 'noreply@tracker.example']);
  const inner = [
    `Return-Path: <${vendor}>`,
    `From: ${rng.pick(['Vendor Security', 'Upstream Announce', 'Issue Tracker'])} <${vendor}>`,
    `To: ${plan.author.address}`,
    `Subject: ${rng.pick(['Security advisory', 'Release announcement', 'Ticket updated'])} ${rng.int(100, 9999)}`,
    `Date: ${senderDate(when.getTime(), 0, 'rfc')}`,
    `Message-ID: <${rng.hex(16)}@${vendor.split('@')[1]}>`,
    '',
    text.text('en', text.randomIndex(rng, 'en')),
    // Mailman escapes this line inside message/rfc822 parts too.
    rng.chance(0.5) ? rng.pick(FROM_PROSE) : 'Please upgrade.',
    '',
  ].join('\n');
  return { headers: ['Content-Type: message/rfc822', 'Content-Disposition: inline'], body: escapeFromLines(inner) };
}

function htmlVersion(lines: readonly string[], label: string, client: ClientKind): string {
  const blocks: string[] = [];
  let para: string[] = [];
  let quote: string[] = [];
  const flushPara = () => {
    if (para.length) blocks.push(`<p>${para.map(htmlEscape).join('<br>\n')}</p>`);
    para = [];
  };
  const flushQuote = () => {
    if (quote.length) blocks.push(`<blockquote type="cite">${quote.map(htmlEscape).join('<br>\n')}</blockquote>`);
    quote = [];
  };
  for (const line of lines) {
    if (line.startsWith('>')) {
      flushPara();
      quote.push(line.replace(/^> ?/, ''));
    } else if (line === '') {
      flushPara();
      flushQuote();
    } else {
      flushQuote();
      para.push(line);
    }
  }
  flushPara();
  flushQuote();
  const inner = blocks.join('\n');
  if (client === 'gmail') return `<div dir="ltr">${inner}</div>\n`;
  return `<html><head><meta http-equiv="Content-Type" content="text/html; charset=${label}"></head><body>\n${inner}\n</body></html>\n`;
}

function quoteParam(client: ClientKind, value: string): string {
  return client === 'outlook' || client === 'gmail' ? `"${value}"` : value;
}

function contentTypeLine(client: ClientKind, type: string, params: string[]): string {
  const sep = client === 'outlook' ? ';\n\t' : client === 'apple' ? ';\n\t' : '; ';
  return `Content-Type: ${type}${params.map((p) => sep + p).join('')}`;
}

function multipart(rng: Rng, client: ClientKind, subtype: string, parts: Part[], preamble: boolean): Part {
  const boundary = boundaryFor(rng, client);
  const sep = client === 'gmail' || client === 'mutt' ? '; ' : client === 'outlook' || client === 'apple' ? ';\n\t' : ';\n ';
  // Plain concatenation (not join) keeps big attachment bodies as V8 rope strings, uncopied.
  let body = preamble ? 'This is a multi-part message in MIME format.\n' : '';
  for (const part of parts) body += `--${boundary}\n${part.headers.join('\n')}\n\n` + part.body + '\n';
  body += `--${boundary}--\n`;
  return {
    headers: [`Content-Type: multipart/${subtype}${sep}boundary="${boundary}"`],
    body,
  };
}

function signed(rng: Rng, client: ClientKind, textPart: Part): Part {
  const boundary = boundaryFor(rng, client);
  const sig = wrapLines(Buffer.from(rng.hex(140), 'hex').toString('base64'), 64);
  const signature = `-----BEGIN PGP SIGNATURE-----\nVersion: GnuPG v1.4.${rng.int(1, 12)} (GNU/Linux)\n\n${sig}\n=${rng.chars('ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789', 4)}\n-----END PGP SIGNATURE-----\n`;
  const body =
    `--${boundary}\n${textPart.headers.join('\n')}\n\n${textPart.body}\n` +
    `--${boundary}\nContent-Type: application/pgp-signature; name="signature.asc"\nContent-Description: OpenPGP digital signature\nContent-Disposition: attachment; filename="signature.asc"\n\n${signature}\n` +
    `--${boundary}--\n`;
  return {
    headers: [`Content-Type: multipart/signed; micalg=pgp-sha1;\n protocol="application/pgp-signature"; boundary="${boundary}"`],
    body,
  };
}

function needsQuoting(name: string): boolean {
  return /[,.;:@<>()[\]"\\]/.test(name);
}

function plainAddress(person: Person): string {
  if (!person.name) return person.address;
  // eslint-disable-next-line no-control-regex
  if (/[^\x00-\x7f]/.test(person.name)) {
    return `${encodeWords(person.name, 'utf-8', 'B', { charsetLabel: 'UTF-8' }).join(' ')} <${person.address}>`;
  }
  return needsQuoting(person.name) ? `"${person.name}" <${person.address}>` : `${person.name} <${person.address}>`;
}

function fromHeader(person: Person, style: { label: string; enc: 'B' | 'Q'; lower: boolean }): string {
  const addr = person.address;
  switch (person.nameStyle) {
    case 'bare':
      return `From: ${addr}`;
    case 'comment':
      return `From: ${addr} (${person.name})`;
    case 'plain':
      return `From: ${needsQuoting(person.name) ? `"${person.name}"` : person.name} <${addr}>`;
    case 'raw8bit':
      return `From: ${encodeText(person.name, person.charset)} <${addr}>`;
    case 'encoded':
    case 'quoted-encoded': {
      const words = encodeWords(person.name, person.charset, style.enc, { charsetLabel: style.label, lowerEncoding: style.lower });
      if (person.nameStyle === 'quoted-encoded') return `From: "${words.join(' ')}" <${addr}>`;
      return foldHeader('From', [...words, `<${addr}>`]);
    }
  }
}

function makeSubject(rng: Rng, plan: ComposePlan, author: Person): SubjectSpec {
  const text = plan.emptySubject ? '' : plan.subject.text;
  let charset: Charset = author.charset;
  // eslint-disable-next-line no-control-regex
  if (!/[^\x00-\x7f]/.test(text)) charset = 'us-ascii';
  else if (!canEncode(text, charset)) charset = 'utf-8';
  const replyWord = plan.parent
    ? author.lang === 'de' && rng.chance(0.5)
      ? 'AW:'
      : author.client === 'outlook'
        ? 'RE:'
        : 'Re:'
    : '';
  return {
    text,
    charset,
    reply: plan.parent !== null,
    raw8bit: plan.rawSubject && charset !== 'us-ascii' && (charset === 'iso-8859-1' || charset === 'utf-8'),
    replyWord,
  };
}

/**
 * The Subject header as the client wrote it. Mailman replaces it with its own (see mailman.ts)
 * unless the list has no prefix or the subject is raw 8-bit.
 */
function clientSubject(subject: SubjectSpec, style: { label: string; enc: 'B' | 'Q'; lower: boolean }): string {
  const re = subject.reply ? subject.replyWord + ' ' : '';
  if (subject.charset === 'us-ascii') return `Subject: ${re}${subject.text}`.trimEnd();
  if (subject.raw8bit) return `Subject: ${re}${encodeText(subject.text, subject.charset)}`;
  const label = style.label.toLowerCase() === subject.charset ? style.label : subject.charset;
  const words = encodeWords(subject.text, subject.charset, style.enc, { charsetLabel: label, lowerEncoding: style.lower });
  return foldHeader('Subject', re ? [re.trim(), ...words] : words);
}

function makeDate(rng: Rng, plan: ComposePlan, client: ClientKind): { header: string | null; parsedMs: number } {
  const offset = plan.author.tzOffset;
  const ms = plan.sentMs;
  const style: DateStyle = plan.legacy && rng.chance(0.3) ? 'rfc-comment' : dateStyleFor(rng, client);
  const year = new Date(ms).getUTCFullYear();
  switch (plan.badDate) {
    case null:
      if (rng.chance(0.01)) return { header: senderDate(ms, offset, 'no-zone'), parsedMs: ms };
      return { header: senderDate(ms, offset, style), parsedMs: ms };
    case 'missing':
      return { header: null, parsedMs: NaN };
    case 'unparseable': {
      const d = new Date(ms);
      const weekday = d.toLocaleDateString('en-US', { weekday: 'long', timeZone: 'UTC' });
      const month = d.toLocaleDateString('en-US', { month: 'long', timeZone: 'UTC' });
      const header = rng.pick([
        'sometime last week',
        `${weekday}, ${month} ${d.getUTCDate()}th ${year} around noon`,
        d.toISOString().slice(0, 19) + 'Z',
        `${pad2(d.getUTCDate())}/${pad2(d.getUTCMonth() + 1)}/${year} ${pad2(d.getUTCHours())}:${pad2(d.getUTCMinutes())}`,
        'Today',
        `${year}${pad2(d.getUTCMonth() + 1)}${pad2(d.getUTCDate())}`,
      ]);
      return { header, parsedMs: NaN };
    }
    case 'far-future': {
      const future = ms + rng.int(18, 90) * 365.25 * 86_400_000;
      return { header: senderDate(future, offset, style), parsedMs: future };
    }
    case 'far-past': {
      const past = Date.UTC(rng.pick([1970, 1980, 1999, 2001]), rng.int(0, 11), rng.int(1, 28), rng.int(0, 23), rng.int(0, 59));
      return { header: senderDate(past, offset, style), parsedMs: past };
    }
    case 'three-digit-year': {
      // Old clients that printed tm_year (years since 1900): 2002 -> "102", sometimes "0102".
      const text = senderDate(ms, offset, 'rfc-nopad').replace(String(year), (rng.chance(0.5) ? '0' : '') + String(year - 1900));
      return { header: text, parsedMs: NaN };
    }
    case 'two-digit-year':
      return { header: senderDate(ms, offset, 'two-digit-year'), parsedMs: ms };
  }
}

const CLIENT_ORDER: Record<ClientKind, readonly string[]> = {
  thunderbird: ['message-id', 'date', 'from', 'user-agent', 'x-mailer', 'mime-version', 'to', 'cc', 'subject', 'references', 'in-reply-to', 'content'],
  outlook: ['from', 'to', 'cc', 'subject', 'date', 'message-id', 'mime-version', 'content', 'x-mailer', 'thread-index', 'in-reply-to', 'references'],
  gmail: ['mime-version', 'references', 'in-reply-to', 'from', 'date', 'message-id', 'subject', 'to', 'cc', 'content'],
  apple: ['content', 'mime-version', 'subject', 'from', 'in-reply-to', 'date', 'cc', 'message-id', 'references', 'to', 'x-mailer'],
  mutt: ['date', 'from', 'to', 'cc', 'subject', 'message-id', 'references', 'mime-version', 'content', 'in-reply-to', 'user-agent'],
  pine: ['date', 'from', 'to', 'cc', 'subject', 'in-reply-to', 'message-id', 'references', 'mime-version', 'content'],
  evolution: ['subject', 'from', 'to', 'cc', 'in-reply-to', 'references', 'content', 'date', 'message-id', 'mime-version', 'x-mailer'],
  eudora: ['message-id', 'x-mailer', 'date', 'to', 'from', 'subject', 'in-reply-to', 'mime-version', 'content'],
  bot: ['message-id', 'date', 'from', 'to', 'subject', 'mime-version', 'content', 'x-mailer'],
};

function orderHeaders(client: ClientKind, fields: Map<string, string>, content: string[]): HeaderLine[] {
  const out: HeaderLine[] = [];
  const used = new Set<string>();
  for (const key of CLIENT_ORDER[client]) {
    if (key === 'content') {
      for (const line of content) out.push({ key: line.slice(0, line.indexOf(':')).toLowerCase(), line });
      continue;
    }
    const line = fields.get(key);
    if (line !== undefined) {
      out.push({ key, line });
      used.add(key);
    }
  }
  for (const [key, line] of fields) if (!used.has(key) && !CLIENT_ORDER[client].includes(key)) out.push({ key, line });
  return out;
}

/** Envelope sender: normally the poster, sometimes a bounce or SRS address of their provider. */
function envelopeFor(rng: Rng, person: Person): string {
  const r = rng.float();
  if (r < 0.94) return person.address;
  const [local, domain] = person.address.split('@') as [string, string];
  if (r < 0.97) return `SRS0=${rng.chars('abcdefghijklmnopqrstuvwxyz0123456789', 4)}=${rng.int(10, 99)}=${domain}=${local}@forwarder.example.net`;
  return `bounces+${rng.int(100000, 999999)}-${rng.hex(4)}-${local}=${domain}@em.example.com`;
}
