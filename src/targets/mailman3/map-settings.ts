/**
 * Mailman 2 list settings → what Mailman 3's REST API can be told: the PATCH body for
 * /3.1/lists/<list_id>/config, header matches, bans, nonmember roster actions and templates, plus
 * every Mailman 2 setting that does not make it, with its value and the reason.
 *
 * This mirrors `mailman import21` (MM3 utilities/importer.py: the generic key loop with TYPES and
 * NAME_MAPPINGS, then the special cases) for every key it maps, restricted to attributes that
 * listconf.py accepts in a PATCH (3.3.8 ATTRIBUTES with a decoder). Deliberate differences:
 * - digestable → digests_enabled, digest_size_threshhold → digest_size_threshold and
 *   unsubscribe_policy → unsubscription_policy are carried (import21 drops them);
 * - Python 2 regexes are rewritten to valid Python 3 (map-regex.ts), which the REST API requires;
 * - plain ban addresses are lower-cased, because Mailman 3 compares bans with the lower-cased
 *   address while Mailman 2 compared case-insensitively;
 * - text is already decoded with the list's charset by the reader (import21's default utf-8
 *   silently drops latin-1 bytes), and autoresponse texts get their variables converted.
 */
import type { ListConfig } from '../../mailman2/list-config.js';
import type { Problem } from '../../problems.js';
import { checkBanned, modernizePythonRegex } from './map-regex.js';
import { convertTemplate, planTemplates, type TemplatePlan } from './map-templates.js';
import {
  MEMBER_MODERATION_ACTIONS,
  type JsonValue,
  type Mailman3Action,
  type NotApplicable,
  type NotCarried,
  type RestValue,
} from './map-types.js';

export interface HeaderMatchPlan {
  /** Lower-case header name, as import21 writes it. */
  header: string;
  pattern: string;
  /** Absent for Mailman 2's "defer": Mailman 3 then uses the site's [antispam] jump_chain. */
  action?: 'hold' | 'reject' | 'discard' | 'accept';
  tag?: string;
  /** The Mailman 2 rule line it comes from. */
  source: string;
}

export interface NonmemberActionPlan {
  email: string;
  action: Mailman3Action;
  /** The Mailman 2 list it comes from (`accept_these_nonmembers`, ...). */
  source: string;
}

export interface SettingsPlan {
  /**
   * PATCH body for /3.1/lists/<list_id>/config (REST attribute names and value spellings). It
   * holds send_welcome_message and admin_notify_mchanges: import21 switches both off while it
   * imports the roster, so apply them after the roster (or subscribe with send_welcome_message=false).
   */
  listConfig: Record<string, RestValue>;
  /** POST bodies for /3.1/lists/<list_id>/header-matches, in order. */
  headerMatches: HeaderMatchPlan[];
  /** POST bodies (`email`) for /3.1/lists/<list_id>/bans: addresses and `^regex`es. */
  bans: string[];
  /** Nonmember roster entries (POST /3.1/members role=nonmember, then PATCH moderation_action). */
  nonmemberActions: NonmemberActionPlan[];
  /** Same array as listConfig.acceptable_aliases (PATCH replaces the whole set). */
  acceptableAliases: string[];
  /** Template texts; the caller publishes each at a URI and PUTs /3.1/lists/<list_id>/uris. */
  templates: TemplatePlan[];
  /** Where each carried Mailman 2 key went (`listConfig.display_name`, `bans`, `template list:…`). */
  carried: Array<{ key: string; to: string }>;
  notCarried: NotCarried[];
  notApplicable: NotApplicable[];
  problems: Problem[];
}

export interface MapSettingsOptions {
  /** The list's new web page, used where a Mailman 2 text links its listinfo page mid-sentence. */
  listinfoUrl?: string;
}

interface Ctx {
  config: ListConfig;
  problems: Problem[];
}

type Converter = (value: JsonValue, ctx: Ctx, key: string) => RestValue | undefined;

type Rule =
  | { kind: 'rest'; to: string; convert: Converter }
  | { kind: 'special' }
  | { kind: 'roster' }
  | { kind: 'notApplicable'; reason: string }
  | { kind: 'notCarried'; reason: string; viaImport21: boolean; inert?: (value: JsonValue, config: ListConfig) => boolean };

// ---------------------------------------------------------------------------------------------
// Value converters (REST spellings: enum names, lazr timedeltas like "7d" / "3600s")

function problem(ctx: Ctx, severity: Problem['severity'], code: string, key: string, message: string): void {
  ctx.problems.push({ severity, code, list: ctx.config.name, key, message: `${ctx.config.name}: ${message}` });
}

function badValue(ctx: Ctx, key: string, value: JsonValue, expected: string): undefined {
  problem(ctx, 'warning', 'unexpected-setting-value', key, `${key} is ${JSON.stringify(value)}, expected ${expected}; not carried`);
  return undefined;
}

