import { MessageSource } from '../../mailman2/message-source.js';
import type { Problem } from '../../problems.js';
import { UserError } from '../../problems.js';
import type { ListContext } from '../target.js';
import type { DiscourseTargetConfig } from '../../config/schema.js';
import type { Identity } from './apply-users.js';
import { attributionLine } from './authors.js';
import { messageBody, withAttachments, type MailAttachment, type UploadedAttachment } from './body.js';
import { DiscourseApiError, type DiscourseClient } from './client.js';
import { checkExternalId } from './external-id.js';
import type { ListModel, ReplayRow } from './plan.js';
import { replayRows } from './plan.js';
import { PostCreateSchema, TopicPostsSchema, TopicSchema, UploadSchema, type Post } from './schemas.js';
import { topicTitle } from './titles.js';
import { topicExternalId } from './external-id.js';

export const ARCHIVE_PHASE = 'archive';
const OP = 'post';

export interface PostedDetail {
  topicId: number;
  postNumber: number;
  /** created_at as sent (may be a few ms after the message date, see memoisation below). */
  createdAt: string | null;
  externalId?: string;
  username: string;
}

interface Posted {
  postId: number;
  topicId: number;
  postNumber: number;
}

export interface ReplayEnv {
  client: DiscourseClient;
  ctx: ListContext;
  model: ListModel;
  tcfg: DiscourseTargetConfig;
  categoryId: number;
  identities: Map<string, Identity>;
  problems: Problem[];
  /** Uploads would be readable by anyone (private list, secure_uploads off): do not upload. */
  uploadsPublic?: boolean;
}

/** Post ids the journal already gives to a message of this list (kept in memory: one look-up per post). */
type Claims = Map<number, string>;

function postUrl(p: Posted): string {
  return `/t/-/${p.topicId}/${p.postNumber}`;
}

/** created_at with a millisecond offset: Discourse keeps sub-second precision, mail dates have none. */
function createdAtFor(date: string | null, bump: number): string | null {
  if (!date) return null;
  const t = Date.parse(date);
  return Number.isNaN(t) ? null : new Date(t + bump).toISOString();
}


/**
 * Replays a list's archive: one topic per thread root, replies in replay order (parents first) with
 * reply_to_post_number from the thread, every post with created_at, import_mode (no notifications,
 * no e-mail) and skip_validations. Each post is journaled `pending` before its request and `done`
 * with its ids right after, so a run killed at any point resumes without duplicates: a `pending`
 * post is looked up (topic by external_id, reply by author and time among the topic's unclaimed
 * posts) before anything is sent again.
 */
export async function replayArchive(env: ReplayEnv): Promise<void> {
  const { ctx, client } = env;
  const row = await ctx.store.getList(ctx.list);
  if (!row?.mbox_path) throw new UserError(`${ctx.list}: no mbox recorded for the list; run the index phase first`);
  const rows = await replayRows(ctx.store, ctx.list);
  const posted = new Map<number, Posted>();
  const journal = new Map(
    (await ctx.store.journal(ctx.list, ARCHIVE_PHASE)).filter((j) => j.op === OP).map((j) => [j.key, j]),
  );
  const claims: Claims = new Map();
  for (const j of journal.values()) if (j.status === 'done' && j.target_id) claims.set(Number(j.target_id), j.key);
  let source: MessageSource | null = null;
  try {
    let n = 0;
    for (const r of rows) {
      if (ctx.signal.aborted) break;
      const j = journal.get(r.target_message_id);
      if (j?.status === 'done' && j.target_id && j.detail_json) {
        const d = JSON.parse(j.detail_json) as PostedDetail;
        posted.set(r.ordinal, { postId: Number(j.target_id), topicId: d.topicId, postNumber: d.postNumber });
      } else {
        source ??= await MessageSource.open(row.mbox_path);
        const p = await replayOne(env, source, r, posted, claims, j?.status === 'pending');
        if (p) posted.set(r.ordinal, p);
      }
      ctx.progress(++n, rows.length, 'posts');
    }
  } finally {
    await source?.close();
  }
}

interface Author {
  as: string;
  attribution: string | null;
}

function authorOf(env: ReplayEnv, r: ReplayRow): Author {
  const address = r.from_address?.trim().toLowerCase() ?? null;
  const id = address ? env.identities.get(address) : undefined;
  if (id && !('attributed' in id)) return { as: id.username, attribution: null };
  return { as: env.tcfg.apiUsername, attribution: attributionLine(r.from_name, r.from_address, r.date, env.ctx.config.realName || env.ctx.list) };
}

