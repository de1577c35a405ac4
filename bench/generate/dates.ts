/**
 * Date formats that appear in Mailman 2 mboxes: the From_ line's ctime() in the server's local time,
 * Postfix's Received timestamp, senders' Date headers in their own offsets, and Python's
 * email.Utils.formatdate() (UTC, `-0000`) that Mailman writes into X-List-Received-Date and
 * clobbered Date headers.
 */

export const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'] as const;
export const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'] as const;

function pad2(n: number): string {
  return n < 10 ? '0' + n : String(n);
}

function fields(ms: number): { dow: string; day: number; mon: string; year: number; hms: string } {
  const d = new Date(ms);
  return {
    dow: DAYS[d.getUTCDay()] as string,
    day: d.getUTCDate(),
    mon: MONTHS[d.getUTCMonth()] as string,
    year: d.getUTCFullYear(),
    hms: `${pad2(d.getUTCHours())}:${pad2(d.getUTCMinutes())}:${pad2(d.getUTCSeconds())}`,
  };
}

/** `+hhmm` / `-hhmm` for an offset in minutes east of UTC. */
export function offsetText(minutes: number): string {
  const sign = minutes < 0 ? '-' : '+';
  const abs = Math.abs(minutes);
  return `${sign}${pad2(Math.floor(abs / 60))}${pad2(abs % 60)}`;
}

/**
 * A server time zone. Offsets come from Intl (so DST follows the real tz database) and are cached
 * per hour, which keeps millions of lookups cheap.
 */
export class ServerZone {
  private readonly cache = new Map<number, { offset: number; abbr: string | null }>();
  private readonly format: Intl.DateTimeFormat;
  private readonly abbrFormat: Intl.DateTimeFormat;

  constructor(readonly name: string) {
    this.format = new Intl.DateTimeFormat('en-US', { timeZone: name, timeZoneName: 'longOffset' });
    this.abbrFormat = new Intl.DateTimeFormat('en-US', { timeZone: name, timeZoneName: 'short' });
  }

  private query(hour: number): { offset: number; abbr: string | null } {
    const at = new Date(hour * 3_600_000);
    const long = this.format.formatToParts(at).find((p) => p.type === 'timeZoneName')?.value ?? 'GMT';
    const m = /GMT([+-])(\d\d):(\d\d)/.exec(long);
    const offset = m ? (m[1] === '-' ? -1 : 1) * (Number(m[2]) * 60 + Number(m[3])) : 0;
    const short = this.abbrFormat.formatToParts(at).find((p) => p.type === 'timeZoneName')?.value ?? '';
    const abbr = /^[A-Z]{2,5}$/.test(short) && short !== 'GMT' ? short : offset === 0 ? 'UTC' : null;
    return { offset, abbr };
  }

  /**
   * Offsets change at most once a day, so one lookup at each end of a (UTC) day usually settles
   * the whole day; only days with a transition are cached hour by hour.
   */
  private lookup(ms: number): { offset: number; abbr: string | null } {
    const hour = Math.floor(ms / 3_600_000);
    const day = Math.floor(hour / 24);
    let hit = this.cache.get(-1 - day);
    if (!hit) {
      const first = this.query(day * 24);
      const last = this.query(day * 24 + 23);
      hit = first.offset === last.offset && first.abbr === last.abbr ? first : { offset: NaN, abbr: null };
      if (this.cache.size > 200_000) this.cache.clear();
      this.cache.set(-1 - day, hit);
    }
    if (!Number.isNaN(hit.offset)) return hit;
    let exact = this.cache.get(hour);
    if (!exact) {
      exact = this.query(hour);
      this.cache.set(hour, exact);
    }
    return exact;
  }

  offsetMinutes(ms: number): number {
    return this.lookup(ms).offset;
  }

