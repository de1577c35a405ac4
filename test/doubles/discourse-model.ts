// Records, site settings and permission rules of the Discourse test double, plus the
// serializers that turn records into the JSON Discourse answers with.

import { createHash, randomBytes } from 'node:crypto';
import { cook, isoTime, MSG, slugFor } from './discourse-text.js';
import type { ParamValue } from './discourse-http.js';

// ---------------------------------------------------------------------------------------
// Site settings (config/site_settings.yml defaults for the settings the double honours)

type SettingSpec =
  | { type: 'bool'; default: boolean }
  | { type: 'int'; default: number; min: number; max: number }
  | { type: 'string'; default: string }
  | { type: 'enum'; default: string; choices: readonly string[] };

export const SITE_SETTING_SPECS = {
  title: { type: 'string', default: 'Discourse' },
  disable_emails: { type: 'enum', default: 'no', choices: ['no', 'yes', 'non-staff'] },
  login_required: { type: 'bool', default: false },
  min_post_length: { type: 'int', default: 20, min: 1, max: 10000 },
  min_first_post_length: { type: 'int', default: 20, min: 1, max: 10000 },
  min_personal_message_post_length: { type: 'int', default: 10, min: 1, max: 10000 },
  max_post_length: { type: 'int', default: 32000, min: 5, max: 150000 },
  min_topic_title_length: { type: 'int', default: 15, min: 1, max: 255 },
  max_topic_title_length: { type: 'int', default: 255, min: 5, max: 255 },
  min_personal_message_title_length: { type: 'int', default: 2, min: 1, max: 255 },
  title_min_entropy: { type: 'int', default: 10, min: 0, max: 255 },
  body_min_entropy: { type: 'int', default: 7, min: 0, max: 10000 },
  title_max_word_length: { type: 'int', default: 30, min: 1, max: 100 },
  title_prettify: { type: 'bool', default: true },
  allow_uppercase_posts: { type: 'bool', default: false },
  allow_duplicate_topic_titles: { type: 'bool', default: false },
  allow_duplicate_topic_titles_category: { type: 'bool', default: false },
  allow_uncategorized_topics: { type: 'bool', default: true },
  unique_posts_mins: { type: 'int', default: 5, min: 0, max: 10000 },
  max_consecutive_replies: { type: 'int', default: 3, min: 0, max: 1000 },
  newuser_max_links: { type: 'int', default: 2, min: 0, max: 1000 },
  newuser_max_embedded_media: { type: 'int', default: 1, min: 0, max: 1000 },
  newuser_max_attachments: { type: 'int', default: 0, min: 0, max: 1000 },
  newuser_max_mentions_per_post: { type: 'int', default: 2, min: 0, max: 1000 },
  max_mentions_per_post: { type: 'int', default: 10, min: 0, max: 1000 },
  rate_limit_create_topic: { type: 'int', default: 15, min: 0, max: 100000 },
  rate_limit_create_post: { type: 'int', default: 5, min: 0, max: 100000 },
  rate_limit_new_user_create_topic: { type: 'int', default: 120, min: 0, max: 100000 },
  rate_limit_new_user_create_post: { type: 'int', default: 30, min: 0, max: 100000 },
  max_topics_per_day: { type: 'int', default: 20, min: 0, max: 100000 },
  max_topics_in_first_day: { type: 'int', default: 3, min: 0, max: 100000 },
  max_replies_in_first_day: { type: 'int', default: 10, min: 0, max: 100000 },
  approve_post_count: { type: 'int', default: 0, min: 0, max: 100 },
  approve_unless_allowed_groups: { type: 'string', default: '10' },
  approve_new_topics_unless_allowed_groups: { type: 'string', default: '10' },
  authorized_extensions: { type: 'string', default: 'jpg|jpeg|png|gif|heic|heif|webp|avif|svg' },
  authorized_extensions_for_staff: { type: 'string', default: '' },
  max_attachment_size_kb: { type: 'int', default: 4096, min: 1, max: 1024000 },
  max_image_size_kb: { type: 'int', default: 4096, min: 0, max: 1024000 },
  blocked_email_domains: { type: 'string', default: 'mailinator.com' },
  allowed_email_domains: { type: 'string', default: '' },
  clean_up_inactive_users_after_days: { type: 'int', default: 730, min: 0, max: 3650 },
  clean_up_unused_staged_users_after_days: { type: 'int', default: 365, min: 0, max: 3650 },
  purge_unactivated_users_grace_period_days: { type: 'int', default: 14, min: 1, max: 3650 },
  enable_staged_users: { type: 'bool', default: true },
  must_approve_users: { type: 'bool', default: false },
  allow_new_registrations: { type: 'bool', default: true },
  hide_email_address_taken: { type: 'bool', default: false },
  send_welcome_message: { type: 'bool', default: true },
  default_trust_level: { type: 'int', default: 0, min: 0, max: 4 },
  min_username_length: { type: 'int', default: 3, min: 1, max: 60 },
  max_username_length: { type: 'int', default: 20, min: 8, max: 60 },
  unicode_usernames: { type: 'bool', default: false },
  reserved_usernames: {
    type: 'string',
    default:
      'admin|moderator|administrator|mod|sys|system|community|info|you|name|username|user|nickname|discourse|discourseorg|discourseforum|support',
  },
  min_password_length: { type: 'int', default: 10, min: 1, max: 500 },
  tagging_enabled: { type: 'bool', default: true },
  max_tags_per_topic: { type: 'int', default: 5, min: 0, max: 100 },
  max_tag_length: { type: 'int', default: 20, min: 1, max: 100 },
  newuser_max_replies_per_topic: { type: 'int', default: 3, min: 1, max: 1000 },
  max_category_nesting: { type: 'int', default: 2, min: 2, max: 3 },
  permalink_normalizations: { type: 'string', default: '' },
  incoming_email_prefer_html: { type: 'bool', default: true },
  trim_incoming_emails: { type: 'bool', default: true },
  email_in: { type: 'bool', default: false },
  embed_unlisted: { type: 'bool', default: false },
} as const satisfies Record<string, SettingSpec>;

