import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { StateDb } from '../src/state/db.js';
import { sha256Prefix, sha256PrefixInBackground } from '../src/state/file-checksum.js';
import { MessageRowWriter, RowBatch, type MessageRow } from '../src/state/message-rows.js';
import { Store } from '../src/state/store.js';

// The indexer hands its rows to SQLite as JSON text (json_each); what is stored must be exactly
// what binding each value would have stored, whatever the strings hold.

let dir: string;
let store: Store;

beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'mm2m-rows-'));
  store = await Store.open(await StateDb.open(path.join(dir, 'state.sqlite')));
  await store.ensureList('l');
});
afterEach(async () => {
  await store.db.close();
  await rm(dir, { recursive: true, force: true });
});

const row = (ordinal: number, subject: string, extra: Partial<Record<'id' | 'from', string>> = {}): MessageRow => [
  ordinal, ordinal * 100, 100, extra.id ?? `m${ordinal}@x`, `<m${ordinal}@x>`, 0, '2001-02-03T04:05:06.000Z', 'date', 0,
  extra.from ?? 'Ann', 'ann@x', subject, subject, null, '[]', 'h'.repeat(40), ordinal % 2 ? '{"dateRepaired":true}' : null,
];

const STRANGE = [
  'plain', '', 'quote " backslash \\ slash /', 'nul \u0000 and controls \u0001\u001f\t\n\r', 'latin1 é ÿ',
  'emoji 😀 pair', 'lone high \ud800 surrogate', 'lone low \udfff', 'escape-looking \\ud800 text', 'line sep \u2028\u2029',
];

describe('MessageRowWriter', () => {
  it('stores every value exactly as binding it would (lone surrogates become U+FFFD)', async () => {
    const writer = new MessageRowWriter(store.db, 'l', 20_000);
    // One batch per string: a batch JSON cannot carry unchanged is bound as a whole.
    for (const [i, s] of STRANGE.entries()) {
      const batch = new RowBatch();
      batch.addMessage(row(i, s, { from: s }), [`ref-${s}`]);
      await writer.write(batch);
    }
    await writer.close();

    await store.ensureList('bound');
    for (const [i, s] of STRANGE.entries()) {
      await store.db.run(
        `INSERT INTO messages (list, ordinal, offset, length, message_id, date_source, target_message_id, subject, from_name, content_hash)
         VALUES ('bound', ?, 0, 0, ?, 'date', ?, ?, ?, 'h')`,
        [i, `m${i}@x`, `m${i}@x`, s, s],
      );
    }
    const stored = await store.db.all<{ list: string; ordinal: number; s: string; t: string; f: string; tid: string }>(
      `SELECT list, ordinal, hex(subject) AS s, typeof(subject) AS t, hex(from_name) AS f, target_message_id AS tid
       FROM messages ORDER BY ordinal, list`,
    );
    for (const [i] of STRANGE.entries()) {
      const [bound, viaJson] = [stored.find((r) => r.list === 'bound' && r.ordinal === i)!, stored.find((r) => r.list === 'l' && r.ordinal === i)!];
      expect(viaJson, STRANGE[i]).toMatchObject({ s: bound.s, t: bound.t, f: bound.f, tid: `m${i}@x` });
    }
    expect(stored.find((r) => r.list === 'l' && r.ordinal === 6)!.s).toContain('EFBFBD');
    const refs = await store.db.all<{ ordinal: number; ref: string }>("SELECT ordinal, hex(ref_id) AS ref FROM message_refs WHERE list = 'l' ORDER BY ordinal");
    expect(refs).toHaveLength(STRANGE.length);
    expect(refs[0]!.ref).toBe(Buffer.from('ref-plain').toString('hex').toUpperCase());
  });

  it('stores integers, nulls and flags with their SQL types', async () => {
    const writer = new MessageRowWriter(store.db, 'l', 20_000);
    const batch = new RowBatch();
    batch.addMessage([5_000_000_001, 4_294_967_296, 7, 'a@b', null, 1, null, 'none', 1, '', '', '', '', 'p@q', '["p@q"]', 'c'.repeat(40), null], []);
    await writer.write(batch);
    await writer.close();
    const r = await store.db.get<Record<string, string | number | null>>(
      `SELECT ordinal, offset, typeof(offset) AS ot, raw_message_id, synthetic_id, typeof(synthetic_id) AS st, date, date_repaired,
              in_reply_to, refs_json, flags_json FROM messages WHERE list = 'l'`,
    );
    expect(r).toEqual({
      ordinal: 5_000_000_001, offset: 4_294_967_296, ot: 'integer', raw_message_id: null, synthetic_id: 1, st: 'integer', date: null,
      date_repaired: 1, in_reply_to: 'p@q', refs_json: '["p@q"]', flags_json: null,
    });
  });

  it('throws the error of a failed write from close, and writes nothing of that transaction', async () => {
    const writer = new MessageRowWriter(store.db, 'l', 20_000);
    const a = new RowBatch();
    a.addMessage(row(1, 'first'), []);
    const b = new RowBatch();
    b.addMessage(row(1, 'same ordinal again'), []);
    await writer.write(a);
    await writer.write(b).catch(() => undefined);
    await expect(writer.close()).rejects.toThrow(/UNIQUE|constraint/i);
    expect((await store.db.get<{ n: number }>("SELECT count(*) AS n FROM messages WHERE list = 'l'"))!.n).toBe(0);
  });

  it('commits an open transaction after a second without input, so other jobs on the connection go on', async () => {
    const writer = new MessageRowWriter(store.db, 'l', 20_000);
    const a = new RowBatch();
    a.addMessage(row(1, 'first'), []);
    await writer.write(a);
    const started = Date.now();
    // Another job's statement waits for the writer's transaction; the reader sends nothing more.
    await store.updateList('l', { mbox_size: 1 });
    const waited = Date.now() - started;
    expect(waited).toBeLessThan(3000);
    expect((await store.db.get<{ n: number }>("SELECT count(*) AS n FROM messages WHERE list = 'l'"))!.n).toBe(1);
    const b = new RowBatch();
    b.addMessage(row(2, 'second'), []);
    await writer.write(b);
    await writer.close();
    expect((await store.db.get<{ n: number }>("SELECT count(*) AS n FROM messages WHERE list = 'l'"))!.n).toBe(2);
  });
});

describe('sha256PrefixInBackground', () => {
  it('gives the checksum sha256Prefix gives, and the read error for a missing file', async () => {
    const file = path.join(dir, 'data');
    const { writeFile } = await import('node:fs/promises');
    await writeFile(file, Buffer.alloc(3 << 20, 'From x\n'));
    for (const bytes of [0, 1, 1 << 20, 3 << 20]) {
      expect(await sha256PrefixInBackground(file, bytes).result).toBe(await sha256Prefix(file, bytes));
    }
    const missing = sha256PrefixInBackground(path.join(dir, 'missing'), 10);
    await expect(missing.result).rejects.toMatchObject({ code: 'ENOENT' });
  });
});
