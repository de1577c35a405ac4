/**
 * A reader for Python pickles of protocols 0, 1 and 2 as written by Python 2 (cPickle), which is how
 * Mailman 2.1 stores config.pck (protocol 1), pipermail.pck and article pickles (protocol 0).
 *
 * It builds plain data and never executes anything: GLOBAL/INST/OBJ/NEWOBJ/REDUCE become records
 * naming the class or callable. Python 2 byte strings stay bytes (`PyBytes`) because only the caller
 * knows their charset. The machine is iterative (no recursion), every length is checked against
 * the bytes that remain, and nothing is stored on plain objects, so hostile input cannot exhaust the
 * stack, allocate beyond its own size, or pollute prototypes.
 */

/** A Python 2 `str`: bytes in an unknown charset. `bytes` is a view into the pickle's buffer. */
export class PyBytes {
  private latin1Text: string | undefined;

  constructor(readonly bytes: Buffer) {}

  /** True when every byte is ASCII, i.e. the text is the same in every charset Mailman uses. */
  isAscii(): boolean {
    const b = this.bytes;
    for (let i = 0; i < b.length; i++) if (b[i]! >= 0x80) return false;
    return true;
  }

  /** Latin-1 view: one character per byte, so no byte is ever lost. */
  latin1(): string {
    return (this.latin1Text ??= this.bytes.toString('latin1'));
  }
}

/** A Python float, kept apart from ints so `2.0` and `2` stay distinguishable. */
export class PyFloat {
  constructor(readonly value: number) {}
}

export class PyTuple {
  constructor(readonly items: PyValue[]) {}
}

/** A reference to a class or function (GLOBAL opcode); never resolved. */
export class PyGlobal {
  constructor(
    readonly module: string,
    readonly name: string,
  ) {}
}

/** An instance of a class (INST, OBJ, NEWOBJ, or copy_reg._reconstructor), with its BUILD state. */
export class PyInstance {
  state: PyValue | undefined = undefined;
  constructor(
    readonly module: string,
    readonly name: string,
    readonly args: PyValue[],
  ) {}
}

/** A REDUCE call that was recorded instead of executed. */
export class PyReduce {
  state: PyValue | undefined = undefined;
  constructor(
    readonly callable: PyValue,
    readonly args: PyValue,
  ) {}
}

/**
 * A Python dict. Entries keep pickle order; keys may be bytes, unicode, numbers, tuples or None.
 * Lookup follows Python 2 equality: an ASCII byte string equals the same unicode string, and
 * `1 == 1.0 == True`.
 */
export class PyDict {
  private readonly keys: PyValue[] = [];
  private readonly values: PyValue[] = [];
  private readonly index = new Map<string, number>();

  get size(): number {
    return this.keys.length;
  }

  set(key: PyValue, value: PyValue): void {
    const h = hashKey(key);
    const at = this.index.get(h);
    if (at === undefined) {
      this.index.set(h, this.keys.length);
      this.keys.push(key);
      this.values.push(value);
    } else {
      this.values[at] = value;
    }
  }

  /** Looks a key up; a JS string matches both a byte-string key and a unicode key. */
  get(key: PyValue): PyValue | undefined {
    const at = this.index.get(hashKey(key));
    return at === undefined ? undefined : this.values[at];
  }

  has(key: PyValue): boolean {
    return this.index.has(hashKey(key));
  }

  *entries(): IterableIterator<[PyValue, PyValue]> {
    for (let i = 0; i < this.keys.length; i++) yield [this.keys[i]!, this.values[i]!];
  }
}

export type PyValue =
  | null
  | boolean
  | number
  | bigint
  | string
  | PyBytes
  | PyFloat
  | PyTuple
  | PyDict
  | PyGlobal
  | PyInstance
  | PyReduce
  | PyValue[];

export type PickleErrorKind = 'truncated' | 'invalid' | 'unsupported';

export class PickleError extends Error {
  constructor(
    readonly kind: PickleErrorKind,
    /** Byte offset of the opcode (or data) that failed. */
    readonly offset: number,
    readonly reason: string,
  ) {
    super(`${reason} (at byte ${offset})`);
    this.name = 'PickleError';
  }
}

let unhashableCounter = 0;

