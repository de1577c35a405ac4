import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  loadPickle,
  parsePickle,
  PickleError,
  PyBytes,
  PyDict,
  PyFloat,
  PyGlobal,
  PyInstance,
  PyReduce,
  PyTuple,
  type PyValue,
} from '../src/mailman2/pickle.js';

const here = (p: string): string => fileURLToPath(new URL(p, import.meta.url));
const PICKLES = here('../fixtures/pickles/');
const MM2 = here('../fixtures/mailman2/');
const EXPECTED = here('../fixtures/expected/');
const UPSTREAM = here('../../shared/fixtures/upstream/mailman3/');

/**
 * The encoding of the upstream *.decoded.json oracles (and of fixtures/pickles/sample.expected.json,
 * which also tags floats and big ints).
 */
function toOracle(v: PyValue, tagFloats: boolean): unknown {
  const r = (x: PyValue): unknown => toOracle(x, tagFloats);
  if (v === null || typeof v === 'boolean' || typeof v === 'number') return v;
  if (typeof v === 'bigint') return { long: v.toString() };
  if (typeof v === 'string') return { unicode: v };
  if (v instanceof PyFloat) return tagFloats ? { float: v.value } : v.value;
  if (v instanceof PyBytes) return v.isAscii() ? { py2str_ascii: v.latin1() } : { py2str_hex: v.bytes.toString('hex') };
  if (v instanceof PyTuple) return { tuple: v.items.map(r) };
  if (Array.isArray(v)) return v.map(r);
  if (v instanceof PyDict) return { dict_items: [...v.entries()].map(([k, x]) => [r(k), r(x)]) };
  if (v instanceof PyInstance) return { instance_of: `${v.module}.${v.name}`, state: v.state === undefined ? null : r(v.state) };
  throw new Error(`unexpected value in fixture: ${String(v)}`);
}

