/**
 * Mail dates as found in old archives: RFC 5322 dates, their obsolete forms (2-digit years, zone
 * names, missing seconds), asctime dates of mbox From_ lines, and the fallback chain pipermail
 * used to pick a message's date (Mailman 2.1 `pipermail.Article._set_date`).
 */

const MONTHS: Record<string, number> = {
  jan: 0, feb: 1, mar: 2, apr: 3, may: 4, jun: 5, jul: 6, aug: 7, sep: 8, oct: 9, nov: 10, dec: 11,
};

const WEEKDAYS = new Set(['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun']);

/**
 * Zone names in minutes east of UTC. The RFC 822 names are what Python's parsedate_tz knows (so what
 * pipermail honoured); the rest are unambiguous abbreviations common in 1995-2010 mail. RFC 5322 §4.3
 * says military letters other than Z carry no information (RFC 822 got their signs wrong), so they
 * count as UTC.
 */
const ZONES: Record<string, number> = {
  ut: 0, utc: 0, gmt: 0, z: 0, wet: 0,
  ast: -240, adt: -180, est: -300, edt: -240, cst: -360, cdt: -300,
  mst: -420, mdt: -360, pst: -480, pdt: -420, akst: -540, akdt: -480, hst: -600,
  bst: 60, cet: 60, met: 60, mez: 60, west: 60, cest: 120, mest: 120, mesz: 120, eet: 120, eest: 180,
  msk: 180, jst: 540, kst: 540, hkt: 480, sgt: 480, aest: 600, aedt: 660, nzst: 720, nzdt: 780,
};

/** Largest real-world UTC offset is +14:00; anything beyond is a broken client (HyperKitty drops it too). */
const MAX_OFFSET_MIN = 14 * 60;

export interface ParsedDate {
  /** Milliseconds since the epoch (UTC). */
  epochMs: number;
  /** False when the text carried no usable zone and `defaultZone` was applied. */
  hadZone: boolean;
}

/**
 * Parse a mail date leniently, the way Python's email.utils.parsedate_tz (which pipermail used) does:
 * optional weekday, day and month in either order, asctime layout, 2-digit years (>68 → 19xx, else
 * 20xx, Python's rule), missing seconds, numeric or named zones, comments. Additionally accepts
 * `+05-30`/`+05:30` offsets (seen in the wild, HyperKitty test `test_weird_timezone`), 3-digit years
 * (RFC 5322 §4.3: add 1900) and ISO 8601. A date without zone is read in `defaultZone` (an IANA name),
 * as pipermail read it in the server's local time. Returns null when the text is not a date.
 */
export function parseMailDate(text: string | null | undefined, defaultZone = 'UTC'): ParsedDate | null {
  if (!text) return null;
  const fast = parseCommonDate(text, defaultZone);
  if (fast) return fast;
  const iso = parseIso(text.trim(), defaultZone);
  if (iso) return iso;
  const cleaned = text.replace(/\([^()]*\)/g, ' ').replace(/,/g, ' ').trim();
  if (!cleaned) return null;
  const tokens = cleaned.split(/\s+/);

  let month = -1;
  let time: [number, number, number] | null = null;
  let offsetMin: number | null = null;
  let pm: boolean | null = null;
  const numbers: string[] = [];

  for (const raw of tokens) {
    const tok = raw.toLowerCase();
    if (/^\d+$/.test(tok)) {
      numbers.push(tok);
      continue;
    }
    const tm = /^(\d{1,2}):(\d{1,2})(?::(\d{1,2})(?:\.\d+)?)?([+-]\d{2}:?\d{2})?$/.exec(tok);
    if (tm && !time) {
      time = [Number(tm[1]), Number(tm[2]), tm[3] === undefined ? 0 : Number(tm[3])];
      if (tm[4] && offsetMin === null) offsetMin = parseNumericZone(tm[4]);
      continue;
    }
    const zone = parseNumericZone(tok);
    if (zone !== null) {
      if (offsetMin === null) offsetMin = zone;
      continue;
    }
    const letters = tok.replace(/\.$/, '');
    if (month < 0 && letters.length >= 3 && MONTHS[letters.slice(0, 3)] !== undefined && isMonthWord(letters)) {
      month = MONTHS[letters.slice(0, 3)]!;
      continue;
    }
    if (WEEKDAYS.has(letters.slice(0, 3)) && /^[a-z]+$/.test(letters)) continue;
    if (letters === 'am' || letters === 'pm') {
      pm = letters === 'pm';
      continue;
    }
    if (ZONES[letters] !== undefined) {
      if (offsetMin === null) offsetMin = ZONES[letters]!;
      continue;
    }
    if (/^[a-z]$/.test(letters)) {
      if (offsetMin === null) offsetMin = 0;
      continue;
    }
    // "GMT+0100", "UTC-5"
    const named = /^(?:gmt|utc|ut)([+-]\d{1,2}(?::?\d{2})?)$/.exec(letters);
    if (named) {
      if (offsetMin === null) offsetMin = parseNumericZone(named[1]!);
      continue;
    }
    return null;
  }
  if (month < 0 || !time || numbers.length !== 2) return null;

  // Day is the 1-2 digit number; with two such numbers the first is the day ("1 Jan 00").
  let dayTok: string;
  let yearTok: string;
  if (numbers[0]!.length <= 2) {
    dayTok = numbers[0]!;
    yearTok = numbers[1]!;
  } else {
    dayTok = numbers[1]!;
    yearTok = numbers[0]!;
  }
  if (dayTok.length > 2) return null;
  const day = Number(dayTok);
  let year = Number(yearTok);
  if (yearTok.length <= 2) year += year > 68 ? 1900 : 2000;
  else if (yearTok.length === 3) year += 1900;

  let [hour, minute, second] = time;
  if (pm !== null) {
    if (hour < 1 || hour > 12) return null;
    hour = (hour % 12) + (pm ? 12 : 0);
  }
  if (second === 60) second = 59; // leap second
  if (!validFields(year, month, day, hour, minute, second)) return null;

  if (offsetMin !== null && Math.abs(offsetMin) > MAX_OFFSET_MIN) offsetMin = 0;
  if (offsetMin !== null) {
    return { epochMs: utcMs(year, month, day, hour, minute, second) - offsetMin * 60_000, hadZone: true };
  }
  return { epochMs: zonedToEpoch(year, month, day, hour, minute, second, defaultZone), hadZone: false };
}

