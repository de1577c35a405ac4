/**
 * Reader for a Mailman 2.1 pipermail HTML tree (`archives/private/<list>/`): period folders, their
 * index pages, every `NNNNNN.html` article page with the Message-ID its mailto link carries, stray
 * copies, and scrubbed attachments. This is what old archive URLs point at, so it is the source for
 * redirect maps. Problems are collected, never thrown, for anything wrong inside the tree.
 */
import type { Dirent } from 'node:fs';
import { close, fstat, open, read } from 'node:fs';
import { lstat, readdir, realpath, stat } from 'node:fs/promises';
import { promisify } from 'node:util';
import path from 'node:path';
import type { Problem } from '../problems.js';
import { decodePage, type DecodedPage } from './pipermail-charset.js';
import { parseArchiveToc, parseArticlePage, parseIndexLinks, percentDecode, type ArticlePageInfo } from './pipermail-page.js';
import {
  comparePeriodNames,
  ENGLISH_MONTHS,
  frequencyToKind,
  parsePeriodName,
  periodForLocalDay,
  type PeriodKind,
} from './pipermail-periods.js';

export {
  parsePeriodName,
  periodFor,
  periodForLocalDay,
  frequencyToKind,
  comparePeriodNames,
  localDateParts,
  type PeriodKind,
  type ParsedPeriodName,
} from './pipermail-periods.js';
export { inReplyToFromMailto, parseArchiveToc, parseArticlePage, parseIndexLinks } from './pipermail-page.js';
export { decodePage, decodeBytes } from './pipermail-charset.js';

export interface Period {
  /** Folder name, e.g. `2019-November`, `2019q4`, `2002`, `Week-of-Mon-20191104`, `20210311`. */
  name: string;
  kind: PeriodKind;
  /** First local calendar day covered, `YYYY-MM-DD`. */
  start: string;
  /** Last local calendar day covered (inclusive), `YYYY-MM-DD`. */
  end: string;
  /** Which of thread/date/subject/author/index.html exist, in that order. */
  indexPages: string[];
  txt: boolean;
  txtGz: boolean;
  /**
   * Article numbers in the order the date index links them, first occurrence kept. This is what
   * the index links, so it can name a stray copy (see `Article.stray`) rather than the article
   * that belongs at that position.
   */
  articleNumbers: number[];
}

export interface Article {
  number: number;
  period: string;
  /** Relative to the archive dir, e.g. `2019-November/000012.html`. */
  file: string;
  /** The mailto `In-Reply-To=` value, percent-decoded, as carried (usually including `<>`). */
  messageId: string | null;
  subject: string;
  author: string;
  /** The date line as the page shows it (server time zone, list language). */
  date: string;
  linkedFromIndexes: boolean;
  /**
   * A copy of article `number` written into a period that is not its home: pipermail's database
   * caches articles by Message-ID only, so when two periods hold articles with the same
   * Message-ID, regenerating one period's pages can write the other article's page there.
   */
  stray: boolean;
  /** Links from the body into this list's `attachments/`, as paths relative to the archive dir. */
  attachments: string[];
}

export interface AttachmentFile {
  /** Relative to the archive dir, e.g. `attachments/20191105/03300cd7/attachment.png`. */
  path: string;
  /** `YYYYMMDD` from the message Date. */
  dateFolder: string;
  /** First and last 4 hex digits of SHA-1(Message-ID). */
  hashFolder: string;
  /** Rest of the path below the hash folder. */
  name: string;
  size: number;
}

export interface PipermailArchive {
  periods: Period[];
  articles: Article[];
  /** Files (relative to the archive dir) that are not the home of any article. */
  strayFiles: string[];
  attachments: AttachmentFile[];
  problems: Problem[];
}

export interface ReadPipermailOptions {
  /** Internal list name (folder name), used in problems and to recognise attachment URLs. */
  list: string;
  /** Charset of the list's language; a page's own META charset takes precedence. */
  charset: string;
  /** `archive_volume_frequency`; periods of another kind are reported (the setting was changed). */
  volumeFrequency?: number;
  /** Pages read at the same time. Default 16. */
  concurrency?: number;
  /** Bytes read from one page at most; a larger page is read partially and reported. Default 20 MiB. */
  maxPageBytes?: number;
}

const INDEX_PAGES = ['thread.html', 'date.html', 'subject.html', 'author.html'] as const;
const ARTICLE_FILE = /^(\d{6,})\.html$/;
/** Files pipermail and `cron/nightly_gzip` keep at the archive root besides the periods. */
const KNOWN_ROOT_FILES = new Set(['index.html', 'pipermail.pck']);
const KNOWN_ROOT_DIRS = new Set(['attachments', 'database']);

