/**
 * The config.pck dict of one Mailman 2.1 list: every attribute MailList.Save() writes for a 2.1.39
 * list (data_version 112), with Mailman's storage quirks — text settings as byte strings in the
 * list's charset, subject_prefix as unicode, member names as str or unicode, case-preserved member
 * addresses, absent option entries for bitfield 0, delivery status tuples and _BounceInfo
 * instances (reference mailman2.md §1.2-1.3).
 */
import { encodeText, type Charset } from './charsets.js';
import { PyDict, PyInstance, pyBytes, pyFloat, pyStr, pyTuple, pyUnicode, type PyStr, type PyValue } from './pickle-writer.js';
import { type Rng } from './random.js';

export type ListLanguage = 'en' | 'fr' | 'de' | 'ja' | 'ru';

/** Charset of each language, from Mailman's Defaults.py add_language() calls. */
export const LANGUAGE_CHARSET: Record<ListLanguage, Charset> = {
  en: 'us-ascii',
  fr: 'iso-8859-1',
  de: 'iso-8859-1',
  ja: 'euc-jp',
  ru: 'koi8-r',
};

/** How a member's real name ended up in config.pck (it depends on the page or tool used). */
export type NameStorage = 'unicode' | 'str-ascii' | 'str-utf8' | 'str-list-charset' | 'str-rfc2047';

export interface MemberSpec {
  /** Address as subscribed (case preserved). */
  address: string;
  name: string | null;
  nameStorage: NameStorage;
  digest: boolean;
  /** user_options bitfield (0 = no entry). */
  options: number;
  password: string;
  language: string;
  /** DeliveryStatus: 2 BYUSER, 3 BYADMIN, 4 BYBOUNCE (with bounce info). */
  delivery: { status: 2 | 3 | 4; ms: number } | null;
  topics: string[];
}

export interface ListSpec {
  name: string;
  realName: string;
  host: string;
  webHost: string;
  webScheme: 'http' | 'https';
  language: ListLanguage;
  description: string;
  info: string;
  /** Prefix as typed, may contain %d. */
  subjectPrefix: string;
  archive: boolean;
  archivePrivate: boolean;
  /** 0 yearly, 1 monthly, 2 quarterly, 3 weekly, 4 daily. */
  archiveVolumeFrequency: number;
  owners: string[];
  moderators: string[];
  members: MemberSpec[];
  createdMs: number;
  lastPostMs: number;
  postCount: number;
  genericNonmemberAction: 0 | 1 | 2 | 3;
  subscribePolicy: 0 | 1 | 2 | 3;
  acceptNonmembers: string[];
  holdNonmembers: string[];
  rejectNonmembers: string[];
  discardNonmembers: string[];
  banList: string[];
  topics: Array<{ name: string; pattern: string; description: string }>;
  footer: string;
  /** hold_and_cmd_autoresponses entries: address -> (date, count). */
  autoresponses: Array<{ address: string; ms: number; count: number }>;
}

const BOUNCE_MATCHING_HEADERS = "\n# Lines that *start* with a '#' are comments.\nto: friend@public.com\nmessage-id: relay.comanche.denmark.eu\nfrom: list@listme.com\nfrom: .*@uplinkpro.com\n";

function ymd(ms: number): PyValue {
  const d = new Date(ms);
  return pyTuple(d.getUTCFullYear(), d.getUTCMonth() + 1, d.getUTCDate());
}

/** OldStyleMemberships: the key is the lower-cased address; the value is 0 or the case-preserved form. */
export function memberValue(address: string): { key: string; value: string | 0 } {
  const at = address.lastIndexOf('@');
  const preserved = `${address.slice(0, at)}@${address.slice(at + 1).toLowerCase()}`;
  const key = address.toLowerCase();
  return { key, value: preserved === key ? 0 : preserved };
}