/** Python-2 key equality as a string, so that equal keys collide and different keys do not. */
function hashKey(key: PyValue): string {
  if (key === null) return 'N';
  if (typeof key === 'boolean') return key ? 'n:1' : 'n:0';
  if (typeof key === 'number') return `n:${key}`;
  if (typeof key === 'bigint') return `n:${key.toString()}`;
  if (key instanceof PyFloat) return `n:${key.value}`;
  if (typeof key === 'string') {
    for (let i = 0; i < key.length; i++) if (key.charCodeAt(i) > 0x7f) return `u:${key}`;
    return `s:${key}`;
  }
  if (key instanceof PyBytes) return `s:${key.latin1()}`;
  if (key instanceof PyTuple) return `t:(${key.items.map(hashKey).join(',')})`;
  if (key instanceof PyGlobal) return `g:${key.module}.${key.name}`;
  // Unhashable in Python (lists, dicts) or identity-hashed (instances): never equal to anything else.
  return `o:${++unhashableCounter}`;
}

const Op = {
  MARK: 0x28, // (
  STOP: 0x2e, // .
  POP: 0x30, // 0
  POP_MARK: 0x31, // 1
  DUP: 0x32, // 2
  FLOAT: 0x46, // F
  INT: 0x49, // I
  BININT: 0x4a, // J
  BININT1: 0x4b, // K
  LONG: 0x4c, // L
  BININT2: 0x4d, // M
  NONE: 0x4e, // N
  PERSID: 0x50, // P
  BINPERSID: 0x51, // Q
  REDUCE: 0x52, // R
  STRING: 0x53, // S
  BINSTRING: 0x54, // T
  SHORT_BINSTRING: 0x55, // U
  UNICODE: 0x56, // V
  BINUNICODE: 0x58, // X
  APPEND: 0x61, // a
  BUILD: 0x62, // b
  GLOBAL: 0x63, // c
  DICT: 0x64, // d
  EMPTY_DICT: 0x7d, // }
  APPENDS: 0x65, // e
  GET: 0x67, // g
  BINGET: 0x68, // h
  INST: 0x69, // i
  LONG_BINGET: 0x6a, // j
  LIST: 0x6c, // l
  EMPTY_LIST: 0x5d, // ]
  OBJ: 0x6f, // o
  PUT: 0x70, // p
  BINPUT: 0x71, // q
  LONG_BINPUT: 0x72, // r
  SETITEM: 0x73, // s
  TUPLE: 0x74, // t
  EMPTY_TUPLE: 0x29, // )
  SETITEMS: 0x75, // u
  BINFLOAT: 0x47, // G
  PROTO: 0x80,
  NEWOBJ: 0x81,
  EXT1: 0x82,
  EXT2: 0x83,
  EXT4: 0x84,
  TUPLE1: 0x85,
  TUPLE2: 0x86,
  TUPLE3: 0x87,
  NEWTRUE: 0x88,
  NEWFALSE: 0x89,
  LONG1: 0x8a,
  LONG4: 0x8b,
} as const;

/** A marker on the value stack; never escapes the machine. */
const MARK_SENTINEL: unique symbol = Symbol('MARK');
type StackItem = PyValue | typeof MARK_SENTINEL;

export interface PickleResult {
  value: PyValue;
  /** Offset just after the STOP opcode (a file may hold several pickles back to back). */
  end: number;
  /** The protocol announced by PROTO, else 1 if a binary opcode was seen, else 0. */
  protocol: number;
}

/** Reads one pickle from `data` starting at `offset`. Throws `PickleError` on any problem. */
export function parsePickle(data: Uint8Array, offset = 0): PickleResult {
  return new Machine(Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength), offset).run();
}

/** Reads the first pickle in `data` and returns its value. */
export function loadPickle(data: Uint8Array): PyValue {
  return parsePickle(data).value;
}

/** Opcodes that protocol 0 does not have: seeing one means the pickle is at least protocol 1. */
const BINARY_OPCODES = new Uint8Array(256);
for (const op of [
  Op.EMPTY_DICT, Op.EMPTY_LIST, Op.EMPTY_TUPLE, Op.BININT, Op.BININT1, Op.BININT2, Op.BINFLOAT,
  Op.BINSTRING, Op.SHORT_BINSTRING, Op.BINUNICODE, Op.BINGET, Op.LONG_BINGET, Op.BINPUT,
  Op.LONG_BINPUT, Op.APPENDS, Op.SETITEMS, Op.OBJ, Op.POP_MARK, Op.BINPERSID,
]) {
  BINARY_OPCODES[op] = 1;
}
for (let op = 0x80; op <= 0x8b; op++) BINARY_OPCODES[op] = 1;

