// Proves the strictness of the Discourse test double with plain HTTP calls: each case is
// a behaviour Discourse pins in its own specs or sources (reference/discourse.md §2, §3, §6).

import { afterEach, describe, expect, it } from 'vitest';
import { startDiscourseDouble } from './doubles/discourse-double.js';
import type { DiscourseDouble, DiscourseDoubleOptions } from './doubles/discourse-double.js';

interface CallOpts {
  key?: string;
  username?: string;
  body?: unknown;
  form?: FormData;
  headers?: Record<string, string>;
  redirect?: 'manual' | 'follow';
}

interface Answer {
  status: number;
  headers: Headers;
  json: any;
  text: string;
}

const doubles: DiscourseDouble[] = [];
afterEach(async () => {
  await Promise.all(doubles.splice(0).map((d) => d.close()));
});

async function start(opts: DiscourseDoubleOptions = {}): Promise<DiscourseDouble> {
  const d = await startDiscourseDouble(opts);
  doubles.push(d);
  return d;
}

function clock(startIso = '2024-06-01T12:00:00Z') {
  let t = Date.parse(startIso);
  return { now: () => t, advance: (seconds: number) => (t += seconds * 1000) };
}

async function call(d: DiscourseDouble, method: string, path: string, o: CallOpts = {}): Promise<Answer> {
  const headers: Record<string, string> = { ...o.headers };
  if (o.key !== undefined) headers['Api-Key'] = o.key;
  if (o.username !== undefined) headers['Api-Username'] = o.username;
  let body: RequestInit['body'];
  if (o.form) body = o.form;
  else if (o.body !== undefined) {
    headers['Content-Type'] = 'application/json';
    body = JSON.stringify(o.body);
  }
  const res = await fetch(`${d.url}${path}`, { method, headers, body, redirect: o.redirect ?? 'manual' });
  const text = await res.text();
  let json: any = null;
  try {
    json = JSON.parse(text);
  } catch {
    json = null;
  }
  return { status: res.status, headers: res.headers, json, text };
}

const asAdmin = (d: DiscourseDouble) => ({ key: d.adminApiKey, username: d.adminUsername });

async function newCategory(d: DiscourseDouble, name: string, extra: Record<string, unknown> = {}): Promise<number> {
  const r = await call(d, 'POST', '/categories.json', { ...asAdmin(d), body: { name, color: 'AB9364', text_color: 'FFFFFF', ...extra } });
  expect(r.status).toBe(200);
  return r.json.category.id as number;
}

async function createActiveUser(d: DiscourseDouble, username: string, email: string): Promise<number> {
  const r = await call(d, 'POST', '/users.json', {
    ...asAdmin(d),
    body: { username, email, name: username, password: 'correct-horse-battery', active: true, approved: true },
  });
  expect(r.json.success).toBe(true);
  return r.json.user_id as number;
}

describe('authentication', () => {
  it('answers 403 not_logged_in without a key and 403 invalid_access for a bad key', async () => {
    const d = await start();
    const anon = await call(d, 'POST', '/posts.json', { body: { raw: 'hello there, this is long enough', topic_id: 1 } });
    expect(anon.status).toBe(403);
    expect(anon.json).toEqual({ errors: ['You need to be logged in to do that.'], error_type: 'not_logged_in' });

    const bad = await call(d, 'GET', '/categories.json', { key: 'not-a-key', username: d.adminUsername });
    expect(bad.status).toBe(403);
    expect(bad.json.error_type).toBe('invalid_access');
    expect(bad.json.errors[0]).toMatch(/The API username or key is invalid/);

    // A global key needs an Api-Username; a single-user key refuses a different one.
    const noUser = await call(d, 'GET', '/categories.json', { key: d.adminApiKey });
    expect(noUser.status).toBe(403);
    const wrongUser = await call(d, 'GET', '/categories.json', { key: d.userApiKey, username: d.adminUsername });
    expect(wrongUser.status).toBe(403);
    const ownUser = await call(d, 'GET', '/categories.json', { key: d.userApiKey, username: d.userUsername.toUpperCase() });
    expect(ownUser.status).toBe(200);
  });

  it('hides admin routes (404) from a regular user key and refuses the API key in the query string', async () => {
    const d = await start();
    const r = await call(d, 'GET', '/admin/permalinks.json', { key: d.userApiKey });
    expect(r.status).toBe(404);
    expect(r.json).toEqual({ errors: ['The requested URL or resource could not be found.'], error_type: 'not_found' });
    const mod = await call(d, 'PUT', '/admin/site_settings/disable_emails', { key: d.adminApiKey, username: d.moderatorUsername, body: { disable_emails: 'yes' } });
    expect(mod.status).toBe(404);
    const query = await call(d, 'POST', `/posts.json?api_key=${d.adminApiKey}&api_username=${d.adminUsername}`, { body: { raw: 'x'.repeat(30), topic_id: 1 } });
    expect(query.status).toBe(403);
    expect(query.json.error_type).toBe('not_logged_in');
  });
});

