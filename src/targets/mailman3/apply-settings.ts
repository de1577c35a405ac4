/**
 * The settings phase on a Mailman 3 core: list config (one PATCH), header matches, bans, nonmember
 * moderation entries and templates, all from `mapSettings(config)` (the same mapping the plan
 * shows). Every step converges: re-running it changes nothing that is already right.
 */
import { spawn } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import got from 'got';
import type { LoadedConfig } from '../../config/load.js';
import type { Mailman3TargetConfig } from '../../config/schema.js';
import type { Problem } from '../../problems.js';
import { phaseIndex } from '../../state/phases.js';
import type { ListContext } from '../target.js';
import { ensureMailman3List, isArchivePolicy, SETTINGS_PHASE } from './apply-list.js';
import { templatesConfig, type Mailman3Env, type Mailman3TemplatesConfig } from './env.js';
import { mapSettings, type HeaderMatchPlan, type NonmemberActionPlan, type SettingsPlan } from './map-settings.js';
import type { TemplatePlan } from './map-templates.js';
import type { RestValue } from './map-types.js';
import {
  BanSchema,
  HeaderMatchSchema,
  MemberSchema,
  NoContent,
  type CallContext,
  type CoreHeaderMatch,
  type CoreMember,
} from './rest-client.js';

/** The list settings Mailman 3 core refused, by attribute, with its reason (journalled for verify). */
export type RefusedSettings = Record<string, { value: RestValue; reason: string }>;

/** Switched off while the roster is imported (import21 does the same), restored by the roster phase. */
export const IMPORT_QUIET_SETTINGS = ['send_welcome_message', 'admin_notify_mchanges'] as const;

/**
 * The list's new Postorius page, which replaces Mailman 2 listinfo links inside footers: the same
 * rule as the redirect map (postoriusUrl, else <archive.newBaseUrl>/postorius/, else next to
 * HyperKitty).
 */
export function mailman3ListinfoUrl(cfg: Pick<LoadedConfig, 'archive'>, target: Mailman3TargetConfig, fqdn: string): string {
  const withSlash = (u: string): string => (u.endsWith('/') ? u : `${u}/`);
  const hyperkitty = withSlash(target.hyperkitty.url);
  const postorius =
    target.postoriusUrl ??
    (cfg.archive.newBaseUrl
      ? new URL('postorius/', withSlash(cfg.archive.newBaseUrl)).href
      : new URL(/\/hyperkitty\/$/.test(new URL(hyperkitty).pathname) ? '../postorius/' : '/postorius/', hyperkitty).href);
  return `${withSlash(postorius)}lists/${fqdn.replace('@', '.')}/`;
}

/** mapSettings with the options the apply and verify phases use (one place, so they agree). */
export function mailman3SettingsPlan(ctx: Pick<ListContext, 'config' | 'cfg'>, env: Pick<Mailman3Env, 'target' | 'names'>): SettingsPlan {
  return mapSettings(ctx.config, { listinfoUrl: mailman3ListinfoUrl(ctx.cfg, env.target, env.names(ctx.config).fqdn) });
}

export async function applyMailman3Settings(ctx: ListContext, env: Mailman3Env): Promise<void> {
  const problems: Problem[] = [];
  try {
    const plan = mailman3SettingsPlan(ctx, env);
    const policy = plan.listConfig['archive_policy'];
    if (!isArchivePolicy(policy)) throw new Error(`${ctx.list}: the plan has no valid archive_policy (${JSON.stringify(policy)})`);
    const { listId } = await ensureMailman3List(ctx, env, policy);
    if (ctx.signal.aborted) return;

    const row = await ctx.store.getList(ctx.list);
    const rosterDone = phaseIndex(row?.phase ?? 'new') >= phaseIndex('roster');
    const body: Record<string, RestValue> = { ...plan.listConfig };
    if (!rosterDone) for (const key of IMPORT_QUIET_SETTINGS) body[key] = false;
    await patchListConfig(ctx, env, listId, body, problems);
    if (ctx.signal.aborted) return;
    await convergeHeaderMatches(ctx, env, listId, plan.headerMatches, problems);
    await addBans(ctx, env, listId, plan.bans, problems);
    if (ctx.signal.aborted) return;
    await addNonmembers(ctx, env, listId, plan.nonmemberActions, problems);
    if (ctx.signal.aborted) return;
    await publishTemplates(ctx, env, listId, plan, problems);
  } finally {
    await ctx.store.replaceProblems(ctx.list, SETTINGS_PHASE, problems);
  }
}

