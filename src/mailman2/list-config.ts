/**
 * Reads a Mailman 2.1 `lists/<name>/config.pck` into a typed, decoded ListConfig. Everything the
 * pickle holds ends up somewhere: typed fields for what the migration uses, `settings` for every
 * scalar/list attribute by its Mailman 2 name, `raw` (typed JSON) for the rest, and `members` for
 * the per-member dicts. Member passwords are reduced to `hasPassword`.
 */
import { readFile } from 'node:fs/promises';
import type { Problem } from '../problems.js';
import { UserError } from '../problems.js';
import { charsetForLanguage, decodeBytes, legacyCharsetForLanguage } from './charset.js';
import { ListConfigSchema, type AddressFilter, type JsonValue, type ListConfig } from './list-config-schema.js';
import { describe, ValueDecoder } from './list-config-values.js';
import { epochToIso, MEMBER_ROSTER_KEYS, readMembers } from './member-roster.js';
import { parsePickle, PickleError, PyBytes, PyDict, type PyValue } from './pickle.js';

export { ListConfigSchema, MemberSchema } from './list-config-schema.js';
export type { AddressFilter, BounceInfo, JsonValue, ListConfig, Member, MemberOptions } from './list-config-schema.js';
export { MEMBER_ROSTER_KEYS } from './member-roster.js';

export const SECRET_KEYS = new Set(['password', 'mod_password', 'post_password']);

export interface ListConfigResult {
  config: ListConfig;
  problems: Problem[];
}

export interface ReadListConfigOptions {
  /** The list's folder name (Mailman's internal name). */
  listName: string;
  /** Charset of the pickle's byte strings; default: the charset of `preferred_language`. */
  charset?: string;
}

export async function readListConfig(configPath: string, opts: ReadListConfigOptions): Promise<ListConfigResult> {
  let data: Buffer;
  try {
    data = await readFile(configPath);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new UserError(`${configPath}: cannot read list configuration (${e.code ?? e.message})`);
  }
  let root: PyValue;
  try {
    root = parsePickle(data).value;
  } catch (err) {
    if (!(err instanceof PickleError)) throw err;
    throw new UserError(`${configPath}: ${pickleFailure(err, data.length)}`);
  }
  if (!(root instanceof PyDict)) {
    throw new UserError(`${configPath}: the pickle holds ${describe(root)}, not a dict of Mailman 2 list settings`);
  }
  return listConfigFromPickle(root, { ...opts, file: configPath, size: data.length });
}

function pickleFailure(err: PickleError, size: number): string {
  if (size === 0) return 'file is empty, not a Mailman 2 config.pck';
  if (err.kind === 'truncated') return `truncated pickle: ${err.message}; config.pck.last may hold the previous version`;
  if (err.offset === 0) return `not a pickle (${err.message}), not a Mailman 2 config.pck`;
  if (err.kind === 'unsupported') return `unsupported pickle: ${err.message}`;
  return `corrupt pickle: ${err.message}`;
}

/**
 * Builds the ListConfig from an already unpickled config dict (exported for pickles that do not
 * live in a file, e.g. test fixtures).
 */
