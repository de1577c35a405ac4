/**
 * Builds the redirect builder's input from what the migration recorded: the list's config.pck as indexed, the
 * pipermail article → mbox message links (`articles`), the Message-ID each message has on the target
 * (`messages.target_message_id`: a different message that reused an id gets its own), the Discourse posts the
 * archive replay journaled, and the pipermail tree itself (periods and attachment files, re-read from disk).
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import type { LoadedConfig } from '../config/load.js';
import { listPaths } from '../mailman2/installation.js';
import { ListConfigSchema, type ListConfig } from '../mailman2/list-config.js';
import { messageIdHash, normalizeMessageId } from '../mailman2/message-id.js';
import { MessageSource } from '../mailman2/message-source.js';
import { periodFor, readPipermail, type PipermailArchive } from '../mailman2/pipermail.js';
import { UserError, type Problem } from '../problems.js';
import type { Store } from '../state/store.js';
import { mailman3Names } from '../targets/mailman3/names.js';
import { articleFileName, buildRedirects } from './entries.js';
import { hyperkittyAttachments, pairAttachments, type AttachmentMatch } from './hyperkitty-attachments.js';
import { isIsoDate, periodSpan } from './periods.js';
import type {
  RedirectArticle,
  RedirectAttachment,
  RedirectInput,
  RedirectOptions,
  RedirectPeriod,
  RedirectResult,
  Target,
  UnmappedUrl,
} from './types.js';
import { HyperKittyUrls, oldLayout } from './urls.js';

/**
 * Journal rows of the Discourse archive replay (src/targets/discourse/replay.ts): phase `archive`, op `post`,
 * key = target Message-ID, target_id = post id, target_url = /t/<slug>/<topic>/<post number>, detail_json with
 * topicId/postNumber (and slug when known).
 */
export const DISCOURSE_ARCHIVE_PHASE = 'archive';
const DISCOURSE_POST_OP = 'post';
const DISCOURSE_SETTINGS_PHASE = 'settings';

/** Discourse ids behind the new URLs, for permalinks (which name a post, topic or category, not a URL). */
export interface DiscourseIds {
  categoryId: number | null;
  categoryUrl: string | null;
  /** `${topicId}/${postNumber}` -> post id. */
  postIds: Map<string, number>;
}

export interface StateRedirectInput {
  input: RedirectInput;
  target: Target;
  options: RedirectOptions;
  discourse: DiscourseIds | null;
  /** Old URLs the input cannot carry (article pages tied to no message, attachments without a counterpart). */
  unmapped: UnmappedUrl[];
  problems: Problem[];
}

interface ArticleRow {
  period: string;
  number: number;
  file: string;
  message_id: string | null;
  ordinal: number | null;
  source: string;
  stray: number;
}

interface MessageRow {
  ordinal: number;
  offset: number;
  length: number;
  message_id: string;
  raw_message_id: string | null;
  synthetic_id: number;
  target_message_id: string;
  date: string | null;
  flags_json: string | null;
}

/** One unmapped old URL, described relative to the archive root; turned into host/path per old base. */
interface RelativeUnmapped {
  rel: string;
  kind: UnmappedUrl['kind'];
  code: string;
  reason: string;
}