const path_ = (listId: string, rest = ''): string => `/lists/${encodeURIComponent(listId)}${rest}`;

// --- list config -------------------------------------------------------------------------------

/** Attribute names a 400 from listconf.py / the validator points at. */
function refusedAttributes(description: string): string[] {
  const one = /^(?:Unknown attribute|Read-only attribute): (\S+)/.exec(description);
  if (one) return [one[1]!];
  const invalid = /^Invalid Parameter "([^"]+)"/.exec(description);
  if (invalid) return [invalid[1]!];
  // A converter that raises KeyError (e.g. a language the site does not offer) ends up here.
  const unexpected = /^Unexpected parameters: (.+)$/.exec(description);
  if (unexpected) return unexpected[1]!.split(',').map((s) => s.trim()).filter(Boolean);
  return [];
}

/**
 * One PATCH with every setting. An attribute the core refuses (older core, unknown language,
 * value it does not accept) is left out, reported with its value and the core's reason, and the
 * rest is sent again, so one bad value does not cost the other settings.
 */
async function patchListConfig(ctx: ListContext, env: Mailman3Env, listId: string, body: Record<string, RestValue>, problems: Problem[]): Promise<void> {
  const refused: RefusedSettings = {};
  const pending = { ...body };
  await ctx.store.journalPending(ctx.list, SETTINGS_PHASE, 'list-config', 'config');
  for (;;) {
    const at: CallContext = { list: ctx.list, operation: `set ${Object.keys(pending).length} list settings` };
    const r = await env.core.call({ ...at, method: 'PATCH', path: path_(listId, '/config'), form: pending, schema: NoContent, accept: [400] });
    if (r.ok) break;
    const names = refusedAttributes(r.description).filter((n) => n in pending);
    if (names.length === 0) {
      throw new Error(`${ctx.list}: ${at.operation}: Mailman 3 core PATCH ${env.core.apiUrl}${path_(listId, '/config')}: HTTP 400: ${r.description}`);
    }
    for (const name of names) {
      refused[name] = { value: pending[name]!, reason: r.description };
      delete pending[name];
      problems.push({
        severity: 'warning',
        code: 'setting-refused',
        list: ctx.list,
        key: name,
        message: `${ctx.list}: Mailman 3 refused ${name}=${JSON.stringify(refused[name]!.value)} (${r.description}); not carried`,
      });
    }
  }
  await ctx.store.journalDone(ctx.list, SETTINGS_PHASE, 'list-config', 'config', {
    targetId: listId,
    detail: { set: Object.keys(pending).length, refused },
  });
}

// --- header matches ------------------------------------------------------------------------------

const sameRule = (a: Pick<CoreHeaderMatch, 'header' | 'pattern' | 'action'>, b: HeaderMatchPlan): boolean =>
  a.header === b.header && a.pattern === b.pattern && (a.action ?? null) === (b.action ?? null);

/**
 * Header matches are an ordered list (first match wins). When the core's list is a prefix of
 * the plan (nothing yet, or an interrupted run) the rest is appended; anything else is replaced
 * as a whole, because positions cannot be inserted.
 */
