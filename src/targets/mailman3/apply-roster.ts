/**
 * The roster phase on a Mailman 3 core: owners, moderators and members from `mapRoster(config)`.
 *
 * Members are subscribed pre-verified, pre-confirmed and pre-approved with no welcome message,
 * while the list's send_welcome_message and admin_notify_mchanges are off (as import21 does);
 * both get the list's own values back afterwards, also when the phase fails or is interrupted.
 * Already subscribed = done: the rosters are read first, so a re-run (or a run after a lost state
 * database) only adds what is missing and only changes what differs. Every operation is
 * journalled with the Mailman member id, keyed by role and address.
 */
import type { ListConfig } from '../../mailman2/list-config.js';
import type { Problem } from '../../problems.js';
import type { ListContext } from '../target.js';
import { IMPORT_QUIET_SETTINGS, mailman3SettingsPlan } from './apply-settings.js';
import type { Mailman3Env } from './env.js';
import { mapRoster, type MemberPlan, type MemberPreferences, type RosterPerson } from './map-roster.js';
import { defaultMemberAction } from './map-settings.js';
import type { Mailman3Action } from './map-types.js';
import { AddressSchema, ListSchema, MemberSchema, NoContent, PendingSchema, type CoreMember } from './rest-client.js';

export const ROSTER_PHASE = 'roster';

type Role = 'owner' | 'moderator' | 'member';

interface Planned {
  role: Role;
  person: RosterPerson;
  member?: MemberPlan;
}

export async function applyMailman3Roster(ctx: ListContext, env: Mailman3Env): Promise<void> {
  const problems: Problem[] = [];
  const { core } = env;
  const names = env.names(ctx.config);
  const list = await core.find({ list: ctx.list, operation: `look up list ${names.fqdn}`, path: `/lists/${encodeURIComponent(names.fqdn)}`, schema: ListSchema });
  if (list === null) throw new Error(`${ctx.list}: import roster: the list ${names.fqdn} does not exist on the Mailman 3 core; run the settings phase first`);
  const listId = list.list_id;
  const roster = mapRoster(ctx.config);
  const listConfig = mailman3SettingsPlan(ctx, env).listConfig;

  await setNotifications(ctx, env, listId, 'quiet', Object.fromEntries(IMPORT_QUIET_SETTINGS.map((k) => [k, false])));
  try {
    const planned: Planned[] = [
      ...roster.owners.map((person) => ({ role: 'owner' as const, person })),
      ...roster.moderators.map((person) => ({ role: 'moderator' as const, person })),
      ...roster.members.map((member) => ({ role: 'member' as const, person: member, member })),
    ];
    await importRoster(ctx, env, listId, planned, problems);
  } finally {
    // The list's own values, also after a failure: a live list must not stay silent.
    const restore = Object.fromEntries(IMPORT_QUIET_SETTINGS.map((k) => [k, typeof listConfig[k] === 'boolean' ? listConfig[k] : k === 'send_welcome_message']));
    try {
      await setNotifications(ctx, env, listId, 'restore', restore);
    } finally {
      await ctx.store.replaceProblems(ctx.list, ROSTER_PHASE, problems);
    }
  }
}

async function setNotifications(ctx: ListContext, env: Mailman3Env, listId: string, key: 'quiet' | 'restore', values: Record<string, boolean>): Promise<void> {
  await ctx.store.journalPending(ctx.list, ROSTER_PHASE, 'notifications', key);
  await env.core.ok({
    list: ctx.list,
    operation: key === 'quiet' ? 'switch off welcome messages and owner notifications for the import' : 'restore welcome messages and owner notifications',
    method: 'PATCH',
    path: `/lists/${encodeURIComponent(listId)}/config`,
    form: values,
    schema: NoContent,
  });
  await ctx.store.journalDone(ctx.list, ROSTER_PHASE, 'notifications', key, { targetId: listId, detail: values });
}

async function readRoster(ctx: ListContext, env: Mailman3Env, listId: string, role: Role): Promise<Map<string, CoreMember>> {
  const entries = await env.core.all({
    list: ctx.list,
    operation: `read ${role} roster`,
    path: `/lists/${encodeURIComponent(listId)}/roster/${role}`,
    entry: MemberSchema,
  });
  return new Map(entries.map((m) => [m.email.toLowerCase(), m]));
}

const subscribeKey = (role: Role, email: string): string => `${role}:${email.toLowerCase()}`;

