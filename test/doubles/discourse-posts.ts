// POST /posts.json of the Discourse test double: PostsController#create (param whitelist,
// 120 s memoisation of identical API requests), NewPostManager (approval queue),
// PostCreator / TopicCreator (validations, import knobs, post numbers) and PostAlerter
// (who would be notified). Plus the read routes for topics and posts.

import { createHash } from 'node:crypto';
import type { Ctx } from './discourse-context.js';
import { notify, userLimit } from './discourse-context.js';
import type { ParamValue, Params } from './discourse-http.js';
import {
  DiscourseError,
  invalidAccess,
  invalidParameters,
  notFound,
  notLoggedIn,
  present,
  str,
  truthy,
} from './discourse-http.js';
import type { CategoryRecord, PostRecord, TopicRecord, UserRecord } from './discourse-model.js';
import {
  canCreatePostIn,
  canCreateTopicIn,
  canSeeTopic,
  isStaff,
  NOTIFICATION_LEVEL,
  serializePost,
  serializeTopic,
  sha1Hex,
  topicRelativeUrl,
  userGroupIds,
} from './discourse-model.js';
import {
  attachmentCount,
  bodyMinEntropy,
  cleanTitle,
  cook,
  embeddedMediaCount,
  fullMessage,
  linkCount,
  MSG,
  normalizeRaw,
  parseRubyTime,
  rawMentions,
  sentinelValid,
  slugFor,
  strippedForLength,
  titleMinEntropy,
} from './discourse-text.js';

const MEMO_SECONDS = 120;
const EXTERNAL_ID_MAX_LENGTH = 50;

/** The subset of PostsController#create_params the double acts on, plus the memo signature input. */
interface CreateArgs {
  raw: string | undefined;
  title: string | undefined;
  topicId: ParamValue | undefined;
  category: ParamValue | undefined;
  archetype: string | undefined;
  replyToPostNumber: number | null;
  autoTrack: boolean | undefined;
  visible: boolean;
  skipValidations: boolean;
  importMode: boolean;
  createdAt: ParamValue | undefined;
  externalId: string | undefined;
  embedUrl: string | undefined;
  tags: string[] | undefined;
  postType: number;
  targetUsernames: string[];
  signatureParams: Params;
}

function stableString(v: ParamValue | undefined): string {
  if (v === undefined) return '';
  if (v === null) return '';
  if (Array.isArray(v)) return v.map(stableString).join('');
  if (typeof v === 'object') {
    return Object.keys(v)
      .sort()
      .map((k) => `${k}${stableString(v[k])}`)
      .join('');
  }
  return String(v);
}

/**
 * PostsController#signature_for: SHA1 of the permitted params sorted by key plus the user id
 * (Ruby's Array#join flattens the pairs, which is what stableString reproduces).
 */
function signatureFor(params: Params, userId: number): string {
  const entries = Object.entries(params)
    .concat([['user', userId]])
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `post##${createHash('sha1').update(entries.map(([k, v]) => `${k}${stableString(v)}`).join('')).digest('hex')}`;
}

