/** Command-line options and the sizes of a full and a quick run. */
export const MEASUREMENTS = [
  'raw-read',
  'python',
  'reader',
  'index',
  'index-large',
  'dry-run',
  'redirects',
  'replay-instant',
  'replay-rate-limited',
  'replay-over-budget',
  'mailman3',
] as const;
export type MeasurementId = (typeof MEASUREMENTS)[number];

export interface Sizes {
  /** The mbox of the throughput figures (and the 1 GB side of the RSS comparison). */
  small: number;
  /** The mbox of the RSS comparison's big side. */
  large: number;
  lists: number;
  /** The mbox the replays read (indexed first for the Mailman 3 replay, so kept small). */
  replay: number;
  redirectArticles: number;
  redirectLists: number;
  instantSeconds: number;
  /** Server budget for the rate-limited replay: `limit` requests per sliding `windowMs`, run `seconds`. */
  rate: { limit: number; windowMs: number; seconds: number };
  /** Mailman 3 archive paths into the real stack: messages generated, and seconds per HTTP concurrency level. */
  mailman3: { messages: number; levelSeconds: number };
}

export const FULL: Sizes = {
  small: 1e9,
  large: 4e9,
  lists: 500,
  replay: 1e8,
  redirectArticles: 1_000_000,
  redirectLists: 10,
  instantSeconds: 30,
  rate: { limit: 600, windowMs: 60_000, seconds: 120 },
  mailman3: { messages: 5_000, levelSeconds: 90 },
};

/** Same rates, smaller inputs and a 10 s window, so the whole run takes a few minutes. */
export const QUICK: Sizes = {
  small: 1e8,
  large: 4e8,
  lists: 50,
  replay: 1e8,
  redirectArticles: 1_000_000,
  redirectLists: 10,
  instantSeconds: 10,
  rate: { limit: 100, windowMs: 10_000, seconds: 30 },
  mailman3: { messages: 1_000, levelSeconds: 40 },
};

export interface Options {
  quick: boolean;
  only: Set<MeasurementId>;
  seed: number;
  profile: boolean;
  timeoutScale: number;
  help: boolean;
}

export const USAGE = `usage: npm run bench -- [--quick] [--only ID[,ID...]] [--seed N] [--profile] [--timeout-scale F]

  --quick           100 MB / 400 MB mboxes, 50 lists, 10 s rate window (a few minutes)
                    instead of 1 GB / 4 GB, 500 lists, 600 requests per minute for 2 minutes
  --only IDS        run only these (a prefix selects several: "replay", "index"):
                    ${MEASUREMENTS.join(', ')}
  --seed N          generator seed (default 1); data in bench/data/ is reused while seed and size match
  --profile         also run the index once more under node --cpu-prof and print where the time goes
  --timeout-scale F multiply every per-measurement time limit by F (default 1)

Writes bench/results.json. Needs python3 for the standard-library baseline (skipped without it) and
the Mailman 3 test stack (test/stack/install.sh) for the mailman3 row (skipped without it).`;

export function parseOptions(argv: string[]): Options {
  const o: Options = { quick: false, only: new Set(MEASUREMENTS), seed: 1, profile: false, timeoutScale: 1, help: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    if (a === '--quick') o.quick = true;
    else if (a === '--profile') o.profile = true;
    else if (a === '--help' || a === '-h') o.help = true;
    else if (a === '--seed') {
      o.seed = Number(value());
      if (!Number.isInteger(o.seed)) throw new Error('--seed must be a whole number');
    } else if (a === '--timeout-scale') {
      o.timeoutScale = Number(value());
      if (!(o.timeoutScale > 0)) throw new Error('--timeout-scale must be a positive number');
    } else if (a === '--only') {
      const wanted = value().split(',').map((s) => s.trim()).filter(Boolean);
      o.only = new Set();
      for (const w of wanted) {
        const hits = MEASUREMENTS.filter((m) => m === w || m.startsWith(`${w}-`) || (w.length >= 3 && m.startsWith(w)));
        if (!hits.length) throw new Error(`--only: unknown measurement "${w}" (known: ${MEASUREMENTS.join(', ')})`);
        for (const h of hits) o.only.add(h);
      }
    } else throw new Error(`unknown option ${a}\n${USAGE}`);
  }
  return o;
}
