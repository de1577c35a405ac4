// Text rules of the Discourse test double: the English locale strings Discourse answers
// with, and ports of the small pieces of Discourse that decide whether a title, body,
// username or slug is acceptable. Each port names the Ruby file it follows.

/** config/locales/server.en.yml strings the double answers with. */
export const MSG = {
  notLoggedIn: 'You need to be logged in to do that.',
  invalidAccess: 'You are not permitted to view the requested resource.',
  invalidApiCredentials:
    'You are not permitted to view the requested resource. The API username or key is invalid.',
  notFound: 'The requested URL or resource could not be found.',
  invalidParams: (message: string) => `You supplied invalid parameters to the request: ${message}`,
  paramMissing: (name: string) => `param is missing or the value is empty: ${name}`,
  tooManyRequests: (timeLeft: string) =>
    `You’ve performed this action too many times. Please wait ${timeLeft} before trying again.`,
  rateLimitByType: {
    create_topic: (t: string) => `You’re creating topics a bit too quickly. Please wait ${t} before trying again.`,
    create_post: (t: string) => `You’re replying a bit too quickly. Please wait ${t} before trying again.`,
    topics_per_day: (t: string) =>
      `You’ve reached the maximum new topics allowed per day. You can create more new topics in ${t}.`,
    first_day_topics_per_day: (t: string) =>
      `We appreciate your enthusiasm! That said, for the safety of our community, you’ve reached the maximum number of topics a new user can create on their first day. Please wait ${t} and you’ll be able to create more new topics.`,
    first_day_replies_per_day: (t: string) =>
      `We appreciate your enthusiasm, keep it up! That said, for the safety of our community, you’ve reached the maximum number of replies a new user can create on their first day. Please wait ${t} and you’ll be able to create more replies.`,
  } as Record<string, (t: string) => string>,
  taken: 'has already been taken',
  hasAlreadyBeenUsed: 'has already been used',
  blank: "can't be blank",
  invalid: 'is invalid',
  tooShort: (n: number) => `is too short (minimum is ${n} character${n === 1 ? '' : 's'})`,
  tooLong: (n: number) => `is too long (maximum is ${n} character${n === 1 ? '' : 's'})`,
  tooLongValidation: (n: number, len: number) =>
    `is limited to ${n} character${n === 1 ? '' : 's'}; you entered ${len}.`,
  isInvalidSentence: 'seems unclear, is it a complete sentence?',
  justPostedThat: 'is too similar to what you recently posted',
  topicNotFound:
    'Something has gone wrong. Perhaps this topic was closed or deleted while you were looking at it?',
  createPmOnExistingTopic: "Sorry, you can't create a PM on an existing topic.",
  noUserSelected: 'You must select a valid user.',
  unableToUnlist: 'Sorry, you cannot create an unlisted topic.',
  unableToTag: 'There was an error tagging the topic.',
  invalidWhisperAccess: 'Either whispers are not enabled or you do not have access to create whisper posts',
  maxConsecutiveReplies: (n: number) =>
    n === 1
      ? 'No consecutive replies are allowed. Please edit your previous reply, or wait for someone to reply to you.'
      : `No more than ${n} consecutive replies are allowed. Please edit your previous reply, or wait for someone to reply to you.`,
  noLinksAllowed: "Sorry, new users can't put links in posts.",
  tooManyLinks: (n: number) =>
    n === 1 ? 'Sorry, new users can only put one link in a post.' : `Sorry, new users can only put ${n} links in a post.`,
  noAttachmentsAllowed: "Sorry, new users can't put attachments in posts.",
  tooManyAttachments: (n: number) =>
    n === 1
      ? 'Sorry, new users can only put one attachment in a post.'
      : `Sorry, new users can only put ${n} attachments in a post.`,
  noMentionsAllowedNewuser: "Sorry, new users can't mention other users.",
  tooManyMentionsNewuser: (n: number) =>
    n === 1
      ? 'Sorry, new users can only mention one other user in a post.'
      : `Sorry, new users can only mention ${n} users in a post.`,
  tooManyMentions: (n: number) =>
    n === 1 ? 'Sorry, you can only mention one other user in a post.' : `Sorry, you can only mention ${n} users in a post.`,
  categoryTopicPrefix: (name: string) => `About the ${name} category`,
  categoryPostTemplate:
    '(Replace this first paragraph with a brief description of your new category. This guidance will appear in the category selection area, so try to keep it below 200 characters.)\n\nUse the following paragraphs for a longer description, or to establish category guidelines or rules:\n\n- Why should people use this category? What is it for?\n\n- How exactly is this different than the other categories we already have?\n\n- What should topics in this category generally contain?\n\n- Do we need this category? Can we merge with another category, or subcategory?\n',
  categoryDepth: "You can't nest a subcategory under another",
  categorySelfParent: "A subcategory's parent cannot be itself",
  categoryUncategorizedParent: "Uncategorized can't have a parent category",
  slugInUse: 'is already in use',
  unknownGroup: 'unknown group',
  // user.username.* (UsernameValidator)
  username: {
    blank: 'must be present',
    short: (min: number) => `must be at least ${min} characters`,
    long: (max: number) => `must be no more than ${max} characters`,
    tooLong: 'is too long',
    characters: 'must only include numbers, letters, dashes, dots, and underscores',
    mustBegin: 'must begin with a letter, a number or an underscore',
    mustEnd: 'must end with a letter or a number',
    twoSpecial: 'must not contain a sequence of 2 or more special chars (.-_)',
    confusingSuffix: 'must not end with a confusing suffix like .json or .png etc.',
    unique: 'must be unique',
  },
  emailNotAllowed: 'is not allowed from that email provider. Please use another email address.',
  // login.* — wording of the informational messages is close to, not byte-identical with, Discourse.
  loginActive: 'Your account is activated and ready to use.',
  loginActivateEmail: (email: string) =>
    `<p>You’re almost done! We sent an activation mail to <b>${email}</b>. Please follow the instructions in the email to activate your account.</p><p>If it doesn’t arrive, check your spam folder.</p>`,
  loginWaitApproval: 'Thanks for signing up. We will notify you when your account has been approved.',
  loginReservedUsername: 'That username is not allowed.',
  loginNewRegistrationsDisabled: 'New account registrations are not allowed at this time.',
  groupsMemberAlreadyExist: (names: string[]) =>
    names.length === 1
      ? `'${names[0]}' is already a member of this group.`
      : `The following users are already members of this group: ${names.join(', ')}`,
  groupsUsernamesOrEmailsRequired: 'Usernames or emails must be present',
  groupsUpdateExistingUsersRequired: (n: number) =>
    `This change affects ${n} existing group members. You must specify the 'update_existing_users' parameter (true or false) to indicate whether to apply the new notification defaults to existing members.`,
  permalinkExactlyOne:
    'Exactly one of topic_id, post_id, category_id, tag_id, user_id, or external_url must be set',
  uploadNotAuthorized: (exts: string) =>
    `Sorry, the file you are trying to upload is not authorized (authorized extensions: ${exts}).`,
  uploadTooLarge: (human: string) => `Sorry, the file you are trying to upload is too big (maximum size is ${human}).`,
  siteSettingUnknown: (name: string) => `No setting named '${name}' exists`,
  siteSettingInvalidChoice: (value: string) => `'${value}' is an invalid choice.`,
  siteSettingBetween: (min: number, max: number) => `Value must be between ${min} and ${max}.`,
  siteSettingInvalidBoolean: 'Invalid boolean.',
  embedUrlInvalid: 'Embed url is invalid',
} as const;