function buildCreateArgs(ctx: Ctx): CreateArgs {
  const p = ctx.req.params;
  const user = ctx.user as UserRecord;
  const sig: Params = {};
  const permitted = [
    'raw',
    'topic_id',
    'archetype',
    'category',
    'target_recipients',
    'reply_to_post_number',
    'auto_track',
    'typing_duration_msecs',
    'composer_open_duration_msecs',
    'visible',
    'draft_key',
    'composer_version',
    'locale',
  ];
  const scalar = (v: ParamValue | undefined) => v !== undefined && (v === null || typeof v !== 'object');
  let autoTrack: boolean | undefined;
  if (p.auto_track !== undefined && p.auto_track !== null && p.auto_track !== false) autoTrack = str(p.auto_track) !== 'false';
  let visible = p.visible === undefined ? true : truthy(p.visible);
  if (p.unlist_topic !== undefined && p.unlist_topic !== null && p.unlist_topic !== false) visible = str(p.unlist_topic) === 'false';
  for (const k of permitted) if (scalar(p[k])) sig[k] = p[k] as ParamValue;
  if (autoTrack !== undefined) sig.auto_track = autoTrack;
  if (p.unlist_topic !== undefined) sig.visible = visible;

  let skipValidations = false;
  let importMode = false;
  if (ctx.isApi) {
    skipValidations = str(p.skip_validations) === 'true';
    importMode = str(p.import_mode) === 'true';
    sig.skip_validations = skipValidations;
    sig.import_mode = importMode;
    for (const k of ['embed_url', 'created_at', 'external_id']) if (scalar(p[k])) sig[k] = p[k] as ParamValue;
  }
  sig.image_sizes = p.image_sizes ?? null;
  sig.is_warning = isStaff(user) ? truthy(p.is_warning) : false;

  if (truthy(p.no_bump)) {
    if (!isStaff(user)) throw invalidParameters('no_bump');
    sig.no_bump = true;
  }
  if (truthy(p.shared_draft)) {
    if (!isStaff(user)) throw invalidParameters('shared_draft');
    sig.shared_draft = true;
  }
  let postType = 1;
  if (truthy(p.whisper)) {
    if (!isStaff(user)) throw invalidAccess(MSG.invalidWhisperAccess);
    postType = 4;
    sig.post_type = postType;
  }
  if (p.title !== undefined) sig.title = p.title;
  if (p.tags !== undefined) sig.tags = p.tags;

  sig.ip_address = ctx.req.remoteIp;
  sig.user_agent = str(ctx.req.headers['user-agent'] as string | undefined) ?? null;
  sig.referrer = str(ctx.req.headers.referer as string | undefined) ?? null;
  sig.first_post_checks = !ctx.isApi;
  sig.advance_draft = !ctx.isApi;

  const targetUsernames = (str(p.target_recipients) ?? '')
    .split(',')
    .map((s) => s.trim().toLowerCase())
    .filter((s) => s !== '');

  const replyRaw = str(p.reply_to_post_number);
  const replyParsed = replyRaw === undefined ? NaN : parseInt(replyRaw, 10);
  const tags = Array.isArray(p.tags)
    ? p.tags.map((t) => (t !== null && typeof t === 'object' && !Array.isArray(t) ? str(t.name) : str(t))).filter((t): t is string => !!t)
    : typeof p.tags === 'string'
      ? p.tags.split(',').filter((t) => t !== '')
      : undefined;

  return {
    raw: str(p.raw),
    title: str(p.title),
    topicId: p.topic_id,
    category: p.category,
    archetype: str(p.archetype),
    replyToPostNumber: Number.isNaN(replyParsed) ? null : replyParsed,
    autoTrack,
    visible,
    skipValidations,
    importMode,
    createdAt: ctx.isApi ? p.created_at : undefined,
    externalId: ctx.isApi ? str(p.external_id) : undefined,
    embedUrl: ctx.isApi ? str(p.embed_url) : undefined,
    tags,
    postType,
    targetUsernames,
    signatureParams: sig,
  };
}

/** POST /posts.json */
export function createPost(ctx: Ctx): { status: number; body: unknown; memoised: boolean } {
  if (!ctx.user) throw notLoggedIn();
  const args = buildCreateArgs(ctx);
  if (!ctx.isApi) {
    const result = perform(ctx, args);
    return { ...render(ctx, result), memoised: false };
  }
  const key = signatureFor(args.signatureParams, ctx.user.id);
  const now = ctx.now();
  const hit = ctx.shared.postMemo.get(key);
  if (hit && hit.expiresAt > now) {
    return { ...render(ctx, JSON.parse(hit.payload) as Record<string, unknown>), memoised: true };
  }
  const result = perform(ctx, args);
  const payload = JSON.stringify(result);
  ctx.shared.postMemo.set(key, { payload, expiresAt: ctx.now() + MEMO_SECONDS * 1000 });
  return { ...render(ctx, JSON.parse(payload) as Record<string, unknown>), memoised: false };
}

