// Categories, groups, users, uploads, site settings and permalinks of the Discourse test
// double (CategoriesController, Admin::GroupsController / GroupsController,
// UsersController#create, Admin::UsersController#index, UploadsController,
// Admin::SiteSettingsController, Admin::PermalinksController in both API generations,
// PermalinksController#show).

import type { Ctx } from './discourse-context.js';
import { notify, sendEmail } from './discourse-context.js';
import type { ParamValue } from './discourse-http.js';
import {
  invalidAccess,
  invalidParameters,
  jsonError,
  list,
  notFound,
  notLoggedIn,
  obj,
  paramMissing,
  present,
  str,
  truthy,
  unprocessable,
} from './discourse-http.js';
import type { CategoryRecord, GroupRecord, PermalinkRecord, UploadRecord, UserRecord } from './discourse-model.js';
import {
  AUTO_GROUPS,
  EMAIL_LEVEL,
  canSeeCategory,
  categoryRelativeUrl,
  coerceSiteSetting,
  createCategoryDefinition,
  isSiteSettingName,
  isStaff,
  newUser,
  NOTIFICATION_LEVEL,
  PERMISSION,
  postRelativeUrl,
  serializeAdminUser,
  serializeCategory,
  serializeGroup,
  serializeUser,
  sha1Hex,
  SITE_SETTING_SPECS,
  siteSettingJson,
  topicRelativeUrl,
} from './discourse-model.js';
import { base62Sha1, fullMessage, MSG, slugFor, usernameErrors, validEmail } from './discourse-text.js';

function requireUser(ctx: Ctx): UserRecord {
  if (!ctx.user) throw notLoggedIn();
  return ctx.user;
}

function requireAdmin(ctx: Ctx): UserRecord {
  if (!ctx.user) throw notLoggedIn();
  if (!ctx.user.admin) throw invalidAccess();
  return ctx.user;
}

function intParam(v: ParamValue | undefined): number | null {
  const s = str(v);
  return s !== undefined && /^-?\d+$/.test(s.trim()) ? Number(s.trim()) : null;
}

// ---------------------------------------------------------------------------------------
// Categories

/** Category.resolve_permissions: group names (Group[] lookup, exact name) → permission ids. */
function resolvePermissions(ctx: Ctx, raw: ParamValue | undefined): { readRestricted: boolean; map: Map<number, number> } {
  const perms = obj(raw);
  const map = new Map<number, number>();
  if (!perms) return { readRestricted: false, map };
  let readRestricted = true;
  for (const [groupName, permValue] of Object.entries(perms)) {
    const byName: Record<string, number> = AUTO_GROUPS;
    const autoId = byName[groupName];
    const group = autoId !== undefined ? ctx.state.groups.get(autoId) : [...ctx.state.groups.values()].find((g) => g.name === groupName);
    if (!group) throw jsonError(422, [MSG.unknownGroup]);
    const named: Record<string, number> = PERMISSION;
    const perm = intParam(permValue) ?? named[str(permValue) ?? ''] ?? null;
    if (perm === null || ![1, 2, 3].includes(perm)) throw jsonError(422, [`invalid permission ${String(str(permValue))}`]);
    if (group.id === AUTO_GROUPS.everyone && perm === PERMISSION.full) return { readRestricted: false, map: new Map() };
    if (group.id === AUTO_GROUPS.everyone) readRestricted = false;
    map.set(group.id, perm);
  }
  return { readRestricted, map };
}

function categoryDepthOk(ctx: Ctx, parentId: number | null, selfId: number | null): boolean {
  if (parentId === null) return true;
  let height = 0;
  let cursor = ctx.state.categories.get(parentId)?.parentCategoryId ?? null;
  while (cursor !== null && height < 10) {
    height++;
    cursor = ctx.state.categories.get(cursor)?.parentCategoryId ?? null;
  }
  let depth = 0;
  if (selfId !== null) {
    let level = [selfId];
    while (level.length > 0 && depth < 10) {
      const next = [...ctx.state.categories.values()].filter((c) => c.parentCategoryId !== null && level.includes(c.parentCategoryId)).map((c) => c.id);
      if (next.length === 0) break;
      depth++;
      level = next;
    }
  }
  return height + 1 + depth + 1 <= ctx.state.siteSettings.max_category_nesting;
}

function categoryErrors(ctx: Ctx, c: CategoryRecord, isNew: boolean, customSlug: string | undefined): string[] {
  const errors: string[] = [];
  const name = c.name;
  if (name.trim() === '') errors.push(fullMessage('category_name', MSG.blank));
  else if (name.length > 50) errors.push(fullMessage('category_name', MSG.tooLong(50)));
  else if (
    [...ctx.state.categories.values()].some(
      (o) => o.id !== c.id && o.parentCategoryId === c.parentCategoryId && o.name.toLowerCase() === name.toLowerCase(),
    )
  ) {
    errors.push(fullMessage('category_name', MSG.taken));
  }
  if (c.parentCategoryId !== null) {
    if (c.id === 1) errors.push(MSG.categoryUncategorizedParent);
    if (c.parentCategoryId === c.id) errors.push(MSG.categorySelfParent);
    else if (!ctx.state.categories.has(c.parentCategoryId)) errors.push(MSG.categoryDepth);
    else if (!categoryDepthOk(ctx, c.parentCategoryId, isNew ? null : c.id)) errors.push(MSG.categoryDepth);
  }
  const duplicateSlug = (slug: string) =>
    [...ctx.state.categories.values()].some((o) => o.id !== c.id && o.slug === slug && o.parentCategoryId === c.parentCategoryId);
  if (name.trim() !== '') {
    if (customSlug !== undefined && customSlug !== '') {
      const slug = slugFor(customSlug, '');
      c.slug = slug;
      if (slug === '') errors.push(fullMessage('slug', MSG.invalid));
      else if (duplicateSlug(slug)) errors.push(fullMessage('slug', MSG.slugInUse));
    } else if (isNew || c.slug === '') {
      const slug = slugFor(name, '');
      c.slug = duplicateSlug(slug) ? '' : slug;
    }
    if (/^\d+-category/.test(c.slug) && (isNew || !c.slug.startsWith(`${c.id}-`))) errors.push(fullMessage('slug', MSG.invalid));
    if (c.slug === 'none') errors.push(fullMessage('slug', 'is reserved'));
  }
  if (c.emailIn) {
    const other = [...ctx.state.categories.values()].find((o) => o.id !== c.id && o.emailIn?.toLowerCase() === c.emailIn?.toLowerCase());
    if (other) errors.push(`'${c.emailIn}' is already used by the category '${other.name}'.`);
  }
  return errors;
}

