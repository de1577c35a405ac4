/**
 * Starts real nginx and Apache httpd on 127.0.0.1 with every file (config, pid, logs, temp dirs) inside a temp
 * directory given by the caller. No system service, system config or privileged port is touched, and every
 * wait is bounded.
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync, mkdirSync, chmodSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';

const SBIN_DIRS = ['/usr/sbin', '/usr/local/sbin', '/usr/bin', '/usr/local/bin', '/sbin'];

export function findBinary(...names: string[]): string | null {
  const dirs = [...(process.env.PATH ?? '').split(':').filter(Boolean), ...SBIN_DIRS];
  for (const name of names) {
    for (const dir of dirs) {
      const p = path.join(dir, name);
      if (existsSync(p)) return p;
    }
  }
  return null;
}

export const nginxBinary = findBinary('nginx');
export const apacheBinary = findBinary('apache2', 'httpd');
export const httxt2dbmBinary = findBinary('httxt2dbm');

const APACHE_MODULE_DIRS = ['/usr/lib/apache2/modules', '/usr/lib64/httpd/modules', '/usr/lib/httpd/modules', '/usr/libexec/apache2'];
export const apacheModuleDir = APACHE_MODULE_DIRS.find((d) => existsSync(path.join(d, 'mod_rewrite.so'))) ?? null;

export interface RunningServer {
  port: number;
  errorLog(): string;
  stop(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === 'object' && addr ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = net.connect({ host: '127.0.0.1', port });
    const done = (ok: boolean): void => {
      sock.destroy();
      resolve(ok);
    };
    sock.setTimeout(500, () => done(false));
    sock.once('connect', () => done(true));
    sock.once('error', () => done(false));
  });
}

async function startAndWait(bin: string, args: string[], ports: number[], logFile: string, what: string, timeoutMs = 15_000): Promise<RunningServer> {
  const child: ChildProcess = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  let exited: number | string | null = null;
  const exit = new Promise<void>((resolve) => child.once('exit', (code, signal) => ((exited = code ?? signal ?? 'unknown'), resolve())));
  const errorLog = (): string => (existsSync(logFile) ? readFileSync(logFile, 'utf8') : '');

  const stop = async (): Promise<void> => {
    if (exited !== null) return;
    child.kill('SIGTERM');
    const timer = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 10_000));
    if ((await Promise.race([exit, timer])) === 'timeout') {
      child.kill('SIGKILL');
      await Promise.race([exit, new Promise((r) => setTimeout(r, 5_000))]);
    }
  };

  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (exited !== null) throw new Error(`${what} exited (${String(exited)}) before listening:\n${output}\n${errorLog()}`);
    const ready = await Promise.all(ports.map(canConnect));
    if (ready.every(Boolean)) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`${what} did not listen on ${ports.join(', ')} within ${timeoutMs} ms:\n${output}\n${errorLog()}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return { port: ports[0]!, errorLog, stop };
}

/** Checks a config without starting a server; returns nginx's own output. */
export function nginxConfigTest(dir: string): string {
  if (!nginxBinary) throw new Error('nginx not installed');
  return execFileSync(nginxBinary, ['-t', '-p', dir, '-e', path.join(dir, 'error.log'), '-c', path.join(dir, 'nginx.conf')], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: 30_000,
  });
}

/**
 * nginx with the generated map included in http{} and one server block per old host, each carrying the
 * generated server snippet, plus a default server that has the snippet too (Host headers of unknown hosts).
 */
