import type { RedirectEntry, UnmappedUrl } from './types.js';
import { sortEntries } from './entries.js';

/** JSON document with every redirect and every old URL left without one. */
export function toJson(entries: RedirectEntry[], unmapped: UnmappedUrl[] = []): string {
  const doc = {
    format: 'mm2migrate-redirects',
    version: 1,
    entries: sortEntries(entries).map(({ host, oldPath, newUrl, kind, confidence }) => ({ host, oldPath, newUrl, kind, confidence })),
    unmapped: unmapped.map(({ host, oldPath, kind, code, reason }) => ({ host, oldPath, kind, code, reason })),
  };
  return JSON.stringify(doc, null, 2) + '\n';
}

/** RFC 4180 CSV (CRLF line ends; a field with a comma, quote, CR or LF, or edge spaces, is quoted). */
export function toCsv(entries: RedirectEntry[]): string {
  const rows = [['host', 'old_path', 'new_url', 'kind', 'confidence']];
  for (const e of sortEntries(entries)) rows.push([e.host, e.oldPath, e.newUrl, e.kind, e.confidence]);
  return rows.map((r) => r.map(csvField).join(',')).join('\r\n') + '\r\n';
}

export function unmappedToCsv(unmapped: UnmappedUrl[]): string {
  const rows = [['host', 'old_path', 'kind', 'code', 'reason']];
  for (const u of unmapped) rows.push([u.host, u.oldPath, u.kind, u.code, u.reason]);
  return rows.map((r) => r.map(csvField).join(',')).join('\r\n') + '\r\n';
}

export function csvField(value: string): string {
  return /[",\r\n]|^\s|\s$/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
}