export type SiteSettingName = keyof typeof SITE_SETTING_SPECS;
type SpecValue<S> = S extends { type: 'bool' } ? boolean : S extends { type: 'int' } ? number : string;
export type SiteSettings = { -readonly [K in SiteSettingName]: SpecValue<(typeof SITE_SETTING_SPECS)[K]> };

export function defaultSiteSettings(): SiteSettings {
  const out: Record<string, unknown> = {};
  for (const [name, spec] of Object.entries(SITE_SETTING_SPECS)) out[name] = spec.default;
  return out as SiteSettings;
}

export function isSiteSettingName(name: string): name is SiteSettingName {
  return Object.prototype.hasOwnProperty.call(SITE_SETTING_SPECS, name);
}

/** Coerces a PUT value the way the site-setting type supervisor does; a string is an error message. */
export function coerceSiteSetting(name: SiteSettingName, value: ParamValue | undefined): { value: boolean | number | string } | { error: string } {
  const spec: SettingSpec = SITE_SETTING_SPECS[name];
  const text = value === null || value === undefined ? '' : typeof value === 'object' ? '' : String(value).trim();
  switch (spec.type) {
    case 'bool':
      if (['true', 't'].includes(text)) return { value: true };
      if (['false', 'f'].includes(text)) return { value: false };
      return { error: MSG.siteSettingInvalidBoolean };
    case 'int': {
      if (!/^-?\d+$/.test(text)) return { error: MSG.siteSettingBetween(spec.min, spec.max) };
      const n = Number(text);
      if (n < spec.min || n > spec.max) return { error: MSG.siteSettingBetween(spec.min, spec.max) };
      return { value: n };
    }
    case 'enum':
      if (!spec.choices.includes(text)) return { error: MSG.siteSettingInvalidChoice(text) };
      return { value: text };
    case 'string':
      return { value: text };
  }
}

export function siteSettingJson(name: SiteSettingName, value: boolean | number | string): Record<string, unknown> {
  const spec: SettingSpec = SITE_SETTING_SPECS[name];
  return {
    setting: name,
    description: '',
    default: String(spec.default),
    value: String(value),
    category: 'double',
    preview: null,
    secret: false,
    type: spec.type === 'int' ? 'integer' : spec.type,
    ...(spec.type === 'enum' ? { valid_values: spec.choices } : {}),
  };
}

// ---------------------------------------------------------------------------------------
// Records

export const AUTO_GROUPS = {
  everyone: 0,
  admins: 1,
  moderators: 2,
  staff: 3,
  trust_level_0: 10,
  trust_level_1: 11,
  trust_level_2: 12,
  trust_level_3: 13,
  trust_level_4: 14,
} as const;

