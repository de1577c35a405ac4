import type { DiscourseTargetConfig } from '../../config/schema.js';
import type { ListConfig, Member } from '../../mailman2/list-config.js';
import type { Problem } from '../../problems.js';
import type { Store } from '../../state/store.js';
import type { NotCarried, PlannedChange, TargetPlan } from '../target.js';
import { DEFAULT_USERNAME_RULES, usableEmail, usernameCandidates, type UsernameRules } from './authors.js';
import { checkExternalId, topicExternalId } from './external-id.js';
import { formatDuration } from '../../reports/html.js';
import { secondsForRequests } from './rate-limit.js';
import { topicTitle } from './titles.js';

/** One message to replay, in replay order (parents before children, chronological otherwise). */
export interface ReplayRow {
  ordinal: number;
  offset: number;
  length: number;
  target_message_id: string;
  date: string | null;
  from_name: string | null;
  from_address: string | null;
  subject: string | null;
  thread_subject: string | null;
  parent_ordinal: number | null;
  root_ordinal: number | null;
  depth: number | null;
}

export async function replayRows(store: Store, list: string): Promise<ReplayRow[]> {
  return store.db.all<ReplayRow>(
    `SELECT ordinal, offset, length, target_message_id, date, from_name, from_address, subject, thread_subject,
            parent_ordinal, root_ordinal, depth
       FROM messages WHERE list = ? AND duplicate_kind IS NOT 'same' ORDER BY replay_key, depth, ordinal`,
    [list],
  );
}

/** Category notification level for a member, the nearest equivalent of their Mailman delivery. */
export type MemberLevel = 'watching' | 'watching_first_post' | 'tracking';
export const NOTIFICATION_LEVELS: Record<MemberLevel, number> = { tracking: 2, watching: 3, watching_first_post: 4 };

export function memberLevel(m: Pick<Member, 'delivery' | 'deliveryStatus'>): { level: MemberLevel; why: string } {
  if (m.deliveryStatus !== 'enabled') return { level: 'tracking', why: `delivery disabled (${m.deliveryStatus}): no e-mail, new posts shown as unread` };
  if (m.delivery !== 'regular') return { level: 'watching_first_post', why: `${m.delivery} member: one e-mail per new topic instead of a digest` };
  return { level: 'watching', why: 'regular delivery: an e-mail for every post' };
}

export interface Account {
  /** Lower-cased address: the identity accounts are deduplicated by. */
  email: string;
  /** Address as first seen (case kept), sent to Discourse. */
  sendEmail: string;
  name: string | null;
  posts: number;
  member: boolean;
  firstDate: string | null;
}

export interface TopicPlan {
  root: number;
  title: string;
  externalId: string;
  messageId: string;
  posts: number;
  first: string | null;
  last: string | null;
}

export interface ListModel {
  list: string;
  category: { name: string; slug: string; description: string; parent: number | string | null; restricted: boolean; color: string };
  /** The group created for the list: members (subscriptions) and, for private lists, readers. */
  group: { name: string; watching: boolean; members: number } | null;
  /** Extra group named in the config that may read a private list's category. */
  privateGroup: string | null;
  accounts: Account[];
  /** Authors whose posts go out under the importer account, with why. */
  attributed: { email: string | null; name: string | null; posts: number; reason: string }[];
  members: { email: string; level: MemberLevel; why: string }[];
  topics: TopicPlan[];
  posts: number;
  requests: { settings: number; roster: number; archive: number; verify: number; total: number };
  problems: Problem[];
}

const MEMBER_BATCH = 50;

/** Whether an account's owner is meant to get the list's mail through Discourse (a subscribed member). */
export function receivesListMail(acc: Pick<Account, 'member'>, subscriptions: boolean): boolean {
  return acc.member && subscriptions;
}

/** A category colour (categories.color is varchar(6): six hex digits, no '#'). */
export function categoryColor(name: string): string {
  const palette = ['0088CC', '25AAE2', '12A89D', '3AB54A', '8C6238', 'F7941D', 'E45735', 'BF1E2E', 'B3B5B4', '652D90', '231F20', 'ED207B'];
  let h = 0;
  for (const ch of name) h = (h * 31 + ch.codePointAt(0)!) >>> 0;
  return palette[h % palette.length]!;
}

export function categorySlug(list: string): string {
  const s = list.toLowerCase().normalize('NFKD').replace(/\p{M}+/gu, '').replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '');
  return s === '' || /^\d+$/.test(s) ? `list-${s || 'archive'}` : s;
}

/** Category names are 1..50 characters and unique under their parent (case-insensitive). */
export function categoryName(config: ListConfig): string {
  const name = (config.realName || config.name).replace(/\s+/g, ' ').trim() || config.name;
  return [...name].slice(0, 50).join('');
}