const asNumber = (v: JsonValue): number | undefined => (typeof v === 'number' ? v : typeof v === 'boolean' ? Number(v) : undefined);

const bool: Converter = (v, ctx, key) => (typeof v === 'boolean' || typeof v === 'number' ? Boolean(v) : badValue(ctx, key, v, 'a boolean'));

const int: Converter = (v, ctx, key) => {
  const n = asNumber(v);
  return n !== undefined && Number.isInteger(n) && n >= 0 ? n : badValue(ctx, key, v, 'a non-negative integer');
};

const text: Converter = (v, ctx, key) => (typeof v === 'string' ? v : badValue(ctx, key, v, 'text'));

const strings: Converter = (v, ctx, key) =>
  Array.isArray(v) && v.every((x) => typeof x === 'string') ? (v as string[]) : badValue(ctx, key, v, 'a list of strings');

function enumOf(table: readonly string[]): Converter {
  return (v, ctx, key) => {
    const n = asNumber(v);
    const name = n === undefined ? undefined : table[n];
    return name ?? badValue(ctx, key, v, `one of 0..${table.length - 1}`);
  };
}

/** import21 `autoresponder_mapping`: any true value is "respond and continue". */
const responder: Converter = (v, ctx, key) => {
  const n = asNumber(v);
  return n === undefined ? badValue(ctx, key, v, 'a number') : n ? 'respond_and_continue' : 'none';
};

function timedelta(unitSeconds: number): Converter {
  return (v, ctx, key) => {
    const n = asNumber(v);
    if (n === undefined || !Number.isFinite(n) || n < 0) return badValue(ctx, key, v, 'a non-negative duration');
    const seconds = n * unitSeconds;
    return seconds % 86400 === 0 ? `${seconds / 86400}d` : `${seconds}s`;
  };
}

/** MM3's REST `description` refuses newlines (no_newlines_validator). */
const singleLine: Converter = (v, ctx, key) => {
  if (typeof v !== 'string') return badValue(ctx, key, v, 'text');
  const joined = v.replace(/\s*[\r\n]+\s*/g, ' ').trim();
  if (joined !== v.trim()) problem(ctx, 'info', 'description-joined', key, `${key} had line breaks, which Mailman 3 refuses; joined into one line`);
  return joined;
};

/** MM3 counts bounce scores in whole points; Mailman 2 disabled at score >= threshold. */
const scoreThreshold: Converter = (v, ctx, key) => {
  const n = asNumber(v);
  if (n === undefined || n < 0) return badValue(ctx, key, v, 'a non-negative number');
  const rounded = Math.ceil(n);
  if (rounded !== n) problem(ctx, 'info', 'bounce-threshold-rounded', key, `${key} ${n} rounded up to ${rounded} (Mailman 3 scores are whole numbers)`);
  return rounded;
};

const autoresponseText: Converter = (v, ctx, key) => {
  if (typeof v !== 'string') return badValue(ctx, key, v, 'text');
  const converted = convertTemplate(v, 'autoresponse', { dollarStrings: Boolean(ctx.config.settings['use_dollar_strings']) });
  for (const note of converted.notes) problem(ctx, 'warning', 'template-verbatim', key, `${key}: ${note}`);
  if (converted.unknownVariables.length > 0) {
    problem(ctx, 'warning', 'template-unknown-variables', key, `${key} uses ${converted.unknownVariables.join(', ')}, which Mailman 3 cannot fill in; kept as written`);
  }
  return converted.text;
};

// MM3 enums by MM2 value (import21 TYPES and the MM2 GUI radio orders, reference §1.2/§1.4).
const RESPONSE_ACTION = ['none', 'respond_and_discard', 'respond_and_continue'];
const NONMEMBER_ACTION = ['defer', 'hold', 'reject', 'discard'];
const DIGEST_FREQUENCY = ['yearly', 'monthly', 'quarterly', 'weekly', 'daily'];
const FILTER_ACTION = ['discard', 'reject', 'forward', 'preserve'];
const UNRECOGNIZED_BOUNCE = ['discard', 'administrators'];
const NEWSGROUP_MODERATION = ['none', 'open_moderated', 'moderated'];
const PERSONALIZATION = ['none', 'individual', 'full'];
const REPLY_TO_MUNGING = ['no_munging', 'point_to_list', 'explicit_header'];
const SUBSCRIPTION_POLICY = ['open', 'confirm', 'moderate', 'confirm_then_moderate'];
// Mailman 2 always confirmed unauthenticated unsubscriptions by mail; the policy only added approval.
const UNSUBSCRIPTION_POLICY = ['confirm', 'confirm_then_moderate'];
const ROSTER_VISIBILITY = ['public', 'members', 'moderators'];
const DMARC_ACTION = ['no_mitigation', 'munge_from', 'wrap_message', 'reject', 'discard'];