/** What is kept of one page while the rest are read: no page text, no body. */
interface PageRecord {
  period: string;
  number: number;
  file: string;
  info: Omit<ArticlePageInfo, 'bodyHrefs'>;
  attachments: string[];
  linked: boolean;
}

export async function readPipermail(archiveDir: string, opts: ReadPipermailOptions): Promise<PipermailArchive> {
  const reader = new ArchiveReader(archiveDir, opts);
  return reader.read();
}

class ArchiveReader {
  private readonly problems: Problem[] = [];
  private readonly reportedFallbacks = new Set<string>();
  private rootReal = '';
  private readonly maxPageBytes: number;
  private readonly concurrency: number;
  private readonly expectedKind: PeriodKind | undefined;

  constructor(
    private readonly archiveDir: string,
    private readonly opts: ReadPipermailOptions,
  ) {
    this.maxPageBytes = opts.maxPageBytes ?? 20 * 1024 * 1024;
    this.concurrency = Math.max(1, opts.concurrency ?? 16);
    this.expectedKind = opts.volumeFrequency === undefined ? undefined : frequencyToKind(opts.volumeFrequency);
  }

  async read(): Promise<PipermailArchive> {
    const empty: PipermailArchive = { periods: [], articles: [], strayFiles: [], attachments: [], problems: this.problems };
    try {
      this.rootReal = await realpath(this.archiveDir);
      if (!(await stat(this.rootReal)).isDirectory()) throw new Error('not a directory');
    } catch (err) {
      this.problem('error', 'archive-missing', `pipermail archive ${this.archiveDir} cannot be read: ${errText(err)}`, this.archiveDir);
      return empty;
    }

    const root = await this.listDir(this.rootReal);
    const periodDirs: string[] = [];
    const rootFiles = new Set<string>();
    let hasAttachments = false;
    for (const dirent of root) {
      const entry = dirent.name;
      const kind = await this.entryKind(dirent, path.join(this.rootReal, entry));
      if (kind === null) continue;
      if (kind === 'dir') {
        if (entry === 'attachments') hasAttachments = true;
        else if (KNOWN_ROOT_DIRS.has(entry)) continue;
        else if (parsePeriodName(entry)) periodDirs.push(entry);
        else this.problem('warning', 'unknown-archive-folder', `${this.rel(entry)}: folder is not a pipermail period name; skipped`, entry);
      } else {
        rootFiles.add(entry);
      }
    }
    periodDirs.sort(comparePeriodNames);
    const periodSet = new Set(periodDirs);

    for (const f of rootFiles) {
      if (KNOWN_ROOT_FILES.has(f)) continue;
      const base = f.replace(/\.txt(\.gz)?$/, '').replace(/\.old$/, '');
      if (base !== f && parsePeriodName(base)) {
        if (!periodSet.has(base)) {
          this.problem('warning', 'text-archive-without-period', `${this.rel(f)}: period text archive without a period folder`, f);
        }
        continue;
      }
      this.problem('info', 'unexpected-archive-file', `${this.rel(f)}: not a file pipermail writes; ignored`, f);
    }

    if (rootFiles.has('index.html')) await this.checkToc(periodSet);

    const periods: Period[] = [];
    const pageTasks: Array<{ period: string; number: number; file: string }> = [];
    const linkedByPeriod = new Map<string, Set<number>>();
    for (const name of periodDirs) {
      const { period, files, linked } = await this.readPeriod(name, rootFiles);
      periods.push(period);
      linkedByPeriod.set(name, linked);
      for (const f of files) pageTasks.push({ period: name, number: f.number, file: `${name}/${f.file}` });
    }

    const pages: PageRecord[] = [];
    await runPool(pageTasks, this.concurrency, async (task) => {
      const page = await this.readArticlePage(task.file);
      if (page) pages.push({ ...task, ...page, linked: linkedByPeriod.get(task.period)?.has(task.number) ?? false });
    });

    const readNumbers = new Map<string, Set<number>>(periodDirs.map((n) => [n, new Set<number>()]));
    for (const pg of pages) readNumbers.get(pg.period)!.add(pg.number);
    for (const p of periods) {
      const present = readNumbers.get(p.name)!;
      const dangling = [...(linkedByPeriod.get(p.name) ?? [])].filter((n) => !present.has(n));
      if (dangling.length > 0) {
        this.problem(
          'warning',
          'dangling-index-link',
          `${this.rel(p.name)}: index pages link ${dangling.length} article page(s) that cannot be read: ${dangling
            .slice(0, 10)
            .map((n) => fileName(n))
            .join(', ')}${dangling.length > 10 ? ', …' : ''}`,
          p.name,
        );
      }
    }

    const attachments = hasAttachments ? await this.readAttachments() : [];
    const attachmentPaths = new Set(attachments.map((a) => a.path));
    const periodKinds = new Map(periods.map((p) => [p.name, p.kind]));
    const strayKeys = this.findStrays(pages, periodKinds);

    const articles: Article[] = pages.map((pg) => this.toArticle(pg, strayKeys.has(pg.file), attachmentPaths));
    const periodOrder = new Map(periodDirs.map((n, i) => [n, i]));
    articles.sort((a, b) => a.number - b.number || periodOrder.get(a.period)! - periodOrder.get(b.period)!);
    this.reportDuplicateIds(articles);

    const strayFiles = articles.filter((a) => a.stray).map((a) => a.file);
    // Pages are read concurrently; sorting keeps reports stable from run to run.
    this.problems.sort((a, b) => cmp(a.file ?? '', b.file ?? '') || cmp(a.code, b.code) || cmp(a.message, b.message));
    return { periods, articles, strayFiles, attachments, problems: this.problems };
  }