export async function startNginx(dir: string, o: { mapFile: string; serverSnippet: string; hosts: string[] }): Promise<RunningServer> {
  if (!nginxBinary) throw new Error('nginx not installed');
  mkdirSync(dir, { recursive: true });
  const port = await freePort();
  writeFileSync(path.join(dir, 'mm2migrate-map.conf'), o.mapFile);
  const server = (names: string, extra = ''): string =>
    [`    server {`, `        listen 127.0.0.1:${port}${extra};`, `        server_name ${names};`, indent(o.serverSnippet, 8), `        return 404;`, `    }`].join('\n');
  const conf = [
    `pid ${path.join(dir, 'nginx.pid')};`,
    `error_log ${path.join(dir, 'error.log')} warn;`,
    'worker_processes 1;',
    'events { worker_connections 128; }',
    'http {',
    '    access_log off;',
    ...['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((t) => `    ${t}_temp_path ${path.join(dir, `${t}_temp`)};`),
    `    include ${path.join(dir, 'mm2migrate-map.conf')};`,
    server('_', ' default_server'),
    ...o.hosts.map((h) => server(h)),
    '}',
    '',
  ].join('\n');
  writeFileSync(path.join(dir, 'nginx.conf'), conf);
  const args = ['-p', dir, '-e', path.join(dir, 'error.log'), '-c', path.join(dir, 'nginx.conf'), '-g', 'daemon off;'];
  return startAndWait(nginxBinary, args, [port], path.join(dir, 'error.log'), 'nginx');
}

function indent(s: string, n: number): string {
  return s
    .trimEnd()
    .split('\n')
    .map((l) => ' '.repeat(n) + l)
    .join('\n');
}

function compiledApacheModules(): string {
  if (!apacheBinary) return '';
  try {
    return execFileSync(apacheBinary, ['-l'], { encoding: 'utf8', timeout: 10_000 });
  } catch {
    return '';
  }
}

/**
 * Apache httpd (`-f <conf> -DFOREGROUND`) with its own ServerRoot, PidFile, ErrorLog and runtime dir. Each
 * listener gets one <VirtualHost> per old host holding that host's generated snippet.
 */
export async function startApache(
  dir: string,
  listeners: { vhosts: { host: string; snippet: string }[] }[],
): Promise<RunningServer & { ports: number[] }> {
  if (!apacheBinary || !apacheModuleDir) throw new Error('apache2 / mod_rewrite not installed');
  mkdirSync(path.join(dir, 'run'), { recursive: true });
  // The map is read by the worker processes, which drop to an unprivileged user when started as root.
  chmodSync(dir, 0o755);
  const ports: number[] = [];
  for (const _ of listeners) ports.push(await freePort());
  const compiled = compiledApacheModules();
  const modules = ['mpm_event', 'authz_core', 'rewrite', 'unixd']
    .filter((m) => !compiled.includes(`mod_${m}.c`) && existsSync(path.join(apacheModuleDir, `mod_${m}.so`)))
    .map((m) => `LoadModule ${m}_module "${path.join(apacheModuleDir, `mod_${m}.so`)}"`);
  const asRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  const conf = [
    `ServerRoot "${dir}"`,
    `DefaultRuntimeDir "${path.join(dir, 'run')}"`,
    `PidFile "${path.join(dir, 'run', 'httpd.pid')}"`,
    `ErrorLog "${path.join(dir, 'error.log')}"`,
    'LogLevel warn',
    ...modules,
    ...(asRoot ? ['User #65534', 'Group #65534'] : []),
    'ServerName 127.0.0.1',
    'StartServers 1',
    'ServerLimit 1',
    'ThreadsPerChild 16',
    'MaxRequestWorkers 16',
    ...ports.map((p) => `Listen 127.0.0.1:${p}`),
    ...listeners.flatMap((l, i) =>
      l.vhosts.map((v) => [`<VirtualHost 127.0.0.1:${ports[i]}>`, `    ServerName ${v.host}`, indent(v.snippet, 4), '</VirtualHost>'].join('\n')),
    ),
    '',
  ].join('\n');
  const confPath = path.join(dir, 'httpd.conf');
  writeFileSync(confPath, conf);
  const running = await startAndWait(apacheBinary, ['-f', confPath, '-DFOREGROUND'], ports, path.join(dir, 'error.log'), 'apache2');
  return { ...running, ports };
}

/** httxt2dbm -i txt -o dbm (bounded). */
export function buildDbm(txt: string, dbm: string): void {
  if (!httxt2dbmBinary) throw new Error('httxt2dbm not installed');
  execFileSync(httxt2dbmBinary, ['-i', txt, '-o', dbm], { stdio: ['ignore', 'pipe', 'pipe'], timeout: 60_000 });
}