async function importRoster(ctx: ListContext, env: Mailman3Env, listId: string, planned: Planned[], problems: Problem[]): Promise<void> {
  const { store, list } = ctx;
  const rosters = new Map<Role, Map<string, CoreMember>>();
  for (const role of ['owner', 'moderator', 'member'] as const) rosters.set(role, await readRoster(ctx, env, listId, role));
  const total = planned.length * 2;
  let done = 0;

  // Pass 1: subscribe whoever is missing.
  const refused = new Set<string>();
  for (const p of planned) {
    if (ctx.signal.aborted) return;
    ctx.progress(++done, total, 'roster entries');
    const email = p.person.email;
    const key = subscribeKey(p.role, email);
    const existing = rosters.get(p.role)!.get(email.toLowerCase());
    if (existing) {
      const entry = await store.journalEntry(list, ROSTER_PHASE, 'subscribe', key);
      if (entry?.status !== 'done') await store.journalDone(list, ROSTER_PHASE, 'subscribe', key, { targetId: existing.member_id, detail: { existed: true } });
      continue;
    }
    await store.journalPending(list, ROSTER_PHASE, 'subscribe', key);
    const outcome = await subscribe(ctx, env, listId, p);
    if ('refused' in outcome) {
      refused.add(key);
      problems.push({ severity: 'warning', code: 'subscription-refused', list, key: p.role, message: `${list}: ${p.role} ${email} not carried: ${outcome.refused}` });
      await store.journalDone(list, ROSTER_PHASE, 'subscribe', key, { status: 'failed', detail: { reason: outcome.refused } });
      continue;
    }
    await store.journalDone(list, ROSTER_PHASE, 'subscribe', key, { targetId: outcome.memberId, detail: { created: outcome.created } });
  }

  // Pass 2: with the rosters as they are now, set what differs.
  for (const role of ['owner', 'moderator', 'member'] as const) rosters.set(role, await readRoster(ctx, env, listId, role));
  const unknownLanguages = new Set<string>();
  const verified = new Set<string>();
  for (const p of planned) {
    if (ctx.signal.aborted) return;
    ctx.progress(++done, total, 'roster entries');
    const key = subscribeKey(p.role, p.person.email);
    if (refused.has(key)) continue;
    const entry = rosters.get(p.role)!.get(p.person.email.toLowerCase());
    if (!entry) throw new Error(`${list}: import roster: ${p.role} ${p.person.email} was subscribed but is not on the ${p.role} roster`);
    await setDisplayName(ctx, env, entry, p.person);
    if (p.member) {
      await setModeration(ctx, env, entry, p.member);
      await setPreferences(ctx, env, entry, p.member.preferences, unknownLanguages);
    } else if (!verified.has(entry.email)) {
      // Owners and moderators come in through the legacy path, which leaves addresses unverified.
      verified.add(entry.email);
      await verifyAddress(ctx, env, entry.email);
    }
  }
  for (const language of unknownLanguages) {
    problems.push({
      severity: 'warning',
      code: 'language-not-enabled',
      list,
      key: 'language',
      message: `${list}: the Mailman 3 site does not offer language "${language}"; members who had it keep the site's default (enable it with a [language.${language}] section in mailman.cfg and run again)`,
    });
  }
}

async function subscribe(ctx: ListContext, env: Mailman3Env, listId: string, p: Planned): Promise<{ memberId: string; created: boolean } | { refused: string }> {
  const { core } = env;
  const form =
    p.role === 'member'
      ? {
          list_id: listId,
          subscriber: p.person.email,
          display_name: p.person.displayName ?? undefined,
          delivery_mode: p.member!.deliveryMode,
          delivery_status: p.member!.deliveryStatus,
          pre_verified: true,
          pre_confirmed: true,
          pre_approved: true,
          send_welcome_message: false,
        }
      : { list_id: listId, subscriber: p.person.email, display_name: p.person.displayName ?? undefined, role: p.role };
  const r = await core.call({
    list: ctx.list,
    operation: `subscribe ${p.role} ${p.person.email}`,
    method: 'POST',
    path: '/members',
    form,
    schema: PendingSchema.partial().optional(),
    accept: [400, 409],
  });
  if (r.ok && r.status === 202) return { refused: 'Mailman 3 kept the subscription pending (confirmation or approval) despite pre_verified/pre_confirmed/pre_approved' };
  if (r.ok) {
    const memberId = r.location?.split('/').pop();
    if (!memberId) throw new Error(`${ctx.list}: subscribe ${p.role} ${p.person.email}: the core answered ${r.status} without the member's location`);
    return { memberId, created: true };
  }
  // 409 "Member already subscribed", 400 "… is already an owner of …": done by an earlier attempt.
  if (/already subscribed|is already an? /i.test(r.description)) {
    const found = await core.find({
      list: ctx.list,
      operation: `look up ${p.role} ${p.person.email}`,
      path: `/lists/${encodeURIComponent(listId)}/${p.role}/${encodeURIComponent(p.person.email.toLowerCase())}`,
      schema: MemberSchema,
    });
    if (found) return { memberId: found.member_id, created: false };
  }
  return { refused: `Mailman 3 refused the subscription (${r.description})` };
}

