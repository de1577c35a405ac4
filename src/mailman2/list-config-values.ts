/**
 * Turning unpickled config.pck values into JSON: byte strings decoded with the list charset (every
 * fallback and every undecodable string reported), and a walk that is bounded in depth and total
 * size because memo references let a small hostile pickle describe a huge or cyclic graph.
 */
import libmime from 'libmime';
import type { Problem } from '../problems.js';
import { UserError } from '../problems.js';
import { decodeWithFallbacks, isAscii, isNonAsciiUtf8, isSingleByteCharset } from './charset.js';
import type { JsonValue } from './list-config-schema.js';
import { PyBytes, PyDict, PyFloat, PyGlobal, PyInstance, PyReduce, PyTuple, type PyValue } from './pickle.js';

const MAX_DEPTH = 64;

export interface DecodeOptions {
  list: string;
  file: string;
  /** The list charset first, then the fallbacks to try (each use of a fallback is reported). */
  charsets: readonly string[];
  problems: Problem[];
  /** Upper bound on JSON values produced from this pickle (guards against memo-reference bombs). */
  maxValues: number;
}

export class ValueDecoder {
  private produced = 0;

  constructor(private readonly o: DecodeOptions) {}

  get charset(): string {
    return this.o.charsets[0]!;
  }

  problem(severity: Problem['severity'], code: string, key: string, message: string): void {
    this.o.problems.push({ severity, code, message: `${this.o.list}: ${message}`, list: this.o.list, file: this.o.file, key });
  }

  private count(key: string): void {
    if (++this.produced > this.o.maxValues) {
      throw new UserError(
        `${this.o.file}: config.pck expands to more than ${this.o.maxValues} values (at ${key}); refusing a pickle that references itself this much`,
      );
    }
  }

  /** Text of a byte string (list charset, then reported fallbacks) or of a unicode string. */
  text(v: PyBytes | string, key: string): string {
    return typeof v === 'string' ? v : this.bytesText(v, key).text;
  }

  /** Decodes bytes, reporting fallbacks and undecodable strings; returns what the typed JSON needs too. */
  bytesText(v: PyBytes, key: string): { text: string; charset: string | null } {
    const bytes = v.bytes;
    if (isAscii(bytes)) return { text: v.latin1(), charset: null };
    const d = decodeWithFallbacks(bytes, this.o.charsets);
    if (!d.lossless) {
      this.problem(
        'warning',
        'undecodable-string',
        key,
        `${key} is not valid ${this.o.charsets.join(' or ')}; kept as latin-1 text (original bytes, base64: ${bytes.toString('base64')})`,
      );
    } else if (d.fallback) {
      this.problem('info', 'string-charset-fallback', key, `${key} is not valid ${this.charset}; decoded as ${d.charset}`);
    }
    return { text: d.text, charset: d.charset };
  }

  /**
   * A member's real name. bin/add_members stores whatever bytes it was given (often UTF-8, sometimes
   * still RFC 2047 encoded), the web pages store unicode; see reference/mailman2.md §1.3.
   */
  displayName(v: PyValue, key: string): string | null {
    if (v === null) return null;
    let text: string;
    if (typeof v === 'string') {
      text = v;
    } else if (v instanceof PyBytes) {
      // A single-byte charset decodes anything, so it cannot reject UTF-8; valid multi-byte UTF-8 is
      // almost never accidental in latin-N text, and add_members names usually arrive as UTF-8.
      if (isSingleByteCharset(this.charset) && isNonAsciiUtf8(v.bytes)) {
        text = v.bytes.toString('utf8');
        this.problem('info', 'string-charset-fallback', key, `${key} is UTF-8, not ${this.charset}; decoded as UTF-8`);
      } else {
        text = this.bytesText(v, key).text;
      }
    } else {
      this.problem('warning', 'unexpected-setting-type', key, `${key} is ${describe(v)}, not a string; ignored`);
      return null;
    }
    return this.decodeRfc2047(text, key);
  }

  private decodeRfc2047(text: string, key: string): string {
    if (!/=\?[^?\s]+\?[bBqQ]\?[^?\s]*\?=/.test(text)) return text;
    let decoded: string;
    try {
      decoded = libmime.decodeWords(text);
    } catch {
      decoded = '\ufffd';
    }
    if (decoded.includes('\ufffd') && !text.includes('\ufffd')) {
      this.problem('warning', 'undecodable-rfc2047', key, `${key} holds RFC 2047 words that do not decode; kept encoded: ${text}`);
      return text;
    }
    this.problem('info', 'rfc2047-decoded', key, `${key} was stored RFC 2047 encoded; decoded ${JSON.stringify(text)} to ${JSON.stringify(decoded)}`);
    return decoded;
  }

  /**
   * Plain JSON for scalars and (nested) lists/tuples, or `undefined` when the value holds anything
   * else (dicts, instances), which then belongs in typed JSON.
   */
  plain(v: PyValue, key: string): JsonValue | undefined {
    return isPlainShape(v, 0) ? this.plainValue(v, key) : undefined;
  }

  private plainValue(v: PyValue, key: string): JsonValue {
    this.count(key);
    if (v === null || typeof v === 'boolean' || typeof v === 'string') return v;
    if (typeof v === 'number') return v;
    if (typeof v === 'bigint') return v.toString();
    if (v instanceof PyFloat) return Number.isFinite(v.value) ? v.value : String(v.value);
    if (v instanceof PyBytes) return this.bytesText(v, key).text;
    const items = Array.isArray(v) ? v : (v as PyTuple).items;
    return items.map((item, i) => this.plainValue(item, `${key}[${i}]`));
  }

