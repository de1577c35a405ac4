import type { DiscourseTargetConfig } from '../../config/schema.js';
import type { Problem } from '../../problems.js';
import { DEFAULT_USERNAME_RULES, type UsernameRules } from './authors.js';
import { DiscourseApiError, type DiscourseClient } from './client.js';
import { SiteSettingsSchema, UserShowSchema } from './schemas.js';

export type SiteSettingValues = Record<string, string | number | boolean | null>;

/** A site setting the import needs changed while it runs (and what to put back afterwards). */
export interface SettingAdvice {
  setting: string;
  current: string;
  during: string;
  after: string;
  why: string;
}

export interface PreflightResult {
  problems: Problem[];
  settings: SiteSettingValues;
  advice: SettingAdvice[];
  usernameRules: UsernameRules;
}

const str = (v: unknown): string => (v === null || v === undefined ? '' : String(v));
const bool = (v: unknown): boolean => v === true || v === 't' || v === 'true';

export function usernameRulesFrom(s: SiteSettingValues): UsernameRules {
  const n = (k: string, d: number) => (Number.isInteger(Number(s[k])) && str(s[k]) !== '' ? Number(s[k]) : d);
  return {
    min: n('min_username_length', DEFAULT_USERNAME_RULES.min),
    max: n('max_username_length', DEFAULT_USERNAME_RULES.max),
    unicode: bool(s.unicode_usernames),
    reserved: s.reserved_usernames === undefined ? DEFAULT_USERNAME_RULES.reserved : str(s.reserved_usernames).split('|').map((x) => x.trim()).filter((x) => x !== ''),
  };
}

/**
 * Checks credentials and the site settings that decide whether replaying is safe, before anything
 * is changed: the key must act as an admin (and be a global key when posts go out under each
 * author's name); outgoing e-mail must be off, or archive authors would get welcome mails; and the
 * settings that would refuse accounts, posts or uploads are listed with the value to use during
 * the import.
 */
