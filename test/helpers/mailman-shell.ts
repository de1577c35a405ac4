import { spawn } from 'node:child_process';

/**
 * Runs a Python script inside `mailman shell` on the test stack and returns the JSON it printed
 * after `MARKER=` (the shell also prints its own banner and prompts).
 */
export function mailmanShellJson<T>(mailmanCommand: string[], shellArgs: string[], script: string, marker: string): Promise<T> {
  const [command, ...args] = mailmanCommand;
  return new Promise((resolve, reject) => {
    const child = spawn(command!, [...args, 'shell', ...shellArgs], {
      env: { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', LANG: 'C.UTF-8' },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString('utf8')));
    child.stderr.on('data', (c: Buffer) => (err += c.toString('utf8')));
    child.on('error', reject);
    child.on('close', () => {
      const line = out.split('\n').find((l) => l.includes(`${marker}=`));
      if (!line) reject(new Error(`mailman shell printed no ${marker}: ${out} ${err}`));
      else resolve(JSON.parse(line.slice(line.indexOf(`${marker}=`) + marker.length + 1)) as T);
    });
    child.stdin.end(script);
  });
}