describe('admin API rate limit', () => {
  it('shares one bucket between keys and answers 429 with Retry-After and extras.wait_seconds', async () => {
    const c = clock();
    const d = await start({ adminRequestsPerMinute: 3, now: c.now });
    for (let i = 0; i < 2; i++) expect((await call(d, 'GET', '/categories.json', asAdmin(d))).status).toBe(200);
    expect((await call(d, 'GET', '/categories.json', { key: d.userApiKey })).status).toBe(200);
    // Anonymous requests are not admin API requests and do not touch the bucket.
    expect((await call(d, 'GET', '/categories.json')).status).toBe(200);

    c.advance(20);
    const limited = await call(d, 'GET', '/categories.json', asAdmin(d));
    expect(limited.status).toBe(429);
    expect(limited.headers.get('retry-after')).toBe('40');
    expect(limited.headers.get('discourse-rate-limit-error-code')).toBe('admin_api_key_rate_limit');
    expect(limited.json).toEqual({
      errors: ['You’ve performed this action too many times. Please wait 40 seconds before trying again.'],
      error_type: 'rate_limit',
      extras: { wait_seconds: 40, time_left: '40 seconds' },
    });
    // The rejected request was not logged in the sliding window.
    c.advance(40);
    expect((await call(d, 'GET', '/categories.json', asAdmin(d))).status).toBe(200);
    expect(d.state.requestLog.filter((e) => e.charged)).toHaveLength(4);
  });
});

describe('categories', () => {
  it('rejects a second category with the same name (case-insensitive) under the same parent', async () => {
    const d = await start();
    const first = await call(d, 'POST', '/categories.json', { ...asAdmin(d), body: { name: 'Dev Talk', color: '0088CC', text_color: 'FFFFFF' } });
    expect(first.status).toBe(200);
    expect(first.json.category).toMatchObject({ name: 'Dev Talk', slug: 'dev-talk', color: '0088CC' });
    // The automatic "About the … category" topic.
    const about = d.state.topics.get(d.state.categories.get(first.json.category.id)!.topicId!);
    expect(about?.title).toBe('About the Dev Talk category');

    const dup = await call(d, 'POST', '/categories.json', { ...asAdmin(d), body: { name: 'dev talk' } });
    expect(dup.status).toBe(422);
    expect(dup.json).toEqual({ errors: ['Category Name has already been taken'] });

    const child = await call(d, 'POST', '/categories.json', { ...asAdmin(d), body: { name: 'Dev Talk', parent_category_id: first.json.category.id } });
    expect(child.status).toBe(200);
    const grandchild = await call(d, 'POST', '/categories.json', { ...asAdmin(d), body: { name: 'Deeper', parent_category_id: child.json.category.id } });
    expect(grandchild.status).toBe(422);
    expect(grandchild.json.errors).toContain("You can't nest a subcategory under another");

    const missingName = await call(d, 'POST', '/categories.json', { ...asAdmin(d), body: { color: '0088CC' } });
    expect(missingName.status).toBe(400);
    // colour columns are varchar(6): "#0088CC" is a database error, not a validation error.
    const hashColour = await call(d, 'POST', '/categories.json', { ...asAdmin(d), body: { name: 'Colours', color: '#0088CC' } });
    expect(hashColour.status).toBe(500);
    const byUser = await call(d, 'POST', '/categories.json', { key: d.userApiKey, body: { name: 'Mine' } });
    expect(byUser.status).toBe(403);
  });

  it('restricts a category to a group and keeps non-members out', async () => {
    const d = await start();
    const id = await newCategory(d, 'Private List');
    const g = await call(d, 'POST', '/admin/groups.json', { ...asAdmin(d), body: { group: { name: 'private-list-members' } } });
    expect(g.status).toBe(200);
    const put = await call(d, 'PUT', `/categories/${id}.json`, { ...asAdmin(d), body: { permissions: { 'private-list-members': 1 } } });
    expect(put.status).toBe(200);
    expect(put.json.category.read_restricted).toBe(true);
    expect((await call(d, 'GET', `/c/${id}/show.json`, { key: d.userApiKey })).status).toBe(403);
    const topic = await call(d, 'POST', '/posts.json', { key: d.userApiKey, body: { title: 'Trying to post in a closed list', raw: 'This should not be allowed at all.', category: id } });
    expect(topic.status).toBe(403);
    const unknownGroup = await call(d, 'PUT', `/categories/${id}.json`, { ...asAdmin(d), body: { permissions: { nosuchgroup: 1 } } });
    expect(unknownGroup.status).toBe(422);
    await call(d, 'PUT', `/groups/${g.json.basic_group.id}/members.json`, { ...asAdmin(d), body: { usernames: d.userUsername } });
    expect((await call(d, 'GET', `/c/${id}/show.json`, { key: d.userApiKey })).status).toBe(200);
  });
});