/** "Tue, 2 Mar 1999 10:04:09 -0500" and "Mon Nov  4 09:00:00 2019" without the general tokenizer (hot path). */
const RFC_DATE = /^(?:[A-Za-z]{3},?\s+)?(\d{1,2})\s+([A-Za-z]{3})\s+(\d{4})\s+(\d{1,2}):(\d{2})(?::(\d{2}))?\s+([+-]\d{4})(?:\s+\([^()]*\))?\s*$/;
const ASC_DATE = /^[A-Za-z]{3}\s+([A-Za-z]{3})\s+(\d{1,2})\s+(\d{1,2}):(\d{2})(?::(\d{2}))?\s+(\d{4})\s*$/;

function parseCommonDate(text: string, defaultZone: string): ParsedDate | null {
  let m = RFC_DATE.exec(text);
  if (m) {
    const month = MONTHS[m[2]!.toLowerCase()];
    const [day, year, hour, minute, second] = [Number(m[1]), Number(m[3]), Number(m[4]), Number(m[5]), m[6] ? Number(m[6]) : 0];
    const off = parseNumericZone(m[7]!);
    if (month === undefined || off === null || Math.abs(off) > MAX_OFFSET_MIN || !validFields(year, month, day, hour, minute, second)) return null;
    return { epochMs: utcMs(year, month, day, hour, minute, second) - off * 60_000, hadZone: true };
  }
  m = ASC_DATE.exec(text);
  if (m) {
    const month = MONTHS[m[1]!.toLowerCase()];
    const [day, hour, minute, second, year] = [Number(m[2]), Number(m[3]), Number(m[4]), m[5] ? Number(m[5]) : 0, Number(m[6])];
    if (month === undefined || !validFields(year, month, day, hour, minute, second)) return null;
    return { epochMs: zonedToEpoch(year, month, day, hour, minute, second, defaultZone), hadZone: false };
  }
  return null;
}

function isMonthWord(word: string): boolean {
  if (word.length === 3) return true;
  const full = ['january', 'february', 'march', 'april', 'may', 'june', 'july', 'august', 'september',
    'october', 'november', 'december', 'sept'];
  return full.includes(word);
}

/** `+0500`, `-0000`, `+05:30`, `+05-30` (dash typo seen in real mail), `+5`. Minutes east of UTC. */
function parseNumericZone(tok: string): number | null {
  const m = /^([+-])(\d{2})[:-]?(\d{2})$/.exec(tok) ?? /^([+-])(\d{1,2})()$/.exec(tok);
  if (!m) return null;
  const minutes = Number(m[2]) * 60 + (m[3] ? Number(m[3]) : 0);
  if (m[3] && Number(m[3]) > 59) return null;
  return m[1] === '-' ? -minutes : minutes;
}

