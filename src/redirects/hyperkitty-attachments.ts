/**
 * Which attachments HyperKitty keeps for a message, under which counter and file name, so that an old
 * pipermail attachment link can point at the same file in the new archive:
 * `list/<fqdn>/message/<hash>/attachment/<counter>/<name>` (HyperKitty answers 404 when the name differs).
 *
 * HyperKitty's scrubber (django_mailman3/lib/scrub.py `_get_all_attachments`) numbers parts by their index in
 * Python's `msg.walk()` (containers included) and keeps: text/plain parts with `Content-Disposition:
 * attachment`, every text/html part, message/rfc822 parts (whose inner parts it then no longer walks), and any
 * other non-multipart part with a non-empty body. The walk below follows Python's feedparser on the points
 * that change those indexes.
 */
import { createHash } from 'node:crypto';
import libmime from 'libmime';

export interface HyperKittyAttachment {
  /** Index of the part in Python's `msg.walk()`: the `<counter>` of the attachment URL. */
  counter: number;
  /** File name as HyperKitty stores it (`_get_attachment_filename`). */
  name: string;
  contentType: string;
  /** SHA-1 (hex) of the transfer-decoded body: pipermail saved the same bytes for non-HTML parts. */
  sha1: string;
}

interface Part {
  contentType: string;
  headers: Map<string, string>;
  /** Body text (latin1, byte for byte) of a leaf; '' when empty. */
  body: string;
  children: Part[] | null;
}

/** Lists the attachments HyperKitty would store for the raw message (headers and body, no From_ line). */
export function hyperkittyAttachments(raw: Buffer): HyperKittyAttachment[] {
  const root = parsePart(raw.toString('latin1'), 'text/plain');
  const out: HyperKittyAttachment[] = [];
  let index = 0;
  const walk = (p: Part): void => {
    const counter = index++;
    const ctype = p.contentType;
    let keep = false;
    let descend = p.children !== null;
    if (ctype === 'text/plain') keep = dispositionOf(p) === 'attachment';
    else if (ctype === 'text/html') keep = true;
    else if (ctype === 'message/rfc822') {
      keep = true;
      descend = false; // set_content('\n') turns it into a leaf before walk() looks at its payload
    } else keep = p.children === null && p.body !== '';
    if (keep) out.push({ counter, name: hyperkittyFileName(p), contentType: ctype, sha1: sha1(decodedBody(p)) });
    if (descend) for (const c of p.children!) walk(c);
  };
  walk(root);
  return out;
}

function sha1(b: Buffer): string {
  return createHash('sha1').update(b).digest('hex');
}

// --- parsing ----------------------------------------------------------------------------------------------

const HEADER_LINE = /^[\x21-\x39\x3b-\x7e]+:/;

function splitLines(text: string): string[] {
  // Keeps line ends so that bodies are reproduced byte for byte.
  return text.match(/[^\r\n]*(\r\n|\n|\r)|[^\r\n]+$/g) ?? [];
}

function parsePart(text: string, defaultType: string): Part {
  const lines = splitLines(text);
  const fields: { name: string; value: string }[] = [];
  let i = 0;
  for (; i < lines.length; i++) {
    const bare = lines[i]!.replace(/(\r\n|\n|\r)$/, '');
    if (bare === '') {
      i++;
      break;
    }
    const last = fields[fields.length - 1];
    if (/^[ \t]/.test(bare) && last) {
      last.value += bare; // unfolding keeps the leading white space
      continue;
    }
    if (i === 0 && bare.startsWith('From ')) continue;
    if (!HEADER_LINE.test(bare)) break; // feedparser: a non-header line starts the body
    const colon = bare.indexOf(':');
    fields.push({ name: bare.slice(0, colon).trim().toLowerCase(), value: bare.slice(colon + 1).trim() });
  }
  // Python's msg.get() answers with the first field of a name.
  const headers = new Map<string, string>();
  for (const f of fields) if (!headers.has(f.name)) headers.set(f.name, f.value);
  const body = lines.slice(i).join('');

  const ct = headerParams(headers.get('content-type'));
  let contentType = ct ? ct.value.toLowerCase() : defaultType;
  if (!/^[^/\s]+\/[^/\s]+$/.test(contentType)) contentType = ct ? 'text/plain' : defaultType;

  if (contentType.startsWith('multipart/')) {
    const boundary = ct?.params.boundary;
    const parts = boundary ? splitMultipart(body, boundary) : null;
    if (parts) {
      const childDefault = contentType === 'multipart/digest' ? 'message/rfc822' : 'text/plain';
      return { contentType, headers, body: '', children: parts.map((p) => parsePart(p, childDefault)) };
    }
    return { contentType, headers, body, children: null }; // no boundary: Python keeps it as a text payload
  }
  if (contentType.startsWith('message/')) {
    // feedparser parses message/* as sub-messages; delivery-status as one header block per child.
    const blocks = contentType === 'message/delivery-status' ? body.split(/\r?\n[ \t]*\r?\n/).filter((b) => b.trim() !== '') : [body];
    return { contentType, headers, body, children: blocks.map((b) => parsePart(b, 'text/plain')) };
  }
  return { contentType, headers, body, children: null };
}

