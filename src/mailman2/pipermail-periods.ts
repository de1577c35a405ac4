/**
 * Pipermail period ("volume") folder names. Mailman 2.1 `HyperArchive.dateToVolName` names each
 * folder from the article date in the server's local time zone, using the list's
 * `archive_volume_frequency` (HyperArch.py 961-985); `_volre` gives the patterns it accepts back.
 */

export type PeriodKind = 'yearly' | 'monthly' | 'quarterly' | 'weekly' | 'daily';

/** What a period folder name means: the local calendar days it covers (both ends inclusive). */
export interface ParsedPeriodName {
  name: string;
  kind: PeriodKind;
  /** First local calendar day, `YYYY-MM-DD`. */
  start: string;
  /** Last local calendar day, `YYYY-MM-DD` (inclusive). */
  end: string;
}

/** `archive_volume_frequency` values as mapped by `HyperArchive.__init__`; anything else is monthly. */
export function frequencyToKind(frequency: number): PeriodKind {
  switch (frequency) {
    case 0:
      return 'yearly';
    case 2:
      return 'quarterly';
    case 3:
      return 'weekly';
    case 4:
      return 'daily';
    default:
      return 'monthly';
  }
}

/** `%B` in the C locale: Mailman never calls setlocale, so folder names are English whatever the list language. */
export const ENGLISH_MONTHS = [
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

const YEAR_RE = /^(\d{4})$/;
const QUARTER_RE = /^(\d{4})q([1-4])$/;
const MONTH_RE = /^(\d{4})-([A-Za-z]+)$/;
const WEEK_RE = /^Week-of-Mon-(\d{4})(\d{2})(\d{2})$/;
const DAY_RE = /^(\d{4})(\d{2})(\d{2})$/;

/** Parses a period folder name of any of the five frequencies; null if it is not one. */
export function parsePeriodName(name: string): ParsedPeriodName | null {
  let m = YEAR_RE.exec(name);
  if (m) {
    const y = Number(m[1]);
    return { name, kind: 'yearly', start: isoDate(y, 1, 1), end: isoDate(y, 12, 31) };
  }
  m = QUARTER_RE.exec(name);
  if (m) {
    const y = Number(m[1]);
    const firstMonth = (Number(m[2]) - 1) * 3 + 1;
    return {
      name,
      kind: 'quarterly',
      start: isoDate(y, firstMonth, 1),
      end: isoDate(y, firstMonth + 2, daysInMonth(y, firstMonth + 2)),
    };
  }
  m = MONTH_RE.exec(name);
  if (m) {
    const y = Number(m[1]);
    // volNameToDate compares month names case-insensitively.
    const monthIndex = ENGLISH_MONTHS.findIndex((mn) => mn.toLowerCase() === m![2]!.toLowerCase());
    if (monthIndex < 0) return null;
    const month = monthIndex + 1;
    return { name, kind: 'monthly', start: isoDate(y, month, 1), end: isoDate(y, month, daysInMonth(y, month)) };
  }
  m = WEEK_RE.exec(name);
  if (m) {
    const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
    if (!validDay(y, mo, d)) return null;
    // Not checked to be a Monday: dateToVolName subtracts weekday*86400 seconds, which across a
    // DST change can land on a neighbouring day (late Sunday after a fall-back gives a Tuesday),
    // and that day then names the folder.
    return { name, kind: 'weekly', start: isoDate(y, mo, d), end: addDays(y, mo, d, 6) };
  }
  m = DAY_RE.exec(name);
  if (m) {
    const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
    if (!validDay(y, mo, d)) return null;
    return { name, kind: 'daily', start: isoDate(y, mo, d), end: isoDate(y, mo, d) };
  }
  return null;
}

/** Local calendar fields of an instant in a time zone (default: this process's zone). */
export interface LocalDateParts {
  year: number;
  month: number;
  day: number;
  /** 0 = Monday … 6 = Sunday, as Python's `tm_wday`. */
  weekday: number;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

export function localDateParts(date: Date, timeZone?: string): LocalDateParts {
  const key = timeZone ?? '';
  let fmt = formatters.get(key);
  if (!fmt) {
    fmt = new Intl.DateTimeFormat('en-US', {
      timeZone,
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      weekday: 'short',
      era: 'short',
    });
    formatters.set(key, fmt);
  }
  const parts = Object.fromEntries(fmt.formatToParts(date).map((p) => [p.type, p.value]));
  let year = Number(parts.year);
  if (parts.era === 'BC' || parts.era === 'B') year = 1 - year;
  const weekday = ['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'].indexOf(parts.weekday ?? '');
  return { year, month: Number(parts.month), day: Number(parts.day), weekday };
}

/**
 * The folder pipermail files an article dated `date` under, computed like `dateToVolName` in the
 * server's time zone `timeZone` (IANA name; default the process's zone).
 */
export function periodFor(date: Date, kind: PeriodKind | number, timeZone?: string): string {
  const k = typeof kind === 'number' ? frequencyToKind(kind) : kind;
  // dateToVolName works on whole seconds (time.localtime truncates).
  const seconds = Math.floor(date.getTime() / 1000);
  const p = localDateParts(new Date(seconds * 1000), timeZone);
  switch (k) {
    case 'yearly':
      return pad(p.year, 4);
    case 'quarterly':
      return `${pad(p.year, 4)}q${Math.floor((p.month - 1) / 3) + 1}`;
    case 'monthly':
      return `${pad(p.year, 4)}-${ENGLISH_MONTHS[p.month - 1]}`;
    case 'daily':
      return `${pad(p.year, 4)}${pad(p.month, 2)}${pad(p.day, 2)}`;
    case 'weekly': {
      // Same arithmetic as Mailman (fixed 86400-second days, then localtime again), DST quirk included.
      const monday = localDateParts(new Date((seconds - p.weekday * 86400) * 1000), timeZone);
      return `Week-of-Mon-${pad(monday.year, 4)}${pad(monday.month, 2)}${pad(monday.day, 2)}`;
    }
  }
}

/** The period name for a local calendar day (no time zone involved). */
export function periodForLocalDay(year: number, month: number, day: number, kind: PeriodKind): string {
  switch (kind) {
    case 'yearly':
      return pad(year, 4);
    case 'quarterly':
      return `${pad(year, 4)}q${Math.floor((month - 1) / 3) + 1}`;
    case 'monthly':
      return `${pad(year, 4)}-${ENGLISH_MONTHS[month - 1]}`;
    case 'daily':
      return `${pad(year, 4)}${pad(month, 2)}${pad(day, 2)}`;
    case 'weekly': {
      const t = Date.UTC(year, month - 1, day);
      const weekday = (new Date(t).getUTCDay() + 6) % 7;
      const m = new Date(t - weekday * 86400_000);
      return `Week-of-Mon-${pad(m.getUTCFullYear(), 4)}${pad(m.getUTCMonth() + 1, 2)}${pad(m.getUTCDate(), 2)}`;
    }
  }
}

/** Chronological order of period names (unparseable names last, by name). */
export function comparePeriodNames(a: string, b: string): number {
  const pa = parsePeriodName(a);
  const pb = parsePeriodName(b);
  if (pa && pb) {
    if (pa.start !== pb.start) return pa.start < pb.start ? -1 : 1;
    if (pa.end !== pb.end) return pa.end < pb.end ? -1 : 1;
  } else if (pa || pb) {
    return pa ? -1 : 1;
  }
  return a < b ? -1 : a > b ? 1 : 0;
}

function pad(n: number, width: number): string {
  return String(n).padStart(width, '0');
}

function isoDate(y: number, m: number, d: number): string {
  return `${pad(y, 4)}-${pad(m, 2)}-${pad(d, 2)}`;
}

function daysInMonth(y: number, m: number): number {
  const d = new Date(Date.UTC(2000, m, 0));
  d.setUTCFullYear(y, m, 0);
  return d.getUTCDate();
}

function validDay(y: number, m: number, d: number): boolean {
  return m >= 1 && m <= 12 && d >= 1 && d <= daysInMonth(y, m);
}

function addDays(y: number, m: number, d: number, days: number): string {
  const t = new Date(Date.UTC(2000, 0, 1));
  t.setUTCFullYear(y, m - 1, d + days);
  return isoDate(t.getUTCFullYear(), t.getUTCMonth() + 1, t.getUTCDate());
}