  /** Old links enter through the table of contents; a period it names must exist and vice versa. */
  private async checkToc(periodDirs: Set<string>): Promise<void> {
    const decoded = await this.readDecoded('index.html');
    if (!decoded) return;
    const toc = new Set(parseArchiveToc(decoded.text).periods);
    for (const name of [...toc].filter((p) => !periodDirs.has(p))) {
      this.problem('warning', 'toc-period-missing', `${this.rel('index.html')}: links period ${name}, which has no folder`, 'index.html');
    }
    for (const name of [...periodDirs].filter((p) => !toc.has(p))) {
      this.problem('info', 'period-not-in-toc', `${this.rel(name)}: period folder not linked from the archive index.html`, name);
    }
  }

  private async readPeriod(
    name: string,
    rootFiles: Set<string>,
  ): Promise<{ period: Period; files: Array<{ number: number; file: string }>; linked: Set<number> }> {
    const parsed = parsePeriodName(name)!;
    if (this.expectedKind !== undefined && parsed.kind !== this.expectedKind) {
      this.problem(
        'info',
        'period-kind-differs',
        `${this.rel(name)}: ${parsed.kind} period folder, but archive_volume_frequency is ${this.opts.volumeFrequency} (${this.expectedKind})`,
        name,
      );
    }
    const dir = path.join(this.rootReal, name);
    const files: Array<{ number: number; file: string }> = [];
    const present = new Set<string>();
    for (const dirent of await this.listDir(dir)) {
      const entry = dirent.name;
      const rel = `${name}/${entry}`;
      const m = ARTICLE_FILE.exec(entry);
      const isIndex = (INDEX_PAGES as readonly string[]).includes(entry) || entry === 'index.html';
      if (!m && !isIndex) {
        this.problem('info', 'unexpected-period-file', `${this.rel(rel)}: not a file pipermail writes; ignored`, rel);
        continue;
      }
      const kind = await this.entryKind(dirent, path.join(dir, entry));
      if (kind === null) continue;
      if (kind !== 'file') {
        this.problem('warning', 'unexpected-period-file', `${this.rel(rel)}: is a folder, expected a page; ignored`, rel);
        continue;
      }
      if (m) files.push({ number: Number(m[1]), file: entry });
      else present.add(entry);
    }
    files.sort((a, b) => a.number - b.number);

    const linked = new Set<number>();
    const order = new Map<string, number[]>();
    for (const page of INDEX_PAGES) {
      if (!present.has(page)) continue;
      const decoded = await this.readDecoded(`${name}/${page}`);
      if (!decoded) continue;
      try {
        const links = parseIndexLinks(decoded.text);
        order.set(page, links);
        for (const n of links) linked.add(n);
      } catch (err) {
        this.problem('warning', 'unreadable-index-page', `${this.rel(`${name}/${page}`)}: cannot be parsed: ${errText(err)}`, `${name}/${page}`);
      }
    }
    const missing = INDEX_PAGES.filter((p) => !present.has(p));
    if (missing.length > 0 && files.length > 0) {
      this.problem('warning', 'missing-index-page', `${this.rel(name)}: missing index page(s) ${missing.join(', ')}`, name);
    }
    // date.html gives the order; a period without it falls back to the next index that exists.
    const source = ['date.html', 'thread.html', 'subject.html', 'author.html'].find((p) => order.has(p));
    const articleNumbers = [...new Set(source ? order.get(source)! : [])];

    const period: Period = {
      name,
      kind: parsed.kind,
      start: parsed.start,
      end: parsed.end,
      indexPages: [...INDEX_PAGES, 'index.html'].filter((p) => present.has(p)),
      txt: rootFiles.has(`${name}.txt`),
      txtGz: rootFiles.has(`${name}.txt.gz`),
      articleNumbers,
    };
    return { period, files, linked };
  }