/** CategoryGroup.permission_types. */
export const PERMISSION = { full: 1, create_post: 2, readonly: 3 } as const;

/** NotificationLevels.all. */
export const NOTIFICATION_LEVEL = { muted: 0, regular: 1, tracking: 2, watching: 3, watching_first_post: 4 } as const;

export interface UserRecord {
  id: number;
  username: string;
  usernameLower: string;
  name: string | null;
  email: string;
  active: boolean;
  approved: boolean;
  staged: boolean;
  admin: boolean;
  moderator: boolean;
  suspended: boolean;
  trustLevel: number;
  createdAt: number;
  postCount: number;
  topicCount: number;
  firstPostCreatedAt: number | null;
  /** CategoryUser rows: category id → notification level. */
  categoryLevels: Map<number, number>;
  /** UserOption e-mail preferences (UserOption.email_level_types: 0 always, 1 only when away, 2 never). */
  emailLevel: number;
  emailMessagesLevel: number;
  emailDigests: boolean;
  mailingListMode: boolean;
}

/** UserOption.email_level_types. */
export const EMAIL_LEVEL = { always: 0, only_when_away: 1, never: 2 } as const;

export interface GroupRecord {
  id: number;
  name: string;
  fullName: string | null;
  automatic: boolean;
  visibilityLevel: number;
  members: Set<number>;
  owners: Set<number>;
  watchingCategoryIds: number[];
  watchingFirstPostCategoryIds: number[];
  trackingCategoryIds: number[];
  mutedCategoryIds: number[];
}

export interface CategoryRecord {
  id: number;
  name: string;
  slug: string;
  color: string;
  textColor: string;
  description: string | null;
  parentCategoryId: number | null;
  position: number;
  readRestricted: boolean;
  /** group id → permission type; empty means "everyone: full". */
  permissions: Map<number, number>;
  topicId: number | null;
  emailIn: string | null;
  emailInAllowStrangers: boolean;
  mailinglistMirror: boolean;
  userId: number;
  createdAt: number;
}

export interface TopicRecord {
  id: number;
  title: string;
  slug: string;
  categoryId: number | null;
  userId: number;
  createdAt: number;
  bumpedAt: number;
  lastPostedAt: number;
  externalId: string | null;
  archetype: 'regular' | 'private_message';
  visible: boolean;
  postIds: number[];
  highestPostNumber: number;
  tags: string[];
  /** TopicUser notification levels. */
  userLevels: Map<number, number>;
  allowedUserIds: number[];
  embedUrl: string | null;
  /** True for a category's "About" topic. */
  isCategoryDefinition: boolean;
  /** Whether the first post was created with import_mode. */
  importMode: boolean;
}

export interface PostRecord {
  id: number;
  topicId: number;
  postNumber: number;
  userId: number;
  raw: string;
  cooked: string;
  createdAt: number;
  updatedAt: number;
  replyToPostNumber: number | null;
  replyToUserId: number | null;
  postType: number;
  importMode: boolean;
  skipValidations: boolean;
}

export interface UploadRecord {
  id: number;
  userId: number;
  originalFilename: string;
  extension: string;
  filesize: number;
  sha1: string;
  url: string;
  shortUrl: string;
  contentType: string;
  data: Buffer;
  uploadType: string;
}

export interface PermalinkRecord {
  id: number;
  url: string;
  topicId: number | null;
  postId: number | null;
  categoryId: number | null;
  tagId: number | null;
  userId: number | null;
  externalUrl: string | null;
  createdAt: number;
}

export interface NotificationRecord {
  userId: number;
  type: 'mentioned' | 'replied' | 'posted' | 'watching_first_post' | 'private_message';
  topicId: number | null;
  postNumber: number | null;
  at: number;
}

export interface EmailRecord {
  to: string;
  userId: number | null;
  type: string;
  topicId: number | null;
  postNumber: number | null;
  at: number;
}

export interface RequestLogEntry {
  at: number;
  method: string;
  path: string;
  status: number;
  /** Impersonated user, when the API key resolved to one. */
  username: string | null;
  key: 'none' | 'global' | 'single-user' | 'invalid';
  params: Record<string, ParamValue>;
  /** The admin API bucket was charged for this request. */
  charged: boolean;
  /** POST /posts.json answered from the 120 s memo. */
  memoised: boolean;
  fault: string | null;
}

