import { simpleParser, type Attachment, type ParsedMail } from 'mailparser';
import TurndownService from 'turndown';
import { linesToMarkdown, mailLines, type MailLine } from './plain-markdown.js';

export interface BodyOptions {
  /** Use the HTML alternative when there is one (Discourse's incoming_email_prefer_html). */
  preferHtml: boolean;
  /** Put a trailing block of quoted reply text into a collapsed [details] block. */
  foldQuotedTails: boolean;
}

export interface MailAttachment {
  filename: string;
  contentType: string;
  content: Buffer;
  /** Content-ID without <>, when an HTML part refers to it as cid:. */
  cid: string | null;
}

export interface PostBody {
  markdown: string;
  source: 'text' | 'html' | 'none';
  attachments: MailAttachment[];
  /** Parts left out the way Discourse leaves them out (signatures, vCards, PGP/S-MIME signatures). */
  dropped: string[];
}

/** Email::Receiver's blocked_attachment_content_types and blocked_attachment_filenames defaults. */
const BLOCKED_TYPES = /pkcs7|x-vcard|(?:^|\/)vcard|pgp-keys|pgp-signature|pgp-encrypted/i;
const BLOCKED_NAMES = /^(?:smime\.p7s|signature\.asc|winmail\.dat)$/i;

/**
 * Mailman writes its mbox as mboxo: a body line "From …" is stored as ">From …" and the two cannot be
 * told apart afterwards. The unescaped form is the likelier original (a quoted From_ line is rare),
 * and without this every such line would show as a quote.
 */
export function unescapeFromLines(raw: Buffer): Buffer {
  const needle = Buffer.from('\n>From ');
  if (raw.indexOf(needle) < 0) return raw;
  return Buffer.from(raw.toString('latin1').replace(/\n>From /g, '\nFrom '), 'latin1');
}

let turndown: TurndownService | null = null;
function htmlToMarkdown(html: string): string {
  if (!turndown) {
    turndown = new TurndownService({ headingStyle: 'atx', codeBlockStyle: 'fenced', bulletListMarker: '-', emDelimiter: '*' });
    turndown.remove(['style', 'script', 'head', 'title', 'meta']);
  }
  return turndown.turndown(html).replace(/\n{3,}/g, '\n\n').trim();
}

/** Inline PGP (RFC 4880 cleartext signatures): keep the signed text, drop the armour. */
function stripInlinePgp(text: string): { text: string; stripped: boolean } {
  const m = /-----BEGIN PGP SIGNED MESSAGE-----\r?\n(?:[A-Za-z-]+: [^\n]*\r?\n)*\r?\n([\s\S]*?)\r?\n?-----BEGIN PGP SIGNATURE-----[\s\S]*?-----END PGP SIGNATURE-----[^\n]*\n?/.exec(text);
  if (!m) return { text, stripped: false };
  const signed = m[1]!.replace(/^- /gm, '');
  return { text: text.slice(0, m.index) + signed + '\n' + text.slice(m.index + m[0].length), stripped: true };
}

/** Drops the signature after the last "-- " delimiter line (RFC 3676 §4.3) at quote level 0. */
function dropSignature(lines: MailLine[]): { lines: MailLine[]; dropped: boolean } {
  for (let i = lines.length - 1; i >= 0; i--) {
    const l = lines[i]!;
    if (l.quoteLevel === 0 && (l.text === '-- ' || l.text === '--') && lines.length - i <= 40) {
      const before = lines.slice(0, i);
      if (before.some((x) => x.text.trim() !== '')) return { lines: before, dropped: true };
    }
  }
  return { lines, dropped: false };
}