  private async readArticlePage(file: string): Promise<Pick<PageRecord, 'info' | 'attachments'> | null> {
    const decoded = await this.readDecoded(file);
    if (!decoded) return null;
    let info: ArticlePageInfo;
    try {
      info = parseArticlePage(decoded.text, decoded.charset);
    } catch (err) {
      this.problem('warning', 'unreadable-article-page', `${this.rel(file)}: cannot be parsed: ${errText(err)}`, file);
      return null;
    }
    if (info.messageId === null) {
      this.problem('warning', 'missing-message-id', `${this.rel(file)}: no mailto In-Reply-To link, Message-ID unknown`, file);
    } else if (info.messageIdSource === 'author-mailto') {
      this.problem('info', 'missing-link-made', `${this.rel(file)}: no LINK REL="made"; Message-ID taken from the author mailto link`, file);
    }
    if (!info.complete) {
      this.problem('warning', 'truncated-page', `${this.rel(file)}: article body markers missing or unterminated (truncated page?)`, file);
    }
    const attachments: string[] = [];
    for (const href of info.bodyHrefs) {
      const rel = this.attachmentPath(href, file);
      if (rel !== null && !attachments.includes(rel)) attachments.push(rel);
    }
    const { bodyHrefs: _dropped, ...kept } = info;
    return { info: kept, attachments };
  }

  /** Reads a page (at most maxPageBytes) and decodes it; null, with a problem, if it cannot be read. */
  private async readDecoded(file: string): Promise<DecodedPage | null> {
    const abs = path.join(this.rootReal, file);
    let bytes: Buffer;
    try {
      const { data, size } = await readHead(abs, this.maxPageBytes);
      bytes = data;
      if (size > this.maxPageBytes) {
        this.problem('warning', 'page-too-large', `${this.rel(file)}: ${size} bytes, only the first ${this.maxPageBytes} were read`, file);
      }
    } catch (err) {
      this.problem('warning', 'unreadable-page', `${this.rel(file)}: cannot be read: ${errText(err)}`, file);
      return null;
    }
    const decoded = decodePage(bytes, this.opts.charset);
    if (decoded.fallbackFrom !== undefined && !this.reportedFallbacks.has(decoded.fallbackFrom)) {
      this.reportedFallbacks.add(decoded.fallbackFrom);
      this.problem(
        'warning',
        'unknown-page-charset',
        `${this.rel(file)}: charset ${decoded.fallbackFrom} is not supported, decoded as ${decoded.charset} (reported once per charset)`,
        file,
      );
    }
    return decoded;
  }

