import type { ListContext, VerifyResult } from '../target.js';
import { SETTINGS_PHASE } from './apply-category.js';
import type { DiscourseClient } from './client.js';
import type { ListModel } from './plan.js';
import { ARCHIVE_PHASE, type PostedDetail } from './replay.js';
import { CategoryResponseSchema, TopicSchema } from './schemas.js';

/**
 * Compares the journal with the site: every replayable message has a `done` row, the category
 * exists (restricted for a private list), and each recorded topic still holds every recorded post.
 * One request per topic (its post stream lists all post ids), not one per post.
 */
export async function verifyList(client: DiscourseClient, ctx: ListContext, model: ListModel): Promise<VerifyResult> {
  const checks: VerifyResult['checks'] = [];
  const journal = (await ctx.store.journal(ctx.list, ARCHIVE_PHASE)).filter((j) => j.op === 'post');
  const done = journal.filter((j) => j.status === 'done' && j.target_id && j.detail_json);
  checks.push({
    name: 'every replayable message is posted',
    ok: done.length === model.posts,
    expected: model.posts,
    actual: done.length,
    ...(done.length !== model.posts ? { detail: `${journal.filter((j) => j.status === 'failed').length} failed, ${journal.filter((j) => j.status === 'pending').length} pending` } : {}),
  });

  const cat = await ctx.store.journalEntry(ctx.list, SETTINGS_PHASE, 'category', ctx.list);
  if (cat?.target_id) {
    const r = await client.call({ method: 'GET', path: `/c/${cat.target_id}/show.json`, schema: CategoryResponseSchema, accept: [403, 404] });
    checks.push({ name: 'category exists', ok: r.ok, expected: Number(cat.target_id), actual: r.ok ? r.data.category.id : `HTTP ${r.status}` });
    if (r.ok && model.category.restricted) {
      checks.push({ name: 'category is restricted (private archive)', ok: r.data.category.read_restricted === true, expected: true, actual: r.data.category.read_restricted ?? null });
    }
  } else {
    checks.push({ name: 'category exists', ok: false, expected: 'a category', actual: 'not created' });
  }

  const byTopic = new Map<number, number[]>();
  for (const j of done) {
    const d = JSON.parse(j.detail_json!) as PostedDetail;
    const list = byTopic.get(d.topicId) ?? [];
    list.push(Number(j.target_id));
    byTopic.set(d.topicId, list);
  }
  let topicsFound = 0;
  let postsFound = 0;
  const missing: string[] = [];
  for (const [topicId, postIds] of byTopic) {
    if (ctx.signal.aborted) break;
    const r = await client.call({ method: 'GET', path: `/t/${topicId}.json`, schema: TopicSchema, accept: [403, 404, 410] });
    if (!r.ok) {
      missing.push(`topic ${topicId} (HTTP ${r.status})`);
      continue;
    }
    topicsFound++;
    const stream = new Set(r.data.post_stream.stream);
    for (const id of postIds) {
      if (stream.has(id)) postsFound++;
      else missing.push(`post ${id} in topic ${topicId}`);
    }
  }
  checks.push({ name: 'topics', ok: topicsFound === byTopic.size && byTopic.size === model.topics.length, expected: model.topics.length, actual: topicsFound });
  checks.push({
    name: 'recorded posts still exist',
    ok: postsFound === done.length,
    expected: done.length,
    actual: postsFound,
    ...(missing.length ? { detail: `missing: ${missing.slice(0, 10).join(', ')}${missing.length > 10 ? ` and ${missing.length - 10} more` : ''}` } : {}),
  });
  return { ok: checks.every((c) => c.ok), checks };
}