async function convergeHeaderMatches(ctx: ListContext, env: Mailman3Env, listId: string, planned: HeaderMatchPlan[], problems: Problem[]): Promise<void> {
  const { core } = env;
  const current = await core.all({ list: ctx.list, operation: 'read header matches', path: path_(listId, '/header-matches'), entry: HeaderMatchSchema });
  const isPrefix = current.length <= planned.length && current.every((c, i) => sameRule(c, planned[i]!));
  let start = current.length;
  if (!isPrefix) {
    await core.ok({ list: ctx.list, operation: 'clear header matches', method: 'DELETE', path: path_(listId, '/header-matches'), schema: NoContent });
    problems.push({
      severity: 'info',
      code: 'header-matches-replaced',
      list: ctx.list,
      message: `${ctx.list}: the list's ${current.length} header matches differed from the plan and were replaced by the ${planned.length} planned ones`,
    });
    start = 0;
  }
  for (let i = 0; i < planned.length; i++) {
    const rule = planned[i]!;
    const key = `${rule.header}: ${rule.pattern}`;
    if (i < start) {
      if (!(await ctx.store.journalEntry(ctx.list, SETTINGS_PHASE, 'header-match', key))) {
        await ctx.store.journalDone(ctx.list, SETTINGS_PHASE, 'header-match', key, { targetId: i, detail: { existed: true } });
      }
      continue;
    }
    await ctx.store.journalPending(ctx.list, SETTINGS_PHASE, 'header-match', key);
    const r = await core.call({
      list: ctx.list,
      operation: `add header match ${key}`,
      method: 'POST',
      path: path_(listId, '/header-matches'),
      form: { header: rule.header, pattern: rule.pattern, action: rule.action, tag: rule.tag },
      schema: NoContent,
      accept: [400],
    });
    if (!r.ok && !/already exists/i.test(r.description)) {
      problems.push({ severity: 'warning', code: 'header-match-refused', list: ctx.list, key: 'header_filter_rules', message: `${ctx.list}: Mailman 3 refused header match ${key} (${r.description}); not carried` });
      await ctx.store.journalDone(ctx.list, SETTINGS_PHASE, 'header-match', key, { status: 'failed', detail: { reason: r.description } });
      continue;
    }
    await ctx.store.journalDone(ctx.list, SETTINGS_PHASE, 'header-match', key, { targetId: i, ...(r.ok && r.location ? { targetUrl: r.location } : {}) });
  }
}

// --- bans ----------------------------------------------------------------------------------------

async function addBans(ctx: ListContext, env: Mailman3Env, listId: string, bans: string[], problems: Problem[]): Promise<void> {
  const current = new Set(
    (await env.core.all({ list: ctx.list, operation: 'read bans', path: path_(listId, '/bans'), entry: BanSchema })).map((b) => b.email),
  );
  for (const ban of bans) {
    if (current.has(ban)) {
      if (!(await ctx.store.journalEntry(ctx.list, SETTINGS_PHASE, 'ban', ban))) await ctx.store.journalDone(ctx.list, SETTINGS_PHASE, 'ban', ban, { detail: { existed: true } });
      continue;
    }
    await ctx.store.journalPending(ctx.list, SETTINGS_PHASE, 'ban', ban);
    const r = await env.core.call({ list: ctx.list, operation: `ban ${ban}`, method: 'POST', path: path_(listId, '/bans'), form: { email: ban }, schema: NoContent, accept: [400] });
    if (r.ok) {
      await ctx.store.journalDone(ctx.list, SETTINGS_PHASE, 'ban', ban, r.location ? { targetUrl: r.location } : {});
    } else if (/already banned/i.test(r.description)) {
      // is_banned() is pattern-aware: an existing ^regex ban already covers this address.
      await ctx.store.journalDone(ctx.list, SETTINGS_PHASE, 'ban', ban, { detail: { coveredByPattern: true } });
    } else {
      problems.push({ severity: 'warning', code: 'ban-refused', list: ctx.list, key: 'ban_list', message: `${ctx.list}: Mailman 3 refused ban ${ban} (${r.description}); not carried` });
      await ctx.store.journalDone(ctx.list, SETTINGS_PHASE, 'ban', ban, { status: 'failed', detail: { reason: r.description } });
    }
  }
}

// --- nonmember moderation ------------------------------------------------------------------------