/** PostsController#backwards_compatible_json */
function render(ctx: Ctx, result: Record<string, unknown>): { status: number; body: unknown } {
  const success = result.success === true;
  const errors = result.errors;
  const hasErrors = Array.isArray(errors) && errors.length > 0;
  let body: unknown = result;
  if (!present(ctx.req.params.nested_post) && !hasErrors && result.action !== 'enqueued') body = result.post;
  return { status: success ? 200 : 422, body };
}

function failure(action: string, errors: string[]): Record<string, unknown> {
  return { action, errors };
}

// ---------------------------------------------------------------------------------------
// NewPostManager

function perform(ctx: Ctx, args: CreateArgs): Record<string, unknown> {
  const user = ctx.user as UserRecord;
  const reason = approvalReason(ctx, user, args);
  if (reason) {
    const errors = validate(ctx, user, args).errors;
    if (errors.length > 0) return { action: 'enqueued', errors };
    const pending = {
      id: ctx.state.ids.pending++,
      userId: user.id,
      raw: args.raw ?? '',
      title: args.title ?? null,
      topicId: args.topicId === undefined ? null : Number(str(args.topicId)),
      categoryId: args.category === undefined ? null : Number(str(args.category)),
      at: ctx.now(),
    };
    ctx.state.pendingPosts.push(pending);
    return {
      action: 'enqueued',
      pending_post: { id: pending.id, raw: pending.raw },
      pending_count: ctx.state.pendingPosts.filter((x) => x.userId === user.id).length,
      reason,
      success: true,
    };
  }
  return createPostRecord(ctx, user, args);
}

function inAnyGroups(ctx: Ctx, user: UserRecord, setting: string): boolean {
  const groups = userGroupIds(ctx.state, user);
  return setting
    .split('|')
    .filter((s) => s !== '')
    .some((id) => groups.has(Number(id)));
}

function approvalReason(ctx: Ctx, user: UserRecord, args: CreateArgs): string | null {
  if (args.archetype === 'private_message') return null;
  if (isStaff(user)) return null;
  const s = ctx.state.siteSettings;
  if (user.trustLevel <= 1 && user.postCount + user.topicCount < s.approve_post_count) return 'post_count';
  if (!user.staged && !inAnyGroups(ctx, user, s.approve_unless_allowed_groups)) return 'group';
  if (present(args.title) && !user.staged && !inAnyGroups(ctx, user, s.approve_new_topics_unless_allowed_groups)) {
    return 'new_topics_unless_allowed_groups';
  }
  return null;
}

// ---------------------------------------------------------------------------------------
// PostCreator#valid? / TopicCreator#valid?

interface Validated {
  errors: string[];
  topic: TopicRecord | null;
  category: CategoryRecord | null;
  title: string | null;
  raw: string;
}

function findCategory(ctx: Ctx, value: ParamValue | undefined): CategoryRecord | null {
  if (typeof value === 'number' && Number.isInteger(value)) return ctx.state.categories.get(value) ?? null;
  if (typeof value === 'string' && /^\d+$/.test(value)) return ctx.state.categories.get(Number(value)) ?? null;
  return null;
}

/** TopicCreator#setup_topic_params' guardian and category checks (raise, never collected). */
function resolveTopicCategory(ctx: Ctx, user: UserRecord, args: CreateArgs): CategoryRecord | null {
  const isPm = args.archetype === 'private_message';
  const category = isPm ? null : findCategory(ctx, args.category);
  if (!args.skipValidations && !isPm && !canCreateTopicIn(ctx.state, user, category)) throw invalidAccess();
  if (!isPm && present(args.category) && category === null) throw invalidParameters('category');
  return category;
}

