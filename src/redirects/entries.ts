import type { Problem } from '../problems.js';
import { messageIdHash, normalizeMessageId } from '../mailman2/message-id.js';
import type {
  RedirectArticle,
  RedirectConfidence,
  RedirectEntry,
  RedirectInput,
  RedirectKind,
  RedirectOptions,
  RedirectResult,
  Target,
  UnmappedUrl,
} from './types.js';
import { safeTargetUrl, unsafeHostReason, unsafePathReason } from './keys.js';
import { archiveView, isIsoDate, periodSpan, type Granularity } from './periods.js';
import { discoursePostUrl, fqdnListname, HyperKittyUrls, oldLayout, type OldBase, type OldLayout } from './urls.js';

/** Pipermail's per-period index pages; index.html is a symlink to thread.html. */
export const PERIOD_INDEX_PAGES = ['thread.html', 'date.html', 'subject.html', 'author.html', 'index.html'] as const;

/** A period folder name is used as a path segment; pipermail only ever writes these characters. */
const PERIOD_NAME = /^[A-Za-z0-9][A-Za-z0-9-]*$/;

/** '%06i.html' % sequence: zero-padded to six digits, longer past 999999. */
export function articleFileName(number: number): string {
  return `${String(number).padStart(6, '0')}.html`;
}

type Resolved = { url: string } | { code: string; reason: string };

interface PeriodInfo {
  name: string;
  txt: boolean;
  txtGz: boolean;
  granularity: Granularity | null;
  start: string | null;
  end: string | null;
  firstPostDate?: string;
}

/**
 * Computes every old pipermail/listinfo URL of one list and where it should now point. Every old URL ends up
 * either in `entries` or, with a reason, in `unmapped`; list-level trouble goes to `problems`.
 */
