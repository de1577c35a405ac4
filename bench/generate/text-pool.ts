/**
 * Pre-built paragraphs per language. Generating prose per
 * message would dominate the run time of a multi-gigabyte archive; drawing paragraphs from a seeded
 * pool keeps every message different in combination while costing almost nothing.
 */
import { tryEncodeText, type Charset } from './charsets.js';
import { type Rng } from './random.js';
import { englishSentence, englishSubject, SENTENCES, SUBJECTS, type Language } from './vocabulary.js';

const POOL_SIZE: Record<Language, number> = { en: 2000, fr: 200, de: 200, ru: 200, ja: 200, misc: 120 };
const MAX_POOL = 2000;
const LANG_INDEX: Record<Language, number> = { en: 0, fr: 1, de: 2, ru: 3, ja: 4, misc: 5 };

/** Wraps at `width` columns on spaces; CJK text (no spaces) is wrapped every `width / 2` chars. */
export function wrap(text: string, width = 72): string[] {
  if (!text.includes(' ')) {
    const step = Math.floor(width / 2);
    const chars = Array.from(text);
    const lines: string[] = [];
    for (let i = 0; i < chars.length; i += step) lines.push(chars.slice(i, i + step).join(''));
    return lines;
  }
  const words = text.split(' ');
  const lines: string[] = [];
  let line = '';
  for (const word of words) {
    if (line.length > 0 && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else line = line.length > 0 ? `${line} ${word}` : word;
  }
  if (line.length > 0) lines.push(line);
  return lines;
}

/** A piece of body text: literal text, or a pool paragraph (optionally quoted with `> `). */
export type Block = string | { lang: Language; index: number; quoted: boolean };

export class TextPool {
  private readonly paragraphs: Record<Language, string[]>;
  /** Per charset: encoded (and quoted) paragraphs; null marks "not encodable in that charset". */
  private readonly encodedCache = new Map<Charset, Array<string | null | undefined>>();

  constructor(rng: Rng) {
    const paragraphs = {} as Record<Language, string[]>;
    for (const lang of Object.keys(POOL_SIZE) as Language[]) {
      const r = rng.child(`pool-${lang}`);
      const pick = <T>(xs: readonly T[]): T => r.pick(xs);
      const list: string[] = [];
      for (let i = 0; i < POOL_SIZE[lang]; i++) {
        const count = r.int(1, 5);
        const sentences: string[] = [];
        for (let s = 0; s < count; s++) sentences.push(lang === 'en' ? englishSentence(pick) : r.pick(SENTENCES[lang]));
        const joiner = lang === 'ja' ? '' : ' ';
        list.push(wrap(sentences.join(joiner)).join('\n'));
      }
      paragraphs[lang] = list;
    }
    this.paragraphs = paragraphs;
  }

  count(lang: Language): number {
    return this.paragraphs[lang].length;
  }

  randomIndex(rng: Rng, lang: Language): number {
    return Math.floor(rng.float() * this.paragraphs[lang].length);
  }

  text(lang: Language, index: number): string {
    return this.paragraphs[lang][index] as string;
  }

  /** The paragraph's text, with every line prefixed by `> ` when quoted. */
  blockText(block: Block): string {
    if (typeof block === 'string') return block;
    const text = this.text(block.lang, block.index);
    return block.quoted ? '> ' + text.replace(/\n/g, '\n> ') : text;
  }

  /**
   * The blocks joined by newlines and encoded in `charset`, or null if some character is missing
   * from it. Pool paragraphs are encoded once per charset and cached.
   */
  encodeBlocks(blocks: readonly Block[], charset: Charset): string | null {
    let cache = this.encodedCache.get(charset);
    if (!cache) {
      cache = [];
      this.encodedCache.set(charset, cache);
    }
    let out = '';
    for (let i = 0; i < blocks.length; i++) {
      const block = blocks[i] as Block;
      let bytes: string | null | undefined;
      if (typeof block === 'string') bytes = tryEncodeText(block, charset);
      else {
        const slot = (LANG_INDEX[block.lang] * MAX_POOL + block.index) * 2 + (block.quoted ? 1 : 0);
        bytes = cache[slot];
        if (bytes === undefined) {
          bytes = tryEncodeText(this.blockText(block), charset);
          cache[slot] = bytes;
        }
      }
      if (bytes === null) return null;
      out += i === 0 ? bytes : '\n' + bytes;
    }
    return out;
  }

  subject(rng: Rng, lang: Language): string {
    return lang === 'en' ? englishSubject((xs) => rng.pick(xs)) : rng.pick(SUBJECTS[lang]);
  }
}

/**
 * Random bytes for attachments, pre-encoded as wrapped base64. An attachment is a fresh first line
 * (carrying the file type's magic bytes), a run of pool lines and a fresh short last line, so large
 * attachments cost a string slice instead of random generation plus encoding.
 */
export class BinaryPool {
  private readonly lines: Map<number, { text: string; lineCount: number }> = new Map();
  private readonly raw: Buffer;

  constructor(rng: Rng, bytes: number) {
    // A multiple of both 57 (76-column lines) and 54 (72-column lines).
    const unit = 57 * 54;
    const size = Math.max(unit * 16, Math.ceil(bytes / unit) * unit);
    this.raw = Buffer.alloc(size);
    rng.fill(this.raw);
  }

  private pool(width: number): { text: string; lineCount: number } {
    let hit = this.lines.get(width);
    if (!hit) {
      const b64 = this.raw.toString('base64');
      const parts: string[] = [];
      for (let i = 0; i < b64.length; i += width) parts.push(b64.slice(i, i + width));
      hit = { text: parts.join('\n') + '\n', lineCount: parts.length };
      this.lines.set(width, hit);
    }
    return hit;
  }

  /** Base64 body (lines of `width`, no trailing newline) of a `size`-byte file starting with `magic`. */
  base64(rng: Rng, size: number, magic: Uint8Array, width = 76): string {
    const perLine = (width / 4) * 3;
    const head = Buffer.alloc(Math.min(size, perLine));
    rng.fill(head);
    head.set(magic.subarray(0, head.length));
    if (size <= perLine) return head.toString('base64');
    const rest = size - head.length;
    const middleLines = Math.floor((rest - 1) / perLine);
    const tailBytes = rest - middleLines * perLine;
    const pool = this.pool(width);
    const lineLength = width + 1;
    let middle = '';
    let remaining = middleLines;
    let at = Math.floor(rng.float() * pool.lineCount);
    while (remaining > 0) {
      const take = Math.min(remaining, pool.lineCount - at);
      middle += pool.text.slice(at * lineLength, (at + take) * lineLength);
      remaining -= take;
      at = 0;
    }
    const tail = Buffer.alloc(tailBytes);
    rng.fill(tail);
    return `${head.toString('base64')}\n${middle}${tail.toString('base64')}`;
  }
}