function topicErrors(ctx: Ctx, user: UserRecord, args: CreateArgs, category: CategoryRecord | null, title: string): string[] {
  const s = ctx.state.siteSettings;
  const errors: string[] = [];
  const isPm = args.archetype === 'private_message';
  if (title.trim() === '') {
    errors.push(fullMessage('title', MSG.blank));
  } else {
    const min = user.admin ? 1 : isPm ? s.min_personal_message_title_length : s.min_topic_title_length;
    const len = [...title].length;
    if (len < min) errors.push(fullMessage('title', MSG.tooShort(min)));
    else if (len > s.max_topic_title_length) errors.push(fullMessage('title', MSG.tooLong(s.max_topic_title_length)));
    if (
      !isPm &&
      !sentinelValid(title, {
        minEntropy: titleMinEntropy(s.min_topic_title_length, s.title_min_entropy),
        maxWordLength: s.title_max_word_length,
        allowUppercase: s.allow_uppercase_posts,
      })
    ) {
      errors.push(fullMessage('title', MSG.isInvalidSentence));
    }
    if (!isPm && !s.allow_duplicate_topic_titles) {
      const lower = title.toLowerCase();
      const categoryId = category?.id ?? 1;
      const clash = [...ctx.state.topics.values()].some(
        (t) =>
          t.archetype === 'regular' &&
          t.title.toLowerCase() === lower &&
          (!s.allow_duplicate_topic_titles_category || (t.categoryId ?? 1) === categoryId),
      );
      if (clash) errors.push(fullMessage('title', MSG.hasAlreadyBeenUsed));
    }
  }
  if (!isPm && !s.allow_uncategorized_topics && (category === null || category.id === 1)) {
    errors.push(fullMessage('category_id', category === null ? MSG.blank : 'is reserved'));
  }
  if (args.externalId !== undefined && args.externalId !== '') {
    const ext = args.externalId;
    if ([...ctx.state.topics.values()].some((t) => t.externalId !== null && t.externalId.toLowerCase() === ext.toLowerCase())) {
      errors.push(fullMessage('external_id', MSG.taken));
    }
    if (ext.length > EXTERNAL_ID_MAX_LENGTH) errors.push(fullMessage('external_id', MSG.tooLong(EXTERNAL_ID_MAX_LENGTH)));
    if (!/^[\w-]+$/.test(ext)) errors.push(fullMessage('external_id', MSG.invalid));
  }
  if (!args.visible && !isStaff(user)) errors.push(MSG.unableToUnlist);
  return errors;
}

function postErrors(ctx: Ctx, user: UserRecord, args: CreateArgs, topic: TopicRecord | null, raw: string): string[] {
  const s = ctx.state.siteSettings;
  const errors: string[] = [];
  const isPm = args.archetype === 'private_message' || topic?.archetype === 'private_message';
  const firstPost = topic === null || topic.postIds.length === 0;
  const min = isPm ? s.min_personal_message_post_length : firstPost ? s.min_first_post_length : s.min_post_length;
  if (raw.trim() === '') errors.push(fullMessage('raw', MSG.blank));
  else if (raw.length > s.max_post_length) errors.push(fullMessage('raw', MSG.tooLongValidation(s.max_post_length, raw.length)));
  else if (strippedForLength(raw).length < min) errors.push(fullMessage('raw', MSG.tooShort(min)));
  if (
    !sentinelValid(raw, {
      minEntropy: bodyMinEntropy(s.min_post_length, s.body_min_entropy),
      allowUppercase: s.allow_uppercase_posts,
    })
  ) {
    errors.push(fullMessage('raw', MSG.isInvalidSentence));
  }
  const trusted = user.trustLevel >= 1;
  if (
    topic &&
    !isStaff(user) &&
    user.trustLevel === 0 &&
    topic.userId !== user.id &&
    topic.postIds.filter((id) => ctx.state.posts.get(id)?.userId === user.id).length >= s.newuser_max_replies_per_topic
  ) {
    const n = s.newuser_max_replies_per_topic;
    errors.push(`We're sorry, but new users are temporarily limited to ${n} ${n === 1 ? 'reply' : 'replies'} in the same topic.`);
  }
  if (!isStaff(user)) {
    const mentions = rawMentions(raw).length;
    const limit = trusted || isPm ? s.max_mentions_per_post : s.newuser_max_mentions_per_post;
    if (mentions > limit) {
      errors.push(
        limit === 0
          ? trusted ? "Sorry, you can't mention other users." : MSG.noMentionsAllowedNewuser
          : trusted ? MSG.tooManyMentions(limit) : MSG.tooManyMentionsNewuser(limit),
      );
    }
    if (user.trustLevel === 0 && embeddedMediaCount(raw) > s.newuser_max_embedded_media) {
      errors.push(
        s.newuser_max_embedded_media === 0
          ? "Sorry, new users can't embed media items in posts."
          : s.newuser_max_embedded_media === 1
            ? 'Sorry, new users can only put one embedded media item in a post.'
            : `Sorry, new users can only put ${s.newuser_max_embedded_media} embedded media items in a post.`,
      );
    }
  }
  if (!trusted && !isPm) {
    const attachments = attachmentCount(raw);
    if (attachments > s.newuser_max_attachments) {
      errors.push(s.newuser_max_attachments === 0 ? MSG.noAttachmentsAllowed : MSG.tooManyAttachments(s.newuser_max_attachments));
    }
    const links = linkCount(raw);
    if (links > s.newuser_max_links) errors.push(s.newuser_max_links === 0 ? MSG.noLinksAllowed : MSG.tooManyLinks(s.newuser_max_links));
  }
  if (s.unique_posts_mins > 0 && !isStaff(user) && raw.trim() !== '') {
    const expiry = ctx.shared.uniquePostKeys.get(`${user.id}:${sha1Hex(raw)}`);
    if (expiry !== undefined && expiry > ctx.now()) errors.push(fullMessage('raw', MSG.justPostedThat));
  }
  if (topic && s.max_consecutive_replies > 0 && !isStaff(user) && !isPm) {
    const first = topic.postIds[0] === undefined ? undefined : ctx.state.posts.get(topic.postIds[0]);
    if (first?.userId !== user.id) {
      const last = topic.postIds.slice(-s.max_consecutive_replies).map((id) => ctx.state.posts.get(id)?.userId);
      if (last.length >= s.max_consecutive_replies && last.every((uid) => uid === user.id)) {
        errors.push(MSG.maxConsecutiveReplies(s.max_consecutive_replies));
      }
    }
  }
  return errors;
}