async function addNonmembers(ctx: ListContext, env: Mailman3Env, listId: string, planned: NonmemberActionPlan[], problems: Problem[]): Promise<void> {
  const { core } = env;
  const roster = await core.all({ list: ctx.list, operation: 'read nonmember roster', path: path_(listId, '/roster/nonmember'), entry: MemberSchema });
  const byEmail = new Map(roster.map((m) => [m.email.toLowerCase(), m]));
  for (const entry of planned) {
    const email = entry.email.toLowerCase();
    let member: CoreMember | null = byEmail.get(email) ?? null;
    if (member === null) {
      await ctx.store.journalPending(ctx.list, SETTINGS_PHASE, 'nonmember', email);
      const r = await core.call({
        list: ctx.list,
        operation: `add nonmember ${entry.email}`,
        method: 'POST',
        path: '/members',
        form: { list_id: listId, subscriber: entry.email, role: 'nonmember' },
        schema: NoContent,
        accept: [400],
      });
      if (!r.ok && !/already an? nonmember/i.test(r.description)) {
        problems.push({
          severity: 'warning',
          code: 'nonmember-refused',
          list: ctx.list,
          key: entry.source,
          message: `${ctx.list}: Mailman 3 refused nonmember ${entry.email} from ${entry.source} (${r.description}); not carried`,
        });
        await ctx.store.journalDone(ctx.list, SETTINGS_PHASE, 'nonmember', email, { status: 'failed', detail: { reason: r.description } });
        continue;
      }
      member = await core.find({ list: ctx.list, operation: `look up nonmember ${entry.email}`, path: path_(listId, `/nonmember/${encodeURIComponent(email)}`), schema: MemberSchema });
      if (member === null) throw new Error(`${ctx.list}: add nonmember ${entry.email}: the core accepted it but does not list it`);
    }
    if (member.moderation_action !== entry.action) {
      await core.ok({
        list: ctx.list,
        operation: `set moderation of nonmember ${entry.email} to ${entry.action}`,
        method: 'PATCH',
        path: `/members/${member.member_id}`,
        form: { moderation_action: entry.action },
        schema: NoContent,
      });
    }
    await ctx.store.journalDone(ctx.list, SETTINGS_PHASE, 'nonmember', email, { targetId: member.member_id, detail: { action: entry.action, source: entry.source } });
  }
}

// --- templates -----------------------------------------------------------------------------------

/** Where a list's template lives when published: `<dir>/<list_id>/<template name>.txt`. */
export function templateLocation(cfg: Mailman3TemplatesConfig, listId: string, name: string): { file: string; uri: string } {
  const relative = `${listId}/${name}.txt`;
  if (cfg.via === 'http') return { file: path.join(cfg.dir, listId, `${name}.txt`), uri: `${cfg.baseUrl.replace(/\/+$/, '')}/${relative}` };
  const file = `${cfg.coreDir.replace(/\/+$/, '')}/${relative}`;
  return { file, uri: `file://${file}` };
}

/** Runs `argv` with `input` on stdin; resolves with stdout, rejects with the command's stderr. */
function runCommand(argv: string[], input?: string): Promise<string> {
  const [command, ...args] = argv;
  return new Promise((resolve, reject) => {
    const child = spawn(command!, args, { stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout!.on('data', (c: Buffer) => out.push(c));
    child.stderr!.on('data', (c: Buffer) => err.push(c));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code === 0) resolve(Buffer.concat(out).toString('utf8'));
      else reject(new Error(`\`${argv.join(' ')}\` exited with ${code}: ${Buffer.concat(err).toString('utf8').trim().slice(0, 300)}`));
    });
    if (child.stdin) {
      // A command that fails early closes its stdin; its exit status tells what happened.
      child.stdin.on('error', () => undefined);
      child.stdin.end(input);
    }
  });
}

/**
 * The text the core will get for a published template, read the way the core reads it (HTTP
 * with the charset the server declares, or the file on the core host), or the reason it cannot.
 */
export async function readPublishedTemplate(cfg: Mailman3TemplatesConfig, uri: string): Promise<{ text: string } | { error: string }> {
  if (cfg.via === 'file') {
    const file = uri.replace(/^file:\/\//, '');
    try {
      return { text: await runCommand([...cfg.command, 'cat', file]) };
    } catch (err) {
      return { error: (err as Error).message };
    }
  }
  try {
    const res = await got(uri, { throwHttpErrors: false, timeout: { request: 15_000 }, responseType: 'buffer', retry: { limit: 2 } });
    if (res.statusCode !== 200) return { error: `${uri} answered HTTP ${res.statusCode}` };
    const type = String(res.headers['content-type'] ?? '');
    const charset = /charset="?([^";\s]+)/i.exec(type)?.[1]?.toLowerCase();
    const body = res.body;
    const ascii = body.every((b) => b < 0x80);
    // Mailman uses requests' response.text: a text/* type without charset is read as ISO-8859-1.
    if (!ascii && charset !== 'utf-8' && charset !== 'utf8') {
      return { error: `${uri} is served as "${type || 'no Content-Type'}"; Mailman would not read it as UTF-8 (serve it with charset=utf-8)` };
    }
    return { text: body.toString('utf8') };
  } catch (err) {
    return { error: `${uri}: ${(err as Error).message}` };
  }
}

