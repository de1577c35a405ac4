/**
 * The index phase over one mbox with the real indexer (src/state/index-mbox.ts) into a fresh
 * SQLite state database: separator scan, header parse, row inserts, duplicate marking, checksum.
 * `loopSeconds` is when the last row was written (the reading part); the rest is the work done
 * after the read (duplicate marking, the prefix checksum).
 */
import { rm } from 'node:fs/promises';
import { StateDb } from '../../src/state/db.js';
import { indexMbox } from '../../src/state/index-mbox.js';
import { Store } from '../../src/state/store.js';
import { emitPartial, flags, required, runMeasurement } from './emit.js';

/** CLOCK_MONOTONIC in µs: the clock of V8's --cpu-prof timestamps, so a profile can be split at the loop end. */
const monotonicUs = (): number => Number(process.hrtime.bigint() / 1000n);

runMeasurement(async () => {
  const f = flags();
  const file = required(f, 'file');
  const stateFile = required(f, 'state');
  await removeDb(stateFile);
  const store = await Store.open(await StateDb.open(stateFile));
  try {
    await store.ensureList('bench');
    const started = performance.now();
    const startUs = monotonicUs();
    let loopEndUs = 0;
    let loopEnd = 0;
    let lastLog = started;
    const result = await indexMbox(store, {
      list: 'bench',
      mboxPath: file,
      quarantineDir: `${stateFile}.quarantine`,
      onProgress: (bytes, total, messages) => {
        const now = performance.now();
        if (bytes === total && !loopEnd) {
          loopEnd = now;
          loopEndUs = monotonicUs();
          emitPartial({ loopSeconds: (now - started) / 1000, bytes: total, messages, startUs, loopEndUs });
        }
        if (now - lastLog > 10_000) {
          lastLog = now;
          process.stderr.write(`  index: ${(bytes / 1e6).toFixed(0)}/${(total / 1e6).toFixed(0)} MB, ${messages} messages\n`);
        }
      },
    });
    const ended = performance.now();
    return {
      seconds: (ended - started) / 1000,
      loopSeconds: ((loopEnd || ended) - started) / 1000,
      bytes: result.bytes,
      messages: result.messages,
      problems: result.problems.length,
      mode: result.mode,
      startUs,
      loopEndUs: loopEndUs || monotonicUs(),
      endUs: monotonicUs(),
    };
  } finally {
    await store.db.close();
    await removeDb(stateFile);
    await rm(`${stateFile}.quarantine`, { recursive: true, force: true });
  }
});

async function removeDb(file: string): Promise<void> {
  for (const suffix of ['', '-wal', '-shm', '-journal']) await rm(file + suffix, { force: true });
}