/** PostCreator#valid? — raises for guardian / parameter failures, collects validation errors. */
function validate(ctx: Ctx, user: UserRecord, args: CreateArgs): Validated {
  const raw = normalizeRaw(args.raw ?? '');
  const newTopic = !present(args.topicId);
  let topic: TopicRecord | null = null;
  let category: CategoryRecord | null = null;
  let title: string | null = null;
  if (newTopic) {
    if (args.archetype === 'private_message' && args.targetUsernames.length === 0) {
      return { errors: [MSG.noUserSelected], topic, category, title, raw };
    }
    category = resolveTopicCategory(ctx, user, args);
    if (args.skipValidations) {
      title = args.title ?? null;
    } else {
      title = cleanTitle(args.title ?? '', ctx.state.siteSettings.title_prettify, ctx.state.siteSettings.allow_uppercase_posts);
      const errs = topicErrors(ctx, user, args, category, title);
      if (errs.length > 0) return { errors: errs, topic, category, title, raw };
    }
  } else {
    const id = str(args.topicId);
    topic = id !== undefined && /^\d+$/.test(id) ? ctx.state.topics.get(Number(id)) ?? null : null;
    if (topic && args.archetype === 'private_message') return { errors: [MSG.createPmOnExistingTopic], topic, category, title, raw };
    if (!topic || !canCreatePostIn(ctx.state, user, topic)) return { errors: [MSG.topicNotFound], topic, category, title, raw };
  }
  if (args.skipValidations) return { errors: [], topic, category, title, raw };
  return { errors: postErrors(ctx, user, args, topic, raw), topic, category, title, raw };
}

// ---------------------------------------------------------------------------------------
// PostCreator#create

function newUserPostingOnFirstDay(ctx: Ctx, user: UserRecord): boolean {
  return (
    !isStaff(user) &&
    user.trustLevel < 1 &&
    (user.firstPostCreatedAt === null || user.firstPostCreatedAt >= ctx.now() - 24 * 3600 * 1000)
  );
}

