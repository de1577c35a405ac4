import type { LoadedConfig } from '../config/load.js';
import { UserError } from '../problems.js';
import { redirectsFromState } from '../redirects/from-state.js';
import { verifyRedirects, type RedirectCheckFailure } from '../redirects/verify.js';
import type { Store } from '../state/store.js';
import { storedConfig } from './index-phase.js';

export interface ListRedirectCheck {
  list: string;
  checked: number;
  ok: number;
  /** Why the list was not checked. */
  skipped?: string;
  failed: RedirectCheckFailure[];
}

/** Follows every redirect target of the lists (as built from the state database) and collects what does not answer 200. */
export async function checkListRedirects(
  store: Store,
  cfg: LoadedConfig,
  lists: string[],
  opts: { baseUrl?: string; concurrency: number; signal: AbortSignal },
): Promise<ListRedirectCheck[]> {
  const out: ListRedirectCheck[] = [];
  for (const list of lists) {
    if (opts.signal.aborted) break;
    const config = await storedConfig(store, list);
    if (!config) throw new UserError(`${list}: not indexed yet; run mm2migrate migrate --list ${list} first`);
    if (config.archive.private) {
      // The new archive of a private list answers only to members: an anonymous check proves nothing.
      out.push({ list, checked: 0, ok: 0, skipped: 'private archive: its pages need a login', failed: [] });
      continue;
    }
    const { entries } = await redirectsFromState(store, cfg, list);
    const r = await verifyRedirects(entries, { concurrency: opts.concurrency, timeoutMs: 15_000, baseUrlOverride: opts.baseUrl, signal: opts.signal });
    out.push({ list, checked: r.checked, ok: r.ok, failed: r.failed });
  }
  return out;
}
