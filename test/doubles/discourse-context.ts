// Per-request context of the Discourse test double, the per-user RateLimiter port and
// the notification / e-mail bookkeeping shared by the route handlers.

import type { ParsedRequest } from './discourse-http.js';
import { jsonError } from './discourse-http.js';
import type { DoubleState, NotificationRecord, TopicRecord, UserRecord } from './discourse-model.js';
import { canSeeTopic, EMAIL_LEVEL, isStaff } from './discourse-model.js';
import { MSG, rateLimitTimeLeft } from './discourse-text.js';

export interface Ctx {
  state: DoubleState;
  /** Milliseconds, from the injectable clock. */
  now: () => number;
  baseUrl: string;
  req: ParsedRequest;
  /** The impersonated user, null when the request carries no API key. */
  user: UserRecord | null;
  /** An admin-issued ApiKey authenticated this request (Discourse's is_api?). */
  isApi: boolean;
  shared: SharedRuntime;
}

/** Mutable runtime shared by all requests (not part of the inspectable state). */
export interface SharedRuntime {
  /** DistributedMemoizer entries of PostsController#create. */
  postMemo: Map<string, { payload: string; expiresAt: number }>;
  /** RateLimiter lists: key → timestamps in seconds, newest first. */
  limiterLogs: Map<string, number[]>;
  /** PostValidator#unique_post_validator keys: "userId:sha1(raw)" → expiry ms. */
  uniquePostKeys: Map<string, number>;
  permalinkApi: 'nested' | 'legacy';
}

/**
 * lib/rate_limiter.rb: a sliding log of the last `max` timestamps (whole seconds); a
 * rejected attempt is not logged. Returns the seconds to wait, or null when performed.
 */
export function limiterPerform(shared: SharedRuntime, key: string, max: number, secs: number, nowMs: number): number | null {
  const now = Math.floor(nowMs / 1000);
  const log = shared.limiterLogs.get(key) ?? [];
  const oldest = log[log.length - 1];
  if (max > 0 && (log.length < max || oldest === undefined || now - oldest >= secs)) {
    log.unshift(now);
    if (log.length > max) log.length = max;
    shared.limiterLogs.set(key, log);
    return null;
  }
  return oldest === undefined ? secs : secs - (now - oldest);
}

/** RateLimiter::LimitExceeded rendered by ApplicationController (429, rate_limit). */
export function limitExceeded(waitSeconds: number, type: string, errorCode?: string) {
  const timeLeft = rateLimitTimeLeft(waitSeconds);
  const byType = MSG.rateLimitByType[type.replace(/-/g, '_')];
  const message = byType ? byType(timeLeft) : MSG.tooManyRequests(timeLeft);
  const headers: Record<string, string> = { 'Retry-After': String(waitSeconds) };
  if (errorCode) headers['Discourse-Rate-Limit-Error-Code'] = errorCode;
  return jsonError(429, [message], 'rate_limit', { wait_seconds: waitSeconds, time_left: timeLeft }, headers);
}

/** Per-user limiter (staff are rate_unlimited). Throws the 429. */
export function userLimit(ctx: Ctx, user: UserRecord, type: string, max: number, secs: number): void {
  if (isStaff(user)) return;
  const wait = limiterPerform(ctx.shared, `${user.id}:${type}`, max, secs, ctx.now());
  if (wait !== null) throw limitExceeded(wait, type);
}

/** Whether Discourse would put an e-mail on the wire for this user now. */
export function emailDeliverable(state: DoubleState, user: UserRecord, opts: { requireActive: boolean }): boolean {
  const mode = state.siteSettings.disable_emails;
  if (mode === 'yes') return false;
  if (mode === 'non-staff' && !isStaff(user)) return false;
  if (user.id <= 0 || user.suspended) return false;
  if (opts.requireActive && !user.active && !user.staged) return false;
  return true;
}

export function sendEmail(
  ctx: Ctx,
  user: UserRecord,
  type: string,
  where: { topicId?: number | null; postNumber?: number | null } = {},
  opts: { requireActive: boolean } = { requireActive: true },
): void {
  if (!emailDeliverable(ctx.state, user, opts)) return;
  ctx.state.emailsSent.push({
    to: user.email,
    userId: user.id,
    type,
    topicId: where.topicId ?? null,
    postNumber: where.postNumber ?? null,
    at: ctx.now(),
  });
}

/** An in-app notification plus the notification e-mail it triggers (Jobs::UserEmail). */
export function notify(
  ctx: Ctx,
  user: UserRecord,
  type: NotificationRecord['type'],
  topic: TopicRecord | null,
  postNumber: number | null,
): void {
  if (topic && !canSeeTopic(ctx.state, user, topic)) return;
  ctx.state.notifications.push({ userId: user.id, type, topicId: topic?.id ?? null, postNumber, at: ctx.now() });
  // Jobs::UserEmail skips users whose preference is "never" (email_messages_level for PMs, email_level
  // otherwise); "only when away" still sends, since an account nobody has used is always away.
  const level = type === 'private_message' ? user.emailMessagesLevel : user.emailLevel;
  if (level === EMAIL_LEVEL.never) return;
  sendEmail(ctx, user, `user_${type}`, { topicId: topic?.id ?? null, postNumber });
}