function createPostRecord(ctx: Ctx, user: UserRecord, args: CreateArgs): Record<string, unknown> {
  const { state } = ctx;
  const v = validate(ctx, user, args);
  if (v.errors.length > 0) return failure('create_post', v.errors);

  const now = ctx.now();
  let createdAt = now;
  if (args.createdAt !== undefined && present(args.createdAt)) {
    const parsed = parseRubyTime(args.createdAt);
    if (parsed === null) {
      state.anomalies.push(
        `created_at ${JSON.stringify(args.createdAt)} is not a time Discourse can parse; it stored the current time instead`,
      );
    } else {
      createdAt = parsed;
    }
  }
  const newTopic = v.topic === null;

  if (newTopic && args.embedUrl !== undefined && !/^https?:\/\//i.test(args.embedUrl)) {
    return failure('create_post', [MSG.embedUrlInvalid]);
  }
  if (newTopic && args.embedUrl !== undefined && [...state.topics.values()].some((t) => t.embedUrl === args.embedUrl)) {
    return failure('create_post', [fullMessage('embed_url', MSG.taken)]);
  }

  // Tags: DiscourseTagging refuses unknown tags for users who may not create them,
  // unless validations are skipped (then they are created).
  let tags: string[] = [];
  if (newTopic && args.tags && args.tags.length > 0) {
    const s = state.siteSettings;
    const normalized = args.tags.map((t) => t.trim().toLowerCase().replace(/\s+/g, '-')).filter((t) => t !== '');
    const known = new Set(state.tags.values());
    const canCreate = isStaff(user) || user.trustLevel >= 3;
    const ok =
      s.tagging_enabled &&
      normalized.length <= s.max_tags_per_topic &&
      normalized.every((t) => t.length <= s.max_tag_length && (known.has(t) || canCreate));
    if (!ok && !args.skipValidations) return failure('create_post', [MSG.unableToTag]);
    tags = normalized;
    for (const t of tags) if (!known.has(t)) state.tags.set(state.ids.tag++, t);
  }

  let topic: TopicRecord;
  if (newTopic) {
    if (!args.skipValidations) {
      const s = state.siteSettings;
      const newUser = user.trustLevel === 0;
      userLimit(ctx, user, 'create_topic', 1, newUser ? s.rate_limit_new_user_create_topic : s.rate_limit_create_topic);
      if (newUserPostingOnFirstDay(ctx, user)) userLimit(ctx, user, 'first-day-topics-per-day', s.max_topics_in_first_day, 86400);
      else userLimit(ctx, user, 'topics-per-day', s.max_topics_per_day, 86400);
    }
    if (v.title === null) {
      // topics.title is NOT NULL; with validations skipped nothing catches it before Postgres.
      throw new DiscourseError(500, { errors: ['PG::NotNullViolation: null value in column "title"'] });
    }
    if (args.externalId !== undefined && args.externalId !== '') {
      const ext = args.externalId;
      if ([...state.topics.values()].some((t) => t.externalId === ext)) {
        // The partial unique index on topics.external_id (exact match) when validations were skipped.
        throw new DiscourseError(500, { errors: ['ActiveRecord::RecordNotUnique: index_topics_on_external_id'] });
      }
    }
    const isPm = args.archetype === 'private_message';
    const allowed = isPm
      ? [...state.users.values()].filter((u) => args.targetUsernames.includes(u.usernameLower)).map((u) => u.id)
      : [];
    if (isPm && allowed.length !== args.targetUsernames.length) {
      return failure('create_post', ['One of the users you are sending this message to could not be found.']);
    }
    topic = {
      id: state.ids.topic++,
      title: v.title,
      slug: slugFor(v.title, 'topic'),
      categoryId: isPm ? null : v.category?.id ?? 1,
      userId: user.id,
      createdAt,
      bumpedAt: createdAt,
      lastPostedAt: createdAt,
      externalId: args.externalId !== undefined && args.externalId !== '' ? args.externalId : null,
      archetype: isPm ? 'private_message' : 'regular',
      visible: args.visible,
      postIds: [],
      highestPostNumber: 0,
      tags,
      userLevels: new Map(),
      allowedUserIds: isPm ? [...new Set([...allowed, user.id])] : [],
      embedUrl: args.embedUrl ?? null,
      isCategoryDefinition: false,
      importMode: args.importMode,
    };
  } else {
    topic = v.topic as TopicRecord;
  }

  const postNumber = topic.highestPostNumber + 1;
  if (!args.skipValidations) {
    const s = state.siteSettings;
    userLimit(ctx, user, 'create_post', 1, user.trustLevel === 0 ? s.rate_limit_new_user_create_post : s.rate_limit_create_post);
    if (postNumber > 1 && newUserPostingOnFirstDay(ctx, user)) {
      userLimit(ctx, user, 'first-day-replies-per-day', s.max_replies_in_first_day, 86400);
    }
  }

  let replyToPostNumber: number | null = null;
  let replyToUserId: number | null = null;
  if (!newTopic && args.replyToPostNumber !== null) {
    replyToPostNumber = args.replyToPostNumber;
    const target = topic.postIds.map((id) => state.posts.get(id)).find((p) => p?.postNumber === replyToPostNumber);
    if (target) replyToUserId = target.userId;
    else {
      state.anomalies.push(
        `reply_to_post_number ${replyToPostNumber} does not exist in topic ${topic.id}; Discourse stores it without a reply_to_user`,
      );
    }
  }

  if (newTopic) {
    state.topics.set(topic.id, topic);
    // TopicCreator#watch_topic runs even in import_mode; auto_track=false is the only way out.
    if (args.autoTrack !== false) topic.userLevels.set(user.id, NOTIFICATION_LEVEL.watching);
    for (const id of topic.allowedUserIds) if (id !== user.id) topic.userLevels.set(id, NOTIFICATION_LEVEL.watching);
    // CategoryUser.auto_watch / auto_track from Topic#changed_to_category.
    if (topic.categoryId !== null) {
      for (const u of state.users.values()) {
        const level = u.categoryLevels.get(topic.categoryId);
        if ((level === NOTIFICATION_LEVEL.watching || level === NOTIFICATION_LEVEL.tracking) && !topic.userLevels.has(u.id)) {
          topic.userLevels.set(u.id, level);
        }
      }
    }
  }

  const post: PostRecord = {
    id: state.ids.post++,
    topicId: topic.id,
    postNumber,
    userId: user.id,
    raw: v.raw,
    cooked: cook(v.raw),
    createdAt,
    updatedAt: now,
    replyToPostNumber,
    replyToUserId,
    postType: args.postType,
    importMode: args.importMode,
    skipValidations: args.skipValidations,
  };
  if (v.raw === '') state.anomalies.push(`post ${post.id} was stored with an empty raw (validations skipped)`);
  state.posts.set(post.id, post);
  topic.postIds.push(post.id);
  topic.highestPostNumber = postNumber;
  if (args.postType !== 4) {
    topic.lastPostedAt = createdAt;
    topic.bumpedAt = createdAt;
  }

  if (!args.importMode) {
    if (user.firstPostCreatedAt === null) user.firstPostCreatedAt = createdAt;
    if (newTopic) user.topicCount++;
    else user.postCount++;
    if (args.autoTrack !== false && !topic.userLevels.has(user.id)) topic.userLevels.set(user.id, NOTIFICATION_LEVEL.tracking);
    if (state.siteSettings.unique_posts_mins > 0) {
      ctx.shared.uniquePostKeys.set(`${user.id}:${sha1Hex(v.raw)}`, now + state.siteSettings.unique_posts_mins * 60_000);
    }
    alertPostCreated(ctx, user, topic, post);
  }

  return {
    action: 'create_post',
    post: serializePost(state, post, user, { addRaw: false }),
    success: true,
  };
}

