/**
 * test/stack/mailman3-stack.ts finds start.sh, stop.sh, stack.py and the HyperKitty project next to
 * itself. The bench runs it compiled (dist/test/stack/), where tsc writes only the .js, so those
 * files are copied beside it first.
 */
import { existsSync } from 'node:fs';
import { cp, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const SOURCE = path.join(REPO_ROOT, 'test', 'stack');
const COMPILED = path.join(REPO_ROOT, 'dist', 'test', 'stack');
const FILES = ['start.sh', 'stop.sh', 'stack.py', 'hyperkitty'];

export async function placeStackFiles(): Promise<void> {
  for (const name of FILES) {
    const from = path.join(SOURCE, name);
    if (!existsSync(from)) throw new Error(`${from} is missing: the Mailman 3 test stack is not part of this checkout`);
  }
  await mkdir(COMPILED, { recursive: true });
  // Copied every run: a stale copy would start the stack with old settings.
  for (const name of FILES) await cp(path.join(SOURCE, name), path.join(COMPILED, name), { recursive: true, force: true });
}
