/**
 * Redirect generation at scale: synthetic pipermail articles (spread over several lists, monthly
 * periods, a few pages without a Message-ID and a few stray copies, as real archives have) go
 * through the real src/redirects buildRedirects + toNginx, and the map is written to disk.
 * Building the input is not timed; everything the tool does with it is.
 */
import { open, rm } from 'node:fs/promises';
import { buildRedirects, toNginx } from '../../src/redirects/index.js';
import type { RedirectArticle, RedirectEntry, RedirectInput, RedirectPeriod, Target } from '../../src/redirects/index.js';
import { flags, numberFlag, required, runMeasurement } from './emit.js';

const MONTHS = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December'];
const TARGET: Target = {
  kind: 'hyperkitty',
  baseUrl: 'https://lists.example.org/hyperkitty/',
  postoriusUrl: 'https://lists.example.org/postorius/',
};

function isoDay(year: number, month: number): string {
  return new Date(Date.UTC(year, month, 1)).toISOString().slice(0, 10);
}

/** One list's input: `articles` numbered from 0, `perPeriod` to a month, starting January 2000. */
function listInput(index: number, articles: number, perPeriod: number): RedirectInput {
  const name = `list${String(index).padStart(3, '0')}`;
  const periods: RedirectPeriod[] = [];
  const items: RedirectArticle[] = [];
  for (let n = 0; n < articles; n++) {
    const m = Math.floor(n / perPeriod);
    const year = 2000 + Math.floor(m / 12);
    const month = m % 12;
    const period = `${year}-${MONTHS[month]}`;
    if (n % perPeriod === 0) {
      periods.push({ name: period, txt: false, txtGz: true, start: isoDay(year, month), end: isoDay(year, month + 1) });
    }
    // Pipermail pages without an In-Reply-To mailto (about 0.5 %) and stray copies (about 1 %).
    const messageId = n % 199 === 7 ? null : `<${n}.${index}.${(n * 2654435761) % 1e9}@mail.example.net>`;
    items.push({ number: n, period, messageId, stray: false, source: 'html' });
    if (n % 97 === 3 && m > 0) {
      items.push({ number: n, period: `${2000 + Math.floor((m - 1) / 12)}-${MONTHS[(m - 1) % 12]}`, messageId, stray: true, source: 'html' });
    }
  }
  return {
    list: {
      name,
      webPageUrl: 'http://lists.example.org/mailman/',
      hostName: 'lists.example.org',
      postingAddress: `${name}@lists.example.org`,
      archivePrivate: index % 3 === 0,
      volumeFrequency: 1,
    },
    articles: items,
    periods,
    attachments: [],
  };
}

runMeasurement(async () => {
  const f = flags();
  const total = numberFlag(f, 'articles', 1_000_000);
  const lists = numberFlag(f, 'lists', 10);
  const out = required(f, 'out');
  const perList = Math.ceil(total / lists);
  const inputs: RedirectInput[] = [];
  for (let i = 0; i < lists; i++) inputs.push(listInput(i, Math.min(perList, total - i * perList), 2000));
  const articles = inputs.reduce((s, x) => s + x.articles.filter((a) => !a.stray).length, 0);

  const started = performance.now();
  const entries: RedirectEntry[] = [];
  let unmapped = 0;
  let problems = 0;
  for (const input of inputs) {
    const r = buildRedirects(input, TARGET);
    for (const e of r.entries) entries.push(e);
    unmapped += r.unmapped.length;
    problems += r.problems.length;
  }
  const built = performance.now();
  // Rendering and writing go piece by piece, as the CLI does; the first piece is rendered after
  // the checks and hash sizing, which is what "nginx" counts.
  const nginx = toNginx(entries);
  const rendered = performance.now();
  const fh = await open(out, 'w');
  let mapBytes = 0;
  for (const piece of nginx.mapChunks()) {
    mapBytes += Buffer.byteLength(piece);
    await fh.write(piece);
  }
  await fh.close();
  const ended = performance.now();
  await rm(out, { force: true });
  return {
    seconds: (ended - started) / 1000,
    buildSeconds: (built - started) / 1000,
    nginxSeconds: (rendered - built) / 1000,
    writeSeconds: (ended - rendered) / 1000,
    articles,
    lists,
    entries: entries.length,
    unmapped,
    problems: problems + nginx.problems.length,
    mapBytes,
  };
});