function expectPickleError(data: Buffer | string, kind: PickleError['kind'], reason: RegExp, offset?: number): PickleError {
  const buf = typeof data === 'string' ? Buffer.from(data, 'latin1') : data;
  let caught: unknown;
  try {
    parsePickle(buf);
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(PickleError);
  const e = caught as PickleError;
  expect(e.kind).toBe(kind);
  expect(e.reason).toMatch(reason);
  expect(e.message).toContain(`at byte ${e.offset}`);
  if (offset !== undefined) expect(e.offset).toBe(offset);
  return e;
}

describe('protocols 0, 1 and 2 against Python’s own unpickler', () => {
  const oracle = JSON.parse(readFileSync(`${PICKLES}sample.expected.json`, 'utf8')) as { value: unknown };

  for (const proto of [0, 1, 2]) {
    it(`sample-p${proto}.pck decodes exactly as Python does`, () => {
      const result = parsePickle(readFileSync(`${PICKLES}sample-p${proto}.pck`));
      expect(result.protocol).toBe(proto);
      expect(toOracle(result.value, true)).toEqual(oracle.value);
    });

    it(`recursive-p${proto}.pck: a tuple holding a list that holds the same tuple`, () => {
      const value = loadPickle(readFileSync(`${PICKLES}recursive-p${proto}.pck`));
      expect(value).toBeInstanceOf(PyTuple);
      const tuple = value as PyTuple;
      const list = tuple.items[0] as PyValue[];
      expect(Array.isArray(list)).toBe(true);
      expect(list[0]).toBe(tuple);
      expect((tuple.items[1] as PyBytes).latin1()).toBe('end');
    });
  }

  it('keeps Python 2 byte strings as bytes and unicode as text', () => {
    const d = loadPickle(readFileSync(`${PICKLES}sample-p1.pck`)) as PyDict;
    const latin1 = d.get('latin1');
    expect(latin1).toBeInstanceOf(PyBytes);
    // 0x80 and 0x9F must survive untouched (WHATWG "latin1" would turn them into windows-1252).
    expect([...(latin1 as PyBytes).bytes.subarray(-2)]).toEqual([0x80, 0x9f]);
    expect(typeof d.get('unicode')).toBe('string');
    expect(d.get('float_whole')).toBeInstanceOf(PyFloat);
    expect(d.get('small')).toBe(7);
    expect(d.get('true')).toBe(true);
  });

  it('looks dict keys up with Python 2 equality (ASCII str == unicode, tuples by value)', () => {
    const keys = (loadPickle(readFileSync(`${PICKLES}sample-p0.pck`)) as PyDict).get('dict_keys') as PyDict;
    expect((keys.get(new PyTuple([1, new PyBytes(Buffer.from('two'))])) as PyBytes).latin1()).toBe('tuple key');
    expect((keys.get(3) as PyBytes).latin1()).toBe('int key');
    expect((keys.get(new PyBytes(Buffer.from('uni'))) as PyBytes).latin1()).toBe('unicode key');
    expect((keys.get(null) as PyBytes).latin1()).toBe('none key');
  });
});

describe('Mailman 3 upstream import21 pickles', () => {
  const files = existsSync(UPSTREAM) ? readdirSync(UPSTREAM).filter((f) => f.endsWith('.pck')) : [];
  it.skipIf(files.length === 0)('finds the upstream fixtures', () => {
    expect(files.sort()).toEqual(['config-greek.pck', 'config-with-instances.pck', 'config.pck']);
  });
  for (const f of files) {
    it(`${f} decodes like its .decoded.json`, () => {
      const expected = JSON.parse(readFileSync(`${UPSTREAM}${f}.decoded.json`, 'utf8')) as { value: unknown };
      expect(toOracle(loadPickle(readFileSync(`${UPSTREAM}${f}`)), false)).toEqual(expected.value);
    });
  }
});

describe('real Mailman 2.1 files', () => {
  const lists = readdirSync(`${MM2}lists`);

  for (const name of lists) {
    it(`${name}: config.pck (protocol 1) is a dict; pipermail.pck (protocol 0) matches EXPECTED`, () => {
      const config = parsePickle(readFileSync(`${MM2}lists/${name}/config.pck`));
      expect(config.protocol).toBe(1);
      expect(config.value).toBeInstanceOf(PyDict);

      const pck = `${MM2}archives/private/${name}/pipermail.pck`;
      const archive = (JSON.parse(readFileSync(`${EXPECTED}${name}.json`, 'utf8')) as {
        archive: { next_sequence_in_pipermail_pck: number; pipermail_pck_archives_order: string[]; pipermail_pck_basedir: string };
      }).archive;
      const parsed = parsePickle(readFileSync(pck));
      expect(parsed.protocol).toBe(0);
      const state = parsed.value as PyDict;
      expect(state.get('sequence')).toBe(archive.next_sequence_in_pipermail_pck);
      expect((state.get('archives') as PyBytes[]).map((b) => b.latin1())).toEqual(archive.pipermail_pck_archives_order);
      expect((state.get('basedir') as PyBytes).latin1()).toBe(archive.pipermail_pck_basedir);
    });
  }

  it('reads the _BounceInfo instance of devtalk as a record, not an object of that class', () => {
    const config = loadPickle(readFileSync(`${MM2}lists/devtalk/config.pck`)) as PyDict;
    const info = (config.get('bounce_info') as PyDict).get('heidi@bounce.example');
    expect(info).toBeInstanceOf(PyInstance);
    const inst = info as PyInstance;
    expect([inst.module, inst.name]).toEqual(['Mailman.Bouncer', '_BounceInfo']);
    expect(((inst.state as PyDict).get('member') as PyBytes).latin1()).toBe('heidi@bounce.example');
    expect((inst.state as PyDict).get('date')).toBeInstanceOf(PyTuple);
  });

  it('reports every prefix of a real config.pck as truncated, with an offset inside the data', () => {
    const data = readFileSync(`${MM2}lists/devtalk/config.pck`);
    for (let n = 0; n < data.length; n++) {
      let caught: unknown;
      try {
        parsePickle(data.subarray(0, n));
      } catch (err) {
        caught = err;
      }
      if (!(caught instanceof PickleError) || caught.kind !== 'truncated' || caught.offset > n) {
        throw new Error(`prefix of ${n} bytes: expected a truncation error, got ${String(caught)}`);
      }
    }
  });
});

describe('opcodes outside what cPickle wrote for Mailman', () => {
  it('DUP shares one object; POP drops the top', () => {
    // EMPTY_LIST DUP BININT1 5 APPEND POP STOP
    const v = loadPickle(Buffer.from([0x5d, 0x32, 0x4b, 0x05, 0x61, 0x30, 0x2e]));
    expect(v).toEqual([5]);
  });

  it('POP_MARK discards everything back to the MARK', () => {
    expect(loadPickle(Buffer.from('(K\x01K\x021N.', 'latin1'))).toBeNull();
  });

  it('records REDUCE and BUILD without running anything', () => {
    const v = loadPickle(Buffer.from("cos\nsystem\n(S'touch /tmp/pwned'\ntR}S'x'\nK\x01sb.", 'latin1'));
    expect(v).toBeInstanceOf(PyReduce);
    const r = v as PyReduce;
    expect(r.callable).toEqual(new PyGlobal('os', 'system'));
    expect(((r.args as PyTuple).items[0] as PyBytes).latin1()).toBe('touch /tmp/pwned');
    expect((r.state as PyDict).get('x')).toBe(1);
  });

  it('reads protocol 0 text opcodes: INT bools, LONG, FLOAT, UNICODE escapes, STRING octal escapes', () => {
    const v = loadPickle(
      Buffer.from("(lp0\nI01\naI00\naI-12\naL123456789012345678901234567890L\naF-1.25\naVa\\u00e9\\U0001f600\\\\u0041\naS'\\101\\x42\\tC'\na.", 'latin1'),
    ) as PyValue[];
    expect(v.slice(0, 3)).toEqual([true, false, -12]);
    expect(v[3]).toBe(123456789012345678901234567890n);
    expect((v[4] as PyFloat).value).toBe(-1.25);
    // An escaped backslash before "u" is a literal backslash, not an escape.
    expect(v[5]).toBe('aé😀\\\\u0041');
    expect((v[6] as PyBytes).latin1()).toBe('AB\tC');
  });

  it('reads LONG1 negatives and BINUNICODE with an encoded lone surrogate', () => {
    // PROTO 2, LONG1 len 2 0xff 0xfe (= -257), STOP
    expect(loadPickle(Buffer.from([0x80, 0x02, 0x8a, 0x02, 0xff, 0xfe, 0x2e]))).toBe(-257);
    const s = loadPickle(Buffer.from([0x58, 0x03, 0, 0, 0, 0xed, 0xa0, 0x80, 0x2e]));
    expect(s).toBe('\ud800');
  });
});

describe('hostile and broken input', () => {
  it('says a text file is not a pickle, at byte 0', () => {
    expectPickleError('# Mailman config\nreal_name = "x"\n', 'invalid', /unknown opcode 0x23/, 0);
  });

  it('rejects empty input', () => {
    expectPickleError(Buffer.alloc(0), 'truncated', /empty/, 0);
  });

  it('checks forged lengths against the remaining bytes instead of allocating', () => {
    expectPickleError(Buffer.from([0x54, 0xff, 0xff, 0xff, 0x7f, 0x41]), 'truncated', /needs 2147483647 bytes/, 0);
    expectPickleError(Buffer.from([0x58, 0xff, 0xff, 0xff, 0xff]), 'truncated', /needs 4294967295 bytes/, 0);
    expectPickleError(Buffer.from([0x8b, 0xff, 0xff, 0xff, 0x7f]), 'truncated', /needs/, 0);
    expectPickleError(Buffer.from([0x55, 0xff, 0x41, 0x42]), 'truncated', /needs 255 bytes/, 0);
    expectPickleError(Buffer.from([0x54, 0xff, 0xff, 0xff, 0xff]), 'invalid', /negative length/, 0);
  });

  it('rejects stack and memo misuse with the offset of the opcode', () => {
    expectPickleError('K\x01h\x05.', 'invalid', /memo entry 5/, 2);
    expectPickleError('K\x01K\x02a.', 'invalid', /not a list/, 4);
    expectPickleError('.', 'invalid', /stack underflow/, 0);
    expectPickleError('(.', 'invalid', /MARK/, 1);
    expectPickleError('K\x011', 'invalid', /no MARK/, 2);
    expectPickleError('}K\x01s.', 'invalid', /stack underflow/, 3);
    expectPickleError("S'abc\n.", 'invalid', /not a quoted string/, 0);
    expectPickleError('Iabc\n.', 'invalid', /bad INT/, 0);
    expectPickleError('K\x01K\x02b.', 'invalid', /BUILD on a value that is not an object/, 4);
  });

  it('refuses persistent ids, extension codes and protocols above 2', () => {
    expectPickleError('Pabc\n.', 'unsupported', /persistent IDs/, 0);
    expectPickleError('K\x01Q.', 'unsupported', /persistent IDs/, 2);
    expectPickleError(Buffer.from([0x82, 0x01, 0x2e]), 'unsupported', /extension codes/, 0);
    expectPickleError(Buffer.from([0x80, 0x03, 0x4e, 0x2e]), 'unsupported', /protocol 3/, 0);
  });

  it('builds 200000 nested lists without recursion', () => {
    const depth = 200_000;
    const data = Buffer.concat([Buffer.alloc(depth, 0x5d), Buffer.alloc(depth - 1, 0x61), Buffer.from('.')]);
    let v = loadPickle(data) as PyValue[];
    let levels = 1;
    while (v.length > 0) {
      v = v[0] as PyValue[];
      levels++;
    }
    expect(levels).toBe(depth);
  });

  it('keeps a "__proto__" dict key as data without touching any prototype', () => {
    const d = loadPickle(Buffer.from("}U\t__proto__}U\x08pollutedK\x01ss.", 'latin1')) as PyDict;
    expect(d).toBeInstanceOf(PyDict);
    expect(d.get('__proto__')).toBeInstanceOf(PyDict);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});
