/**
 * MIME encodings over byte strings (see charsets.ts): RFC 2047 encoded words, quoted-printable and
 * base64 bodies, header folding.
 */
import { encodeText, type Charset } from './charsets.js';

/** Longest encoded word RFC 2047 allows. */
const MAX_WORD = 75;

const HEX = '0123456789ABCDEF';

function hexByte(b: number): string {
  return '=' + HEX[b >> 4] + HEX[b & 15];
}

/** RFC 2047 "Q" encoding of a byte string: only [-a-zA-Z0-9!*+/] stay literal, space becomes `_`. */
function qEncode(bytes: string): string {
  let out = '';
  for (let i = 0; i < bytes.length; i++) {
    const c = bytes.charCodeAt(i);
    if (c === 0x20) out += '_';
    else if (
      (c >= 0x30 && c <= 0x39) ||
      (c >= 0x41 && c <= 0x5a) ||
      (c >= 0x61 && c <= 0x7a) ||
      c === 0x2d ||
      c === 0x21 ||
      c === 0x2a ||
      c === 0x2b ||
      c === 0x2f
    )
      out += bytes[i];
    else out += hexByte(c);
  }
  return out;
}

export type WordEncoding = 'B' | 'Q';

function encodedWord(bytes: string, charsetLabel: string, enc: WordEncoding, lowerEnc: boolean): string {
  const payload = enc === 'B' ? Buffer.from(bytes, 'latin1').toString('base64') : qEncode(bytes);
  return `=?${charsetLabel}?${lowerEnc ? enc.toLowerCase() : enc}?${payload}?=`;
}

export interface EncodeWordsOptions {
  /** How the charset name is spelled in the word (`UTF-8`, `utf-8`, `ISO-2022-JP`). */
  charsetLabel?: string;
  /** Write `?b?`/`?q?` (Python's email package) instead of `?B?`/`?Q?`. */
  lowerEncoding?: boolean;
}

/**
 * Encodes `text` as one or more encoded words of at most 75 characters each. Words are split on
 * character boundaries (never inside a multi-byte sequence), and each ISO-2022-JP word returns to
 * ASCII mode at its end, as RFC 1468 requires.
 */
const wordCache = new Map<string, string[]>();

export function encodeWords(text: string, charset: Charset, enc: WordEncoding, options: EncodeWordsOptions = {}): string[] {
  const label = options.charsetLabel ?? charset;
  const lower = options.lowerEncoding ?? false;
  // Names and thread subjects recur all the time; encoding them once keeps this off the profile.
  const key = `${charset}\u0000${label}\u0000${enc}${lower ? 1 : 0}\u0000${text}`;
  const hit = wordCache.get(key);
  if (hit) return hit;
  const words = encodeWordsUncached(text, charset, enc, label, lower);
  if (wordCache.size > 20_000) wordCache.clear();
  wordCache.set(key, words);
  return words;
}

function encodeWordsUncached(text: string, charset: Charset, enc: WordEncoding, label: string, lower: boolean): string[] {
  const words: string[] = [];
  const chars = Array.from(text);
  let start = 0;
  while (start < chars.length) {
    let end = start + 1;
    let best = encodedWord(encodeText(chars.slice(start, end).join(''), charset), label, enc, lower);
    while (end < chars.length) {
      const candidate = encodedWord(encodeText(chars.slice(start, end + 1).join(''), charset), label, enc, lower);
      if (candidate.length > MAX_WORD) break;
      best = candidate;
      end++;
    }
    words.push(best);
    start = end;
  }
  return words;
}

/** Like Python 2's email.Charset SHORTEST: whichever of B and Q gives the shorter words. */
export function encodeWordsShortest(text: string, charset: Charset, options: EncodeWordsOptions = {}): string[] {
  const b = encodeWords(text, charset, 'B', options);
  const q = encodeWords(text, charset, 'Q', options);
  return q.join('').length < b.join('').length ? q : b;
}

/**
 * Folds `name: tokens` into lines of at most `width` characters where it can (continuation lines
 * start with one space). Tokens are joined with single spaces and never split.
 */
export function foldHeader(name: string, tokens: readonly string[], width = 76): string {
  let out = `${name}:`;
  let lineLength = out.length;
  let first = true;
  for (const token of tokens) {
    if (!first && lineLength + 1 + token.length > width) {
      out += '\n ' + token;
      lineLength = 1 + token.length;
    } else {
      out += ' ' + token;
      lineLength += 1 + token.length;
    }
    first = false;
  }
  return out;
}

/**
 * Quoted-printable body encoding (RFC 2045 6.7) of a byte string with `\n` line ends: 8-bit bytes,
 * `=` and trailing white space are escaped, lines longer than 76 get soft breaks.
 */
export function encodeQuotedPrintable(bytes: string): string {
  const lines = bytes.split('\n');
  const out: string[] = [];
  for (const line of lines) {
    let encoded = '';
    let col = 0;
    for (let i = 0; i < line.length; i++) {
      const c = line.charCodeAt(i);
      let piece: string;
      if (c === 0x3d || c > 0x7e || (c < 0x20 && c !== 0x09)) piece = hexByte(c);
      else if ((c === 0x20 || c === 0x09) && i === line.length - 1) piece = hexByte(c);
      else piece = line[i] as string;
      if (col + piece.length > 75) {
        encoded += '=\n';
        col = 0;
      }
      encoded += piece;
      col += piece.length;
    }
    out.push(encoded);
  }
  return out.join('\n');
}

/** Base64 of a byte string, wrapped at `width` characters (76 like most mailers; 72 for some). */
export function encodeBase64(bytes: string | Uint8Array, width = 76): string {
  const b64 = (typeof bytes === 'string' ? Buffer.from(bytes, 'latin1') : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)).toString('base64');
  return wrapLines(b64, width);
}

export function wrapLines(text: string, width: number): string {
  if (text.length <= width) return text;
  const parts: string[] = [];
  for (let i = 0; i < text.length; i += width) parts.push(text.slice(i, i + width));
  return parts.join('\n');
}
