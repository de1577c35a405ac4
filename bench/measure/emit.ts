/**
 * The child side of the harness protocol: a measurement prints exactly one JSON line on stdout when
 * it is done (progress and logs go to stderr). Peak RSS is read in the child itself, so each figure
 * belongs to one measurement and not to the orchestrator or to an earlier measurement.
 */
export interface ChildResult {
  [key: string]: unknown;
}

export function peakRssBytes(): number {
  // resourceUsage().maxRSS is in kilobytes (getrusage ru_maxrss on Linux).
  return process.resourceUsage().maxRSS * 1024;
}

export function emitResult(result: ChildResult): void {
  process.stdout.write(`${JSON.stringify({ ...result, peakRssBytes: peakRssBytes() })}\n`);
}

/** A figure known before the end (e.g. when the read loop finished), kept if the child is stopped later. */
export function emitPartial(partial: ChildResult): void {
  process.stdout.write(`${JSON.stringify({ ...partial, partial: true, peakRssBytes: peakRssBytes() })}\n`);
}

/** Reads `--name value` pairs; every measurement script takes only such flags. */
export function flags(argv: string[] = process.argv.slice(2)): Map<string, string> {
  const out = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (!a.startsWith('--')) throw new Error(`unexpected argument ${JSON.stringify(a)}`);
    const next = argv[i + 1];
    if (next === undefined || next.startsWith('--')) out.set(a.slice(2), 'true');
    else {
      out.set(a.slice(2), next);
      i++;
    }
  }
  return out;
}

export function required(f: Map<string, string>, name: string): string {
  const v = f.get(name);
  if (v === undefined) throw new Error(`--${name} is required`);
  return v;
}

export function numberFlag(f: Map<string, string>, name: string, fallback?: number): number {
  const v = f.get(name);
  if (v === undefined) {
    if (fallback === undefined) throw new Error(`--${name} is required`);
    return fallback;
  }
  const n = Number(v);
  if (!Number.isFinite(n)) throw new Error(`--${name} must be a number, got ${JSON.stringify(v)}`);
  return n;
}

/** Runs a measurement's main function; any failure becomes a one-line error on stderr and exit 1. */
export function runMeasurement(main: () => Promise<ChildResult>): void {
  // A timed-out child is sent SIGTERM: exit through process.exit so a --cpu-prof profile is still written.
  process.once('SIGTERM', () => process.exit(143));
  main().then(
    (r) => emitResult(r),
    (err: unknown) => {
      process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exitCode = 1;
    },
  );
}