export async function redirectInputFromState(store: Store, cfg: LoadedConfig, list: string): Promise<StateRedirectInput> {
  const config = await indexedConfig(store, list);
  const problems: Problem[] = [];
  const problem = (severity: Problem['severity'], code: string, message: string, key?: string): void => {
    problems.push({ severity, code, list, message: `${list}: ${message}`, ...(key ? { key } : {}) });
  };
  const frequency = config.archive.volumeFrequency;
  const volumeFrequency = (frequency >= 0 && frequency <= 4 ? frequency : 1) as 0 | 1 | 2 | 3 | 4;
  if (frequency !== volumeFrequency) {
    problem('warning', 'redirect-odd-volume-frequency', `archive_volume_frequency ${frequency} is not 0-4; pipermail treats it as monthly`);
  }

  const { target, discourse } = await targetFor(store, cfg, list);
  const postingAddress = cfg.target.kind === 'mailman3' ? mailman3Names(config, cfg.target).fqdn : config.postingAddress;
  const options: RedirectOptions = {
    ...(cfg.archive.oldBaseUrl ? { oldBaseUrl: cfg.archive.oldBaseUrl } : {}),
    cgiExtension: cfg.archive.cgiExtension,
  };

  const messages = new Map<number, MessageRow>();
  for (const m of await store.db.all<MessageRow>(
    'SELECT ordinal, offset, length, message_id, raw_message_id, synthetic_id, target_message_id, date, flags_json FROM messages WHERE list = ? ORDER BY ordinal',
    [list],
  )) {
    messages.set(m.ordinal, m);
  }
  const posts = cfg.target.kind === 'discourse' ? await discoursePosts(store, list, problem) : null;
  if (posts && discourse) for (const p of posts.values()) if (p.postId !== undefined) discourse.postIds.set(`${p.topicId}/${p.postNumber}`, p.postId);

  const paths = await listPaths(cfg.source.root, list);
  const rows = await store.db.all<ArticleRow>(
    'SELECT period, number, file, message_id, ordinal, source, stray FROM articles WHERE list = ? ORDER BY number, period',
    [list],
  );
  const relUnmapped: RelativeUnmapped[] = [];
  const articles: RedirectArticle[] = [];
  const ordinalOf = new Map<string, number>(); // file -> ordinal, for attachments
  let archive: PipermailArchive | null = null;

  if (rows.length > 0 || paths.pipermail) {
    for (const r of rows) {
      if (r.stray) {
        articles.push({ number: r.number, period: r.period, messageId: r.message_id, stray: true, source: 'html' });
        continue;
      }
      const source = r.source === 'mbox-order' ? 'mbox-order' : 'html';
      const msg = r.ordinal === null ? undefined : messages.get(r.ordinal);
      if (!msg) {
        relUnmapped.push({
          rel: r.file,
          kind: 'article',
          code: 'not-in-mbox',
          reason: r.message_id
            ? `the page's Message-ID ${r.message_id} is not in the mbox and no mbox message sits at its position`
            : 'the page shows no Message-ID and no mbox message sits at its position',
        });
        continue;
      }
      ordinalOf.set(r.file, msg.ordinal);
      articles.push(articleFor(r.number, r.period, r.message_id, source, msg, posts));
    }
    if (paths.pipermail) {
      archive = await readPipermail(paths.pipermail, { list, charset: config.charset, volumeFrequency });
      for (const p of archive.problems.filter((x) => x.severity === 'error')) problems.push({ ...p, list });
    }
  } else {
    if (config.archive.enabled || messages.size > 0) {
      problem('warning', 'redirect-mbox-order-only',
        `no pipermail HTML archive: article URLs are rebuilt from mbox order and dates (${cfg.source.timeZone}) and are lower confidence`);
    }
    articles.push(...articlesFromMbox([...messages.values()], volumeFrequency, cfg.source.timeZone, posts, ordinalOf, problem));
  }

  const periods = periodsFor(archive, articles, messages, ordinalOf, problem);
  const attachments: RedirectAttachment[] = [];
  if (archive && archive.attachments.length > 0) {
    const hk = target.kind === 'hyperkitty' ? new HyperKittyUrls(target.baseUrl, target.postoriusUrl, postingAddress.toLowerCase()) : null;
    const mapped = await attachmentTargets(archive, paths.pipermail!, ordinalOf, messages, hk, paths.mbox, problem);
    for (const a of archive.attachments) {
      const m = mapped.get(a.path);
      if (m && 'url' in m) attachments.push({ path: a.path, newUrl: m.url });
      else if (m) relUnmapped.push({ rel: a.path, kind: 'attachment', code: m.code, reason: m.reason });
      else attachments.push({ path: a.path });
    }
  }

  const input: RedirectInput = {
    list: {
      name: config.name || list,
      webPageUrl: config.webPageUrl,
      hostName: config.hostName,
      postingAddress,
      archivePrivate: config.archive.private,
      volumeFrequency,
    },
    articles,
    periods,
    attachments,
  };
  return { input, target, options, discourse, unmapped: toUnmapped(input, options, relUnmapped), problems };
}

