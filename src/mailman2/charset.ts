/**
 * Mailman 2.1 language codes and the charset each language's pages (and therefore the byte strings
 * typed into them, see reference/mailman2.md §1.3) use, plus a byte decoder that never drops or
 * replaces a byte silently.
 */
import { TextDecoder } from 'node:util';

/**
 * `add_language(code, description, charset)` calls of Mailman 2.1.39's Defaults.py.in (the table is
 * unchanged since 2.1.2x; read in osstech-jp/mailman-vhost `Mailman/Defaults.py.in`).
 */
export const MAILMAN2_LANGUAGE_CHARSETS: Readonly<Record<string, string>> = Object.freeze(
  Object.assign(Object.create(null) as Record<string, string>, {
    ar: 'utf-8',
    ast: 'iso-8859-1',
    ca: 'utf-8',
    cs: 'iso-8859-2',
    da: 'iso-8859-1',
    de: 'iso-8859-1',
    en: 'us-ascii',
    es: 'iso-8859-1',
    et: 'iso-8859-15',
    eu: 'iso-8859-15',
    fa: 'utf-8',
    fi: 'iso-8859-1',
    fr: 'iso-8859-1',
    gl: 'utf-8',
    el: 'iso-8859-7',
    he: 'utf-8',
    hr: 'iso-8859-2',
    hu: 'iso-8859-2',
    ia: 'iso-8859-15',
    it: 'iso-8859-1',
    ja: 'euc-jp',
    ko: 'euc-kr',
    lt: 'iso-8859-13',
    nl: 'iso-8859-1',
    no: 'iso-8859-1',
    pl: 'iso-8859-2',
    pt: 'iso-8859-1',
    pt_BR: 'iso-8859-1',
    ro: 'utf-8',
    ru: 'utf-8',
    sk: 'utf-8',
    sl: 'iso-8859-2',
    sr: 'utf-8',
    sv: 'iso-8859-1',
    tr: 'iso-8859-9',
    uk: 'utf-8',
    vi: 'utf-8',
    zh_CN: 'utf-8',
    zh_TW: 'utf-8',
  }),
);

/**
 * Charsets older 2.1 releases used for a language before it moved to another one (2.1.1x
 * Defaults.py.in: ro iso-8859-2, ru koi8-r). Lists created then keep their old bytes after an
 * upgrade, so these are tried, and reported, when the current charset does not decode.
 */
export const MAILMAN2_LEGACY_CHARSETS: Readonly<Record<string, string>> = Object.freeze(
  Object.assign(Object.create(null) as Record<string, string>, {
    ro: 'iso-8859-2',
    ru: 'koi8-r',
  }),
);

/** The charset of a Mailman 2 language code, or null when Mailman 2.1 does not ship that language. */
export function charsetForLanguage(language: string): string | null {
  return Object.hasOwn(MAILMAN2_LANGUAGE_CHARSETS, language) ? MAILMAN2_LANGUAGE_CHARSETS[language]! : null;
}

export function legacyCharsetForLanguage(language: string): string | null {
  return Object.hasOwn(MAILMAN2_LEGACY_CHARSETS, language) ? MAILMAN2_LEGACY_CHARSETS[language]! : null;
}

export type DecodeResult = { text: string } | { error: string };

const LATIN1 = new Set(['iso-8859-1', 'iso8859-1', 'latin-1', 'latin1', 'l1', 'iso_8859-1', 'cp819', 'iso-ir-100']);
const ASCII = new Set(['us-ascii', 'ascii', 'ansi_x3.4-1968', 'iso646-us', 'us']);
const LATIN5 = new Set(['iso-8859-9', 'iso8859-9', 'latin5', 'latin-5', 'l5', 'iso_8859-9']);

const decoders = new Map<string, TextDecoder | null>();

function decoderFor(charset: string): TextDecoder | null {
  let d = decoders.get(charset);
  if (d === undefined) {
    try {
      d = new TextDecoder(charset, { fatal: true });
    } catch {
      d = null;
    }
    decoders.set(charset, d);
  }
  return d;
}

/** ISO-8859-9 above 0x9F, from windows-1254 which agrees with it there (WHATWG has no true latin5). */
let latin5High: string | null = null;

function decodeLatin5(bytes: Uint8Array): string {
  if (latin5High === null) {
    const high = new Uint8Array(96).map((_, i) => 0xa0 + i);
    latin5High = new TextDecoder('windows-1254').decode(high);
  }
  let out = '';
  for (const b of bytes) out += b < 0xa0 ? String.fromCharCode(b) : latin5High[b - 0xa0]!;
  return out;
}

export function isAscii(bytes: Uint8Array): boolean {
  for (let i = 0; i < bytes.length; i++) if (bytes[i]! >= 0x80) return false;
  return true;
}

/**
 * Decodes bytes in a charset, or says why it cannot. Never replaces a byte: decoders are fatal, and
 * the ISO-8859 charsets that the WHATWG Encoding Standard maps to Windows code pages (latin-1 →
 * windows-1252, latin-5 → windows-1254, which differ at 0x80-0x9F) are decoded as the real ISO
 * charsets, as Python does.
 */
export function decodeBytes(bytes: Uint8Array, charset: string): DecodeResult {
  const cs = charset.trim().toLowerCase();
  if (isAscii(bytes)) return { text: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1') };
  if (ASCII.has(cs)) return { error: `non-ASCII byte in a ${charset} string` };
  if (LATIN1.has(cs)) return { text: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1') };
  if (LATIN5.has(cs)) return { text: decodeLatin5(bytes) };
  const d = decoderFor(cs);
  if (d === null) return { error: `unknown charset ${JSON.stringify(charset)}` };
  try {
    return { text: d.decode(bytes) };
  } catch {
    return { error: `bytes are not valid ${charset}` };
  }
}

export interface DecodedText {
  text: string;
  /** The charset that produced `text`. */
  charset: string;
  /** True when `charset` is not the one asked for. */
  fallback: boolean;
  /** True when nothing decoded and `text` is the latin-1 view of the bytes (one char per byte). */
  lossless: boolean;
}

/**
 * Decodes with the first charset of `charsets` that works. When none does, returns the latin-1 view
 * so no byte is lost, with `lossless: false` to say the text is not trustworthy.
 */
export function decodeWithFallbacks(bytes: Uint8Array, charsets: readonly string[]): DecodedText {
  const tried = new Set<string>();
  for (const [i, cs] of charsets.entries()) {
    const key = cs.toLowerCase();
    if (tried.has(key)) continue;
    tried.add(key);
    const r = decodeBytes(bytes, cs);
    if ('text' in r) return { text: r.text, charset: cs, fallback: i > 0, lossless: true };
  }
  return {
    text: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1'),
    charset: 'iso-8859-1',
    fallback: true,
    lossless: false,
  };
}

/** Whether the bytes are valid UTF-8 and contain at least one multi-byte sequence. */
export function isNonAsciiUtf8(bytes: Uint8Array): boolean {
  if (isAscii(bytes)) return false;
  return 'text' in decodeBytes(bytes, 'utf-8');
}

/** Single-byte charsets decode any byte sequence, so they cannot tell UTF-8 input apart by failing. */
export function isSingleByteCharset(charset: string): boolean {
  const cs = charset.trim().toLowerCase();
  return /^(iso-?8859-\d+|latin-?\d|koi8-[a-z]+|windows-125\d|cp125\d)$/.test(cs);
}
