import type { ListConfig } from '../mailman2/list-config.js';
import { normalizeMessageId } from '../mailman2/message-id.js';
import { readPipermail } from '../mailman2/pipermail.js';
import type { Problem } from '../problems.js';
import type { Store } from './store.js';

export interface ArticleIndexResult {
  articles: number;
  fromHtml: number;
  byMboxOrder: number;
  unmatched: number;
  problems: Problem[];
}

interface MessageRow {
  ordinal: number;
  message_id: string;
  chunks: number;
}

/**
 * Links every pipermail article to the mbox message it shows. The page's own Message-ID decides;
 * only articles whose id is not in the mbox (pipermail invents `mailman.*` ids at archive time for
 * messages without one) fall back to mbox order, anchored on the nearest article matched by id,
 * and are marked as lower confidence.
 */
export async function indexArticles(store: Store, list: string, pipermailDir: string | null, config: ListConfig): Promise<ArticleIndexResult> {
  const { db } = store;
  await db.run('DELETE FROM articles WHERE list = ?', [list]);
  if (!pipermailDir) {
    const problems: Problem[] = config.archive.enabled
      ? [{ severity: 'warning', code: 'no-pipermail', list, message: `${list}: no pipermail HTML archive; no old article URLs to redirect` }]
      : [];
    return { articles: 0, fromHtml: 0, byMboxOrder: 0, unmatched: 0, problems };
  }
  const archive = await readPipermail(pipermailDir, { list, charset: config.charset, volumeFrequency: config.archive.volumeFrequency });

  const messages = await db.all<{ ordinal: number; message_id: string; flags_json: string | null }>(
    'SELECT ordinal, message_id, flags_json FROM messages WHERE list = ? ORDER BY ordinal',
    [list],
  );
  const rows: MessageRow[] = messages.map((m) => ({ ordinal: m.ordinal, message_id: m.message_id, chunks: mailmanChunks(m.flags_json) }));
  const byId = new Map<string, number[]>();
  for (const m of rows) {
    const l = byId.get(m.message_id);
    if (l) l.push(m.ordinal);
    else byId.set(m.message_id, [m.ordinal]);
  }
  // Mailman's own splitter starts a message at every `From ` line; `chunkStart[i]` is the index
  // of the first Mailman chunk of our message i, which is what pipermail numbering follows.
  const chunkStart: number[] = [];
  let c = 0;
  for (const m of rows) {
    chunkStart.push(c);
    c += m.chunks;
  }
  const messageAtChunk = (chunk: number): number | null => {
    if (chunk < 0 || !rows.length || chunk >= c) return null;
    let lo = 0;
    let hi = rows.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (chunkStart[mid]! <= chunk) lo = mid;
      else hi = mid - 1;
    }
    return rows[lo]!.ordinal;
  };

  const homes = archive.articles.filter((a) => !a.stray).sort((x, y) => x.number - y.number);
  const used = new Map<string, number>();
  const assigned = new Map<number, { ordinal: number | null; source: 'html' | 'mbox-order' }>();
  for (const a of homes) {
    const id = a.messageId ? normalizeMessageId(a.messageId) : null;
    const candidates = id ? byId.get(id) : undefined;
    if (candidates?.length) {
      // Several articles with one id (duplicates, or a message archived twice): in order.
      const k = used.get(id!) ?? 0;
      used.set(id!, k + 1);
      assigned.set(a.number, { ordinal: candidates[Math.min(k, candidates.length - 1)]!, source: 'html' });
    }
  }
  const anchors = [...assigned.entries()].map(([num, v]) => ({ num, chunk: chunkStart[v.ordinal!] ?? 0 })).sort((x, y) => x.num - y.num);
  let fromHtml = assigned.size;
  let byMboxOrder = 0;
  let unmatched = 0;
  const problems: Problem[] = [...archive.problems];
  for (const a of homes) {
    if (assigned.has(a.number)) continue;
    const anchor = nearestBelow(anchors, a.number);
    const ordinal = messageAtChunk(anchor ? anchor.chunk + (a.number - anchor.num) : a.number);
    if (ordinal === null) {
      unmatched++;
      assigned.set(a.number, { ordinal: null, source: 'mbox-order' });
      problems.push({ severity: 'warning', code: 'article-unmatched', list, file: a.file, message: `${list}: article ${a.file} matches no message in the mbox` });
    } else {
      byMboxOrder++;
      assigned.set(a.number, { ordinal, source: 'mbox-order' });
    }
  }
  await db.transaction(async () => {
    const stmt = db.prepare('INSERT OR REPLACE INTO articles (list, period, number, file, message_id, ordinal, source, stray) VALUES (?, ?, ?, ?, ?, ?, ?, ?)');
    for (const a of archive.articles) {
      const v = a.stray ? undefined : assigned.get(a.number);
      await stmt.run([list, a.period, a.number, a.file, a.messageId, v?.ordinal ?? null, v?.source ?? 'html', a.stray ? 1 : 0]);
    }
    await stmt.finalize();
  });
  await adoptPageIds(store, list, homes, assigned);
  fromHtml = [...assigned.values()].filter((v) => v.source === 'html').length;
  return { articles: homes.length, fromHtml, byMboxOrder, unmatched, problems };
}

/**
 * A message stored without a Message-ID was given one by pipermail when it was archived (a
 * `mailman.*` id, shown on its page). Old links and the page itself know that id, so the migrated
 * message carries it instead of our synthetic one — when exactly one page shows the message.
 */
async function adoptPageIds(
  store: Store,
  list: string,
  homes: { number: number; messageId: string | null }[],
  assigned: Map<number, { ordinal: number | null; source: 'html' | 'mbox-order' }>,
): Promise<void> {
  const pagesPerMessage = new Map<number, string[]>();
  for (const a of homes) {
    const v = assigned.get(a.number);
    if (!v || v.ordinal === null || v.source !== 'mbox-order' || !a.messageId) continue;
    const l = pagesPerMessage.get(v.ordinal) ?? [];
    l.push(normalizeMessageId(a.messageId));
    pagesPerMessage.set(v.ordinal, l);
  }
  for (const [ordinal, ids] of pagesPerMessage) {
    if (ids.length !== 1 || !ids[0]) continue;
    const taken = await store.db.get('SELECT 1 FROM messages WHERE list = ? AND (message_id = ? OR target_message_id = ?)', [list, ids[0], ids[0]]);
    if (taken) continue;
    await store.db.run('UPDATE messages SET target_message_id = ? WHERE list = ? AND ordinal = ? AND synthetic_id = 1', [ids[0], list, ordinal]);
  }
}

function nearestBelow(anchors: { num: number; chunk: number }[], num: number): { num: number; chunk: number } | null {
  let best: { num: number; chunk: number } | null = null;
  for (const a of anchors) {
    if (a.num < num) best = a;
    else break;
  }
  return best;
}

/** How many messages Mailman's splitter (every `From ` line) saw in this one message. */
function mailmanChunks(flagsJson: string | null): number {
  if (!flagsJson) return 1;
  const flags = JSON.parse(flagsJson) as { unescapedFromLines?: number };
  return 1 + (flags.unescapedFromLines ?? 0);
}
