import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { Worker } from 'node:worker_threads';

/** SHA-256 hex of the first `bytes` bytes of `file`, on the calling thread. */
export async function sha256Prefix(file: string, bytes: number): Promise<string> {
  const hash = createHash('sha256');
  if (bytes > 0) {
    for await (const chunk of createReadStream(file, { start: 0, end: bytes - 1, highWaterMark: 1 << 20 })) hash.update(chunk as Buffer);
  }
  return hash.digest('hex');
}

// Plain CommonJS so that it runs the same from dist/ and from the TypeScript sources under vitest.
// One reused buffer and synchronous reads (the worker has nothing else to do): a stream would
// allocate a fresh 1 MiB buffer per read, and the worker's V8 lets tens of MB of them pile up
// before it collects them.
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const { createHash } = require('node:crypto');
const { openSync, readSync, closeSync } = require('node:fs');
try {
  const hash = createHash('sha256');
  if (workerData.bytes > 0) {
    const fd = openSync(workerData.file, 'r');
    try {
      const buf = Buffer.allocUnsafe(1 << 20);
      let at = 0;
      while (at < workerData.bytes) {
        const n = readSync(fd, buf, 0, Math.min(buf.length, workerData.bytes - at), at);
        if (n === 0) break; // shorter than expected: hash what is there, as a stream would
        hash.update(buf.subarray(0, n));
        at += n;
      }
    } finally {
      closeSync(fd);
    }
  }
  parentPort.postMessage({ hex: hash.digest('hex') });
} catch (err) {
  parentPort.postMessage({ error: { message: String(err && err.message), code: err && err.code } });
}
`;

export interface BackgroundChecksum {
  /** The checksum; rejects with the read error (its message and code) like sha256Prefix. */
  result: Promise<string>;
  /** Stops the worker if the result is no longer wanted. */
  cancel(): Promise<void>;
}

/**
 * sha256Prefix on a worker thread, started while the caller does other work: the index reads the
 * whole mbox once more for its checksum, ~0.6 s per GB of hashing that would otherwise follow the
 * parse on the main thread. The worker costs a few MB while it runs.
 */
export function sha256PrefixInBackground(file: string, bytes: number): BackgroundChecksum {
  // No inherited node flags: a --cpu-prof or --import given to the process is not meant for this thread.
  const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { file, bytes }, execArgv: [] });
  let settled = false;
  const result = new Promise<string>((resolve, reject) => {
    worker.once('message', (m: { hex?: string; error?: { message: string; code?: string } }) => {
      settled = true;
      if (m.hex !== undefined) resolve(m.hex);
      else reject(Object.assign(new Error(m.error?.message ?? 'checksum failed'), m.error?.code ? { code: m.error.code } : {}));
    });
    worker.once('error', (err) => {
      settled = true;
      reject(err);
    });
    worker.once('exit', (code) => {
      if (!settled) reject(new Error(`checksum of ${file} stopped (worker exit code ${code})`));
    });
  });
  result.catch(() => undefined); // awaited by the caller, or cancelled
  return {
    result,
    cancel: async () => {
      if (!settled) await worker.terminate();
    },
  };
}