export interface ApiKeyRecord {
  key: string;
  /** Single-user key when set (user id); global ("All Users") key when null. */
  userId: number | null;
  revoked: boolean;
  description: string;
}

export interface DoubleState {
  siteSettings: SiteSettings;
  users: Map<number, UserRecord>;
  groups: Map<number, GroupRecord>;
  categories: Map<number, CategoryRecord>;
  topics: Map<number, TopicRecord>;
  posts: Map<number, PostRecord>;
  uploads: Map<number, UploadRecord>;
  permalinks: Map<number, PermalinkRecord>;
  tags: Map<number, string>;
  apiKeys: ApiKeyRecord[];
  requestLog: RequestLogEntry[];
  notifications: NotificationRecord[];
  emailsSent: EmailRecord[];
  invites: { email: string; groupIds: number[]; invitedBy: number; at: number }[];
  /** Reviewable queued posts ("enqueued" answers). */
  pendingPosts: { id: number; userId: number; raw: string; title: string | null; topicId: number | null; categoryId: number | null; at: number }[];
  /**
   * Things Discourse accepts silently that an importer almost certainly did not mean,
   * e.g. an unparseable created_at (stored as "now") or a reply_to_post_number that does not exist.
   */
  anomalies: string[];
  /** Exceptions inside the double itself (a bug in the double, not in the client). */
  serverErrors: string[];
  ids: { user: number; group: number; category: number; topic: number; post: number; upload: number; permalink: number; tag: number; pending: number };
}

export interface UserSeed {
  username: string;
  email?: string;
  name?: string;
  admin?: boolean;
  moderator?: boolean;
  trustLevel?: number;
  active?: boolean;
  staged?: boolean;
  suspended?: boolean;
}

export function newUser(state: DoubleState, seed: UserSeed & { id?: number; approved?: boolean }, now: number): UserRecord {
  const id = seed.id ?? state.ids.user++;
  const user: UserRecord = {
    id,
    username: seed.username,
    usernameLower: seed.username.toLowerCase(),
    name: seed.name ?? null,
    email: (seed.email ?? `${seed.username.toLowerCase()}@double.invalid`).toLowerCase(),
    active: seed.active ?? true,
    approved: seed.approved ?? true,
    staged: seed.staged ?? false,
    admin: seed.admin ?? false,
    moderator: seed.moderator ?? false,
    suspended: seed.suspended ?? false,
    trustLevel: seed.trustLevel ?? (seed.admin || seed.moderator ? 4 : 1),
    createdAt: now,
    postCount: 0,
    topicCount: 0,
    firstPostCreatedAt: null,
    categoryLevels: new Map(),
    // Discourse's defaults: default_email_level 1, default_email_messages_level 0, digests on.
    emailLevel: EMAIL_LEVEL.only_when_away,
    emailMessagesLevel: EMAIL_LEVEL.always,
    emailDigests: true,
    mailingListMode: false,
  };
  state.users.set(id, user);
  return user;
}

export function createState(settings: Partial<SiteSettings>, now: number): DoubleState {
  const state: DoubleState = {
    siteSettings: { ...defaultSiteSettings(), ...settings },
    users: new Map(),
    groups: new Map(),
    categories: new Map(),
    topics: new Map(),
    posts: new Map(),
    uploads: new Map(),
    permalinks: new Map(),
    tags: new Map(),
    apiKeys: [],
    requestLog: [],
    notifications: [],
    emailsSent: [],
    invites: [],
    pendingPosts: [],
    anomalies: [],
    serverErrors: [],
    ids: { user: 1, group: 41, category: 2, topic: 1, post: 1, upload: 1, permalink: 1, tag: 1, pending: 1 },
  };
  for (const [name, id] of Object.entries(AUTO_GROUPS)) {
    state.groups.set(id, {
      id,
      name,
      fullName: null,
      automatic: true,
      visibilityLevel: 0,
      members: new Set(),
      owners: new Set(),
      watchingCategoryIds: [],
      watchingFirstPostCategoryIds: [],
      trackingCategoryIds: [],
      mutedCategoryIds: [],
    });
  }
  newUser(state, { id: -1, username: 'system', email: 'no_email@double.invalid', name: 'system', admin: true, moderator: true, trustLevel: 4 }, now);
  state.categories.set(1, {
    id: 1,
    name: 'Uncategorized',
    slug: 'uncategorized',
    color: '0088CC',
    textColor: 'FFFFFF',
    description: null,
    parentCategoryId: null,
    position: 0,
    readRestricted: false,
    permissions: new Map(),
    topicId: null,
    emailIn: null,
    emailInAllowStrangers: false,
    mailinglistMirror: false,
    userId: -1,
    createdAt: now,
  });
  return state;
}