/** RateLimiter::LimitExceeded#time_left (lib/rate_limiter/limit_exceeded.rb). */
export function rateLimitTimeLeft(availableIn: number): string {
  const plural = (n: number, unit: string) => `${n} ${unit}${n === 1 ? '' : 's'}`;
  if (availableIn <= 3) return 'a few seconds';
  if (availableIn < 60) return plural(availableIn, 'second');
  if (availableIn < 3600) return plural(Math.floor(availableIn / 60), 'minute');
  return plural(Math.floor(availableIn / 3600), 'hour');
}

/** Rails' String#humanize applied to an attribute name, as in errors.full_messages. */
export function humanAttribute(attribute: string): string {
  const overrides: Record<string, string> = {
    raw: 'Body',
    title: 'Title',
    category_name: 'Category Name',
    category_id: 'Category',
  };
  const o = overrides[attribute];
  if (o) return o;
  const s = attribute.replace(/_id$/, '').replace(/_/g, ' ');
  return s.charAt(0).toUpperCase() + s.slice(1);
}

export function fullMessage(attribute: string, message: string): string {
  return attribute === 'base' ? message : `${humanAttribute(attribute)} ${message}`;
}

/** lib/slug.rb with slug_generation_method "ascii": parameterize, no digit-only slugs. */
export function slugFor(text: string, fallback: string, maxLength = 255): string {
  const ascii = text
    .replace(/:([\w\-+]+(?::t\d)?):/g, '')
    .replace(/'/g, '')
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .replace(/[^\x00-\x7F]/g, '')
    .toLowerCase()
    .replace(/[^a-z0-9\-_]+/g, '-');
  let slug = /[^\d]/.test(ascii) ? ascii : '';
  slug = slug
    .replace(/_/g, '-')
    .slice(0, maxLength)
    .replace(/-{2,}/g, '-')
    .replace(/^-+|-+$/g, '');
  return slug === '' || /^\d+$/.test(slug) ? fallback : slug;
}

/** TextCleaner.clean_title (title_options): what Topic's before_validation stores. */
export function cleanTitle(raw: string, prettify: boolean, allowUppercase: boolean): string {
  let t = raw
    .replace(/[\u200B-\u200D\uFEFF]/g, '')
    .replace(/\s+/g, ' ')
    .trim();
  if (!prettify) return t;
  t = t.replace(/!{2,}/g, '!').replace(/\?{2,}/g, '?');
  if (!allowUppercase && /\p{L}/u.test(t) && t === t.toUpperCase()) t = t.toLowerCase();
  t = t.replace(/\.+$/, '');
  t = t.replace(/\s+([!?]\s*)$/, '$1');
  if (t.length > 0) t = t.charAt(0).toUpperCase() + t.slice(1);
  return t;
}

/** TextCleaner.normalize_whitespaces + rstrip, applied to every raw before saving. */
export function normalizeRaw(raw: string): string {
  return raw
    .replace(/[\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]/g, ' ')
    .replace(/\s+$/u, '');
}

/**
 * TextSentinel#valid? (lib/text_sentinel.rb, current version): entropy is the number of
 * distinct UTF-8 bytes; at least one letter/digit; no run of letters/digits longer than
 * max_word_length; at least one lower-case (or caseless) letter when there are letters.
 */
export function sentinelValid(
  text: string,
  opts: { minEntropy: number; maxWordLength?: number; allowUppercase: boolean },
): boolean {
  if (text.trim() === '') return false;
  if (new Set(Buffer.from(text.trim(), 'utf8')).size < opts.minEntropy) return false;
  if (!/[\p{L}\p{N}]/u.test(text)) return false;
  if (opts.maxWordLength !== undefined && new RegExp(`[\\p{L}\\p{N}]{${opts.maxWordLength + 1},}`, 'u').test(text)) {
    return false;
  }
  if (!opts.allowUppercase && !/[\p{Ll}\p{Lo}]/u.test(text) && /\p{L}/u.test(text)) return false;
  return true;
}

/** TextSentinel.title_sentinel's entropy threshold. */
export function titleMinEntropy(minTitleLength: number, titleMinEntropySetting: number): number {
  return minTitleLength > titleMinEntropySetting ? titleMinEntropySetting : Math.floor(minTitleLength * 0.7);
}

/** TextSentinel.body_sentinel's entropy threshold for non-PM posts. */
export function bodyMinEntropy(minPostLength: number, bodyMinEntropySetting: number): number {
  return bodyMinEntropySetting > minPostLength ? Math.floor(minPostLength * 0.7) : bodyMinEntropySetting;
}

/** StrippedLengthValidator.get_sanitized_value. */
export function strippedForLength(raw: string): string {
  return raw
    .replace(/<!--(.*?)-->/gs, '')
    .replace(/:\w+(:\w+)?:/g, 'X')
    .replace(/\.{2,}/g, '…')
    .replace(/,{2,}/g, ',')
    .trim();
}

const CONFUSING_EXTENSIONS = /\.(js|json|css|htm|html|xml|jpg|jpeg|png|gif|bmp|ico|tif|tiff|woff)$/i;

/** app/models/username_validator.rb (ASCII mode unless unicode is on). Returns messages. */
export function usernameErrors(
  username: string,
  opts: { min: number; max: number; unicode: boolean },
): string[] {
  const u = username.normalize('NFC');
  const graphemes = [...u];
  if (u.trim() === '') return [MSG.username.blank];
  if (graphemes.length < opts.min) return [MSG.username.short(opts.min)];
  if (graphemes.length > opts.max) return [MSG.username.long(opts.max)];
  if (u.length > 60) return [MSG.username.tooLong];
  const invalidChar = opts.unicode ? /[^\p{L}\p{N}\p{M}._-]/u : /[^A-Za-z0-9_.-]/;
  if (invalidChar.test(u)) return [MSG.username.characters];
  if (/^[^\p{L}\p{N}\p{M}_]/u.test(graphemes[0] ?? '')) return [MSG.username.mustBegin];
  if (/[^\p{L}\p{N}\p{M}]$/u.test(graphemes[graphemes.length - 1] ?? '')) return [MSG.username.mustEnd];
  if (/[-_.]{2,}/.test(u)) return [MSG.username.twoSpecial];
  if (CONFUSING_EXTENSIONS.test(u)) return [MSG.username.confusingSuffix];
  return [];
}

/** EmailAddressValidator's pattern. */
export function validEmail(email: string): boolean {
  return /^[a-zA-Z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[a-zA-Z0-9!#$%&'*+/=?^_`{|}~-]+)*@(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?\.)+[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?$/.test(
    email,
  );
}

function escapeHtml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** A deliberately small "cook": paragraphs and line breaks, everything else escaped. */
export function cook(raw: string): string {
  return raw
    .split(/\n{2,}/)
    .filter((p) => p.trim() !== '')
    .map((p) => `<p>${escapeHtml(p).replace(/\n/g, '<br>\n')}</p>`)
    .join('\n');
}

/** Post#raw_mentions: @username tokens, lower-cased, unique. */
export function rawMentions(raw: string): string[] {
  const withoutCode = raw.replace(/```[\s\S]*?```/g, '').replace(/`[^`]*`/g, '');
  const found = new Set<string>();
  for (const m of withoutCode.matchAll(/(?:^|[^\w@/])@([\w.-]+[\w])/g)) {
    if (m[1]) found.add(m[1].toLowerCase());
  }
  return [...found];
}

export function linkCount(raw: string): number {
  return (raw.match(/https?:\/\/[^\s)\]>"]+/g) ?? []).length;
}

export function attachmentCount(raw: string): number {
  return (raw.match(/\]\((upload:\/\/[^)]+|\/uploads\/[^)]+)\)/g) ?? []).filter((l) => !/\.(png|jpe?g|gif|webp|avif|svg|heic|heif)\)$/i.test(l)).length;
}

export function embeddedMediaCount(raw: string): number {
  return (raw.match(/!\[[^\]]*\]\([^)]+\)/g) ?? []).length;
}

/** Base62 of a hex SHA-1, as Upload.base62_sha1 (base62-rb alphabet). */
export function base62Sha1(sha1: string): string {
  const alphabet = '0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ';
  let n = BigInt(`0x${sha1}`);
  if (n === 0n) return '0';
  let out = '';
  while (n > 0n) {
    out = alphabet[Number(n % 62n)] + out;
    n /= 62n;
  }
  return out;
}

/** Rails' JSON rendering of times. */
export function isoTime(ms: number): string {
  return new Date(ms).toISOString();
}

/**
 * Time.zone.parse with zone UTC: ISO-8601 and RFC-2822 forms; a string without an
 * offset is UTC. Returns null where Ruby would return nil (Discourse then uses "now").
 */
export function parseRubyTime(value: unknown): number | null {
  if (typeof value === 'number') return null;
  if (typeof value !== 'string' || value.trim() === '') return null;
  let s = value.trim();
  if (/^\d{4}-\d{2}-\d{2}$/.test(s)) s += 'T00:00:00Z';
  else if (/^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?$/.test(s)) s = s.replace(' ', 'T') + 'Z';
  const ms = Date.parse(s);
  return Number.isNaN(ms) ? null : ms;
}