/** categories.color / text_color are varchar(6): longer values are a database error (500). */
function checkColumnWidths(color: string, textColor: string): void {
  if (color.length > 6 || textColor.length > 6) {
    throw jsonError(500, ['PG::StringDataRightTruncation: value too long for type character varying(6)']);
  }
}

function applyCategoryParams(ctx: Ctx, c: CategoryRecord, p: Record<string, ParamValue>): void {
  if (p.name !== undefined) c.name = (str(p.name) ?? '').trim();
  if (p.color !== undefined) c.color = str(p.color) ?? c.color;
  if (p.text_color !== undefined) c.textColor = str(p.text_color) ?? c.textColor;
  if (p.description !== undefined) c.description = str(p.description) ?? null;
  if (p.parent_category_id !== undefined) c.parentCategoryId = intParam(p.parent_category_id);
  if (p.email_in !== undefined) c.emailIn = present(p.email_in) ? (str(p.email_in) ?? '').toLowerCase() : null;
  if (p.email_in_allow_strangers !== undefined) c.emailInAllowStrangers = truthy(p.email_in_allow_strangers);
  if (p.mailinglist_mirror !== undefined) c.mailinglistMirror = truthy(p.mailinglist_mirror);
  if (p.permissions !== undefined) {
    const { readRestricted, map } = resolvePermissions(ctx, p.permissions);
    c.readRestricted = readRestricted;
    c.permissions = map;
  }
}

export function createCategory(ctx: Ctx): unknown {
  const user = requireUser(ctx);
  if (!user.admin) throw invalidAccess();
  const p = ctx.req.params;
  if (!present(p.name)) throw paramMissing('name');
  const now = ctx.now();
  const c: CategoryRecord = {
    id: ctx.state.ids.category,
    name: '',
    slug: '',
    color: '0088CC',
    textColor: 'FFFFFF',
    description: null,
    parentCategoryId: null,
    position: ctx.state.categories.size,
    readRestricted: false,
    permissions: new Map(),
    topicId: null,
    emailIn: null,
    emailInAllowStrangers: false,
    mailinglistMirror: false,
    userId: user.id,
    createdAt: now,
  };
  applyCategoryParams(ctx, c, p);
  const errors = categoryErrors(ctx, c, true, str(p.slug));
  if (errors.length > 0) throw unprocessable(errors);
  checkColumnWidths(c.color, c.textColor);
  ctx.state.ids.category++;
  const position = intParam(p.position);
  if (position !== null) c.position = position;
  ctx.state.categories.set(c.id, c);
  createCategoryDefinition(ctx.state, c, now);
  return { category: serializeCategory(ctx.state, c, user) };
}

export function updateCategory(ctx: Ctx, id: number): unknown {
  const user = requireUser(ctx);
  const existing = ctx.state.categories.get(id);
  if (!existing) throw notFound();
  if (!user.admin) throw invalidAccess();
  const p = ctx.req.params;
  const draft: CategoryRecord = { ...existing, permissions: new Map(existing.permissions) };
  applyCategoryParams(ctx, draft, p);
  const errors = categoryErrors(ctx, draft, false, str(p.slug));
  if (errors.length > 0) throw unprocessable(errors);
  checkColumnWidths(draft.color, draft.textColor);
  Object.assign(existing, draft);
  const position = intParam(p.position);
  if (position !== null) existing.position = position;
  return { success: 'OK', category: serializeCategory(ctx.state, existing, user) };
}

export function listCategories(ctx: Ctx): unknown {
  const includeSub = truthy(ctx.req.params.include_subcategories);
  const visible = [...ctx.state.categories.values()]
    .filter((c) => canSeeCategory(ctx.state, ctx.user, c))
    .sort((a, b) => a.position - b.position || a.id - b.id);
  const top = visible.filter((c) => c.parentCategoryId === null);
  return {
    category_list: {
      can_create_category: !!ctx.user?.admin,
      can_create_topic: !!ctx.user,
      categories: top.map((c) => {
        const json = serializeCategory(ctx.state, c, ctx.user);
        if (includeSub) {
          json.subcategory_list = visible
            .filter((s) => s.parentCategoryId === c.id)
            .map((s) => serializeCategory(ctx.state, s, ctx.user));
        }
        return json;
      }),
    },
  };
}

/** CategoriesController#show: unknown → 404, not visible → 403 (guardian.ensure_can_see!). */
export function showCategory(ctx: Ctx, id: number): unknown {
  const c = ctx.state.categories.get(id);
  if (!c) throw notFound();
  if (!canSeeCategory(ctx.state, ctx.user, c)) throw invalidAccess();
  return { category: serializeCategory(ctx.state, c, ctx.user) };
}