export function buildRedirects(input: RedirectInput, target: Target, opts: RedirectOptions = {}): RedirectResult {
  const { list } = input;
  const problems: Problem[] = [];
  const problem = (severity: Problem['severity'], code: string, message: string, key?: string): void => {
    problems.push({ severity, code, message: `list ${list.name}: ${message}`, list: list.name, ...(key ? { key } : {}) });
  };

  let layout: OldLayout;
  try {
    layout = oldLayout(list, opts);
  } catch (e) {
    problem('error', 'redirect-bad-list-url', (e as Error).message);
    return { entries: [], unmapped: [], problems };
  }

  const builder = new Collector((message, key) => problem('warning', 'redirect-conflicting-target', message, key));
  const bases: OldBase[] = [...(layout.publicArchive ? [layout.publicArchive] : []), layout.privateArchive];
  for (const base of [...bases, layout.listinfo]) {
    const bad = unsafeHostReason(base.host);
    if (bad) {
      problem('error', 'redirect-bad-host', bad);
      return { entries: [], unmapped: [], problems };
    }
  }

  const newUrls = resolveTarget(list, target, problem);
  if (!newUrls) return { entries: [], unmapped: [], problems };

  // List root, index and whole-list mbox.
  for (const base of bases) {
    const overview = newUrls.overview();
    for (const path of [base.prefix, base.prefix.slice(0, -1), `${base.prefix}index.html`]) {
      builder.add(base.host, path, 'list-root', overview, 'derived');
    }
    if (base === layout.privateArchive || opts.publicMbox) {
      const name = layout.listName;
      builder.add(base.host, `${base.prefix}${name}.mbox/${name}.mbox`, 'list-mbox', newUrls.wholeMbox(), 'derived');
    }
  }
  const listinfo = newUrls.listinfo();
  for (const path of [layout.listinfo.prefix, `${layout.listinfo.prefix}/`]) {
    builder.add(layout.listinfo.host, path, 'listinfo', listinfo, 'derived');
  }

  // Periods: the ones given, plus any an article lives in (their span can still come from the name).
  const periods = new Map<string, PeriodInfo>();
  for (const p of input.periods) {
    if (periods.has(p.name)) {
      problem('warning', 'redirect-duplicate-period', `period ${p.name} is given twice; the first is used`, p.name);
      continue;
    }
    periods.set(p.name, periodInfo(p.name, p, problem));
  }
  for (const a of input.articles) {
    if (!periods.has(a.period)) periods.set(a.period, periodInfo(a.period, undefined, problem));
  }
  for (const p of periods.values()) {
    if (!PERIOD_NAME.test(p.name)) {
      problem('error', 'redirect-bad-period-name', `period name "${p.name}" is not a plain folder name; its URLs are skipped`, p.name);
      continue;
    }
    const view: Resolved =
      p.granularity && p.start && p.end
        ? newUrls.period(p.granularity, p.start, p.end, p.firstPostDate)
        : { code: 'unknown-period', reason: `period "${p.name}" has no known start/end date` };
    const txt: Resolved =
      p.start && p.end
        ? newUrls.periodTxt(layout.listName, p.name, p.start, p.end)
        : { code: 'unknown-period', reason: `period "${p.name}" has no known start/end date` };
    for (const base of bases) {
      const folder = `${base.prefix}${p.name}`;
      builder.addResolved(base.host, `${folder}/`, 'period', view, 'derived');
      builder.addResolved(base.host, folder, 'period', view, 'derived');
      for (const page of PERIOD_INDEX_PAGES) builder.addResolved(base.host, `${folder}/${page}`, 'period-index', view, 'derived');
      // Cgi/private.py serves <file>.gz when <file> is missing, so there .txt also answers when only .txt.gz exists.
      const privateFallback = base === layout.privateArchive && p.txtGz;
      if (p.txt || privateFallback) builder.addResolved(base.host, `${folder}.txt`, 'period-txt', txt, 'derived');
      if (p.txtGz) builder.addResolved(base.host, `${folder}.txt.gz`, 'period-txt', txt, 'derived');
    }
  }

  // Articles.
  const homes = new Map<string, RedirectArticle>();
  const numberPeriods = new Map<number, string[]>();
  for (const a of input.articles) {
    if (!Number.isSafeInteger(a.number) || a.number < 0 || !PERIOD_NAME.test(a.period)) {
      problem('error', 'redirect-bad-article', `article ${a.period}/${a.number} has a bad number or period; skipped`);
      continue;
    }
    const file = `${a.period}/${articleFileName(a.number)}`;
    if (a.stray) continue;
    if (homes.has(file)) {
      for (const base of bases) {
        builder.unmapped(base.host, base.prefix + file, 'article', 'duplicate-input', `article ${file} is given twice; the first is used`);
      }
      continue;
    }
    homes.set(file, a);
    const inPeriods = numberPeriods.get(a.number);
    if (inPeriods) inPeriods.push(a.period);
    else numberPeriods.set(a.number, [a.period]);
    const resolved = newUrls.article(a);
    for (const base of bases) builder.addResolved(base.host, base.prefix + file, 'article', resolved, a.source);
  }
  for (const a of input.articles) {
    if (!a.stray) continue;
    const file = `${a.period}/${articleFileName(a.number)}`;
    if (homes.has(file)) continue; // the same page is also some article's home: that entry already covers it
    const home = numberPeriods.get(a.number);
    const where = home ? `its home page is ${home[0]}/${articleFileName(a.number)}` : 'its home page is not in the input';
    for (const base of bases) {
      builder.unmapped(
        base.host,
        base.prefix + file,
        'article',
        'stray-copy',
        `stray copy of article ${a.number} written by pipermail into another period (${where}); not redirected so each article has one entry`,
      );
    }
  }
  for (const [number, ps] of numberPeriods) {
    if (ps.length > 1) {
      problem('warning', 'redirect-number-in-two-periods',
        `article number ${number} has non-stray pages in ${ps.join(', ')}; both are redirected (mark copies as stray)`);
    }
  }
  reportDuplicateIds(homes, problem);

  // Attachments.
  for (const att of input.attachments) {
    const rel = att.path.replace(/^\/+/, '');
    const bad = rel.startsWith('attachments/') ? null : 'attachment path does not start with "attachments/"';
    for (const base of bases) {
      const path = base.prefix + rel;
      if (bad) builder.unmapped(base.host, path, 'attachment', 'bad-attachment-path', bad);
      else if (att.newUrl === undefined) {
        builder.unmapped(base.host, path, 'attachment', 'attachment-not-migrated', 'no new URL was given for this attachment');
      } else builder.add(base.host, path, 'attachment', att.newUrl, 'derived');
    }
  }

  return { entries: builder.sortedEntries(), unmapped: builder.unmappedUrls, problems };
}