const ATTRIBUTION = /(?:wrote|writes|schrieb|a écrit|escribió|ha scritto|skrev|kirjoitti|napisał|написал\(а\)|написал|написала|schreef|escreveu|の(?:メッセージ|メール)[:：]?|より[:：]?)\s*:?\s*$|^-{2,}\s*(?:Original Message|Ursprüngliche Nachricht|Message d'origine|Mensaje original)\s*-{2,}\s*$/i;

/**
 * A quoted reply tail: the run of quoted lines at the end of a message (plus the "On …, X wrote:"
 * line above it), below text of the author's own. Returns the index where it starts, or -1.
 */
export function quotedTailStart(lines: MailLine[]): number {
  let end = lines.length;
  while (end > 0 && lines[end - 1]!.text.trim() === '' && lines[end - 1]!.quoteLevel === 0) end--;
  let i = end;
  while (i > 0 && (lines[i - 1]!.quoteLevel > 0 || (lines[i - 1]!.text.trim() === '' && i < end))) i--;
  if (i === end) return -1;
  // An attribution line may be wrapped over two lines by the sender's client.
  for (let k = 1; k <= 2 && i - k >= 0; k++) {
    const joined = lines.slice(i - k, i).map((l) => l.text.trim()).join(' ');
    if (lines[i - k]!.quoteLevel === 0 && ATTRIBUTION.test(joined)) {
      i -= k;
      break;
    }
  }
  while (i > 0 && lines[i - 1]!.text.trim() === '' && lines[i - 1]!.quoteLevel === 0) i--;
  const own = lines.slice(0, i).some((l) => l.quoteLevel === 0 && l.text.trim() !== '');
  return own ? i : -1;
}

function textToMarkdown(text: string, opts: BodyOptions, dropped: string[]): string {
  const pgp = stripInlinePgp(text);
  if (pgp.stripped) dropped.push('inline PGP signature');
  let lines = mailLines(pgp.text);
  const sig = dropSignature(lines);
  if (sig.dropped) dropped.push('signature');
  lines = sig.lines;
  if (opts.foldQuotedTails) {
    const start = quotedTailStart(lines);
    if (start >= 0) {
      const own = linesToMarkdown(lines.slice(0, start));
      const tail = linesToMarkdown(lines.slice(start)).replace(/^\s*\n/, '');
      return `${own}\n\n[details="Quoted text"]\n${tail}\n[/details]`;
    }
  }
  return linesToMarkdown(lines);
}

function describeForward(m: ParsedMail): string {
  const head = [
    m.from?.text ? `From: ${m.from.text}` : null,
    m.date ? `Date: ${m.date.toUTCString()}` : null,
    m.subject ? `Subject: ${m.subject}` : null,
  ].filter((x): x is string => x !== null);
  return head.join('\n');
}

function blocked(a: Attachment): boolean {
  return BLOCKED_TYPES.test(a.contentType) || (a.filename !== undefined && BLOCKED_NAMES.test(a.filename));
}

/**
 * The post body of one archived message: the text part (or the HTML part, converted, when there is
 * no text or HTML is preferred), signatures removed, attached messages shown as quotes, and the
 * attachments to upload. Blocked parts are listed in `dropped`.
 */
export async function messageBody(raw: Buffer, opts: BodyOptions): Promise<PostBody> {
  const parsed = await simpleParser(unescapeFromLines(raw), { skipHtmlToText: true, skipTextToHtml: true, skipTextLinks: true, keepCidLinks: true, skipImageLinks: true });
  const dropped: string[] = [];
  const html = typeof parsed.html === 'string' && parsed.html.trim() !== '' ? parsed.html : null;
  const text = parsed.text !== undefined && parsed.text.trim() !== '' ? parsed.text : null;
  let markdown = '';
  let source: PostBody['source'] = 'none';
  if (html !== null && (opts.preferHtml || text === null)) {
    markdown = htmlToMarkdown(html);
    source = 'html';
  } else if (text !== null) {
    markdown = textToMarkdown(text, opts, dropped);
    source = 'text';
  }

  const attachments: MailAttachment[] = [];
  for (const a of parsed.attachments) {
    const name = a.filename ?? `${a.contentType.replace(/\W+/g, '-')}`;
    if (blocked(a)) {
      dropped.push(`${name} (${a.contentType})`);
      continue;
    }
    if (a.contentType === 'message/rfc822') {
      const inner = await simpleParser(a.content, { skipHtmlToText: true, skipTextToHtml: true, skipTextLinks: true });
      const innerText = inner.text?.trim() ? textToMarkdown(inner.text, { ...opts, foldQuotedTails: false }, dropped) : inner.html ? htmlToMarkdown(inner.html) : '';
      const quoted = `${describeForward(inner)}\n\n${innerText}`
        .split('\n')
        .map((l) => (l === '' ? '>' : `> ${l}`))
        .join('\n');
      markdown = `${markdown}\n\n${quoted}`.trim();
      continue;
    }
    attachments.push({
      filename: sanitizeFilename(name, a.contentType),
      contentType: a.contentType,
      content: a.content,
      cid: a.contentId ? a.contentId.replace(/^<|>$/g, '') : null,
    });
  }
  return { markdown, source, attachments, dropped };
}

const EXTENSION_BY_TYPE: Record<string, string> = {
  'image/png': 'png',
  'image/jpeg': 'jpg',
  'image/gif': 'gif',
  'application/pdf': 'pdf',
  'text/plain': 'txt',
  'text/html': 'html',
};

function sanitizeFilename(name: string, contentType: string): string {
  let n = name.replace(/[\\/:*?"<>|\u0000-\u001f]+/g, '_').trim() || 'attachment';
  if (!/\.[A-Za-z0-9]{1,8}$/.test(n)) {
    const ext = EXTENSION_BY_TYPE[contentType.toLowerCase()];
    if (ext) n = `${n}.${ext}`;
  }
  return n;
}

export interface UploadedAttachment {
  attachment: MailAttachment;
  /** upload:// short URL and size, or why it was not uploaded. */
  upload: { shortUrl: string; width?: number | null; height?: number | null } | null;
  reason?: string;
}

function humanSize(bytes: number): string {
  if (bytes < 1024) return `${bytes} Bytes`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

const IMAGE = /^image\/(?:png|jpe?g|gif|webp|avif|heic|heif|svg\+xml|bmp)$/i;

function escapeLabel(s: string): string {
  return s.replace(/[[\]|\\]/g, (c) => `\\${c}`);
}

/** Adds the uploads (Discourse's upload:// markdown) and notes for attachments left behind. */
export function withAttachments(markdown: string, items: UploadedAttachment[]): string {
  let md = markdown;
  const tail: string[] = [];
  for (const it of items) {
    const a = it.attachment;
    if (it.upload) {
      const size = it.upload.width && it.upload.height ? `|${it.upload.width}x${it.upload.height}` : '';
      const link = IMAGE.test(a.contentType)
        ? `![${escapeLabel(a.filename)}${size}](${it.upload.shortUrl})`
        : `[${escapeLabel(a.filename)}|attachment](${it.upload.shortUrl}) (${humanSize(a.content.length)})`;
      if (a.cid && md.includes(`cid:${a.cid}`)) md = md.split(`cid:${a.cid}`).join(it.upload.shortUrl);
      else tail.push(link);
    } else {
      tail.push(`*(attachment ${escapeLabel(a.filename)}, ${humanSize(a.content.length)}, not carried over: ${it.reason ?? 'not uploaded'})*`);
    }
  }
  return tail.length ? `${md}\n\n${tail.join('\n\n')}`.trim() : md;
}