/** POST /category/:id/notifications — the current (impersonated) user's level. */
export function setCategoryNotification(ctx: Ctx, id: number): unknown {
  const user = requireUser(ctx);
  const c = ctx.state.categories.get(id);
  if (!c) throw notFound();
  if (!canSeeCategory(ctx.state, user, c)) throw invalidAccess();
  const level = intParam(ctx.req.params.notification_level);
  if (level === null || level < 0 || level > 4) throw invalidParameters('notification_level');
  user.categoryLevels.set(id, level);
  return { success: 'OK', indirectly_muted_category_ids: [] };
}

// ---------------------------------------------------------------------------------------
// Groups

function groupNameTaken(ctx: Ctx, name: string, selfId: number | null): boolean {
  const lower = name.toLowerCase();
  return (
    [...ctx.state.groups.values()].some((g) => g.id !== selfId && g.name.toLowerCase() === lower) ||
    [...ctx.state.users.values()].some((u) => u.usernameLower === lower)
  );
}

function idList(v: ParamValue | undefined): number[] {
  return list(v)
    .map((x) => intParam(x))
    .filter((x): x is number => x !== null);
}

/** GroupUser#set_category_notifications: raise a member's category levels to the group defaults. */
function applyGroupCategoryDefaults(ctx: Ctx, group: GroupRecord, user: UserRecord): void {
  const apply = (ids: number[], level: number) => {
    for (const id of ids) {
      const current = user.categoryLevels.get(id);
      if (current === undefined || current === NOTIFICATION_LEVEL.regular) user.categoryLevels.set(id, level);
    }
  };
  apply(group.watchingCategoryIds, NOTIFICATION_LEVEL.watching);
  apply(group.watchingFirstPostCategoryIds, NOTIFICATION_LEVEL.watching_first_post);
  apply(group.trackingCategoryIds, NOTIFICATION_LEVEL.tracking);
  apply(group.mutedCategoryIds, NOTIFICATION_LEVEL.muted);
}

function addMember(ctx: Ctx, group: GroupRecord, user: UserRecord, notifyUser: boolean): void {
  if (group.members.has(user.id)) return;
  group.members.add(user.id);
  applyGroupCategoryDefaults(ctx, group, user);
  // notify_users=true: a system PM ("user_added_to_group_as_member"), e-mailed like any PM.
  if (notifyUser) notify(ctx, user, 'private_message', null, null);
}

function usersByNames(ctx: Ctx, names: string): UserRecord[] {
  const wanted = new Set(names.split(',').map((s) => s.trim().toLowerCase()).filter((s) => s !== ''));
  return [...ctx.state.users.values()].filter((u) => wanted.has(u.usernameLower));
}

function groupCategoryFields(g: GroupRecord, p: Record<string, ParamValue>): void {
  if (p.watching_category_ids !== undefined) g.watchingCategoryIds = idList(p.watching_category_ids);
  if (p.watching_first_post_category_ids !== undefined) g.watchingFirstPostCategoryIds = idList(p.watching_first_post_category_ids);
  if (p.tracking_category_ids !== undefined) g.trackingCategoryIds = idList(p.tracking_category_ids);
  if (p.muted_category_ids !== undefined) g.mutedCategoryIds = idList(p.muted_category_ids);
}

/** POST /admin/groups.json */
export function createGroup(ctx: Ctx): unknown {
  requireAdmin(ctx);
  const p = obj(ctx.req.params.group);
  if (!p) throw paramMissing('group');
  const name = (str(p.name) ?? '').normalize('NFC').trim();
  const s = ctx.state.siteSettings;
  const errors = usernameErrors(name, { min: s.min_username_length, max: s.max_username_length, unicode: s.unicode_usernames }).map(
    (m) => fullMessage('name', m),
  );
  if (errors.length === 0 && groupNameTaken(ctx, name, null)) errors.push(fullMessage('name', MSG.taken));
  if (errors.length > 0) throw unprocessable(errors);
  const group: GroupRecord = {
    id: ctx.state.ids.group++,
    name,
    fullName: str(p.full_name) ?? null,
    automatic: false,
    visibilityLevel: intParam(p.visibility_level) ?? 0,
    members: new Set(),
    owners: new Set(),
    watchingCategoryIds: [],
    watchingFirstPostCategoryIds: [],
    trackingCategoryIds: [],
    mutedCategoryIds: [],
  };
  groupCategoryFields(group, p);
  ctx.state.groups.set(group.id, group);
  for (const u of usersByNames(ctx, str(p.usernames) ?? '')) addMember(ctx, group, u, false);
  for (const u of usersByNames(ctx, str(p.owner_usernames) ?? '')) {
    addMember(ctx, group, u, false);
    group.owners.add(u.id);
  }
  return { basic_group: serializeGroup(group) };
}