async function writeTemplate(cfg: Mailman3TemplatesConfig, file: string, text: string): Promise<void> {
  if (cfg.via === 'http') {
    await mkdir(path.dirname(file), { recursive: true });
    await writeFile(file, text, 'utf8');
    return;
  }
  // Plain argv words on a shell-safe path (checked by the schema and before the call), so this also
  // works through ssh, which joins its arguments into one remote shell line. `tee` reads fd 0 itself
  // (a `/dev/stdin` path cannot be opened when stdin is a socket, as with Node's child processes).
  await runCommand([...cfg.command, 'mkdir', '-p', path.posix.dirname(file)]);
  await runCommand([...cfg.command, 'tee', file], text);
}

const SHELL_SAFE = /^[A-Za-z0-9._/@+:-]+$/;

async function publishTemplates(ctx: ListContext, env: Mailman3Env, listId: string, plan: SettingsPlan, problems: Problem[]): Promise<void> {
  if (plan.templates.length === 0) return;
  const cfg = templatesConfig(env.target);
  const uris: Record<string, string> = {};
  for (const t of plan.templates) {
    if (cfg === null) {
      await reportTemplateNotCarried(ctx, t, 'no template publishing is configured (target.templates): Mailman 3 core takes templates only as URLs it fetches', problems);
      continue;
    }
    const { file, uri } = templateLocation(cfg, listId, t.name);
    if (cfg.via === 'file' && !SHELL_SAFE.test(file)) {
      await reportTemplateNotCarried(ctx, t, `the path ${JSON.stringify(file)} is not safe to pass to a remote shell`, problems);
      continue;
    }
    await ctx.store.journalPending(ctx.list, SETTINGS_PHASE, 'template', t.name);
    try {
      await writeTemplate(cfg, file, t.text);
    } catch (err) {
      await reportTemplateNotCarried(ctx, t, `writing ${file} failed: ${(err as Error).message}`, problems);
      continue;
    }
    // A URI the core cannot fetch breaks delivery (requests' ConnectionError is not caught by the
    // template loader), so it is only set once the text is known to be there.
    const published = await readPublishedTemplate(cfg, uri);
    if ('error' in published || published.text !== t.text) {
      const why = 'error' in published ? published.error : `${uri} does not serve the text just written to ${file}`;
      await reportTemplateNotCarried(ctx, t, `${why}; publish ${cfg.via === 'http' ? `${cfg.dir} at ${cfg.baseUrl}` : cfg.coreDir} and run again`, problems);
      continue;
    }
    uris[t.name] = uri;
  }
  if (Object.keys(uris).length === 0) return;
  await env.core.ok({ list: ctx.list, operation: `set ${Object.keys(uris).length} template URIs`, method: 'PATCH', path: path_(listId, '/uris'), form: uris, schema: NoContent });
  for (const [name, uri] of Object.entries(uris)) {
    const t = plan.templates.find((x) => x.name === name)!;
    await ctx.store.journalDone(ctx.list, SETTINGS_PHASE, 'template', name, { targetUrl: uri, detail: { source: t.source, via: cfg!.via } });
  }
}

/** Keeps the exact text next to the list's report and says where it is. */
async function reportTemplateNotCarried(ctx: ListContext, t: TemplatePlan, reason: string, problems: Problem[]): Promise<void> {
  const file = path.join(ctx.reportDir, 'templates', `${t.name}.txt`);
  // Inside the owner-only reports folder, and owner-only itself.
  await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  await writeFile(file, t.text, { encoding: 'utf8', mode: 0o600 });
  problems.push({
    severity: 'warning',
    code: 'template-not-carried',
    list: ctx.list,
    key: t.source,
    file,
    message: `${ctx.list}: ${t.source} → ${t.name} not carried: ${reason}; its exact Mailman 3 text is in ${file}: ${JSON.stringify(t.text)}`,
  });
  await ctx.store.journalDone(ctx.list, SETTINGS_PHASE, 'template', t.name, { status: 'skipped', detail: { source: t.source, reason, file } });
}
