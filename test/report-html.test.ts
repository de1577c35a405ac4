import { existsSync } from 'node:fs';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { escapeHtml, renderListReport } from '../src/reports/html.js';
import type { ListReport } from '../src/reports/model.js';
import { dumpDom, screenshot } from './helpers/chromium.js';

const hostile = `<img src=x onerror="document.title='pwned'"><script>document.title='pwned'</script>`;

function report(overrides: Partial<ListReport> = {}): ListReport {
  return {
    list: 'devtalk',
    displayName: `DevTalk ${hostile}`,
    target: 'mailman3',
    dryRun: false,
    generatedAt: '2026-11-22T00:00:00.000Z',
    phase: 'verify',
    status: 'done',
    error: null,
    archivePolicy: 'public',
    counts: {
      owners: 1, moderators: 1, members: 12, digestMembers: 2, disabledMembers: 3, messages: 52, replayable: 51, threads: 20,
      duplicatesSameContent: 0, duplicatesNewId: 1, syntheticIds: 1, repairedDates: 4, quarantined: 0, articles: 52,
      articlesFromHtml: 51, articlesByMboxOrder: 1, articlesUnmatched: 0, applied: { archive: { done: 51, pending: 0, failed: 0, skipped: 0 } },
    },
    settings: [{ key: 'subject_prefix', value: `[DevTalk] ${hostile}`, from: ['subject_prefix'] }],
    notCarried: [{ key: 'topics', value: [['t', '^x']], reason: 'Mailman 3 has no topics' }],
    estimate: { requests: 100, seconds: 30, basis: 'test' },
    details: {},
    monthly: [
      { month: '2019-11', source: 17, target: 17 },
      { month: '2019-12', source: 21, target: 20 },
    ],
    problems: [{ severity: 'warning', code: 'subject', message: `Subject ${hostile}` }],
    verify: { ok: true, checks: [{ name: 'members', ok: true, expected: 12, actual: 12 }] },
    ...overrides,
  };
}

describe('HTML report', () => {
  it('escapes every value', () => {
    expect(escapeHtml(`<a href="x" onclick='y'>&`)).toBe('&lt;a href=&quot;x&quot; onclick=&#39;y&#39;&gt;&amp;');
    const html = renderListReport(report());
    expect(html).not.toContain('<script>document');
    expect(html).not.toContain('<img src=x');
    expect(html).toContain('&lt;img src=x onerror=');
  });

  it('is self-contained (no external resource)', () => {
    const html = renderListReport(report());
    expect(html).not.toMatch(/\b(src|href)=["']?(https?:)?\/\//i);
    expect(html).toMatch(/Content-Security-Policy/);
  });

  it('renders in headless Chromium with the verdict, chart and markup shown as text', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'mm2m-report-'));
    const file = path.join(dir, 'report.html');
    await writeFile(file, renderListReport(report()));
    const dom = await dumpDom(file);
    expect(dom).toContain('id="verdict"');
    expect(dom).toContain('Migrated completely and verified');
    expect(dom).toContain('<svg');
    expect(dom).toContain('2019-12 target: 20');
    // The hostile subject arrives as text: no element was created from it and nothing ran.
    expect(dom).toContain('Subject &lt;img src=x onerror=');
    expect(dom).not.toMatch(/<title>pwned<\/title>/);
    expect(dom.match(/<img\b/g)).toBeNull();
    const png = path.join(dir, 'report.png');
    await screenshot(file, png);
    expect(existsSync(png)).toBe(true);
  });

  it('shows a failed list as failed', async () => {
    const html = renderListReport(report({ status: 'failed', error: 'HTTP 500 from REST', verify: null, phase: 'roster' }));
    expect(html).toContain('Failed in phase roster: HTTP 500 from REST');
  });
});