/** Parts of a multipart body, or null when the first boundary never appears. */
function splitMultipart(body: string, boundary: string): string[] | null {
  const lines = splitLines(body);
  const sep = `--${boundary}`;
  const parts: string[] = [];
  let current: string[] | null = null;
  let found = false;
  for (const line of lines) {
    const bare = line.replace(/(\r\n|\n|\r)$/, '');
    if (bare.startsWith(sep)) {
      const rest = bare.slice(sep.length);
      const close = rest.startsWith('--');
      if (/^(--)?[ \t]*$/.test(rest)) {
        if (current) parts.push(dropLastLineEnd(current.join('')));
        found = true;
        if (close) return parts;
        current = [];
        continue;
      }
    }
    if (current) current.push(line);
  }
  if (!found) return null;
  if (current) parts.push(current.join(''));
  return parts;
}

/** The line end before a boundary belongs to the boundary (RFC 2046 5.1.1). */
function dropLastLineEnd(s: string): string {
  return s.replace(/(\r\n|\n|\r)$/, '');
}

function headerParams(value: string | undefined): { value: string; params: Record<string, string> } | null {
  if (value === undefined) return null;
  try {
    return libmime.parseHeaderValue(headerText(value));
  } catch {
    return null;
  }
}

/**
 * Header bytes as Python's policy.default sees them: UTF-8 when valid; otherwise each 8-bit byte stays an
 * undecodable surrogate, which no later step keeps (U+FFFD here, equally dropped by the name filter).
 */
function headerText(latin1: string): string {
  const bytes = Buffer.from(latin1, 'latin1');
  const utf8 = bytes.toString('utf8');
  return Buffer.from(utf8, 'utf8').equals(bytes) ? utf8 : latin1.replace(/[\u0080-\u00ff]/g, '\ufffd');
}

function dispositionOf(p: Part): string | null {
  const d = headerParams(p.headers.get('content-disposition'));
  return d ? d.value.toLowerCase() : null;
}

function decodedBody(p: Part): Buffer {
  const cte = (p.headers.get('content-transfer-encoding') ?? '').trim().toLowerCase();
  if (cte === 'base64') return Buffer.from(p.body.replace(/[^A-Za-z0-9+/]/g, ''), 'base64');
  if (cte === 'quoted-printable') return quotedPrintable(p.body);
  return Buffer.from(p.body, 'latin1');
}

function quotedPrintable(s: string): Buffer {
  const text = s.replace(/[ \t]+(\r?\n)/g, '$1').replace(/=\r?\n/g, '');
  const out: number[] = [];
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x3d && /^[0-9A-Fa-f]{2}$/.test(text.slice(i + 1, i + 3))) {
      out.push(parseInt(text.slice(i + 1, i + 3), 16));
      i += 2;
    } else out.push(c & 0xff);
  }
  return Buffer.from(out);
}

// --- HyperKitty's file name -------------------------------------------------------------------------------

/** Python's `\w` on str (Unicode letters, digits, underscore), negated together with "-" and ".". */
const SRE = /[^-\p{L}\p{N}_.]/gu;
const PRE = /[/\\:]/;

/**
 * First entry of Python's `mimetypes.guess_all_extensions(ctype, strict=False)` for common attachment types
 * (Python's built-in table, which comes before the system mime.types). A type missing here gets ".bin", as
 * HyperKitty gives it when Python knows no extension; `verify --redirects` reports any such guess that misses.
 */
const FIRST_EXTENSION: Record<string, string> = {
  'application/json': '.json',
  'application/msword': '.doc',
  'application/octet-stream': '.bin',
  'application/pdf': '.pdf',
  'application/pgp-signature': '.sig',
  'application/pkcs7-mime': '.p7c',
  'application/pkcs7-signature': '.p7s',
  'application/postscript': '.ps',
  'application/rtf': '.rtf',
  'application/gzip': '.gz',
  'application/vnd.ms-excel': '.xls',
  'application/vnd.ms-powerpoint': '.ppt',
  'application/vnd.oasis.opendocument.text': '.odt',
  'application/vnd.oasis.opendocument.spreadsheet': '.ods',
  'application/vnd.openxmlformats-officedocument.wordprocessingml.document': '.docx',
  'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet': '.xlsx',
  'application/vnd.openxmlformats-officedocument.presentationml.presentation': '.pptx',
  'application/x-tar': '.tar',
  'application/xml': '.xsl',
  'application/zip': '.zip',
  'audio/mpeg': '.mp3',
  'image/bmp': '.bmp',
  'image/gif': '.gif',
  'image/jpeg': '.jpg',
  'image/png': '.png',
  'image/svg+xml': '.svg',
  'image/tiff': '.tiff',
  'message/rfc822': '.eml',
  'text/calendar': '.ics',
  'text/css': '.css',
  'text/csv': '.csv',
  'text/html': '.html',
  'text/plain': '.txt',
  'text/richtext': '.rtx',
  'text/x-diff': '.diff',
  'text/x-vcard': '.vcf',
  'text/vcard': '.vcf',
  'text/xml': '.xml',
  'video/mp4': '.mp4',
  'video/mpeg': '.mpeg',
};