  /** Python's time.ctime() in this zone: `Mon Nov  4 09:00:00 2019` (day padded with a space). */
  ctime(ms: number): string {
    const f = fields(ms + this.lookup(ms).offset * 60_000);
    return `${f.dow} ${f.mon} ${f.day < 10 ? ' ' + f.day : f.day} ${f.hms} ${f.year}`;
  }

  /** Postfix's Received timestamp: `Tue,  5 Nov 2019 14:03:00 -0500 (EST)`. */
  postfixDate(ms: number): string {
    const { offset, abbr } = this.lookup(ms);
    const f = fields(ms + offset * 60_000);
    const day = f.day < 10 ? ' ' + f.day : String(f.day);
    return `${f.dow}, ${day} ${f.mon} ${f.year} ${f.hms} ${offsetText(offset)}${abbr ? ` (${abbr})` : ''}`;
  }

  /** sendmail's Received timestamp: `Tue, 2 Mar 1999 10:04:10 -0500`. */
  sendmailDate(ms: number): string {
    const offset = this.lookup(ms).offset;
    const f = fields(ms + offset * 60_000);
    return `${f.dow}, ${f.day} ${f.mon} ${f.year} ${f.hms} ${offsetText(offset)}`;
  }
}

/** Python's email.Utils.formatdate(t): UTC with `-0000`, as Mailman writes X-List-Received-Date. */
export function pythonFormatdate(ms: number): string {
  const f = fields(ms);
  return `${f.dow}, ${pad2(f.day)} ${f.mon} ${f.year} ${f.hms} -0000`;
}

/** Common abbreviations mail clients put after the offset, e.g. `-0500 (EST)`. */
const OFFSET_NAMES: Record<number, string> = {
  [-480]: 'PST',
  [-420]: 'MST',
  [-360]: 'CST',
  [-300]: 'EST',
  [-240]: 'EDT',
  0: 'GMT',
  60: 'CET',
  120: 'CEST',
  180: 'MSK',
  330: 'IST',
  540: 'JST',
};

export type DateStyle = 'rfc' | 'rfc-nopad' | 'rfc-comment' | 'no-weekday' | 'two-digit-year' | 'no-zone';

/** A sender's Date header for the instant `ms`, written in the sender's fixed UTC offset. */
export function senderDate(ms: number, offsetMinutes: number, style: DateStyle): string {
  const f = fields(ms + offsetMinutes * 60_000);
  const off = offsetText(offsetMinutes);
  switch (style) {
    case 'rfc':
      return `${f.dow}, ${pad2(f.day)} ${f.mon} ${f.year} ${f.hms} ${off}`;
    case 'rfc-nopad':
      return `${f.dow}, ${f.day} ${f.mon} ${f.year} ${f.hms} ${off}`;
    case 'rfc-comment': {
      const name = OFFSET_NAMES[offsetMinutes];
      return `${f.dow}, ${f.day} ${f.mon} ${f.year} ${f.hms} ${off}${name ? ` (${name})` : ''}`;
    }
    case 'no-weekday':
      return `${pad2(f.day)} ${f.mon} ${f.year} ${f.hms} ${off}`;
    case 'two-digit-year':
      // Y2K-era clients: Python's parsedate_tz maps 00-68 to 20xx and 69-99 to 19xx.
      return `${f.dow}, ${f.day} ${f.mon} ${pad2(f.year % 100)} ${f.hms} ${OFFSET_NAMES[offsetMinutes] ?? off}`;
    case 'no-zone':
      return `${f.dow}, ${pad2(f.day)} ${f.mon} ${f.year} ${f.hms}`;
  }
}

/** Date header variants Mailman's archiver cannot use: what they say, and whether parsedate_tz fails. */
export interface BadDate {
  header: string | null;
  kind: 'missing' | 'unparseable' | 'far-future' | 'far-past' | 'three-digit-year' | 'two-digit-year';
  /** Epoch ms as Python's parsedate_tz + mktime_tz would read it; NaN when unusable (→ clobbered). */
  parsedMs: number;
}