function periodInfo(
  name: string,
  given: RedirectInput['periods'][number] | undefined,
  problem: (severity: Problem['severity'], code: string, message: string, key?: string) => void,
): PeriodInfo {
  const span = periodSpan(name);
  const info: PeriodInfo = {
    name,
    txt: given?.txt ?? false,
    txtGz: given?.txtGz ?? false,
    granularity: span?.granularity ?? null,
    start: span?.start ?? null,
    end: span?.end ?? null,
    ...(given?.firstPostDate ? { firstPostDate: given.firstPostDate } : {}),
  };
  if (given) {
    if (!isIsoDate(given.start) || !isIsoDate(given.end) || given.start >= given.end) {
      problem('warning', 'redirect-bad-period-dates',
        `period ${name}: start/end "${given.start}"/"${given.end}" are not two increasing YYYY-MM-DD dates; ${span ? 'using the span of its name' : 'its pages are left unmapped'}`, name);
    } else {
      if (span && (span.start !== given.start || span.end !== given.end)) {
        problem('warning', 'redirect-period-dates-differ',
          `period ${name}: given ${given.start}..${given.end} but the name means ${span.start}..${span.end}; using the given dates`, name);
      }
      info.start = given.start;
      info.end = given.end;
    }
  }
  if (!span) {
    problem('warning', 'redirect-unknown-period-form', `period name "${name}" has none of pipermail's five forms`, name);
  }
  return info;
}

function reportDuplicateIds(
  homes: Map<string, RedirectArticle>,
  problem: (severity: Problem['severity'], code: string, message: string, key?: string) => void,
): void {
  const byId = new Map<string, string[]>();
  for (const [file, a] of homes) {
    if (a.newMessageId !== undefined || a.messageId === null) continue;
    const id = normalizeMessageId(a.messageId);
    if (id === '') continue;
    const files = byId.get(id);
    if (files) files.push(file);
    else byId.set(id, [file]);
  }
  for (const [id, files] of byId) {
    if (files.length > 1) {
      problem('warning', 'redirect-duplicate-message-id',
        `pages ${files.join(', ')} carry the same Message-ID <${id}>; all redirect to the one message the archive keeps`, id);
    }
  }
}

interface NewUrls {
  overview(): string;
  wholeMbox(): string;
  listinfo(): string;
  period(g: Granularity, start: string, end: string, firstPostDate?: string): Resolved;
  periodTxt(listName: string, period: string, start: string, end: string): Resolved;
  article(a: RedirectArticle): Resolved;
}