export function newApiKey(): string {
  return randomBytes(32).toString('hex');
}

// ---------------------------------------------------------------------------------------
// Guardian

export const isStaff = (u: UserRecord | null): boolean => !!u && (u.admin || u.moderator);

/** Automatic and custom group membership (Group::AUTO_GROUPS semantics). */
export function userGroupIds(state: DoubleState, user: UserRecord | null): Set<number> {
  const ids = new Set<number>([AUTO_GROUPS.everyone]);
  if (!user) return ids;
  if (user.admin) ids.add(AUTO_GROUPS.admins);
  if (user.moderator) ids.add(AUTO_GROUPS.moderators);
  if (isStaff(user)) ids.add(AUTO_GROUPS.staff);
  for (let tl = 0; tl <= user.trustLevel && tl <= 4; tl++) ids.add(10 + tl);
  for (const g of state.groups.values()) if (!g.automatic && g.members.has(user.id)) ids.add(g.id);
  return ids;
}

function categoryPermissionFor(state: DoubleState, user: UserRecord | null, category: CategoryRecord): number | null {
  if (category.permissions.size === 0) return PERMISSION.full;
  const groups = userGroupIds(state, user);
  let best: number | null = null;
  for (const [groupId, perm] of category.permissions) {
    if (groups.has(groupId) && (best === null || perm < best)) best = perm;
  }
  return best;
}

export function canSeeCategory(state: DoubleState, user: UserRecord | null, category: CategoryRecord): boolean {
  if (user?.admin) return true;
  if (!category.readRestricted) return true;
  return categoryPermissionFor(state, user, category) !== null;
}

export function canCreateTopicIn(state: DoubleState, user: UserRecord | null, category: CategoryRecord | null): boolean {
  if (!user) return false;
  if (user.admin) return true;
  if (!category) return state.siteSettings.allow_uncategorized_topics || isStaff(user);
  if (category.id === 1 && !state.siteSettings.allow_uncategorized_topics && !isStaff(user)) return false;
  return categoryPermissionFor(state, user, category) === PERMISSION.full;
}

export function canCreatePostIn(state: DoubleState, user: UserRecord | null, topic: TopicRecord): boolean {
  if (!user) return false;
  if (topic.archetype === 'private_message') return isStaff(user) || topic.allowedUserIds.includes(user.id);
  if (user.admin) return true;
  if (!topic.visible && !isStaff(user)) return false;
  const category = topic.categoryId === null ? null : state.categories.get(topic.categoryId) ?? null;
  if (!category) return true;
  const perm = categoryPermissionFor(state, user, category);
  return perm === PERMISSION.full || perm === PERMISSION.create_post;
}

export function canSeeTopic(state: DoubleState, user: UserRecord | null, topic: TopicRecord): boolean {
  if (user?.admin) return true;
  if (topic.archetype === 'private_message') return !!user && (topic.allowedUserIds.includes(user.id) || isStaff(user));
  if (!topic.visible && !isStaff(user)) return false;
  const category = topic.categoryId === null ? null : state.categories.get(topic.categoryId);
  return !category || canSeeCategory(state, user, category);
}

// ---------------------------------------------------------------------------------------
// Serializers

export function topicRelativeUrl(topic: TopicRecord): string {
  return `/t/${topic.slug}/${topic.id}`;
}

export function postRelativeUrl(state: DoubleState, post: PostRecord): string {
  const topic = state.topics.get(post.topicId);
  return `/t/${topic?.slug ?? 'topic'}/${post.topicId}/${post.postNumber}`;
}

export function categorySlugForUrl(c: CategoryRecord): string {
  return c.slug !== '' ? c.slug : `${c.id}-category`;
}

export function categoryRelativeUrl(state: DoubleState, c: CategoryRecord): string {
  const parent = c.parentCategoryId === null ? null : state.categories.get(c.parentCategoryId);
  return parent ? `/c/${categorySlugForUrl(parent)}/${categorySlugForUrl(c)}/${c.id}` : `/c/${categorySlugForUrl(c)}/${c.id}`;
}

