import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, open, rm, type FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';

/**
 * Random access to the messages of an indexed mbox by (offset, length), as recorded in the state
 * database. A .gz mbox is decompressed once to a private temporary file, because offsets refer to
 * the decompressed stream and gzip cannot seek.
 */
export class MessageSource {
  private constructor(
    private readonly fh: FileHandle,
    private readonly cleanup: (() => Promise<void>) | null,
  ) {}

  static async open(mboxPath: string): Promise<MessageSource> {
    const fh = await open(mboxPath, 'r');
    const magic = Buffer.alloc(2);
    await fh.read(magic, 0, 2, 0);
    // Detected by content, as the reader does: a gzip file need not be named .gz.
    if (!(magic[0] === 0x1f && magic[1] === 0x8b)) return new MessageSource(fh, null);
    await fh.close();
    const dir = await mkdtemp(path.join(tmpdir(), 'mm2migrate-mbox-'));
    const plain = path.join(dir, 'mbox');
    await pipeline(createReadStream(mboxPath), createGunzip(), createWriteStream(plain, { mode: 0o600 }));
    return new MessageSource(await open(plain, 'r'), () => rm(dir, { recursive: true, force: true }));
  }

  /** The stored bytes of the entry, From_ line included. */
  async entry(offset: number, length: number): Promise<Buffer> {
    const buf = Buffer.allocUnsafe(length);
    let got = 0;
    while (got < length) {
      const { bytesRead } = await this.fh.read(buf, got, length - got, offset + got);
      if (bytesRead === 0) throw new Error(`mbox ended at byte ${offset + got}, expected a message of ${length} bytes at ${offset}`);
      got += bytesRead;
    }
    return buf;
  }

  /** The message as stored without its From_ separator line. */
  async message(offset: number, length: number): Promise<Buffer> {
    const entry = await this.entry(offset, length);
    const nl = entry.indexOf(0x0a);
    return nl < 0 ? Buffer.alloc(0) : entry.subarray(nl + 1);
  }

  async close(): Promise<void> {
    await this.fh.close();
    await this.cleanup?.();
  }
}