/** PUT /groups/:id.json */
export function updateGroup(ctx: Ctx, id: number): unknown {
  const user = requireUser(ctx);
  const group = ctx.state.groups.get(id);
  if (!group) throw notFound();
  if (!isStaff(user) && !group.owners.has(user.id)) throw invalidAccess();
  const p = obj(ctx.req.params.group);
  if (!p) throw paramMissing('group');
  const before = JSON.stringify([group.watchingCategoryIds, group.watchingFirstPostCategoryIds, group.trackingCategoryIds, group.mutedCategoryIds]);
  const draft: GroupRecord = { ...group };
  groupCategoryFields(draft, p);
  const after = JSON.stringify([draft.watchingCategoryIds, draft.watchingFirstPostCategoryIds, draft.trackingCategoryIds, draft.mutedCategoryIds]);
  const updateExisting = ctx.req.params.update_existing_users;
  if (before !== after && group.members.size > 0 && updateExisting === undefined) {
    throw unprocessable([MSG.groupsUpdateExistingUsersRequired(group.members.size)]);
  }
  if (p.name !== undefined && user.admin && !group.automatic) {
    const name = (str(p.name) ?? '').trim();
    if (name !== group.name) {
      const s = ctx.state.siteSettings;
      const errors = usernameErrors(name, { min: s.min_username_length, max: s.max_username_length, unicode: s.unicode_usernames }).map(
        (m) => fullMessage('name', m),
      );
      if (errors.length === 0 && groupNameTaken(ctx, name, group.id)) errors.push(fullMessage('name', MSG.taken));
      if (errors.length > 0) throw unprocessable(errors);
      group.name = name;
    }
  }
  if (p.full_name !== undefined) group.fullName = str(p.full_name) ?? null;
  groupCategoryFields(group, p);
  if (before !== after && truthy(updateExisting)) {
    for (const uid of group.members) {
      const member = ctx.state.users.get(uid);
      if (member) applyGroupCategoryDefaults(ctx, group, member);
    }
  }
  return { success: 'OK' };
}

export function showGroup(ctx: Ctx, name: string): unknown {
  const group = [...ctx.state.groups.values()].find((g) => g.name.toLowerCase() === name.toLowerCase());
  if (!group) throw notFound();
  return { group: serializeGroup(group) };
}

export function groupMembers(ctx: Ctx, name: string): unknown {
  const group = [...ctx.state.groups.values()].find((g) => g.name.toLowerCase() === name.toLowerCase());
  if (!group) throw notFound();
  const members = [...group.members].map((id) => ctx.state.users.get(id)).filter((u): u is UserRecord => !!u);
  return {
    members: members.map((u) => ({ id: u.id, username: u.username, name: u.name })),
    owners: members.filter((u) => group.owners.has(u.id)).map((u) => ({ id: u.id, username: u.username, name: u.name })),
    meta: { total: members.length, limit: 50, offset: 0 },
  };
}

/** PUT /groups/:id/members.json (usernames and/or emails). */
export function addGroupMembers(ctx: Ctx, id: number): unknown {
  const user = requireUser(ctx);
  const group = ctx.state.groups.get(id);
  if (!group) throw notFound();
  if (group.automatic) throw unprocessable(['You cannot modify an automatic group']);
  if (!isStaff(user) && !group.owners.has(user.id)) throw invalidAccess();
  const p = ctx.req.params;
  let users: UserRecord[] = [];
  if (present(p.usernames)) {
    users = usersByNames(ctx, str(p.usernames) ?? '');
    if (users.length === 0) throw invalidParameters('usernames');
  } else if (present(p.user_emails)) {
    const wanted = new Set((str(p.user_emails) ?? '').split(',').map((e) => e.trim().toLowerCase()));
    users = [...ctx.state.users.values()].filter((u) => wanted.has(u.email));
    if (users.length === 0) throw invalidParameters('user_emails');
  } else if (!present(p.emails)) {
    throw invalidParameters(MSG.groupsUsernamesOrEmailsRequired);
  }
  const inviteEmails: string[] = [];
  for (const email of (str(p.emails) ?? '').split(',').map((e) => e.trim()).filter((e) => e !== '')) {
    const existing = [...ctx.state.users.values()].find((u) => u.email === email.toLowerCase());
    if (existing) users.push(existing);
    else inviteEmails.push(email);
  }
  if (users.length === 0 && inviteEmails.length === 0) throw invalidParameters(MSG.groupsUsernamesOrEmailsRequired);
  const already = users.filter((u) => group.members.has(u.id)).map((u) => u.username);
  if (already.length > 0 && already.length === users.length && inviteEmails.length === 0) {
    throw unprocessable([MSG.groupsMemberAlreadyExist(already.sort())]);
  }
  const notifyUsers = str(p.notify_users) === 'true';
  const unique = [...new Map(users.map((u) => [u.id, u])).values()];
  for (const u of unique) addMember(ctx, group, u, notifyUsers);
  for (const email of inviteEmails) {
    ctx.state.invites.push({ email, groupIds: [group.id], invitedBy: user.id, at: ctx.now() });
    if (ctx.state.siteSettings.disable_emails !== 'yes') {
      ctx.state.emailsSent.push({ to: email.toLowerCase(), userId: null, type: 'invite', topicId: null, postNumber: null, at: ctx.now() });
    }
  }
  return { success: 'OK', usernames: unique.map((u) => u.username), emails: inviteEmails };
}

// ---------------------------------------------------------------------------------------
// Users

function emailDomainBlocked(ctx: Ctx, email: string): boolean {
  const domain = email.split('@')[1] ?? '';
  const matches = (setting: string) =>
    setting
      .split('|')
      .map((d) => d.trim().toLowerCase())
      .filter((d) => d !== '')
      .some((d) => domain === d || domain.endsWith(`.${d}`));
  const s = ctx.state.siteSettings;
  if (s.allowed_email_domains !== '' && !matches(s.allowed_email_domains)) return true;
  return matches(s.blocked_email_domains);
}

