import type { ListReport, RunReport } from './model.js';

/** Every value that reaches the page passes through here: subjects and names come from strangers. */
export function escapeHtml(value: unknown): string {
  return String(value ?? '')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

const STYLE = `
body{font:14px/1.45 system-ui,sans-serif;margin:2rem auto;max-width:72rem;padding:0 1rem;color:#1d232a}
h1{font-size:1.6rem;margin:0 0 .2rem}h2{font-size:1.15rem;margin:2rem 0 .6rem;border-bottom:1px solid #dde}
.verdict{display:inline-block;padding:.35rem .8rem;border-radius:.4rem;font-weight:600;margin:.6rem 0}
.ok{background:#dff5e1;color:#14571e}.warn{background:#fff3cd;color:#6b4e00}.bad{background:#fbe0e0;color:#8a1010}
table{border-collapse:collapse;width:100%;margin:.4rem 0}th,td{text-align:left;padding:.3rem .5rem;border-bottom:1px solid #eef;vertical-align:top}
th{background:#f5f6fa;font-weight:600}td.n{text-align:right;font-variant-numeric:tabular-nums}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(11rem,1fr));gap:.6rem}
.card{border:1px solid #e3e6ef;border-radius:.5rem;padding:.6rem .8rem}.card b{display:block;font-size:1.4rem}
code{background:#f3f3f7;padding:0 .2rem;border-radius:.2rem;word-break:break-all}
.legend span{display:inline-block;width:.8rem;height:.8rem;margin:0 .3rem 0 1rem;vertical-align:middle}
`;

function page(title: string, body: string): string {
  // No external resource of any kind: the page must open from a file on an offline machine.
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<meta name="viewport" content="width=device-width,initial-scale=1">
<title>${escapeHtml(title)}</title><style>${STYLE}</style></head>
<body>${body}</body></html>
`;
}

/** Whether a list migrated completely, in one word a person can act on. */
export function verdict(r: ListReport): { cls: 'ok' | 'warn' | 'bad'; text: string } {
  if (r.status === 'failed') return { cls: 'bad', text: `Failed in phase ${r.phase}: ${r.error ?? 'unknown error'}` };
  if (r.verify && !r.verify.ok) return { cls: 'bad', text: 'Verification found differences' };
  const errors = r.problems.filter((p) => p.severity === 'error').length + r.counts.quarantined;
  if (r.dryRun) return { cls: errors ? 'warn' : 'ok', text: `Dry run: nothing was changed on the target${errors ? ` — ${errors} problem(s) to look at` : ''}` };
  if (r.verify?.ok) return { cls: errors ? 'warn' : 'ok', text: errors ? `Migrated and verified, ${errors} problem(s) to look at` : 'Migrated completely and verified' };
  return { cls: 'warn', text: `Not verified yet (last phase: ${r.phase})` };
}

function chart(monthly: ListReport['monthly']): string {
  if (!monthly.length) return '<p>No archived messages.</p>';
  const w = 900;
  const h = 220;
  const pad = 30;
  const max = Math.max(1, ...monthly.map((m) => Math.max(m.source, m.target ?? 0)));
  const slot = (w - pad * 2) / monthly.length;
  const bw = Math.min(28, Math.max(1, slot / 2 - 1));
  const y = (v: number): number => h - pad - ((h - pad * 2) * v) / max;
  const bars = monthly
    .map((m, i) => {
      const x = pad + i * slot;
      const src = `<rect x="${x.toFixed(1)}" y="${y(m.source).toFixed(1)}" width="${bw.toFixed(1)}" height="${(h - pad - y(m.source)).toFixed(1)}" fill="#4c6ef5"><title>${escapeHtml(m.month)} source: ${m.source}</title></rect>`;
      const tgt =
        m.target === null
          ? ''
          : `<rect x="${(x + bw + 1).toFixed(1)}" y="${y(m.target).toFixed(1)}" width="${bw.toFixed(1)}" height="${(h - pad - y(m.target)).toFixed(1)}" fill="${m.target === m.source ? '#2f9e44' : '#e03131'}"><title>${escapeHtml(m.month)} target: ${m.target}</title></rect>`;
      const label = monthly.length <= 24 || i % Math.ceil(monthly.length / 24) === 0
        ? `<text x="${(x + bw).toFixed(1)}" y="${h - pad + 14}" font-size="10" text-anchor="middle">${escapeHtml(m.month)}</text>`
        : '';
      return src + tgt + label;
    })
    .join('');
  return `<svg role="img" aria-label="Messages per month, source and target" viewBox="0 0 ${w} ${h}" width="100%" height="${h}">
<line x1="${pad}" y1="${h - pad}" x2="${w - pad}" y2="${h - pad}" stroke="#999"/>
<text x="${pad}" y="${pad - 8}" font-size="11">max ${max} per month</text>${bars}</svg>
<div class="legend"><span style="background:#4c6ef5"></span>source (mbox)${
    monthly.some((m) => m.target !== null)
      ? '<span style="background:#2f9e44"></span>target, same count<span style="background:#e03131"></span>target, different count'
      : ' (the target is counted by mm2migrate verify)'
  }</div>`;
}

function table(head: string[], rows: unknown[][], numeric: number[] = []): string {
  if (!rows.length) return '<p>None.</p>';
  return `<table><thead><tr>${head.map((h) => `<th>${escapeHtml(h)}</th>`).join('')}</tr></thead><tbody>${rows
    .map((r) => `<tr>${r.map((c, i) => `<td${numeric.includes(i) ? ' class="n"' : ''}>${escapeHtml(typeof c === 'string' ? c : JSON.stringify(c))}</td>`).join('')}</tr>`)
    .join('')}</tbody></table>`;
}

export function renderListReport(r: ListReport): string {
  const v = verdict(r);
  const c = r.counts;
  const cards: [string, number][] = [
    ['members', c.members],
    ['owners', c.owners],
    ['moderators', c.moderators],
    ['archived messages', c.messages],
    ['to replay', c.replayable],
    ['threads', c.threads],
    ['pipermail articles', c.articles],
    ['problems', r.problems.length],
  ];
  const applied = Object.entries(c.applied).map(([phase, s]) => [phase, s.done ?? 0, s.pending ?? 0, s.failed ?? 0, s.skipped ?? 0]);
  const body = `
<h1>${escapeHtml(r.displayName)} <small>(${escapeHtml(r.list)})</small></h1>
<div>Target: ${escapeHtml(r.target)} · archive ${escapeHtml(r.archivePolicy)} · report of ${escapeHtml(r.generatedAt)}</div>
<div class="verdict ${v.cls}" id="verdict">${escapeHtml(v.text)}</div>
<div class="grid">${cards.map(([k, n]) => `<div class="card"><b>${n}</b>${escapeHtml(k)}</div>`).join('')}</div>
<h2>Messages per month</h2>${chart(r.monthly)}
<h2>Archive details</h2>${table(
    ['what', 'count'],
    [
      ['duplicate copies (same content, replayed once)', c.duplicatesSameContent],
      ['different messages sharing a Message-ID (given a new id)', c.duplicatesNewId],
      ['messages without Message-ID (deterministic id given)', c.syntheticIds],
      ['dates repaired from fallbacks', c.repairedDates],
      ['quarantined (kept in the reports folder)', c.quarantined],
      ['articles mapped by their page\u2019s Message-ID', c.articlesFromHtml],
      ['articles mapped by mbox order (lower confidence)', c.articlesByMboxOrder],
      ['articles without a message', c.articlesUnmatched],
    ],
    [1],
  )}
${applied.length ? `<h2>Applied to the target</h2>${table(['phase', 'done', 'pending', 'failed', 'skipped'], applied, [1, 2, 3, 4])}` : ''}
${r.estimate ? `<h2>Estimate</h2><p>${r.estimate.requests} requests, about ${formatDuration(r.estimate.seconds)} (${escapeHtml(r.estimate.basis)})</p>` : ''}
${r.verify ? `<h2>Verification</h2>${table(['check', 'ok', 'expected', 'actual'], r.verify.checks.map((k) => [k.name, k.ok ? 'yes' : 'NO', k.expected, k.actual]))}` : ''}
<h2>Settings carried over</h2>${table(['setting', 'value', 'from'], r.settings.map((s) => [s.key, s.value, (s.from ?? []).join(', ')]))}
<h2>Not carried over</h2>${table(['setting', 'original value', 'reason'], r.notCarried.map((s) => [s.key, s.value, s.reason]))}
<h2>Problems</h2>${table(['severity', 'code', 'message'], r.problems.map((p) => [p.severity, p.code, p.message]))}
`;
  return page(`mm2migrate: ${r.list}`, body);
}

export function renderRunReport(r: RunReport): string {
  const failed = r.totals.failed;
  const body = `
<h1>mm2migrate run</h1>
<div>${r.dryRun ? 'Dry run' : 'Migration'} to ${escapeHtml(r.target)} · ${escapeHtml(r.generatedAt)} · ${formatDuration(r.durationSeconds)}</div>
<div class="verdict ${failed ? 'bad' : 'ok'}" id="verdict">${failed ? `${failed} of ${r.totals.lists} list(s) failed` : `All ${r.totals.lists} list(s) ${r.dryRun ? 'planned' : 'done'}`}</div>
<div class="grid"><div class="card"><b>${r.totals.lists}</b>lists</div><div class="card"><b>${r.totals.members}</b>members</div><div class="card"><b>${r.totals.messages}</b>messages</div></div>
<h2>Lists</h2><table><thead><tr><th>list</th><th>status</th><th>phase</th><th>members</th><th>messages</th><th>problems</th><th>error</th></tr></thead><tbody>
${r.lists
  .map(
    (l) =>
      `<tr><td><a href="${escapeHtml(l.report)}">${escapeHtml(l.list)}</a></td><td>${escapeHtml(l.status)}</td><td>${escapeHtml(l.phase)}</td><td class="n">${l.members}</td><td class="n">${l.messages}</td><td class="n">${l.problems}</td><td>${escapeHtml(l.error ?? '')}</td></tr>`,
  )
  .join('\n')}
</tbody></table>`;
  return page('mm2migrate run', body);
}

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return 'unknown';
  if (seconds < 90) return `${Math.round(seconds)} s`;
  if (seconds < 5400) return `${Math.round(seconds / 60)} min`;
  if (seconds < 172800) return `${(seconds / 3600).toFixed(1)} h`;
  return `${(seconds / 86400).toFixed(1)} days`;
}
