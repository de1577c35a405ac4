/**
 * Buffered output for the generators: collects byte strings and writes them in large chunks to a
 * file or a Writable, waiting for 'drain' so memory stays flat however big the output is.
 */
import { open, type FileHandle } from 'node:fs/promises';
import { type Writable } from 'node:stream';

const CHUNK = 4 * 1024 * 1024;

export class ByteSink {
  private buf: Buffer = Buffer.allocUnsafe(CHUNK);
  private pending = 0;
  private written = 0;
  private inFlight: Promise<void> = Promise.resolve();

  private constructor(
    private readonly file: FileHandle | null,
    private readonly stream: Writable | null,
    private readonly encoding: 'latin1' | 'utf8',
  ) {}

  /** `encoding` says how strings become bytes: latin1 for byte strings, utf8 for text. */
  static async open(target: string | Writable, encoding: 'latin1' | 'utf8'): Promise<ByteSink> {
    if (typeof target === 'string') return new ByteSink(await open(target, 'w'), null, encoding);
    return new ByteSink(null, target, encoding);
  }

  /** Bytes handed to write() so far (flushed or not). */
  get bytes(): number {
    return this.written + this.pending;
  }

  /**
   * Copies `text` straight into the chunk buffer (Buffer.write walks V8's concatenated strings
   * without flattening them, so big bodies are copied once).
   */
  async write(text: string): Promise<void> {
    const size = this.encoding === 'latin1' ? text.length : Buffer.byteLength(text, 'utf8');
    if (this.pending + size > CHUNK) await this.flush();
    if (size > CHUNK) {
      this.pending = size;
      this.buf = Buffer.from(text, this.encoding);
      await this.flush();
      return;
    }
    this.buf.write(text, this.pending, size, this.encoding);
    this.pending += size;
  }

  async flush(): Promise<void> {
    if (this.pending === 0) return;
    const buf = this.buf.subarray(0, this.pending);
    // A Writable may keep the chunk after write() returns, so each flush gets a fresh buffer.
    this.buf = Buffer.allocUnsafe(CHUNK);
    this.written += this.pending;
    this.pending = 0;
    if (this.file) {
      // One write may be in flight while the next chunk is generated.
      await this.inFlight;
      const file = this.file;
      const pending = (async () => {
        let off = 0;
        while (off < buf.length) off += (await file.write(buf, off, buf.length - off)).bytesWritten;
      })();
      // Awaited by the next flush or close; the catch only stops Node from calling it unhandled meanwhile.
      pending.catch(() => undefined);
      this.inFlight = pending;
    } else if (this.stream) {
      const stream = this.stream;
      if (!stream.write(buf)) {
        await new Promise<void>((resolve, reject) => {
          const onDrain = () => {
            stream.off('error', onError);
            resolve();
          };
          const onError = (err: Error) => {
            stream.off('drain', onDrain);
            reject(err);
          };
          stream.once('drain', onDrain);
          stream.once('error', onError);
        });
      }
    }
  }

  /** Closes a file target without flushing (after an error). */
  async abort(): Promise<void> {
    await this.inFlight.catch(() => undefined);
    if (this.file) await this.file.close();
  }

  /** Flushes and closes a file target; a Writable target is left open for its owner. */
  async close(): Promise<void> {
    await this.flush();
    await this.inFlight;
    if (this.file) await this.file.close();
  }
}
