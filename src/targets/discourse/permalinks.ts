import type { DiscourseClient } from './client.js';
import { PermalinkCreateSchema, PermalinkListSchema } from './schemas.js';

export interface PermalinkEntry {
  /** Old path, e.g. /pipermail/devtalk/2019-November/000001.html (a leading slash is optional). */
  oldPath: string;
  topicId?: number;
  postId?: number;
  categoryId?: number;
}

export type PermalinkApi = 'nested' | 'legacy';

export interface PermalinkResult {
  api: PermalinkApi | null;
  created: number;
  existing: number;
  /** Existing permalinks for the path that point somewhere else (left alone). */
  conflicting: { oldPath: string; id: number }[];
  failed: { oldPath: string; error: string }[];
}

function target(e: PermalinkEntry): { type: 'post' | 'topic' | 'category'; value: number } | null {
  if (e.postId !== undefined) return { type: 'post', value: e.postId };
  if (e.topicId !== undefined) return { type: 'topic', value: e.topicId };
  if (e.categoryId !== undefined) return { type: 'category', value: e.categoryId };
  return null;
}

function body(api: PermalinkApi, url: string, t: { type: string; value: number }): Record<string, unknown> {
  // Discourse ≥ Nov 2024 (PRs #29634/#29895) takes nested params and short type names; older
  // versions take flat params whose type is a column name (topic_id, post_id, category_id).
  return api === 'nested'
    ? { permalink: { url, permalink_type: t.type, permalink_type_value: t.value } }
    : { url, permalink_type: `${t.type}_id`, permalink_type_value: t.value };
}

function normalized(path: string): string {
  return path.trim().replace(/^\/+/, '');
}

/**
 * Creates Discourse permalinks (old URL → topic/post/category), one request each (there is no bulk
 * endpoint). Works with both API generations: the first request tries the current nested form and
 * a 400 for the missing `permalink` parameter switches to the legacy flat form. Idempotent: a path
 * that already has a permalink ("url has already been taken") is skipped, and reported when it
 * points elsewhere.
 */
export async function createPermalinks(client: DiscourseClient, entries: PermalinkEntry[], opts: { api?: PermalinkApi } = {}): Promise<PermalinkResult> {
  const result: PermalinkResult = { api: opts.api ?? null, created: 0, existing: 0, conflicting: [], failed: [] };
  for (const e of entries) {
    const t = target(e);
    if (!t) {
      result.failed.push({ oldPath: e.oldPath, error: 'no topicId, postId or categoryId' });
      continue;
    }
    const url = normalized(e.oldPath);
    let api: PermalinkApi = result.api ?? 'nested';
    let r = await client.call({ method: 'POST', path: '/admin/permalinks.json', json: body(api, url, t), schema: PermalinkCreateSchema, accept: [400, 422] });
    if (!r.ok && r.status === 400 && result.api === null && api === 'nested') {
      api = 'legacy';
      r = await client.call({ method: 'POST', path: '/admin/permalinks.json', json: body(api, url, t), schema: PermalinkCreateSchema, accept: [400, 422] });
    }
    if (r.ok) {
      result.api = api;
      result.created++;
      continue;
    }
    const errors = r.error.errors ?? [];
    if (r.status === 422 && errors.some((m) => /taken/i.test(m))) {
      result.api ??= api;
      const list = await client.ok({ method: 'GET', path: '/admin/permalinks.json', query: { filter: url }, schema: PermalinkListSchema });
      const same = list.find((p) => normalized(p.url) === url || decodeURI(normalized(p.url)) === url);
      const rec = same as (Record<string, unknown> & { id: number }) | undefined;
      if (rec && rec[`${t.type}_id`] !== t.value) result.conflicting.push({ oldPath: e.oldPath, id: rec.id });
      else result.existing++;
      continue;
    }
    result.failed.push({ oldPath: e.oldPath, error: `HTTP ${r.status}: ${errors.join('; ').slice(0, 200)}` });
  }
  return result;
}