/** POST /users.json (and /u.json): always 200, success false with errors on failure. */
export function createUser(ctx: Ctx): unknown {
  const p = ctx.req.params;
  const s = ctx.state.siteSettings;
  if (!present(p.email)) throw paramMissing('email');
  if (!present(p.username)) throw paramMissing('username');
  const email = (str(p.email) ?? '').trim();
  const username = (str(p.username) ?? '').trim();
  // UsersController#respond_to_suspicious_request: without the API the honeypot/challenge
  // fields are missing, so Discourse answers "success" and creates nothing.
  if (!ctx.isApi) return { success: true, active: false, message: MSG.loginActivateEmail(email) };
  if (!s.allow_new_registrations) return { success: false, message: MSG.loginNewRegistrationsDisabled };
  const reserved = s.reserved_usernames
    .split('|')
    .map((r) => r.trim().toLowerCase())
    .filter((r) => r !== '');
  const lower = username.toLowerCase();
  if (reserved.some((r) => (r.includes('*') ? new RegExp(`^${r.replace(/\*/g, '.*')}$`).test(lower) : r === lower))) {
    return { success: false, message: MSG.loginReservedUsername };
  }
  const adminApi = ctx.user?.admin === true;
  const wantActive = adminApi && p.active !== undefined ? truthy(p.active) : false;
  const wantStaged = adminApi && p.staged !== undefined ? truthy(p.staged) : false;
  const wantApproved = adminApi && p.approved !== undefined ? truthy(p.approved) : false;

  const errors: Record<string, string[]> = {};
  const add = (field: string, message: string) => (errors[field] ??= []).push(message);
  const emailLower = email.toLowerCase();
  const existingStaged = [...ctx.state.users.values()].find((u) => u.staged && u.email === emailLower);
  for (const m of usernameErrors(username, { min: s.min_username_length, max: s.max_username_length, unicode: s.unicode_usernames })) {
    add('username', m);
  }
  if (!errors.username) {
    const clash =
      [...ctx.state.users.values()].some((u) => u.usernameLower === lower && u.id !== existingStaged?.id) ||
      [...ctx.state.groups.values()].some((g) => g.name.toLowerCase() === lower);
    if (clash) add('username', MSG.username.unique);
  }
  if (!validEmail(email)) add('email', MSG.invalid);
  else if (emailDomainBlocked(ctx, emailLower)) add('email', MSG.emailNotAllowed);
  else if ([...ctx.state.users.values()].some((u) => !u.staged && u.email === emailLower)) add('email', MSG.taken);
  const password = str(p.password);
  if (password !== undefined && password !== '' && password.length < s.min_password_length) {
    add('password', MSG.tooShort(s.min_password_length));
  }
  if (Object.keys(errors).length > 0) {
    if (s.hide_email_address_taken && errors.email?.length === 1 && errors.email[0] === MSG.taken && Object.keys(errors).length === 1) {
      return { success: true, active: false, message: MSG.loginActivateEmail(email) };
    }
    const full = Object.entries(errors).flatMap(([field, msgs]) =>
      msgs.map((m) => fullMessage(field === 'email' ? 'primary_email' : field, m)),
    );
    return {
      success: false,
      message: full.join('\n'),
      errors,
      values: { name: str(p.name) ?? null, username, email },
      is_developer: false,
    };
  }

  const now = ctx.now();
  let user: UserRecord;
  if (existingStaged) {
    // A staged user with this address is unstaged and reused (UsersController#create).
    user = existingStaged;
    user.staged = false;
    user.active = false;
    user.username = username;
    user.usernameLower = lower;
  } else {
    user = newUser(ctx.state, { username, email: emailLower, trustLevel: s.default_trust_level, active: false }, now);
  }
  user.name = str(p.name) ?? user.name;
  if (wantStaged) user.staged = true;
  user.active = wantActive;
  user.approved = wantApproved || !s.must_approve_users;

  // UserActivator: inactive → activation mail; must_approve → wait; else log on (unstages) + welcome PM.
  let message: string;
  if (!user.active) {
    message = MSG.loginActivateEmail(email);
    if (!user.staged) sendEmail(ctx, user, 'signup', {}, { requireActive: false });
  } else if (s.must_approve_users && !user.approved) {
    message = MSG.loginWaitApproval;
  } else {
    message = MSG.loginActive;
    user.staged = false;
    if (s.send_welcome_message) sendEmail(ctx, user, 'welcome_message');
  }
  const body: Record<string, unknown> = { success: true, active: user.active, message };
  if (!s.hide_email_address_taken) body.user_id = user.id;
  return body;
}

export function showUser(ctx: Ctx, username: string): unknown {
  let lower: string;
  try {
    lower = decodeURIComponent(username).toLowerCase();
  } catch {
    throw notFound();
  }
  const u = [...ctx.state.users.values()].find((x) => x.usernameLower === lower);
  const includeInactive = isStaff(ctx.user);
  if (!u || (!u.active && !includeInactive && !u.staged)) throw notFound();
  if (u.staged && !includeInactive) throw notFound();
  return { user: serializeUser(u, ctx.user) };
}

/**
 * PUT /u/:username — UsersController#update: login required, guardian.can_edit? (the user itself
 * or staff), then UserUpdater, which reads only its own attributes (anything else is ignored).
 * Boolean options are `value.to_s == "true"`; the e-mail levels are UserOption.email_level_types.
 */