export interface ListRedirects extends RedirectResult {
  list: string;
  discourse: DiscourseIds | null;
}

/** Everything for one list: the builder's result plus the old URLs the state could not tie to anything. */
export async function redirectsFromState(store: Store, cfg: LoadedConfig, list: string): Promise<ListRedirects> {
  const src = await redirectInputFromState(store, cfg, list);
  const result = buildRedirects(src.input, src.target, src.options);
  const taken = new Set([...result.entries, ...result.unmapped].map((e) => e.host + e.oldPath));
  return {
    list,
    entries: result.entries,
    unmapped: [...result.unmapped, ...src.unmapped.filter((u) => !taken.has(u.host + u.oldPath))],
    problems: [...src.problems, ...result.problems],
    discourse: src.discourse,
  };
}

async function indexedConfig(store: Store, list: string): Promise<ListConfig> {
  const row = await store.getList(list);
  if (!row?.config_json) {
    throw new UserError(`${list}: not indexed yet; run "mm2migrate migrate --list ${list} --dry-run" (or a migration) first`);
  }
  const parsed = ListConfigSchema.safeParse(JSON.parse(row.config_json));
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new UserError(`${list}: the stored list config is unreadable (key "${issue.path.join('.')}": ${issue.message}); run the index phase again`);
  }
  return parsed.data;
}

function articleFor(
  number: number,
  period: string,
  pageId: string | null,
  source: 'html' | 'mbox-order',
  msg: MessageRow,
  posts: Map<string, DiscoursePost> | null,
): RedirectArticle {
  const a: RedirectArticle = { number, period, messageId: pageId, stray: false, source };
  // The message's id on the target decides: it differs from the page's for a different message that reused
  // an id, and for a message pipermail gave an id of its own (the mbox copy has none).
  if (pageId === null || normalizeMessageId(pageId) !== msg.target_message_id) a.newMessageId = `<${msg.target_message_id}>`;
  const post = posts?.get(msg.target_message_id);
  if (post) a.discoursePost = { topicId: post.topicId, postNumber: post.postNumber, slug: post.slug };
  return a;
}

/**
 * Without pipermail HTML, the article numbers are what `bin/arch` would give: one per message Mailman's splitter
 * sees (an unescaped "From " line inside a message starts another), in mbox order, each filed under the period
 * of its date in the server's time zone.
 */
function articlesFromMbox(
  messages: MessageRow[],
  frequency: number,
  timeZone: string,
  posts: Map<string, DiscoursePost> | null,
  ordinalOf: Map<string, number>,
  problem: (severity: Problem['severity'], code: string, message: string, key?: string) => void,
): RedirectArticle[] {
  const out: RedirectArticle[] = [];
  let number = 0;
  for (const m of messages) {
    const chunks = 1 + unescapedFromLines(m.flags_json);
    const date = m.date ? new Date(m.date) : null;
    if (!date || Number.isNaN(date.getTime())) {
      problem('warning', 'redirect-no-date', `message ${m.ordinal} (article ${number}) has no usable date, so its period folder and old URL are unknown`, String(m.ordinal));
      number += chunks;
      continue;
    }
    const period = periodFor(date, frequency, timeZone);
    const pageId = m.synthetic_id ? null : (m.raw_message_id ?? `<${m.message_id}>`);
    for (let c = 0; c < chunks; c++) {
      out.push(articleFor(number + c, period, pageId, 'mbox-order', m, posts));
      ordinalOf.set(`${period}/${articleFileName(number + c)}`, m.ordinal);
    }
    number += chunks;
  }
  return out;
}

