import type { LoadedConfig } from '../config/load.js';
import type { ListConfig } from '../mailman2/list-config.js';
import type { Problem } from '../problems.js';
import type { Store } from '../state/store.js';

/** What a target needs to know about one list; everything comes from the state database. */
export interface ListContext {
  list: string;
  config: ListConfig;
  store: Store;
  cfg: LoadedConfig;
  /** reports/<list>/ */
  reportDir: string;
  /** Set when the operator asked to stop: finish the request in flight, then return. */
  signal: AbortSignal;
  progress: (done: number, total: number, what: string) => void;
}

/** One line of the plan a person reads: what will be set/created, or why it cannot be. */
export interface PlannedChange {
  key: string;
  value: unknown;
  /** Mailman 2 key(s) it comes from. */
  from?: string[];
}

export interface NotCarried {
  key: string;
  value: unknown;
  reason: string;
}

export interface TargetPlan {
  target: 'mailman3' | 'discourse';
  settings: PlannedChange[];
  notCarried: NotCarried[];
  /** Target-specific sections (categories, users, topics; archive path choice …). */
  details: Record<string, unknown>;
  /** Requests the apply phases will make and the time they are expected to take. */
  estimate: { requests: number; seconds: number; basis: string };
  problems: Problem[];
}

/**
 * A target that can count the migrated messages per month (UTC, `YYYY-MM`) reports them as the
 * `actual` of a check with this name; the list report charts them next to the source.
 */
export const MONTHLY_CHECK = 'archive: messages per month';

export interface VerifyResult {
  ok: boolean;
  checks: { name: string; ok: boolean; expected: unknown; actual: unknown; detail?: string }[];
}

/** Every target implements the same small interface; the pipeline never looks past it. */
export interface Target {
  readonly kind: 'mailman3' | 'discourse';
  /** Pure: reads only the state database, never the network (this is what a dry-run shows). */
  plan(ctx: ListContext): Promise<TargetPlan>;
  /** Checks credentials and server settings once per run, before any list is changed. */
  preflight(): Promise<Problem[]>;
  applySettings(ctx: ListContext): Promise<void>;
  applyRoster(ctx: ListContext): Promise<void>;
  replayArchive(ctx: ListContext): Promise<void>;
  verify(ctx: ListContext): Promise<VerifyResult>;
  close?(): Promise<void>;
}
