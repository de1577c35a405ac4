/**
 * Benchmark inputs, generated with bench/generate into bench/data/ (gitignored) and reused while
 * the seed, the size and the generator's code are the same (bench/data/manifest.json says which
 * file was made how). Generation is skipped with a note when the disk cannot hold the file plus the
 * state database the index writes next to it.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm, stat, statfs, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { runChild } from './child.js';
import { DATA_DIR, DIST_BENCH, GENERATOR_CLI } from './paths.js';

const EntrySchema = z.object({
  kind: z.enum(['mbox', 'installation']),
  seed: z.number(),
  /** Requested size (mbox) or number of lists (installation). */
  size: z.number(),
  generator: z.string(),
  bytes: z.number(),
  messages: z.number(),
  generatedSeconds: z.number(),
  createdAt: z.string(),
});
const ManifestSchema = z.object({ version: z.literal(1), entries: z.record(z.string(), EntrySchema) });
type Manifest = z.infer<typeof ManifestSchema>;
export type DataEntry = z.infer<typeof EntrySchema>;

const MANIFEST = path.join(DATA_DIR, 'manifest.json');

export type Prepared =
  | { ok: true; path: string; entry: DataEntry; reused: boolean }
  | { ok: false; reason: string };

async function loadManifest(): Promise<Manifest> {
  if (!existsSync(MANIFEST)) return { version: 1, entries: {} };
  const parsed = ManifestSchema.safeParse(JSON.parse(await readFile(MANIFEST, 'utf8')));
  // An unreadable manifest only costs a regeneration; say so rather than fail the run.
  if (!parsed.success) {
    process.stderr.write(`bench: ${MANIFEST} is not a valid manifest (${parsed.error.issues[0]?.message}); data will be regenerated\n`);
    return { version: 1, entries: {} };
  }
  return parsed.data;
}

async function saveManifest(m: Manifest): Promise<void> {
  await writeFile(`${MANIFEST}.tmp`, `${JSON.stringify(m, null, 2)}\n`);
  await rename(`${MANIFEST}.tmp`, MANIFEST);
}

/** Hash of the compiled generator: data made by other generator code is not reused. */
async function generatorHash(): Promise<string> {
  const dir = path.join(DIST_BENCH, 'generate');
  const files = (await readdir(dir)).filter((f) => f.endsWith('.js')).sort();
  const h = createHash('sha256');
  for (const f of files) h.update(f).update('\0').update(await readFile(path.join(dir, f))).update('\0');
  return h.digest('hex').slice(0, 16);
}

export async function freeBytes(dir: string): Promise<number> {
  const s = await statfs(dir);
  return s.bavail * s.bsize;
}

async function sizeOnDisk(p: string): Promise<number> {
  const s = await stat(p);
  if (!s.isDirectory()) return s.size;
  let total = 0;
  for (const e of await readdir(p, { withFileTypes: true })) total += await sizeOnDisk(path.join(p, e.name));
  return total;
}

interface Spec {
  kind: DataEntry['kind'];
  name: string;
  seed: number;
  size: number;
  /** Disk space to have free before generating (the data plus what measurements write beside it). */
  needBytes: number;
  args: string[];
}

async function prepare(spec: Spec, log: (line: string) => void): Promise<Prepared> {
  await mkdir(DATA_DIR, { recursive: true });
  if (!existsSync(GENERATOR_CLI)) return { ok: false, reason: `generator CLI ${GENERATOR_CLI} not built` };
  const manifest = await loadManifest();
  const generator = await generatorHash();
  const target = path.join(DATA_DIR, spec.name);
  const known = manifest.entries[spec.name];
  if (known && known.generator === generator && known.seed === spec.seed && known.size === spec.size && existsSync(target)) {
    if ((await sizeOnDisk(target)) === known.bytes) return { ok: true, path: target, entry: known, reused: true };
  }
  // Drop data made by an older generator, so stale multi-GB files do not pile up.
  for (const [name, e] of Object.entries(manifest.entries)) {
    if (e.generator !== generator || name === spec.name) {
      await rm(path.join(DATA_DIR, name), { recursive: true, force: true });
      delete manifest.entries[name];
    }
  }
  await saveManifest(manifest);
  const free = await freeBytes(DATA_DIR);
  if (free < spec.needBytes) {
    return { ok: false, reason: `needs ${(spec.needBytes / 1e9).toFixed(1)} GB free in ${DATA_DIR}, only ${(free / 1e9).toFixed(1)} GB` };
  }
  const tmp = `${target}.partial`;
  await rm(tmp, { recursive: true, force: true });
  log(`generating ${spec.name} (seed ${spec.seed}) ...`);
  const out = await runChild(process.execPath, [GENERATOR_CLI, spec.kind, '--seed', String(spec.seed), ...spec.args, '--out', tmp], {
    timeoutMs: 3 * 3600_000,
    stdoutIsDocument: true,
  });
  if (out.status !== 'ok' || !out.result) {
    await rm(tmp, { recursive: true, force: true });
    return { ok: false, reason: `generator failed: ${out.stderrTail.split('\n').pop() ?? out.status}` };
  }
  await rename(tmp, target);
  const entry: DataEntry = {
    kind: spec.kind,
    seed: spec.seed,
    size: spec.size,
    generator,
    bytes: await sizeOnDisk(target),
    messages: Number(out.result.messages ?? 0),
    generatedSeconds: Number(out.wallSeconds.toFixed(1)),
    createdAt: new Date().toISOString(),
  };
  manifest.entries[spec.name] = entry;
  await saveManifest(manifest);
  log(`  ${spec.name}: ${(entry.bytes / 1e6).toFixed(0)} MB, ${entry.messages} messages in ${entry.generatedSeconds} s`);
  return { ok: true, path: target, entry, reused: false };
}

/** One list's mbox of `bytes` bytes (decimal: 1 GB = 10^9). */
export function ensureMbox(seed: number, bytes: number, log: (line: string) => void): Promise<Prepared> {
  return prepare(
    {
      kind: 'mbox',
      name: `mbox-s${seed}-${bytes}.mbox`,
      seed,
      size: bytes,
      // The index's state database is about a third of the mbox; keep 1 GB spare on top.
      needBytes: bytes * 1.4 + 1e9,
      args: ['--size', String(bytes), '--list', 'bench', '--host', 'lists.example.org'],
    },
    log,
  );
}

/** A Mailman 2.1 prefix with `lists` lists (generator defaults for rosters and mbox sizes). */
export function ensureInstallation(seed: number, lists: number, log: (line: string) => void): Promise<Prepared> {
  return prepare(
    {
      kind: 'installation',
      name: `installation-s${seed}-${lists}`,
      seed,
      size: lists,
      // Mbox sizes are log-uniform in 10 KB..20 MB (mean about 2.6 MB); the dry-run's state database comes on top.
      needBytes: lists * 4e6 + 1e9,
      args: ['--lists', String(lists)],
    },
    log,
  );
}
