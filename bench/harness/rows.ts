/** Turns the raw records into table rows and goal verdicts (the issue's goals, checked honestly). */
import type { MeasurementRecord } from './measurements.js';
import type { MeasurementId, Sizes } from './plan.js';
import { int, mb, perSecond, rate, type Row } from './table.js';

export interface GoalVerdict {
  goal: string;
  value: number | null;
  unit: string;
  met: boolean | null;
  note?: string;
}

type Records = Map<MeasurementId, MeasurementRecord>;

const num = (r: MeasurementRecord | undefined, key: string): number | null => {
  const v = r?.figures[key];
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
};
const ok = (r: MeasurementRecord | undefined): r is MeasurementRecord & { status: 'ok' } => r?.status === 'ok';
const verdict = (met: boolean): string => (met ? 'MET' : 'NOT MET');
const label = (bytes: number): string => (bytes >= 1e9 ? `${bytes / 1e9} GB` : `${bytes / 1e6} MB`);

function notMeasured(r: MeasurementRecord, measurement: string, goal: string): Row {
  const what = `${r.status.toUpperCase()}: ${r.note ?? ''}`.trim();
  const p = r.partial;
  const partial =
    p && typeof p.loopSeconds === 'number'
      ? ` (read loop had finished after ${p.loopSeconds.toFixed(1)} s${typeof p.peakRssBytes === 'number' ? `, peak RSS then ${mb(p.peakRssBytes)}` : ''})`
      : '';
  return { measurement, figure: `${what}${partial}`, goal, verdict: 'not measured' };
}

