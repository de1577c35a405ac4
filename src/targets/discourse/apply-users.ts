import { createHash } from 'node:crypto';
import type { Problem } from '../../problems.js';
import type { ListContext } from '../target.js';
import { usernameCandidates, type UsernameRules } from './authors.js';
import type { DiscourseClient } from './client.js';
import { NOTIFICATION_LEVELS, receivesListMail, type Account, type ListModel } from './plan.js';
import { AdminUserListSchema, SuccessSchema, UserCreateSchema, type AdminUser } from './schemas.js';

export const ROSTER_PHASE = 'roster';

/** How an address posts: as its own account, or through the importer account with an attribution line. */
export type Identity = { username: string; userId: number } | { attributed: string };

async function findByEmail(client: DiscourseClient, email: string): Promise<AdminUser | null> {
  const users = await client.ok({
    method: 'GET',
    path: '/admin/users/list/all.json',
    query: { email, show_emails: 'true' },
    schema: AdminUserListSchema,
  });
  return users.find((u) => (u.email ?? '').toLowerCase() === email.toLowerCase()) ?? null;
}

function usable(u: AdminUser): string | null {
  if (u.suspended) return 'the existing account is suspended';
  if (u.staged) return 'the existing account is staged (Discourse refuses API requests made as staged users)';
  if (!u.active) return 'the existing account was never activated';
  return null;
}

/**
 * One account per address: active (an inactive or staged user cannot be posted as through the
 * API), approved, without a password (so nobody can log in until the owner of the address resets
 * it, i.e. claims the account) and created while the site's e-mail is off (no welcome mail). An
 * existing account with the address is reused.
 */
export async function ensureAccount(client: DiscourseClient, ctx: ListContext, acc: Account, rules: UsernameRules): Promise<Identity> {
  const { store, list } = ctx;
  const j = await store.journalEntry(list, ROSTER_PHASE, 'user', acc.email);
  if (j?.status === 'done' && j.detail_json) {
    const d = JSON.parse(j.detail_json) as { username: string; userId: number };
    return { username: d.username, userId: d.userId };
  }
  if (j?.status === 'skipped' && j.detail_json) return { attributed: (JSON.parse(j.detail_json) as { reason: string }).reason };
  await store.journalPending(list, ROSTER_PHASE, 'user', acc.email);

  const settle = async (user: AdminUser, created: boolean): Promise<Identity> => {
    const bad = usable(user);
    if (bad) {
      await store.journalDone(list, ROSTER_PHASE, 'user', acc.email, { status: 'skipped', targetId: user.id, detail: { reason: bad } });
      return { attributed: bad };
    }
    await store.journalDone(list, ROSTER_PHASE, 'user', acc.email, { targetId: user.id, targetUrl: `/u/${user.username}`, detail: { username: user.username, userId: user.id, created } });
    return { username: user.username, userId: user.id };
  };
  const skip = async (reason: string): Promise<Identity> => {
    await store.journalDone(list, ROSTER_PHASE, 'user', acc.email, { status: 'skipped', detail: { reason } });
    return { attributed: reason };
  };

  // A previous attempt may have created the account before the run stopped.
  if (j) {
    const existing = await findByEmail(client, acc.email);
    if (existing) return settle(existing, false);
  }
  let tries = 0;
  for (const username of usernameCandidates(acc.name, acc.email, rules)) {
    if (++tries > 25) break;
    const r = await client.ok({
      method: 'POST',
      path: '/users.json',
      json: { email: acc.sendEmail, username, name: acc.name ?? '', active: true, approved: true },
      schema: UserCreateSchema,
    });
    if (r.success) {
      if (r.user_id !== undefined && r.active === true) {
        await store.journalDone(list, ROSTER_PHASE, 'user', acc.email, { targetId: r.user_id, targetUrl: `/u/${username}`, detail: { username, userId: r.user_id, created: true } });
        return { username, userId: r.user_id };
      }
      // hide_email_address_taken answers "success" for a taken address; or the key could not activate.
      const found = await findByEmail(client, acc.email);
      if (found) return settle(found, r.user_id !== undefined);
      return skip('Discourse did not create an active account (is the API key an admin key?)');
    }
    const errors = r.errors ?? {};
    const emailErrors = errors.email ?? errors.primary_email ?? [];
    if (emailErrors.length > 0) {
      const found = await findByEmail(client, acc.email);
      if (found) return settle(found, false);
      return skip(`Discourse refused the address: ${emailErrors.join('; ')}`);
    }
    if ((errors.username ?? []).length > 0 || /username/i.test(r.message ?? '')) continue;
    return skip(`Discourse refused the account: ${r.message ?? JSON.stringify(errors)}`);
  }
  return skip('no free username found');
}

/** Accounts for every author and member of the list's model; returns identities by lower-cased address. */
export async function ensureAccounts(client: DiscourseClient, ctx: ListContext, model: ListModel, rules: UsernameRules, problems: Problem[]): Promise<Map<string, Identity>> {
  const out = new Map<string, Identity>();
  let n = 0;
  for (const acc of model.accounts) {
    if (ctx.signal.aborted) break;
    const id = await ensureAccount(client, ctx, acc, rules);
    out.set(acc.email, id);
    if ('attributed' in id) {
      problems.push({
        severity: 'warning',
        code: 'discourse-no-account',
        list: ctx.list,
        message: `${ctx.list}: no Discourse account for ${acc.email} (${id.attributed}); ${acc.posts ? `${acc.posts} post(s) go out under the importer account with an attribution line` : 'not subscribed'}`,
      });
    }
    ctx.progress(++n, model.accounts.length, 'Discourse accounts');
  }
  return out;
}

