import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export const CHROMIUM = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => existsSync(p)) ?? null;

/** Flags for a closed network: no background connections, no first-run UI, a throw-away profile. */
async function flags(): Promise<string[]> {
  const profile = await mkdtemp(path.join(tmpdir(), 'mm2m-chromium-'));
  return [
    '--headless',
    '--no-sandbox',
    '--disable-gpu',
    '--disable-quic',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    `--user-data-dir=${profile}`,
  ];
}

/** The DOM of a page after Chromium loaded and rendered it. */
export async function dumpDom(file: string): Promise<string> {
  if (!CHROMIUM) throw new Error('chromium is not installed (test/setup/install-system-packages.sh installs it)');
  const { stdout } = await run(CHROMIUM, [...(await flags()), '--virtual-time-budget=2000', '--dump-dom', `file://${file}`], {
    timeout: 60_000,
    maxBuffer: 64 << 20,
  });
  return stdout;
}

export async function screenshot(file: string, png: string): Promise<void> {
  if (!CHROMIUM) throw new Error('chromium is not installed');
  await run(CHROMIUM, [...(await flags()), '--window-size=1280,1600', `--screenshot=${png}`, `file://${file}`], { timeout: 60_000 });
}