export function buildRows(rec: Records, sizes: Sizes, quick: boolean): { rows: Row[]; goals: Record<string, GoalVerdict> } {
  const rows: Row[] = [];
  const goals: Record<string, GoalVerdict> = {};
  const small = label(sizes.small);
  const large = label(sizes.large);

  const raw = rec.get('raw-read');
  const rawMBs = ok(raw) ? num(raw, 'bytes')! / 1e6 / num(raw, 'seconds')! : null;
  if (ok(raw)) {
    rows.push({ measurement: `raw read, ${small} (I/O limit)`, figure: rate(num(raw, 'bytes')!, num(raw, 'seconds')!), goal: '—', verdict: 'ceiling for every reader' });
  } else if (raw) rows.push(notMeasured(raw, `raw read, ${small}`, '—'));

  const py = rec.get('python');
  const pyMBs = ok(py) ? num(py, 'bytes')! / 1e6 / num(py, 'seconds')! : null;
  if (ok(py)) {
    rows.push({
      measurement: `Python stdlib mailbox+email, ${small}`,
      figure: `${rate(num(py, 'bytes')!, num(py, 'seconds')!)}, ${perSecond(num(py, 'messages')!, num(py, 'seconds')!)}, RSS ${mb(num(py, 'peakRssBytes')!)}`,
      goal: 'baseline',
      verdict: rawMBs ? `${((pyMBs! / rawMBs) * 100).toFixed(1)} % of raw read` : '—',
    });
  } else if (py) rows.push(notMeasured(py, `Python stdlib baseline, ${small}`, 'baseline'));

  const rd = rec.get('reader');
  if (ok(rd)) {
    const mbs = num(rd, 'bytes')! / 1e6 / num(rd, 'seconds')!;
    rows.push({
      measurement: `readMbox alone (split + headers), ${small}`,
      figure: `${rate(num(rd, 'bytes')!, num(rd, 'seconds')!)}, ${perSecond(num(rd, 'messages')!, num(rd, 'seconds')!)}`,
      goal: '—',
      verdict: [pyMBs ? `${(mbs / pyMBs).toFixed(1)}× Python` : null, rawMBs ? `${((mbs / rawMBs) * 100).toFixed(1)} % of raw` : null].filter(Boolean).join(', ') || '—',
    });
  } else if (rd) rows.push(notMeasured(rd, `readMbox alone, ${small}`, '—'));

  const ix = rec.get('index');
  const indexGoal = '≥ 5× Python (aim 10×)';
  if (ok(ix)) {
    const s = num(ix, 'seconds')!;
    const loop = num(ix, 'loopSeconds') ?? s;
    const mbs = num(ix, 'bytes')! / 1e6 / s;
    const ratio = pyMBs ? mbs / pyMBs : null;
    rows.push({
      measurement: `index → SQLite, ${small}`,
      figure: `${rate(num(ix, 'bytes')!, s)}, ${perSecond(num(ix, 'messages')!, s)} (read loop ${loop.toFixed(1)} s + after loop ${(s - loop).toFixed(1)} s)`,
      goal: indexGoal,
      verdict: ratio === null ? 'no Python figure' : `${ratio.toFixed(2)}× Python: ${verdict(ratio >= 5)}${ratio >= 10 ? ' (aim reached)' : ''}`,
    });
    goals.indexVsPython = { goal: indexGoal, value: ratio, unit: '× Python', met: ratio === null ? null : ratio >= 5 };
  } else if (ix?.status === 'timeout' && ix.wallSeconds && typeof ix.partial?.bytes === 'number') {
    // Stopped at the time limit: the throughput is at most what the limit allows.
    const bytes = ix.partial.bytes;
    const bound = bytes / 1e6 / ix.wallSeconds;
    const ratio = pyMBs ? bound / pyMBs : null;
    const loop = typeof ix.partial.loopSeconds === 'number' ? ix.partial.loopSeconds : null;
    rows.push({
      measurement: `index → SQLite, ${small}`,
      figure: `< ${bound.toFixed(1)} MB/s: stopped at the ${ix.wallSeconds.toFixed(0)} s limit${loop === null ? '' : `; the read loop had finished after ${loop.toFixed(1)} s (${rate(bytes, loop)})`}`,
      goal: indexGoal,
      verdict: ratio === null ? 'NOT MET' : `< ${ratio.toFixed(2)}× Python: NOT MET`,
    });
    goals.indexVsPython = { goal: indexGoal, value: ratio, unit: '× Python (upper bound)', met: false, note: ix.note };
  } else {
    if (ix) rows.push(notMeasured(ix, `index → SQLite, ${small}`, indexGoal));
    goals.indexVsPython = { goal: indexGoal, value: null, unit: '× Python', met: ix ? false : null, note: ix?.note };
  }

  const rssGoal = '< 300 MB';
  const ixl = rec.get('index-large');
  const rssSmall = num(ix, 'peakRssBytes') ?? (ix?.partial ? (ix.partial.peakRssBytes as number) : null);
  if (ok(ix)) {
    rows.push({ measurement: `peak RSS, index ${small}`, figure: mb(rssSmall!), goal: rssGoal, verdict: verdict(rssSmall! < 300e6) });
  } else if (ix && rssSmall !== null) {
    rows.push({ measurement: `peak RSS, index ${small}`, figure: `${mb(rssSmall)} up to the end of the read loop (run ${ix.status})`, goal: rssGoal, verdict: rssSmall < 300e6 ? 'so far under' : 'NOT MET' });
  }
  if (ok(ixl)) {
    const rssLarge = num(ixl, 'peakRssBytes')!;
    const s = num(ixl, 'seconds')!;
    const growth = rssSmall ? rssLarge / rssSmall : null;
    rows.push({
      measurement: `peak RSS, index ${large}`,
      figure: `${mb(rssLarge)} (${rate(num(ixl, 'bytes')!, s)}, ${s.toFixed(0)} s)`,
      goal: `${rssGoal}, flat vs ${small}`,
      verdict: `${growth ? `${growth.toFixed(2)}× the ${small} figure: ` : ''}${verdict(rssLarge < 300e6 && (growth === null || growth < 1.25))}`,
    });
    goals.peakRss = { goal: `${rssGoal} for any size; does not grow with the archive`, value: Math.max(rssLarge, rssSmall ?? 0), unit: 'bytes', met: rssLarge < 300e6 && (rssSmall ?? 0) < 300e6 && (growth === null || growth < 1.25) };
  } else {
    if (ixl) rows.push(notMeasured(ixl, `peak RSS, index ${large}`, `${rssGoal}, flat vs ${small}`));
    goals.peakRss = { goal: `${rssGoal} for any size`, value: rssSmall, unit: 'bytes', met: rssSmall === null ? null : rssSmall < 300e6 ? null : false, note: `${large} not measured` };
  }

  const dr = rec.get('dry-run');
  const dryGoal = `< 60 s for 500 lists`;
  if (ok(dr)) {
    const s = num(dr, 'seconds')!;
    const lists = num(dr, 'lists')!;
    const totals = (dr.figures.totals ?? {}) as { failed?: number; messages?: number; lists?: number };
    const warm = num(dr, 'warmSeconds');
    const scaled = (s * 500) / lists;
    rows.push({
      measurement: `dry-run, ${lists} generated lists`,
      figure: `${s.toFixed(1)} s (${int(totals.messages ?? 0)} msgs, ${totals.failed ?? '?'} lists failed; re-run ${warm === null ? '?' : `${warm.toFixed(1)} s`}; RSS ${num(dr, 'peakRssBytes') ? mb(num(dr, 'peakRssBytes')!) : '?'})`,
      goal: dryGoal,
      verdict: lists === 500 ? verdict(s < 60) : `≈ ${scaled.toFixed(0)} s scaled to 500 lists (quick run)`,
    });
    goals.dryRun500 = { goal: dryGoal, value: lists === 500 ? s : scaled, unit: 's', met: lists === 500 ? s < 60 : null, note: lists === 500 ? undefined : `measured ${lists} lists; value scaled linearly` };
  } else {
    if (dr) rows.push(notMeasured(dr, 'dry-run', dryGoal));
    goals.dryRun500 = { goal: dryGoal, value: null, unit: 's', met: null, note: dr?.note };
  }

  const re = rec.get('redirects');
  const redirectGoal = '< 20 s for 1,000,000';
  if (ok(re)) {
    const s = num(re, 'seconds')!;
    const n = num(re, 'articles')!;
    rows.push({
      measurement: `redirects, ${int(n)} articles`,
      figure: `${s.toFixed(1)} s (build ${num(re, 'buildSeconds')!.toFixed(1)} + nginx ${num(re, 'nginxSeconds')!.toFixed(1)} + write ${num(re, 'writeSeconds')!.toFixed(1)}; ${int(num(re, 'entries')!)} entries, ${mb(num(re, 'mapBytes')!)}, RSS ${mb(num(re, 'peakRssBytes')!)})`,
      goal: redirectGoal,
      verdict: n >= 1e6 ? verdict(s < 20) : 'fewer than 1,000,000 articles',
    });
    goals.redirects1M = { goal: redirectGoal, value: s, unit: 's', met: n >= 1e6 ? s < 20 : null };
  } else {
    if (re) rows.push(notMeasured(re, 'redirects, 1,000,000 articles', redirectGoal));
    goals.redirects1M = { goal: redirectGoal, value: null, unit: 's', met: re ? false : null, note: re?.note };
  }

  const ri = rec.get('replay-instant');
  const budgetPerS = (sizes.rate.limit * 1000) / sizes.rate.windowMs;
  if (ok(ri)) {
    const s = num(ri, 'seconds')!;
    const n = num(ri, 'messages')!;
    rows.push({
      measurement: 'replay into an instant local target',
      figure: `${perSecond(n, s)}, ${rate(num(ri, 'bytes')!, s)} (${int(n)} msgs in ${s.toFixed(1)} s, Mailman 3 HTTP replay, ${num(ri, 'concurrency')} in flight)`,
      goal: 'tool never the bottleneck',
      verdict: `${(n / s / budgetPerS).toFixed(0)}× a ${sizes.rate.limit * (60_000 / sizes.rate.windowMs)}/min budget`,
    });
  } else if (ri) rows.push(notMeasured(ri, 'replay into an instant local target', 'tool never the bottleneck'));

  const rl = rec.get('replay-rate-limited');
  const rateGoal = '≥ 95 % of budget, zero 429';
  const windowLabel = `${sizes.rate.limit} per ${sizes.rate.windowMs / 1000} s`;
  if (ok(rl)) {
    const share = num(rl, 'share')!;
    const tooMany = num(rl, 'tooMany')!;
    rows.push({
      measurement: `replay vs ${windowLabel} limit, ${sizes.rate.seconds} s`,
      figure: `${(share * 100).toFixed(1)} % of budget (${int(num(rl, 'acceptedInTime')!)}/${int(num(rl, 'budget')!)}), ${tooMany} × 429, ${num(rl, 'failed')} failed (Discourse client)`,
      goal: rateGoal,
      verdict: verdict(share >= 0.95 && tooMany === 0),
    });
    goals.rateBudget = { goal: rateGoal, value: share, unit: 'share', met: share >= 0.95 && tooMany === 0, note: `${tooMany} × 429` };
  } else {
    if (rl) rows.push(notMeasured(rl, `replay vs ${windowLabel} limit`, rateGoal));
    goals.rateBudget = { goal: rateGoal, value: null, unit: 'share', met: rl ? false : null, note: rl?.note };
  }

  const ob = rec.get('replay-over-budget');
  if (ok(ob)) {
    const share = num(ob, 'share')!;
    const failed = num(ob, 'failed') ?? 0;
    rows.push({
      measurement: `replay, client told 2× the limit (${sizes.rate.seconds} s)`,
      figure: `${(share * 100).toFixed(1)} % of budget, ${num(ob, 'tooMany')} × 429 (expected), ${failed} messages lost`,
      goal: 'backs off on Retry-After, loses nothing',
      verdict: failed === 0 ? 'OK' : 'MESSAGES LOST',
    });
  } else if (ob) rows.push(notMeasured(ob, 'replay, client told 2× the limit', 'backs off, loses nothing'));

  mailman3Rows(rec.get('mailman3'), rows, goals);

  if (quick) {
    for (const g of Object.values(goals)) g.note = [g.note, 'quick run: smaller inputs than the goals name'].filter(Boolean).join('; ');
  }
  return { rows, goals };
}

