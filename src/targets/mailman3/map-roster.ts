/**
 * Mailman 2 owners, moderators and members → Mailman 3 roster entries in REST spellings
 * (POST /3.1/members, PATCH /3.1/members/<id> for moderation_action, PATCH
 * /3.1/members/<id>/preferences).
 *
 * Mirrors import21's `import_roster`: delivery mode from members/digest_members and the
 * DisableMime bit, delivery status from delivery_status, moderation from the Moderate bit and the
 * list's member_moderation_action, the AcknowledgePosts/ConcealSubscription/DontReceiveOwnPosts/
 * DontReceiveDuplicates bits as preferences, banned and invalid addresses skipped. Deliberate
 * differences:
 * - preferences are set from the bits for every member; import21 sets them only when a
 *   user_options entry exists, which leaves members whose bits are all 0 with Mailman 3's
 *   defaults (hide_address true) although Mailman 2 showed them;
 * - preferred_language is always set (the list's language when the member has none), because a
 *   Mailman 3 member without one falls back to the site default, not to the list's;
 * - moderationAction is null rather than an explicit "defer" when that equals the list default;
 * - owners/moderators keep their case-preserved address (import21 lower-cases them);
 * - skipped addresses are reported instead of only printed.
 */
import type { ListConfig, Member } from '../../mailman2/list-config.js';
import type { Problem } from '../../problems.js';
import { checkBanned, isValidMailman3Email } from './map-regex.js';
import { defaultMemberAction } from './map-settings.js';
import { MEMBER_MODERATION_ACTIONS, type Mailman3Action, type NotCarried } from './map-types.js';

export type DeliveryMode = 'regular' | 'mime_digests' | 'plaintext_digests';
export type DeliveryStatus = Member['deliveryStatus'];

export interface RosterPerson {
  /** Case-preserved; Mailman 3 keeps it as the address's original_email. */
  email: string;
  displayName: string | null;
}

/** Body of PATCH /3.1/members/<id>/preferences. */
export interface MemberPreferences {
  preferred_language: string;
  acknowledge_posts: boolean;
  hide_address: boolean;
  receive_own_postings: boolean;
  receive_list_copy: boolean;
  delivery_mode: DeliveryMode;
  delivery_status: DeliveryStatus;
}

export interface MemberPlan extends RosterPerson {
  role: 'member';
  deliveryMode: DeliveryMode;
  deliveryStatus: DeliveryStatus;
  /** PATCH /3.1/members/<id> moderation_action; null = leave it to the list's default_member_action. */
  moderationAction: Mailman3Action | null;
  preferences: MemberPreferences;
}

export interface RosterPlan {
  owners: RosterPerson[];
  moderators: RosterPerson[];
  members: MemberPlan[];
  notCarried: NotCarried[];
  problems: Problem[];
}

const DELIVERY_MODES: Readonly<Record<Member['delivery'], DeliveryMode>> = {
  regular: 'regular',
  'mime-digest': 'mime_digests',
  'plain-digest': 'plaintext_digests',
};

