/** Starts bench/replay/target-server.js as a child process and reads its counters. */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export interface ServerStats {
  accepted: number;
  rejected: number;
  invalid: number;
  unauthorized: number;
  bytes: number;
  /** ms after the first accepted request, for each accepted request (rate-limited mode only). */
  acceptedAt: number[];
  limit: number;
  windowMs: number;
}

export class TargetServer {
  private constructor(
    private readonly child: ChildProcess,
    readonly port: number,
  ) {}

  static async start(key: string, limit?: { perWindow: number; windowMs: number }): Promise<TargetServer> {
    const script = fileURLToPath(new URL('./target-server.js', import.meta.url));
    const args = [script, '--key', key, ...(limit ? ['--limit', String(limit.perWindow), '--window-ms', String(limit.windowMs)] : [])];
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    const port = await new Promise<number>((resolve, reject) => {
      let out = '';
      child.stdout!.on('data', (c: Buffer) => {
        out += c.toString();
        const nl = out.indexOf('\n');
        if (nl >= 0) resolve((JSON.parse(out.slice(0, nl)) as { port: number }).port);
      });
      child.once('exit', (code) => reject(new Error(`target server exited (${code}) before listening`)));
      child.once('error', reject);
    });
    return new TargetServer(child, port);
  }

  get origin(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async stats(): Promise<ServerStats> {
    return (await (await fetch(`${this.origin}/__bench/stats`)).json()) as ServerStats;
  }

  stop(): void {
    this.child.kill('SIGTERM');
  }
}