export function listConfigDict(rng: Rng, spec: ListSpec): PyDict {
  const charset = LANGUAGE_CHARSET[spec.language];
  // Text settings are the bytes the admin page (served in the list charset) sent.
  const text = (s: string): PyStr => {
    let out = '';
    for (const ch of s) {
      try {
        out += encodeText(ch, charset === 'us-ascii' ? 'us-ascii' : charset);
      } catch {
        out += `&#${ch.codePointAt(0)};`;
      }
    }
    return pyBytes(out);
  };
  const ascii = (s: string): PyStr => pyStr(s);
  const webUrl = `${spec.webScheme}://${spec.webHost}/mailman/`;
  const lang = ascii(spec.language);
  const en = spec.language === 'en' ? lang : ascii('en');

  const members = new PyDict();
  const digestMembers = new PyDict();
  const passwords = new PyDict();
  const language = new PyDict();
  const userOptions = new PyDict();
  const usernames = new PyDict();
  const deliveryStatus = new PyDict();
  const bounceInfo = new PyDict();
  const topicsInterest = new PyDict();
  for (const m of spec.members) {
    const { key, value } = memberValue(m.address);
    const k = ascii(key);
    (m.digest ? digestMembers : members).set(k, value === 0 ? 0 : ascii(value));
    passwords.set(ascii(key), ascii(m.password));
    // The interned language code object is shared, so repeated values pickle as BINGET.
    language.set(ascii(key), m.language === spec.language ? lang : m.language === 'en' ? en : ascii(m.language));
    if (m.options !== 0) userOptions.set(ascii(key), m.options);
    if (m.name !== null) usernames.set(ascii(key), nameValue(m.name, m.nameStorage, charset));
    if (m.delivery) {
      deliveryStatus.set(ascii(key), pyTuple(m.delivery.status, pyFloat(m.delivery.ms / 1000)));
      if (m.delivery.status === 4) {
        const state = new PyDict()
          .set(ascii('member'), ascii(key))
          .set(ascii('score'), pyFloat(rng.pick([2.0, 3.0, 5.0, 5.5])))
          .set(ascii('date'), ymd(m.delivery.ms - 10 * 86_400_000))
          .set(ascii('noticesleft'), rng.int(0, 3))
          .set(ascii('lastnotice'), ymd(m.delivery.ms))
          .set(ascii('cookie'), ascii(rng.hex(40)));
        bounceInfo.set(ascii(key), new PyInstance('Mailman.Bouncer', '_BounceInfo', state));
      }
    }
    if (m.topics.length > 0) topicsInterest.set(ascii(key), m.topics.map(ascii));
  }
  const autoresponses = new PyDict();
  for (const a of spec.autoresponses) autoresponses.set(ascii(a.address), pyTuple(ymd(a.ms), a.count));

  const footerFor = (what: string) => text(what);
  const d = new PyDict();
  const entries: Array<[string, PyValue]> = [
    ['accept_these_nonmembers', spec.acceptNonmembers.map(ascii)],
    ['acceptable_aliases', ascii('\n')],
    ['admin_immed_notify', true],
    ['admin_member_chunksize', 30],
    ['admin_notify_mchanges', rng.chance(0.3)],
    ['admin_responses', new PyDict()],
    ['administrivia', true],
    ['advertised', rng.chance(0.8)],
    ['anonymous_list', false],
    ['archive', spec.archive],
    ['archive_private', spec.archivePrivate ? 1 : 0],
    ['archive_volume_frequency', spec.archiveVolumeFrequency],
    ['autorespond_admin', 0],
    ['autorespond_postings', 0],
    ['autorespond_requests', 0],
    ['autoresponse_admin_text', ascii('')],
    ['autoresponse_graceperiod', 90],
    ['autoresponse_postings_text', ascii('')],
    ['autoresponse_request_text', ascii('')],
    ['available_languages', spec.language === 'en' ? [en] : [lang, en]],
    ['ban_list', spec.banList.map(ascii)],
    ['bounce_info', bounceInfo],
    ['bounce_info_stale_after', 604800],
    ['bounce_matching_headers', ascii(BOUNCE_MATCHING_HEADERS)],
    ['bounce_notify_owner_on_bounce_increment', false],
    ['bounce_notify_owner_on_disable', true],
    ['bounce_notify_owner_on_removal', true],
    ['bounce_processing', true],
    ['bounce_score_threshold', pyFloat(rng.pick([5.0, 5.0, 2.0, 3.0]))],
    ['bounce_unrecognized_goes_to_list_owner', true],
    ['bounce_you_are_disabled_warnings', 3],
    ['bounce_you_are_disabled_warnings_interval', 604800],
    ['collapse_alternatives', true],
    ['convert_html_to_plaintext', rng.chance(0.5)],
    ['created_at', pyFloat(spec.createdMs / 1000)],
    ['data_version', 112],
    ['default_member_moderation', rng.chance(0.1) ? 1 : 0],
    ['delivery_status', deliveryStatus],
    ['description', text(spec.description)],
    ['digest_footer', footerFor(spec.footer.replace(/^_+\n/, ''))],
    ['digest_header', ascii('')],
    ['digest_is_default', false],
    ['digest_last_sent_at', pyFloat(Math.floor(spec.lastPostMs / 1000) + rng.float())],
    ['digest_members', digestMembers],
    ['digest_send_periodic', true],
    ['digest_size_threshhold', rng.pick([30, 60, 100])],
    ['digest_volume_frequency', 1],
    ['digestable', true],
    ['discard_these_nonmembers', spec.discardNonmembers.map(ascii)],
    ['dmarc_moderation_action', rng.pick([0, 0, 1])],
    ['dmarc_moderation_addresses', []],
    ['dmarc_moderation_notice', ascii('')],
    ['dmarc_none_moderation_action', false],
    ['dmarc_quarantine_moderation_action', true],
    ['dmarc_wrapped_message_text', ascii('')],
    ['drop_cc', true],
    ['emergency', 0],
    ['encode_ascii_prefixes', 0],
    ['equivalent_domains', ascii('')],
    ['filter_action', 0],
    ['filter_content', rng.chance(0.2)],
    ['filter_filename_extensions', ['exe', 'bat', 'cmd', 'com', 'pif', 'scr', 'vbs', 'cpl'].map(ascii)],
    ['filter_mime_types', []],
    ['first_strip_reply_to', false],
    ['forward_auto_discards', true],
    ['from_is_list', 0],
    ['gateway_to_mail', 0],
    ['gateway_to_news', 0],
    ['generic_nonmember_action', spec.genericNonmemberAction],
    ['goodbye_msg', ascii('')],
    ['header_filter_rules', rng.chance(0.15) ? [pyTuple(ascii('^subject:.*(viagra|casino)'), 3, false)] : []],
    ['hold_and_cmd_autoresponses', autoresponses],
    ['hold_these_nonmembers', spec.holdNonmembers.map(ascii)],
    ['host_name', ascii(spec.host)],
    ['include_list_post_header', 1],
    ['include_rfc2369_headers', 1],
    ['include_sender_header', 1],
    ['info', text(spec.info)],
    ['language', language],
    ['last_post_time', pyFloat(Math.floor(spec.lastPostMs / 1000) + rng.float())],
    ['linked_newsgroup', ascii('')],
    ['max_days_to_hold', 0],
    ['max_message_size', rng.pick([40, 40, 100, 200, 0])],
    ['max_num_recipients', 10],
    ['member_moderation_action', 0],
    ['member_moderation_notice', ascii('')],
    ['member_verbosity_interval', 300],
    ['member_verbosity_threshold', 0],
    ['members', members],
    ['mime_is_default_digest', rng.chance(0.5) ? 1 : 0],
    ['mod_password', rng.chance(0.2) ? ascii(rng.hex(40)) : null],
    ['moderator', spec.moderators.map(ascii)],
    ['msg_footer', text(spec.footer)],
    ['msg_header', ascii('')],
    ['new_member_options', 256],
    ['news_moderation', 0],
    ['news_prefix_subject_too', 1],
    ['next_digest_number', rng.int(1, 400)],
    ['next_post_number', 1],
    ['next_request_id', rng.int(1, 300)],
    ['nntp_host', ascii('')],
    ['nondigestable', true],
    ['nonmember_rejection_notice', ascii('')],
    ['obscure_addresses', 1],
    ['one_last_digest', new PyDict()],
    ['owner', spec.owners.map(ascii)],
    ['pass_filename_extensions', []],
    ['pass_mime_types', ['multipart', 'message/rfc822', 'application/pgp-signature', 'text/plain'].map(ascii)],
    ['password', ascii(rng.hex(40))],
    ['passwords', passwords],
    ['personalize', 0],
    ['post_id', pyFloat(spec.postCount + 1)],
    ['post_password', null],
    ['postings_responses', new PyDict()],
    ['preferred_language', lang],
    ['private_roster', 1],
    ['real_name', ascii(spec.realName)],
    ['regular_exclude_ignore', true],
    ['regular_exclude_lists', []],
    ['regular_include_lists', []],
    ['reject_these_nonmembers', spec.rejectNonmembers.map(ascii)],
    ['reply_goes_to_list', rng.chance(0.2) ? 1 : 0],
    ['reply_to_address', ascii('')],
    ['request_responses', new PyDict()],
    ['require_explicit_destination', true],
    ['respond_to_post_requests', true],
    ['scrub_nondigest', false],
    ['send_goodbye_msg', true],
    ['send_reminders', rng.chance(0.7)],
    ['send_welcome_msg', true],
    // Set through the GUI validation path (Utils.canonstr), hence unicode.
    ['subject_prefix', pyUnicode(spec.subjectPrefix)],
    ['subscribe_auto_approval', []],
    ['subscribe_policy', spec.subscribePolicy],
    ['topics', spec.topics.map((t) => pyTuple(ascii(t.name), ascii(t.pattern), ascii(t.description), 0))],
    ['topics_bodylines_limit', 5],
    ['topics_enabled', spec.topics.length > 0 ? 1 : 0],
    ['topics_userinterest', topicsInterest],
    ['umbrella_list', false],
    ['umbrella_member_suffix', ascii('-owner')],
    ['unsubscribe_policy', 0],
    ['user_options', userOptions],
    ['usernames', usernames],
    ['volume', 1],
    ['web_page_url', ascii(webUrl)],
    ['welcome_msg', ascii('')],
  ];
  // Python 2 writes a dict in hash order, which has nothing to do with the attribute names.
  rng.shuffle(entries);
  for (const [k, v] of entries) d.set(ascii(k), v);
  return d;
}

function nameValue(name: string, storage: NameStorage, charset: Charset): PyValue {
  switch (storage) {
    case 'unicode':
      return pyUnicode(name);
    case 'str-ascii':
      return pyStr(name);
    case 'str-utf8':
      return pyStr(name, 'utf8');
    case 'str-list-charset':
      return pyBytes(encodeText(name, charset));
    case 'str-rfc2047': {
      // bin/add_members kept whatever parseaddr returned, RFC 2047 words included.
      const q = Array.from(Buffer.from(name, 'utf8'))
        .map((b) => (b === 0x20 ? '_' : (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a) ? String.fromCharCode(b) : '=' + b.toString(16).toUpperCase().padStart(2, '0')))
        .join('');
      return pyStr(`=?utf-8?q?${q}?=`);
    }
  }
}