function stripHtml(s: string): string {
  return s
    .replace(/<br\s*\/?>/gi, '\n')
    .replace(/<\/p>/gi, '\n\n')
    .replace(/<[^>]+>/g, '')
    .replace(/&nbsp;/g, ' ')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&#(\d+);/g, (_m, n: string) => String.fromCodePoint(Number(n)))
    .replace(/&amp;/g, '&');
}

/** The category description (its "About" post): the list's one-line description, then its info text. */
export function categoryDescription(config: ListConfig): string {
  const parts = [config.description.trim(), stripHtml(config.info).trim()].filter((p) => p !== '');
  const unique = parts.filter((p, i) => parts.indexOf(p) === i);
  return unique.join('\n\n') || `Archive of the ${config.realName || config.name} mailing list.`;
}

/** The list's group: `<list>-members`, fitted to Discourse's name rules (group names follow username rules). */
export function listGroupName(list: string, rules: UsernameRules = DEFAULT_USERNAME_RULES): string {
  const it = usernameCandidates(null, `${list}-members@x`, { ...rules, reserved: [...rules.reserved, list] });
  const first = it.next();
  return first.done ? 'list-members' : first.value;
}

/** Everything the apply phases will do for one list, computed from the state database alone. */
export async function buildListModel(
  store: Store,
  list: string,
  config: ListConfig,
  tcfg: DiscourseTargetConfig,
  rules: UsernameRules = DEFAULT_USERNAME_RULES,
): Promise<ListModel> {
  const problems: Problem[] = [];
  const rows = await replayRows(store, list);
  const restricted = config.archive.private;
  const memberKeys = new Map(config.members.map((m) => [m.key.toLowerCase(), m]));
  const wantMembers = tcfg.subscriptions || restricted;

  const accounts = new Map<string, Account>();
  const attributed = new Map<string, { email: string | null; name: string | null; posts: number; reason: string }>();
  const attribute = (email: string | null, name: string | null, reason: string) => {
    const key = `${email ?? ''}\n${email ? '' : name ?? ''}`;
    const a = attributed.get(key) ?? { email, name, posts: 0, reason };
    a.posts++;
    attributed.set(key, a);
  };

  for (const r of rows) {
    const address = r.from_address?.trim() || null;
    if (tcfg.authors === 'importer-account') {
      attribute(address, r.from_name, 'authors: importer-account');
      continue;
    }
    if (!usableEmail(address)) {
      attribute(address, r.from_name, address ? 'address Discourse would not accept' : 'no sender address');
      continue;
    }
    const key = address!.toLowerCase();
    if (restricted && !memberKeys.has(key)) {
      attribute(address, r.from_name, 'private list: not a current member, so no access to the restricted category');
      continue;
    }
    const acc = accounts.get(key) ?? { email: key, sendEmail: address!, name: null, posts: 0, member: memberKeys.has(key), firstDate: r.date };
    if (!acc.name && r.from_name?.trim()) acc.name = r.from_name.trim();
    acc.posts++;
    accounts.set(key, acc);
  }

  const members: ListModel['members'] = [];
  if (wantMembers) {
    for (const m of config.members) {
      const key = m.key.toLowerCase();
      if (!usableEmail(m.email)) {
        problems.push({ severity: 'warning', code: 'discourse-member-address', list, message: `${list}: member ${m.email} has an address Discourse would not accept; not carried over` });
        continue;
      }
      const existing = accounts.get(key);
      if (existing) {
        existing.member = true;
        if (!existing.name && m.displayName) existing.name = m.displayName;
      } else {
        accounts.set(key, { email: key, sendEmail: m.email, name: m.displayName, posts: 0, member: true, firstDate: null });
      }
      if (tcfg.subscriptions) members.push({ email: key, ...levelOf(m) });
    }
  }

  // Threads: one topic per root, titled from the root's subject.
  const topics: TopicPlan[] = [];
  const byRoot = new Map<number, TopicPlan>();
  for (const r of rows) {
    const root = r.depth === 0 || r.parent_ordinal === null ? r.ordinal : r.root_ordinal ?? r.ordinal;
    let t = byRoot.get(root);
    if (!t) {
      const externalId = topicExternalId(list, r.target_message_id);
      const bad = checkExternalId(externalId);
      if (bad) throw new Error(`${list}: ${bad}`);
      t = { root, title: topicTitle(r.thread_subject, r.subject), externalId, messageId: r.target_message_id, posts: 0, first: r.date, last: r.date };
      byRoot.set(root, t);
      topics.push(t);
    }
    t.posts++;
    if (r.date && (!t.last || r.date > t.last)) t.last = r.date;
    if (!r.date) problems.push({ severity: 'warning', code: 'discourse-no-date', list, message: `${list}: message ${r.target_message_id} has no date; it will be posted with the time of the import` });
  }

  const group = wantMembers ? { name: listGroupName(list, rules), watching: tcfg.subscriptions, members: members.length || config.members.length } : null;
  const accountList = [...accounts.values()];
  const overrides = members.filter((m) => m.level !== 'watching').length;
  const settingsRequests = 1 /* category lookup */ + 1 /* create */ + (group ? 3 : 0) + (tcfg.parentCategory !== undefined ? 1 : 0);
  // At most one e-mail-preferences update per account created for someone not subscribed to the list.
  const silenced = accountList.filter((a) => !receivesListMail(a, tcfg.subscriptions)).length;
  const rosterRequests = accountList.length + silenced + (group ? Math.ceil(accountList.filter((a) => a.member).length / MEMBER_BATCH) + 1 : 0) + overrides;
  const archiveRequests = rows.length;
  const verifyRequests = topics.length + 1;
  return {
    list,
    category: {
      name: categoryName(config),
      slug: categorySlug(list),
      description: categoryDescription(config),
      parent: tcfg.parentCategory ?? null,
      restricted,
      color: categoryColor(list),
    },
    group,
    privateGroup: restricted ? tcfg.privateGroup ?? null : null,
    accounts: accountList,
    attributed: [...attributed.values()],
    members,
    topics,
    posts: rows.length,
    requests: {
      settings: settingsRequests,
      roster: rosterRequests,
      archive: archiveRequests,
      verify: verifyRequests,
      total: settingsRequests + rosterRequests + archiveRequests + verifyRequests,
    },
    problems,
  };

  function levelOf(m: Member): { level: MemberLevel; why: string } {
    return memberLevel(m);
  }
}