  /**
   * Typed JSON in the shape of EXPECTED.json's `config_pck_full`, so nothing about the Python value
   * is lost: `{py:"str", text, bytes_b64?, decoded_with?}`, `{py:"unicode", text}`,
   * `{py:"float", value}`, `{py:"tuple", items}`, `{py:"dict", items:[[k, v]...]}`,
   * `{py:"instance", class, state}`; ints, bools and None as JSON.
   */
  typed(v: PyValue, key: string, onPath: Set<object> = new Set(), depth = 0): JsonValue {
    this.count(key);
    if (v === null || typeof v === 'boolean' || typeof v === 'number') return v;
    if (typeof v === 'bigint') return { py: 'long', value: v.toString() };
    if (typeof v === 'string') return { py: 'unicode', text: v };
    if (v instanceof PyFloat) return { py: 'float', value: Number.isFinite(v.value) ? v.value : String(v.value) };
    if (v instanceof PyBytes) {
      const { text, charset } = this.bytesText(v, key);
      return charset === null ? { py: 'str', text } : { py: 'str', text, bytes_b64: v.bytes.toString('base64'), decoded_with: charset };
    }
    if (v instanceof PyGlobal) return { py: 'global', name: `${v.module}.${v.name}` };
    if (onPath.has(v)) {
      this.problem('warning', 'cyclic-value', key, `${key} contains itself; the inner reference is left out`);
      return { py: 'cycle' };
    }
    if (depth >= MAX_DEPTH) {
      this.problem('warning', 'value-too-deep', key, `${key} is nested more than ${MAX_DEPTH} levels; the rest is left out`);
      return { py: 'too-deep' };
    }
    onPath.add(v);
    try {
      const sub = (x: PyValue, k: string): JsonValue => this.typed(x, k, onPath, depth + 1);
      if (Array.isArray(v)) return v.map((x, i) => sub(x, `${key}[${i}]`));
      if (v instanceof PyTuple) return { py: 'tuple', items: v.items.map((x, i) => sub(x, `${key}[${i}]`)) };
      if (v instanceof PyDict) {
        const items: JsonValue[] = [];
        for (const [k, x] of v.entries()) {
          const label = keyLabel(k);
          items.push([sub(k, `${key}{key ${label}}`), sub(x, `${key}[${label}]`)]);
        }
        return { py: 'dict', items };
      }
      if (v instanceof PyInstance) {
        const out: { [k: string]: JsonValue } = { py: 'instance', class: `${v.module}.${v.name}` };
        if (v.args.length > 0) out.args = v.args.map((x, i) => sub(x, `${key}.args[${i}]`));
        out.state = v.state === undefined ? null : sub(v.state, `${key}.state`);
        return out;
      }
      if (v instanceof PyReduce) {
        const out: { [k: string]: JsonValue } = {
          py: 'reduce',
          callable: sub(v.callable, `${key}.callable`),
          args: sub(v.args, `${key}.args`),
        };
        if (v.state !== undefined) out.state = sub(v.state, `${key}.state`);
        return out;
      }
      return null;
    } finally {
      onPath.delete(v);
    }
  }
}

/**
 * Scalars and lists/tuples of them. Shared sub-lists are checked once and a list that contains
 * itself is not plain, so this stays linear in the pickle size.
 */
function isPlainShape(v: PyValue, depth: number, seen = new Map<object, boolean>()): boolean {
  if (v === null || typeof v !== 'object' || v instanceof PyBytes || v instanceof PyFloat) return true;
  const items = Array.isArray(v) ? v : v instanceof PyTuple ? v.items : null;
  if (items === null || depth >= MAX_DEPTH) return false;
  const known = seen.get(v);
  if (known !== undefined) return known;
  seen.set(v, false); // a cycle back to here is not plain
  const ok = items.every((x) => isPlainShape(x, depth + 1, seen));
  seen.set(v, ok);
  return ok;
}

/** A short printable label for a dict key, used in problem keys like `usernames[bob@example.com]`. */
export function keyLabel(k: PyValue): string {
  let s: string;
  if (typeof k === 'string') s = k;
  else if (k instanceof PyBytes) s = k.latin1();
  else if (typeof k === 'number' || typeof k === 'bigint' || typeof k === 'boolean') return String(k);
  else return describe(k);
  // Problems are one line: control characters in a key are shown escaped.
  // eslint-disable-next-line no-control-regex
  return s.replace(/[\x00-\x1f\x7f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

/** The Python type name of a value, for messages. */
export function describe(v: PyValue | undefined): string {
  if (v === undefined) return 'missing';
  if (v === null) return 'None';
  if (typeof v === 'boolean') return 'a bool';
  if (typeof v === 'number' || typeof v === 'bigint') return 'an int';
  if (typeof v === 'string') return 'a unicode string';
  if (v instanceof PyBytes) return 'a string';
  if (v instanceof PyFloat) return 'a float';
  if (Array.isArray(v)) return 'a list';
  if (v instanceof PyTuple) return 'a tuple';
  if (v instanceof PyDict) return 'a dict';
  if (v instanceof PyInstance) return `an instance of ${v.module}.${v.name}`;
  if (v instanceof PyGlobal) return `a reference to ${v.module}.${v.name}`;
  return 'a reduce call';
}

/** Python truthiness for the values a setting can hold. */
export function isNumberLike(v: PyValue | undefined): v is number | boolean | PyFloat | bigint {
  return typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint' || v instanceof PyFloat;
}

export function numberOf(v: number | boolean | PyFloat | bigint): number {
  if (typeof v === 'boolean') return v ? 1 : 0;
  if (v instanceof PyFloat) return v.value;
  return Number(v);
}
