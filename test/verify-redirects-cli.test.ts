import { writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from './helpers/cli.js';
import { sampleConfig } from './helpers/sample.js';

// A stand-in for the new archive's web server: answers 200 except for one month view.
let server: Server;
let port = 0;
const seen: string[] = [];
beforeAll(async () => {
  server = createServer((req, res) => {
    seen.push(req.url ?? '');
    res.statusCode = /\/2019\/12\/$/.test(req.url ?? '') ? 404 : 200;
    res.end('ok');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as { port: number }).port;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

describe('verify --redirects', () => {
  it('follows every redirect target and names the ones that do not answer 200', async () => {
    const cfg = await sampleConfig();
    const file = path.join(path.dirname(cfg.state), 'config.json');
    writeFileSync(file, JSON.stringify({ source: cfg.source, target: cfg.target, archive: cfg.archive, state: cfg.state, reports: cfg.reports }));
    const dry = await runCli(['migrate', '--config', file, '--list', 'devtalk', '--list', 'liste-fr', '--dry-run', '--quiet']);
    expect(dry.code, dry.stderr).toBe(0);
    const r = await runCli(['verify', '--config', file, '--list', 'devtalk', '--list', 'liste-fr', '--redirects', '--base-url', `http://127.0.0.1:${port}`, '--json']);
    expect(r.code, r.stderr).toBe(1);
    const doc = JSON.parse(r.stdout) as { ok: boolean; lists: { list: string; checked: number; ok: number; skipped?: string; failed: { oldUrl: string; status: number }[] }[] };
    const devtalk = doc.lists.find((l) => l.list === 'devtalk')!;
    expect(devtalk.checked).toBeGreaterThan(52);
    expect(devtalk.failed.length).toBeGreaterThan(0);
    expect(devtalk.failed.every((f) => f.status === 404 && f.oldUrl.includes('2019-December'))).toBe(true);
    expect(devtalk.ok).toBe(devtalk.checked - devtalk.failed.length);
    expect(doc.lists.find((l) => l.list === 'liste-fr')!.skipped).toMatch(/private/);
    expect(seen.some((u) => /\/hyperkitty\/list\/devtalk@lists\.example\.org\/message\/[A-Z2-7]{32}\/$/.test(u))).toBe(true);
  });
});
