/**
 * The member roster of a config.pck: OldStyleMemberships keeps one dict per attribute, all keyed by
 * the lower-cased address (reference/mailman2.md §1.2). This joins them into one record per member.
 * Passwords are only ever tested for presence, never decoded or copied.
 */
import { describe, isNumberLike, keyLabel, numberOf, type ValueDecoder } from './list-config-values.js';
import { MEMBER_OPTION_BITS, type BounceInfo, type Member, type MemberOptions } from './list-config-schema.js';
import { PyBytes, PyDict, PyInstance, PyTuple, type PyValue } from './pickle.js';

/** config.pck keys that hold per-member data; they are read here, not copied into settings/raw. */
export const MEMBER_ROSTER_KEYS: readonly string[] = [
  'members',
  'digest_members',
  'passwords',
  'user_options',
  'language',
  'usernames',
  'delivery_status',
  'bounce_info',
  'topics_userinterest',
];

/** MemberAdaptor.py: ENABLED=0, UNKNOWN=1, BYUSER=2, BYADMIN=3, BYBOUNCE=4 (MM3 names). */
const DELIVERY_STATUS_NAMES: Readonly<Record<number, Member['deliveryStatus']>> = {
  0: 'enabled',
  1: 'unknown',
  2: 'by_user',
  3: 'by_moderator',
  4: 'by_bounces',
};

/** Mailman adds the site's default server language to every list's offer (GetAvailableLanguages). */
const DEFAULT_SERVER_LANGUAGE = 'en';

export interface RosterContext {
  config: PyDict;
  dec: ValueDecoder;
  preferredLanguage: string;
  availableLanguages: readonly string[];
}

interface RosterEntry {
  /** The key as stored, for lookups in the other per-member dicts. */
  rawKey: PyValue;
  key: string;
  email: string;
  digest: boolean;
}

export function readMembers(ctx: RosterContext): Member[] {
  const { dec } = ctx;
  const dicts = new Map<string, PyDict>();
  for (const name of MEMBER_ROSTER_KEYS) {
    const v = ctx.config.get(name);
    if (v === undefined) continue;
    if (v instanceof PyDict) dicts.set(name, v);
    else dec.problem('warning', 'unexpected-setting-type', name, `${name} is ${describe(v)}, not a dict; ignored`);
  }

  const entries = new Map<string, RosterEntry>();
  for (const [rosterName, digest] of [['members', false], ['digest_members', true]] as const) {
    const roster = dicts.get(rosterName);
    if (!roster) continue;
    for (const [rawKey, value] of roster.entries()) {
      const label = `${rosterName}[${keyLabel(rawKey)}]`;
      if (typeof rawKey !== 'string' && !(rawKey instanceof PyBytes)) {
        dec.problem('warning', 'invalid-member-key', label, `${label}: member key is ${describe(rawKey)}; member skipped`);
        continue;
      }
      const stored = dec.text(rawKey, `${rosterName} key ${keyLabel(rawKey)}`);
      const key = stored.toLowerCase();
      if (key !== stored) dec.problem('info', 'member-key-not-lowercase', label, `${label}: key is not lower-case; using ${key}`);
      let email = stored;
      if (typeof value === 'string' || value instanceof PyBytes) {
        email = dec.text(value, label);
        if (email.toLowerCase() !== key) {
          dec.problem('warning', 'member-address-mismatch', label, `${label}: case-preserved address ${email} does not match its key`);
        }
      } else if (!(isNumberLike(value) && numberOf(value) === 0)) {
        dec.problem('warning', 'unexpected-setting-type', label, `${label} is ${describe(value)}, expected 0 or an address; using the key`);
      }
      const seen = entries.get(key);
      if (seen) {
        dec.problem(
          'warning',
          'duplicate-member',
          label,
          `${key} is listed ${seen.digest === digest ? `twice in ${rosterName}` : 'in both members and digest_members'}; treated as a ${seen.digest || digest ? 'digest' : 'regular'} member`,
        );
        seen.digest ||= digest;
        continue;
      }
      entries.set(key, { rawKey, key, email, digest });
    }
  }

  reportOrphans(ctx, dicts, entries);

  const members: Member[] = [];
  for (const e of [...entries.values()].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))) {
    members.push(readMember(ctx, dicts, e));
  }
  return members;
}

