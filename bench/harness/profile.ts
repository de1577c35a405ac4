/**
 * Summary of a V8 .cpuprofile (node --cpu-prof): self time per function and per area of the
 * pipeline. SQLite runs on libuv worker threads, so on the main thread it shows up as `(idle)`
 * (waiting for a query) and as the sqlite3 binding's JS; that is why the areas include idle time.
 */
import { existsSync, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { SourceMap } from 'node:module';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';

const ProfileSchema = z.object({
  nodes: z.array(
    z.object({
      id: z.number(),
      callFrame: z.object({ functionName: z.string(), url: z.string(), lineNumber: z.number(), columnNumber: z.number() }),
    }),
  ),
  startTime: z.number(),
  samples: z.array(z.number()),
  timeDeltas: z.array(z.number()),
});

/** A stretch of the run, in the profile's clock (µs, CLOCK_MONOTONIC), e.g. the read loop. */
export interface ProfilePhase {
  name: string;
  fromUs: number;
  toUs: number;
}

export interface AreaShare {
  area: string;
  ms: number;
  share: number;
}

export interface ProfileSummary {
  file: string;
  totalMs: number;
  areas: AreaShare[];
  /** The same split for each phase given (samples outside every phase are only in `areas`). */
  phases: { name: string; ms: number; areas: AreaShare[]; top: FunctionShare[] }[];
  top: FunctionShare[];
}

export interface FunctionShare {
  function: string;
  where: string;
  area: string;
  ms: number;
  share: number;
}

const maps = new Map<string, SourceMap | null>();

/** 1-based line in the TypeScript source for a frame in dist/ (tsc writes source maps), else in the JS. */
function sourceLine(url: string, line0: number, column0: number): number {
  if (!/\/dist\/(src|bench)\/.*\.js$/.test(url)) return line0 + 1;
  let map = maps.get(url);
  if (map === undefined) {
    const file = `${url.startsWith('file:') ? fileURLToPath(url) : url}.map`;
    map = existsSync(file) ? new SourceMap(JSON.parse(readFileSync(file, 'utf8')) as ConstructorParameters<typeof SourceMap>[0]) : null;
    maps.set(url, map);
  }
  const entry = map?.findEntry(line0, column0) as { originalLine?: number } | undefined;
  return entry && typeof entry.originalLine === 'number' ? entry.originalLine + 1 : line0 + 1;
}

function shortUrl(url: string): string {
  const m = /\/dist\/((?:src|bench)\/.*)\.js$/.exec(url);
  if (m) return `${m[1]}.ts`;
  const nm = /node_modules\/(.*)$/.exec(url);
  if (nm) return nm[1]!;
  return url.replace(/^file:\/\//, '');
}

export function areaOf(functionName: string, url: string): string {
  if (functionName === '(idle)') return 'idle: waiting for SQLite worker / disk';
  if (functionName === '(garbage collector)') return 'garbage collection';
  if (functionName === '(program)' || functionName === '(root)') return 'V8/native (program)';
  if (/\/src\/mailman2\/mbox\.js$/.test(url)) return 'mbox splitter (src/mailman2/mbox.ts)';
  if (/\/src\/mailman2\//.test(url)) return 'header parse + hashes (src/mailman2/*)';
  if (/\/src\/state\//.test(url)) return 'indexer + state DB wrapper (src/state/*)';
  if (/node_modules\/sqlite3\//.test(url)) return 'sqlite3 binding (JS side)';
  if (/node_modules\//.test(url)) return 'other libraries';
  if (url.startsWith('node:') || url === '') return 'node internals + builtins (streams, Buffer, RegExp, JSON)';
  return 'other';
}

export async function summariseProfile(file: string, top = 15, phases: ProfilePhase[] = []): Promise<ProfileSummary> {
  const p = ProfileSchema.parse(JSON.parse(await readFile(file, 'utf8')));
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const selfUs = new Map<number, number>();
  const phaseAreas = phases.map(() => new Map<string, number>());
  const phaseNodes = phases.map(() => new Map<number, number>());
  let totalUs = 0;
  let at = p.startTime;
  for (let i = 0; i < p.samples.length; i++) {
    const dt = p.timeDeltas[i] ?? 0;
    at += dt;
    const id = p.samples[i]!;
    selfUs.set(id, (selfUs.get(id) ?? 0) + dt);
    totalUs += dt;
    const k = phases.findIndex((ph) => at >= ph.fromUs && at < ph.toUs);
    if (k >= 0) {
      phaseNodes[k]!.set(id, (phaseNodes[k]!.get(id) ?? 0) + dt);
      const cf = byId.get(id)?.callFrame;
      const a = cf ? areaOf(cf.functionName, cf.url) : 'other';
      phaseAreas[k]!.set(a, (phaseAreas[k]!.get(a) ?? 0) + dt);
    }
  }
  const area = new Map<string, number>();
  for (const [id, us] of selfUs) {
    const n = byId.get(id);
    if (!n) continue;
    const a = areaOf(n.callFrame.functionName, n.callFrame.url);
    area.set(a, (area.get(a) ?? 0) + us);
  }
  const topOf = (self: Map<number, number>, total: number): FunctionShare[] => {
    const fn = new Map<string, { function: string; where: string; area: string; us: number }>();
    for (const [id, us] of self) {
      const n = byId.get(id);
      if (!n) continue;
      const { functionName, url, lineNumber, columnNumber } = n.callFrame;
      const where = url ? `${shortUrl(url)}:${sourceLine(url, lineNumber, columnNumber)}` : '';
      const key = `${functionName}|${where}`;
      const cur = fn.get(key) ?? { function: functionName || '(anonymous)', where, area: areaOf(functionName, url), us: 0 };
      cur.us += us;
      fn.set(key, cur);
    }
    return [...fn.values()]
      .sort((a, b) => b.us - a.us)
      .slice(0, top)
      .map((f) => ({ function: f.function, where: f.where, area: f.area, ms: Math.round(f.us / 1000), share: total ? Number((f.us / total).toFixed(4)) : 0 }));
  };
  return {
    file,
    totalMs: Math.round(totalUs / 1000),
    areas: shares(area, totalUs),
    phases: phases.map((ph, k) => {
      const m = phaseAreas[k]!;
      const us = [...m.values()].reduce((s2, x) => s2 + x, 0);
      return { name: ph.name, ms: Math.round(us / 1000), areas: shares(m, us), top: topOf(phaseNodes[k]!, us) };
    }),
    top: topOf(selfUs, totalUs),
  };
}

function shares(m: Map<string, number>, totalUs: number): AreaShare[] {
  return [...m.entries()]
    .sort((a, b) => b[1] - a[1])
    .map(([area, us]) => ({ area, ms: Math.round(us / 1000), share: totalUs ? Number((us / totalUs).toFixed(4)) : 0 }));
}

export function renderProfile(s: ProfileSummary): string {
  const pct = (x: number): string => `${(x * 100).toFixed(1).padStart(5)} %`;
  const areaLines = (areas: AreaShare[]): string[] =>
    areas.filter((a) => a.share >= 0.001).map((a) => `  ${pct(a.share)}  ${(a.ms / 1000).toFixed(1).padStart(7)} s  ${a.area}`);
  return [
    `CPU profile of the index child (${(s.totalMs / 1000).toFixed(1)} s sampled, main thread), ${s.file}`,
    'whole run, by area (self time):',
    ...areaLines(s.areas),
    ...s.phases.flatMap((ph) => [
      `${ph.name} (${(ph.ms / 1000).toFixed(1)} s), by area:`,
      ...areaLines(ph.areas),
      `${ph.name}, top functions:`,
      ...ph.top.slice(0, 12).map((f) => `  ${pct(f.share)}  ${f.function}  ${f.where}`),
    ]),
    'whole run, top functions (self time):',
    ...s.top.map((f) => `  ${pct(f.share)}  ${f.function}  ${f.where}`),
  ].join('\n');
}
