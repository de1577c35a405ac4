/**
 * The reader alone: src/mailman2/mbox.ts readMbox (separator scan + header parse + content hash),
 * without the state database. The gap between this and index-mbox is what SQLite costs.
 */
import { readMbox } from '../../src/mailman2/mbox.js';
import { flags, required, runMeasurement } from './emit.js';

runMeasurement(async () => {
  const file = required(flags(), 'file');
  const started = performance.now();
  let messages = 0;
  let bytes = 0;
  let problems = 0;
  for await (const msg of readMbox(file, { list: 'bench' })) {
    messages++;
    bytes += msg.length;
    problems += msg.problems.length;
  }
  return { seconds: (performance.now() - started) / 1000, bytes, messages, problems };
});