export async function runPreflight(client: DiscourseClient, tcfg: DiscourseTargetConfig, opts: { accountsNeeded: boolean }): Promise<PreflightResult> {
  const problems: Problem[] = [];
  const err = (code: string, message: string) => problems.push({ severity: 'error', code, message });
  const warn = (code: string, message: string) => problems.push({ severity: 'warning', code, message });
  const info = (code: string, message: string) => problems.push({ severity: 'info', code, message });

  const r = await client.call({ method: 'GET', path: '/admin/site_settings.json', schema: SiteSettingsSchema, accept: [403, 404] });
  if (!r.ok) {
    if (r.status === 403) {
      err('discourse-auth', `Discourse ${client.baseUrl} refused the API key (403): the key is unknown or revoked, or apiUsername "${tcfg.apiUsername}" is not a user the key may act as (unknown, suspended or inactive user, or a single-user key of someone else); the key comes from ${tcfg.apiKeyEnv}`);
    } else {
      err('discourse-not-admin', `Discourse ${client.baseUrl}: apiUsername "${tcfg.apiUsername}" is not an administrator (admin routes answer 404); create the key for an admin account`);
    }
    return { problems, settings: {}, advice: [], usernameRules: DEFAULT_USERNAME_RULES };
  }
  const settings: SiteSettingValues = Object.fromEntries(r.data.site_settings.map((s) => [s.setting, s.value]));

  if (tcfg.authors === 'active-users') {
    // Posting as each author needs a global ("All Users") key; a single-user key answers 403 here.
    const probe = await client.call({ method: 'GET', path: `/u/${encodeURIComponent(tcfg.apiUsername)}.json`, as: 'system', schema: UserShowSchema, accept: [403, 404] });
    if (!probe.ok && probe.status === 403) {
      err('discourse-single-user-key', `Discourse ${client.baseUrl}: the API key only acts as "${tcfg.apiUsername}"; posting under each author's name needs a global key ("All Users" scope, granular scopes off). Create one, or set target.authors: importer-account`);
    }
  }

  const advice: SettingAdvice[] = [];
  const want = (setting: string, during: string, why: string, ok: (v: unknown) => boolean) => {
    if (!(setting in settings)) return;
    const current = str(settings[setting]);
    if (!ok(settings[setting])) advice.push({ setting, current, during, after: current, why });
  };

  const emails = str(settings.disable_emails);
  if (emails === 'no' || emails === '') {
    const message = `Discourse ${client.baseUrl}: outgoing e-mail is on (disable_emails = "${emails || 'no'}"); creating accounts and posts would send welcome mails and notifications to archive authors. Set disable_emails to "yes" (Admin > Settings > Email) for the import`;
    if (tcfg.allowEmails) warn('discourse-emails-on', `${message} — going ahead because target.allowEmails is true`);
    else err('discourse-emails-on', `${message}, or set target.allowEmails: true to go ahead anyway`);
  }
  want('disable_emails', 'yes', 'no welcome, activation or notification mail to archive authors', (v) => str(v) !== 'no');

  if (opts.accountsNeeded) {
    if ('allow_new_registrations' in settings && !bool(settings.allow_new_registrations)) {
      err('discourse-registrations-closed', `Discourse ${client.baseUrl}: allow_new_registrations is off, so POST /users.json refuses every account; turn it on during the import`);
    }
    want('allow_new_registrations', 'true', 'accounts for archive authors and members are created through the sign-up endpoint', bool);
    want('blocked_email_domains', '', 'authors at blocked domains cannot get an account (their posts would be attributed instead)', (v) => str(v) === '');
    want('allowed_email_domains', '', 'only these domains could get accounts', (v) => str(v) === '');
    if (str(settings.blocked_email_domains) !== '') warn('discourse-blocked-domains', `Discourse ${client.baseUrl}: blocked_email_domains = "${str(settings.blocked_email_domains)}"; authors at those domains get no account and their posts go out under ${tcfg.apiUsername} with an attribution line`);
    want('clean_up_inactive_users_after_days', '0', 'members who never post or log in would be deleted after this many days', (v) => Number(v) === 0);
  }
  want('approve_post_count', '0', 'posts by new accounts would wait in the review queue', (v) => Number(v) === 0);
  if ('approve_unless_allowed_groups' in settings) {
    want('approve_unless_allowed_groups', '10', 'posts by users outside these groups would wait in the review queue (10 = trust_level_0 = everyone)', (v) => str(v).split('|').includes('10'));
  }
  if ('approve_new_topics_unless_allowed_groups' in settings) {
    want('approve_new_topics_unless_allowed_groups', '10', 'new topics by users outside these groups would wait in the review queue', (v) => str(v).split('|').includes('10'));
  }
  if (tcfg.uploadAttachments) {
    want('authorized_extensions', '*', 'attachments of other types are noted in the post instead of uploaded', (v) => str(v).split('|').includes('*'));
    want('max_attachment_size_kb', '102400', 'larger attachments are noted in the post instead of uploaded', (v) => Number(v) >= 102400);
    want('max_image_size_kb', '102400', 'larger images are noted in the post instead of uploaded', (v) => Number(v) >= 102400);
  }
  if (tcfg.uploadAttachments && !['true', 't', true].includes(settings.secure_uploads as never)) {
    info(
      'discourse-secure-uploads',
      `Discourse ${client.baseUrl}: secure_uploads is off, so uploads are readable by anyone with their URL; attachments of lists with private archives will be named in their posts, not uploaded (turn secure_uploads on to upload them)`,
    );
  }
  for (const a of advice) {
    if (a.setting !== 'disable_emails') info('discourse-setting', `Discourse setting ${a.setting} = "${a.current}": set it to "${a.during}" during the import (${a.why}), back to "${a.after}" afterwards`);
  }
  info(
    'discourse-rate',
    `Discourse ${client.baseUrl}: requests are paced at ${tcfg.requestsPerMinute} per minute (target.requestsPerMinute); this must not exceed the server's DISCOURSE_MAX_ADMIN_API_REQS_PER_MINUTE (default 60), which all admin API keys share`,
  );
  return { problems, settings, advice, usernameRules: usernameRulesFrom(settings) };
}

/** Whether an error means the server, not the data, failed; used to tell the operator what to check. */
export function describeFailure(e: unknown): string {
  if (e instanceof DiscourseApiError) return e.message;
  return e instanceof Error ? e.message : String(e);
}