/** Up to this index the memo is an array; beyond it (only forged pickles go there) a Map. */
const MEMO_ARRAY_LIMIT = 1 << 24;

const utf8Fatal = new TextDecoder('utf-8', { fatal: true });

class Machine {
  private pos: number;
  private opStart: number;
  private stack: StackItem[] = [];
  private marks: number[] = [];
  /** Memo indices are small and dense in practice; a forged huge index goes to the Map. */
  private memo: PyValue[] = [];
  private bigMemo = new Map<number, PyValue>();
  private protocol = 0;
  private sawBinary = false;

  constructor(
    private readonly buf: Buffer,
    start: number,
  ) {
    this.pos = start;
    this.opStart = start;
  }

  run(): PickleResult {
    const buf = this.buf;
    if (this.pos >= buf.length) throw new PickleError('truncated', this.pos, 'empty input: no pickle data');
    for (;;) {
      if (this.pos >= buf.length) {
        throw new PickleError('truncated', this.pos, 'pickle data ends before the STOP opcode');
      }
      this.opStart = this.pos;
      const op = buf[this.pos++]!;
      if (BINARY_OPCODES[op] === 1) this.sawBinary = true;
      switch (op) {
        case Op.STOP: {
          // Like Python, the result is the top of the stack; anything below it is ignored.
          return { value: this.popValue(), end: this.pos, protocol: Math.max(this.protocol, this.sawBinary ? 1 : 0) };
        }
        case Op.MARK:
          this.marks.push(this.stack.length);
          this.stack.push(MARK_SENTINEL);
          break;
        case Op.POP:
          if (this.stack.length === 0) this.fail('invalid', 'POP on an empty stack');
          if (this.stack[this.stack.length - 1] === MARK_SENTINEL) this.marks.pop();
          this.stack.pop();
          break;
        case Op.POP_MARK:
          this.popMark();
          break;
        case Op.DUP:
          this.push(this.peek());
          break;
        case Op.NONE:
          this.push(null);
          break;
        case Op.NEWTRUE:
          this.push(true);
          break;
        case Op.NEWFALSE:
          this.push(false);
          break;
        case Op.INT:
          this.push(this.parseIntLine(this.readLine()));
          break;
        case Op.BININT:
          this.push(this.i32());
          break;
        case Op.BININT1:
          this.push(this.u8());
          break;
        case Op.BININT2:
          this.push(this.u16());
          break;
        case Op.LONG:
          this.push(this.parseLongLine(this.readLine()));
          break;
        case Op.LONG1:
          this.push(decodeLong(this.take(this.u8())));
          break;
        case Op.LONG4: {
          const n = this.i32();
          if (n < 0) this.fail('invalid', `LONG4 with negative length ${n}`);
          this.push(decodeLong(this.take(n)));
          break;
        }
        case Op.FLOAT:
          this.push(new PyFloat(this.parseFloatLine(this.readLine())));
          break;
        case Op.BINFLOAT:
          this.need(8);
          this.push(new PyFloat(this.buf.readDoubleBE(this.pos)));
          this.pos += 8;
          break;
        case Op.STRING:
          this.push(new PyBytes(this.parseStringLine(this.readLine())));
          break;
        case Op.BINSTRING: {
          const n = this.i32();
          if (n < 0) this.fail('invalid', `BINSTRING with negative length ${n}`);
          this.push(new PyBytes(this.take(n)));
          break;
        }
        case Op.SHORT_BINSTRING:
          this.push(new PyBytes(this.take(this.u8())));
          break;
        case Op.UNICODE:
          this.push(this.rawUnicodeEscape(this.readLine()));
          break;
        case Op.BINUNICODE:
          this.push(this.utf8(this.take(this.u32())));
          break;
        case Op.EMPTY_LIST:
          this.push([]);
          break;
        case Op.LIST:
          this.push(this.popToMark());
          break;
        case Op.EMPTY_TUPLE:
          this.push(new PyTuple([]));
          break;
        case Op.TUPLE:
          this.push(new PyTuple(this.popToMark()));
          break;
        case Op.TUPLE1:
        case Op.TUPLE2:
        case Op.TUPLE3: {
          const n = op - Op.TUPLE1 + 1;
          const items: PyValue[] = new Array<PyValue>(n);
          for (let i = n - 1; i >= 0; i--) items[i] = this.popValue();
          this.push(new PyTuple(items));
          break;
        }
        case Op.EMPTY_DICT:
          this.push(new PyDict());
          break;
        case Op.DICT: {
          const items = this.popToMark();
          if (items.length % 2 !== 0) this.fail('invalid', 'DICT with an odd number of items');
          const d = new PyDict();
          for (let i = 0; i < items.length; i += 2) d.set(items[i]!, items[i + 1]!);
          this.push(d);
          break;
        }
        case Op.APPEND: {
          const v = this.popValue();
          this.appendTo(this.peek(), v);
          break;
        }
        case Op.APPENDS: {
          const items = this.popToMark();
          const target = this.peek();
          for (const v of items) this.appendTo(target, v);
          break;
        }
        case Op.SETITEM: {
          const v = this.popValue();
          const k = this.popValue();
          this.dictAt(this.peek()).set(k, v);
          break;
        }
        case Op.SETITEMS: {
          const items = this.popToMark();
          if (items.length % 2 !== 0) this.fail('invalid', 'SETITEMS with an odd number of items');
          const d = this.dictAt(this.peek());
          for (let i = 0; i < items.length; i += 2) d.set(items[i]!, items[i + 1]!);
          break;
        }
        case Op.GET:
          this.push(this.memoGet(this.parseMemoIndex(this.readLine())));
          break;
        case Op.BINGET:
          this.push(this.memoGet(this.u8()));
          break;
        case Op.LONG_BINGET:
          this.push(this.memoGet(this.u32()));
          break;
        case Op.PUT:
          this.memoSet(this.parseMemoIndex(this.readLine()), this.peek());
          break;
        case Op.BINPUT:
          this.memoSet(this.u8(), this.peek());
          break;
        case Op.LONG_BINPUT:
          this.memoSet(this.u32(), this.peek());
          break;
        case Op.GLOBAL: {
          const module = this.asciiLine('GLOBAL module');
          const name = this.asciiLine('GLOBAL name');
          this.push(new PyGlobal(module, name));
          break;
        }
        case Op.INST: {
          const module = this.asciiLine('INST module');
          const name = this.asciiLine('INST name');
          this.push(new PyInstance(module, name, this.popToMark()));
          break;
        }
        case Op.OBJ: {
          const items = this.popToMark();
          if (items.length === 0) this.fail('invalid', 'OBJ without a class');
          const cls = items[0]!;
          if (!(cls instanceof PyGlobal)) this.fail('invalid', 'OBJ whose class is not a GLOBAL');
          this.push(new PyInstance(cls.module, cls.name, items.slice(1)));
          break;
        }
        case Op.NEWOBJ: {
          const args = this.popValue();
          const cls = this.popValue();
          if (!(cls instanceof PyGlobal)) this.fail('invalid', 'NEWOBJ whose class is not a GLOBAL');
          this.push(new PyInstance(cls.module, cls.name, args instanceof PyTuple ? args.items : [args]));
          break;
        }
        case Op.REDUCE: {
          const args = this.popValue();
          const callable = this.popValue();
          this.push(reduceRecord(callable, args));
          break;
        }
        case Op.BUILD: {
          const state = this.popValue();
          const target = this.peek();
          if (target instanceof PyInstance || target instanceof PyReduce) {
            target.state = mergeState(target.state, state);
          } else {
            this.fail('invalid', 'BUILD on a value that is not an object');
          }
          break;
        }
        case Op.PROTO: {
          const p = this.u8();
          if (p > 2) this.fail('unsupported', `pickle protocol ${p} (only protocols 0-2, as written by Python 2)`);
          this.protocol = Math.max(this.protocol, p);
          break;
        }
        case Op.PERSID:
        case Op.BINPERSID:
          this.fail('unsupported', 'persistent IDs (PERSID/BINPERSID) are not supported');
          break;
        case Op.EXT1:
        case Op.EXT2:
        case Op.EXT4:
          this.fail('unsupported', 'copy_reg extension codes (EXT1/EXT2/EXT4) are not supported');
          break;
        default:
          this.fail('invalid', `unknown opcode 0x${op.toString(16).padStart(2, '0')}`);
      }
    }
  }