const falsy = (v: JsonValue): boolean => !v || (Array.isArray(v) && v.length === 0);
const setting = (config: ListConfig, key: string): JsonValue | undefined => (key in config.settings ? config.settings[key] : config.raw[key]);

const NOT_WRITABLE = 'not writable over the REST API';
const IMPORT21_HINT = '; running `mailman import21` on the Mailman 3 server would carry it';
const DEAD_COLUMN = 'Mailman 3 has the attribute but never reads it (import21 copies it to no effect)';

/** `inert`: when the Mailman 2 value makes the setting a no-op (default: falsy); `always` = never inert. */
function notCarried(reason: string, viaImport21: boolean, inert: ((v: JsonValue, c: ListConfig) => boolean) | null = falsy): Rule {
  return inert ? { kind: 'notCarried', reason, viaImport21, inert } : { kind: 'notCarried', reason, viaImport21 };
}
const always = null;
const rest = (to: string, convert: Converter): Rule => ({ kind: 'rest', to, convert });

/** Every Mailman 2.1 list attribute (data_version 112) and what becomes of it. */
const RULES: Readonly<Record<string, Rule>> = {
  admin_immed_notify: rest('admin_immed_notify', bool),
  admin_notify_mchanges: rest('admin_notify_mchanges', bool),
  administrivia: rest('administrivia', bool),
  advertised: rest('advertised', bool),
  anonymous_list: rest('anonymous_list', bool),
  autorespond_admin: rest('autorespond_owner', responder),
  autorespond_postings: rest('autorespond_postings', responder),
  autorespond_requests: rest('autorespond_requests', enumOf(RESPONSE_ACTION)),
  autoresponse_admin_text: rest('autoresponse_owner_text', autoresponseText),
  autoresponse_postings_text: rest('autoresponse_postings_text', autoresponseText),
  autoresponse_request_text: rest('autoresponse_request_text', autoresponseText),
  autoresponse_graceperiod: rest('autoresponse_grace_period', timedelta(86400)),
  bounce_info_stale_after: rest('bounce_info_stale_after', timedelta(1)),
  bounce_notify_owner_on_bounce_increment: rest('bounce_notify_owner_on_bounce_increment', bool),
  bounce_notify_owner_on_disable: rest('bounce_notify_owner_on_disable', bool),
  bounce_notify_owner_on_removal: rest('bounce_notify_owner_on_removal', bool),
  bounce_processing: rest('process_bounces', bool),
  bounce_score_threshold: rest('bounce_score_threshold', scoreThreshold),
  bounce_unrecognized_goes_to_list_owner: rest('forward_unrecognized_bounces_to', enumOf(UNRECOGNIZED_BOUNCE)),
  bounce_you_are_disabled_warnings: rest('bounce_you_are_disabled_warnings', int),
  bounce_you_are_disabled_warnings_interval: rest('bounce_you_are_disabled_warnings_interval', timedelta(1)),
  collapse_alternatives: rest('collapse_alternatives', bool),
  convert_html_to_plaintext: rest('convert_html_to_plaintext', bool),
  description: rest('description', singleLine),
  digest_send_periodic: rest('digest_send_periodic', bool),
  digest_volume_frequency: rest('digest_volume_frequency', enumOf(DIGEST_FREQUENCY)),
  digestable: rest('digests_enabled', bool),
  dmarc_moderation_notice: rest('dmarc_moderation_notice', text),
  dmarc_wrapped_message_text: rest('dmarc_wrapped_message_text', text),
  emergency: rest('emergency', bool),
  filter_action: rest('filter_action', enumOf(FILTER_ACTION)),
  filter_content: rest('filter_content', bool),
  filter_filename_extensions: rest('filter_extensions', strings),
  filter_mime_types: rest('filter_types', strings),
  first_strip_reply_to: rest('first_strip_reply_to', bool),
  gateway_to_mail: rest('gateway_to_mail', bool),
  gateway_to_news: rest('gateway_to_news', bool),
  generic_nonmember_action: rest('default_nonmember_action', enumOf(NONMEMBER_ACTION)),
  include_list_post_header: rest('allow_list_posts', bool),
  include_rfc2369_headers: rest('include_rfc2369_headers', bool),
  info: rest('info', text),
  linked_newsgroup: rest('linked_newsgroup', text),
  max_days_to_hold: rest('max_days_to_hold', int),
  max_message_size: rest('max_message_size', int),
  max_num_recipients: rest('max_num_recipients', int),
  news_moderation: rest('newsgroup_moderation', enumOf(NEWSGROUP_MODERATION)),
  news_prefix_subject_too: rest('nntp_prefix_subject_too', bool),
  pass_filename_extensions: rest('pass_extensions', strings),
  pass_mime_types: rest('pass_types', strings),
  personalize: rest('personalize', enumOf(PERSONALIZATION)),
  preferred_language: rest('preferred_language', text),
  real_name: rest('display_name', text),
  reply_goes_to_list: rest('reply_goes_to_list', enumOf(REPLY_TO_MUNGING)),
  reply_to_address: rest('reply_to_address', text),
  require_explicit_destination: rest('require_explicit_destination', bool),
  respond_to_post_requests: rest('respond_to_post_requests', bool),
  send_goodbye_msg: rest('send_goodbye_message', bool),
  send_welcome_msg: rest('send_welcome_message', bool),
  subject_prefix: rest('subject_prefix', text),
  subscribe_policy: rest('subscription_policy', enumOf(SUBSCRIPTION_POLICY)),
  unsubscribe_policy: rest('unsubscription_policy', enumOf(UNSUBSCRIPTION_POLICY)),

  // Combined or structured settings, handled after the loop.
  default_member_moderation: { kind: 'special' },
  member_moderation_action: { kind: 'special' },
  from_is_list: { kind: 'special' },
  dmarc_moderation_action: { kind: 'special' },
  archive: { kind: 'special' },
  archive_private: { kind: 'special' },
  private_roster: { kind: 'special' },
  acceptable_aliases: { kind: 'special' },
  accept_these_nonmembers: { kind: 'special' },
  hold_these_nonmembers: { kind: 'special' },
  reject_these_nonmembers: { kind: 'special' },
  discard_these_nonmembers: { kind: 'special' },
  ban_list: { kind: 'special' },
  header_filter_rules: { kind: 'special' },
  digest_size_threshhold: { kind: 'special' },
  nondigestable: { kind: 'special' },
  msg_header: { kind: 'special' },
  msg_footer: { kind: 'special' },
  digest_header: { kind: 'special' },
  digest_footer: { kind: 'special' },
  welcome_msg: { kind: 'special' },
  goodbye_msg: { kind: 'special' },
  use_dollar_strings: { kind: 'special' },
  owner: { kind: 'roster' },
  moderator: { kind: 'roster' },

  // import21 sets these and Mailman 3 uses them, but REST cannot.
  bounce_matching_headers: notCarried(`${NOT_WRITABLE} (Mailman 3's suspicious-header rule keeps the list style's default)${IMPORT21_HINT}`, true),
  topics: notCarried(`${NOT_WRITABLE} (Mailman 3's tagger supports topics, but only import21 or the database can set them)${IMPORT21_HINT}`, true),
  topics_enabled: notCarried(`${NOT_WRITABLE}${IMPORT21_HINT}`, true),
  topics_bodylines_limit: notCarried(`${NOT_WRITABLE}${IMPORT21_HINT}`, true, (_v, c) => !c.topicsEnabled),
  post_id: notCarried(`read-only over the REST API; the next post number (numbered subject prefixes) restarts at 1${IMPORT21_HINT}`, true, always),
  volume: notCarried(`read-only over the REST API; digest volume numbering restarts${IMPORT21_HINT}`, true, always),
  next_digest_number: notCarried(`read-only over the REST API; digest issue numbering restarts${IMPORT21_HINT}`, true, always),
  digest_last_sent_at: notCarried(`read-only over the REST API${IMPORT21_HINT}`, true),
  created_at: notCarried(`read-only over the REST API; the Mailman 3 list is dated when it is created${IMPORT21_HINT}`, true),
  last_post_time: notCarried(`read-only over the REST API (last_post_at)${IMPORT21_HINT}`, true),
  usenet_watermark: notCarried(`read-only over the REST API${IMPORT21_HINT}`, true),

  // import21 copies these to Mailman 3 attributes that nothing in Mailman 3 reads.
  digest_is_default: notCarried(`${DEAD_COLUMN}; digest subscribers choose their delivery mode`, false),
  encode_ascii_prefixes: notCarried(DEAD_COLUMN, false),
  obscure_addresses: notCarried(`${DEAD_COLUMN}; Mailman 3 has no address-obscuring roster pages`, false),
  scrub_nondigest: notCarried(`${DEAD_COLUMN}; Mailman 3 does not scrub attachments from regular deliveries`, false),
  forward_auto_discards: notCarried(DEAD_COLUMN, false),
  member_moderation_notice: notCarried(`${DEAD_COLUMN}; Mailman 3 words its rejection notices through templates`, false),
  nonmember_rejection_notice: notCarried(`${DEAD_COLUMN}; Mailman 3 words its rejection notices through templates`, false),
  dmarc_moderation_addresses: notCarried(`${NOT_WRITABLE} (dmarc_addresses), and Mailman 3 never reads it`, false),

  // Secrets. The reader has already reduced their values to "(set)".
  password: notCarried('the list admin password (a SHA-1 hash) has no Mailman 3 counterpart: owners log in to the web UI with their own accounts', false, always),
  mod_password: notCarried("the moderator password is stored as a SHA-1 hash, which Mailman 3's password check cannot verify; set a new one (REST moderator_password takes plain text)", false),
  post_password: notCarried('Mailman 3 has no poster password (its Approved: header takes the moderator password)', false),

  // No Mailman 3 equivalent.
  dmarc_none_moderation_action: notCarried('Mailman 3 applies DMARC mitigations only to p=reject and p=quarantine domains', false),
  dmarc_quarantine_moderation_action: notCarried('Mailman 3 always treats p=quarantine like p=reject', false, (v) => Boolean(v)),
  mime_is_default_digest: notCarried('Mailman 3 has no list-wide default digest format; members choose MIME or plain-text digests', false, always),
  new_member_options: notCarried('Mailman 3 has no list-wide default options for new members', false),
  send_reminders: notCarried('Mailman 3 sends no monthly password reminders', false),
  umbrella_list: notCarried('Mailman 3 has no umbrella lists', false),
  umbrella_member_suffix: notCarried('Mailman 3 has no umbrella lists', false, (_v, c) => !c.settings['umbrella_list']),
  regular_include_lists: notCarried('Mailman 3 has no include/exclude lists for regular delivery', false),
  regular_exclude_lists: notCarried('Mailman 3 has no include/exclude lists for regular delivery', false),
  available_languages: notCarried(
    'Mailman 3 has no per-list language set: members may pick any language enabled on the site',
    false,
    (v) => !Array.isArray(v) || v.length <= 1,
  ),
  archive_volume_frequency: notCarried(
    'HyperKitty has no archive volumes; old period URLs are handled by the redirect map',
    false,
    always,
  ),
  nntp_host: notCarried('the NNTP server is a site setting in Mailman 3 ([nntp] host in mailman.cfg)', false),
  equivalent_domains: notCarried('Mailman 3 has no equivalent domains for member matching', false),
  subscribe_auto_approval: notCarried('Mailman 3 has no subscription auto-approval list', false),
  include_sender_header: notCarried('Mailman 3 never rewrites Sender:', false),
  drop_cc: notCarried('Mailman 3 always drops Cc: duplicates for members who asked not to get list copies', false, (v) => Boolean(v)),
  member_verbosity_threshold: notCarried('Mailman 3 has no automatic moderation of over-active members', false),
  member_verbosity_interval: notCarried('Mailman 3 has no automatic moderation of over-active members', false, (_v, c) => !c.settings['member_verbosity_threshold']),

  // Nothing to carry.
  host_name: { kind: 'notApplicable', reason: 'the mail domain is part of the list address, fixed when the Mailman 3 list is created' },
  web_page_url: { kind: 'notApplicable', reason: 'Mailman 3 URLs come from its web UI; old URLs are handled by the redirect map' },
  data_version: { kind: 'notApplicable', reason: 'Mailman 2 schema version' },
  next_post_number: { kind: 'notApplicable', reason: 'unused by Mailman 2.1 itself' },
  next_request_id: { kind: 'notApplicable', reason: 'numbers pending requests, which are not migrated' },
  admin_member_chunksize: { kind: 'notApplicable', reason: 'page size of the Mailman 2 admin roster page' },
  regular_exclude_ignore: { kind: 'notApplicable', reason: 'only meaningful with regular_exclude_lists (reported separately)' },
  one_last_digest: { kind: 'notApplicable', reason: 'pending last digests of members who left digest mode' },
  hold_and_cmd_autoresponses: { kind: 'notApplicable', reason: 'per-sender counters of today’s autoresponses' },
  admin_responses: { kind: 'notApplicable', reason: 'dates of the last autoresponses (grace period bookkeeping)' },
  postings_responses: { kind: 'notApplicable', reason: 'dates of the last autoresponses (grace period bookkeeping)' },
  request_responses: { kind: 'notApplicable', reason: 'dates of the last autoresponses (grace period bookkeeping)' },
};