/** PostAlerter#post_created: mentions, replies, watchers — each user notified once. */
function alertPostCreated(ctx: Ctx, author: UserRecord, topic: TopicRecord, post: PostRecord): void {
  const { state } = ctx;
  const notified = new Set<number>([author.id]);
  const byName = new Map([...state.users.values()].map((u) => [u.usernameLower, u]));
  for (const name of rawMentions(post.raw)) {
    const u = byName.get(name);
    if (u && !notified.has(u.id)) {
      notified.add(u.id);
      notify(ctx, u, 'mentioned', topic, post.postNumber);
    }
  }
  if (post.replyToUserId !== null && !notified.has(post.replyToUserId)) {
    const u = state.users.get(post.replyToUserId);
    if (u) {
      notified.add(u.id);
      notify(ctx, u, 'replied', topic, post.postNumber);
    }
  }
  if (topic.archetype === 'private_message') {
    for (const id of topic.allowedUserIds) {
      const u = state.users.get(id);
      if (u && !notified.has(id)) {
        notified.add(id);
        notify(ctx, u, 'private_message', topic, post.postNumber);
      }
    }
    return;
  }
  for (const [userId, level] of topic.userLevels) {
    if (level !== NOTIFICATION_LEVEL.watching || notified.has(userId)) continue;
    const u = state.users.get(userId);
    if (u) {
      notified.add(userId);
      notify(ctx, u, 'posted', topic, post.postNumber);
    }
  }
  if (post.postNumber === 1 && topic.categoryId !== null) {
    for (const u of state.users.values()) {
      if (notified.has(u.id) || u.categoryLevels.get(topic.categoryId) !== NOTIFICATION_LEVEL.watching_first_post) continue;
      notified.add(u.id);
      notify(ctx, u, 'watching_first_post', topic, post.postNumber);
    }
  }
}

