import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { UserError } from '../problems.js';

/** Where one list's data lives inside a Mailman 2 prefix. */
export interface ListPaths {
  name: string;
  configPck: string;
  /** archives/private/<name>.mbox/<name>.mbox (or .mbox.gz) when it exists. */
  mbox: string | null;
  /** archives/private/<name>/ when it exists (pipermail HTML). */
  pipermail: string | null;
}

/** Mailman 2 list names are restricted by bin/newlist; anything else is refused, never used as a path. */
const LIST_NAME = /^[a-z0-9][a-z0-9._+-]*$/i;

export function isValidListName(name: string): boolean {
  return LIST_NAME.test(name) && name !== '.' && name !== '..' && !name.includes('..');
}

/** Lists the lists of a Mailman 2 prefix (the folder holding lists/ and archives/). */
export async function discoverLists(root: string): Promise<string[]> {
  const listsDir = path.join(root, 'lists');
  let entries;
  try {
    entries = await readdir(listsDir, { withFileTypes: true });
  } catch (err) {
    throw new UserError(`${listsDir}: not a Mailman 2 installation (${(err as NodeJS.ErrnoException).code ?? err})`);
  }
  return entries
    .filter((e) => e.isDirectory() && isValidListName(e.name))
    .map((e) => e.name)
    .sort();
}

export async function listPaths(root: string, name: string): Promise<ListPaths> {
  if (!isValidListName(name)) throw new UserError(`list name "${name}" is not a valid Mailman 2 list name`);
  const priv = path.join(root, 'archives', 'private');
  const mboxBase = path.join(priv, `${name}.mbox`, `${name}.mbox`);
  const mbox = (await isFile(mboxBase)) ? mboxBase : (await isFile(`${mboxBase}.gz`)) ? `${mboxBase}.gz` : null;
  const html = path.join(priv, name);
  return {
    name,
    configPck: path.join(root, 'lists', name, 'config.pck'),
    mbox,
    pipermail: (await isDir(html)) ? html : null,
  };
}

async function isFile(p: string): Promise<boolean> {
  return stat(p).then((s) => s.isFile(), () => false);
}

async function isDir(p: string): Promise<boolean> {
  return stat(p).then((s) => s.isDirectory(), () => false);
}
