import { chmod, mkdir, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { isValidListName } from '../mailman2/installation.js';
import { UserError } from '../problems.js';

/**
 * Reports hold rosters: the folder is created for its owner only, and files are written whole
 * (temp file + rename) so an interrupted run never leaves half a report.
 */
export async function ensureReportDir(root: string, list?: string): Promise<string> {
  if (list !== undefined && !isValidListName(list)) throw new UserError(`list name "${list}" is not usable as a folder name`);
  const dir = list === undefined ? root : path.join(root, list);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await chmod(dir, 0o700);
  return dir;
}

export async function writeReportFile(dir: string, name: string, content: string | Buffer): Promise<string> {
  const file = path.join(dir, name);
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, content, { mode: 0o600 });
  await rename(tmp, file);
  return file;
}