describe('posts with import parameters', () => {
  it('honours created_at and import_mode, numbers posts in creation order and finds topics by external_id', async () => {
    const d = await start();
    const cat = await newCategory(d, 'Old List');
    const topic = await call(d, 'POST', '/posts.json', {
      ...asAdmin(d),
      body: {
        title: 'the first message of the archive',
        raw: 'Body of the first archived message.',
        category: cat,
        created_at: '2003-04-05T06:07:08+02:00',
        import_mode: true,
        auto_track: false,
        external_id: 'mm2-old-list-0001',
      },
    });
    expect(topic.status).toBe(200);
    expect(topic.json).toMatchObject({ post_number: 1, created_at: '2003-04-05T04:07:08.000Z', username: d.adminUsername });
    expect(topic.json.raw).toBeUndefined();
    const topicId = topic.json.topic_id as number;
    expect(d.state.topics.get(topicId)).toMatchObject({ createdAt: Date.parse('2003-04-05T04:07:08Z'), externalId: 'mm2-old-list-0001' });

    const authorId = await createActiveUser(d, 'alice_example', 'alice@example.org');
    const reply = await call(d, 'POST', '/posts.json', {
      key: d.adminApiKey,
      username: 'Alice_Example',
      body: { topic_id: topicId, raw: 'A reply written years ago, long enough.', created_at: '2003-04-06 10:00:00', import_mode: 'true', reply_to_post_number: 1, skip_validations: true },
    });
    expect(reply.status).toBe(200);
    expect(reply.json).toMatchObject({ post_number: 2, reply_to_post_number: 1, created_at: '2003-04-06T10:00:00.000Z', user_id: authorId });

    const byExternal = await call(d, 'GET', '/t/external_id/mm2-old-list-0001.json', asAdmin(d));
    expect(byExternal.status).toBe(301);
    const location = byExternal.headers.get('location')!;
    expect(location).toBe(`${d.url}/t/the-first-message-of-the-archive/${topicId}.json`);
    const followed = await call(d, 'GET', location.slice(d.url.length), asAdmin(d));
    expect(followed.json.post_stream.posts.map((p: { post_number: number }) => p.post_number)).toEqual([1, 2]);
    expect((await call(d, 'GET', '/t/external_id/unknown-id.json', asAdmin(d))).status).toBe(404);
  });

  it('notifies (and would e-mail) the topic owner only without import_mode, and never when emails are disabled', async () => {
    const d = await start();
    const cat = await newCategory(d, 'Notify List');
    const ownerId = await createActiveUser(d, 'topic_owner', 'owner@example.org');
    await createActiveUser(d, 'replier', 'replier@example.org');
    const mailsAfterSignup = d.state.emailsSent.length;
    const t = await call(d, 'POST', '/posts.json', {
      key: d.adminApiKey,
      username: 'topic_owner',
      body: { title: 'A question about the build system', raw: 'How do I build this project from source?', category: cat, skip_validations: true },
    });
    expect(t.status).toBe(200);
    const topicId = t.json.topic_id;

    const quiet = await call(d, 'POST', '/posts.json', {
      key: d.adminApiKey,
      username: 'replier',
      body: { topic_id: topicId, raw: 'Imported answer: run make.', import_mode: true, skip_validations: true },
    });
    expect(quiet.status).toBe(200);
    expect(d.state.notifications.filter((n) => n.userId === ownerId)).toHaveLength(0);

    const loud = await call(d, 'POST', '/posts.json', {
      key: d.adminApiKey,
      username: 'replier',
      body: { topic_id: topicId, raw: 'Live answer: run make install.', skip_validations: true },
    });
    expect(loud.status).toBe(200);
    expect(d.state.notifications.filter((n) => n.userId === ownerId)).toHaveLength(1);
    expect(d.state.emailsSent.slice(mailsAfterSignup).map((e) => e.to)).toEqual(['owner@example.org']);

    const off = await call(d, 'PUT', '/admin/site_settings/disable_emails', { ...asAdmin(d), body: { disable_emails: 'yes' } });
    expect(off.status).toBe(200);
    const mailsBefore = d.state.emailsSent.length;
    await call(d, 'POST', '/posts.json', {
      key: d.adminApiKey,
      username: 'replier',
      body: { topic_id: topicId, raw: 'Another live answer, emails off.', skip_validations: true },
    });
    expect(d.state.notifications.filter((n) => n.userId === ownerId)).toHaveLength(2);
    expect(d.state.emailsSent.length).toBe(mailsBefore);
  });

  it('enforces title and body minimums for a regular user unless skip_validations is sent', async () => {
    const d = await start();
    const cat = await newCategory(d, 'Rules');
    const short = await call(d, 'POST', '/posts.json', { key: d.userApiKey, body: { title: 'Re: help', raw: 'thanks', category: cat } });
    expect(short.status).toBe(422);
    expect(short.json.action).toBe('create_post');
    expect(short.json.errors).toContain('Title is too short (minimum is 15 characters)');
    const shortBody = await call(d, 'POST', '/posts.json', { key: d.userApiKey, body: { title: 'A perfectly reasonable subject line', raw: 'thanks', category: cat } });
    expect(shortBody.status).toBe(422);
    // "thanks" is also below body_min_entropy (7 distinct characters), as in Discourse.
    expect(shortBody.json.errors).toEqual(['Body is too short (minimum is 20 characters)', 'Body seems unclear, is it a complete sentence?']);
    const skipped = await call(d, 'POST', '/posts.json', { key: d.userApiKey, body: { title: 'Re: help', raw: 'thanks', category: cat, skip_validations: 'true' } });
    expect(skipped.status).toBe(200);
    // Without skip_validations the title is cleaned; with it, it is stored as sent.
    expect(d.state.topics.get(skipped.json.topic_id)?.title).toBe('Re: help');
    const dupTitle = await call(d, 'POST', '/posts.json', { ...asAdmin(d), body: { title: 'Re: help', raw: 'Another message with a repeated subject.', category: cat } });
    expect(dupTitle.json.errors).toContain('Title has already been used');
  });

  it('queues posts of users outside approve_unless_allowed_groups ("enqueued"), but not staff posts', async () => {
    const d = await start({ siteSettings: { approve_unless_allowed_groups: '14' } });
    const body = { title: 'A post that needs approval first', raw: 'Body of a post that waits for review.' };
    const queued = await call(d, 'POST', '/posts.json', { key: d.userApiKey, body });
    expect(queued.status).toBe(200);
    expect(queued.json).toMatchObject({ action: 'enqueued', success: true, pending_post: { raw: body.raw } });
    expect(d.state.topics.size).toBe(0);
    const staff = await call(d, 'POST', '/posts.json', { ...asAdmin(d), body });
    expect(staff.json.post_number).toBe(1);
  });

  it('rejects a non-numeric category with 400 and a reply to an unknown topic with 422', async () => {
    const d = await start();
    const badCat = await call(d, 'POST', '/posts.json', { ...asAdmin(d), body: { title: 'A title that is long enough', raw: 'A body that is long enough too.', category: 'devtalk' } });
    expect(badCat.status).toBe(400);
    expect(badCat.json).toEqual({ errors: ['You supplied invalid parameters to the request: category'], error_type: 'invalid_parameters' });
    const noTopic = await call(d, 'POST', '/posts.json', { ...asAdmin(d), body: { topic_id: 999999, raw: 'A reply to nothing at all.' } });
    expect(noTopic.status).toBe(422);
    expect(noTopic.json.errors[0]).toMatch(/^Something has gone wrong/);
  });
});

