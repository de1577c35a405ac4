/**
 * Pipermail period folder names (HyperArch.dateToVolName) and the calendar span each stands for.
 * The five forms cannot be confused with each other, so a name is parsed by its form alone: a list whose
 * archive_volume_frequency was changed keeps folders of the older form next to the new ones.
 */

export type Granularity = 'year' | 'quarter' | 'month' | 'week' | 'day';

export interface PeriodSpan {
  granularity: Granularity;
  /** YYYY-MM-DD, first day. */
  start: string;
  /** YYYY-MM-DD, first day after the period. */
  end: string;
}

/** English month names: pipermail formats %B without ever calling setlocale, whatever the list language. */
export const MONTHS = [
  'January',
  'February',
  'March',
  'April',
  'May',
  'June',
  'July',
  'August',
  'September',
  'October',
  'November',
  'December',
] as const;

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

/** The span of a pipermail period folder name, or null when the name has none of the five forms. */
export function periodSpan(name: string): PeriodSpan | null {
  let m: RegExpExecArray | null;
  if ((m = /^(\d{4})$/.exec(name))) {
    const y = Number(m[1]);
    return { granularity: 'year', start: iso({ y, m: 1, d: 1 }), end: iso({ y: y + 1, m: 1, d: 1 }) };
  }
  if ((m = /^(\d{4})-([A-Za-z]+)$/.exec(name))) {
    const y = Number(m[1]);
    const idx = MONTHS.indexOf(m[2] as (typeof MONTHS)[number]);
    if (idx < 0) return null;
    const start = { y, m: idx + 1, d: 1 };
    const end = idx === 11 ? { y: y + 1, m: 1, d: 1 } : { y, m: idx + 2, d: 1 };
    return { granularity: 'month', start: iso(start), end: iso(end) };
  }
  if ((m = /^(\d{4})q([1-4])$/.exec(name))) {
    const y = Number(m[1]);
    const q = Number(m[2]);
    const start = { y, m: 3 * (q - 1) + 1, d: 1 };
    const end = q === 4 ? { y: y + 1, m: 1, d: 1 } : { y, m: 3 * q + 1, d: 1 };
    return { granularity: 'quarter', start: iso(start), end: iso(end) };
  }
  if ((m = /^Week-of-Mon-(\d{4})(\d{2})(\d{2})$/.exec(name))) {
    const start = ymd(Number(m[1]), Number(m[2]), Number(m[3]));
    if (!start) return null;
    return { granularity: 'week', start: iso(start), end: iso(addDays(start, 7)) };
  }
  if ((m = /^(\d{4})(\d{2})(\d{2})$/.exec(name))) {
    const start = ymd(Number(m[1]), Number(m[2]), Number(m[3]));
    if (!start) return null;
    return { granularity: 'day', start: iso(start), end: iso(addDays(start, 1)) };
  }
  return null;
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