export function listConfigFromPickle(
  config: PyDict,
  opts: ReadListConfigOptions & { file: string; size?: number },
): ListConfigResult {
  const name = opts.listName.toLowerCase();
  const problems: Problem[] = [];
  const report = (severity: Problem['severity'], code: string, key: string | undefined, message: string): void => {
    problems.push({ severity, code, message: `${name}: ${message}`, list: name, file: opts.file, ...(key ? { key } : {}) });
  };

  const preferredLanguage = readLanguageCode(config.get('preferred_language'), (msg) =>
    report('warning', 'unexpected-setting-type', 'preferred_language', msg),
  );
  let charset: string;
  if (opts.charset !== undefined) {
    const check = decodeBytes(Buffer.from([0xe9]), opts.charset);
    if ('error' in check && check.error.startsWith('unknown charset')) {
      throw new UserError(`list ${name}: unknown charset ${JSON.stringify(opts.charset)}`);
    }
    charset = opts.charset;
  } else {
    const known = charsetForLanguage(preferredLanguage);
    if (known === null) {
      report(
        'warning',
        'unknown-language',
        'preferred_language',
        `preferred_language ${JSON.stringify(preferredLanguage)} is not a Mailman 2.1 language; strings decoded as utf-8 (set the list's charset to override)`,
      );
    }
    charset = known ?? 'utf-8';
  }
  const charsets = [charset, 'utf-8', legacyCharsetForLanguage(preferredLanguage)].filter((c): c is string => c !== null);
  const dec = new ValueDecoder({
    list: name,
    file: opts.file,
    charsets,
    problems,
    maxValues: 16 * (opts.size ?? 1_000_000) + 100_000,
  });

  const settings: Record<string, JsonValue> = {};
  const raw: Record<string, JsonValue> = {};
  const roster = new Set(MEMBER_ROSTER_KEYS);
  for (const [k, v] of config.entries()) {
    const key = typeof k === 'string' ? k : k instanceof PyBytes && k.isAscii() ? k.latin1() : null;
    // Mailman saves only public instance attributes (MailList.Save skips names starting with '_').
    if (key === null || !/^[A-Za-z][A-Za-z0-9_]*$/.test(key)) {
      report('warning', 'unexpected-config-key', undefined, `config.pck has a key that is not a Mailman attribute name (${describe(k)}${key !== null ? ` ${JSON.stringify(key.slice(0, 60))}` : ''}); ignored`);
      continue;
    }
    if (roster.has(key)) continue;
    // List passwords (SHA-1 hashes of the admin, moderator and poster passwords) are secrets: only
    // their presence is kept, so they never reach the state database or a report.
    if (SECRET_KEYS.has(key)) {
      settings[key] = v === null || v === undefined ? null : v instanceof PyBytes && v.bytes.length === 0 ? '' : '(set)';
      continue;
    }
    const plain = dec.plain(v, key);
    if (plain !== undefined) settings[key] = plain;
    else raw[key] = dec.typed(v, key);
  }

  const s = new SettingsReader(settings, report);
  const realName = s.str('real_name', name);
  if (realName.toLowerCase() !== name) {
    report('warning', 'real-name-mismatch', 'real_name', `real_name ${JSON.stringify(realName)} differs from the list name ${name} by more than letter case`);
  }
  const hostName = s.str('host_name', '');
  if (!hostName) report('warning', 'missing-host-name', 'host_name', 'host_name is empty; the posting address is unknown');
  const availableLanguages = s.strList('available_languages', [preferredLanguage]);

  const archiveEnabled = s.bool('archive', true);
  const archivePrivate = s.bool('archive_private', false);

  const built: ListConfig = {
    name,
    realName,
    hostName,
    webPageUrl: s.str('web_page_url', ''),
    postingAddress: hostName ? `${name}@${hostName}` : name,
    description: s.str('description', ''),
    info: s.str('info', ''),
    subjectPrefix: s.str('subject_prefix', `[${realName}] `),
    preferredLanguage,
    availableLanguages,
    charset,
    dataVersion: s.has('data_version') ? s.num('data_version', 0) : null,
    owners: s.strList('owner', []),
    moderators: s.strList('moderator', []),
    members: readMembers({ config, dec, preferredLanguage, availableLanguages }),
    nonmembers: {
      accept: splitFilter(s.strList('accept_these_nonmembers', [])),
      hold: splitFilter(s.strList('hold_these_nonmembers', [])),
      reject: splitFilter(s.strList('reject_these_nonmembers', [])),
      discard: splitFilter(s.strList('discard_these_nonmembers', [])),
    },
    banList: splitBanList(s.strList('ban_list', [])),
    archive: {
      enabled: archiveEnabled,
      private: archivePrivate,
      volumeFrequency: s.int('archive_volume_frequency', 1, 0, 4),
      policy: !archiveEnabled ? 'never' : archivePrivate ? 'private' : 'public',
    },
    subscribePolicy: s.int('subscribe_policy', 1, 0, 3),
    genericNonmemberAction: s.int('generic_nonmember_action', 1, 0, 3),
    defaultMemberModeration: s.bool('default_member_moderation', false),
    memberModerationAction: s.int('member_moderation_action', 0, 0, 2),
    replyGoesToList: s.int('reply_goes_to_list', 0, 0, 2),
    replyToAddress: s.str('reply_to_address', ''),
    firstStripReplyTo: s.bool('first_strip_reply_to', false),
    anonymousList: s.bool('anonymous_list', false),
    personalize: s.int('personalize', 0, 0, 2),
    msgHeader: s.str('msg_header', ''),
    msgFooter: s.str('msg_footer', ''),
    digestHeader: s.str('digest_header', ''),
    digestFooter: s.str('digest_footer', ''),
    welcomeMsg: s.str('welcome_msg', ''),
    goodbyeMsg: s.str('goodbye_msg', ''),
    sendWelcomeMsg: s.bool('send_welcome_msg', true),
    sendGoodbyeMsg: s.bool('send_goodbye_msg', true),
    maxMessageSize: s.num('max_message_size', 40),
    digestable: s.bool('digestable', true),
    nondigestable: s.bool('nondigestable', true),
    digestIsDefault: s.bool('digest_is_default', false),
    mimeIsDefaultDigest: s.bool('mime_is_default_digest', false),
    digestVolumeFrequency: s.int('digest_volume_frequency', 1, 0, 4),
    adminImmedNotify: s.bool('admin_immed_notify', true),
    adminNotifyMchanges: s.bool('admin_notify_mchanges', false),
    acceptableAliases: s.lines('acceptable_aliases'),
    headerFilterRules: s.headerFilterRules(),
    bounceMatchingHeaders: s.str('bounce_matching_headers', ''),
    topicsEnabled: s.bool('topics_enabled', false),
    topics: s.topics(),
    createdAt: s.time('created_at', { dec }),
    lastPostTime: s.time('last_post_time', { dec }),
    settings,
    raw,
  };
  if (s.missing.length > 0) {
    report('info', 'missing-setting', undefined, `config.pck has no ${s.missing.join(', ')}; Mailman 2.1 defaults used`);
  }
  return { config: ListConfigSchema.parse(built), problems };
}

