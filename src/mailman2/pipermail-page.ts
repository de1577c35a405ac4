/**
 * Reading single pipermail pages (article pages and period index pages), as written by Mailman 2.1
 * `templates/<lang>/article.html` / `archidxentry.html`. Parsing is tolerant: every field may be
 * missing in a damaged page, and the caller turns gaps into problems.
 */
import * as cheerio from 'cheerio';
import { decodeBytes, tryUtf8 } from './pipermail-charset.js';

export interface ArticlePageInfo {
  /** In-Reply-To of the mailto link, percent-decoded, exactly as carried (usually with `<>`). */
  messageId: string | null;
  messageIdSource: 'link-made' | 'author-mailto' | null;
  subject: string;
  author: string;
  /** The `<I>` date line as shown (server time zone, list language). */
  date: string;
  /** Something other than whitespace between `<!--beginarticle-->` and `<!--endarticle-->`. */
  hasBody: boolean;
  /** `<!--beginarticle-->` and a later `<!--endarticle-->` were both found. */
  complete: boolean;
  /** Every href inside the article body (may share memory with the page text). */
  bodyHrefs: string[];
}

const BEGIN = '<!--beginarticle-->';
const END = '<!--endarticle-->';
/** Header fields sit before the body; without a body marker, look no further than this. */
const HEADER_SCAN_LIMIT = 256 * 1024;

export function parseArticlePage(html: string, pageCharset: string): ArticlePageInfo {
  const begin = html.indexOf(BEGIN);
  const end = begin >= 0 ? html.indexOf(END, begin + BEGIN.length) : -1;
  const header = begin >= 0 ? html.slice(0, begin) : html.slice(0, HEADER_SCAN_LIMIT);
  const body = begin >= 0 ? html.slice(begin + BEGIN.length, end >= 0 ? end : undefined) : '';

  // htmlparser2 rather than parse5: about twice as fast, and pages are only read, never rendered.
  const $ = cheerio.load(header, { xml: { xmlMode: false, decodeEntities: true } });
  let messageId: string | null = null;
  let messageIdSource: ArticlePageInfo['messageIdSource'] = null;
  const made = $('link')
    .toArray()
    .find((el) => ($(el).attr('rel') ?? '').trim().toLowerCase() === 'made');
  const madeHref = made ? $(made).attr('href') : undefined;
  if (madeHref !== undefined) {
    messageId = inReplyToFromMailto(madeHref, pageCharset);
    if (messageId !== null) messageIdSource = 'link-made';
  }
  if (messageId === null) {
    for (const el of $('a[href]').toArray()) {
      const href = $(el).attr('href') ?? '';
      if (!href.trim().toLowerCase().startsWith('mailto:')) continue;
      const id = inReplyToFromMailto(href, pageCharset);
      if (id !== null) {
        messageId = id;
        messageIdSource = 'author-mailto';
        break;
      }
    }
  }

  const h1 = $('h1').first().text().trim();
  const subject = h1 !== '' ? h1 : $('title').first().text().trim();
  const author = $('body > b').first().text().trim();
  const date = $('body > i').first().text().trim();

  const bodyHrefs = [...hrefs(body)];

  return {
    messageId,
    messageIdSource,
    subject: detach(subject),
    author: detach(author),
    date: detach(date),
    hasBody: body.trim() !== '',
    complete: begin >= 0 && end >= 0,
    bodyHrefs,
  };
}

/**
 * The `In-Reply-To=` parameter of a pipermail mailto link. Mailman wrote it with Python 2
 * `urllib.quote` over the raw header bytes (so `/` stays literal and `+` is never a space); the
 * bytes are UTF-8 when valid, otherwise in the page charset. Null when there is no such parameter
 * or it is empty.
 */
export function inReplyToFromMailto(href: string, pageCharset: string): string | null {
  const q = href.indexOf('?');
  if (q < 0) return null;
  for (const param of href.slice(q + 1).split('&')) {
    const eq = param.indexOf('=');
    const name = eq >= 0 ? param.slice(0, eq) : param;
    if (name.trim().toLowerCase() !== 'in-reply-to') continue;
    const value = param.slice(eq + 1);
    if (eq < 0 || value === '') return null;
    return percentDecode(value, pageCharset);
  }
  return null;
}

/** Percent-escapes to bytes (malformed escapes kept literally), then UTF-8 if valid, else `charset`. */
export function percentDecode(value: string, charset: string): string {
  const bytes: number[] = [];
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c === 0x25 && /^[0-9A-Fa-f]{2}$/.test(value.slice(i + 1, i + 3))) {
      bytes.push(parseInt(value.slice(i + 1, i + 3), 16));
      i += 2;
    } else if (c < 0x80) {
      bytes.push(c);
    } else {
      const cp = value.codePointAt(i)!;
      if (cp > 0xffff) i++;
      bytes.push(...Buffer.from(String.fromCodePoint(cp), 'utf8'));
    }
  }
  const u8 = Uint8Array.from(bytes);
  return tryUtf8(u8) ?? decodeBytes(u8, charset).text;
}

/**
 * Article numbers linked from a period index page, in page order (duplicates kept). A regex scan
 * rather than a DOM: index pages of big periods hold 100k+ entries and only the hrefs matter.
 */
export function parseIndexLinks(html: string): number[] {
  const out: number[] = [];
  for (const href of hrefs(html)) {
    const m = /^(\d+)\.html$/.exec(href.trim());
    if (m) out.push(Number(m[1]));
  }
  return out;
}

/**
 * The archive's table of contents (top-level `index.html`, `archtocnombox.html`/`archtoc.html`):
 * the period folders it links, in page order (newest first as pipermail sorts them), and the
 * `.txt`/`.txt.gz` downloads it offers.
 */
export function parseArchiveToc(html: string): { periods: string[]; textArchives: string[] } {
  const periods: string[] = [];
  const textArchives: string[] = [];
  for (const raw of hrefs(html)) {
    const href = raw.trim();
    const view = /^([^/?#]+)\/(?:thread|date|subject|author|index)\.html$/.exec(href);
    if (view && !periods.includes(view[1]!)) periods.push(view[1]!);
    else if (/^[^/?#]+\.txt(\.gz)?$/.test(href)) textArchives.push(href);
  }
  return { periods, textArchives };
}

function* hrefs(html: string): Generator<string> {
  for (const m of html.matchAll(/<a\s[^>]*?href\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+))/gi)) {
    yield decodeEntities(m[1] ?? m[2] ?? m[3] ?? '');
  }
}

/** A copy that does not keep the (large) string it was cut from alive. */
function detach(s: string): string {
  return Buffer.from(s, 'utf16le').toString('utf16le');
}

/** Minimal entity decoding for hrefs found by regex in the body (Mailman only emits these). */
function decodeEntities(s: string): string {
  return s.replace(/&(amp|lt|gt|quot|#39|#x27);/gi, (_, e: string) => {
    switch (e.toLowerCase()) {
      case 'amp':
        return '&';
      case 'lt':
        return '<';
      case 'gt':
        return '>';
      case 'quot':
        return '"';
      default:
        return "'";
    }
  });
}