/** MM3 default_member_action: import21 maps default_member_moderation + member_moderation_action. */
export function defaultMemberAction(config: ListConfig): Mailman3Action {
  return config.defaultMemberModeration ? (MEMBER_MODERATION_ACTIONS[config.memberModerationAction] ?? 'hold') : 'defer';
}

export function mapSettings(config: ListConfig, options: MapSettingsOptions = {}): SettingsPlan {
  const ctx: Ctx = { config, problems: [] };
  const plan: SettingsPlan = {
    listConfig: {},
    headerMatches: [],
    bans: [],
    nonmemberActions: [],
    acceptableAliases: [],
    templates: [],
    carried: [],
    notCarried: [],
    notApplicable: [],
    problems: ctx.problems,
  };

  const keys = [...new Set([...Object.keys(config.settings), ...Object.keys(config.raw)])];
  for (const key of keys) {
    const value = setting(config, key) ?? null;
    const rule = RULES[key];
    if (rule === undefined) {
      plan.notCarried.push({ key, value, reason: 'not a Mailman 2.1 setting this tool knows; no Mailman 3 equivalent is known', viaImport21: false });
      continue;
    }
    switch (rule.kind) {
      case 'rest': {
        const converted = rule.convert(value, ctx, key);
        if (converted === undefined) plan.notCarried.push({ key, value, reason: 'unexpected value (see problems)', viaImport21: false });
        else {
          plan.listConfig[rule.to] = converted;
          carry(plan, key, `listConfig.${rule.to}`);
        }
        break;
      }
      case 'notCarried':
        if (rule.inert?.(value, config)) plan.notApplicable.push({ key, reason: 'its Mailman 2 value is off, empty or what Mailman 3 does anyway; nothing is lost' });
        else plan.notCarried.push({ key, value, reason: rule.reason, viaImport21: rule.viaImport21 });
        break;
      case 'notApplicable':
        plan.notApplicable.push({ key, reason: rule.reason });
        break;
      case 'roster':
        plan.notApplicable.push({ key, reason: 'carried by the roster plan (mapRoster)' });
        break;
      case 'special':
        if (key === 'use_dollar_strings') plan.notApplicable.push({ key, reason: 'tells how to read the Mailman 2 templates; used by the conversion' });
        break;
    }
  }

  mapModeration(config, plan);
  mapDmarc(config, plan);
  mapArchiveAndRoster(config, plan);
  mapDigestSize(config, plan);
  mapAliases(config, plan);
  mapNonmembers(config, plan);
  mapBans(config, plan);
  mapHeaderFilters(config, plan);

  const templates = planTemplates(config, options);
  plan.templates = templates.templates;
  for (const t of templates.templates) carry(plan, t.source, `template ${t.name}`);
  plan.notCarried.push(...templates.notCarried);
  plan.notApplicable.push(...templates.notApplicable);
  plan.problems.push(...templates.problems);
  // The special mappings name their source keys unconditionally; keep only keys the pickle has.
  plan.carried = plan.carried.filter(({ key }) => key in config.settings || key in config.raw);
  return plan;
}