function readLanguageCode(v: PyValue | undefined, warn: (msg: string) => void): string {
  if (typeof v === 'string') return v;
  if (v instanceof PyBytes && v.isAscii()) return v.latin1();
  warn(`preferred_language is ${v instanceof PyBytes ? 'not ASCII' : describe(v)}; using en`);
  return 'en';
}

type Report = (severity: Problem['severity'], code: string, key: string | undefined, message: string) => void;

/** Typed reads from the decoded settings, with Mailman 2.1 defaults for missing keys. */
class SettingsReader {
  readonly missing: string[] = [];

  constructor(
    private readonly settings: Record<string, JsonValue>,
    private readonly report: Report,
  ) {}

  has(key: string): boolean {
    return Object.hasOwn(this.settings, key);
  }

  private get(key: string): JsonValue | undefined {
    if (this.has(key)) return this.settings[key];
    this.missing.push(key);
    return undefined;
  }

  private wrongType(key: string, v: JsonValue, expected: string, used: JsonValue): void {
    this.report('warning', 'unexpected-setting-type', key, `${key} is ${JSON.stringify(v).slice(0, 80)}, expected ${expected}; using ${JSON.stringify(used)}`);
  }

  str(key: string, dflt: string): string {
    const v = this.get(key);
    if (v === undefined) return dflt;
    if (typeof v === 'string') return v;
    if (v === null) return dflt;
    this.wrongType(key, v, 'a string', dflt);
    return dflt;
  }

  bool(key: string, dflt: boolean): boolean {
    const v = this.get(key);
    if (v === undefined) return dflt;
    if (typeof v === 'boolean') return v;
    if (typeof v === 'number') return v !== 0;
    this.wrongType(key, v, 'a flag', dflt);
    return dflt;
  }

  num(key: string, dflt: number): number {
    const v = this.get(key);
    if (v === undefined) return dflt;
    if (typeof v === 'number') return v;
    if (typeof v === 'boolean') return v ? 1 : 0;
    this.wrongType(key, v, 'a number', dflt);
    return dflt;
  }

  /** An int option; out-of-range values are kept but reported (the mapping decides what to do). */
  int(key: string, dflt: number, min: number, max: number): number {
    const v = this.get(key);
    if (v === undefined) return dflt;
    const n = typeof v === 'boolean' ? (v ? 1 : 0) : v;
    if (typeof n !== 'number' || !Number.isInteger(n)) {
      this.wrongType(key, v, 'an int', dflt);
      return dflt;
    }
    if (n < min || n > max) this.report('warning', 'setting-out-of-range', key, `${key} is ${n}, outside Mailman's ${min}..${max}`);
    return n;
  }

