import type { Problem } from '../problems.js';
import type { NotCarried, PlannedChange, VerifyResult } from '../targets/target.js';

/** The machine-readable report of one list (reports/<list>/report.json); the HTML page shows the same. */
export interface ListReport {
  list: string;
  displayName: string;
  target: 'mailman3' | 'discourse';
  dryRun: boolean;
  generatedAt: string;
  phase: string;
  status: 'pending' | 'running' | 'done' | 'failed';
  error: string | null;
  archivePolicy: 'public' | 'private' | 'never';
  counts: {
    owners: number;
    moderators: number;
    members: number;
    digestMembers: number;
    disabledMembers: number;
    messages: number;
    replayable: number;
    threads: number;
    duplicatesSameContent: number;
    duplicatesNewId: number;
    syntheticIds: number;
    repairedDates: number;
    quarantined: number;
    articles: number;
    articlesFromHtml: number;
    articlesByMboxOrder: number;
    articlesUnmatched: number;
    applied: Record<string, Record<string, number>>;
  };
  settings: PlannedChange[];
  notCarried: NotCarried[];
  estimate: { requests: number; seconds: number; basis: string } | null;
  details: Record<string, unknown>;
  /** Messages per month (UTC), source vs target (null until the target was checked). */
  monthly: { month: string; source: number; target: number | null }[];
  problems: (Problem & { phase?: string })[];
  verify: VerifyResult | null;
}

export interface RunReport {
  generatedAt: string;
  dryRun: boolean;
  target: 'mailman3' | 'discourse';
  lists: { list: string; status: string; phase: string; error: string | null; members: number; messages: number; problems: number; report: string }[];
  totals: { lists: number; done: number; failed: number; members: number; messages: number };
  durationSeconds: number;
}