/** Python's posixpath.splitext (HyperKitty runs on POSIX): the last dot after the last "/", leading dots excluded. */
function splitext(name: string): [string, string] {
  const slash = name.lastIndexOf('/');
  const dot = name.lastIndexOf('.');
  if (dot <= slash) return [name, ''];
  let i = slash + 1;
  while (i < dot && name[i] === '.') i++;
  if (i === dot) return [name, ''];
  return [name.slice(0, dot), name.slice(dot)];
}

function filenameOf(p: Part): string {
  const disp = headerParams(p.headers.get('content-disposition'));
  const ct = headerParams(p.headers.get('content-type'));
  const raw = disp?.params.filename ?? ct?.params.name ?? '';
  let name = raw;
  try {
    name = libmime.decodeWords(raw);
  } catch {
    // keep the undecoded value, as oneline() does on a charset problem
  }
  return name.trim().replace(/\r\n|\n|\r/g, '');
}

export function hyperkittyFileName(p: Pick<Part, 'headers' | 'contentType'>): string {
  const [base, fext] = splitext(filenameOf(p as Part));
  let ext = fext || FIRST_EXTENSION[p.contentType] || '';
  if (!ext) ext = p.contentType === 'message/rfc822' ? '.txt' : '.bin';
  ext = ext.replace(SRE, '');
  if (!base) return `attachment${ext}`;
  const last = base.split(PRE).pop() ?? '';
  return last.replace(/^\.*/, '').replace(SRE, '') + ext;
}

// --- pairing pipermail files with HyperKitty attachments --------------------------------------------------

export interface PipermailAttachmentFile {
  /** Relative to the archive root, e.g. attachments/20191105/03300cd7/attachment.png. */
  path: string;
  /** SHA-1 (hex) of the file's bytes. */
  sha1: string;
}

export type AttachmentMatch = { attachment: HyperKittyAttachment } | { code: string; reason: string };

/**
 * Pairs the pipermail attachment files of one message with what HyperKitty keeps of it. `linked` are the files
 * the article page links, in page order (pipermail's scrubber walks parts in the same order as HyperKitty's);
 * `files` are all files of the message's attachment folder, including copies a second scrubbing wrote as
 * `<name>-NNNN.<ext>` (plain-text digests scrub into the same folder). Identical bytes decide first; HTML and
 * embedded messages, which pipermail rewrites, are then paired by order when exactly as many remain on both sides.
 */
export function pairAttachments(linked: string[], files: PipermailAttachmentFile[], hk: HyperKittyAttachment[]): Map<string, AttachmentMatch> {
  const out = new Map<string, AttachmentMatch>();
  const sha = new Map(files.map((f) => [f.path, f.sha1]));
  const used = new Set<number>();
  const byHash = (path: string, pool: HyperKittyAttachment[]): HyperKittyAttachment | undefined => {
    const h = sha.get(path);
    return h === undefined ? undefined : pool.find((a) => a.sha1 === h);
  };

  const rest: string[] = [];
  for (const path of linked) {
    const a = byHash(path, hk.filter((x) => !used.has(x.counter)));
    if (a) {
      used.add(a.counter);
      out.set(path, { attachment: a });
    } else rest.push(path);
  }
  const left = hk.filter((x) => !used.has(x.counter));
  if (rest.length > 0) {
    if (rest.length === left.length) {
      rest.forEach((path, i) => {
        out.set(path, { attachment: left[i]! });
        used.add(left[i]!.counter);
      });
    } else {
      for (const path of rest) {
        out.set(path, {
          code: 'attachment-not-matched',
          reason: `${rest.length} linked attachment(s) of this message match no HyperKitty attachment by content, and HyperKitty keeps ${left.length} other(s): no safe pairing`,
        });
      }
    }
  }

  for (const f of files) {
    if (out.has(f.path)) continue;
    const same = byHash(f.path, hk);
    if (same) {
      out.set(f.path, { attachment: same });
      continue;
    }
    const m = /^(.*)-\d{4}(\.[^./]*)?$/.exec(f.path);
    const original = m ? out.get(`${m[1]}${m[2] ?? ''}`) : undefined;
    if (original && 'attachment' in original) out.set(f.path, original);
    else {
      out.set(f.path, {
        code: 'attachment-not-matched',
        reason: 'not linked from the article page and its content matches no attachment HyperKitty keeps for the message',
      });
    }
  }
  return out;
}
