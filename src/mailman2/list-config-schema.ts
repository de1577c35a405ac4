import { z } from 'zod';

/** Any JSON value (what `settings` and `raw` hold). */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };
export const JsonValueSchema: z.ZodType<JsonValue> = z.json() as z.ZodType<JsonValue>;

/** `user_options` bits (Defaults.py.in, "Bitfield for user options"). */
export const MEMBER_OPTION_BITS = {
  disableDelivery: 1,
  dontReceiveOwnPosts: 2,
  acknowledgePosts: 4,
  plainDigest: 8,
  conceal: 16,
  suppressPasswordReminder: 32,
  receiveNonmatchingTopics: 64,
  moderate: 128,
  dontReceiveDuplicates: 256,
} as const;

export const MemberOptionsSchema = z.object({
  disableDelivery: z.boolean(),
  dontReceiveOwnPosts: z.boolean(),
  acknowledgePosts: z.boolean(),
  plainDigest: z.boolean(),
  conceal: z.boolean(),
  suppressPasswordReminder: z.boolean(),
  receiveNonmatchingTopics: z.boolean(),
  moderate: z.boolean(),
  dontReceiveDuplicates: z.boolean(),
});
export type MemberOptions = z.infer<typeof MemberOptionsSchema>;

/** Mailman.Bouncer._BounceInfo, with its (y, m, d) tuples as `YYYY-MM-DD`. */
export const BounceInfoSchema = z.object({
  score: z.number().nullable(),
  date: z.string().nullable(),
  noticesLeft: z.number().nullable(),
  lastNotice: z.string().nullable(),
  cookie: z.string().nullable(),
});
export type BounceInfo = z.infer<typeof BounceInfoSchema>;

export const DELIVERY_STATUSES = ['enabled', 'unknown', 'by_user', 'by_moderator', 'by_bounces'] as const;

export const MemberSchema = z.object({
  /** Lower-cased address: the key of every per-member dict in config.pck. */
  key: z.string(),
  /** Case-preserved address (the `members`/`digest_members` value when it is a string). */
  email: z.string(),
  displayName: z.string().nullable(),
  /** The language Mailman uses for the member (stored one if the list offers it, else the list's). */
  language: z.string(),
  /** The `language` entry as stored, or null when absent. */
  languageRaw: z.string().nullable(),
  hasPassword: z.boolean(),
  delivery: z.enum(['regular', 'mime-digest', 'plain-digest']),
  deliveryStatus: z.enum(DELIVERY_STATUSES),
  deliveryStatusChanged: z.string().nullable(),
  moderated: z.boolean(),
  options: MemberOptionsSchema,
  /** The raw `user_options` bitfield (0 when the member has no entry). */
  optionBits: z.number().int(),
  topics: z.array(z.string()),
  bounceInfo: BounceInfoSchema.nullable(),
});
export type Member = z.infer<typeof MemberSchema>;

/** A `*_these_nonmembers` list split by Mailman's three entry kinds (MailList.GetPattern). */
export const AddressFilterSchema = z.object({
  addresses: z.array(z.string()),
  /** Entries starting with `^` (matched with re.search, case-insensitive). */
  regexes: z.array(z.string()),
  /** `@listname` entries (members of another list on the site), without the `@`. */
  lists: z.array(z.string()),
});
export type AddressFilter = z.infer<typeof AddressFilterSchema>;

export const HeaderFilterRuleSchema = z.object({
  /** Non-blank lines of the rule's pattern text, each `header: regex`. */
  patterns: z.array(z.string()),
  /** 0 defer, 1 approve, 2 reject, 3 discard, 4 subscribe, 5 unsubscribe, 6 accept, 7 hold. */
  action: z.number().int(),
  empty: z.boolean(),
});

export const TopicSchema = z.object({
  name: z.string(),
  pattern: z.string(),
  description: z.string(),
  empty: z.boolean(),
});

export const ARCHIVE_POLICIES = ['public', 'private', 'never'] as const;

export const ListConfigSchema = z.object({
  /** The list's folder name, lower-cased (Mailman's internal name). */
  name: z.string(),
  realName: z.string(),
  hostName: z.string(),
  webPageUrl: z.string(),
  postingAddress: z.string(),
  description: z.string(),
  info: z.string(),
  subjectPrefix: z.string(),
  preferredLanguage: z.string(),
  availableLanguages: z.array(z.string()),
  /** Charset used for the list's byte strings. */
  charset: z.string(),
  dataVersion: z.number().nullable(),
  owners: z.array(z.string()),
  moderators: z.array(z.string()),
  members: z.array(MemberSchema),
  nonmembers: z.object({
    accept: AddressFilterSchema,
    hold: AddressFilterSchema,
    reject: AddressFilterSchema,
    discard: AddressFilterSchema,
  }),
  banList: z.object({ addresses: z.array(z.string()), regexes: z.array(z.string()) }),
  archive: z.object({
    enabled: z.boolean(),
    private: z.boolean(),
    /** 0 yearly, 1 monthly, 2 quarterly, 3 weekly, 4 daily. */
    volumeFrequency: z.number().int(),
    policy: z.enum(ARCHIVE_POLICIES),
  }),
  /** 0 open, 1 confirm, 2 approve, 3 confirm and approve. */
  subscribePolicy: z.number().int(),
  /** 0 accept, 1 hold, 2 reject, 3 discard. */
  genericNonmemberAction: z.number().int(),
  defaultMemberModeration: z.boolean(),
  /** 0 hold, 1 reject, 2 discard. */
  memberModerationAction: z.number().int(),
  /** 0 poster, 1 this list, 2 explicit address. */
  replyGoesToList: z.number().int(),
  replyToAddress: z.string(),
  firstStripReplyTo: z.boolean(),
  anonymousList: z.boolean(),
  /** 0 no, 1 yes, 2 full personalisation. */
  personalize: z.number().int(),
  msgHeader: z.string(),
  msgFooter: z.string(),
  digestHeader: z.string(),
  digestFooter: z.string(),
  welcomeMsg: z.string(),
  goodbyeMsg: z.string(),
  sendWelcomeMsg: z.boolean(),
  sendGoodbyeMsg: z.boolean(),
  /** Kilobytes; 0 means no limit. */
  maxMessageSize: z.number(),
  digestable: z.boolean(),
  nondigestable: z.boolean(),
  digestIsDefault: z.boolean(),
  mimeIsDefaultDigest: z.boolean(),
  digestVolumeFrequency: z.number().int(),
  adminImmedNotify: z.boolean(),
  adminNotifyMchanges: z.boolean(),
  /** Non-blank lines of `acceptable_aliases` (all are regexes in 2.1). */
  acceptableAliases: z.array(z.string()),
  headerFilterRules: z.array(HeaderFilterRuleSchema),
  bounceMatchingHeaders: z.string(),
  topicsEnabled: z.boolean(),
  topics: z.array(TopicSchema),
  createdAt: z.string().nullable(),
  lastPostTime: z.string().nullable(),
  /** Every scalar or list setting of config.pck by its Mailman 2 name, strings decoded. */
  settings: z.record(z.string(), JsonValueSchema),
  /** Every other key (dicts, instances) that is not a member roster, as typed JSON. */
  raw: z.record(z.string(), JsonValueSchema),
});
export type ListConfig = z.infer<typeof ListConfigSchema>;