/** The dry-run: what would be created on the Discourse site for this list, and how long it takes. */
export function planFromModel(model: ListModel, config: ListConfig, tcfg: DiscourseTargetConfig): TargetPlan {
  const settings: PlannedChange[] = [
    { key: 'category.name', value: model.category.name, from: ['real_name'] },
    { key: 'category.slug', value: model.category.slug, from: ['(list name)'] },
    { key: 'category.description', value: model.category.description, from: ['description', 'info'] },
    { key: 'category.color', value: model.category.color },
  ];
  if (model.category.parent !== null) settings.push({ key: 'category.parent', value: model.category.parent });
  if (model.category.restricted) {
    const readers = [model.privateGroup, model.group?.name].filter((g): g is string => !!g);
    settings.push({ key: 'category.permissions', value: Object.fromEntries(readers.map((g) => [g, 'full'])), from: ['archive_private'] });
  }
  if (model.group) settings.push({ key: 'group.name', value: model.group.name, from: ['members'] });
  if (model.group?.watching) settings.push({ key: 'group.watching_category', value: model.category.name, from: ['members', 'digest_members', 'delivery_status'] });

  const notCarried: NotCarried[] = [
    { key: 'subject_prefix', value: config.subjectPrefix, reason: 'removed from topic titles; Discourse has no subject prefix' },
    { key: 'msg_footer', value: config.msgFooter, reason: 'Discourse adds its own footer to notification e-mails' },
    { key: 'moderation', value: { default_member_moderation: config.defaultMemberModeration, generic_nonmember_action: config.genericNonmemberAction }, reason: 'posting rules are Discourse trust levels and category permissions; set them by hand' },
    { key: 'Message-ID threading for replies by e-mail', value: null, reason: 'the API cannot create IncomingEmail rows: a mail reply to an archived message starts a new topic' },
  ];
  if (!tcfg.subscriptions) notCarried.push({ key: 'members', value: config.members.length, reason: 'target.subscriptions is off' });
  if (tcfg.authors === 'importer-account') notCarried.push({ key: 'authors', value: model.attributed.length, reason: 'authors: importer-account (posts name the author in an attribution line)' });

  const seconds = secondsForRequests(model.requests.total, tcfg.requestsPerMinute);
  return {
    target: 'discourse',
    settings,
    notCarried,
    details: {
      category: model.category,
      group: model.group,
      privateGroup: model.privateGroup,
      users: model.accounts.map((a) => ({
        email: a.email,
        name: a.name,
        username: usernameCandidates(a.name, a.email).next().value ?? null,
        posts: a.posts,
        member: a.member,
      })),
      attributed: model.attributed,
      subscriptions: model.members,
      topics: model.topics,
      posts: model.posts,
      requests: model.requests,
      duration: `${formatDuration(seconds)} at ${tcfg.requestsPerMinute} admin API requests per minute`,
    },
    estimate: {
      requests: model.requests.total,
      seconds,
      basis: `${model.requests.total} admin API requests (category and group ${model.requests.settings}, accounts ${model.requests.roster}, posts ${model.requests.archive}, verify ${model.requests.verify}; plus one per attachment) at ${tcfg.requestsPerMinute} per minute, the site-wide admin API budget`,
    },
    problems: model.problems,
  };
}
