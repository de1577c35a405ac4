import type { Problem } from '../problems.js';
import type { RedirectConfidence, RedirectEntry, RedirectKind, UnmappedUrl } from './types.js';

export const REDIRECT_KINDS: readonly RedirectKind[] = ['article', 'period', 'period-index', 'period-txt', 'list-root', 'list-mbox', 'listinfo', 'attachment'];
export const REDIRECT_CONFIDENCES: readonly RedirectConfidence[] = ['html', 'mbox-order', 'derived'];

export interface KindCounts {
  total: number;
  html: number;
  'mbox-order': number;
  derived: number;
}

/** What reports/<list>/redirects.json holds: counts per kind and confidence, and every old URL left without one. */
export interface RedirectSummary {
  list: string;
  generatedAt: string;
  redirects: number;
  byKind: Record<RedirectKind, KindCounts>;
  byConfidence: Record<RedirectConfidence, number>;
  /** Old URLs without a redirect, per reason code. */
  unmappedByCode: Record<string, number>;
  unmapped: UnmappedUrl[];
  problems: Problem[];
}

export function summarizeRedirects(list: string, entries: RedirectEntry[], unmapped: UnmappedUrl[], problems: Problem[]): RedirectSummary {
  const zero = (): KindCounts => ({ total: 0, html: 0, 'mbox-order': 0, derived: 0 });
  const byKind = Object.fromEntries(REDIRECT_KINDS.map((k) => [k, zero()])) as Record<RedirectKind, KindCounts>;
  const byConfidence = Object.fromEntries(REDIRECT_CONFIDENCES.map((c) => [c, 0])) as Record<RedirectConfidence, number>;
  for (const e of entries) {
    const k = (byKind[e.kind] ??= zero());
    k.total++;
    k[e.confidence]++;
    byConfidence[e.confidence]++;
  }
  const unmappedByCode: Record<string, number> = {};
  for (const u of unmapped) unmappedByCode[u.code] = (unmappedByCode[u.code] ?? 0) + 1;
  return { list, generatedAt: new Date().toISOString(), redirects: entries.length, byKind, byConfidence, unmappedByCode, unmapped, problems };
}