export function groupNameById(state: DoubleState, id: number): string {
  return state.groups.get(id)?.name ?? `group_${id}`;
}

export function serializeCategory(state: DoubleState, c: CategoryRecord, viewer: UserRecord | null): Record<string, unknown> {
  const topics = [...state.topics.values()].filter((t) => t.categoryId === c.id && !t.isCategoryDefinition);
  const definition = c.topicId === null ? undefined : state.topics.get(c.topicId);
  const subcategoryIds = [...state.categories.values()].filter((x) => x.parentCategoryId === c.id).map((x) => x.id);
  return {
    id: c.id,
    name: c.name,
    color: c.color,
    text_color: c.textColor,
    slug: c.slug,
    topic_count: topics.length,
    post_count: topics.reduce((n, t) => n + t.postIds.length, 0),
    position: c.position,
    description: c.description,
    description_text: c.description,
    topic_url: definition ? topicRelativeUrl(definition) : null,
    read_restricted: c.readRestricted,
    permission: viewer?.admin ? PERMISSION.full : categoryPermissionFor(state, viewer, c),
    notification_level: viewer ? viewer.categoryLevels.get(c.id) ?? NOTIFICATION_LEVEL.regular : null,
    parent_category_id: c.parentCategoryId ?? undefined,
    has_children: subcategoryIds.length > 0,
    subcategory_ids: subcategoryIds,
    can_edit: !!viewer?.admin,
    group_permissions:
      c.permissions.size === 0
        ? [{ permission_type: PERMISSION.full, group_name: 'everyone' }]
        : [...c.permissions].map(([gid, perm]) => ({ permission_type: perm, group_name: groupNameById(state, gid) })),
    email_in: c.emailIn,
    email_in_allow_strangers: c.emailInAllowStrangers,
    mailinglist_mirror: c.mailinglistMirror,
    uploaded_logo: null,
    uploaded_background: null,
  };
}

export function avatarTemplate(u: UserRecord): string {
  return `/letter_avatar_proxy/v4/letter/${u.usernameLower.charAt(0) || 'x'}/0088cc/{size}.png`;
}

export function serializePost(
  state: DoubleState,
  post: PostRecord,
  viewer: UserRecord | null,
  opts: { addRaw: boolean },
): Record<string, unknown> {
  const author = state.users.get(post.userId);
  const topic = state.topics.get(post.topicId);
  const replyToUser = post.replyToUserId === null ? undefined : state.users.get(post.replyToUserId);
  const replyCount = topic
    ? topic.postIds.filter((id) => state.posts.get(id)?.replyToPostNumber === post.postNumber).length
    : 0;
  const out: Record<string, unknown> = {
    id: post.id,
    name: author?.name ?? null,
    username: author?.username ?? null,
    avatar_template: author ? avatarTemplate(author) : null,
    created_at: isoTime(post.createdAt),
    cooked: post.cooked,
    post_number: post.postNumber,
    post_type: post.postType,
    updated_at: isoTime(post.updatedAt),
    reply_count: replyCount,
    reply_to_post_number: post.replyToPostNumber,
    quote_count: 0,
    incoming_link_count: 0,
    reads: 0,
    score: 0,
    yours: !!viewer && viewer.id === post.userId,
    topic_id: post.topicId,
    topic_slug: topic?.slug ?? null,
    display_username: author?.name ?? null,
    version: 1,
    can_edit: !!viewer && (viewer.admin || viewer.id === post.userId),
    user_id: post.userId,
    trust_level: author?.trustLevel ?? 0,
    staff: !!author && isStaff(author),
    hidden: false,
    deleted_at: null,
    wiki: false,
    post_url: postRelativeUrl(state, post),
  };
  if (replyToUser) {
    out.reply_to_user = { username: replyToUser.username, name: replyToUser.name, avatar_template: avatarTemplate(replyToUser) };
  }
  if (opts.addRaw) out.raw = post.raw;
  return out;
}