  /**
   * Decides which file is the home of an article number found in several periods. A stray copy
   * carries the Message-ID of another page (another number) in its own period and the same
   * Message-ID as the number's page elsewhere; its body is empty because pipermail reloads the body
   * from a file that does not exist in that folder. Distinct articles that merely share a number
   * (e.g. folders left from an earlier volume frequency) are all kept.
   */
  private findStrays(pages: PageRecord[], periodKinds: Map<string, PeriodKind>): Set<string> {
    const idsByPeriod = new Map<string, Map<string, Set<number>>>();
    const byNumber = new Map<number, PageRecord[]>();
    for (const pg of pages) {
      const list = byNumber.get(pg.number) ?? [];
      list.push(pg);
      byNumber.set(pg.number, list);
      if (pg.info.messageId === null) continue;
      const ids = idsByPeriod.get(pg.period) ?? new Map<string, Set<number>>();
      const nums = ids.get(pg.info.messageId) ?? new Set<number>();
      nums.add(pg.number);
      ids.set(pg.info.messageId, nums);
      idsByPeriod.set(pg.period, ids);
    }

    const strays = new Set<string>();
    for (const [number, group] of byNumber) {
      if (group.length < 2) continue;
      const looksStray = (pg: PageRecord): boolean => {
        const id = pg.info.messageId;
        if (id === null) return false;
        const sharesInPeriod = [...(idsByPeriod.get(pg.period)?.get(id) ?? [])].some((n) => n !== number);
        const sameIdElsewhere = group.some((o) => o !== pg && o.info.messageId === id);
        return sharesInPeriod && sameIdElsewhere;
      };
      const flagged = group.filter(looksStray);
      if (flagged.length === 0) {
        this.problem(
          'info',
          'number-in-several-periods',
          `article ${fileName(number)} exists in ${group.map((g) => g.period).join(', ')} as different articles`,
          group[0]!.file,
        );
        continue;
      }
      let homes = group.filter((g) => !flagged.includes(g));
      if (homes.length === 0) {
        const score = (pg: PageRecord): number =>
          (pg.info.hasBody ? 4 : 0) + (shownDateFitsPeriod(pg, periodKinds) ? 2 : 0) + (pg.linked ? 1 : 0);
        const best = [...group].sort((a, b) => score(b) - score(a))[0]!;
        homes = [best];
        this.problem(
          'warning',
          'ambiguous-article-home',
          `article ${fileName(number)}: every copy (${group.map((g) => g.file).join(', ')}) looks like a stray; kept ${best.file}`,
          best.file,
        );
      }
      for (const g of group) if (!homes.includes(g)) strays.add(g.file);
    }
    return strays;
  }

  private toArticle(pg: PageRecord, stray: boolean, attachmentPaths: Set<string>): Article {
    const attachments = pg.attachments;
    if (!stray) {
      for (const a of attachments) {
        if (!attachmentPaths.has(a)) {
          this.problem('warning', 'missing-attachment', `${this.rel(pg.file)}: links ${a}, which does not exist`, pg.file);
        }
      }
      if (!pg.linked) {
        this.problem('info', 'unlinked-article', `${this.rel(pg.file)}: not linked from any index page of ${pg.period}`, pg.file);
      }
    }
    return {
      number: pg.number,
      period: pg.period,
      file: pg.file,
      messageId: pg.info.messageId,
      subject: pg.info.subject,
      author: pg.info.author,
      date: pg.info.date,
      linkedFromIndexes: pg.linked,
      stray,
      attachments,
    };
  }

