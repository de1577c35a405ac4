import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from './helpers/cli.js';
import { dumpDom } from './helpers/chromium.js';
import { expected, sampleConfig, SAMPLE_LISTS } from './helpers/sample.js';

/** Any connection to the configured target would land here: a dry-run must make none. */
let trap: Server;
let connections = 0;
let port = 0;

beforeAll(async () => {
  trap = createServer((s) => {
    connections++;
    s.destroy();
  });
  await new Promise<void>((r) => trap.listen(0, '127.0.0.1', r));
  port = (trap.address() as { port: number }).port;
});
afterAll(() => new Promise<void>((r) => trap.close(() => r())));

describe('dry-run of the sample installation', () => {
  it('writes the plan and the reports for every list without touching the network', async () => {
    const cfg = await sampleConfig({
      rest: { url: `http://127.0.0.1:${port}`, user: 'restadmin', passwordEnv: 'MM2M_TEST_NOT_SET' },
      hyperkitty: { url: `http://127.0.0.1:${port}/hyperkitty/`, archiverKeyEnv: 'MM2M_TEST_NOT_SET' },
    } as never);
    const file = path.join(path.dirname(cfg.state), 'config.json');
    writeFileSync(file, JSON.stringify({ source: cfg.source, target: cfg.target, archive: cfg.archive, state: cfg.state, reports: cfg.reports }));
    const r = await runCli(['migrate', '--config', file, '--all', '--dry-run']);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(path.join(cfg.reports, 'index.html'));
    expect(connections).toBe(0);

    const run = JSON.parse(readFileSync(path.join(cfg.reports, 'run.json'), 'utf8')) as { lists: { list: string; status: string }[]; dryRun: boolean };
    expect(run.dryRun).toBe(true);
    expect(run.lists.map((l) => l.list)).toEqual([...SAMPLE_LISTS]);
    for (const list of SAMPLE_LISTS) {
      const exp = expected(list);
      const dir = path.join(cfg.reports, list);
      const plan = JSON.parse(readFileSync(path.join(dir, 'plan.json'), 'utf8')) as {
        members: { email: string; delivery: string }[];
        settings: { key: string; value: unknown }[];
        notCarried: { key: string; reason: string }[];
        archive: { toReplay: number; orderFile: string; duplicates: unknown[] };
        estimate: { seconds: number };
      };
      expect(plan.members.map((m) => m.email).sort()).toEqual(exp.members.map((m) => m.address).sort());
      expect(plan.settings.find((s) => s.key === 'archive_policy')?.value).toBe(exp.list.public_archive ? 'public' : 'private');
      expect(plan.notCarried.some((n) => n.key === 'passwords')).toBe(true);
      // The replay order lists every message once, parents before their children.
      const order = readFileSync(path.join(dir, plan.archive.orderFile), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { ordinal: number; parent: number | null; messageId: string });
      expect(order).toHaveLength(plan.archive.toReplay);
      const seen = new Set<number>();
      for (const m of order) {
        if (m.parent !== null) expect(seen.has(m.parent), `${list}: parent of ${m.ordinal} comes first`).toBe(true);
        seen.add(m.ordinal);
      }
      expect(new Set(order.map((m) => m.messageId)).size).toBe(order.length);
      // Reports: JSON and HTML, owner-only.
      const report = JSON.parse(readFileSync(path.join(dir, 'report.json'), 'utf8')) as { dryRun: boolean; counts: { members: number } };
      expect(report.dryRun).toBe(true);
      expect(report.counts.members).toBe(exp.members.length);
      expect(statSync(path.join(dir, 'report.json')).mode & 0o077).toBe(0);
      expect(statSync(dir).mode & 0o077).toBe(0);
      // No member password from config.pck reaches any output.
      const passwords = (JSON.parse(readFileSync(path.join(path.dirname(new URL(import.meta.url).pathname), '../fixtures/expected', `${list}.json`), 'utf8')) as { members: { password: string | null }[] }).members
        .map((m) => m.password)
        .filter((p): p is string => !!p && p.length >= 6);
      for (const f of ['plan.json', 'report.json', 'report.html']) {
        const text = readFileSync(path.join(dir, f), 'utf8');
        for (const p of passwords) expect(text.includes(p), `${list}/${f} leaks a password`).toBe(false);
      }
    }
    expect(existsSync(path.join(cfg.reports, 'index.html'))).toBe(true);
    const dom = await dumpDom(path.join(cfg.reports, 'devtalk', 'report.html'));
    expect(dom).toContain('Dry run: nothing was changed on the target');
    const state = readFileSync(cfg.state);
    for (const list of SAMPLE_LISTS) {
      for (const m of (JSON.parse(readFileSync(path.join(path.dirname(new URL(import.meta.url).pathname), '../fixtures/expected', `${list}.json`), 'utf8')) as { members: { password: string | null }[] }).members) {
        if (m.password && m.password.length >= 6) expect(state.includes(Buffer.from(m.password)), `state holds a password of ${list}`).toBe(false);
      }
    }
  });

  it('running it again changes nothing and reports the same plan', async () => {
    const cfg = await sampleConfig();
    const file = path.join(path.dirname(cfg.state), 'config.json');
    writeFileSync(file, JSON.stringify({ source: cfg.source, target: cfg.target, archive: cfg.archive, state: cfg.state, reports: cfg.reports }));
    const first = await runCli(['migrate', '--config', file, '--list', 'devtalk', '--dry-run', '--json']);
    expect(first.code, first.stderr).toBe(0);
    const plan1 = readFileSync(path.join(cfg.reports, 'devtalk/plan-messages.jsonl'), 'utf8');
    const second = await runCli(['migrate', '--config', file, '--list', 'devtalk', '--dry-run', '--json']);
    expect(second.code).toBe(0);
    expect(readFileSync(path.join(cfg.reports, 'devtalk/plan-messages.jsonl'), 'utf8')).toBe(plan1);
    const status = await runCli(['status', '--config', file, '--json']);
    const s = JSON.parse(status.stdout) as { lists: { name: string; phase: string; messages: number }[] };
    expect(s.lists).toEqual([expect.objectContaining({ name: 'devtalk', phase: 'plan', messages: 52 })]);
  });
});