function unescapedFromLines(flagsJson: string | null): number {
  if (!flagsJson) return 0;
  const flags = z.object({ unescapedFromLines: z.number().int().min(0).optional() }).loose().safeParse(JSON.parse(flagsJson));
  return flags.success ? (flags.data.unescapedFromLines ?? 0) : 0;
}

/**
 * Periods from the pipermail tree (with their text archives), or from the articles when there is none. The first
 * post's UTC date lands a quarter/year/week on the HyperKitty month that holds it (HyperKitty files by UTC).
 */
function periodsFor(
  archive: PipermailArchive | null,
  articles: RedirectArticle[],
  messages: Map<number, MessageRow>,
  ordinalOf: Map<string, number>,
  problem: (severity: Problem['severity'], code: string, message: string, key?: string) => void,
): RedirectPeriod[] {
  const firstPost = new Map<string, string>();
  for (const a of articles) {
    if (a.stray) continue;
    const file = `${a.period}/${articleFileName(a.number)}`;
    const ordinal = ordinalOf.get(file);
    const date = ordinal === undefined ? undefined : messages.get(ordinal)?.date;
    const day = date?.slice(0, 10);
    if (!day || !isIsoDate(day)) continue;
    const span = periodSpan(a.period);
    if (span && (day < span.start || day >= span.end)) continue; // filed by local time, outside in UTC
    const prev = firstPost.get(a.period);
    if (prev === undefined || day < prev) firstPost.set(a.period, day);
  }
  const names = archive ? archive.periods.map((p) => ({ name: p.name, txt: p.txt, txtGz: p.txtGz })) : [...new Set(articles.map((a) => a.period))].map((name) => ({ name, txt: true, txtGz: true }));
  const out: RedirectPeriod[] = [];
  for (const p of names) {
    const span = periodSpan(p.name);
    if (!span) {
      problem('warning', 'redirect-unknown-period', `period folder ${p.name} has no known date span; its pages are left unmapped`, p.name);
      continue;
    }
    const first = firstPost.get(p.name);
    out.push({ name: p.name, txt: p.txt, txtGz: p.txtGz, start: span.start, end: span.end, ...(first ? { firstPostDate: first } : {}) });
  }
  return out;
}

type AttachmentTarget = { url: string } | { code: string; reason: string };

/**
 * New URL of each pipermail attachment file. The owning message is the article whose page links the file (all
 * files of one attachment folder belong to one message); HyperKitty serves it under the part's walk index.
 */
