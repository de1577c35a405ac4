/**
 * Pipermail pages are written in the charset of the list language at the time they were written
 * (`Utils.GetCharSet(lang)`, e.g. iso-8859-1 for fr, euc-jp for ja), and a language change does not
 * rewrite old pages, so a page's own META charset wins over the list's current one.
 */
import { TextDecoder } from 'node:util';

export interface DecodedPage {
  text: string;
  /** The charset actually used to decode. */
  charset: string;
  /** Set when the declared charset could not be used and a fallback was taken. */
  fallbackFrom?: string;
}

const META_CHARSET = /<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)/i;
const SNIFF_BYTES = 16 * 1024;

/** The charset a page's META declares, if any (looked for in the first 16 KiB). */
export function sniffMetaCharset(bytes: Uint8Array): string | null {
  const head = Buffer.from(bytes.buffer, bytes.byteOffset, Math.min(bytes.byteLength, SNIFF_BYTES)).toString('latin1');
  const headEnd = head.search(/<\/head\s*>/i);
  const m = META_CHARSET.exec(headEnd >= 0 ? head.slice(0, headEnd) : head);
  return m ? m[1]!.toLowerCase() : null;
}

export function decodePage(bytes: Uint8Array, listCharset: string): DecodedPage {
  const declared = sniffMetaCharset(bytes) ?? listCharset.toLowerCase();
  return decodeBytes(bytes, declared);
}

const LATIN1 = new Set(['iso-8859-1', 'iso8859-1', 'latin1', 'latin-1', 'l1', 'iso_8859-1', 'cp819', 'ibm819']);
const ASCII = new Set(['us-ascii', 'ascii', 'ansi_x3.4-1968', 'iso646-us']);

/**
 * Decodes bytes in a Mailman charset. ISO-8859-1 is decoded as real Latin-1 (WHATWG's TextDecoder
 * would substitute windows-1252). For us-ascii, stray 8-bit bytes are taken as UTF-8 when valid,
 * else Latin-1, as Mailman itself assumes iso-8859-1 for English lists.
 */
export function decodeBytes(bytes: Uint8Array, charset: string): DecodedPage {
  const cs = charset.toLowerCase();
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (LATIN1.has(cs)) return { text: buf.toString('latin1'), charset: 'iso-8859-1' };
  if (ASCII.has(cs)) {
    const utf8 = tryUtf8(bytes);
    return utf8 !== null ? { text: utf8, charset: 'us-ascii' } : { text: buf.toString('latin1'), charset: 'us-ascii' };
  }
  let decoder: TextDecoder;
  try {
    decoder = new TextDecoder(cs);
  } catch {
    const utf8 = tryUtf8(bytes);
    if (utf8 !== null) return { text: utf8, charset: 'utf-8', fallbackFrom: cs };
    return { text: buf.toString('latin1'), charset: 'iso-8859-1', fallbackFrom: cs };
  }
  return { text: decoder.decode(bytes), charset: cs };
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

export function tryUtf8(bytes: Uint8Array): string | null {
  try {
    return strictUtf8.decode(bytes);
  } catch {
    return null;
  }
}