function lookup(dict: PyDict | undefined, e: RosterEntry): PyValue | undefined {
  if (!dict) return undefined;
  const v = dict.get(e.rawKey);
  return v !== undefined ? v : dict.get(e.key);
}

function readMember(ctx: RosterContext, dicts: Map<string, PyDict>, e: RosterEntry): Member {
  const { dec } = ctx;
  const at = (name: string): string => `${name}[${e.key}]`;

  const pw = lookup(dicts.get('passwords'), e);
  const hasPassword = (pw instanceof PyBytes && pw.bytes.length > 0) || (typeof pw === 'string' && pw.length > 0);

  let optionBits = 0;
  const uo = lookup(dicts.get('user_options'), e);
  if (uo !== undefined) {
    if (isNumberLike(uo) && Number.isInteger(numberOf(uo))) optionBits = numberOf(uo);
    else dec.problem('warning', 'unexpected-setting-type', at('user_options'), `${at('user_options')} is ${describe(uo)}, not an int; using 0`);
  }
  const options = Object.fromEntries(
    Object.entries(MEMBER_OPTION_BITS).map(([name, bit]) => [name, (optionBits & bit) !== 0]),
  ) as MemberOptions;

  let languageRaw: string | null = null;
  const lang = lookup(dicts.get('language'), e);
  if (typeof lang === 'string' || lang instanceof PyBytes) languageRaw = dec.text(lang, at('language'));
  else if (lang !== undefined) dec.problem('warning', 'unexpected-setting-type', at('language'), `${at('language')} is ${describe(lang)}; ignored`);
  const offered = new Set([...ctx.availableLanguages, DEFAULT_SERVER_LANGUAGE]);
  const language = languageRaw !== null && offered.has(languageRaw) ? languageRaw : ctx.preferredLanguage;

  const name = lookup(dicts.get('usernames'), e);
  const displayName = name === undefined ? null : ctx.dec.displayName(name, at('usernames'));

  const { status, changed } = deliveryStatus(ctx, lookup(dicts.get('delivery_status'), e), at('delivery_status'));

  const topicsValue = lookup(dicts.get('topics_userinterest'), e);
  const topics: string[] = [];
  if (topicsValue !== undefined) {
    const items = Array.isArray(topicsValue) ? topicsValue : topicsValue instanceof PyTuple ? topicsValue.items : null;
    if (items === null) {
      dec.problem('warning', 'unexpected-setting-type', at('topics_userinterest'), `${at('topics_userinterest')} is ${describe(topicsValue)}; ignored`);
    } else {
      items.forEach((t, i) => {
        if (typeof t === 'string' || t instanceof PyBytes) topics.push(dec.text(t, `${at('topics_userinterest')}[${i}]`));
        else dec.problem('warning', 'unexpected-setting-type', at('topics_userinterest'), `${at('topics_userinterest')}[${i}] is ${describe(t)}; ignored`);
      });
    }
  }

  const bounce = lookup(dicts.get('bounce_info'), e);
  const bounceInfo = bounce === undefined || bounce === null ? null : readBounceInfo(ctx, bounce, at('bounce_info'));

  return {
    key: e.key,
    email: e.email,
    displayName,
    language,
    languageRaw,
    hasPassword,
    delivery: e.digest ? (options.plainDigest ? 'plain-digest' : 'mime-digest') : 'regular',
    deliveryStatus: status,
    deliveryStatusChanged: changed,
    moderated: options.moderate,
    options,
    optionBits,
    topics,
    bounceInfo,
  };
}

