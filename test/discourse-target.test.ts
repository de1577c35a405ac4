// The Discourse target end to end: the real pipeline (index → plan → settings → roster → archive →
// verify) on the bundled Mailman 2.1 lists, against the strict Discourse test double.
import { copyFile, mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { StateDb } from '../src/state/db.js';
import { Store } from '../src/state/store.js';
import { startDiscourseDouble, type DiscourseDouble, type DiscourseDoubleOptions } from './doubles/discourse-double.js';
import type { UserRecord } from './doubles/discourse-model.js';
import { discourseConfig, FAST_CLIENT, FIXTURES, KEY_ENV, runList, tempDir } from './helpers/discourse-run.js';

const doubles: DiscourseDouble[] = [];
afterEach(async () => {
  await Promise.all(doubles.splice(0).map((d) => d.close()));
});

const IMPORT_SETTINGS = { disable_emails: 'yes', authorized_extensions: '*' } as const;

async function start(opts: DiscourseDoubleOptions = {}): Promise<DiscourseDouble> {
  const d = await startDiscourseDouble({ adminRequestsPerMinute: 100_000, ...opts, siteSettings: { ...IMPORT_SETTINGS, ...opts.siteSettings } });
  doubles.push(d);
  process.env[KEY_ENV] = d.adminApiKey;
  return d;
}

/** Messages the state database says must be replayed, with what Discourse must show for them. */
async function replayable(statePath: string, list: string) {
  const db = await StateDb.open(statePath);
  try {
    return await db.all<{ target_message_id: string; date: string; from_address: string; depth: number; parent_ordinal: number | null; ordinal: number }>(
      "SELECT target_message_id, date, from_address, depth, parent_ordinal, ordinal FROM messages WHERE list = ? AND duplicate_kind IS NOT 'same' ORDER BY replay_key, depth, ordinal",
      [list],
    );
  } finally {
    await db.close();
  }
}

async function journal(statePath: string, list: string, phase: string) {
  const db = await StateDb.open(statePath);
  try {
    return await (await Store.open(db)).journal(list, phase);
  } finally {
    await db.close();
  }
}

function importedPosts(d: DiscourseDouble) {
  return [...d.state.posts.values()].filter((p) => !d.state.topics.get(p.topicId)?.isCategoryDefinition);
}

describe('Discourse target against the test double', () => {
  it('replays devtalk: one topic per thread, posts under their authors with created_at and import_mode, nothing notified', async () => {
    const d = await start();
    const dir = await tempDir();
    const cfg = discourseConfig(dir, d.url, d.adminUsername, { requestsPerMinute: 100_000 });
    const run = await runList(cfg, 'devtalk', { target: { client: FAST_CLIENT } });
    expect(run.outcome.report.status).toBe('done');
    expect(run.outcome.report.verify?.ok).toBe(true);

    const msgs = await replayable(cfg.state, 'devtalk');
    const posts = importedPosts(d);
    expect(posts).toHaveLength(msgs.length);
    const roots = msgs.filter((m) => m.depth === 0).length;
    expect([...d.state.topics.values()].filter((t) => !t.isCategoryDefinition)).toHaveLength(roots);

    const rows = await journal(cfg.state, 'devtalk', 'archive');
    const byKey = new Map(rows.map((r) => [r.key, r]));
    const byOrdinal = new Map(msgs.map((m) => [m.ordinal, m]));
    for (const m of msgs) {
      const row = byKey.get(m.target_message_id)!;
      expect(row.status).toBe('done');
      const post = d.state.posts.get(Number(row.target_id))!;
      // created_at is the message's own date; import_mode and skip_validations were sent.
      expect(new Date(post.createdAt).toISOString()).toBe(new Date(m.date).toISOString());
      expect(post.importMode).toBe(true);
      expect(post.skipValidations).toBe(true);
      const author = d.state.users.get(post.userId)!;
      expect(author.email).toBe(m.from_address.toLowerCase());
      if (m.depth > 0) {
        const parentRow = byKey.get(byOrdinal.get(m.parent_ordinal!)!.target_message_id)!;
        const parent = d.state.posts.get(Number(parentRow.target_id))!;
        expect(post.topicId).toBe(parent.topicId);
        expect(post.replyToPostNumber).toBe(parent.postNumber);
      } else {
        expect(post.postNumber).toBe(1);
        expect(d.state.topics.get(post.topicId)!.externalId).toMatch(/^[\w-]{1,50}$/);
      }
    }
    // Posts of a topic were created in date order, so post numbers follow the dates.
    for (const t of d.state.topics.values()) {
      const dates = t.postIds.map((id) => d.state.posts.get(id)!.createdAt);
      expect(dates).toEqual([...dates].sort((a, b) => a - b));
      // auto_track=false: nobody watches an old thread because they wrote in it; only members who
      // watch the category (their subscription) follow its topics.
      if (!t.isCategoryDefinition) {
        for (const [uid, level] of t.userLevels) expect(d.state.users.get(uid)!.categoryLevels.get(t.categoryId!)).toBe(level);
      }
    }
    // Titles lose the list prefix and Re:/Fwd:.
    const titles = [...d.state.topics.values()].map((t) => t.title);
    expect(titles.some((t) => t.includes('[DevTalk]') || /^(re|fwd?):/i.test(t))).toBe(false);
    expect(titles).toContain('Security advisory');

    expect(d.state.notifications).toEqual([]);
    expect(d.state.emailsSent).toEqual([]);
    expect(d.state.anomalies).toEqual([]);
    expect(d.state.serverErrors).toEqual([]);

    // Authors are deduplicated by address, active, unable to log in (no password was set).
    const authorIds = new Set(posts.map((p) => p.userId));
    const addresses = new Set(msgs.map((m) => m.from_address.toLowerCase()));
    expect(authorIds.size).toBe(addresses.size);
    for (const id of authorIds) expect(d.state.users.get(id)!.active).toBe(true);
    const creates = d.state.requestLog.filter((e) => e.method === 'POST' && e.path.startsWith('/users'));
    expect(creates.every((e) => e.params.password === undefined)).toBe(true);

    // Subscriptions: members are in the list's group; regular members watch, digest members watch first posts.
    const group = [...d.state.groups.values()].find((g) => g.name === 'devtalk-members')!;
    const members = run.outcome.report.counts.members;
    expect(group.members.size).toBe(members);
    const category = [...d.state.categories.values()].find((c) => c.name === 'DevTalk')!;
    const levels = [...group.members].map((id) => d.state.users.get(id)!.categoryLevels.get(category.id));
    expect(levels).toContain(3);
    expect(levels).toContain(4);
    expect(levels).toContain(2);

    // Attachments were uploaded and linked.
    expect(d.state.uploads.size).toBeGreaterThan(0);
    for (const u of d.state.uploads.values()) expect(posts.some((p) => p.raw.includes(u.shortUrl))).toBe(true);
    // The admin API key appears nowhere in what the run leaves behind.
    const leftovers = [await readFile(cfg.state), ...(await Promise.all((await readdir(path.join(cfg.reports, 'devtalk'))).map((f) => readFile(path.join(cfg.reports, 'devtalk', f)))))];
    for (const b of leftovers) expect(b.includes(Buffer.from(d.adminApiKey))).toBe(false);
  });

  it('restricts a private list\'s category before any post and keeps it from anonymous readers', async () => {
    const d = await start();
    const cfg = discourseConfig(await tempDir(), d.url, d.adminUsername, { requestsPerMinute: 100_000 });
    const run = await runList(cfg, 'liste-fr', { target: { client: FAST_CLIENT } });
    expect(run.outcome.report.status).toBe('done');
    const log = d.state.requestLog;
    const createCategory = log.findIndex((e) => e.method === 'POST' && e.path.startsWith('/categories'));
    const firstPost = log.findIndex((e) => e.method === 'POST' && e.path.startsWith('/posts'));
    expect(createCategory).toBeGreaterThanOrEqual(0);
    expect(createCategory).toBeLessThan(firstPost);
    // Restricted in the creating request itself: the category was never public, not even its About topic.
    expect(log[createCategory]!.params.permissions).toEqual({ 'liste-fr-members': 1 });
    const category = [...d.state.categories.values()].find((c) => c.name === 'Liste-FR')!;
    expect(category.readRestricted).toBe(true);
    const anon = await fetch(`${d.url}/c/${category.id}/show.json`);
    expect(anon.status).toBe(403);
    for (const t of d.state.topics.values()) {
      if (t.categoryId !== category.id) continue;
      expect((await fetch(`${d.url}/t/${t.id}.json`)).status).toBe(404);
    }
    expect(importedPosts(d)).toHaveLength((await replayable(cfg.state, 'liste-fr')).length);
  });

  it('refuses a key Discourse rejects (403) and a single-user key, before changing anything', async () => {
    const d = await start();
    const cfg = discourseConfig(await tempDir(), d.url, d.adminUsername, { requestsPerMinute: 100_000 });
    process.env[KEY_ENV] = 'not-a-key-0123456789';
    const bad = await runList(cfg, 'devtalk', { target: { client: FAST_CLIENT } });
    expect(bad.outcome.report.status).toBe('failed');
    expect(bad.outcome.report.error).toMatch(/refused the API key \(403\)/);
    expect(bad.outcome.report.error).not.toContain('not-a-key-0123456789');

    process.env[KEY_ENV] = d.userApiKey;
    const user = await runList(discourseConfig(await tempDir(), d.url, d.userUsername, { requestsPerMinute: 100_000 }), 'devtalk', { target: { client: FAST_CLIENT } });
    expect(user.outcome.report.error).toMatch(/not an administrator/);

    const single = d.addApiKey({ username: d.adminUsername });
    process.env[KEY_ENV] = single;
    const one = await runList(discourseConfig(await tempDir(), d.url, d.adminUsername, { requestsPerMinute: 100_000 }), 'devtalk', { target: { client: FAST_CLIENT } });
    expect(one.outcome.report.error).toMatch(/global key/);
    expect(d.state.requestLog.filter((e) => e.method !== 'GET')).toEqual([]);
    expect(d.state.categories.size).toBe(1);
  });

  it('with authors: importer-account, posts everything as the importer with an attribution line and creates no accounts', async () => {
    const d = await start();
    const cfg = discourseConfig(await tempDir(), d.url, d.adminUsername, { requestsPerMinute: 100_000, authors: 'importer-account', subscriptions: false });
    const usersBefore = d.state.users.size;
    const r = await runList(cfg, 'nihongo', { target: { client: FAST_CLIENT } });
    expect(r.outcome.report.status).toBe('done');
    expect(d.state.users.size).toBe(usersBefore);
    const posts = importedPosts(d);
    expect(posts).toHaveLength((await replayable(cfg.state, 'nihongo')).length);
    for (const p of posts) {
      expect(d.state.users.get(p.userId)!.username).toBe(d.adminUsername);
      expect(p.raw).toMatch(/^\*.+ wrote to .+ on \d{4}-\d\d-\d\d:\*\n\n/);
      expect(p.raw).not.toMatch(/@example\.jp/);
    }
  });

  it('refuses to replay while the site would e-mail archive authors, unless allowEmails', async () => {
    const d = await start({ siteSettings: { disable_emails: 'no' } });
    const cfg = discourseConfig(await tempDir(), d.url, d.adminUsername, { requestsPerMinute: 100_000 });
    const r = await runList(cfg, 'nihongo', { target: { client: FAST_CLIENT } });
    expect(r.outcome.report.status).toBe('failed');
    expect(r.outcome.report.error).toMatch(/disable_emails/);
    expect(d.state.users.size).toBe(4);
    expect(d.state.emailsSent).toEqual([]);
  });

  it('keeps category names unique: takes over an empty category of the same name, refuses one with topics', async () => {
    const d = await start();
    const cfg = discourseConfig(await tempDir(), d.url, d.adminUsername, { requestsPerMinute: 100_000 });
    // An empty "NIHONGO" (case differs) left behind by an earlier attempt is taken over, not duplicated.
    const created = await fetch(`${d.url}/categories.json`, {
      method: 'POST',
      headers: { 'Api-Key': d.adminApiKey, 'Api-Username': d.adminUsername, 'Content-Type': 'application/json' },
      body: JSON.stringify({ name: 'NIHONGO' }),
    });
    expect(created.status).toBe(200);
    const r = await runList(cfg, 'nihongo', { target: { client: FAST_CLIENT } });
    expect(r.outcome.report.status).toBe('done');
    expect([...d.state.categories.values()].filter((c) => c.name.toLowerCase() === 'nihongo')).toHaveLength(1);
    // A second state file (another operator, lost state) must not pile a second archive into it.
    const again = await runList(discourseConfig(await tempDir(), d.url, d.adminUsername, { requestsPerMinute: 100_000 }), 'nihongo', { target: { client: FAST_CLIENT } });
    expect(again.outcome.report.status).toBe('failed');
    expect(again.outcome.report.error).toMatch(/already has a category "NIHONGO" .* with \d+ topics/);
    expect(importedPosts(d)).toHaveLength((await replayable(cfg.state, 'nihongo')).length);
  });

  it('waits out 429 answers as Retry-After says and loses nothing', async () => {
    let t = Date.parse('2024-06-01T12:00:00Z');
    const clock = { now: () => t, sleep: async (ms: number) => { t += ms; await new Promise((r) => setImmediate(r)); } };
    // The server allows 5 admin requests a minute; the config (wrongly) claims far more, so the
    // client runs into the server's limit and must obey it.
    const d = await start({ adminRequestsPerMinute: 5, now: clock.now });
    const cfg = discourseConfig(await tempDir(), d.url, d.adminUsername, { requestsPerMinute: 100_000 });
    const r = await runList(cfg, 'liste-fr', { target: { client: clock } });
    expect(r.outcome.report.status).toBe('done');
    const log = d.state.requestLog;
    const throttled = log.filter((e) => e.status === 429);
    expect(throttled.length).toBeGreaterThan(0);
    // After a 429 nothing is sent before Retry-After has passed.
    for (let i = 0; i < log.length - 1; i++) {
      if (log[i]!.status !== 429) continue;
      const next = log[i + 1]!;
      const windowStart = log.filter((e) => e.charged && e.at <= log[i]!.at).map((e) => e.at).slice(-5)[0]!;
      expect(next.at).toBeGreaterThanOrEqual(windowStart + 59_000);
    }
    expect(importedPosts(d)).toHaveLength((await replayable(cfg.state, 'liste-fr')).length);
    // No minute ever saw more charged requests than the server allows.
    const charged = log.filter((e) => e.charged).map((e) => Math.floor(e.at / 1000));
    for (let i = 5; i < charged.length; i++) expect(charged[i]! - charged[i - 5]!).toBeGreaterThanOrEqual(60);
    expect(r.target.usage()!.throttled).toBe(throttled.length);
  });

  it('stays inside the site budget when requestsPerMinute matches it (no 429 at all)', async () => {
    // The double's clock runs 60 times faster than the real one: its 60 s window is one real second,
    // and the client's window is scaled the same way.
    const t0 = Date.now();
    const fast = () => t0 + (Date.now() - t0) * 60;
    const d = await start({ adminRequestsPerMinute: 20, now: fast });
    const cfg = discourseConfig(await tempDir(), d.url, d.adminUsername, { requestsPerMinute: 20 });
    const r = await runList(cfg, 'nihongo', { target: { client: { ...FAST_CLIENT, windowMs: Math.ceil(61_000 / 60) } } });
    expect(r.outcome.report.status).toBe('done');
    expect(d.state.requestLog.filter((e) => e.status === 429)).toEqual([]);
    // The client's own pacing kept every 60 s window at or under the budget.
    const charged = d.state.requestLog.filter((e) => e.charged).map((e) => e.at);
    for (let i = 20; i < charged.length; i++) expect(charged[i]! - charged[i - 20]!).toBeGreaterThanOrEqual(60_000);
    const peak = Math.max(...charged.map((t) => charged.filter((u) => u >= t && u < t + 60_000).length));
    const minutes = (charged.at(-1)! - charged[0]!) / 60_000;
    console.log(`budget (nihongo, site budget 20/min): ${charged.length} requests in ${minutes.toFixed(2)} simulated minutes; busiest 60 s window ${peak} = ${Math.round((peak / 20) * 100)}% of the budget; 0 answers 429`);
  });

  it('does not lose a post to the 120 s memo of identical requests', async () => {
    // Two different messages with identical author, date, text and parent: their POST /posts.json
    // parameters are identical, and Discourse answers the second from its memo without creating it.
    const root = await tempDir('mm2m-memo-');
    await mkdir(path.join(root, 'lists', 'memo'), { recursive: true });
    await copyFile(path.join(FIXTURES, 'lists', 'devtalk', 'config.pck'), path.join(root, 'lists', 'memo', 'config.pck'));
    await mkdir(path.join(root, 'archives', 'private', 'memo.mbox'), { recursive: true });
    const asctime = (date: string) => {
      const d = new Date(date);
      const [dow, mon] = [d.toUTCString().slice(0, 3), d.toUTCString().slice(8, 11)];
      return `${dow} ${mon} ${String(d.getUTCDate()).padStart(2, ' ')} ${d.toISOString().slice(11, 19)} ${d.getUTCFullYear()}`;
    };
    const msg = (id: string, date: string, subject: string, body: string, reply?: string) =>
      [
        `From alice@example.com ${asctime(date)}`,
        'From: Alice Example <alice@example.com>',
        `Subject: ${subject}`,
        `Date: ${date}`,
        `Message-ID: <${id}>`,
        ...(reply ? [`In-Reply-To: <${reply}>`, `References: <${reply}>`] : []),
        '',
        body,
        '',
        '',
      ].join('\n');
    const mbox =
      msg('root@memo.example', 'Mon, 02 Mar 2020 10:00:00 +0000', '[DevTalk] Vote', 'Please vote.') +
      msg('plus1-a@memo.example', 'Mon, 02 Mar 2020 11:00:00 +0000', 'Re: [DevTalk] Vote', '+1', 'root@memo.example') +
      msg('plus1-b@memo.example', 'Mon, 02 Mar 2020 11:00:00 +0000', 'Re: [DevTalk] Vote', '+1', 'root@memo.example');
    await writeFile(path.join(root, 'archives', 'private', 'memo.mbox', 'memo.mbox'), mbox);
    const d = await start();
    const cfg = { ...discourseConfig(await tempDir(), d.url, d.adminUsername, { requestsPerMinute: 100_000 }), source: { root, timeZone: 'UTC', lists: {} } };
    const r = await runList(cfg, 'memo', { target: { client: FAST_CLIENT } });
    expect(r.outcome.report.status).toBe('done');
    expect(d.state.requestLog.some((e) => e.memoised)).toBe(true);
    const posts = importedPosts(d);
    expect(posts).toHaveLength(3);
    expect(new Set(posts.map((p) => p.id)).size).toBe(3);
    const rows = (await journal(cfg.state, 'memo', 'archive')).filter((j) => j.status === 'done');
    expect(new Set(rows.map((j) => j.target_id)).size).toBe(3);
  });

  it('resumes after an interrupted replay without duplicates, reconciling a post whose answer was lost', async () => {
    let t = Date.parse('2024-06-01T12:00:00Z');
    const d = await start({ now: () => t });
    const cfg = discourseConfig(await tempDir(), d.url, d.adminUsername, { requestsPerMinute: 100_000 });
    // The 10th post is created, then every answer for it is lost (more times than the client retries):
    // the run stops with that post `pending` in the journal.
    const seq: (null | 'reset-after')[] = [...Array(9).fill(null), ...Array(60).fill('reset-after')];
    d.setFault({ match: /^POST \/posts/, sequence: seq });
    const first = await runList(cfg, 'devtalk', { target: { client: { ...FAST_CLIENT, retries: 2 } } });
    expect(first.outcome.report.status).toBe('failed');
    const pending = (await journal(cfg.state, 'devtalk', 'archive')).filter((j) => j.status === 'pending');
    expect(pending).toHaveLength(1);
    d.setFault(null);
    // Beyond Discourse's 120 s memo: only the journal's reconciliation can prevent a duplicate now.
    t += 10 * 60_000;
    const second = await runList(cfg, 'devtalk', { target: { client: FAST_CLIENT } });
    expect(second.outcome.report.status).toBe('done');
    const msgs = await replayable(cfg.state, 'devtalk');
    expect(importedPosts(d)).toHaveLength(msgs.length);
    const rows = await journal(cfg.state, 'devtalk', 'archive');
    expect(rows.filter((j) => j.status === 'done')).toHaveLength(msgs.length);
    expect(new Set(rows.map((j) => j.target_id)).size).toBe(msgs.length);
    // The second run created no second account for anyone.
    const emails = [...d.state.users.values()].map((u) => u.email);
    expect(new Set(emails).size).toBe(emails.length);
  });

  it('never e-mails a non-member archive author once the site sends mail again; members keep their preferences', async () => {
    const d = await start();
    const cfg = discourseConfig(await tempDir(), d.url, d.adminUsername, { requestsPerMinute: 100_000 });
    const run = await runList(cfg, 'devtalk', { target: { client: FAST_CLIENT } });
    expect(run.outcome.report.status).toBe('done');

    // Who the tool created an account for, and who of them is a subscribed member (in the list's group).
    const roster = await journal(cfg.state, 'devtalk', 'roster');
    const created = roster
      .filter((r) => r.op === 'user' && r.status === 'done' && (JSON.parse(r.detail_json!) as { created: boolean }).created)
      .map((r) => ({ email: r.key, user: d.state.users.get(Number(r.target_id))! }));
    const group = [...d.state.groups.values()].find((g) => g.name === 'devtalk-members')!;
    const members = created.filter((c) => group.members.has(c.user.id));
    const outsiders = created.filter((c) => !group.members.has(c.user.id));
    expect(members.length).toBeGreaterThan(0);
    expect(outsiders.length).toBeGreaterThan(0);

    // One journalled preferences update per outsider, none for members; their options as Discourse keeps them.
    const prefs = roster.filter((r) => r.op === 'user-email-prefs');
    expect(prefs.map((r) => r.key).sort()).toEqual(outsiders.map((o) => o.email).sort());
    expect(prefs.every((r) => r.status === 'done')).toBe(true);
    for (const o of outsiders) expect([o.user.emailLevel, o.user.emailMessagesLevel, o.user.emailDigests, o.user.mailingListMode]).toEqual([2, 2, false, false]);
    const untouched = d.addUser({ username: 'fresh_default', email: 'fresh@example.net' });
    for (const m of members) {
      expect([m.user.emailLevel, m.user.emailMessagesLevel, m.user.emailDigests, m.user.mailingListMode]).toEqual([
        untouched.emailLevel,
        untouched.emailMessagesLevel,
        untouched.emailDigests,
        untouched.mailingListMode,
      ]);
    }
    const updated = new Set(d.state.requestLog.filter((e) => e.method === 'PUT' && /^\/u\//.test(e.path)).map((e) => e.path));
    expect(updated.size).toBe(outsiders.length);

    // The operator switches e-mail back on; someone replies through the API to an outsider's and a member's post.
    d.state.siteSettings.disable_emails = 'no';
    // Two readers: Discourse limits how quickly one user may reply.
    const readers = [d.addUser({ username: 'later_reader', email: 'later.reader@example.net', trustLevel: 2 }), d.addUser({ username: 'other_reader', email: 'other.reader@example.net', trustLevel: 2 })];
    const postBy = (userId: number) => importedPosts(d).find((p) => p.userId === userId)!;
    const reply = async (userId: number, raw: string, replier: UserRecord) => {
      const target = postBy(userId);
      const res = await fetch(`${d.url}/posts.json`, {
        method: 'POST',
        headers: { 'Api-Key': d.adminApiKey, 'Api-Username': replier.username, 'Content-Type': 'application/json' },
        body: JSON.stringify({
          topic_id: target.topicId,
          reply_to_post_number: target.postNumber,
          raw,
        }),
      });
      expect(res.status, await res.text()).toBe(200);
      return target;
    };
    const outsider = outsiders.find((o) => postBy(o.user.id))!;
    const member = members.find((m) => postBy(m.user.id) && m.user.id !== outsider.user.id)!;
    const toOutsider = await reply(outsider.user.id, 'Years later: thank you for this explanation, it still answers the question today.', readers[0]!);
    const toMember = await reply(member.user.id, 'Does anyone know whether the workaround described here is still needed with the current release?', readers[1]!);

    // Both are told in Discourse that someone replied; only the member, on default preferences, is e-mailed.
    const notified = (userId: number, topicId: number) => d.state.notifications.some((n) => n.userId === userId && n.type === 'replied' && n.topicId === topicId);
    expect(notified(outsider.user.id, toOutsider.topicId)).toBe(true);
    expect(notified(member.user.id, toMember.topicId)).toBe(true);
    expect(d.state.emailsSent.filter((e) => e.userId === outsider.user.id)).toEqual([]);
    expect(d.state.emailsSent.some((e) => e.userId === member.user.id && e.topicId === toMember.topicId)).toBe(true);
  });

  it('dry-runs every sample list without a network: categories, users, topics, posts and the duration at 60 requests a minute', async () => {
    const dir = await tempDir();
    delete process.env[KEY_ENV];
    // Nothing listens here: a request would fail the run.
    const cfg = discourseConfig(dir, 'http://127.0.0.1:9', 'importer');
    for (const list of ['devtalk', 'liste-fr', 'nihongo', 'oldproject']) {
      const r = await runList(cfg, list, { dryRun: true });
      expect(r.outcome.report.status).not.toBe('failed');
      const plan = JSON.parse(await readFile(path.join(dir, 'reports', list, 'plan.json'), 'utf8')) as {
        details: { category: { name: string; restricted: boolean }; users: { email: string; username: string }[]; topics: { title: string; externalId: string; posts: number }[]; posts: number; duration: string };
        estimate: { requests: number; seconds: number; basis: string };
      };
      const msgs = await replayable(cfg.state, list);
      expect(plan.details.posts).toBe(msgs.length);
      expect(plan.details.topics.reduce((s, t) => s + t.posts, 0)).toBe(msgs.length);
      expect(plan.details.topics).toHaveLength(msgs.filter((m) => m.depth === 0).length);
      for (const t of plan.details.topics) expect(t.externalId).toMatch(/^[\w-]{1,50}$/);
      expect(plan.details.users.length).toBeGreaterThan(0);
      expect(plan.details.category.restricted).toBe(list === 'liste-fr');
      expect(plan.estimate.requests).toBeGreaterThan(msgs.length);
      expect(plan.estimate.seconds).toBeCloseTo(plan.estimate.requests, 5);
      expect(plan.details.duration).toMatch(/at 60 admin API requests per minute/);
      console.log(`${list}: ${plan.details.category.name}: ${plan.details.users.length} users, ${plan.details.topics.length} topics, ${plan.details.posts} posts, ${plan.estimate.requests} requests, ${plan.details.duration}`);
    }
  });
});