function carry(plan: SettingsPlan, key: string, to: string): void {
  plan.carried.push({ key, to });
}

function report(config: ListConfig, plan: SettingsPlan, severity: Problem['severity'], code: string, key: string, message: string): void {
  plan.problems.push({ severity, code, list: config.name, key, message: `${config.name}: ${message}` });
}

function mapModeration(config: ListConfig, plan: SettingsPlan): void {
  if (config.defaultMemberModeration && MEMBER_MODERATION_ACTIONS[config.memberModerationAction] === undefined) {
    report(config, plan, 'warning', 'unexpected-setting-value', 'member_moderation_action', `member_moderation_action is ${config.memberModerationAction}, expected 0..2; new members' posts will be held`);
  }
  plan.listConfig['default_member_action'] = defaultMemberAction(config);
  carry(plan, 'default_member_moderation', 'listConfig.default_member_action');
  // Also decides the moderation action of members with the Moderate bit (roster plan).
  carry(plan, 'member_moderation_action', 'listConfig.default_member_action');
}

/**
 * import21: from_is_list applies to every post, dmarc_moderation_action only to DMARC-protected
 * domains; Mailman 3 has one action plus an "unconditionally" switch, so the stronger one wins.
 */
function mapDmarc(config: ListConfig, plan: SettingsPlan): void {
  const num = (key: string): number => {
    const v = config.settings[key];
    return typeof v === 'number' ? v : typeof v === 'boolean' ? Number(v) : 0;
  };
  const fromIsList = num('from_is_list');
  const dmarcAction = num('dmarc_moderation_action');
  const unconditional = fromIsList > dmarcAction;
  const action = DMARC_ACTION[unconditional ? fromIsList : dmarcAction];
  if (action === undefined) {
    report(config, plan, 'warning', 'unexpected-setting-value', 'dmarc_moderation_action', `from_is_list ${fromIsList} / dmarc_moderation_action ${dmarcAction} are out of range; DMARC settings not carried`);
    plan.notCarried.push({ key: 'dmarc_moderation_action', value: dmarcAction, reason: 'unexpected value (see problems)', viaImport21: false });
    return;
  }
  plan.listConfig['dmarc_mitigate_action'] = action;
  plan.listConfig['dmarc_mitigate_unconditionally'] = unconditional;
  carry(plan, 'from_is_list', 'listConfig.dmarc_mitigate_action');
  carry(plan, 'dmarc_moderation_action', 'listConfig.dmarc_mitigate_action');
  if (unconditional && dmarcAction > 0) {
    plan.notCarried.push({
      key: 'dmarc_moderation_action',
      value: dmarcAction,
      reason: `Mailman 3 has one DMARC action; from_is_list (${DMARC_ACTION[fromIsList]}, for every post) wins over it, as in import21`,
      viaImport21: false,
    });
  }
}