/** Mailman keeps the name on the address, which POST only sets when it creates the address. */
async function setDisplayName(ctx: ListContext, env: Mailman3Env, entry: CoreMember, person: RosterPerson): Promise<void> {
  if (person.displayName === null || (entry.display_name ?? '') === person.displayName) return;
  const key = entry.email;
  await ctx.store.journalPending(ctx.list, ROSTER_PHASE, 'display-name', key);
  await env.core.ok({
    list: ctx.list,
    operation: `set display name of ${entry.email}`,
    method: 'PATCH',
    path: `/addresses/${encodeURIComponent(entry.email)}`,
    form: { display_name: person.displayName },
    schema: NoContent,
  });
  await ctx.store.journalDone(ctx.list, ROSTER_PHASE, 'display-name', key, { targetId: entry.member_id, detail: { from: entry.display_name ?? '', to: person.displayName } });
}

/**
 * Every member gets an explicit action, as import21 sets it. In Mailman 2 the list default only
 * applied when someone subscribed; a Mailman 3 member without an action follows the list's
 * default_member_action whenever it changes, which would moderate (or free) every migrated
 * member at once when an owner changes the default for newcomers.
 */
export function memberModeration(member: MemberPlan, config: ListConfig): Mailman3Action {
  return member.moderationAction ?? defaultMemberAction(config);
}

async function setModeration(ctx: ListContext, env: Mailman3Env, entry: CoreMember, member: MemberPlan): Promise<void> {
  const wanted: string | undefined = memberModeration(member, ctx.config);
  if (entry.moderation_action === wanted) return;
  const key = entry.email;
  await ctx.store.journalPending(ctx.list, ROSTER_PHASE, 'moderation', key);
  await env.core.ok({
    list: ctx.list,
    operation: `set moderation of ${entry.email} to ${wanted ?? "the list's default"}`,
    method: 'PATCH',
    path: `/members/${entry.member_id}`,
    // An empty value unsets it: the member then follows the list's default_member_action.
    form: { moderation_action: wanted ?? '' },
    schema: NoContent,
  });
  await ctx.store.journalDone(ctx.list, ROSTER_PHASE, 'moderation', key, { targetId: entry.member_id, detail: { action: wanted ?? null } });
}

async function setPreferences(ctx: ListContext, env: Mailman3Env, entry: CoreMember, prefs: MemberPreferences, unknownLanguages: Set<string>): Promise<void> {
  const key = entry.email;
  const body: Partial<MemberPreferences> = { ...prefs };
  if (unknownLanguages.has(prefs.preferred_language)) delete body.preferred_language;
  const previous = await ctx.store.journalEntry(ctx.list, ROSTER_PHASE, 'preferences', key);
  // Done before with the same values, and the one preference the roster shows still agrees: skip
  // (a resumed run would otherwise send one request per member again). Other drift shows in verify.
  if (previous?.status === 'done' && previous.target_id === entry.member_id && previous.detail_json === JSON.stringify(body) && entry.delivery_mode === prefs.delivery_mode) return;
  await ctx.store.journalPending(ctx.list, ROSTER_PHASE, 'preferences', key);
  const at = { list: ctx.list, operation: `set preferences of ${entry.email}` };
  const path = `/members/${entry.member_id}/preferences`;
  let r = await env.core.call({ ...at, method: 'PATCH', path, form: body, schema: NoContent, accept: [400] });
  if (!r.ok && body.preferred_language !== undefined && /preferred_language/.test(r.description)) {
    unknownLanguages.add(body.preferred_language);
    delete body.preferred_language;
    r = await env.core.call({ ...at, method: 'PATCH', path, form: body, schema: NoContent, accept: [400] });
  }
  if (!r.ok) throw new Error(`${ctx.list}: ${at.operation}: Mailman 3 core PATCH ${env.core.apiUrl}${path}: HTTP ${r.status}: ${r.description}`);
  await ctx.store.journalDone(ctx.list, ROSTER_PHASE, 'preferences', key, { targetId: entry.member_id, detail: body });
}

async function verifyAddress(ctx: ListContext, env: Mailman3Env, email: string): Promise<void> {
  const at = { list: ctx.list, operation: `verify address ${email}` };
  const address = await env.core.find({ ...at, path: `/addresses/${encodeURIComponent(email)}`, schema: AddressSchema });
  if (address === null || address.verified_on) return;
  await env.core.ok({ ...at, method: 'POST', path: `/addresses/${encodeURIComponent(email)}/verify`, schema: NoContent });
  await ctx.store.journalDone(ctx.list, ROSTER_PHASE, 'verify-address', email, { detail: { verified: true } });
}
