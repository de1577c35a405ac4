import type { Problem } from '../problems.js';

/** The Mailman 2.1 list facts the old URLs are built from (from config.pck). */
export interface RedirectList {
  /** Internal list name (MM2 keeps it lower-case; it is lower-cased here too). */
  name: string;
  /** config.pck web_page_url, e.g. http://lists.example.org/mailman/ — gives the old host and CGI prefix. */
  webPageUrl: string;
  /** config.pck host_name (the mail domain). */
  hostName: string;
  /** list@mail.domain: the Mailman 3 / HyperKitty fqdn_listname. */
  postingAddress: string;
  archivePrivate: boolean;
  /** archive_volume_frequency: 0 year, 1 month, 2 quarter, 3 week, 4 day. Period names are parsed by form,
   * not by this value, because a list whose frequency was changed keeps its older period folders. */
  volumeFrequency: 0 | 1 | 2 | 3 | 4;
}

export interface RedirectArticle {
  /** Pipermail sequence number: the NNNNNN of NNNNNN.html. */
  number: number;
  /** Period folder name, e.g. 2019-November. */
  period: string;
  /** Raw Message-ID as the page's mailto In-Reply-To carries it, with <>; null when the page has none. */
  messageId: string | null;
  /** A copy written into another period's folder (pipermail's msgid-keyed cache); its home page is elsewhere. */
  stray: boolean;
  /** 'html' = id read from the page itself; 'mbox-order' = matched by position in the mbox (lower confidence). */
  source: 'html' | 'mbox-order';
  /** Set when the migration gave this message a new Message-ID (e.g. a duplicate); the new id is what HyperKitty stores. */
  newMessageId?: string;
  discoursePost?: { topicId: number; postNumber: number; slug: string };
}

export interface RedirectPeriod {
  name: string;
  /** <period>.txt exists. */
  txt: boolean;
  /** <period>.txt.gz exists. */
  txtGz: boolean;
  /** ISO date (YYYY-MM-DD) of the first day of the period. */
  start: string;
  /** ISO date (YYYY-MM-DD) of the first day AFTER the period (exclusive), as HyperKitty's export `end` expects. */
  end: string;
  /** Optional ISO date of the earliest post: lands quarterly/yearly/weekly period pages on the month that has posts. */
  firstPostDate?: string;
}

export interface RedirectAttachment {
  /** Relative to the archive root: attachments/20191104/abcd1234/file.pdf (decoded, as on disk). */
  path: string;
  newUrl?: string;
}

export type Target =
  | {
      kind: 'hyperkitty';
      /** e.g. https://lists.example.org/hyperkitty/ */
      baseUrl: string;
      /** e.g. https://lists.example.org/postorius/ */
      postoriusUrl: string;
    }
  | {
      kind: 'discourse';
      /** e.g. https://forum.example.org (a sub-folder install keeps its path) */
      baseUrl: string;
      categoryUrl: (list: RedirectList) => string;
    };

export interface RedirectOptions {
  /** Replaces scheme and host of every old URL (path must be empty or `/`). */
  oldBaseUrl?: string;
  /** Mailman's --with-cgi-ext: '' (default) or e.g. '.cgi'. */
  cgiExtension?: string;
  /** Mailman's PUBLIC_ARCHIVE_URL; default 'http://%(hostname)s/pipermail/%(listname)s'. */
  publicArchiveUrl?: string;
  /** Mailman's PUBLIC_MBOX: the whole-list mbox is also reachable under the public archive URL. */
  publicMbox?: boolean;
}

export interface RedirectInput {
  list: RedirectList;
  articles: RedirectArticle[];
  periods: RedirectPeriod[];
  attachments: RedirectAttachment[];
}

export type RedirectKind =
  | 'article'
  | 'period'
  | 'period-index'
  | 'list-root'
  | 'listinfo'
  | 'period-txt'
  | 'list-mbox'
  | 'attachment';

export type RedirectConfidence = 'html' | 'mbox-order' | 'derived';

export interface RedirectEntry {
  /** Old host name, lower-case, no port (what nginx's $host holds). */
  host: string;
  /** Decoded old path, as the web server sees it after percent-decoding (nginx $uri, Apache's URL-path). */
  oldPath: string;
  /** Absolute new URL, already percent-encoded. */
  newUrl: string;
  kind: RedirectKind;
  confidence: RedirectConfidence;
}

export interface UnmappedUrl {
  host: string;
  oldPath: string;
  kind: RedirectKind;
  /** Stable machine-readable reason code, e.g. `no-message-id`, `stray-copy`, `attachment-not-migrated`. */
  code: string;
  reason: string;
}

export interface RedirectResult {
  entries: RedirectEntry[];
  unmapped: UnmappedUrl[];
  problems: Problem[];
}