function mapArchiveAndRoster(config: ListConfig, plan: SettingsPlan): void {
  const archive = config.settings['archive'];
  const archivePrivate = config.settings['archive_private'];
  // import21: a missing archive_private counts as private ("for maximum safety").
  plan.listConfig['archive_policy'] = archive ? (archivePrivate === undefined || archivePrivate ? 'private' : 'public') : 'never';
  carry(plan, 'archive', 'listConfig.archive_policy');
  carry(plan, 'archive_private', 'listConfig.archive_policy');

  const roster = config.settings['private_roster'];
  if (roster === undefined) return;
  const visibility = typeof roster === 'number' ? ROSTER_VISIBILITY[roster] : undefined;
  if (visibility === undefined) {
    report(config, plan, 'warning', 'unexpected-setting-value', 'private_roster', `private_roster is ${JSON.stringify(roster)}, expected 0..2; not carried`);
    plan.notCarried.push({ key: 'private_roster', value: roster, reason: 'unexpected value (see problems)', viaImport21: false });
    return;
  }
  plan.listConfig['member_roster_visibility'] = visibility;
  carry(plan, 'private_roster', 'listConfig.member_roster_visibility');
}

function mapDigestSize(config: ListConfig, plan: SettingsPlan): void {
  const size = config.settings['digest_size_threshhold'];
  if (size !== undefined) {
    if (typeof size === 'number' && size > 0) {
      plan.listConfig['digest_size_threshold'] = size;
      carry(plan, 'digest_size_threshhold', 'listConfig.digest_size_threshold');
    } else {
      plan.notCarried.push({
        key: 'digest_size_threshhold',
        value: size,
        reason: "Mailman 2's 0 means no size trigger; Mailman 3 would send a digest after every post with 0, so its default threshold is kept",
        viaImport21: false,
      });
    }
  }
  const nondigestable = config.settings['nondigestable'];
  if (nondigestable) plan.notApplicable.push({ key: 'nondigestable', reason: 'Mailman 3 always offers regular delivery' });
  else if (nondigestable !== undefined) {
    plan.notCarried.push({
      key: 'nondigestable',
      value: nondigestable,
      reason: 'Mailman 3 cannot force digest-only delivery; members may switch to regular delivery',
      viaImport21: false,
    });
  }
}