function deliveryStatus(
  ctx: RosterContext,
  v: PyValue | undefined,
  key: string,
): { status: Member['deliveryStatus']; changed: string | null } {
  if (v === undefined) return { status: 'enabled', changed: null };
  const items = v instanceof PyTuple ? v.items : Array.isArray(v) ? v : null;
  const code = items?.[0];
  if (!items || code === undefined || !isNumberLike(code)) {
    ctx.dec.problem('warning', 'unexpected-setting-type', key, `${key} is ${describe(v)}, not a (status, time) pair; treated as enabled`);
    return { status: 'enabled', changed: null };
  }
  const n = numberOf(code);
  const status = DELIVERY_STATUS_NAMES[n];
  const time = items[1];
  const changed = time === undefined || time === null ? null : epochToIso(ctx, time, key);
  if (status === undefined) {
    ctx.dec.problem('warning', 'unknown-delivery-status', key, `${key} has unknown status ${n}; treated as unknown`);
    return { status: 'unknown', changed };
  }
  return { status, changed };
}

export function epochToIso(ctx: { dec: ValueDecoder }, v: PyValue, key: string): string | null {
  if (isNumberLike(v)) {
    const ms = numberOf(v) * 1000;
    if (Number.isFinite(ms) && Math.abs(ms) <= 8.64e15) return new Date(ms).toISOString();
  }
  ctx.dec.problem('warning', 'unexpected-setting-type', key, `${key} is ${describe(v)}, not a Unix time; ignored`);
  return null;
}

function ymd(ctx: RosterContext, v: PyValue | undefined, key: string): string | null {
  if (v === undefined || v === null) return null;
  const items = v instanceof PyTuple ? v.items : Array.isArray(v) ? v : null;
  if (items && items.length >= 3 && items.slice(0, 3).every((x) => typeof x === 'number' && Number.isInteger(x))) {
    const [y, m, d] = items as number[];
    return `${String(y).padStart(4, '0')}-${String(m).padStart(2, '0')}-${String(d).padStart(2, '0')}`;
  }
  ctx.dec.problem('warning', 'unexpected-setting-type', key, `${key} is ${describe(v)}, not a (year, month, day) tuple; ignored`);
  return null;
}

function readBounceInfo(ctx: RosterContext, v: PyValue, key: string): BounceInfo | null {
  const state = v instanceof PyInstance ? v.state : v;
  if (!(state instanceof PyDict)) {
    ctx.dec.problem('warning', 'unexpected-setting-type', key, `${key} is ${describe(v)} without a state dict; ignored`);
    return null;
  }
  const num = (name: string): number | null => {
    const x = state.get(name);
    if (x === undefined || x === null) return null;
    if (isNumberLike(x)) return numberOf(x);
    ctx.dec.problem('warning', 'unexpected-setting-type', `${key}.${name}`, `${key}.${name} is ${describe(x)}, not a number; ignored`);
    return null;
  };
  const cookie = state.get('cookie');
  return {
    score: num('score'),
    date: ymd(ctx, state.get('date'), `${key}.date`),
    noticesLeft: num('noticesleft'),
    lastNotice: ymd(ctx, state.get('lastnotice'), `${key}.lastnotice`),
    cookie: typeof cookie === 'string' || cookie instanceof PyBytes ? ctx.dec.text(cookie, `${key}.cookie`) : null,
  };
}

/** Per-member data whose address is in neither roster: Mailman ignores it; we say so. */
function reportOrphans(ctx: RosterContext, dicts: Map<string, PyDict>, entries: Map<string, RosterEntry>): void {
  for (const [name, dict] of dicts) {
    if (name === 'members' || name === 'digest_members') continue;
    let count = 0;
    let example = '';
    for (const [k] of dict.entries()) {
      const label = keyLabel(k).toLowerCase();
      if (!entries.has(label)) {
        if (count++ === 0) example = label;
      }
    }
    if (count > 0) {
      ctx.dec.problem(
        'info',
        'orphan-member-data',
        name,
        `${name} has ${count} entr${count === 1 ? 'y' : 'ies'} for addresses that are not members (e.g. ${example}); not migrated`,
      );
    }
  }
}
