import { loadConfig, type LoadedConfig } from '../config/load.js';
import { discoverListFolders, isValidListName, type SkippedListFolder } from '../mailman2/installation.js';
import { UserError } from '../problems.js';
import { StateDb } from '../state/db.js';
import { Store } from '../state/store.js';

export interface Session {
  cfg: LoadedConfig;
  store: Store;
  close(): Promise<void>;
}

export async function openSession(configFile: string): Promise<Session> {
  const cfg = await loadConfig(configFile);
  const db = await StateDb.open(cfg.state);
  const store = await Store.open(db);
  return { cfg, store, close: () => db.close() };
}

/**
 * `--all` or the named lists, each checked against the installation. Folders `--all` does not take
 * (hostile names, symlinks leading outside) are passed to `onSkipped` so that the run names them.
 */
export async function selectLists(cfg: LoadedConfig, names: string[], all: boolean, onSkipped?: (s: SkippedListFolder) => void): Promise<string[]> {
  if (all && names.length) throw new UserError('give either --all or --list, not both', 2);
  if (!all && !names.length) throw new UserError('name the lists to work on with --list NAME (repeatable) or use --all', 2);
  // A name such as ../../etc never reaches a path (issue 8: list names from the command line are validated first).
  for (const n of names) {
    if (!isValidListName(n)) throw new UserError(`--list ${JSON.stringify(n)}: not a valid Mailman 2 list name (letters, digits and ._+- only)`, 2);
  }
  const { lists: available, skipped } = await discoverListFolders(cfg.source.root);
  if (all) {
    for (const s of skipped) onSkipped?.(s);
    return available;
  }
  for (const n of names) {
    if (!available.includes(n)) throw new UserError(`${cfg.source.root}/lists/${n}/config.pck: no such list in the source installation`, 2);
  }
  return [...new Set(names)];
}