function regexOrProblem(config: ListConfig, plan: SettingsPlan, key: string, pattern: string): string {
  const fixed = modernizePythonRegex(pattern);
  for (const change of fixed.changes) report(config, plan, 'info', 'regex-modernized', key, `${key} ${JSON.stringify(pattern)}: ${change}`);
  return fixed.pattern;
}

function mapAliases(config: ListConfig, plan: SettingsPlan): void {
  const aliases: string[] = [];
  for (const entry of config.acceptableAliases) {
    const alias = entry.trim();
    if (alias === '') continue;
    // import21: every 2.1 alias is a regex, so each gets an anchoring ^.
    const anchored = alias.startsWith('^') ? alias : `^${alias}`;
    aliases.push(regexOrProblem(config, plan, 'acceptable_aliases', anchored));
  }
  // import21 (3.3.6+): Mailman 2 accepted the list's local part at any domain.
  aliases.push(`^${config.name}@`);
  plan.acceptableAliases = [...new Set(aliases)];
  plan.listConfig['acceptable_aliases'] = plan.acceptableAliases;
  carry(plan, 'acceptable_aliases', 'listConfig.acceptable_aliases');
}

const NONMEMBER_LISTS = [
  { key: 'accept_these_nonmembers', filter: 'accept', action: 'defer' },
  { key: 'hold_these_nonmembers', filter: 'hold', action: 'hold' },
  { key: 'reject_these_nonmembers', filter: 'reject', action: 'reject' },
  { key: 'discard_these_nonmembers', filter: 'discard', action: 'discard' },
] as const;

/**
 * import21: plain addresses become nonmember roster entries with a moderation action (Mailman 2
 * "accept" is Mailman 3 "defer": the post goes on through the other checks); `^regex` entries
 * stay in the legacy *_these_nonmembers attributes. Mailman 2 checked the lists in this order, so
 * an address in two lists keeps the first.
 */
