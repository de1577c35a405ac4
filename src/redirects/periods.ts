/**
 * Pipermail period folder names (HyperArch.dateToVolName) and the calendar span each stands for.
 * The five forms cannot be confused with each other, so a name is parsed by its form alone: a list whose
 * archive_volume_frequency was changed keeps folders of the older form next to the new ones.
 */
import { parsePeriodName, type PeriodKind } from '../mailman2/pipermail-periods.js';

export type Granularity = 'year' | 'quarter' | 'month' | 'week' | 'day';

export interface PeriodSpan {
  granularity: Granularity;
  /** YYYY-MM-DD, first day. */
  start: string;
  /** YYYY-MM-DD, first day after the period. */
  end: string;
}

interface Ymd {
  y: number;
  m: number;
  d: number;
}

function ymd(y: number, m: number, d: number): Ymd | null {
  const t = new Date(0);
  t.setUTCFullYear(y, m - 1, d); // not Date.UTC, which maps years 0-99 to 19xx
  if (t.getUTCFullYear() !== y || t.getUTCMonth() !== m - 1 || t.getUTCDate() !== d) return null;
  return { y, m, d };
}

function addDays(v: Ymd, days: number): Ymd {
  const t = new Date(0);
  t.setUTCFullYear(v.y, v.m - 1, v.d + days);
  return { y: t.getUTCFullYear(), m: t.getUTCMonth() + 1, d: t.getUTCDate() };
}

function iso(v: Ymd): string {
  return `${String(v.y).padStart(4, '0')}-${String(v.m).padStart(2, '0')}-${String(v.d).padStart(2, '0')}`;
}

/** Parses YYYY-MM-DD (a longer ISO timestamp is cut to its date). */
export function parseIsoDate(s: string): { y: number; m: number; d: number } | null {
  const m = /^(\d{4})-(\d{2})-(\d{2})(?:$|T)/.exec(s);
  if (!m) return null;
  return ymd(Number(m[1]), Number(m[2]), Number(m[3]));
}

const GRANULARITY: Record<PeriodKind, Granularity> = { yearly: 'year', quarterly: 'quarter', monthly: 'month', weekly: 'week', daily: 'day' };

/** The span of a pipermail period folder name (parsed as the pipermail reader does), or null when it has none of the five forms. */
export function periodSpan(name: string): PeriodSpan | null {
  const parsed = parsePeriodName(name);
  if (!parsed) return null;
  const last = parseIsoDate(parsed.end)!;
  return { granularity: GRANULARITY[parsed.kind], start: parsed.start, end: iso(addDays(last, 1)) };
}

/** Which HyperKitty archive page best stands in for a period's index pages. */
export interface ArchiveView {
  year: number;
  month: number;
  /** Set only for daily periods: HyperKitty has day views, which match them exactly. */
  day?: number;
}

/**
 * Month (or day) page for a period. Monthly and daily periods map exactly. For longer periods HyperKitty has no
 * matching page, so the month of the first post is used when known (a yearly archive often starts in a later
 * month), else the period's first month. A week can straddle two months: without a first-post date, the month
 * holding most of its days (the one its Thursday is in) is used.
 */
export function archiveView(granularity: Granularity, start: string, end: string, firstPostDate?: string): ArchiveView | null {
  const s = parseIsoDate(start);
  const e = parseIsoDate(end);
  if (!s || !e) return null;
  if (granularity === 'day') return { year: s.y, month: s.m, day: s.d };
  if (granularity === 'month') return { year: s.y, month: s.m };
  const first = firstPostDate ? parseIsoDate(firstPostDate) : null;
  if (first && iso(first) >= iso(s) && iso(first) < iso(e)) return { year: first.y, month: first.m };
  if (granularity === 'week') {
    const thursday = addDays(s, 3);
    return { year: thursday.y, month: thursday.m };
  }
  return { year: s.y, month: s.m };
}

export function isIsoDate(s: string): boolean {
  return /^\d{4}-\d{2}-\d{2}$/.test(s) && parseIsoDate(s) !== null;
}
