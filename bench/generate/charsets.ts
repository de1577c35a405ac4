/**
 * Text → bytes in the charsets old mail really used. The generators hold every piece of a message
 * as a "byte string" (a JS string whose char codes are all < 256, one per byte, like a Python 2
 * `str`), so this module returns byte strings. Node only decodes the legacy charsets, so the
 * encode tables are built once by decoding every code of the charset with TextDecoder.
 */

export type Charset = 'us-ascii' | 'utf-8' | 'iso-8859-1' | 'koi8-r' | 'iso-2022-jp' | 'euc-jp';

export class UnencodableError extends Error {}

let koi8Table: Map<string, number> | undefined;
/** Unicode char → JIS X 0208 code (row byte << 8 | cell byte, both 0x21..0x7E). */
let jisTable: Map<string, number> | undefined;

function koi8(): Map<string, number> {
  if (!koi8Table) {
    const bytes = new Uint8Array(128);
    for (let i = 0; i < 128; i++) bytes[i] = 0x80 + i;
    const text = new TextDecoder('koi8-r').decode(bytes);
    if (text.length !== 128) throw new Error('TextDecoder(koi8-r) gave an unexpected table');
    koi8Table = new Map();
    for (let i = 0; i < 128; i++) koi8Table.set(text[i] as string, 0x80 + i);
  }
  return koi8Table;
}

function jis(): Map<string, number> {
  if (!jisTable) {
    jisTable = new Map();
    const decoder = new TextDecoder('iso-2022-jp');
    for (let row = 0x21; row <= 0x7e; row++) {
      const bytes = [0x1b, 0x24, 0x42];
      for (let cell = 0x21; cell <= 0x7e; cell++) bytes.push(row, cell);
      bytes.push(0x1b, 0x28, 0x42);
      const text = decoder.decode(new Uint8Array(bytes));
      if (text.length !== 94) throw new Error('TextDecoder(iso-2022-jp) gave an unexpected table');
      for (let i = 0; i < 94; i++) {
        const ch = text[i] as string;
        if (ch !== '\ufffd' && !jisTable.has(ch)) jisTable.set(ch, (row << 8) | (0x21 + i));
      }
    }
  }
  return jisTable;
}

/** True when every character of `text` exists in `charset`. */
export function canEncode(text: string, charset: Charset): boolean {
  return tryEncodeText(text, charset) !== null;
}

/** Encodes `text` into a byte string. Throws UnencodableError for characters the charset lacks. */
export function encodeText(text: string, charset: Charset): string {
  const out = tryEncodeText(text, charset);
  if (out === null) throw new UnencodableError(`not encodable in ${charset}: ${JSON.stringify(text.slice(0, 60))}`);
  return out;
}

/** Like encodeText, but null instead of an exception (the generators try charsets in a hot loop). */
export function tryEncodeText(text: string, charset: Charset): string | null {
  switch (charset) {
    case 'us-ascii':
      // eslint-disable-next-line no-control-regex
      return /[^\x00-\x7f]/.test(text) ? null : text;
    case 'utf-8':
      // eslint-disable-next-line no-control-regex
      return /[^\x00-\x7f]/.test(text) ? Buffer.from(text, 'utf8').toString('latin1') : text;
    case 'iso-8859-1':
      return /[^\x00-\xff]/.test(text) ? null : text;
    case 'koi8-r':
      return encodeKoi8r(text);
    case 'iso-2022-jp':
      return encodeIso2022jp(text);
    case 'euc-jp':
      return encodeEucJp(text);
  }
}

function encodeKoi8r(text: string): string | null {
  const table = koi8();
  let out = '';
  for (const ch of text) {
    const code = ch.charCodeAt(0);
    if (code < 0x80) out += ch;
    else {
      const b = table.get(ch);
      if (b === undefined) return null;
      out += String.fromCharCode(b);
    }
  }
  return out;
}

/**
 * ISO-2022-JP as mailers write it: every line starts and ends in ASCII mode, so a line break never
 * sits inside a JIS X 0208 run.
 */
function encodeIso2022jp(text: string): string | null {
  const table = jis();
  let out = '';
  let inJis = false;
  for (const ch of text) {
    const code = ch.charCodeAt(0);
    if (code < 0x80) {
      if (inJis) {
        out += '\x1b(B';
        inJis = false;
      }
      out += ch;
    } else {
      const jisCode = table.get(ch);
      if (jisCode === undefined) return null;
      if (!inJis) {
        out += '\x1b$B';
        inJis = true;
      }
      out += String.fromCharCode(jisCode >> 8, jisCode & 0xff);
    }
  }
  if (inJis) out += '\x1b(B';
  return out;
}

function encodeEucJp(text: string): string | null {
  const table = jis();
  let out = '';
  for (const ch of text) {
    const code = ch.charCodeAt(0);
    if (code < 0x80) out += ch;
    else {
      const jisCode = table.get(ch);
      if (jisCode === undefined) return null;
      out += String.fromCharCode((jisCode >> 8) | 0x80, (jisCode & 0xff) | 0x80);
    }
  }
  return out;
}

/** Byte string → Buffer. */
export function bytesOf(byteString: string): Buffer {
  return Buffer.from(byteString, 'latin1');
}

/** True when the byte string holds only 7-bit bytes. */
export function isSevenBit(byteString: string): boolean {
  // eslint-disable-next-line no-control-regex
  return !/[\x80-\xff]/.test(byteString);
}