function mapNonmembers(config: ListConfig, plan: SettingsPlan): void {
  const bans = [...config.banList.addresses, ...config.banList.regexes];
  const seen = new Map<string, string>();
  for (const { key, filter, action } of NONMEMBER_LISTS) {
    const entries = config.nonmembers[filter];
    for (const email of entries.addresses) {
      const lower = email.toLowerCase();
      const first = seen.get(lower);
      if (first !== undefined) {
        plan.notCarried.push({ key, value: email, reason: `already listed in ${first}, which Mailman 2 checked first`, viaImport21: false });
        continue;
      }
      seen.set(lower, key);
      const banned = checkBanned(email, bans).bannedBy;
      if (banned !== null) {
        plan.notCarried.push({ key, value: email, reason: `banned by ban_list entry ${banned}; import21 skips banned addresses`, viaImport21: false });
        continue;
      }
      plan.nonmemberActions.push({ email, action, source: key });
    }
    plan.listConfig[key] = entries.regexes.map((r) => regexOrProblem(config, plan, key, r));
    carry(plan, key, `listConfig.${key}`);
    if (entries.addresses.length > 0) carry(plan, key, 'nonmemberActions');
    for (const list of entries.lists) {
      plan.notCarried.push({
        key,
        value: `@${list}`,
        reason:
          filter === 'accept'
            ? "Mailman 3's REST API takes only addresses and ^regexes here; Mailman 3.3.10+ accepts @list@domain references, written only by import21 (which keeps accept ones and drops the rest)"
            : 'Mailman 3 has no @list references for hold/reject/discard (import21 drops them too)',
        viaImport21: filter === 'accept',
      });
    }
  }
}

function mapBans(config: ListConfig, plan: SettingsPlan): void {
  const bans: string[] = [];
  for (const address of config.banList.addresses) {
    if (address.startsWith('@')) {
      plan.notCarried.push({ key: 'ban_list', value: address, reason: 'Mailman 3 bans cannot refer to the members of another list', viaImport21: false });
      continue;
    }
    bans.push(address.toLowerCase());
  }
  for (const regex of config.banList.regexes) bans.push(regexOrProblem(config, plan, 'ban_list', regex));
  plan.bans = [...new Set(bans)];
  carry(plan, 'ban_list', 'bans');
}

// MM2 header_filter_rules actions → MM3 chains (import21 action_to_chain); 1 approve, 4 subscribe,
// 5 unsubscribe have no chain.
const HEADER_CHAINS: Readonly<Record<number, HeaderMatchPlan['action'] | null>> = { 0: null, 2: 'reject', 3: 'discard', 6: 'accept', 7: 'hold' };
const HEADER_ACTION_NAMES = ['defer', 'approve', 'reject', 'discard', 'subscribe', 'unsubscribe', 'accept', 'hold'];

function mapHeaderFilters(config: ListConfig, plan: SettingsPlan): void {
  const key = 'header_filter_rules';
  const seen = new Set<string>();
  carry(plan, key, 'headerMatches');
  config.headerFilterRules.forEach((rule, index) => {
    const chain = HEADER_CHAINS[rule.action];
    if (chain === undefined) {
      plan.notCarried.push({
        key: `${key}[${index}]`,
        value: { patterns: rule.patterns, action: HEADER_ACTION_NAMES[rule.action] ?? rule.action },
        reason: 'Mailman 3 header matches cannot approve, subscribe or unsubscribe (import21 skips these too)',
        viaImport21: false,
      });
      return;
    }
    if (chain === null) {
      report(config, plan, 'warning', 'header-match-defer', `${key}[${index}]`,
        `${key}[${index}] has Mailman 2's "defer" action; Mailman 3 applies the site's [antispam] jump_chain (hold by default) to a header match without action, as import21 does`);
    }
    for (const line of rule.patterns) {
      if (line.trim() === '') continue;
      const split = splitHeaderLine(line);
      if (split === null || split.header === '') {
        const reason = split === null
          ? 'a pattern without "header:" matches any header, which Mailman 3 header matches cannot express (import21 skips it too)'
          : 'no header name before the ":" (import21 skips it too)';
        plan.notCarried.push({ key: `${key}[${index}]`, value: line, reason, viaImport21: false });
        continue;
      }
      const pattern = regexOrProblem(config, plan, key, split.pattern === '' ? '.*' : split.pattern);
      const id = `${split.header}\u0000${pattern}`;
      if (seen.has(id)) {
        report(config, plan, 'info', 'header-match-duplicate', `${key}[${index}]`, `${key}: duplicate rule ${JSON.stringify(line)} skipped (Mailman 3 refuses duplicates)`);
        continue;
      }
      seen.add(id);
      plan.headerMatches.push({ header: split.header, pattern, ...(chain ? { action: chain } : {}), source: line });
    }
  });
}

/** import21's split: first of ': ', ':.*', ':.', ':' wins; the header loses ^, backslashes and case. */
function splitHeaderLine(line: string): { header: string; pattern: string } | null {
  for (const sep of [': ', ':.*', ':.', ':']) {
    const at = line.indexOf(sep);
    if (at < 0) continue;
    const header = line.slice(0, at).trim().replace(/^\^+/, '').toLowerCase().replace(/\\/g, '');
    return { header, pattern: line.slice(at + sep.length) };
  }
  return null;
}