/** UserOption.email_level_types "never". */
const EMAIL_NEVER = 2;

/**
 * Accounts this tool created for authors who are not to receive the list's mail are set to never
 * be e-mailed, so turning the site's e-mail back on after the import does not mail them about
 * replies to their old posts; whoever claims the account can change that. Accounts that already
 * existed belong to someone and keep their preferences, as do subscribed members.
 */
export async function silenceArchiveAuthors(client: DiscourseClient, ctx: ListContext, model: ListModel, subscriptions: boolean): Promise<void> {
  for (const acc of model.accounts) {
    if (ctx.signal.aborted) return;
    if (receivesListMail(acc, subscriptions)) continue;
    const user = await ctx.store.journalEntry(ctx.list, ROSTER_PHASE, 'user', acc.email);
    if (user?.status !== 'done' || !user.detail_json) continue;
    const d = JSON.parse(user.detail_json) as { username?: string; userId?: number; created?: boolean };
    if (d.created !== true || !d.username) continue;
    const j = await ctx.store.journalEntry(ctx.list, ROSTER_PHASE, 'user-email-prefs', acc.email);
    if (j?.status === 'done') continue;
    await ctx.store.journalPending(ctx.list, ROSTER_PHASE, 'user-email-prefs', acc.email);
    // As the admin (staff may edit any user); setting the same values again is harmless.
    await client.ok({
      method: 'PUT',
      path: `/u/${encodeURIComponent(d.username)}.json`,
      json: { email_level: EMAIL_NEVER, email_messages_level: EMAIL_NEVER, email_digests: false, mailing_list_mode: false },
      schema: SuccessSchema,
    });
    await ctx.store.journalDone(ctx.list, ROSTER_PHASE, 'user-email-prefs', acc.email, { targetId: d.userId, detail: { emailLevel: 'never' } });
  }
}

/** Adds the members to the list's group in batches; a batch already in the group is done. */
export async function addGroupMembers(client: DiscourseClient, ctx: ListContext, groupId: number, usernames: string[]): Promise<void> {
  const sorted = [...new Set(usernames)].sort();
  for (let i = 0; i < sorted.length; i += 50) {
    if (ctx.signal.aborted) return;
    const batch = sorted.slice(i, i + 50);
    const key = `${groupId}:${createHash('sha1').update(batch.join(',')).digest('hex').slice(0, 16)}`;
    const j = await ctx.store.journalEntry(ctx.list, ROSTER_PHASE, 'group-members', key);
    if (j?.status === 'done') continue;
    await ctx.store.journalPending(ctx.list, ROSTER_PHASE, 'group-members', key);
    const r = await client.call({
      method: 'PUT',
      path: `/groups/${groupId}/members.json`,
      json: { usernames: batch.join(','), notify_users: 'false' },
      schema: SuccessSchema,
      accept: [422],
    });
    // 422 here means every one of them is a member already (a resumed run).
    if (!r.ok && !(r.error.errors ?? []).some((e) => /already/i.test(e))) {
      throw new Error(`${ctx.list}: Discourse refused to add members to group ${groupId}: ${(r.error.errors ?? []).join('; ')}`);
    }
    await ctx.store.journalDone(ctx.list, ROSTER_PHASE, 'group-members', key, { targetId: groupId, detail: { usernames: batch.length } });
  }
}

/**
 * Digest members and members whose delivery is off get their own category level (the group
 * default is Watching): Watching First Post and Tracking.
 */
export async function setMemberLevels(client: DiscourseClient, ctx: ListContext, model: ListModel, categoryId: number, ids: Map<string, Identity>): Promise<void> {
  for (const m of model.members) {
    if (ctx.signal.aborted) return;
    if (m.level === 'watching') continue;
    const id = ids.get(m.email);
    if (!id || 'attributed' in id) continue;
    const j = await ctx.store.journalEntry(ctx.list, ROSTER_PHASE, 'notification-level', m.email);
    if (j?.status === 'done') continue;
    await ctx.store.journalPending(ctx.list, ROSTER_PHASE, 'notification-level', m.email);
    await client.ok({
      method: 'POST',
      path: `/category/${categoryId}/notifications.json`,
      json: { notification_level: NOTIFICATION_LEVELS[m.level] },
      as: id.username,
      schema: SuccessSchema,
    });
    await ctx.store.journalDone(ctx.list, ROSTER_PHASE, 'notification-level', m.email, { targetId: id.userId, detail: { level: m.level } });
  }
}

/** Identities recorded by the roster phase (for the archive phase). */
export async function recordedIdentities(ctx: ListContext): Promise<Map<string, Identity>> {
  const rows = await ctx.store.db.all<{ key: string; status: string; detail_json: string | null }>(
    "SELECT key, status, detail_json FROM journal WHERE list = ? AND phase = ? AND op = 'user' AND status IN ('done', 'skipped')",
    [ctx.list, ROSTER_PHASE],
  );
  const out = new Map<string, Identity>();
  for (const r of rows) {
    const d = r.detail_json ? (JSON.parse(r.detail_json) as { username?: string; userId?: number; reason?: string }) : {};
    if (r.status === 'done' && d.username && d.userId !== undefined) out.set(r.key, { username: d.username, userId: d.userId });
    else out.set(r.key, { attributed: d.reason ?? 'no account' });
  }
  return out;
}
