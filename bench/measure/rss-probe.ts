/**
 * Preloaded with `node --import` into a process the harness does not write (the mm2migrate CLI):
 * on exit it records that process's peak RSS in the file named by BENCH_RSS_FILE.
 */
import { writeFileSync } from 'node:fs';

const out = process.env.BENCH_RSS_FILE;
if (out) {
  process.on('exit', () => {
    writeFileSync(out, JSON.stringify({ peakRssBytes: process.resourceUsage().maxRSS * 1024 }));
  });
}