describe('input Discourse accepts silently', () => {
  it('stores "now" for an unparseable created_at and keeps a dangling reply_to_post_number, recording both', async () => {
    const c = clock('2024-06-01T12:00:00Z');
    const d = await start({ now: c.now });
    const t = await call(d, 'POST', '/posts.json', { ...asAdmin(d), body: { title: 'Dates in odd formats', raw: 'Body of a message with a bad date.', created_at: 'Tue, 31 Foo 2001 99:99' } });
    expect(t.status).toBe(200);
    expect(t.json.created_at).toBe('2024-06-01T12:00:00.000Z');
    const r = await call(d, 'POST', '/posts.json', { ...asAdmin(d), body: { topic_id: t.json.topic_id, raw: 'A reply to a post that is not there.', reply_to_post_number: 9 } });
    expect(r.status).toBe(200);
    expect(r.json.reply_to_post_number).toBe(9);
    expect(r.json.reply_to_user).toBeUndefined();
    expect(d.state.anomalies).toHaveLength(2);
    expect(d.state.anomalies[0]).toMatch(/created_at/);
    expect(d.state.anomalies[1]).toMatch(/reply_to_post_number 9/);
  });
});

describe('topic external_id validation', () => {
  it('applies the format, length and case-insensitive uniqueness rules unless validations are skipped', async () => {
    const d = await start({ siteSettings: { allow_duplicate_topic_titles: true } });
    const cat = await newCategory(d, 'Ext');
    const post = (external_id: string, extra: Record<string, unknown> = {}) =>
      call(d, 'POST', '/posts.json', {
        ...asAdmin(d),
        body: { title: 'Subject of an archived thread', raw: 'Body of an archived message here.', category: cat, external_id, ...extra },
      });
    const withSpace = await post('<abc@example.org>');
    expect(withSpace.status).toBe(422);
    expect(withSpace.json.errors).toEqual(['External is invalid']);
    const tooLong = await post('a'.repeat(51));
    expect(tooLong.json.errors).toEqual(['External is too long (maximum is 50 characters)']);
    expect((await post('Msg-0001')).status).toBe(200);
    const dup = await post('msg-0001');
    expect(dup.status).toBe(422);
    expect(dup.json.errors).toEqual(['External has already been taken']);
    // skip_validations bypasses the model checks; only the exact unique index is left.
    expect((await post('msg-0001', { skip_validations: true, raw: 'Different body one.' })).status).toBe(200);
    expect((await post('Msg-0001', { skip_validations: true, raw: 'Different body two.' })).status).toBe(500);
  });
});

