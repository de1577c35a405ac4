/**
 * Command line for the generators:
 *
 *   node dist/bench/generate/cli.js mbox --seed 1 --size 1GB --out FILE [--manifest FILE.jsonl]
 *        [--list devtalk] [--host lists.example.org] [--start-date 2005-01-10] [--prefix '[DevTalk] ']
 *        [--legacy-share 0.05] [--anomaly-rate 1] [--time-zone America/New_York]
 *   node dist/bench/generate/cli.js installation --seed 1 --lists 500 --out DIR
 *        [--members 5-500] [--mbox-size 10KB-20MB]
 *
 * Sizes take K/M/G suffixes (powers of 1024, `B` optional). Prints the statistics as JSON.
 */
import { parseArgs } from 'node:util';
import { generateInstallation } from './installation.js';
import { generateMbox } from './mbox.js';

const UNITS: Record<string, number> = { '': 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3, T: 1024 ** 4 };

export function parseSize(text: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([KMGT]?)(?:i?B)?$/i.exec(text.trim());
  if (!m) throw new Error(`not a size: ${JSON.stringify(text)} (use e.g. 10MB, 1.5GB, 4096)`);
  return Math.round(Number(m[1]) * (UNITS[(m[2] ?? '').toUpperCase()] as number));
}

function parseRange(text: string, parse: (s: string) => number): [number, number] {
  const parts = text.split('-');
  if (parts.length !== 2) throw new Error(`not a range: ${JSON.stringify(text)} (use MIN-MAX)`);
  const [a, b] = parts.map(parse) as [number, number];
  if (!(a <= b)) throw new Error(`range ${JSON.stringify(text)}: MIN must not exceed MAX`);
  return [a, b];
}

function parseNumber(name: string, text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!Number.isFinite(n)) throw new Error(`--${name}: not a number: ${JSON.stringify(text)}`);
  return n;
}

const USAGE = `usage:
  cli.js mbox --seed N --size SIZE --out FILE [--manifest FILE] [--list NAME] [--host HOST]
              [--start-date YYYY-MM-DD] [--prefix TEXT] [--legacy-share F] [--anomaly-rate F]
              [--time-zone ZONE]
  cli.js installation --seed N --lists N --out DIR [--members MIN-MAX] [--mbox-size MIN-MAX]`;

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  const { values } = parseArgs({
    args: rest,
    options: {
      seed: { type: 'string' },
      size: { type: 'string' },
      out: { type: 'string' },
      manifest: { type: 'string' },
      list: { type: 'string' },
      host: { type: 'string' },
      'start-date': { type: 'string' },
      prefix: { type: 'string' },
      'legacy-share': { type: 'string' },
      'anomaly-rate': { type: 'string' },
      'time-zone': { type: 'string' },
      lists: { type: 'string' },
      members: { type: 'string' },
      'mbox-size': { type: 'string' },
    },
  });
  const seed = parseNumber('seed', values.seed, 1);
  if (!values.out) throw new Error(`--out is required\n${USAGE}`);
  const started = process.hrtime.bigint();
  const seconds = () => Number(process.hrtime.bigint() - started) / 1e9;
  if (command === 'mbox') {
    if (!values.size) throw new Error(`--size is required\n${USAGE}`);
    let startDate: Date | undefined;
    if (values['start-date']) {
      startDate = new Date(`${values['start-date']}T14:00:00Z`);
      if (Number.isNaN(startDate.getTime())) throw new Error(`--start-date: not a date: ${values['start-date']}`);
    }
    const stats = await generateMbox(
      {
        seed,
        targetBytes: parseSize(values.size),
        list: values.list ?? 'devtalk',
        host: values.host ?? 'lists.example.org',
        startDate,
        subjectPrefix: values.prefix,
        legacyShare: values['legacy-share'] === undefined ? undefined : parseNumber('legacy-share', values['legacy-share'], 0.05),
        anomalyRate: parseNumber('anomaly-rate', values['anomaly-rate'], 1),
        timeZone: values['time-zone'],
        manifest: values.manifest,
      },
      values.out,
    );
    const s = seconds();
    console.log(JSON.stringify({ ...stats, seconds: Number(s.toFixed(2)), mbPerSecond: Number((stats.bytes / 1e6 / s).toFixed(1)) }, null, 2));
  } else if (command === 'installation') {
    const stats = await generateInstallation({
      seed,
      root: values.out,
      lists: parseNumber('lists', values.lists, 10),
      membersPerList: values.members ? parseRange(values.members, Number) : [5, 500],
      mboxBytesPerList: values['mbox-size'] ? parseRange(values['mbox-size'], parseSize) : [10 * 1024, 20 * 1024 * 1024],
    });
    const s = seconds();
    console.log(JSON.stringify({ lists: stats.lists.length, messages: stats.messages, bytes: stats.bytes, seconds: Number(s.toFixed(2)) }, null, 2));
  } else {
    throw new Error(`unknown command ${JSON.stringify(command ?? '')}\n${USAGE}`);
  }
}

main(process.argv.slice(2)).catch((err: unknown) => {
  console.error(`generate: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(2);
});