function parseIso(text: string, defaultZone: string): ParsedDate | null {
  const m = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?\s*(Z|[+-]\d{2}:?\d{2})?$/i.exec(text);
  if (!m) return null;
  const [year, month, day, hour, minute, second] = [Number(m[1]), Number(m[2]) - 1, Number(m[3]),
    Number(m[4]), Number(m[5]), m[6] ? Number(m[6]) : 0];
  if (!validFields(year, month, day, hour, minute, second)) return null;
  if (m[7]) {
    const off = m[7].toUpperCase() === 'Z' ? 0 : parseNumericZone(m[7]);
    if (off === null) return null;
    return { epochMs: utcMs(year, month, day, hour, minute, second) - off * 60_000, hadZone: true };
  }
  return { epochMs: zonedToEpoch(year, month, day, hour, minute, second, defaultZone), hadZone: false };
}

function validFields(year: number, month: number, day: number, hour: number, minute: number, second: number): boolean {
  if (!Number.isInteger(year) || year < 0 || year > 9999) return false;
  if (hour > 23 || minute > 59 || second > 59 || day < 1) return false;
  return day <= daysInMonth(year, month);
}

const MONTH_DAYS = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

function daysInMonth(year: number, month: number): number {
  if (month !== 1) return MONTH_DAYS[month]!;
  return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0 ? 29 : 28;
}

/** Date.UTC maps years 0-99 to 1900-1999; set the full year explicitly for those. */
function utcMs(year: number, month: number, day: number, hour: number, minute: number, second: number): number {
  if (year >= 100) return Date.UTC(year, month, day, hour, minute, second);
  const d = new Date(Date.UTC(2000, month, day, hour, minute, second));
  d.setUTCFullYear(year, month, day);
  return d.getTime();
}

const formatters = new Map<string, Intl.DateTimeFormat>();
/** Per zone: UTC day number → that day's offset in ms, or null when the offset changes during the day. */
const dayOffsets = new Map<string, Map<number, number | null>>();
const DAY_MS = 86_400_000;

/** Throws a RangeError naming the zone when it is not a valid IANA time zone. */
export function assertTimeZone(zone: string): void {
  formatterFor(zone);
}

function formatterFor(zone: string): Intl.DateTimeFormat {
  let f = formatters.get(zone);
  if (!f) {
    try {
      f = new Intl.DateTimeFormat('en-US', {
        timeZone: zone, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric',
        hour: 'numeric', minute: 'numeric', second: 'numeric', era: 'short',
      });
    } catch {
      throw new RangeError(`unknown time zone '${zone}' (expected an IANA name such as America/New_York)`);
    }
    formatters.set(zone, f);
  }
  return f;
}

/** Offset of `zone` from UTC at instant `epochMs`, in ms, from the tz database via Intl. */
function exactZoneOffsetMs(zone: string, epochMs: number): number {
  const parts = formatterFor(zone).formatToParts(new Date(epochMs));
  const get = (t: string): number => Number(parts.find((p) => p.type === t)?.value ?? 0);
  let year = get('year');
  if (parts.find((p) => p.type === 'era')?.value === 'BC') year = 1 - year;
  const asUtc = utcMs(year, get('month') - 1, get('day'), get('hour'), get('minute'), get('second'));
  return asUtc - Math.floor(epochMs / 1000) * 1000;
}

/**
 * Offset of `zone` at `epochMs`. formatToParts costs microseconds and every message has a From_ date,
 * so offsets are cached per UTC day; a day whose start and end offsets differ (a DST change) is
 * computed exactly each time.
 */
function zoneOffsetMs(zone: string, epochMs: number): number {
  let days = dayOffsets.get(zone);
  if (!days) {
    days = new Map();
    dayOffsets.set(zone, days);
  }
  const day = Math.floor(epochMs / DAY_MS);
  let off = days.get(day);
  if (off === undefined) {
    const start = exactZoneOffsetMs(zone, day * DAY_MS);
    off = exactZoneOffsetMs(zone, day * DAY_MS + DAY_MS - 1000) === start ? start : null;
    if (days.size > 200_000) days.clear();
    days.set(day, off);
  }
  return off ?? exactZoneOffsetMs(zone, epochMs);
}

/**
 * Wall-clock time in an IANA zone → epoch ms. A time that occurs twice (DST ends) is the earlier
 * instant; a time that does not exist (DST starts) is moved forward, like Temporal's "compatible".
 */
export function zonedToEpoch(year: number, month: number, day: number, hour: number, minute: number, second: number, zone: string): number {
  const local = utcMs(year, month, day, hour, minute, second);
  if (zone === 'UTC' || zone === 'Etc/UTC') return local;
  const before = zoneOffsetMs(zone, local - DAY_MS);
  const after = zoneOffsetMs(zone, local + DAY_MS);
  if (before === after) return local - before;
  const early = local - before;
  const late = local - after;
  const earlyValid = zoneOffsetMs(zone, early) === before;
  const lateValid = zoneOffsetMs(zone, late) === after;
  if (earlyValid && lateValid) return Math.min(early, late);
  if (earlyValid) return early;
  if (lateValid) return late;
  return early; // in the gap: the offset before the change moves the time forward
}