describe('memoisation of identical API requests (120 s)', () => {
  it('returns the first answer for an identical request and creates a new post after 120 s', async () => {
    const c = clock();
    const d = await start({ now: c.now });
    const cat = await newCategory(d, 'Memo');
    const t = await call(d, 'POST', '/posts.json', { ...asAdmin(d), body: { title: 'Thread for memoisation', raw: 'First post of the memo thread.', category: cat } });
    const topicId = t.json.topic_id;
    const body = { topic_id: topicId, raw: 'An identical reply body, sent twice.' };
    const first = await call(d, 'POST', '/posts.json', { ...asAdmin(d), body });
    const postsAfterFirst = d.state.posts.size;
    c.advance(60);
    const second = await call(d, 'POST', '/posts.json', { key: d.adminApiKey, username: d.adminUsername.toUpperCase(), body });
    expect(second.status).toBe(200);
    expect(second.text).toBe(first.text);
    expect(d.state.posts.size).toBe(postsAfterFirst);
    expect(d.state.requestLog.at(-1)?.memoised).toBe(true);
    // Any permitted parameter that differs makes it a different request.
    const other = await call(d, 'POST', '/posts.json', { ...asAdmin(d), body: { ...body, created_at: '2001-01-01T00:00:00Z' } });
    expect(other.json.id).not.toBe(first.json.id);
    c.advance(61);
    const third = await call(d, 'POST', '/posts.json', { ...asAdmin(d), body });
    expect(third.status).toBe(200);
    expect(third.json.id).not.toBe(first.json.id);
    expect(third.json.post_number).toBe(4);
  });

  it('memoises failures too', async () => {
    const c = clock();
    const d = await start({ now: c.now });
    const body = { topic_id: 424242, raw: 'A reply to a topic that does not exist.' };
    const first = await call(d, 'POST', '/posts.json', { ...asAdmin(d), body });
    expect(first.status).toBe(422);
    const second = await call(d, 'POST', '/posts.json', { ...asAdmin(d), body });
    expect(second.status).toBe(422);
    expect(d.state.requestLog.at(-1)?.memoised).toBe(true);
  });
});

