import { describe, expect, it } from 'vitest';
import { normalizeMessageId } from '../src/mailman2/message-id.js';
import { runIndexPhase } from '../src/pipeline/index-phase.js';
import { StateDb } from '../src/state/db.js';
import { Store } from '../src/state/store.js';
import { expected, sampleConfig, SAMPLE_LISTS } from './helpers/sample.js';

interface Msg {
  ordinal: number;
  offset: number;
  length: number;
  message_id: string;
  target_message_id: string;
  date: string | null;
  parent_ordinal: number | null;
  root_ordinal: number | null;
  depth: number | null;
  duplicate_kind: string | null;
}

async function indexed(list: string) {
  const cfg = await sampleConfig();
  const db = await StateDb.open(cfg.state);
  const store = await Store.open(db);
  const outcome = await runIndexPhase(store, cfg, list);
  const messages = await db.all<Msg>('SELECT * FROM messages WHERE list = ? ORDER BY ordinal', [list]);
  const articles = await db.all<{ period: string; number: number; ordinal: number | null; source: string; stray: number }>(
    'SELECT period, number, ordinal, source, stray FROM articles WHERE list = ?',
    [list],
  );
  return { cfg, db, store, outcome, messages, articles };
}

describe.each(SAMPLE_LISTS)('index of %s', (list) => {
  const exp = expected(list);

  const chunkOffsets = exp.mbox.chunks_as_split_by_mailman_PortableUnixMailbox.map((c) => c.offset).sort((x, y) => x - y);
  const nextChunkOffset = (a: { mbox_chunk_offset: number }): number | undefined => chunkOffsets.find((o) => o > a.mbox_chunk_offset);

  it('links every pipermail article to the mbox message holding its text', async () => {
    const { messages, articles, db } = await indexed(list);
    const homes = exp.archive.articles.filter((a) => !exp.archive.stray_html_files.includes(`${a.period}/${a.filename}`));
    for (const a of homes) {
      const row = articles.find((r) => r.number === a.number && r.period === a.period && !r.stray);
      expect(row, `${list} ${a.period}/${a.filename}`).toBeDefined();
      const msg = messages.find((m) => m.ordinal === row!.ordinal)!;
      expect(msg, `${list} ${a.period}/${a.filename} has a message`).toBeDefined();
      // Mailman's own splitter may cut a message at an unescaped body line; the article then
      // shows a fragment of our (unsplit) message, which must contain the fragment's offset.
      expect(msg.offset <= a.mbox_chunk_offset && a.mbox_chunk_offset < msg.offset + msg.length, `${list} ${a.filename}`).toBe(true);
      if (a.mbox_chunk_offset === msg.offset && !a.mbox_chunk_message_id && msg.offset + msg.length <= (nextChunkOffset(a) ?? Infinity)) {
        // Stored without a Message-ID: the message takes the id pipermail gave it (shown on its page).
        expect(msg.target_message_id, `${list} ${a.filename}`).toBe(normalizeMessageId(a.message_id));
      }
      if (a.mbox_chunk_offset === msg.offset && a.mbox_chunk_message_id) {
        expect(msg.message_id).toBe(normalizeMessageId(a.mbox_chunk_message_id));
        expect(row!.source).toBe('html');
      }
    }
    // Exactly one home row per article number and period.
    expect(articles.filter((r) => !r.stray).length).toBe(homes.length);
    await db.close();
  });

  it('threads replies under the latest-dated referenced message present in the archive', async () => {
    const { messages, db } = await indexed(list);
    const byId = new Map<string, Msg>();
    for (const m of messages) if (!byId.has(m.message_id)) byId.set(m.message_id, m);
    let replies = 0;
    // The oracle: what pipermail read from each message (In-Reply-To, References) and its date.
    for (const a of exp.archive.articles) {
      if (a.mbox_chunk_message_id === null) continue;
      const self = messages.find((m) => m.offset === a.mbox_chunk_offset);
      if (!self || self.duplicate_kind === 'same') continue;
      const refs = [a.in_reply_to, ...(a.references ?? [])].filter(Boolean).map((r) => normalizeMessageId(r));
      const present = refs.map((r) => byId.get(r)).filter((m): m is Msg => m !== undefined && m.ordinal !== self.ordinal);
      present.sort((x, y) => (y.date ?? '').localeCompare(x.date ?? '') || y.ordinal - x.ordinal);
      expect(self.parent_ordinal, `${list} ${a.filename} parent`).toBe(present[0]?.ordinal ?? null);
      if (present.length) replies++;
    }
    // The oracle must have exercised real replies wherever the archive has any.
    const anyRefs = exp.archive.articles.some((a) => a.in_reply_to || (a.references ?? []).length);
    if (anyRefs) expect(replies).toBeGreaterThan(0);
    for (const m of messages) {
      if (m.duplicate_kind === 'same') continue;
      if (m.parent_ordinal === null) {
        expect(m.root_ordinal).toBe(m.ordinal);
        expect(m.depth).toBe(0);
      } else {
        const p = messages.find((x) => x.ordinal === m.parent_ordinal)!;
        expect(m.root_ordinal).toBe(p.root_ordinal);
        expect(m.depth).toBe(p.depth! + 1);
      }
    }
    await db.close();
  });

  it('stores the roster and config, and skips an unchanged mbox on the next run', async () => {
    const { cfg, store, outcome, db } = await indexed(list);
    const members = await db.all<{ email: string }>("SELECT email FROM members WHERE list = ? AND role = 'member' ORDER BY email", [list]);
    expect(members.map((m) => m.email)).toEqual(exp.members.map((m) => m.key).sort());
    expect(outcome.mbox.mode).toBe('full');
    const again = await runIndexPhase(store, cfg, list);
    expect(again.mbox.mode).toBe('unchanged');
    expect(again.mbox.messages).toBe(outcome.mbox.messages);
    const raw = JSON.stringify(await db.all('SELECT * FROM lists'));
    expect(raw).not.toMatch(/"passwords"|hasPassword":\s*"[^tf]/);
    await db.close();
  });
});

describe('duplicates', () => {
  it('gives a different message under a reused Message-ID its own deterministic id', async () => {
    const a = await indexed('devtalk');
    const b = await indexed('devtalk');
    const dupA = a.messages.filter((m) => m.message_id === 'meeting-notes@example.org');
    expect(dupA).toHaveLength(2);
    expect(dupA[0]!.target_message_id).toBe('meeting-notes@example.org');
    expect(dupA[1]!.duplicate_kind).toBe('different');
    expect(dupA[1]!.target_message_id).not.toBe('meeting-notes@example.org');
    const dupB = b.messages.filter((m) => m.message_id === 'meeting-notes@example.org');
    expect(dupB[1]!.target_message_id).toBe(dupA[1]!.target_message_id);
    await a.db.close();
    await b.db.close();
  });
});
