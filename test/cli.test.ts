import { cpSync, mkdtempSync, readFileSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from './helpers/cli.js';
import { expected, SAMPLE_LISTS, SAMPLE_ROOT } from './helpers/sample.js';

const COMMANDS = ['inspect', 'migrate', 'status', 'verify'];

describe('command line', () => {
  it('prints usage, and help for every command', async () => {
    const top = await runCli(['--help']);
    expect(top.code).toBe(0);
    for (const c of COMMANDS) expect(top.stdout).toContain(c);
    for (const c of COMMANDS) {
      const r = await runCli([c, '--help']);
      expect(r.code, c).toBe(0);
      expect(r.stdout, c).toContain(`Usage: mm2migrate ${c}`);
    }
  });

  it('rejects unknown commands and options with exit 2 and one line', async () => {
    const r = await runCli(['frobnicate']);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    const o = await runCli(['inspect', '--bogus']);
    expect(o.code).toBe(2);
    expect(o.stderr).toMatch(/bogus/);
    expect(o.stderr).not.toMatch(/\n\s+at /);
  });
});

describe('inspect', () => {
  it('prints the JSON document other tools read', async () => {
    const r = await runCli(['inspect', '--source', SAMPLE_ROOT, '--json']);
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.stdout) as { lists: { name: string; displayName: string; hostName: string; archive: { policy: string; mboxMessages: number; pipermailArticles: number }; members: { email: string; delivery: string; deliveryStatus: string; moderated: boolean; displayName: string | null }[]; owners: string[]; moderators: string[]; articles: { number: number; period: string; messageId: string }[]; problems: unknown[] }[] };
    expect(doc.lists.map((l) => l.name)).toEqual([...SAMPLE_LISTS]);
    for (const l of doc.lists) {
      const exp = expected(l.name);
      expect(l.archive.policy).toBe(exp.list.public_archive ? 'public' : 'private');
      expect(l.members.map((m) => m.email).sort()).toEqual(exp.members.map((m) => m.address).sort());
      for (const m of l.members) {
        const e = exp.members.find((x) => x.address === m.email)!;
        expect(['regular', 'mime-digest', 'plain-digest']).toContain(m.delivery);
        expect(m.delivery !== 'regular').toBe(e.digest);
        const status = { ENABLED: 'enabled', BYUSER: 'by_user', BYADMIN: 'by_moderator', BYBOUNCE: 'by_bounces', UNKNOWN: 'unknown' }[e.delivery_status];
        expect(m.deliveryStatus).toBe(status);
      }
      const homes = exp.archive.articles.filter((a) => !exp.archive.stray_html_files.includes(`${a.period}/${a.filename}`));
      expect(l.archive.pipermailArticles).toBe(homes.length);
      for (const a of homes) {
        expect(l.articles.find((x) => x.number === a.number && x.period === a.period)?.messageId).toBe(a.message_id);
      }
      expect(l.archive.mboxMessages).toBeGreaterThan(0);
    }
  });

  it('prints a table by default', async () => {
    const r = await runCli(['inspect', '--source', SAMPLE_ROOT, '--list', 'devtalk']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^list\s+members\s+archive/);
    expect(r.stdout).toMatch(/devtalk\s+18\s+public\s+52/);
  });

  it('reports a broken list in one line and still reports the others', async () => {
    const root = mkdtempSync(path.join(tmpdir(), 'mm2m-broken-'));
    cpSync(SAMPLE_ROOT, root, { recursive: true });
    const pck = path.join(root, 'lists/liste-fr/config.pck');
    truncateSync(pck, Math.floor(readFileSync(pck).length / 2));
    writeFileSync(path.join(root, 'archives/private/nihongo.mbox/nihongo.mbox'), Buffer.from([0x00, 0xff, 0x13]));
    const r = await runCli(['inspect', '--source', root, '--json']);
    expect(r.code).toBe(1);
    const doc = JSON.parse(r.stdout) as { lists: { name: string; members: unknown[]; problems: { code: string; message: string }[] }[] };
    const fr = doc.lists.find((l) => l.name === 'liste-fr')!;
    expect(fr.problems.some((p) => p.code === 'config-unreadable' && p.message.includes(pck) && /truncated/i.test(p.message))).toBe(true);
    expect(doc.lists.find((l) => l.name === 'devtalk')!.members).toHaveLength(18);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    const missing = await runCli(['inspect', '--source', path.join(root, 'nope')]);
    expect(missing.code).toBe(1);
    expect(missing.stderr.trim()).toMatch(/^mm2migrate: .*nope\/lists: not a Mailman 2 installation/);
  });
});