describe('users and staged users', () => {
  it('creates staged users only with an admin key, and a staged (inactive) user cannot be impersonated', async () => {
    const d = await start();
    const staged = await call(d, 'POST', '/users.json', {
      ...asAdmin(d),
      body: { username: 'staged_poster', email: 'Staged@Example.org', name: 'Staged Poster', staged: true, active: false },
    });
    expect(staged.status).toBe(200);
    expect(staged.json).toMatchObject({ success: true, active: false });
    const record = d.state.users.get(staged.json.user_id)!;
    expect(record).toMatchObject({ staged: true, active: false, email: 'staged@example.org' });
    expect(d.state.emailsSent.filter((e) => e.to === 'staged@example.org')).toHaveLength(0);

    const asStaged = await call(d, 'POST', '/posts.json', { key: d.adminApiKey, username: 'staged_poster', body: { topic_id: 1, raw: 'A post that cannot be made by staged users.' } });
    expect(asStaged.status).toBe(403);
    expect(asStaged.json.error_type).toBe('invalid_access');

    // Staged users do get notification e-mails (Jobs::UserEmail only skips their digests).
    await call(d, 'POST', '/posts.json', { ...asAdmin(d), body: { title: 'Mentioning a staged author', raw: 'Thanks @staged_poster for the report.' } });
    expect(d.state.emailsSent.filter((e) => e.to === 'staged@example.org').map((e) => e.type)).toEqual(['user_mentioned']);

    const byUserKey = await call(d, 'POST', '/users.json', { key: d.userApiKey, body: { username: 'not_staged', email: 'ns@example.org', staged: true, active: true } });
    expect(byUserKey.json.success).toBe(true);
    expect(d.state.users.get(byUserKey.json.user_id)).toMatchObject({ staged: false, active: false });

    // Registering the staged user's address unstages and reuses that record.
    const claim = await call(d, 'POST', '/users.json', { ...asAdmin(d), body: { username: 'real_poster', email: 'staged@example.org', active: true } });
    expect(claim.json).toMatchObject({ success: true, active: true, user_id: staged.json.user_id });
    expect(d.state.users.get(staged.json.user_id)).toMatchObject({ staged: false, active: true, username: 'real_poster' });

    // Staged + active via the API does not stay staged (LoginActivator unstages).
    const stagedActive = await call(d, 'POST', '/users.json', { ...asAdmin(d), body: { username: 'sa_user', email: 'sa@example.org', staged: true, active: true } });
    expect(d.state.users.get(stagedActive.json.user_id)?.staged).toBe(false);
  });

  it('answers 200 with success:false for username and email problems, and fakes success without a key', async () => {
    const d = await start();
    const short = await call(d, 'POST', '/users.json', { ...asAdmin(d), body: { username: 'ab', email: 'ab@example.org' } });
    expect(short.status).toBe(200);
    expect(short.json.success).toBe(false);
    expect(short.json.errors.username).toEqual(['must be at least 3 characters']);
    const chars = await call(d, 'POST', '/users.json', { ...asAdmin(d), body: { username: 'jean pierre', email: 'jp@example.org' } });
    expect(chars.json.errors.username).toEqual(['must only include numbers, letters, dashes, dots, and underscores']);
    const taken = await call(d, 'POST', '/users.json', { ...asAdmin(d), body: { username: 'USER1', email: 'other@example.org' } });
    expect(taken.json.errors.username).toEqual(['must be unique']);
    const email = await call(d, 'POST', '/users.json', { ...asAdmin(d), body: { username: 'user_two', email: 'USER1@double.invalid' } });
    expect(email.json.errors.email).toEqual(['has already been taken']);
    const reserved = await call(d, 'POST', '/users.json', { ...asAdmin(d), body: { username: 'admin', email: 'a@example.org' } });
    expect(reserved.json).toEqual({ success: false, message: 'That username is not allowed.' });
    const anonymous = await call(d, 'POST', '/users.json', { body: { username: 'ghost_user', email: 'ghost@example.org' } });
    expect(anonymous.json.success).toBe(true);
    expect([...d.state.users.values()].some((u) => u.username === 'ghost_user')).toBe(false);

    const lookup = await call(d, 'GET', '/admin/users/list/all.json?email=USER1%40double.invalid&show_emails=true', asAdmin(d));
    expect(lookup.json).toHaveLength(1);
    expect(lookup.json[0]).toMatchObject({ username: 'user1', email: 'user1@double.invalid' });
  });

  it('updates e-mail preferences for the user itself or staff (PUT /u/:username), and "never" stops notification e-mail', async () => {
    const d = await start();
    const cat = await newCategory(d, 'Preferences List');
    const ownerId = await createActiveUser(d, 'quiet_owner', 'quiet@example.org');
    await createActiveUser(d, 'pref_replier', 'pref.replier@example.org');
    const owner = d.state.users.get(ownerId)!;
    const defaults = { emailLevel: owner.emailLevel, emailMessagesLevel: owner.emailMessagesLevel, emailDigests: owner.emailDigests };
    expect(defaults).toEqual({ emailLevel: 1, emailMessagesLevel: 0, emailDigests: true });
    const never = { email_level: 2, email_messages_level: 2, email_digests: false, mailing_list_mode: false };

    expect((await call(d, 'PUT', '/u/quiet_owner.json', { body: never })).json.error_type).toBe('not_logged_in');
    const other = await call(d, 'PUT', '/u/quiet_owner.json', { key: d.userApiKey, body: never });
    expect([other.status, other.json.error_type]).toEqual([403, 'invalid_access']);
    expect((await call(d, 'PUT', '/u/nobody_here.json', { ...asAdmin(d), body: never })).status).toBe(404);
    for (const bad of [{ email_level: 5 }, { email_messages_level: 'never' }, { email_level: -1 }]) {
      const r = await call(d, 'PUT', '/u/quiet_owner.json', { ...asAdmin(d), body: { ...never, ...bad } });
      expect(r.status).toBe(422);
      expect(r.json.errors[0]).toMatch(/is not included in the list/);
    }
    expect(owner).toMatchObject(defaults);

    // Staff may edit anyone; attributes UserUpdater does not know (admin) are ignored.
    const ok = await call(d, 'PUT', '/u/quiet_owner.json', { ...asAdmin(d), body: { ...never, admin: true } });
    expect(ok.status).toBe(200);
    expect(ok.json).toMatchObject({ success: 'OK', user: { username: 'quiet_owner', user_option: { email_level: 2, email_messages_level: 2, email_digests: false } } });
    expect(owner).toMatchObject({ emailLevel: 2, emailMessagesLevel: 2, emailDigests: false, mailingListMode: false, admin: false });
    const self = await call(d, 'PUT', '/u/pref_replier.json', { key: d.adminApiKey, username: 'pref_replier', body: { email_digests: 'no' } });
    expect(self.status).toBe(200);
    expect(d.state.users.get(self.json.user.id)!.emailDigests).toBe(false);

    const t = await call(d, 'POST', '/posts.json', {
      key: d.adminApiKey,
      username: 'quiet_owner',
      body: { title: 'An old question about packaging', raw: 'How is the tarball for a release made?', category: cat, skip_validations: true },
    });
    expect(t.status).toBe(200);
    const mailsBefore = d.state.emailsSent.length;
    const reply = await call(d, 'POST', '/posts.json', {
      key: d.adminApiKey,
      username: 'pref_replier',
      body: { topic_id: t.json.topic_id, raw: 'A live answer after the import: use the release script.', skip_validations: true },
    });
    expect(reply.status).toBe(200);
    expect(d.state.notifications.filter((n) => n.userId === ownerId)).toHaveLength(1);
    expect(d.state.emailsSent.slice(mailsBefore)).toEqual([]);
  });
});

