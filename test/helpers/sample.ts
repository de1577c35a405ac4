import { readFileSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigSchema } from '../../src/config/schema.js';
import type { LoadedConfig } from '../../src/config/load.js';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const SAMPLE_ROOT = path.join(ROOT, 'fixtures/mailman2');
export const SAMPLE_LISTS = ['devtalk', 'liste-fr', 'nihongo', 'oldproject'] as const;

// Only what the tests read from EXPECTED.json (see fixtures/expected and shared/fixtures/mailman2/README.md).
export interface ExpectedArticle {
  number: number;
  period: string;
  filename: string;
  url: string;
  message_id: string;
  in_reply_to: string;
  references: string[];
  date_epoch: number;
  mbox_chunk: number;
  mbox_chunk_offset: number;
  mbox_chunk_message_id: string | null;
}

export interface Expected {
  list: { name: string; archive_base_url: string; public_archive: boolean; archive_volume_frequency: number };
  members: { key: string; address: string; digest: boolean; delivery_status: string }[];
  archive: { articles: ExpectedArticle[]; stray_html_files: string[] };
  mbox: { chunks_as_split_by_mailman_PortableUnixMailbox: { offset: number; length?: number }[] };
}

export function expected(list: string): Expected {
  return JSON.parse(readFileSync(path.join(ROOT, 'fixtures/expected', `${list}.json`), 'utf8')) as Expected;
}

/** A config for the bundled sample installation with its state and reports in a fresh temp dir. */
export async function sampleConfig(target: Partial<LoadedConfig['target']> = {}): Promise<LoadedConfig> {
  const dir = await mkdtemp(path.join(tmpdir(), 'mm2m-sample-'));
  const base = JSON.parse(readFileSync(path.join(ROOT, 'fixtures/sample.config.json'), 'utf8')) as Record<string, unknown>;
  const parsed = ConfigSchema.parse({
    ...base,
    source: { root: SAMPLE_ROOT, timeZone: 'America/New_York' },
    target: { ...(base.target as object), ...target },
    state: path.join(dir, 'state.sqlite'),
    reports: path.join(dir, 'reports'),
  });
  return { ...parsed, file: path.join(dir, 'config.json') };
}