export function mapRoster(config: ListConfig): RosterPlan {
  const plan: RosterPlan = { owners: [], moderators: [], members: [], notCarried: [], problems: [] };
  // The Mailman 2 spellings: the ban check reads Python 2 syntax itself.
  const bans = [...config.banList.addresses, ...config.banList.regexes];
  const undeterminedBans = new Set<string>();

  /** import21 `_import_roster`: banned and invalid addresses are skipped, duplicates kept once. */
  const admit = (email: string, role: string, seen: Set<string>): string | null => {
    const lower = email.toLowerCase();
    if (seen.has(lower)) {
      plan.problems.push({ severity: 'info', code: 'roster-duplicate', list: config.name, message: `${config.name}: ${email} is listed twice as ${role}; kept once` });
      return null;
    }
    seen.add(lower);
    const ban = checkBanned(email, bans);
    for (const b of ban.undetermined) undeterminedBans.add(b);
    if (ban.bannedBy !== null) {
      plan.notCarried.push({ key: role, value: email, reason: `banned by ban_list entry ${ban.bannedBy}: Mailman 3 refuses banned addresses (import21 skips them)`, viaImport21: false });
      return null;
    }
    // import21 falls back to the lower-cased key when the case-preserved form is not valid.
    const usable = isValidMailman3Email(email) ? email : isValidMailman3Email(lower) ? lower : null;
    if (usable === null) {
      plan.notCarried.push({ key: role, value: email, reason: 'not an address Mailman 3 accepts (its email validator refuses it; import21 skips it silently)', viaImport21: false });
    }
    return usable;
  };

  const byKey = new Map(config.members.map((m) => [m.key.toLowerCase(), m]));
  const staff = (addresses: readonly string[], role: 'owner' | 'moderator'): RosterPerson[] => {
    const seen = new Set<string>();
    const out: RosterPerson[] = [];
    for (const address of addresses) {
      const email = admit(address, role, seen);
      if (email === null) continue;
      // import21 takes the name from `usernames`, which only members have.
      out.push({ email, displayName: byKey.get(email.toLowerCase())?.displayName ?? null });
    }
    return out;
  };
  plan.owners = staff(config.owners, 'owner');
  plan.moderators = staff(config.moderators, 'moderator');

  const listDefault = defaultMemberAction(config);
  const moderatedAction = MEMBER_MODERATION_ACTIONS[config.memberModerationAction] ?? 'hold';
  const seen = new Set<string>();
  const passwords: string[] = [];
  const suppressReminders: string[] = [];
  const topicInterest: Record<string, string[]> = {};
  const nonmatchingTopics: string[] = [];
  const bounceInfo: Record<string, { score: number | null; date: string | null; noticesLeft: number | null; lastNotice: string | null }> = {};
  const statusChanged: Record<string, string> = {};
  const obsoleteDisable: string[] = [];

  for (const m of config.members) {
    const email = admit(m.email, 'members', seen);
    if (email === null) continue;
    const deliveryMode = DELIVERY_MODES[m.delivery];
    const moderated = m.moderated || m.options.moderate;
    // Mailman 2's default_member_moderation only set the bit on new members; the bit decides.
    const own: Mailman3Action = moderated ? moderatedAction : 'defer';
    plan.members.push({
      email,
      displayName: m.displayName,
      role: 'member',
      deliveryMode,
      deliveryStatus: m.deliveryStatus,
      moderationAction: own === listDefault ? null : own,
      preferences: {
        preferred_language: m.language || config.preferredLanguage,
        acknowledge_posts: m.options.acknowledgePosts,
        hide_address: m.options.conceal,
        receive_own_postings: !m.options.dontReceiveOwnPosts,
        receive_list_copy: !m.options.dontReceiveDuplicates,
        delivery_mode: deliveryMode,
        delivery_status: m.deliveryStatus,
      },
    });
    if (m.hasPassword) passwords.push(email);
    if (m.options.suppressPasswordReminder) suppressReminders.push(email);
    if (m.topics.length > 0) topicInterest[email] = m.topics;
    if (m.options.receiveNonmatchingTopics) nonmatchingTopics.push(email);
    if (m.options.disableDelivery) obsoleteDisable.push(email);
    if (m.bounceInfo) {
      // The confirmation cookie is a secret and means nothing to Mailman 3.
      const { score, date, noticesLeft, lastNotice } = m.bounceInfo;
      bounceInfo[email] = { score, date, noticesLeft, lastNotice };
    }
    if (m.deliveryStatusChanged && m.deliveryStatus !== 'enabled') statusChanged[email] = m.deliveryStatusChanged;
  }

  if (passwords.length > 0) {
    plan.notCarried.push({
      key: 'passwords',
      value: { membersWithPassword: passwords.length },
      reason:
        'member passwords are never carried (import21 does not import them either): Mailman 3 members log in to the web UI with their own accounts; the values are withheld from this report',
      viaImport21: false,
    });
  }
  if (suppressReminders.length > 0) {
    plan.notCarried.push({ key: 'user_options.SuppressPasswordReminder', value: suppressReminders, reason: 'Mailman 3 sends no password reminders', viaImport21: false });
  }
  if (Object.keys(topicInterest).length > 0 || nonmatchingTopics.length > 0) {
    plan.notCarried.push({
      key: 'topics_userinterest',
      value: { topics: topicInterest, receiveNonmatchingTopics: nonmatchingTopics },
      reason: 'Mailman 3 has no per-member topic subscriptions (import21 ignores them too)',
      viaImport21: false,
    });
  }
  if (obsoleteDisable.length > 0) {
    plan.notCarried.push({ key: 'user_options.DisableDelivery', value: obsoleteDisable, reason: 'obsolete bit that Mailman 2.1 itself ignores (delivery_status decides)', viaImport21: false });
  }
  if (Object.keys(bounceInfo).length > 0) {
    plan.notCarried.push({
      key: 'bounce_info',
      value: bounceInfo,
      reason: "Mailman 3's bounce score per member cannot be set over REST (import21 does not carry it either); bounce counting starts afresh",
      viaImport21: false,
    });
  }
  if (Object.keys(statusChanged).length > 0) {
    plan.notCarried.push({ key: 'delivery_status', value: statusChanged, reason: 'when delivery was disabled: Mailman 3 keeps no such date (import21 drops it too)', viaImport21: false });
  }
  for (const ban of undeterminedBans) {
    plan.problems.push({
      severity: 'warning',
      code: 'ban-regex-unchecked',
      list: config.name,
      key: 'ban_list',
      message: `${config.name}: ban_list entry ${ban} uses Python regex syntax that could not be checked here; Mailman 3 will refuse any address it matches`,
    });
  }
  return plan;
}
