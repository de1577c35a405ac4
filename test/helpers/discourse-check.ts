/**
 * What the reliability tests (faults, kills, signals) check on the Discourse test double after a
 * migration: per list, exactly one post per replayable message (the state database's messages,
 * duplicates of the same content excluded), one topic per thread, the journal complete and in
 * one-to-one correspondence with the posts, and the list's group holding exactly the source's
 * members (fixtures/expected/<list>.json, Mailman's own roster). Returns the differences found.
 */
import { StateDb } from '../../src/state/db.js';
import type { DiscourseDouble } from '../doubles/discourse-double.js';
import { expected } from './sample.js';

export async function discourseDifferences(d: DiscourseDouble, stateFile: string, lists: readonly string[]): Promise<string[]> {
  const out: string[] = [];
  const db = await StateDb.open(stateFile);
  try {
    for (const list of lists) {
      const msgs = await db.all<{ target_message_id: string; depth: number }>(
        "SELECT target_message_id, depth FROM messages WHERE list = ? AND duplicate_kind IS NOT 'same'",
        [list],
      );
      if (!msgs.length) out.push(`${list}: no replayable message in the state database`);
      const journal = await db.all<{ key: string; status: string; target_id: string | null }>(
        "SELECT key, status, target_id FROM journal WHERE list = ? AND phase = 'archive' AND op = 'post'",
        [list],
      );
      const notDone = journal.filter((j) => j.status !== 'done');
      if (notDone.length) out.push(`${list}: ${notDone.length} journal rows not done: ${notDone.slice(0, 3).map((j) => `${j.key}=${j.status}`).join(', ')}`);
      const keys = new Set(journal.map((j) => j.key));
      const missing = msgs.filter((m) => !keys.has(m.target_message_id));
      if (missing.length) out.push(`${list}: ${missing.length} messages never posted, e.g. ${missing[0]!.target_message_id}`);

      const postIds = journal.map((j) => Number(j.target_id));
      const categories = new Set(postIds.map((id) => d.state.topics.get(d.state.posts.get(id)?.topicId ?? -1)?.categoryId));
      if (categories.size !== 1 || categories.has(undefined) || categories.has(null)) {
        out.push(`${list}: journal posts are in ${categories.size} categories (or missing on the target)`);
        continue;
      }
      const categoryId = [...categories][0]!;
      const category = d.state.categories.get(categoryId)!;
      const sameName = [...d.state.categories.values()].filter((c) => c.name.toLowerCase() === category.name.toLowerCase() && c.parentCategoryId === category.parentCategoryId);
      if (sameName.length !== 1) out.push(`${list}: ${sameName.length} categories named ${category.name}`);
      const topics = [...d.state.topics.values()].filter((t) => t.categoryId === categoryId && !t.isCategoryDefinition);
      const topicIds = new Set(topics.map((t) => t.id));
      const posts = [...d.state.posts.values()].filter((p) => topicIds.has(p.topicId));
      if (posts.length !== msgs.length) out.push(`${list}: ${posts.length} posts on the target for ${msgs.length} replayable messages`);
      const roots = msgs.filter((m) => m.depth === 0).length;
      if (topics.length !== roots) out.push(`${list}: ${topics.length} topics for ${roots} threads`);
      if (new Set(topics.map((t) => t.externalId)).size !== topics.length) out.push(`${list}: two topics with one external id`);
      const journalSet = new Set(postIds);
      if (journalSet.size !== postIds.length) out.push(`${list}: two journal rows name one post`);
      const strays = posts.filter((p) => !journalSet.has(p.id));
      if (strays.length) out.push(`${list}: ${strays.length} posts on the target that the journal does not know (duplicates), e.g. post ${strays[0]!.id}`);

      const source = new Set(expected(list).members.map((m) => m.address.toLowerCase()));
      const group = [...d.state.groups.values()].find((g) => g.name === `${list}-members`);
      if (!group) {
        out.push(`${list}: no members group`);
        continue;
      }
      const inGroup = [...group.members].map((id) => d.state.users.get(id)!.email.toLowerCase());
      if (new Set(inGroup).size !== inGroup.length) out.push(`${list}: a member is in the group twice`);
      const lost = [...source].filter((e) => !inGroup.includes(e));
      const extra = inGroup.filter((e) => !source.has(e));
      if (lost.length) out.push(`${list}: members missing on the target: ${lost.join(', ')}`);
      if (extra.length) out.push(`${list}: group members who are not list members: ${extra.join(', ')}`);
    }
  } finally {
    await db.close();
  }
  const emails = [...d.state.users.values()].map((u) => u.email.toLowerCase());
  if (new Set(emails).size !== emails.length) out.push('two accounts with one e-mail address');
  if (d.state.emailsSent.length) out.push(`${d.state.emailsSent.length} e-mails sent`);
  if (d.state.serverErrors.length) out.push(`double errors: ${d.state.serverErrors[0]}`);
  return out;
}
