/**
 * The I/O limit: read the file in 1 MiB chunks and touch nothing. Every mbox reader does at least
 * this much work, so its MB/s is the ceiling for the others on the same file.
 */
import { open } from 'node:fs/promises';
import { required, flags, runMeasurement } from './emit.js';

runMeasurement(async () => {
  const file = required(flags(), 'file');
  const buf = Buffer.allocUnsafe(1 << 20);
  const started = performance.now();
  const fh = await open(file, 'r');
  let bytes = 0;
  let checksum = 0; // read one byte per chunk so the read cannot be optimised away
  try {
    for (;;) {
      const { bytesRead } = await fh.read(buf, 0, buf.length, null);
      if (bytesRead === 0) break;
      bytes += bytesRead;
      checksum ^= buf[bytesRead - 1]!;
    }
  } finally {
    await fh.close();
  }
  return { seconds: (performance.now() - started) / 1000, bytes, checksum };
});