async function attachmentTargets(
  archive: PipermailArchive,
  archiveDir: string,
  ordinalOf: Map<string, number>,
  messages: Map<number, MessageRow>,
  hk: HyperKittyUrls | null,
  mboxPath: string | null,
  problem: (severity: Problem['severity'], code: string, message: string, key?: string) => void,
): Promise<Map<string, AttachmentTarget>> {
  const out = new Map<string, AttachmentTarget>();
  if (!hk) {
    for (const a of archive.attachments) {
      out.set(a.path, { code: 'attachment-not-migrated', reason: 'Discourse keeps uploads under its own URLs, which the migration does not record per pipermail file' });
    }
    return out;
  }
  const folderOf = (p: string): string => p.slice(0, p.lastIndexOf('/'));
  const folders = new Map<string, string[]>();
  for (const a of archive.attachments) folders.set(folderOf(a.path), [...(folders.get(folderOf(a.path)) ?? []), a.path]);
  const owner = new Map<string, { file: string; linked: string[] }>();
  for (const art of archive.articles) {
    if (art.stray || art.attachments.length === 0) continue;
    for (const folder of new Set(art.attachments.map(folderOf))) {
      const prev = owner.get(folder);
      if (prev && prev.file !== art.file) {
        problem('warning', 'redirect-attachment-two-owners', `attachment folder ${folder} is linked from ${prev.file} and ${art.file}; ${prev.file} is used`, folder);
        continue;
      }
      owner.set(folder, { file: art.file, linked: art.attachments.filter((p) => folderOf(p) === folder) });
    }
  }

  const source = mboxPath ? await MessageSource.open(mboxPath) : null;
  try {
    for (const [folder, files] of folders) {
      const own = owner.get(folder);
      const ordinal = own ? ordinalOf.get(own.file) : undefined;
      const msg = ordinal === undefined ? undefined : messages.get(ordinal);
      if (!own || !msg || !source) {
        const reason = !own
          ? 'no article page links this attachment folder, so its message is unknown'
          : !source
            ? 'the list has no mbox to read the message from'
            : `the article ${own.file} that links it is tied to no mbox message`;
        for (const f of files) out.set(f, { code: 'attachment-owner-unknown', reason });
        continue;
      }
      const raw = await source.message(msg.offset, msg.length);
      const kept = hyperkittyAttachments(raw);
      const hashed = await Promise.all(files.map(async (p) => ({ path: p, sha1: await fileSha1(path.join(archiveDir, p)) })));
      const pairs: Map<string, AttachmentMatch> = pairAttachments(own.linked, hashed, kept);
      const messageUrl = hk.message(messageIdHash(msg.target_message_id));
      for (const f of files) {
        const m = pairs.get(f);
        if (!m) continue;
        out.set(f, 'attachment' in m ? { url: `${messageUrl}attachment/${m.attachment.counter}/${encodeURIComponent(m.attachment.name)}` } : m);
      }
    }
  } finally {
    await source?.close();
  }
  return out;
}

function fileSha1(file: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const h = createHash('sha1');
    createReadStream(file)
      .on('data', (d) => h.update(d))
      .on('error', reject)
      .on('end', () => resolve(h.digest('hex')));
  });
}

// --- targets ----------------------------------------------------------------------------------------------

interface DiscoursePost {
  topicId: number;
  postNumber: number;
  slug: string;
  postId?: number;
}

const DiscourseDetailSchema = z
  .object({
    topicId: z.number().int().optional(),
    topic_id: z.number().int().optional(),
    postNumber: z.number().int().optional(),
    post_number: z.number().int().optional(),
    slug: z.string().optional(),
    topicSlug: z.string().optional(),
    topic_slug: z.string().optional(),
  })
  .loose();