function resolveTarget(
  list: RedirectInput['list'],
  target: Target,
  problem: (severity: Problem['severity'], code: string, message: string, key?: string) => void,
): NewUrls | null {
  if (target.kind === 'hyperkitty') {
    let hk: HyperKittyUrls;
    try {
      hk = new HyperKittyUrls(target.baseUrl, target.postoriusUrl, fqdnListname(list.postingAddress));
    } catch (e) {
      problem('error', 'redirect-bad-list-address', (e as Error).message);
      return null;
    }
    return {
      overview: () => hk.overview(),
      wholeMbox: () => hk.export(list.name.toLowerCase()),
      listinfo: () => hk.postoriusList(),
      period: (g, start, end, first) => {
        const view = archiveView(g, start, end, first);
        return view ? { url: hk.archive(view) } : { code: 'unknown-period', reason: 'period has no usable dates' };
      },
      periodTxt: (listName, period, start, end) => ({ url: hk.export(`${listName}-${period}`, { start, end }) }),
      article: (a) => {
        const raw = a.newMessageId ?? a.messageId;
        if (raw === null) {
          return { code: 'no-message-id', reason: 'the page carries no Message-ID and the migration gave it none' };
        }
        const id = normalizeMessageId(raw);
        if (id === '') return { code: 'empty-message-id', reason: `Message-ID "${raw}" is empty once normalised as HyperKitty does` };
        return { url: hk.message(messageIdHash(id)) };
      },
    };
  }
  let category: string;
  try {
    category = target.categoryUrl(list);
  } catch (e) {
    problem('error', 'redirect-bad-category', `categoryUrl failed: ${(e as Error).message}`);
    return null;
  }
  const categoryResolved = { url: category };
  return {
    overview: () => category,
    wholeMbox: () => category,
    listinfo: () => category,
    period: () => categoryResolved,
    periodTxt: () => categoryResolved,
    article: (a) => {
      const p = a.discoursePost;
      if (!p) return { code: 'not-imported', reason: 'no Discourse post is recorded for this article' };
      if (!Number.isSafeInteger(p.topicId) || p.topicId <= 0 || !Number.isSafeInteger(p.postNumber) || p.postNumber <= 0) {
        return { code: 'bad-discourse-post', reason: `Discourse topic ${p.topicId} / post ${p.postNumber} is not a positive id` };
      }
      return { url: discoursePostUrl(target.baseUrl, p) };
    },
  };
}

/** Gathers entries, refusing keys the web servers could not match and URLs the map files could not carry. */
class Collector {
  constructor(private readonly onConflict: (message: string, key: string) => void) {}

  private readonly byKey = new Map<string, RedirectEntry>();
  readonly unmappedUrls: UnmappedUrl[] = [];
  private readonly unmappedKeys = new Set<string>();

  add(host: string, oldPath: string, kind: RedirectKind, newUrl: string, confidence: RedirectConfidence): void {
    this.addResolved(host, oldPath, kind, { url: newUrl }, confidence);
  }

  addResolved(host: string, oldPath: string, kind: RedirectKind, r: Resolved, confidence: RedirectConfidence): void {
    const badPath = unsafePathReason(oldPath);
    if (badPath) return this.unmapped(host, oldPath, kind, 'unsafe-old-path', badPath);
    if (!('url' in r)) return this.unmapped(host, oldPath, kind, r.code, r.reason);
    const url = safeTargetUrl(r.url);
    if (!url) return this.unmapped(host, oldPath, kind, 'bad-new-url', `new URL "${r.url}" is not a usable absolute http(s) URL`);
    const key = `${host}${oldPath}`;
    const prev = this.byKey.get(key);
    if (prev) {
      if (prev.newUrl !== url) {
        this.onConflict(`${key} already redirects to ${prev.newUrl}; a second target ${url} was dropped`, key);
      }
      return;
    }
    if (this.unmappedKeys.has(key)) return;
    this.byKey.set(key, { host, oldPath, newUrl: url, kind, confidence });
  }

  unmapped(host: string, oldPath: string, kind: RedirectKind, code: string, reason: string): void {
    const key = `${host}${oldPath}`;
    if (this.unmappedKeys.has(key) || this.byKey.has(key)) return;
    this.unmappedKeys.add(key);
    this.unmappedUrls.push({ host, oldPath, kind, code, reason });
  }

  sortedEntries(): RedirectEntry[] {
    return [...this.byKey.values()].sort(byHostThenPath);
  }
}

/** Entries grouped per old host, each group sorted by path. */
export function sortEntries(entries: RedirectEntry[]): RedirectEntry[] {
  return [...entries].sort(byHostThenPath);
}

function byHostThenPath(a: RedirectEntry, b: RedirectEntry): number {
  return a.host === b.host ? cmp(a.oldPath, b.oldPath) : cmp(a.host, b.host);
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Entries per old host, in host order. */
export function groupByHost(entries: RedirectEntry[]): Map<string, RedirectEntry[]> {
  const out = new Map<string, RedirectEntry[]>();
  for (const e of sortEntries(entries)) {
    const group = out.get(e.host);
    if (group) group.push(e);
    else out.set(e.host, [e]);
  }
  return out;
}