describe('permalinks', () => {
  it('creates nested permalinks, rejects duplicates with 422 and redirects the old URL with 301', async () => {
    const d = await start();
    const cat = await newCategory(d, 'Links');
    const t = await call(d, 'POST', '/posts.json', { ...asAdmin(d), body: { title: 'Thread that used to live in pipermail', raw: 'Archived body of the thread start.', category: cat } });
    const r = await call(d, 'POST', '/posts.json', { ...asAdmin(d), body: { topic_id: t.json.topic_id, raw: 'Archived reply in the same thread.' } });
    const old = '/pipermail/links/2010-January/000123.html';
    const created = await call(d, 'POST', '/admin/permalinks.json', {
      ...asAdmin(d),
      body: { permalink: { url: old, permalink_type: 'post', permalink_type_value: r.json.id } },
    });
    expect(created.status).toBe(200);
    expect(created.json.permalink).toMatchObject({ url: old.slice(1), post_id: r.json.id, topic_id: null });

    const dup = await call(d, 'POST', '/admin/permalinks.json', {
      ...asAdmin(d),
      body: { permalink: { url: old, permalink_type: 'topic', permalink_type_value: t.json.topic_id } },
    });
    expect(dup.status).toBe(422);
    expect(dup.json).toEqual({ errors: ['Url has already been taken'] });

    const flat = await call(d, 'POST', '/admin/permalinks.json', {
      ...asAdmin(d),
      body: { url: '/pipermail/links/other.html', permalink_type: 'topic_id', permalink_type_value: t.json.topic_id },
    });
    expect(flat.status).toBe(400);

    const redirect = await call(d, 'GET', old);
    expect(redirect.status).toBe(301);
    expect(redirect.headers.get('location')).toBe(`${d.url}/t/thread-that-used-to-live-in-pipermail/${t.json.topic_id}/2`);
    expect((await call(d, 'GET', '/pipermail/links/2010-January/000124.html')).status).toBe(404);

    const listed = await call(d, 'GET', '/admin/permalinks.json?filter=2010-january', asAdmin(d));
    expect(listed.json.map((p: { id: number }) => p.id)).toEqual([created.json.permalink.id]);
    expect((await call(d, 'DELETE', `/admin/permalinks/${created.json.permalink.id}.json`, asAdmin(d))).status).toBe(200);
    expect((await call(d, 'GET', old)).status).toBe(404);
  });

  it('speaks the legacy flat API when configured, rejecting the nested form with 400', async () => {
    const d = await start({ permalinkApi: 'legacy' });
    const cat = await newCategory(d, 'Legacy');
    const nested = await call(d, 'POST', '/admin/permalinks.json', {
      ...asAdmin(d),
      body: { permalink: { url: '/x.html', permalink_type: 'category', permalink_type_value: cat } },
    });
    expect(nested.status).toBe(400);
    const flat = await call(d, 'POST', '/admin/permalinks.json', {
      ...asAdmin(d),
      body: { url: '/x.html', permalink_type: 'category_id', permalink_type_value: cat },
    });
    expect(flat.status).toBe(200);
    expect(flat.json.permalink).toMatchObject({ url: 'x.html', category_id: cat });
    const again = await call(d, 'POST', '/admin/permalinks.json', {
      ...asAdmin(d),
      body: { url: 'x.html', permalink_type: 'category_id', permalink_type_value: cat },
    });
    expect(again.status).toBe(422);
  });
});