// ---------------------------------------------------------------------------------------
// Read routes

function visibleTopic(ctx: Ctx, id: number): TopicRecord {
  const topic = ctx.state.topics.get(id);
  if (!topic || !canSeeTopic(ctx.state, ctx.user, topic)) throw notFound();
  return topic;
}

export function showTopic(ctx: Ctx, id: number): unknown {
  return serializeTopic(ctx.state, visibleTopic(ctx, id), ctx.user);
}

export function topicPosts(ctx: Ctx, id: number): unknown {
  const topic = visibleTopic(ctx, id);
  const wanted = ctx.req.params.post_ids;
  const ids = Array.isArray(wanted) ? wanted.map((x) => Number(str(x))) : topic.postIds;
  const posts = ids
    .map((pid) => ctx.state.posts.get(pid))
    .filter((p): p is PostRecord => !!p && p.topicId === topic.id)
    .map((p) => serializePost(ctx.state, p, ctx.user, { addRaw: false }));
  return { post_stream: { posts }, id: topic.id };
}

/** TopicsController#show_by_external_id: 301 to "<topic url>.json", or 404. */
export function topicByExternalId(ctx: Ctx, externalId: string, json: boolean): { location: string } {
  if (!/^[\w-]+$/.test(externalId)) throw notFound();
  const topic = [...ctx.state.topics.values()].find((t) => t.externalId === externalId);
  if (!topic || !canSeeTopic(ctx.state, ctx.user, topic)) throw notFound();
  const keep = new URLSearchParams();
  for (const k of ['page', 'print', 'filter_top_level_replies', 'preview_theme_id']) {
    const v = str(ctx.req.params[k]);
    if (v !== undefined) keep.set(k, v);
  }
  const qs = keep.toString();
  return { location: `${ctx.baseUrl}${topicRelativeUrl(topic)}${json ? '.json' : ''}${qs ? `?${qs}` : ''}` };
}

export function showPost(ctx: Ctx, id: number): unknown {
  const post = ctx.state.posts.get(id);
  if (!post) throw notFound();
  const topic = ctx.state.topics.get(post.topicId);
  if (!topic || !canSeeTopic(ctx.state, ctx.user, topic)) throw notFound();
  return serializePost(ctx.state, post, ctx.user, { addRaw: true });
}

export function postByNumber(ctx: Ctx, topicId: number, postNumber: number): unknown {
  const topic = visibleTopic(ctx, topicId);
  const post = topic.postIds.map((id) => ctx.state.posts.get(id)).find((p) => p?.postNumber === postNumber);
  if (!post) throw notFound();
  return serializePost(ctx.state, post, ctx.user, { addRaw: true });
}