/**
 * The asctime date of an mbox From_ line ("Mon Nov  4 09:00:00 2019", optionally with a zone token
 * before or after the year). Without a zone it is the local time of the MTA that wrote the line,
 * i.e. the Mailman server (pipermail read it with time.mktime, in local time).
 */
export function parseEnvelopeDate(text: string, defaultZone = 'UTC'): ParsedDate | null {
  return parseMailDate(text, defaultZone);
}

export type DateSource = 'date' | 'x-list-received-date' | 'received' | 'envelope' | 'none';

export interface DateCandidates {
  date?: string | null;
  xListReceivedDate?: string | null;
  /** The value of the first Received header (the hop that delivered to the list server). */
  received?: string | null;
  /** The envelope date, already resolved to ISO UTC by the mbox reader. */
  envelopeIso?: string | null;
}

export interface ChosenDate {
  date: string | null;
  dateSource: DateSource;
  dateRepaired: boolean;
  /** One entry per candidate that was present but not usable, for the problem report. */
  rejected: { source: DateSource; text: string; reason: string }[];
}

/** Mailman's ARCHIVER_ALLOWABLE_SANE_DATE_SKEW default. */
export const SANE_DATE_SKEW_MS = 15 * 24 * 3600 * 1000;

/**
 * Pipermail's date chain (pipermail.py `_set_date`): Date → X-List-Received-Date → the date after the
 * last ';' of the first Received → the From_ line date. Pipermail rejects a candidate that does not
 * parse, is before 1970 (negative), or lies more than 15 days after "now". We apply the same rules, and
 * additionally reject a candidate more than 15 days after a later candidate of the chain: those are
 * stamped by servers at arrival, and "now" during a migration is years after the archive was built,
 * so "now" alone would let a 2030 Date through in a 2005 archive that pipermail (run in 2005) refused.
 * This is the same 15-day window ArchRunner applied to live posts against their arrival time.
 */
export function chooseMessageDate(c: DateCandidates, zone = 'UTC', now: Date = new Date()): ChosenDate {
  const texts: [DateSource, string | null | undefined][] = [
    ['date', c.date],
    ['x-list-received-date', c.xListReceivedDate],
    ['received', c.received == null ? null : receivedDateText(c.received)],
    ['envelope', c.envelopeIso],
  ];
  // Candidates are parsed when first needed: usually the Date and the next stamp decide.
  const parsed = texts.map(([source, text]) => {
    const value = text == null ? null : text.trim();
    return { source, text: value === '' ? null : value, ms: undefined as number | null | undefined };
  });
  const msOf = (p: (typeof parsed)[number]): number | null => {
    if (p.ms === undefined) p.ms = p.text === null ? null : (parseMailDate(p.text, zone)?.epochMs ?? null);
    return p.ms;
  };
  const rejected: ChosenDate['rejected'] = [];
  const nowMs = now.getTime();
  for (let i = 0; i < parsed.length; i++) {
    const cand = parsed[i]!;
    if (cand.text === null) continue;
    const ms = msOf(cand);
    let reason: string | null = null;
    if (ms === null) reason = 'unparseable';
    else if (ms < 0) reason = 'before 1970';
    else if (ms - nowMs > SANE_DATE_SKEW_MS) reason = 'more than 15 days in the future';
    else {
      // Epoch 0 is what converters write when they have no date; it is no reference.
      let later: (typeof parsed)[number] | undefined;
      for (let j = i + 1; j < parsed.length && !later; j++) {
        const lm = msOf(parsed[j]!);
        if (lm !== null && lm > 0) later = parsed[j];
      }
      if (later && ms - later.ms! > SANE_DATE_SKEW_MS) {
        reason = `more than 15 days after the ${later.source} date`;
      }
    }
    if (reason) {
      rejected.push({ source: cand.source, text: cand.text, reason });
      continue;
    }
    return { date: new Date(ms!).toISOString(), dateSource: cand.source, dateRepaired: cand.source !== 'date', rejected };
  }
  return { date: null, dateSource: 'none', dateRepaired: true, rejected };
}

/** Pipermail's `re.sub(r'^.*;\s*', '', received, flags=DOTALL)`: the text after the last ';'. */
export function receivedDateText(received: string): string | null {
  const i = received.lastIndexOf(';');
  if (i < 0) return null;
  return received.slice(i + 1).trim();
}
