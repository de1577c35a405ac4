/**
 * Creates the mail domain and the list on the Mailman 3 core when they are missing. The archive
 * policy is right from the start: a list whose archive is not public is created with the
 * `private-default` style (archive_policy private at creation, no public instant), and the
 * planned policy is set in the very next request, before any setting, member or message.
 */
import type { ListContext } from '../target.js';
import type { Mailman3Env } from './env.js';
import { ListSchema, NoContent, type CallContext } from './rest-client.js';

export const SETTINGS_PHASE = 'settings';

export type ArchivePolicy = 'public' | 'private' | 'never';

export interface EnsuredList {
  listId: string;
  fqdn: string;
  mailHost: string;
  createdDomain: boolean;
  createdList: boolean;
}

export function isArchivePolicy(value: unknown): value is ArchivePolicy {
  return value === 'public' || value === 'private' || value === 'never';
}

export async function ensureMailman3List(ctx: ListContext, env: Mailman3Env, archivePolicy: ArchivePolicy): Promise<EnsuredList> {
  const { core } = env;
  const { store, list } = ctx;
  const names = env.names(ctx.config);
  const at = (operation: string): CallContext => ({ list, operation });

  let createdDomain = false;
  const domainPath = `/domains/${encodeURIComponent(names.mailHost)}`;
  if ((await core.find({ ...at(`look up domain ${names.mailHost}`), path: domainPath, schema: NoContent })) === null) {
    await store.journalPending(list, SETTINGS_PHASE, 'create-domain', names.mailHost);
    const r = await core.call({ ...at(`create domain ${names.mailHost}`), method: 'POST', path: '/domains', form: { mail_host: names.mailHost }, schema: NoContent, accept: [400] });
    if (!r.ok && !/^Duplicate email host/i.test(r.description)) {
      throw new Error(`${list}: create domain ${names.mailHost}: Mailman 3 core refused it: ${r.description}`);
    }
    createdDomain = r.ok;
    await store.journalDone(list, SETTINGS_PHASE, 'create-domain', names.mailHost, { targetId: names.mailHost, detail: { created: r.ok } });
  } else if (!(await store.journalEntry(list, SETTINGS_PHASE, 'create-domain', names.mailHost))) {
    await store.journalDone(list, SETTINGS_PHASE, 'create-domain', names.mailHost, { targetId: names.mailHost, detail: { created: false, existed: true } });
  }

  let createdList = false;
  const lookup = at(`look up list ${names.fqdn}`);
  let found = await core.find({ ...lookup, path: `/lists/${encodeURIComponent(names.fqdn)}`, schema: ListSchema });
  if (found === null) {
    const style = archivePolicy === 'public' ? 'legacy-default' : 'private-default';
    await store.journalPending(list, SETTINGS_PHASE, 'create-list', names.fqdn);
    const r = await core.call({
      ...at(`create list ${names.fqdn}`),
      method: 'POST',
      path: '/lists',
      form: { fqdn_listname: names.fqdn, style_name: style },
      schema: NoContent,
      accept: [400],
    });
    if (!r.ok && !/^Mailing list exists/i.test(r.description)) {
      throw new Error(`${list}: create list ${names.fqdn}: Mailman 3 core refused it: ${r.description}`);
    }
    createdList = r.ok;
    found = await core.find({ ...lookup, path: `/lists/${encodeURIComponent(names.fqdn)}`, schema: ListSchema });
    if (found === null) throw new Error(`${list}: create list ${names.fqdn}: the core answered ${r.status} but the list is not there`);
    await setArchivePolicy(ctx, env, found.list_id, archivePolicy);
    await store.journalDone(list, SETTINGS_PHASE, 'create-list', names.fqdn, { targetId: found.list_id, detail: { created: r.ok, style } });
  } else {
    // An existing list (a re-run, or created by hand) gets its policy before anything else too.
    await setArchivePolicy(ctx, env, found.list_id, archivePolicy);
    if (!(await store.journalEntry(list, SETTINGS_PHASE, 'create-list', names.fqdn))) {
      await store.journalDone(list, SETTINGS_PHASE, 'create-list', names.fqdn, { targetId: found.list_id, detail: { created: false, existed: true } });
    }
  }
  return { listId: found.list_id, fqdn: found.fqdn_listname, mailHost: found.mail_host, createdDomain, createdList };
}

async function setArchivePolicy(ctx: ListContext, env: Mailman3Env, listId: string, policy: ArchivePolicy): Promise<void> {
  await ctx.store.journalPending(ctx.list, SETTINGS_PHASE, 'archive-policy', 'archive_policy');
  await env.core.ok({
    list: ctx.list,
    operation: `set archive_policy=${policy}`,
    method: 'PATCH',
    path: `/lists/${encodeURIComponent(listId)}/config`,
    form: { archive_policy: policy },
    schema: NoContent,
  });
  await ctx.store.journalDone(ctx.list, SETTINGS_PHASE, 'archive-policy', 'archive_policy', { targetId: listId, detail: { archive_policy: policy } });
}
