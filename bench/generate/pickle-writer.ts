/**
 * Writes Python 2 pickles, protocol 1, the way `cPickle.dump(dict, fp, 1)` does in Mailman 2.1's
 * MailList.__save (reference mailman2.md §1.1): EMPTY_DICT/EMPTY_LIST then MARK … SETITEMS/APPENDS
 * in batches of 1000 (SETITEM/APPEND for a batch of one), SHORT_BINSTRING/BINSTRING for byte
 * strings, BINUNICODE (UTF-8) for unicode, BININT1/BININT2/BININT (INT for ints beyond 32 bits),
 * `I01`/`I00` for booleans, BINFLOAT, NONE, MARK … TUPLE, old-style instances as MARK GLOBAL OBJ
 * state BUILD, memo BINPUT/LONG_BINPUT with BINGET/LONG_BINGET for objects written twice, STOP.
 *
 * Python values are modelled explicitly because JS cannot tell `str` from `unicode` or `1` from
 * `1.0`: use PyStr, PyUnicode, PyFloat, PyTuple, PyDict, PyInstance; JS arrays are lists, JS
 * integers are ints, booleans are bools, null is None.
 */

/** Python 2 `str`: raw bytes. */
export class PyStr {
  constructor(readonly bytes: Buffer) {}
}

/** Python 2 `unicode`. */
export class PyUnicode {
  constructor(readonly text: string) {}
}

export class PyFloat {
  constructor(readonly value: number) {}
}

export class PyTuple {
  constructor(readonly items: readonly PyValue[]) {}
}

/** A dict; entries are written in this order (Python 2's order is hash order, i.e. arbitrary). */
export class PyDict {
  constructor(readonly entries: Array<[PyValue, PyValue]> = []) {}

  set(key: PyValue, value: PyValue): this {
    this.entries.push([key, value]);
    return this;
  }
}

/** An old-style class instance, e.g. `Mailman.Bouncer._BounceInfo`. */
export class PyInstance {
  constructor(
    readonly module: string,
    readonly name: string,
    readonly state: PyDict,
  ) {}
}

export type PyValue = null | boolean | number | PyStr | PyUnicode | PyFloat | PyTuple | PyDict | PyInstance | PyValue[];

/** Byte string from text: Latin-1 by default (one byte per char), or UTF-8. */
export function pyStr(text: string, encoding: 'latin1' | 'utf8' = 'latin1'): PyStr {
  if (encoding === 'latin1' && /[^\x00-\xff]/.test(text)) throw new Error(`pyStr: ${JSON.stringify(text)} is not Latin-1; pass bytes or utf8`);
  return new PyStr(Buffer.from(text, encoding));
}

export function pyBytes(bytes: Buffer | string): PyStr {
  return new PyStr(typeof bytes === 'string' ? Buffer.from(bytes, 'latin1') : bytes);
}

export function pyUnicode(text: string): PyUnicode {
  return new PyUnicode(text);
}

export function pyFloat(value: number): PyFloat {
  return new PyFloat(value);
}

export function pyTuple(...items: PyValue[]): PyTuple {
  return new PyTuple(items);
}

/** Opcodes of protocols 0-1 (pickletools names). */
export const OP = {
  MARK: 0x28, // (
  STOP: 0x2e, // .
  INT: 0x49, // I
  BININT: 0x4a, // J
  BININT1: 0x4b, // K
  BININT2: 0x4d, // M
  NONE: 0x4e, // N
  BINSTRING: 0x54, // T
  SHORT_BINSTRING: 0x55, // U
  BINUNICODE: 0x58, // X
  APPEND: 0x61, // a
  BUILD: 0x62, // b
  GLOBAL: 0x63, // c
  APPENDS: 0x65, // e
  BINGET: 0x68, // h
  LONG_BINGET: 0x6a, // j
  OBJ: 0x6f, // o
  BINPUT: 0x71, // q
  LONG_BINPUT: 0x72, // r
  SETITEM: 0x73, // s
  TUPLE: 0x74, // t
  SETITEMS: 0x75, // u
  BINFLOAT: 0x47, // G
  EMPTY_DICT: 0x7d, // }
  EMPTY_LIST: 0x5d, // ]
  EMPTY_TUPLE: 0x29, // )
} as const;

const BATCH = 1000;

export interface PickleOptions {
  /**
   * 'all' memoizes every str/unicode/container like Python's pickle.py (so objects written twice
   * become BINGET); 'none' writes no memo opcodes at all. Default 'all'.
   */
  memo?: 'all' | 'none';
}

class Writer {
  private buf = Buffer.allocUnsafe(64 * 1024);
  private len = 0;
  private readonly memo = new Map<object | string, number>();
  // cPickle numbers memo slots from 1 (pickle.py from 0); readers must accept either.
  private nextMemo = 1;

  constructor(private readonly memoize: boolean) {}

