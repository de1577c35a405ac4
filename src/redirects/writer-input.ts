import type { Problem } from '../problems.js';
import type { RedirectEntry } from './types.js';
import { safeTargetUrl, unsafeHostReason, unsafePathReason } from './keys.js';
import { sortEntries } from './entries.js';

/**
 * The writers accept entries from any source (several lists merged, or read back from JSON), so they check
 * again what a config file depends on: a bad key or URL is left out with a problem, an exact duplicate is
 * written once, and a second target for the same old URL is left out with a problem (first one wins).
 */
export function checkedEntries(entries: RedirectEntry[]): { entries: RedirectEntry[]; problems: Problem[] } {
  if (isSorted(entries)) return checkedSorted(entries);
  const problems: Problem[] = [];
  const seen = new Map<string, RedirectEntry>();
  for (const e of entries) {
    const checked = checkEntry(e, problems);
    if (!checked) continue;
    const key = e.host + e.oldPath;
    const prev = seen.get(key);
    if (prev) reportConflict(prev, checked, problems);
    else seen.set(key, checked);
  }
  return { entries: sortEntries([...seen.values()]), problems };
}

/**
 * The same checks for input already in sortEntries order (what buildRedirects returns, and lists
 * concatenated in order): entries with one key are then adjacent, so no map of every key is needed,
 * which matters for millions of entries. Hosts never contain "/" and paths start with one, so equal
 * host + path is equal (host, path).
 */
function checkedSorted(entries: RedirectEntry[]): { entries: RedirectEntry[]; problems: Problem[] } {
  const problems: Problem[] = [];
  const ok: RedirectEntry[] = [];
  let prev: RedirectEntry | undefined;
  for (const e of entries) {
    const checked = checkEntry(e, problems);
    if (!checked) continue;
    if (prev && prev.host === checked.host && prev.oldPath === checked.oldPath) {
      reportConflict(prev, checked, problems);
      continue;
    }
    prev = checked;
    ok.push(prev);
  }
  return { entries: ok, problems };
}

/** The entry with its new URL made safe, or null (with a problem) when its key or URL is unusable. */
function checkEntry(e: RedirectEntry, problems: Problem[]): RedirectEntry | null {
  const key = e.host + e.oldPath;
  const bad = unsafeHostReason(e.host) ?? unsafePathReason(e.oldPath);
  if (bad) {
    problems.push({ severity: 'error', code: 'redirect-unsafe-key', message: `redirect ${key} left out: ${bad}`, key });
    return null;
  }
  const url = safeTargetUrl(e.newUrl);
  if (url === null) {
    problems.push({ severity: 'error', code: 'redirect-bad-new-url', message: `redirect ${key} left out: new URL "${e.newUrl}" is unusable`, key });
    return null;
  }
  return url === e.newUrl ? e : { ...e, newUrl: url };
}

/** A second entry for one old URL: an exact duplicate is dropped silently, another target with a warning. */
function reportConflict(kept: RedirectEntry, dropped: RedirectEntry, problems: Problem[]): void {
  if (kept.newUrl === dropped.newUrl) return;
  const key = kept.host + kept.oldPath;
  problems.push({ severity: 'warning', code: 'redirect-conflicting-target', message: `redirect ${key} has two targets; kept ${kept.newUrl}, dropped ${dropped.newUrl}`, key });
}

function isSorted(entries: RedirectEntry[]): boolean {
  for (let i = 1; i < entries.length; i++) {
    const a = entries[i - 1]!;
    const b = entries[i]!;
    if (a.host === b.host ? a.oldPath > b.oldPath : a.host > b.host) return false;
  }
  return true;
}
