import { readdir, realpath, stat } from 'node:fs/promises';
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

/** A folder under lists/ that is not taken as a list, and why (shown to the operator, never silently dropped). */
export interface SkippedListFolder {
  name: string;
  reason: string;
}

/** Lists the lists of a Mailman 2 prefix (the folder holding lists/ and archives/). */
export async function discoverLists(root: string): Promise<string[]> {
  return (await discoverListFolders(root)).lists;
}

/**
 * The lists of a Mailman 2 prefix, and the folders under lists/ that are skipped: names Mailman 2
 * could not have created (they would become paths under reports/), and symlinks leading outside
 * the installation. Added for issue 8 (hostile input): these used to be dropped without a word.
 */
export async function discoverListFolders(root: string): Promise<{ lists: string[]; skipped: SkippedListFolder[] }> {
  const listsDir = path.join(root, 'lists');
  let entries;
  try {
    entries = await readdir(listsDir, { withFileTypes: true });
  } catch (err) {
    throw new UserError(`${listsDir}: not a Mailman 2 installation (${(err as NodeJS.ErrnoException).code ?? err})`);
  }
  const lists: string[] = [];
  const skipped: SkippedListFolder[] = [];
  const shown = (name: string): string => `lists/${JSON.stringify(name).slice(1, -1)}`;
  let rootReal: string | null = null;
  for (const e of entries) {
    if (!e.isDirectory() && !e.isSymbolicLink()) continue; // plain files (READMEs, backups) are not lists
    if (e.isSymbolicLink()) {
      const abs = path.join(listsDir, e.name);
      const target = await realpath(abs).catch(() => null);
      if (target === null || !(await isDir(target))) {
        skipped.push({ name: e.name, reason: `${shown(e.name)}: a symbolic link that does not lead to a folder; skipped` });
        continue;
      }
      rootReal ??= await realpath(root);
      const inside = path.relative(rootReal, target);
      if (inside.startsWith('..') || path.isAbsolute(inside)) {
        skipped.push({ name: e.name, reason: `${shown(e.name)}: a symbolic link to ${target}, outside the installation; skipped (copy the list into lists/ to migrate it)` });
        continue;
      }
    }
    if (!isValidListName(e.name)) {
      skipped.push({ name: e.name, reason: `${shown(e.name)}: not a valid Mailman 2 list name (letters, digits and ._+- only); skipped` });
      continue;
    }
    lists.push(e.name);
  }
  return { lists: lists.sort(), skipped: skipped.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)) };
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
