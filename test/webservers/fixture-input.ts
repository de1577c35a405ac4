/**
 * Adapts the bundled Mailman 2.1 sample installation (fixtures/expected/<list>.json, the EXPECTED.json oracle,
 * and the attachment files on disk) to the redirect builder's input types.
 */
import { readFileSync, readdirSync, existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { RedirectArticle, RedirectAttachment, RedirectInput, RedirectPeriod } from '../../src/redirects/types.js';
import { periodSpan } from '../../src/redirects/periods.js';

const FIXTURES = fileURLToPath(new URL('../../fixtures/', import.meta.url));
export const SAMPLE_LISTS = ['devtalk', 'liste-fr', 'nihongo', 'oldproject'] as const;

export interface ExpectedArticle {
  number: number;
  period: string;
  filename: string;
  url: string;
  message_id: string | null;
}

export interface Expected {
  list: {
    name: string;
    posting_address: string;
    archive_base_url: string;
    public_archive: boolean;
    private_archive_url: string;
    listinfo_url: string;
    archive_volume_frequency: 0 | 1 | 2 | 3 | 4;
  };
  settings: { web_page_url: string; host_name: string; archive_private: number };
  archive: {
    periods: { period: string; txt: boolean; txt_gz: boolean; html_files: string[] }[];
    articles: ExpectedArticle[];
    stray_html_files: { period: string; filename: string; message_id_from_mailto: string | null }[];
  };
}

export function loadExpected(name: string): Expected {
  return JSON.parse(readFileSync(path.join(FIXTURES, 'expected', `${name}.json`), 'utf8')) as Expected;
}

/** Attachment paths (relative to the archive root) of the list's real pipermail tree. */
export function attachmentPaths(name: string): string[] {
  const root = path.join(FIXTURES, 'mailman2', 'archives', 'private', name);
  const out: string[] = [];
  const walk = (rel: string): void => {
    const abs = path.join(root, rel);
    if (!existsSync(abs)) return;
    for (const entry of readdirSync(abs)) {
      const r = `${rel}/${entry}`;
      if (statSync(path.join(root, r)).isDirectory()) walk(r);
      else out.push(r);
    }
  };
  walk('attachments');
  return out.sort();
}

export function inputFromExpected(
  exp: Expected,
  opts: { attachmentUrl?: (rel: string) => string | undefined; discourse?: boolean } = {},
): RedirectInput {
  const articles: RedirectArticle[] = exp.archive.articles.map((a, i) => ({
    number: a.number,
    period: a.period,
    messageId: a.message_id,
    stray: false,
    source: 'html',
    ...(opts.discourse ? { discoursePost: { topicId: 1000 + Math.floor(i / 3), postNumber: (i % 3) + 1, slug: `sujet-${i}` } } : {}),
  }));
  for (const s of exp.archive.stray_html_files) {
    articles.push({ number: Number.parseInt(s.filename, 10), period: s.period, messageId: s.message_id_from_mailto, stray: true, source: 'html' });
  }
  const periods: RedirectPeriod[] = exp.archive.periods.map((p) => {
    const span = periodSpan(p.period);
    if (!span) throw new Error(`fixture period ${p.period} has no span`);
    return { name: p.period, txt: p.txt, txtGz: p.txt_gz, start: span.start, end: span.end };
  });
  const attachments: RedirectAttachment[] = attachmentPaths(exp.list.name).map((rel) => {
    const newUrl = opts.attachmentUrl?.(rel);
    return newUrl === undefined ? { path: rel } : { path: rel, newUrl };
  });
  return {
    list: {
      name: exp.list.name,
      webPageUrl: exp.settings.web_page_url,
      hostName: exp.settings.host_name,
      postingAddress: exp.list.posting_address,
      archivePrivate: exp.settings.archive_private !== 0,
      volumeFrequency: exp.list.archive_volume_frequency,
    },
    articles,
    periods,
    attachments,
  };
}
