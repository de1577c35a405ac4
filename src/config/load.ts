import { readFile } from 'node:fs/promises';
import path from 'node:path';
import YAML from 'yaml';
import type { z } from 'zod';
import { UserError } from '../problems.js';
import { ConfigSchema, type Config } from './schema.js';

/** A loaded configuration with every path made absolute (relative paths are relative to the file). */
export interface LoadedConfig extends Config {
  file: string;
}

export async function loadConfig(file: string): Promise<LoadedConfig> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new UserError(`${file}: cannot read config file (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
  let data: unknown;
  try {
    data = /\.json$/i.test(file) ? JSON.parse(text) : YAML.parse(text);
  } catch (err) {
    throw new UserError(`${file}: not valid ${/\.json$/i.test(file) ? 'JSON' : 'YAML'}: ${firstLine(err)}`);
  }
  const parsed = ConfigSchema.safeParse(data ?? {});
  if (!parsed.success) throw new UserError(`${file}: ${describeIssue(parsed.error.issues[0]!)}`);
  const dir = path.dirname(path.resolve(file));
  const cfg = parsed.data;
  return {
    ...cfg,
    file: path.resolve(file),
    source: { ...cfg.source, root: path.resolve(dir, cfg.source.root) },
    state: path.resolve(dir, cfg.state),
    reports: path.resolve(dir, cfg.reports),
  };
}

function describeIssue(issue: z.core.$ZodIssue): string {
  const key = issue.path.length ? issue.path.join('.') : '(top level)';
  if (issue.code === 'unrecognized_keys') return `${key === '(top level)' ? '' : key + ': '}unknown key ${issue.keys.map((k) => `"${k}"`).join(', ')}`;
  if (issue.code === 'invalid_union' && key.endsWith('target')) return `${key}: kind must be "mailman3" or "discourse"`;
  return `key "${key}": ${issue.message}`;
}

function firstLine(err: unknown): string {
  return String(err instanceof Error ? err.message : err).split('\n')[0]!;
}

/** Reads a secret from the environment variable the config names; the value never enters a message. */
export function secretFromEnv(envVar: string, what: string): string {
  const value = process.env[envVar];
  if (!value) throw new UserError(`${what}: environment variable ${envVar} is not set`);
  return value;
}