export function updateUser(ctx: Ctx, username: string): unknown {
  const actor = requireUser(ctx);
  let lower: string;
  try {
    lower = decodeURIComponent(username).toLowerCase();
  } catch {
    throw notFound();
  }
  const u = [...ctx.state.users.values()].find((x) => x.usernameLower === lower);
  if (!u || u.staged || (!u.active && !isStaff(actor))) throw notFound();
  if (actor.id !== u.id && !isStaff(actor)) throw invalidAccess();
  const p = ctx.req.params;
  const errors: string[] = [];
  const level = (field: string): number | undefined => {
    if (p[field] === undefined) return undefined;
    const raw = str(p[field]) ?? '';
    const n = /^\d+$/.test(raw.trim()) ? Number(raw) : NaN;
    if (!Object.values(EMAIL_LEVEL).includes(n as 0 | 1 | 2)) {
      errors.push(fullMessage(field, 'is not included in the list'));
      return undefined;
    }
    return n;
  };
  const emailLevel = level('email_level');
  const messagesLevel = level('email_messages_level');
  if (errors.length > 0) throw unprocessable(errors);
  if (emailLevel !== undefined) u.emailLevel = emailLevel;
  if (messagesLevel !== undefined) u.emailMessagesLevel = messagesLevel;
  if (p.email_digests !== undefined) u.emailDigests = str(p.email_digests) === 'true';
  if (p.mailing_list_mode !== undefined) u.mailingListMode = str(p.mailing_list_mode) === 'true';
  // "automatically disable digests when mailing_list_mode is enabled"
  if (u.mailingListMode) u.emailDigests = false;
  if (p.name !== undefined) u.name = str(p.name) ?? u.name;
  return { success: 'OK', user: serializeUser(u, actor) };
}

/** GET /admin/users/list/:query.json */
export function adminListUsers(ctx: Ctx, query: string): unknown {
  const p = ctx.req.params;
  const showEmails = truthy(p.show_emails);
  const email = str(p.email)?.trim().toLowerCase();
  const filter = str(p.filter)?.trim().toLowerCase();
  let users = [...ctx.state.users.values()].filter((u) => u.id > 0);
  switch (query) {
    case 'active':
      users = users.filter((u) => u.active);
      break;
    case 'new':
      users = users.filter((u) => u.trustLevel === 0);
      break;
    case 'staff':
      users = users.filter((u) => isStaff(u));
      break;
    case 'admins':
      users = users.filter((u) => u.admin);
      break;
    case 'moderators':
      users = users.filter((u) => u.moderator);
      break;
    case 'suspended':
      users = users.filter((u) => u.suspended);
      break;
    case 'staged':
      users = users.filter((u) => u.staged);
      break;
    case 'pending':
      users = users.filter((u) => !u.approved);
      break;
    case 'all':
      break;
    default:
      throw notFound();
  }
  if (email) users = users.filter((u) => u.email === email);
  if (filter) users = users.filter((u) => u.usernameLower.includes(filter) || (showEmails && u.email.includes(filter)));
  return users.sort((a, b) => b.createdAt - a.createdAt || b.id - a.id).slice(0, 100).map((u) => serializeAdminUser(u, showEmails));
}

export function adminShowUser(ctx: Ctx, id: number): unknown {
  const u = ctx.state.users.get(id);
  if (!u) throw notFound();
  return serializeAdminUser(u, false);
}

// ---------------------------------------------------------------------------------------
// Uploads

const IMAGE_EXTENSIONS = new Set(['jpg', 'jpeg', 'png', 'gif', 'heic', 'heif', 'webp', 'avif', 'svg', 'ico', 'bmp', 'tif', 'tiff']);

function humanSize(kb: number): string {
  return kb >= 1024 ? `${Math.round((kb / 1024) * 10) / 10} MB`.replace('.0 MB', ' MB') : `${kb} KB`;
}

export function createUpload(ctx: Ctx): unknown {
  const user = requireUser(ctx);
  const p = ctx.req.params;
  const type = (str(p.upload_type) ?? str(p.type) ?? '').trim();
  if (type === '') throw invalidParameters('type');
  const file = ctx.req.files.find((f) => f.field === 'file' || f.field === 'files[]');
  if (!file) throw paramMissing('file');
  const s = ctx.state.siteSettings;
  const ext = (/\.([^.]+)$/.exec(file.filename)?.[1] ?? '').toLowerCase();
  const allowed = [s.authorized_extensions, isStaff(user) ? s.authorized_extensions_for_staff : '']
    .join('|')
    .split('|')
    .map((e) => e.trim().toLowerCase().replace(/^\./, ''))
    .filter((e) => e !== '');
  if (!allowed.includes('*') && !allowed.includes(ext)) {
    throw unprocessable([MSG.uploadNotAuthorized(allowed.filter((e, i, a) => a.indexOf(e) === i).join(', '))]);
  }
  const isImage = IMAGE_EXTENSIONS.has(ext);
  const limitKb = isImage ? s.max_image_size_kb : s.max_attachment_size_kb;
  if (file.data.length > limitKb * 1024) throw unprocessable([MSG.uploadTooLarge(humanSize(limitKb))]);
  const sha1 = sha1Hex(file.data);
  let upload = [...ctx.state.uploads.values()].find((u) => u.sha1 === sha1);
  if (!upload) {
    const record: UploadRecord = {
      id: ctx.state.ids.upload++,
      userId: user.id,
      originalFilename: file.filename,
      extension: ext,
      filesize: file.data.length,
      sha1,
      url: `/uploads/default/original/1X/${sha1}${ext ? `.${ext}` : ''}`,
      shortUrl: `upload://${base62Sha1(sha1)}${ext ? `.${ext}` : ''}`,
      contentType: file.contentType,
      data: file.data,
      uploadType: type,
    };
    ctx.state.uploads.set(record.id, record);
    upload = record;
  }
  return {
    id: upload.id,
    url: upload.url,
    original_filename: upload.originalFilename,
    filesize: upload.filesize,
    width: null,
    height: null,
    thumbnail_width: null,
    thumbnail_height: null,
    extension: upload.extension,
    short_url: upload.shortUrl,
    short_path: `/uploads/short-url/${upload.shortUrl.replace('upload://', '')}`,
    retain_hours: null,
    human_filesize: `${Math.max(1, Math.round(upload.filesize / 1024))} KB`,
    dominant_color: null,
  };
}