describe('uploads, groups and faults', () => {
  it('accepts authorised composer uploads and refuses other extensions', async () => {
    const d = await start();
    const png = new FormData();
    png.set('type', 'composer');
    png.set('synchronous', 'true');
    png.set('file', new Blob([Buffer.from('89504e470d0a1a0a', 'hex')], { type: 'image/png' }), 'diagram.png');
    const ok = await call(d, 'POST', '/uploads.json', { ...asAdmin(d), form: png });
    expect(ok.status).toBe(200);
    expect(ok.json.short_url).toMatch(/^upload:\/\/[0-9a-zA-Z]+\.png$/);
    expect((await call(d, 'GET', ok.json.url)).status).toBe(200);

    const exe = new FormData();
    exe.set('type', 'composer');
    exe.set('file', new Blob([Buffer.from('MZ')]), 'tool.exe');
    const refused = await call(d, 'POST', '/uploads.json', { ...asAdmin(d), form: exe });
    expect(refused.status).toBe(422);
    expect(refused.json.errors[0]).toMatch(/not authorized/);
  });

  it('makes group members watch the group categories, so a live topic notifies them', async () => {
    const d = await start();
    const cat = await newCategory(d, 'Watched');
    const g = await call(d, 'POST', '/admin/groups.json', { ...asAdmin(d), body: { group: { name: 'watched-members', watching_category_ids: [cat] } } });
    expect(g.status).toBe(200);
    const bad = await call(d, 'POST', '/admin/groups.json', { ...asAdmin(d), body: { group: { name: 'USER1' } } });
    expect(bad.json.errors).toEqual(['Name has already been taken']);
    const memberId = await createActiveUser(d, 'list_member', 'member@example.org');
    const add = await call(d, 'PUT', `/groups/${g.json.basic_group.id}/members.json`, { ...asAdmin(d), body: { usernames: 'list_member', emails: 'newcomer@example.org' } });
    expect(add.json).toEqual({ success: 'OK', usernames: ['list_member'], emails: ['newcomer@example.org'] });
    const again = await call(d, 'PUT', `/groups/${g.json.basic_group.id}/members.json`, { ...asAdmin(d), body: { usernames: 'list_member' } });
    expect(again.status).toBe(422);
    await call(d, 'POST', '/posts.json', { ...asAdmin(d), body: { title: 'New announcement for the list', raw: 'Please read this announcement.', category: cat } });
    expect(d.state.notifications.filter((n) => n.userId === memberId).map((n) => n.type)).toEqual(['posted']);
  });

  it('applies the opt-in per-IP limiter to anonymous requests only, as text/plain', async () => {
    const d = await start({ perIpLimits: { perMinute: 100, per10Seconds: 2 } });
    expect((await call(d, 'GET', '/categories.json')).status).toBe(200);
    expect((await call(d, 'GET', '/categories.json')).status).toBe(200);
    const limited = await call(d, 'GET', '/categories.json');
    expect(limited.status).toBe(429);
    expect(limited.headers.get('content-type')).toMatch(/^text\/plain/);
    expect(limited.headers.get('discourse-rate-limit-error-code')).toBe('ip_10_secs_limit');
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(limited.text).toMatch(/^Slow down, too many requests from this IP address/);
    expect((await call(d, 'GET', '/categories.json', asAdmin(d))).status).toBe(200);
  });

  it('injects faults deterministically, including ones that strike after the post was committed', async () => {
    const d = await start();
    d.setFault({ sequence: ['500', 'reset-after'], match: /^POST \/posts/ });
    const body = { title: 'Thread under a flaky network', raw: 'Body sent while faults are on.' };
    const failed = await call(d, 'POST', '/posts.json', { ...asAdmin(d), body });
    expect(failed.status).toBe(500);
    expect(d.state.topics.size).toBe(0);
    await expect(call(d, 'POST', '/posts.json', { ...asAdmin(d), body })).rejects.toThrow();
    expect([...d.state.topics.values()].map((t) => t.title)).toEqual(['Thread under a flaky network']);
    d.setFault(null);
    // The client's retry of the same request is answered from the memo, without a second topic.
    const retry = await call(d, 'POST', '/posts.json', { ...asAdmin(d), body });
    expect(retry.status).toBe(200);
    expect(d.state.topics.size).toBe(1);
    expect(d.state.serverErrors).toEqual([]);
  });
});
