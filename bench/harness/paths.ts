/** Where things are, from the compiled location dist/bench/harness/ back to the checkout. */
import { fileURLToPath } from 'node:url';
import path from 'node:path';

export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const DIST_BENCH = path.join(REPO_ROOT, 'dist', 'bench');
export const DATA_DIR = path.join(REPO_ROOT, 'bench', 'data');
/** Scratch space for state databases and maps; on the same disk as the data. */
export const WORK_DIR = path.join(DATA_DIR, 'work');
export const PROFILE_DIR = path.join(DATA_DIR, 'profiles');
export const RESULTS_FILE = path.join(REPO_ROOT, 'bench', 'results.json');
export const GENERATOR_CLI = path.join(DIST_BENCH, 'generate', 'cli.js');
export const MAIN_CLI = path.join(REPO_ROOT, 'dist', 'src', 'cli', 'main.js');

export function measureScript(name: string): string {
  return path.join(DIST_BENCH, 'measure', name);
}

/** The Python baseline is not compiled; it is run from the source tree. */
export const PYTHON_BASELINE = path.join(REPO_ROOT, 'bench', 'measure', 'python-mailbox.py');