  /** `…/<list>/attachments/<rest>` (public or private base URL) or a relative `attachments/` link. */
  private attachmentPath(href: string, file: string): string | null {
    const clean = href.trim().replace(/[?#].*$/, '');
    const marker = `/${this.opts.list.toLowerCase()}/attachments/`;
    const at = clean.toLowerCase().lastIndexOf(marker);
    let rest: string;
    if (at >= 0) rest = clean.slice(at + marker.length);
    else if (/^(\.\.\/)?attachments\//.test(clean)) rest = clean.replace(/^(\.\.\/)?attachments\//, '');
    else return null;
    const decoded = percentDecode(rest, this.opts.charset);
    if (decoded === '' || decoded.split('/').some((s) => s === '..' || s === '.' || s === '')) {
      this.problem('warning', 'bad-attachment-link', `${this.rel(file)}: attachment link ${href} is not a plain path`, file);
      return null;
    }
    return `attachments/${decoded}`;
  }

  private reportDuplicateIds(articles: Article[]): void {
    const byId = new Map<string, Article[]>();
    for (const a of articles) {
      if (a.stray || a.messageId === null) continue;
      const list = byId.get(a.messageId) ?? [];
      list.push(a);
      byId.set(a.messageId, list);
    }
    for (const [id, list] of byId) {
      if (list.length < 2) continue;
      this.problem(
        'info',
        'duplicate-message-id',
        `Message-ID ${id} is carried by ${list.map((a) => a.file).join(', ')}`,
        list[0]!.file,
      );
    }
  }

  private async readAttachments(): Promise<AttachmentFile[]> {
    const out: AttachmentFile[] = [];
    const walk = async (relDir: string): Promise<void> => {
      for (const dirent of await this.listDir(path.join(this.rootReal, relDir))) {
        const rel = `${relDir}/${dirent.name}`;
        const abs = path.join(this.rootReal, rel);
        const kind = await this.entryKind(dirent, abs);
        if (kind === 'dir') {
          await walk(rel);
        } else if (kind === 'file') {
          const parts = rel.split('/');
          if (parts.length < 4) {
            this.problem('info', 'unexpected-attachment-path', `${this.rel(rel)}: not under attachments/<date>/<hash>/`, rel);
            continue;
          }
          let size = 0;
          try {
            size = (await stat(abs)).size;
          } catch (err) {
            this.problem('warning', 'unreadable-attachment', `${this.rel(rel)}: ${errText(err)}`, rel);
            continue;
          }
          out.push({ path: rel, dateFolder: parts[1]!, hashFolder: parts[2]!, name: parts.slice(3).join('/'), size });
        }
      }
    };
    await walk('attachments');
    out.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
    return out;
  }

  private async listDir(abs: string): Promise<Dirent[]> {
    try {
      return (await readdir(abs, { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    } catch (err) {
      this.problem('warning', 'unreadable-folder', `${this.rel(path.relative(this.rootReal, abs) || '.')}: cannot be listed: ${errText(err)}`, abs);
      return [];
    }
  }

  /** File or folder; symlinks only when they stay inside the archive (pipermail's index.html does). */
  private async entryKind(dirent: Dirent, abs: string): Promise<'file' | 'dir' | null> {
    // The directory entry type saves an lstat per page; 100k-page periods are common.
    if (dirent.isFile()) return 'file';
    if (dirent.isDirectory()) return 'dir';
    const rel = path.relative(this.rootReal, abs);
    try {
      const st = await lstat(abs);
      if (st.isSymbolicLink()) {
        const target = await realpath(abs);
        const inside = path.relative(this.rootReal, target);
        if (inside.startsWith('..') || path.isAbsolute(inside)) {
          this.problem('warning', 'symlink-outside-archive', `${this.rel(rel)}: symlink leads outside the archive; not followed`, rel);
          return null;
        }
        const tst = await stat(target);
        return tst.isDirectory() ? 'dir' : tst.isFile() ? 'file' : null;
      }
      if (st.isDirectory()) return 'dir';
      if (st.isFile()) return 'file';
      this.problem('info', 'unexpected-archive-file', `${this.rel(rel)}: not a regular file or folder; ignored`, rel);
      return null;
    } catch (err) {
      this.problem('warning', 'unreadable-archive-entry', `${this.rel(rel)}: ${errText(err)}`, rel);
      return null;
    }
  }

  private rel(p: string): string {
    return `${this.opts.list}: ${p}`;
  }

  private problem(severity: Problem['severity'], code: string, message: string, file: string): void {
    const abs = path.isAbsolute(file) ? file : path.join(this.archiveDir, file);
    this.problems.push({ severity, code, message, list: this.opts.list, file: abs });
  }
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function fileName(n: number): string {
  return `${String(n).padStart(6, '0')}.html`;
}

const CTIME = /^(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)\s+([A-Z][a-z]{2})\s+(\d{1,2})\s+\d{1,2}:\d{2}:\d{2}\s+(?:\S+\s+)?(\d{4})$/;

/** True when an English ctime date line falls in the page's folder; false if not or unknown. */
function shownDateFitsPeriod(pg: PageRecord, periodKinds: Map<string, PeriodKind>): boolean {
  const m = CTIME.exec(pg.info.date);
  const kind = periodKinds.get(pg.period);
  if (!m || !kind) return false;
  const month = ENGLISH_MONTHS.findIndex((n) => n.startsWith(m[1]!)) + 1;
  if (month === 0) return false;
  return periodForLocalDay(Number(m[3]), month, Number(m[2]), kind) === pg.period;
}

const openFd = promisify(open);
const fstatFd = promisify(fstat);
const closeFd = promisify(close);
const readFd = promisify(read);

/**
 * The first `limit` bytes of a file and its full size. Plain descriptors rather than FileHandle
 * objects: with 100k+ pages the FileHandle bookkeeping dominated the run time.
 */
async function readHead(file: string, limit: number): Promise<{ data: Buffer; size: number }> {
  const fd = await openFd(file, 'r');
  try {
    const { size } = await fstatFd(fd);
    const data = Buffer.allocUnsafe(Math.min(size, limit));
    let got = 0;
    while (got < data.length) {
      const { bytesRead } = await readFd(fd, data, got, data.length - got, got);
      if (bytesRead === 0) break;
      got += bytesRead;
    }
    return { data: data.subarray(0, got), size };
  } finally {
    await closeFd(fd);
  }
}

async function runPool<T>(items: T[], concurrency: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const item = items[next++]!;
      await work(item);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
}

function errText(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const code = (err as NodeJS.ErrnoException).code;
  return code !== undefined && !err.message.startsWith(code) ? `${code} ${err.message}` : err.message;
}