  private fail(kind: PickleErrorKind, reason: string): never {
    throw new PickleError(kind, this.opStart, reason);
  }

  private push(v: PyValue): void {
    this.stack.push(v);
  }

  private peek(): PyValue {
    const top = this.stack[this.stack.length - 1];
    if (top === undefined) this.fail('invalid', 'stack underflow');
    if (top === MARK_SENTINEL) this.fail('invalid', 'a MARK is where a value was expected');
    return top;
  }

  private popValue(): PyValue {
    const v = this.peek();
    this.stack.pop();
    return v;
  }

  private popMark(): number {
    const m = this.marks.pop();
    if (m === undefined) this.fail('invalid', 'no MARK on the stack');
    return m;
  }

  private popToMark(): PyValue[] {
    const m = this.popMark();
    const items = this.stack.slice(m + 1) as PyValue[];
    this.stack.length = m;
    return items;
  }

  private appendTo(target: PyValue, v: PyValue): void {
    if (!Array.isArray(target)) this.fail('invalid', 'APPEND/APPENDS on a value that is not a list');
    target.push(v);
  }

  private dictAt(target: PyValue): PyDict {
    if (!(target instanceof PyDict)) this.fail('invalid', 'SETITEM/SETITEMS on a value that is not a dict');
    return target;
  }

