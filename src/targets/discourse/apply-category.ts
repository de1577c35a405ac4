import type { DiscourseTargetConfig } from '../../config/schema.js';
import { UserError } from '../../problems.js';
import type { ListContext } from '../target.js';
import type { DiscourseClient } from './client.js';
import type { ListModel } from './plan.js';
import { CategoryListSchema, CategoryResponseSchema, GroupCreateSchema, GroupShowSchema, SuccessSchema, type Category } from './schemas.js';

export const SETTINGS_PHASE = 'settings';

export interface CategoryIds {
  categoryId: number;
  groupId: number | null;
  groupName: string | null;
}

/** CategoryGroup permission "full": see, reply and create topics. */
const FULL = 1;

/** Mailman private_roster (0 anyone, 1 members, 2 admins) → Discourse members_visibility_level (0 public, 2 members, 3 staff). */
function membersVisibility(ctx: ListContext): number {
  const roster = Number(ctx.config.settings.private_roster ?? 1);
  return roster === 0 ? 0 : roster === 2 ? 3 : 2;
}

async function findGroup(client: DiscourseClient, name: string): Promise<number | null> {
  const r = await client.call({ method: 'GET', path: `/groups/${encodeURIComponent(name)}.json`, schema: GroupShowSchema, accept: [404] });
  return r.ok ? r.data.group.id : null;
}

/** The list's group, created once (found again by name on resume). */
export async function ensureGroup(client: DiscourseClient, ctx: ListContext, name: string, fullName: string): Promise<number> {
  const { store, list } = ctx;
  const done = await store.journalEntry(list, SETTINGS_PHASE, 'group', name);
  if (done?.status === 'done' && done.target_id) return Number(done.target_id);
  await store.journalPending(list, SETTINGS_PHASE, 'group', name);
  let id = await findGroup(client, name);
  if (id === null) {
    const visibility = membersVisibility(ctx);
    const r = await client.call({
      method: 'POST',
      path: '/admin/groups.json',
      json: { group: { name, full_name: fullName.slice(0, 100), visibility_level: visibility === 0 ? 0 : 1, members_visibility_level: visibility } },
      schema: GroupCreateSchema,
      accept: [422],
    });
    if (r.ok) id = r.data.basic_group.id;
    else {
      id = await findGroup(client, name);
      if (id === null) throw new UserError(`${list}: Discourse refused group "${name}": ${(r.error.errors ?? []).join('; ')} (a user with that name may exist)`);
    }
  }
  await store.journalDone(list, SETTINGS_PHASE, 'group', name, { targetId: id, targetUrl: `/g/${name}` });
  return id;
}

function flatten(cats: (Category & { subcategory_list?: Category[] })[]): Category[] {
  return cats.flatMap((c) => [c, ...(c.subcategory_list ?? [])]);
}

async function allCategories(client: DiscourseClient): Promise<Category[]> {
  const r = await client.ok({ method: 'GET', path: '/categories.json', query: { include_subcategories: 'true' }, schema: CategoryListSchema });
  return flatten(r.category_list.categories);
}

function resolveParent(cats: Category[], parent: number | string | null, list: string): number | null {
  if (parent === null) return null;
  const found =
    typeof parent === 'number' || /^\d+$/.test(parent)
      ? cats.find((c) => c.id === Number(parent))
      : cats.find((c) => c.slug === parent || c.name.toLowerCase() === parent.toLowerCase());
  if (!found) throw new UserError(`${list}: target.parentCategory ${JSON.stringify(parent)} is not a category on the Discourse site`);
  return found.id;
}

function permissionsFor(model: ListModel): Record<string, number> | undefined {
  if (!model.category.restricted) return undefined;
  const readers = [model.privateGroup, model.group?.name].filter((g): g is string => !!g);
  if (readers.length === 0) return { staff: FULL };
  return Object.fromEntries(readers.map((g) => [g, FULL]));
}

function sameReaders(c: Category, perms: Record<string, number>): boolean {
  const have = new Map((c.group_permissions ?? []).map((g) => [g.group_name, g.permission_type]));
  return c.read_restricted === true && Object.entries(perms).every(([g, p]) => have.get(g) === p) && have.size === Object.keys(perms).length;
}

/**
 * The list's category. A private list's category is created already restricted to its readers, so
 * not even its "About" topic is ever public. An existing category of the same name under the same
 * parent is taken over only while it has no topics (a run that stopped right after creating it);
 * otherwise the operator has to decide.
 */