export function findUploadByPath(ctx: Ctx, path: string): UploadRecord | undefined {
  return [...ctx.state.uploads.values()].find((u) => u.url === path || `/uploads/short-url/${u.shortUrl.replace('upload://', '')}` === path);
}

// ---------------------------------------------------------------------------------------
// Site settings

export function listSiteSettings(ctx: Ctx): unknown {
  requireAdmin(ctx);
  const names = Object.keys(SITE_SETTING_SPECS).filter(isSiteSettingName);
  return { site_settings: names.map((n) => siteSettingJson(n, ctx.state.siteSettings[n])) };
}

export function updateSiteSetting(ctx: Ctx, name: string): void {
  requireAdmin(ctx);
  if (!isSiteSettingName(name)) throw unprocessable([MSG.siteSettingUnknown(name)]);
  if (!(name in ctx.req.params)) throw paramMissing(name);
  const result = coerceSiteSetting(name, ctx.req.params[name]);
  if ('error' in result) throw unprocessable([result.error]);
  (ctx.state.siteSettings as Record<string, boolean | number | string>)[name] = result.value;
}

// ---------------------------------------------------------------------------------------
// Permalinks

/** Permalink::Normalizer over the permalink_normalizations setting ("/regex/replacement|…"). */
function normalizePermalinkUrl(ctx: Ctx, url: string): string {
  let u = url.trim();
  if (u.startsWith('/')) u = u.slice(1);
  const source = ctx.state.siteSettings.permalink_normalizations;
  if (!source) return u;
  for (const rule of source.split('|')) {
    if (!/\/.*\//.test(rule)) continue;
    let escaping = false;
    let slashes = 0;
    let regex = '';
    let sub = '';
    for (const ch of rule) {
      if (!escaping && ch === '/') slashes++;
      escaping = ch === '\\';
      if (slashes > 1) sub += ch;
      else regex += ch;
    }
    if (regex.length > 1) {
      try {
        u = u.replace(new RegExp(regex.slice(1)), sub.slice(1).replace(/\\(\d)/g, '$$$1'));
      } catch {
        // an invalid regex never matches in the double
      }
    }
  }
  return u;
}

/** UrlHelper.encode: percent-encode what is not already encoded. */
function encodePermalinkUrl(url: string): string {
  if (/%[0-9A-Fa-f]{2}/.test(url)) return url;
  return encodeURI(url);
}

function permalinkTarget(ctx: Ctx, p: PermalinkRecord): string | null {
  const { state } = ctx;
  if (p.externalUrl !== null) return /^\/[^/]/.test(p.externalUrl) ? p.externalUrl : p.externalUrl;
  if (p.postId !== null) {
    const post = state.posts.get(p.postId);
    if (post) return postRelativeUrl(state, post);
  }
  if (p.topicId !== null) {
    const topic = state.topics.get(p.topicId);
    if (topic) return topicRelativeUrl(topic);
  }
  if (p.categoryId !== null) {
    const c = state.categories.get(p.categoryId);
    if (c) return categoryRelativeUrl(state, c);
  }
  if (p.tagId !== null) {
    const tag = state.tags.get(p.tagId);
    if (tag) return `/tag/${tag}`;
  }
  if (p.userId !== null) {
    const u = state.users.get(p.userId);
    if (u) return `/u/${u.usernameLower}`;
  }
  return null;
}

function serializePermalink(ctx: Ctx, p: PermalinkRecord): Record<string, unknown> {
  const { state } = ctx;
  const topic = p.topicId === null ? undefined : state.topics.get(p.topicId);
  const post = p.postId === null ? undefined : state.posts.get(p.postId);
  const postTopic = post ? state.topics.get(post.topicId) : undefined;
  const category = p.categoryId === null ? undefined : state.categories.get(p.categoryId);
  const tag = p.tagId === null ? undefined : state.tags.get(p.tagId);
  const user = p.userId === null ? undefined : state.users.get(p.userId);
  return {
    id: p.id,
    url: p.url,
    topic_id: p.topicId,
    topic_title: topic?.title ?? null,
    topic_url: topic ? topicRelativeUrl(topic) : null,
    post_id: p.postId,
    post_url: post ? `${ctx.baseUrl}${postRelativeUrl(state, post)}` : null,
    post_number: post?.postNumber ?? null,
    post_topic_title: postTopic?.title ?? null,
    category_id: p.categoryId,
    category_name: category?.name ?? null,
    category_url: category ? categoryRelativeUrl(state, category) : null,
    external_url: p.externalUrl,
    tag_id: p.tagId,
    tag_name: tag ?? null,
    tag_url: tag ? `${ctx.baseUrl}/tag/${tag}` : null,
    user_id: p.userId,
    user_url: user ? `${ctx.baseUrl}/u/${user.usernameLower}` : null,
    username: user?.username ?? null,
  };
}

type PermalinkTargets = Pick<PermalinkRecord, 'topicId' | 'postId' | 'categoryId' | 'tagId' | 'userId' | 'externalUrl'>;

function emptyTargets(): PermalinkTargets {
  return { topicId: null, postId: null, categoryId: null, tagId: null, userId: null, externalUrl: null };
}

/** Admin::PermalinksController#permalink_params (nested, since PR #29634). */
function nestedPermalinkParams(ctx: Ctx): { url: string | null; targets: PermalinkTargets } {
  const p = obj(ctx.req.params.permalink);
  if (!p) throw paramMissing('permalink');
  const type = str(p.permalink_type);
  const value = p.permalink_type_value;
  const targets = emptyTargets();
  const asId = (v: ParamValue | undefined) => intParam(v);
  if (type === 'topic') targets.topicId = asId(value);
  if (type === 'post') targets.postId = asId(value);
  if (type === 'category') targets.categoryId = asId(value);
  if (type === 'user') targets.userId = asId(value);
  if (type === 'external_url') targets.externalUrl = str(value) ?? null;
  if (type === 'tag' && value !== undefined && value !== null) {
    const name = str(value);
    targets.tagId = [...ctx.state.tags].find(([, n]) => n === name)?.[0] ?? -1;
  }
  return { url: str(p.url) ?? null, targets };
}

/** Legacy Admin::PermalinksController#create (flat params, column names as permalink_type). */
function legacyPermalinkParams(ctx: Ctx): { url: string | null; targets: PermalinkTargets } {
  const p = ctx.req.params;
  for (const k of ['url', 'permalink_type', 'permalink_type_value']) if (!present(p[k])) throw paramMissing(k);
  const targets = emptyTargets();
  const type = str(p.permalink_type);
  const value = p.permalink_type_value;
  switch (type) {
    case 'topic_id':
      targets.topicId = intParam(value);
      break;
    case 'post_id':
      targets.postId = intParam(value);
      break;
    case 'category_id':
      targets.categoryId = intParam(value);
      break;
    case 'user_id':
      targets.userId = intParam(value);
      break;
    case 'tag_id':
      targets.tagId = intParam(value);
      break;
    case 'external_url':
      targets.externalUrl = str(value) ?? null;
      break;
    case 'tag_name': {
      const name = str(value);
      targets.tagId = [...ctx.state.tags].find(([, n]) => n === name)?.[0] ?? null;
      break;
    }
    default:
      // Permalink.new(params[:permalink_type] => …) with an unknown attribute.
      throw jsonError(500, [`ActiveModel::UnknownAttributeError: unknown attribute '${String(type)}' for Permalink.`]);
  }
  return { url: str(p.url) ?? null, targets };
}

function savePermalink(ctx: Ctx, existing: PermalinkRecord | null, url: string | null, targets: PermalinkTargets): PermalinkRecord {
  const normalized = url === null ? null : encodePermalinkUrl(normalizePermalinkUrl(ctx, url));
  const errors: string[] = [];
  if (normalized === null || normalized === '') errors.push(fullMessage('url', MSG.blank));
  else if ([...ctx.state.permalinks.values()].some((o) => o.id !== existing?.id && o.url === normalized)) {
    errors.push(fullMessage('url', MSG.taken));
  }
  const set = [targets.topicId, targets.postId, targets.categoryId, targets.tagId, targets.userId, targets.externalUrl].filter(
    (x) => x !== null,
  );
  if (set.length !== 1) errors.push(MSG.permalinkExactlyOne);
  if (errors.length > 0) throw unprocessable(errors);
  const record: PermalinkRecord = existing ?? { id: ctx.state.ids.permalink++, url: '', ...emptyTargets(), createdAt: ctx.now() };
  Object.assign(record, targets, { url: normalized as string });
  ctx.state.permalinks.set(record.id, record);
  return record;
}

export function createPermalink(ctx: Ctx): unknown {
  requireAdmin(ctx);
  const { url, targets } = ctx.shared.permalinkApi === 'nested' ? nestedPermalinkParams(ctx) : legacyPermalinkParams(ctx);
  return { permalink: serializePermalink(ctx, savePermalink(ctx, null, url, targets)) };
}

export function updatePermalink(ctx: Ctx, id: number): unknown {
  requireAdmin(ctx);
  if (ctx.shared.permalinkApi === 'legacy') throw notFound();
  const existing = ctx.state.permalinks.get(id);
  if (!existing) throw notFound();
  const { url, targets } = nestedPermalinkParams(ctx);
  return { permalink: serializePermalink(ctx, savePermalink(ctx, existing, url ?? existing.url, targets)) };
}

export function showPermalink(ctx: Ctx, id: number): unknown {
  requireAdmin(ctx);
  if (ctx.shared.permalinkApi === 'legacy') throw notFound();
  const p = ctx.state.permalinks.get(id);
  if (!p) throw notFound();
  return { permalink: serializePermalink(ctx, p) };
}

export function listPermalinks(ctx: Ctx): unknown {
  requireAdmin(ctx);
  const filter = str(ctx.req.params.filter)?.toLowerCase();
  return [...ctx.state.permalinks.values()]
    .filter((p) => !filter || p.url.toLowerCase().includes(filter) || (p.externalUrl ?? '').toLowerCase().includes(filter))
    .sort((a, b) => b.createdAt - a.createdAt || b.id - a.id)
    .slice(0, 100)
    .map((p) => serializePermalink(ctx, p));
}

export function deletePermalink(ctx: Ctx, id: number): unknown {
  requireAdmin(ctx);
  if (!ctx.state.permalinks.delete(id)) throw notFound();
  return { success: 'OK' };
}

/** PermalinkConstraint + PermalinksController#show: the full path (with query) is looked up. */
export function resolvePermalink(ctx: Ctx, fullpath: string): string | null {
  const key = normalizePermalinkUrl(ctx, fullpath);
  const p = [...ctx.state.permalinks.values()].find((x) => x.url === key);
  if (!p) return null;
  const target = permalinkTarget(ctx, p);
  if (target === null) throw notFound();
  return target;
}