async function upload(env: ReplayEnv, a: MailAttachment, as: string): Promise<UploadedAttachment> {
  if (!env.tcfg.uploadAttachments) return { attachment: a, upload: null, reason: 'target.uploadAttachments is off' };
  if (env.uploadsPublic) {
    return { attachment: a, upload: null, reason: "not uploaded: this list's archive is private and the site's secure_uploads setting is off, so Discourse would serve the file to anyone" };
  }
  const r = await env.client.call({
    method: 'POST',
    path: '/uploads.json',
    as,
    form: () => {
      const f = new FormData();
      f.set('type', 'composer');
      f.set('synchronous', 'true');
      f.set('file', new Blob([new Uint8Array(a.content)], { type: a.contentType }), a.filename);
      return f;
    },
    schema: UploadSchema,
    accept: [400, 413, 422],
  });
  if (r.ok) return { attachment: a, upload: { shortUrl: r.data.short_url, width: r.data.width, height: r.data.height } };
  return { attachment: a, upload: null, reason: (r.error.errors ?? [`HTTP ${r.status}`]).join('; ').slice(0, 200) };
}

async function replayOne(env: ReplayEnv, source: MessageSource, r: ReplayRow, posted: Map<number, Posted>, claims: Claims, wasPending: boolean): Promise<Posted | null> {
  const { ctx, client } = env;
  const key = r.target_message_id;
  const raw = await source.message(r.offset, r.length);
  const author = authorOf(env, r);
  const body = await messageBody(raw, { preferHtml: env.tcfg.preferHtml, foldQuotedTails: env.tcfg.foldQuotedTails });
  const uploads: UploadedAttachment[] = [];
  for (const a of body.attachments) uploads.push(await upload(env, a, author.as));
  for (const u of uploads) {
    if (!u.upload) env.problems.push({ severity: 'warning', code: 'discourse-attachment', list: ctx.list, message: `${ctx.list}: attachment ${u.attachment.filename} of ${key} not uploaded: ${u.reason}` });
  }
  let text = withAttachments(body.markdown, uploads);
  if (text.trim() === '') text = '*(no text)*';
  if (author.attribution) text = `${author.attribution}\n\n${text}`;

  // Where the message goes: its parent's topic, else (parent not posted) its root's topic, else a new topic.
  const parent = r.parent_ordinal !== null && r.depth !== 0 ? posted.get(r.parent_ordinal) : undefined;
  const rootTopic = !parent && r.depth !== 0 && r.root_ordinal !== null ? posted.get(r.root_ordinal) : undefined;
  const topicId = parent?.topicId ?? rootTopic?.topicId ?? null;
  if (r.depth !== 0 && r.parent_ordinal !== null && !parent) {
    env.problems.push({ severity: 'warning', code: 'discourse-parent-missing', list: ctx.list, message: `${ctx.list}: the message ${key} replies to was not posted; ${topicId ? 'added to the thread without a reply link' : 'posted as a new topic'}` });
  }
  const externalId = topicId === null ? topicExternalId(ctx.list, key) : undefined;
  if (externalId !== undefined) {
    const bad = checkExternalId(externalId);
    if (bad) throw new UserError(`${ctx.list}: ${bad}`);
  }

  if (wasPending) {
    const found = topicId === null ? await findTopicByExternalId(client, externalId!) : await findReply(env, claims, topicId, author.as, r.date);
    if (found) return record(env, claims, key, found, { createdAt: createdAtFor(r.date, 0), externalId, username: author.as });
  }
  await ctx.store.journalPending(ctx.list, ARCHIVE_PHASE, OP, key);

  for (let bump = 0; bump < 10; bump++) {
    const createdAt = createdAtFor(r.date, bump);
    const params: Record<string, unknown> = {
      raw: text,
      import_mode: 'true',
      skip_validations: 'true',
      auto_track: 'false',
      ...(createdAt ? { created_at: createdAt } : {}),
    };
    if (topicId === null) {
      Object.assign(params, { title: topicTitle(r.thread_subject, r.subject), category: env.categoryId, external_id: externalId });
    } else {
      params.topic_id = topicId;
      if (parent) params.reply_to_post_number = parent.postNumber;
    }
    let res;
    try {
      res = await client.call({ method: 'POST', path: '/posts.json', json: params, as: author.as, schema: PostCreateSchema, accept: [400, 403, 404, 422] });
    } catch (e) {
      // After retries the topic may exist (e.g. committed, then the answer was lost beyond the memo window).
      if (e instanceof DiscourseApiError && e.ambiguous && topicId === null) {
        const found = await findTopicByExternalId(client, externalId!);
        if (found) return record(env, claims, key, found, { createdAt, externalId, username: author.as });
      }
      throw e;
    }
    if (!res.ok) {
      const reason = (res.error.errors ?? [`HTTP ${res.status}`]).join('; ');
      env.problems.push({ severity: 'error', code: 'discourse-post-refused', list: ctx.list, message: `${ctx.list}: Discourse refused ${key} (HTTP ${res.status}): ${reason.slice(0, 300)}` });
      await ctx.store.journalDone(ctx.list, ARCHIVE_PHASE, OP, key, { status: 'failed', detail: { status: res.status, error: reason.slice(0, 500) } });
      return null;
    }
    const data = res.data;
    if (!('id' in data)) {
      env.problems.push({ severity: 'error', code: 'discourse-post-queued', list: ctx.list, message: `${ctx.list}: Discourse put ${key} into the review queue instead of posting it; relax the approval settings and run again` });
      await ctx.store.journalDone(ctx.list, ARCHIVE_PHASE, OP, key, { status: 'failed', detail: { queued: true } });
      return null;
    }
    const post = data as Post;
    const owner = claims.get(post.id);
    if (owner !== undefined && owner !== key) {
      // Discourse answered from its 120 s memo of an identical request (same author, text, time and
      // place as an earlier message): nothing was created. Shift created_at by a millisecond so the
      // request differs, and send it again.
      continue;
    }
    return record(env, claims, key, { postId: post.id, topicId: post.topic_id, postNumber: post.post_number }, { createdAt, externalId, username: author.as });
  }
  throw new UserError(`${ctx.list}: Discourse kept answering ${key} with another message's post`);
}