/** The Mailman 3 archive paths against the real stack (bench/measure/mailman3.ts). */
function mailman3Rows(r: MeasurementRecord | undefined, rows: Row[], goals: Record<string, GoalVerdict>): void {
  const httpGoal = '≥ 90 % of the best observed';
  const serverGoal = '≥ 1.0× hyperkitty_import (+ its index update), keeps ≥ it';
  if (!ok(r)) {
    if (r) rows.push(notMeasured(r, 'Mailman 3 archive paths (real stack)', `${httpGoal}; ${serverGoal}`));
    const note = r?.note;
    goals.mailman3Http = { goal: `HTTP replay ${httpGoal} of what HyperKitty absorbs`, value: null, unit: 'share', met: r?.status === 'skipped' || !r ? null : false, note };
    goals.mailman3Server = { goal: `server-side path ${serverGoal}`, value: null, unit: '× hyperkitty_import', met: r?.status === 'skipped' || !r ? null : false, note };
    return;
  }
  const f = r.figures as {
    generated: number; replayable: number; levelSeconds: number; defaultConcurrency: number | 'auto';
    http: { concurrency: number; perSecond: number; accepted: number; refused: number; archived: number; stopped: boolean }[];
    httpAuto?: { perSecond: number; settled: number; shareOfBestFixed: number; refused: number; accepted: number; archived: number };
    official: { seconds: number; kept: number; perSecond: number; indexSeconds: number; totalSeconds?: number };
    server: { seconds: number; kept: number; perSecond: number; missing: number };
    comparison?: { ratio: number; ratioToImportAlone: number };
    rounds?: number;
    plan: { recommended: 'http' | 'server'; httpSeconds: number; serverSeconds: number };
  };
  const best = f.http.reduce((a, b) => (b.perSecond > a.perSecond ? b : a));
  const fixed = f.http.find((h) => h.concurrency === f.defaultConcurrency);
  const auto = f.defaultConcurrency === 'auto' ? f.httpAuto : undefined;
  const chosen = auto ? { label: `auto (the default; settled at ${auto.settled})`, perSecond: auto.perSecond } : { label: `${(fixed ?? best).concurrency} (the default)`, perSecond: (fixed ?? best).perSecond };
  const share = chosen.perSecond / best.perSecond;
  const lost = [...f.http, ...(f.httpAuto ? [f.httpAuto] : [])].reduce((n, h) => n + h.refused + Math.max(0, h.accepted - h.archived), 0);
  rows.push({
    measurement: `Mailman 3 HTTP replay by concurrency (${f.levelSeconds} s each)`,
    figure: `${f.http.map((h) => `${h.concurrency}: ${h.perSecond.toFixed(1)}`).join(', ')}${f.httpAuto ? `, auto: ${f.httpAuto.perSecond.toFixed(1)}` : ''} msg/s (${lost} refused or not archived)`,
    goal: '—',
    verdict: `server saturates at ${best.concurrency} (${best.perSecond.toFixed(1)} msg/s)`,
  });
  rows.push({
    measurement: `Mailman 3 HTTP replay at concurrency ${chosen.label}`,
    figure: `${chosen.perSecond.toFixed(1)} msg/s`,
    goal: httpGoal,
    verdict: `${(share * 100).toFixed(0)} % of the best fixed level: ${verdict(share >= 0.9)}`,
  });
  goals.mailman3Http = { goal: `HTTP replay ${httpGoal} of what HyperKitty absorbs`, value: share, unit: 'share', met: share >= 0.9, note: `concurrency ${chosen.label}: ${chosen.perSecond.toFixed(2)} msg/s; best fixed ${best.perSecond.toFixed(2)} at ${best.concurrency}` };

  const officialTotal = f.official.totalSeconds ?? f.official.seconds + f.official.indexSeconds;
  const runs = f.rounds && f.rounds > 1 ? `, mean of ${f.rounds} alternating runs` : '';
  rows.push({
    measurement: `official: hyperkitty_import + update_index_one_list (${int(f.generated)} entries)`,
    figure: `${officialTotal.toFixed(1)} s (import ${f.official.seconds.toFixed(1)} + index ${f.official.indexSeconds.toFixed(1)}${runs}), kept ${int(f.official.kept)} (index: ${int(f.replayable)} replayable)`,
    goal: 'baseline',
    verdict: '—',
  });
  // Like for like: both include the search index update (the documented procedure runs it).
  const ratio = f.comparison?.ratio ?? officialTotal / f.server.seconds;
  const importAlone = f.comparison?.ratioToImportAlone ?? f.official.seconds / f.server.seconds;
  const keptEnough = f.server.kept >= f.official.kept && f.server.missing === 0;
  rows.push({
    measurement: 'server-side path (cleaned mbox + import + index + read-back + journal)',
    figure: `${f.server.seconds.toFixed(1)} s, kept ${int(f.server.kept)} of ${int(f.replayable)}, ${f.server.missing} missing`,
    goal: serverGoal,
    verdict: `${ratio.toFixed(2)}× the official procedure (${importAlone.toFixed(2)}× hyperkitty_import alone), kept ${f.server.kept >= f.official.kept ? '≥' : '<'} its ${int(f.official.kept)}: ${verdict(ratio >= 1 && keptEnough)}`,
  });
  goals.mailman3Server = { goal: `server-side path ${serverGoal}`, value: ratio, unit: '× hyperkitty_import + update_index_one_list', met: ratio >= 1 && keptEnough, note: `kept ${f.server.kept} vs ${f.official.kept}; ${importAlone.toFixed(2)}× hyperkitty_import alone` };

  const httpSeconds = f.replayable / best.perSecond;
  const measuredFaster = f.server.seconds < httpSeconds ? 'server' : 'http';
  rows.push({
    measurement: `faster archive path for ${int(f.replayable)} messages`,
    figure: `measured: ${measuredFaster} (HTTP ≈ ${httpSeconds.toFixed(0)} s at the best rate, server ${f.server.seconds.toFixed(0)} s)`,
    goal: 'plan names the faster path',
    verdict: `plan says ${f.plan.recommended} (HTTP ${f.plan.httpSeconds.toFixed(0)} s, server ${f.plan.serverSeconds.toFixed(0)} s): ${f.plan.recommended === measuredFaster ? 'AGREES' : 'DISAGREES'}`,
  });
}