/** Posts the archive replay journaled, by target Message-ID: from detail_json, else from a /t/slug/id/n URL. */
async function discoursePosts(
  store: Store,
  list: string,
  problem: (severity: Problem['severity'], code: string, message: string, key?: string) => void,
): Promise<Map<string, DiscoursePost>> {
  const out = new Map<string, DiscoursePost>();
  const rows = await store.db.all<{ key: string; target_id: string | null; target_url: string | null; detail_json: string | null }>(
    "SELECT key, target_id, target_url, detail_json FROM journal WHERE list = ? AND phase = ? AND op = ? AND status = 'done' ORDER BY rowid",
    [list, DISCOURSE_ARCHIVE_PHASE, DISCOURSE_POST_OP],
  );
  for (const r of rows) {
    let detail: z.infer<typeof DiscourseDetailSchema> = {};
    if (r.detail_json) {
      const parsed = DiscourseDetailSchema.safeParse(safeJson(r.detail_json));
      if (parsed.success) detail = parsed.data;
    }
    const fromUrl = r.target_url ? /\/t\/([^/?#]*)\/(\d+)(?:\/(\d+))?\/?(?:[?#].*)?$/.exec(r.target_url) : null;
    const topicId = detail.topicId ?? detail.topic_id ?? (fromUrl ? Number(fromUrl[2]) : undefined);
    const postNumber = detail.postNumber ?? detail.post_number ?? (fromUrl ? Number(fromUrl[3] ?? 1) : undefined);
    const slug = detail.slug ?? detail.topicSlug ?? detail.topic_slug ?? (fromUrl ? decodeURIComponentSafe(fromUrl[1]!) : '');
    if (topicId === undefined || postNumber === undefined) {
      problem('warning', 'redirect-unreadable-journal', `journal entry ${DISCOURSE_ARCHIVE_PHASE}/${r.key} names no topic and post number`, r.key);
      continue;
    }
    const postId = r.target_id !== null && /^\d+$/.test(r.target_id) ? Number(r.target_id) : undefined;
    if (!out.has(r.key)) out.set(r.key, { topicId, postNumber, slug, ...(postId !== undefined ? { postId } : {}) });
  }
  return out;
}

function safeJson(s: string): unknown {
  try {
    return JSON.parse(s);
  } catch {
    return null;
  }
}

function decodeURIComponentSafe(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

function withSlash(u: string): string {
  return u.endsWith('/') ? u : `${u}/`;
}

/**
 * Public URLs of the new site. `archive.newBaseUrl` is where people reach it (the target URLs in the config may
 * be internal): HyperKitty keeps its path below it, Postorius defaults to <newBaseUrl>/postorius/. Without it,
 * the configured URLs are public, and Postorius sits next to HyperKitty.
 */
async function targetFor(store: Store, cfg: LoadedConfig, list: string): Promise<{ target: Target; discourse: DiscourseIds | null }> {
  const newBase = cfg.archive.newBaseUrl;
  if (cfg.target.kind === 'mailman3') {
    const hkPath = new URL(withSlash(cfg.target.hyperkitty.url)).pathname;
    const baseUrl = newBase ? new URL(hkPath.replace(/^\/+/, ''), withSlash(newBase)).href : withSlash(cfg.target.hyperkitty.url);
    const postoriusUrl =
      cfg.target.postoriusUrl ??
      (newBase ? new URL('postorius/', withSlash(newBase)).href : new URL(/\/hyperkitty\/$/.test(hkPath) ? '../postorius/' : '/postorius/', baseUrl).href);
    return { target: { kind: 'hyperkitty', baseUrl, postoriusUrl }, discourse: null };
  }
  const baseUrl = (newBase ?? cfg.target.url).replace(/\/+$/, '');
  const category = await store.journalEntry(list, DISCOURSE_SETTINGS_PHASE, 'category', list);
  const categoryPath = category?.status === 'done' ? category.target_url : null;
  const categoryUrl = categoryPath === null ? null : /^https?:\/\//.test(categoryPath) ? categoryPath : `${baseUrl}${categoryPath.startsWith('/') ? '' : '/'}${categoryPath}`;
  const categoryId = category?.status === 'done' && category.target_id && /^\d+$/.test(category.target_id) ? Number(category.target_id) : null;
  return {
    target: {
      kind: 'discourse',
      baseUrl,
      categoryUrl: () => {
        if (!categoryUrl) throw new Error('the Discourse category has not been created yet (run the migration first)');
        return categoryUrl;
      },
    },
    discourse: { categoryId, categoryUrl, postIds: new Map() },
  };
}

/** Host/path of each unmapped old URL, for every old base the list was served under. */
function toUnmapped(input: RedirectInput, options: RedirectOptions, rel: RelativeUnmapped[]): UnmappedUrl[] {
  if (rel.length === 0) return [];
  let layout;
  try {
    layout = oldLayout(input.list, options);
  } catch {
    return []; // buildRedirects reports the bad list URL itself
  }
  const bases = [...(layout.publicArchive ? [layout.publicArchive] : []), layout.privateArchive];
  return rel.flatMap((u) => bases.map((b) => ({ host: b.host, oldPath: b.prefix + u.rel, kind: u.kind, code: u.code, reason: u.reason })));
}