  private memoSet(i: number, v: PyValue): void {
    if (i < MEMO_ARRAY_LIMIT) this.memo[i] = v;
    else this.bigMemo.set(i, v);
  }

  private memoGet(i: number): PyValue {
    const v = i < MEMO_ARRAY_LIMIT ? this.memo[i] : this.bigMemo.get(i);
    if (v === undefined) this.fail('invalid', `memo entry ${i} read before it was written`);
    return v;
  }

  private need(n: number): void {
    if (n > this.buf.length - this.pos) {
      throw new PickleError(
        'truncated',
        this.opStart,
        `pickle data ends inside an opcode (needs ${n} bytes, ${this.buf.length - this.pos} left)`,
      );
    }
  }

  private u8(): number {
    this.need(1);
    return this.buf[this.pos++]!;
  }

  private u16(): number {
    this.need(2);
    const v = this.buf.readUInt16LE(this.pos);
    this.pos += 2;
    return v;
  }

  private u32(): number {
    this.need(4);
    const v = this.buf.readUInt32LE(this.pos);
    this.pos += 4;
    return v;
  }

  private i32(): number {
    this.need(4);
    const v = this.buf.readInt32LE(this.pos);
    this.pos += 4;
    return v;
  }

  /** Takes n bytes after checking they exist, so a forged length never allocates. */
  private take(n: number): Buffer {
    this.need(n);
    const out = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  /** Reads up to (not including) the next newline. */
  private readLine(): Buffer {
    const nl = this.buf.indexOf(0x0a, this.pos);
    if (nl < 0) throw new PickleError('truncated', this.opStart, 'pickle data ends inside a text opcode (no newline)');
    const line = this.buf.subarray(this.pos, nl);
    this.pos = nl + 1;
    return line;
  }

  private asciiLine(what: string): string {
    const line = this.readLine();
    for (const b of line) if (b < 0x20 || b >= 0x7f) this.fail('invalid', `${what} is not printable ASCII`);
    return line.toString('latin1');
  }

  private parseMemoIndex(line: Buffer): number {
    const s = line.toString('latin1').trim();
    if (!/^\d{1,15}$/.test(s)) this.fail('invalid', `bad memo index ${JSON.stringify(s.slice(0, 40))}`);
    return Number(s);
  }

  private parseIntLine(line: Buffer): number | boolean | bigint {
    const s = line.toString('latin1');
    // cPickle writes True/False as "I01"/"I00" (protocol 0 and 1 have no bool opcode).
    if (s === '00') return false;
    if (s === '01') return true;
    const t = s.trim();
    if (!/^[-+]?\d+$/.test(t)) this.fail('invalid', `bad INT ${JSON.stringify(t.slice(0, 40))}`);
    return toIntValue(BigInt(t));
  }

  private parseLongLine(line: Buffer): number | bigint {
    let s = line.toString('latin1').trim();
    if (s.endsWith('L') || s.endsWith('l')) s = s.slice(0, -1);
    const m = /^([-+]?)(0[xX][0-9a-fA-F]+|0[oO]?[0-7]+|0[bB][01]+|\d+)$/.exec(s);
    if (!m) this.fail('invalid', `bad LONG ${JSON.stringify(s.slice(0, 40))}`);
    let digits = m[2]!;
    // Python 2 long(x, 0): a leading 0 means octal.
    if (/^0[0-7]+$/.test(digits)) digits = `0o${digits.slice(1)}`;
    const v = BigInt(digits);
    return toIntValue(m[1] === '-' ? -v : v);
  }

  private parseFloatLine(line: Buffer): number {
    const s = line.toString('latin1').trim().toLowerCase();
    if (s === 'nan' || s === '-nan') return NaN;
    if (s === 'inf' || s === '+inf') return Infinity;
    if (s === '-inf') return -Infinity;
    if (!/^[-+]?(\d+\.?\d*|\.\d+)(e[-+]?\d+)?$/.test(s)) this.fail('invalid', `bad FLOAT ${JSON.stringify(s.slice(0, 40))}`);
    return Number(s);
  }

  /** Protocol 0 STRING: a quoted Python 2 repr, unescaped like `str.decode('string-escape')`. */
  private parseStringLine(line: Buffer): Buffer {
    const q = line[0];
    if (line.length < 2 || (q !== 0x27 && q !== 0x22) || line[line.length - 1] !== q) {
      this.fail('invalid', 'STRING argument is not a quoted string');
    }
    const body = line.subarray(1, line.length - 1);
    if (!body.includes(0x5c)) return body;
    const out = Buffer.allocUnsafe(body.length);
    let n = 0;
    for (let i = 0; i < body.length; i++) {
      const c = body[i]!;
      if (c !== 0x5c || i + 1 >= body.length) {
        out[n++] = c;
        continue;
      }
      const e = body[++i]!;
      switch (e) {
        case 0x5c: out[n++] = 0x5c; break; // \\
        case 0x27: out[n++] = 0x27; break; // \'
        case 0x22: out[n++] = 0x22; break; // \"
        case 0x61: out[n++] = 0x07; break; // \a
        case 0x62: out[n++] = 0x08; break; // \b
        case 0x66: out[n++] = 0x0c; break; // \f
        case 0x6e: out[n++] = 0x0a; break; // \n
        case 0x72: out[n++] = 0x0d; break; // \r
        case 0x74: out[n++] = 0x09; break; // \t
        case 0x76: out[n++] = 0x0b; break; // \v
        case 0x0a: break; // backslash-newline: line continuation
        case 0x78: { // \xhh
          const hex = body.subarray(i + 1, i + 3).toString('latin1');
          if (!/^[0-9a-fA-F]{2}$/.test(hex)) this.fail('invalid', 'STRING has an invalid \\x escape');
          out[n++] = parseInt(hex, 16);
          i += 2;
          break;
        }
        default:
          if (e >= 0x30 && e <= 0x37) { // \o, \oo, \ooo
            let v = e - 0x30;
            let k = 1;
            while (k < 3 && i + 1 < body.length && body[i + 1]! >= 0x30 && body[i + 1]! <= 0x37) {
              v = v * 8 + (body[++i]! - 0x30);
              k++;
            }
            out[n++] = v & 0xff;
          } else {
            // Unknown escapes are kept verbatim, as Python does.
            out[n++] = 0x5c;
            out[n++] = e;
          }
      }
    }
    return Buffer.from(out.subarray(0, n));
  }

  /** Protocol 0 UNICODE: raw-unicode-escape (latin-1 bytes plus \uXXXX / \UXXXXXXXX). */
  private rawUnicodeEscape(line: Buffer): string {
    const s = line.toString('latin1');
    if (!s.includes('\\')) return s;
    let out = '';
    let i = 0;
    while (i < s.length) {
      const slash = s.indexOf('\\', i);
      if (slash < 0) {
        out += s.slice(i);
        break;
      }
      out += s.slice(i, slash);
      // Only a backslash preceded by an even number of backslashes starts an escape.
      let run = 0;
      while (slash + run < s.length && s[slash + run] === '\\') run++;
      out += '\\'.repeat(run - 1);
      const at = slash + run - 1;
      const kind = s[at + 1];
      if (run % 2 === 1 && (kind === 'u' || kind === 'U')) {
        const width = kind === 'u' ? 4 : 8;
        const hex = s.slice(at + 2, at + 2 + width);
        if (hex.length !== width || !/^[0-9a-fA-F]+$/.test(hex)) this.fail('invalid', `UNICODE has a truncated \\${kind} escape`);
        const cp = parseInt(hex, 16);
        if (cp > 0x10ffff) this.fail('invalid', `UNICODE escape \\${kind}${hex} is beyond U+10FFFF`);
        out += String.fromCodePoint(cp);
        i = at + 2 + width;
      } else {
        out += '\\';
        i = at + 1;
      }
    }
    return out;
  }

  /** BINUNICODE is UTF-8; Python 2 also wrote lone surrogates as 3-byte sequences, which we accept. */
  private utf8(bytes: Buffer): string {
    try {
      return utf8Fatal.decode(bytes);
    } catch {
      const s = decodeWtf8(bytes);
      if (s === null) this.fail('invalid', 'BINUNICODE is not valid UTF-8');
      return s;
    }
  }
}

function toIntValue(v: bigint): number | bigint {
  return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
}

/** LONG1/LONG4 payload: little-endian two's complement. */
function decodeLong(bytes: Buffer): number | bigint {
  if (bytes.length === 0) return 0;
  let v = 0n;
  for (let i = bytes.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(bytes[i]!);
  if (bytes[bytes.length - 1]! & 0x80) v -= 1n << BigInt(bytes.length * 8);
  return toIntValue(v);
}

/** copy_reg._reconstructor(cls, base, state) is how Python 2 pickles new-style instances (protocols 0-1). */
function reduceRecord(callable: PyValue, args: PyValue): PyValue {
  if (
    callable instanceof PyGlobal &&
    (callable.module === 'copy_reg' || callable.module === 'copyreg') &&
    callable.name === '_reconstructor' &&
    args instanceof PyTuple &&
    args.items[0] instanceof PyGlobal
  ) {
    const cls = args.items[0];
    return new PyInstance(cls.module, cls.name, []);
  }
  return new PyReduce(callable, args);
}

/** Repeated BUILDs update the instance dict, as `inst.__dict__.update(state)` does. */
function mergeState(prev: PyValue | undefined, next: PyValue): PyValue {
  if (prev instanceof PyDict && next instanceof PyDict) {
    for (const [k, v] of next.entries()) prev.set(k, v);
    return prev;
  }
  return next;
}

/** UTF-8 that also allows encoded surrogates (ED A0..BF xx), as Python 2 wrote them. */
function decodeWtf8(b: Buffer): string | null {
  const units: number[] = [];
  let out = '';
  for (let i = 0; i < b.length; ) {
    const c = b[i]!;
    let cp: number;
    let n: number;
    if (c < 0x80) { cp = c; n = 1; }
    else if (c >= 0xc2 && c <= 0xdf) { cp = c & 0x1f; n = 2; }
    else if (c >= 0xe0 && c <= 0xef) { cp = c & 0x0f; n = 3; }
    else if (c >= 0xf0 && c <= 0xf4) { cp = c & 0x07; n = 4; }
    else return null;
    if (i + n > b.length) return null;
    for (let k = 1; k < n; k++) {
      const t = b[i + k]!;
      if ((t & 0xc0) !== 0x80) return null;
      cp = (cp << 6) | (t & 0x3f);
    }
    if ((n === 3 && cp < 0x800) || (n === 4 && (cp < 0x10000 || cp > 0x10ffff))) return null;
    if (cp > 0xffff) {
      units.push(0xd800 + ((cp - 0x10000) >> 10), 0xdc00 + ((cp - 0x10000) & 0x3ff));
    } else {
      units.push(cp);
    }
    if (units.length > 4096) {
      out += String.fromCharCode(...units);
      units.length = 0;
    }
    i += n;
  }
  return out + String.fromCharCode(...units);
}