  strList(key: string, dflt: string[]): string[] {
    const v = this.get(key);
    if (v === undefined || v === null) return dflt;
    if (!Array.isArray(v)) {
      this.wrongType(key, v, 'a list of strings', dflt);
      return dflt;
    }
    const out: string[] = [];
    v.forEach((x, i) => {
      if (typeof x === 'string') out.push(x);
      else this.report('warning', 'unexpected-setting-type', `${key}[${i}]`, `${key}[${i}] is ${JSON.stringify(x).slice(0, 80)}, not a string; ignored`);
    });
    return out;
  }

  /** A newline-separated text setting, or a list of lines (both seen in the wild for acceptable_aliases). */
  lines(key: string): string[] {
    const v = this.get(key);
    if (v === undefined || v === null) return [];
    const parts = typeof v === 'string' ? v.split(/\r?\n/) : Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : null;
    if (parts === null) {
      this.wrongType(key, v, 'text', []);
      return [];
    }
    return parts.map((l) => l.trim()).filter((l) => l !== '');
  }

  headerFilterRules(): ListConfig['headerFilterRules'] {
    const key = 'header_filter_rules';
    const v = this.get(key);
    if (v === undefined || v === null) return [];
    if (!Array.isArray(v)) {
      this.wrongType(key, v, 'a list of rules', []);
      return [];
    }
    const out: ListConfig['headerFilterRules'] = [];
    v.forEach((rule, i) => {
      const [pattern, action, empty] = Array.isArray(rule) ? rule : [];
      if (typeof pattern !== 'string' || typeof action !== 'number' || !Number.isInteger(action)) {
        this.report('warning', 'unexpected-setting-type', `${key}[${i}]`, `${key}[${i}] is not a (patterns, action, empty) rule; ignored`);
        return;
      }
      out.push({
        patterns: pattern.split(/\r?\n/).map((l) => l.trim()).filter((l) => l !== ''),
        action,
        empty: empty === true || (typeof empty === 'number' && empty !== 0),
      });
    });
    return out;
  }

  topics(): ListConfig['topics'] {
    const key = 'topics';
    const v = this.get(key);
    if (v === undefined || v === null) return [];
    if (!Array.isArray(v)) {
      this.wrongType(key, v, 'a list of topics', []);
      return [];
    }
    const out: ListConfig['topics'] = [];
    v.forEach((t, i) => {
      const [name, pattern, description, empty] = Array.isArray(t) ? t : [];
      if (typeof name !== 'string' || typeof pattern !== 'string') {
        this.report('warning', 'unexpected-setting-type', `${key}[${i}]`, `${key}[${i}] is not a (name, pattern, description, empty) topic; ignored`);
        return;
      }
      out.push({
        name,
        pattern,
        description: typeof description === 'string' ? description : '',
        empty: empty === true || (typeof empty === 'number' && empty !== 0),
      });
    });
    return out;
  }

  time(key: string, ctx: { dec: ValueDecoder }): string | null {
    const v = this.get(key);
    if (v === undefined || v === null) return null;
    return typeof v === 'number' ? epochToIso(ctx, v, key) : (this.wrongType(key, v, 'a Unix time', null), null);
  }
}

/** MailList.GetPattern: `^` starts a regex, `@` names another list, anything else is an address. */
function splitFilter(entries: string[]): AddressFilter {
  const out: AddressFilter = { addresses: [], regexes: [], lists: [] };
  for (const entry of entries) {
    const e = entry.trim();
    if (e === '') continue;
    if (e.startsWith('^')) out.regexes.push(e);
    else if (e.startsWith('@')) out.lists.push(e.slice(1));
    else out.addresses.push(e);
  }
  return out;
}

/** ban_list honours `^regex` but not `@list` (GetBannedPattern), so `@` entries stay addresses. */
function splitBanList(entries: string[]): ListConfig['banList'] {
  const out: ListConfig['banList'] = { addresses: [], regexes: [] };
  for (const entry of entries) {
    const e = entry.trim();
    if (e === '') continue;
    (e.startsWith('^') ? out.regexes : out.addresses).push(e);
  }
  return out;
}