export async function ensureCategory(client: DiscourseClient, ctx: ListContext, model: ListModel, tcfg: DiscourseTargetConfig): Promise<number> {
  const { store, list } = ctx;
  const done = await store.journalEntry(list, SETTINGS_PHASE, 'category', list);
  if (done?.status === 'done' && done.target_id) return Number(done.target_id);
  await store.journalPending(list, SETTINGS_PHASE, 'category', list);

  const cats = await allCategories(client);
  const parentId = resolveParent(cats, tcfg.parentCategory ?? null, list);
  const perms = permissionsFor(model);
  const lower = model.category.name.toLowerCase();
  let category = cats.find((c) => c.name.toLowerCase() === lower && (c.parent_category_id ?? null) === parentId) ?? null;

  if (category) {
    if ((category.topic_count ?? 0) > 0) {
      throw new UserError(
        `${list}: Discourse already has a category "${category.name}" (id ${category.id}) with ${category.topic_count} topics; rename or remove it, or set target.parentCategory so the list's category goes elsewhere`,
      );
    }
  } else {
    const body: Record<string, unknown> = {
      name: model.category.name,
      slug: model.category.slug,
      color: model.category.color,
      text_color: 'FFFFFF',
      description: model.category.description,
      ...(parentId !== null ? { parent_category_id: parentId } : {}),
      ...(perms ? { permissions: perms } : {}),
    };
    let r = await client.call({ method: 'POST', path: '/categories.json', json: body, schema: CategoryResponseSchema, accept: [422] });
    if (!r.ok && (r.error.errors ?? []).some((e) => /slug/i.test(e))) {
      // The slug is taken (by another parent's child or a renamed category): let Discourse pick one.
      delete body.slug;
      r = await client.call({ method: 'POST', path: '/categories.json', json: body, schema: CategoryResponseSchema, accept: [422] });
    }
    if (r.ok) category = r.data.category;
    else {
      const again = (await allCategories(client)).find((c) => c.name.toLowerCase() === lower && (c.parent_category_id ?? null) === parentId);
      if (!again) throw new UserError(`${list}: Discourse refused category "${model.category.name}": ${(r.error.errors ?? []).join('; ')}`);
      category = again;
    }
  }
  if (perms && !sameReaders(category, perms)) {
    const r = await client.ok({ method: 'PUT', path: `/categories/${category.id}.json`, json: { name: category.name, permissions: perms }, schema: CategoryResponseSchema });
    category = r.category;
  }
  if (perms && category.read_restricted !== true) {
    throw new UserError(`${list}: category ${category.id} is not read-restricted after setting its permissions; refusing to post a private archive into it`);
  }
  await store.journalDone(list, SETTINGS_PHASE, 'category', list, {
    targetId: category.id,
    targetUrl: `/c/${category.slug}/${category.id}`,
    detail: { name: category.name, restricted: category.read_restricted === true, parentId },
  });
  return category.id;
}

/** Members of the list's group watch the category (group default, applied as members are added). */
export async function ensureGroupWatching(client: DiscourseClient, ctx: ListContext, groupId: number, groupName: string, categoryId: number): Promise<void> {
  const { store, list } = ctx;
  const done = await store.journalEntry(list, SETTINGS_PHASE, 'group-watching', groupName);
  if (done?.status === 'done') return;
  await store.journalPending(list, SETTINGS_PHASE, 'group-watching', groupName);
  await client.ok({
    method: 'PUT',
    path: `/groups/${groupId}.json`,
    json: { group: { watching_category_ids: [categoryId] }, update_existing_users: true },
    schema: SuccessSchema,
  });
  await store.journalDone(list, SETTINGS_PHASE, 'group-watching', groupName, { targetId: groupId, detail: { categoryId } });
}

/** Ids from the settings phase, as journaled. */
export async function settingsIds(ctx: ListContext, model: ListModel): Promise<CategoryIds> {
  const cat = await ctx.store.journalEntry(ctx.list, SETTINGS_PHASE, 'category', ctx.list);
  if (cat?.status !== 'done' || !cat.target_id) throw new UserError(`${ctx.list}: the Discourse category has not been created yet (settings phase incomplete)`);
  let groupId: number | null = null;
  if (model.group) {
    const g = await ctx.store.journalEntry(ctx.list, SETTINGS_PHASE, 'group', model.group.name);
    if (g?.status !== 'done' || !g.target_id) throw new UserError(`${ctx.list}: the Discourse group ${model.group.name} has not been created yet`);
    groupId = Number(g.target_id);
  }
  return { categoryId: Number(cat.target_id), groupId, groupName: model.group?.name ?? null };
}