export function serializeTopic(state: DoubleState, topic: TopicRecord, viewer: UserRecord | null): Record<string, unknown> {
  const posts = topic.postIds.map((id) => state.posts.get(id)).filter((p): p is PostRecord => !!p);
  const creator = state.users.get(topic.userId);
  return {
    id: topic.id,
    title: topic.title,
    fancy_title: topic.title,
    slug: topic.slug,
    posts_count: posts.length,
    highest_post_number: topic.highestPostNumber,
    created_at: isoTime(topic.createdAt),
    last_posted_at: isoTime(topic.lastPostedAt),
    bumped_at: isoTime(topic.bumpedAt),
    archetype: topic.archetype,
    visible: topic.visible,
    closed: false,
    archived: false,
    category_id: topic.categoryId,
    user_id: topic.userId,
    external_id: topic.externalId,
    tags: topic.tags,
    post_stream: {
      posts: posts.slice(0, 20).map((p) => serializePost(state, p, viewer, { addRaw: false })),
      stream: posts.map((p) => p.id),
    },
    details: {
      created_by: creator ? { id: creator.id, username: creator.username, name: creator.name, avatar_template: avatarTemplate(creator) } : null,
      notification_level: viewer ? topic.userLevels.get(viewer.id) ?? NOTIFICATION_LEVEL.regular : null,
    },
  };
}

export function serializeUser(u: UserRecord, viewer: UserRecord | null): Record<string, unknown> {
  const out: Record<string, unknown> = {
    id: u.id,
    username: u.username,
    name: u.name,
    avatar_template: avatarTemplate(u),
    active: u.active,
    admin: u.admin,
    moderator: u.moderator,
    staged: u.staged,
    trust_level: u.trustLevel,
    created_at: isoTime(u.createdAt),
    post_count: u.postCount,
    topic_count: u.topicCount,
  };
  if (viewer && (isStaff(viewer) || viewer.id === u.id)) {
    out.approved = u.approved;
    out.suspended = u.suspended;
    out.user_option = {
      user_id: u.id,
      email_level: u.emailLevel,
      email_messages_level: u.emailMessagesLevel,
      email_digests: u.emailDigests,
      mailing_list_mode: u.mailingListMode,
    };
  }
  return out;
}

export function serializeAdminUser(u: UserRecord, showEmails: boolean): Record<string, unknown> {
  return {
    id: u.id,
    username: u.username,
    name: u.name,
    avatar_template: avatarTemplate(u),
    ...(showEmails ? { email: u.email, secondary_emails: [] } : {}),
    active: u.active,
    admin: u.admin,
    moderator: u.moderator,
    staged: u.staged,
    approved: u.approved,
    suspended: u.suspended,
    trust_level: u.trustLevel,
    created_at: isoTime(u.createdAt),
    post_count: u.postCount,
    topic_count: u.topicCount,
  };
}

export function serializeGroup(g: GroupRecord): Record<string, unknown> {
  return {
    id: g.id,
    name: g.name,
    full_name: g.fullName,
    automatic: g.automatic,
    user_count: g.members.size,
    visibility_level: g.visibilityLevel,
    watching_category_ids: g.watchingCategoryIds,
    watching_first_post_category_ids: g.watchingFirstPostCategoryIds,
    tracking_category_ids: g.trackingCategoryIds,
    muted_category_ids: g.mutedCategoryIds,
  };
}

export function sha1Hex(data: Buffer | string): string {
  return createHash('sha1').update(data).digest('hex');
}

/** Builds the category "About" topic and its first post (Category#create_category_definition). */
export function createCategoryDefinition(state: DoubleState, c: CategoryRecord, now: number): void {
  const title = MSG.categoryTopicPrefix(c.name);
  const topic: TopicRecord = {
    id: state.ids.topic++,
    title,
    slug: slugFor(title, 'topic'),
    categoryId: c.id,
    userId: c.userId,
    createdAt: now,
    bumpedAt: now,
    lastPostedAt: now,
    externalId: null,
    archetype: 'regular',
    visible: true,
    postIds: [],
    highestPostNumber: 1,
    tags: [],
    userLevels: new Map(),
    allowedUserIds: [],
    embedUrl: null,
    isCategoryDefinition: true,
    importMode: false,
  };
  const raw = c.description ?? MSG.categoryPostTemplate;
  const post: PostRecord = {
    id: state.ids.post++,
    topicId: topic.id,
    postNumber: 1,
    userId: c.userId,
    raw,
    cooked: cook(raw),
    createdAt: now,
    updatedAt: now,
    replyToPostNumber: null,
    replyToUserId: null,
    postType: 1,
    importMode: false,
    skipValidations: true,
  };
  topic.postIds.push(post.id);
  state.topics.set(topic.id, topic);
  state.posts.set(post.id, post);
  c.topicId = topic.id;
}
