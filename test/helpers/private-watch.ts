/**
 * Watches, while a migration runs, that no message of a private list is ever readable by an
 * anonymous visitor of the target: every few milliseconds it requests, without credentials, what
 * a visitor could reach (Discourse: the category, the category list, every topic and post of the
 * private list's category and the uploads they link; HyperKitty: the list page, its JSON API, its
 * mbox export and the page of every message the list will hold) and records any answer that shows
 * something. The result is checked after the run, so a window in which a message was public is
 * caught even if it closed before the end.
 */
import { gunzipSync } from 'node:zlib';
import type { DiscourseDouble } from '../doubles/discourse-double.js';

export interface WatchResult {
  /** What a visitor could see that the migration is answerable for (empty when the archive stayed private). */
  exposures: string[];
  /**
   * Exposures that come from a defect of the target software itself, present for every private
   * list on that server whether migrated or not (see docs/reliability.md, "Known gaps").
   */
  serverDefects: string[];
}

/** Marks an exposure as a defect of the target server rather than of the migration. */
const SERVER_DEFECT = '[server defect] ';

export interface PrivateWatch {
  /** Stops polling and returns what was seen. */
  stop(): Promise<WatchResult>;
  /** Polling rounds done so far. */
  readonly rounds: number;
}

function watch(round: () => Promise<string[]>, intervalMs: number): PrivateWatch {
  const exposures: string[] = [];
  let running = true;
  let rounds = 0;
  const loop = (async () => {
    while (running) {
      try {
        for (const e of await round()) if (!exposures.includes(e)) exposures.push(e);
      } catch (err) {
        // A target that is down or resetting connections shows nothing; that is not an exposure.
        void err;
      }
      rounds++;
      await new Promise((r) => setTimeout(r, intervalMs));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return {
        exposures: exposures.filter((e) => !e.startsWith(SERVER_DEFECT)),
        serverDefects: exposures.filter((e) => e.startsWith(SERVER_DEFECT)).map((e) => e.slice(SERVER_DEFECT.length)),
      };
    },
    get rounds() {
      return rounds;
    },
  };
}

function categoryIds(text: string): number[] {
  try {
    const doc = JSON.parse(text) as { category_list?: { categories?: { id: number }[] } };
    return (doc.category_list?.categories ?? []).map((c) => c.id);
  } catch {
    return [];
  }
}

async function anonymousBytes(url: string): Promise<{ status: number; bytes: Buffer }> {
  const res = await fetch(url, { redirect: 'manual', signal: AbortSignal.timeout(5_000) });
  return { status: res.status, bytes: Buffer.from(await res.arrayBuffer()) };
}

function gunzipped(bytes: Buffer): string {
  try {
    return gunzipSync(bytes).toString('latin1');
  } catch {
    return bytes.toString('latin1');
  }
}

async function anonymous(url: string): Promise<{ status: number; text: string }> {
  const res = await fetch(url, { redirect: 'manual', signal: AbortSignal.timeout(5_000) });
  return { status: res.status, text: await res.text() };
}

/** Discourse (the test double): the categories named `categoryNames` must never show a post to anonymous visitors. */
export function watchDiscoursePrivate(d: DiscourseDouble, categoryNames: string[], intervalMs = 20): PrivateWatch {
  const names = new Set(categoryNames.map((n) => n.toLowerCase()));
  return watch(async () => {
    const found: string[] = [];
    const cats = [...d.state.categories.values()].filter((c) => names.has(c.name.toLowerCase()));
    const listing = await anonymous(`${d.url}/categories.json`);
    for (const c of cats) {
      if (listing.status === 200 && categoryIds(listing.text).includes(c.id)) found.push(`category ${c.name} listed in /categories.json`);
      const show = await anonymous(`${d.url}/c/${c.id}/show.json`);
      if (show.status === 200) found.push(`category ${c.name}: /c/${c.id}/show.json answered 200`);
      for (const t of d.state.topics.values()) {
        if (t.categoryId !== c.id || t.isCategoryDefinition) continue;
        const r = await anonymous(`${d.url}/t/${t.id}.json`);
        if (r.status === 200) found.push(`topic ${t.id} of ${c.name} readable anonymously`);
        if (t.externalId) {
          const byExt = await anonymous(`${d.url}/t/external_id/${encodeURIComponent(t.externalId)}.json`);
          if (byExt.status >= 200 && byExt.status < 400) found.push(`topic ${t.id} of ${c.name} found anonymously by external id (${byExt.status})`);
        }
        for (const pid of t.postIds) {
          const p = await anonymous(`${d.url}/posts/${pid}.json`);
          if (p.status === 200) found.push(`post ${pid} of ${c.name} readable anonymously`);
          const raw = d.state.posts.get(pid)?.raw ?? '';
          for (const u of d.state.uploads.values()) {
            if (!raw.includes(u.shortUrl)) continue;
            const up = await anonymous(`${d.url}${u.url}`);
            if (up.status === 200) found.push(`upload ${u.url} of a post in ${c.name} readable anonymously (Discourse needs secure uploads for that)`);
          }
        }
      }
    }
    return found;
  }, intervalMs);
}

/**
 * HyperKitty: for each private list (fqdn → message-id hashes it will hold), nothing of the
 * archive may be shown anonymously. A 404 (list or message not there yet) shows nothing.
 */
export function watchHyperKittyPrivate(hyperkittyUrl: string, lists: Map<string, string[]>, intervalMs = 50): PrivateWatch {
  const base = hyperkittyUrl.replace(/\/+$/, '');
  let turn = 0;
  return watch(async () => {
    const found: string[] = [];
    for (const [fqdn, hashes] of lists) {
      // The list itself may be known (as on Mailman 2's listinfo page); its messages may not.
      const page = await anonymous(`${base}/list/${encodeURIComponent(fqdn)}/`);
      if (page.status === 200 && hashes.some((h) => page.text.includes(h))) found.push(`${fqdn}: list page shows messages anonymously`);
      const api = await anonymous(`${base}/api/list/${encodeURIComponent(fqdn)}/emails/`);
      if (api.status === 200 && /"message_id_hash"/.test(api.text)) found.push(`${fqdn}: JSON API lists messages anonymously`);
      // Before its first message a new list may still be public in HyperKitty; an export without
      // any message shows nothing.
      const exported = await anonymousBytes(`${base}/list/${encodeURIComponent(fqdn)}/export/${encodeURIComponent(fqdn)}.mbox.gz`);
      if (exported.status === 200 && /^Message-ID:/im.test(gunzipped(exported.bytes))) found.push(`${fqdn}: mbox export with messages downloadable anonymously`);
      // A handful of message pages per round, in turn, so that every one is looked at during a run.
      for (let k = 0; k < Math.min(5, hashes.length); k++) {
        const hash = hashes[(turn + k) % hashes.length]!;
        const m = await anonymous(`${base}/list/${encodeURIComponent(fqdn)}/message/${hash}/`);
        if (m.status === 200) found.push(`${fqdn}: message ${hash} shown anonymously`);
        const j = await anonymous(`${base}/api/list/${encodeURIComponent(fqdn)}/email/${hash}/`);
        // HyperKitty 1.3.x: api/email.py EmailDetail overrides get_object() without calling
        // check_object_permissions(), so its IsMailingListPublicOrIsMember permission never runs.
        if (j.status === 200) found.push(`${SERVER_DEFECT}${fqdn}: message ${hash} readable anonymously through HyperKitty's JSON API (api/list/<list>/email/<hash>/)`);
      }
    }
    turn += 5;
    return found;
  }, intervalMs);
}
