import type { RedirectList, RedirectOptions } from './types.js';
import type { ArchiveView } from './periods.js';
import { encodePathForUrl } from './keys.js';

/** Mailman 2.1's default PUBLIC_ARCHIVE_URL (Defaults.py.in). */
export const DEFAULT_PUBLIC_ARCHIVE_URL = 'http://%(hostname)s/pipermail/%(listname)s';

/** MM2's default ACCEPTABLE_LISTNAME_CHARACTERS is [-+_.=a-z0-9]; anything else cannot be a safe path segment. */
const LIST_NAME = /^[a-z0-9][-+_.=a-z0-9]*$/;
const CGI_EXT = /^(\.[A-Za-z0-9]+)?$/;

/** Where one family of old URLs lives: host (as $host holds it) and a decoded path prefix ending in "/". */
export interface OldBase {
  host: string;
  prefix: string;
}

export interface OldLayout {
  listName: string;
  /** /pipermail/<list>/ (default), only for public archives. */
  publicArchive: OldBase | null;
  /** <web_page_url path>private<cgiext>/<list>/, for every list. */
  privateArchive: OldBase;
  /** <web_page_url path>listinfo<cgiext>/<list> (no trailing slash). */
  listinfo: OldBase;
}

/** Throws an Error with a one-line message naming the bad value. */
export function oldLayout(list: RedirectList, opts: RedirectOptions = {}): OldLayout {
  const listName = list.name.toLowerCase();
  if (!LIST_NAME.test(listName)) {
    throw new Error(`list name "${list.name}" has characters outside [-+_.=a-z0-9]; refusing to build URL paths from it`);
  }
  const cgiExt = opts.cgiExtension ?? '';
  if (!CGI_EXT.test(cgiExt)) throw new Error(`cgiExtension "${cgiExt}" must be empty or like ".cgi"`);

  const web = parseHttpUrl(list.webPageUrl, 'web_page_url');
  let webPath = web.pathname;
  if (!webPath.endsWith('/')) webPath += '/';
  webPath = decodePath(webPath, 'web_page_url');

  const overrideHost = opts.oldBaseUrl === undefined ? null : overrideHostOf(opts.oldBaseUrl);
  const webHost = overrideHost ?? hostOf(web);

  const privateArchive = { host: webHost, prefix: `${webPath}private${cgiExt}/${listName}/` };
  const listinfo = { host: webHost, prefix: `${webPath}listinfo${cgiExt}/${listName}` };

  let publicArchive: OldBase | null = null;
  if (!list.archivePrivate) {
    // MM2 GetBaseArchiveURL: hostname = the netloc of web_page_url (port included), then PUBLIC_ARCHIVE_URL % {...}.
    const pattern = opts.publicArchiveUrl ?? DEFAULT_PUBLIC_ARCHIVE_URL;
    const filled = pattern.replace(/%\(hostname\)s/g, web.host).replace(/%\(listname\)s/g, listName);
    const pub = parseHttpUrl(filled, 'publicArchiveUrl');
    let prefix = decodePath(pub.pathname, 'publicArchiveUrl');
    if (!prefix.endsWith('/')) prefix += '/';
    publicArchive = { host: overrideHost ?? hostOf(pub), prefix };
  }
  return { listName, publicArchive, privateArchive, listinfo };
}

function parseHttpUrl(s: string, what: string): URL {
  let u: URL;
  try {
    u = new URL(s);
  } catch {
    throw new Error(`${what} "${s}" is not an absolute URL`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error(`${what} "${s}" is not http(s)`);
  return u;
}

function hostOf(u: URL): string {
  return u.hostname.toLowerCase().replace(/\.$/, '');
}

function overrideHostOf(s: string): string {
  const u = parseHttpUrl(s, 'oldBaseUrl');
  if (u.pathname !== '/' || u.search || u.hash) {
    throw new Error(`oldBaseUrl "${s}" may only give scheme and host; the paths come from web_page_url`);
  }
  return hostOf(u);
}

function decodePath(p: string, what: string): string {
  try {
    return decodeURIComponent(p);
  } catch {
    throw new Error(`${what} path "${p}" has a broken percent-escape`);
  }
}

/** list@domain, lower-cased as Mailman 3 stores fqdn_listname. */
export function fqdnListname(postingAddress: string): string {
  const addr = postingAddress.trim().toLowerCase();
  const m = /^([-+_.=a-z0-9]+)@([a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*)$/.exec(addr);
  if (!m) throw new Error(`posting address "${postingAddress}" is not a plain list@domain address`);
  return addr;
}

function withSlash(base: string): string {
  return base.endsWith('/') ? base : base + '/';
}

/** URLs under a HyperKitty mount (urls.py: list/<fqdn>/...). */
export class HyperKittyUrls {
  private readonly list: string;
  constructor(
    baseUrl: string,
    private readonly postoriusUrl: string,
    readonly fqdn: string,
  ) {
    this.list = `${withSlash(baseUrl)}list/${encodePathForUrl(fqdn)}/`;
  }

  overview(): string {
    return this.list;
  }

  message(hash: string): string {
    return `${this.list}message/${hash}/`;
  }

  archive(view: ArchiveView): string {
    const day = view.day === undefined ? '' : `${view.day}/`;
    return `${this.list}${view.year}/${view.month}/${day}`;
  }

  /** export/<name>.mbox.gz; HyperKitty filters date >= start and date < end (UTC). */
  export(filename: string, span?: { start: string; end: string }): string {
    const url = `${this.list}export/${encodeURIComponent(filename)}.mbox.gz`;
    return span ? `${url}?start=${span.start}&end=${span.end}` : url;
  }

  /** Postorius list page: lists/<list-id>/ where list-id is the fqdn with "@" turned into ".". */
  postoriusList(): string {
    return `${withSlash(this.postoriusUrl)}lists/${encodePathForUrl(this.fqdn.replace('@', '.'))}/`;
  }
}

/** Discourse post permalink /t/<slug>/<topic_id>/<post_number>; Discourse itself uses "topic" for an empty slug. */
export function discoursePostUrl(baseUrl: string, post: { topicId: number; postNumber: number; slug: string }): string {
  const base = baseUrl.replace(/\/+$/, '');
  const slug = post.slug.trim() === '' ? 'topic' : encodeURIComponent(post.slug);
  return `${base}/t/${slug}/${post.topicId}/${post.postNumber}`;
}