  private ensure(n: number): void {
    if (this.len + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.len + n));
    this.buf.copy(next, 0, 0, this.len);
    this.buf = next;
  }

  byte(b: number): void {
    this.ensure(1);
    this.buf[this.len++] = b;
  }

  bytes(data: Buffer): void {
    this.ensure(data.length);
    data.copy(this.buf, this.len);
    this.len += data.length;
  }

  u32(n: number): void {
    this.ensure(4);
    this.buf.writeUInt32LE(n, this.len);
    this.len += 4;
  }

  result(): Buffer {
    return Buffer.from(this.buf.subarray(0, this.len));
  }

  private put(key: object | string): void {
    if (!this.memoize) return;
    const index = this.nextMemo++;
    this.memo.set(key, index);
    if (index < 256) {
      this.byte(OP.BINPUT);
      this.byte(index);
    } else {
      this.byte(OP.LONG_BINPUT);
      this.u32(index);
    }
  }

  /** Writes BINGET if `key` was memoized; returns whether it did. */
  private get(key: object | string): boolean {
    const index = this.memo.get(key);
    if (index === undefined) return false;
    if (index < 256) {
      this.byte(OP.BINGET);
      this.byte(index);
    } else {
      this.byte(OP.LONG_BINGET);
      this.u32(index);
    }
    return true;
  }

  save(value: PyValue): void {
    if (value === null) return this.byte(OP.NONE);
    if (typeof value === 'boolean') {
      // Protocol 1 has no bool opcode: Python 2 writes INT with the text 01 / 00.
      this.byte(OP.INT);
      this.bytes(Buffer.from(value ? '01\n' : '00\n', 'latin1'));
      return;
    }
    if (typeof value === 'number') return this.saveInt(value);
    if (value instanceof PyFloat) {
      this.byte(OP.BINFLOAT);
      this.ensure(8);
      this.buf.writeDoubleBE(value.value, this.len);
      this.len += 8;
      return;
    }
    if (this.memoize && this.get(value)) return;
    if (value instanceof PyStr) {
      const n = value.bytes.length;
      if (n < 256) {
        this.byte(OP.SHORT_BINSTRING);
        this.byte(n);
      } else {
        this.byte(OP.BINSTRING);
        this.u32(n);
      }
      this.bytes(value.bytes);
      this.put(value);
      return;
    }
    if (value instanceof PyUnicode) {
      const data = Buffer.from(value.text, 'utf8');
      this.byte(OP.BINUNICODE);
      this.u32(data.length);
      this.bytes(data);
      this.put(value);
      return;
    }
    if (value instanceof PyTuple) {
      if (value.items.length === 0) {
        this.byte(OP.EMPTY_TUPLE);
        return;
      }
      this.byte(OP.MARK);
      for (const item of value.items) this.save(item);
      this.byte(OP.TUPLE);
      this.put(value);
      return;
    }
    if (Array.isArray(value)) {
      this.byte(OP.EMPTY_LIST);
      this.put(value);
      this.batch(value.length, (i) => this.save(value[i] as PyValue), OP.APPEND, OP.APPENDS);
      return;
    }
    if (value instanceof PyDict) {
      this.byte(OP.EMPTY_DICT);
      this.put(value);
      const entries = value.entries;
      this.batch(
        entries.length,
        (i) => {
          const [k, v] = entries[i] as [PyValue, PyValue];
          this.save(k);
          this.save(v);
        },
        OP.SETITEM,
        OP.SETITEMS,
      );
      return;
    }
    if (value instanceof PyInstance) {
      // pickle.py save_inst (protocol >= 1): MARK, the class, OBJ, then the __dict__ and BUILD.
      this.byte(OP.MARK);
      const globalKey = `global:${value.module}\n${value.name}`;
      if (!(this.memoize && this.get(globalKey))) {
        this.byte(OP.GLOBAL);
        this.bytes(Buffer.from(`${value.module}\n${value.name}\n`, 'latin1'));
        this.put(globalKey);
      }
      this.byte(OP.OBJ);
      this.put(value);
      this.save(value.state);
      this.byte(OP.BUILD);
      return;
    }
    throw new Error(`pickle: cannot write ${typeof value}`);
  }

  private saveInt(n: number): void {
    if (!Number.isInteger(n)) throw new Error(`pickle: ${n} is not an integer; wrap floats in PyFloat`);
    if (n >= 0 && n <= 0xff) {
      this.byte(OP.BININT1);
      this.byte(n);
    } else if (n >= 0 && n <= 0xffff) {
      this.byte(OP.BININT2);
      this.ensure(2);
      this.buf.writeUInt16LE(n, this.len);
      this.len += 2;
    } else if (n >= -0x80000000 && n <= 0x7fffffff) {
      this.byte(OP.BININT);
      this.ensure(4);
      this.buf.writeInt32LE(n, this.len);
      this.len += 4;
    } else {
      if (!Number.isSafeInteger(n)) throw new Error(`pickle: ${n} is not a safe integer`);
      this.byte(OP.INT);
      this.bytes(Buffer.from(`${n}\n`, 'latin1'));
    }
  }

  private batch(count: number, item: (i: number) => void, one: number, many: number): void {
    for (let start = 0; start < count; start += BATCH) {
      const end = Math.min(count, start + BATCH);
      if (end - start === 1) {
        item(start);
        this.byte(one);
        continue;
      }
      this.byte(OP.MARK);
      for (let i = start; i < end; i++) item(i);
      this.byte(many);
    }
  }
}

/** Serialises `value` as a protocol 1 pickle (ending with STOP). */
export function pickleDump(value: PyValue, options: PickleOptions = {}): Buffer {
  const w = new Writer((options.memo ?? 'all') === 'all');
  w.save(value);
  w.byte(OP.STOP);
  return w.result();
}
