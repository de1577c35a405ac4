/** Shapes shared by the Mailman 2 → Mailman 3 mapping plans. */
import type { JsonValue } from '../../mailman2/list-config.js';

export type { JsonValue };

/** A value in a PATCH body for /3.1/lists/<list_id>/config (REST spellings: enum names, "7d"). */
export type RestValue = string | number | boolean | string[];

/** A Mailman 2 setting (or part of one) that the plan does not carry to Mailman 3. */
export interface NotCarried {
  /** Mailman 2 key, optionally with a detail (`user_options.SuppressPasswordReminder`). */
  key: string;
  /** The Mailman 2 value; secrets are never included (null or a count instead). */
  value: JsonValue;
  reason: string;
  /** True when `mailman import21` run on the Mailman 3 server would carry it (and it has an effect there). */
  viaImport21: boolean;
}

/** A Mailman 2 key that needs no carrying: bookkeeping, or used to create the list itself. */
export interface NotApplicable {
  key: string;
  reason: string;
}

/** Mailman 3 `Action` names (interfaces/action.py). */
export type Mailman3Action = 'hold' | 'reject' | 'discard' | 'accept' | 'defer';

/** MM2 member_moderation_action: 0 Hold, 1 Reject, 2 Discard (import21 member_moderation_action_mapping). */
export const MEMBER_MODERATION_ACTIONS: Readonly<Record<number, Mailman3Action>> = { 0: 'hold', 1: 'reject', 2: 'discard' };