async function record(env: ReplayEnv, claims: Claims, key: string, p: Posted, d: { createdAt: string | null; externalId?: string; username: string }): Promise<Posted> {
  claims.set(p.postId, key);
  const detail: PostedDetail = { topicId: p.topicId, postNumber: p.postNumber, createdAt: d.createdAt, username: d.username, ...(d.externalId && p.postNumber === 1 ? { externalId: d.externalId } : {}) };
  await env.ctx.store.journalDone(env.ctx.list, ARCHIVE_PHASE, OP, key, { targetId: p.postId, targetUrl: postUrl(p), detail });
  return p;
}

/** GET /t/external_id/:id answers 301 to the topic; its first post is the thread root. */
export async function findTopicByExternalId(client: DiscourseClient, externalId: string): Promise<Posted | null> {
  const r = await client.call({ method: 'GET', path: `/t/external_id/${externalId}.json`, schema: TopicSchema, accept: [301, 302, 404] });
  let topicId: number | null = null;
  if (r.ok) topicId = r.data.id;
  else if (r.location) {
    const m = /\/t\/(?:[^/]+\/)?(\d+)(?:\.json|\/|\?|$)/.exec(r.location);
    if (m) topicId = Number(m[1]);
  }
  if (topicId === null) return null;
  const t = await client.ok({ method: 'GET', path: `/t/${topicId}.json`, schema: TopicSchema });
  if ((t.external_id ?? null) !== externalId) return null;
  const first = t.post_stream.stream[0];
  return first === undefined ? null : { postId: first, topicId: t.id, postNumber: 1 };
}

/**
 * A reply sent before the run stopped: among the topic's posts that no journal row claims, the one
 * by the same author with the same created_at (up to the few milliseconds of memo shifts).
 */
async function findReply(env: ReplayEnv, claims: Claims, topicId: number, username: string, date: string | null): Promise<Posted | null> {
  const t = await env.client.ok({ method: 'GET', path: `/t/${topicId}.json`, schema: TopicSchema });
  const free = t.post_stream.stream.filter((id) => !claims.has(id)).slice(-20);
  if (free.length === 0) return null;
  const r = await env.client.ok({ method: 'GET', path: `/t/${topicId}/posts.json`, query: { post_ids: free }, schema: TopicPostsSchema });
  const want = date ? Date.parse(date) : null;
  const match = r.post_stream.posts.find(
    (p) => (p.username ?? '').toLowerCase() === username.toLowerCase() && (want === null || Math.abs(Date.parse(p.created_at) - want) < 1000),
  );
  return match ? { postId: match.id, topicId: match.topic_id, postNumber: match.post_number } : null;
}
