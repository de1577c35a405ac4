import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig, secretFromEnv } from '../src/config/load.js';
import { UserError } from '../src/problems.js';

async function configFile(name: string, text: string): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'mm2m-config-'));
  const file = path.join(dir, name);
  await writeFile(file, text);
  return file;
}

const valid = `
source:
  root: ./mailman
target:
  kind: mailman3
  rest: { url: http://127.0.0.1:8001, user: restadmin, passwordEnv: MM_REST_PASS }
  hyperkitty: { url: http://127.0.0.1:8000/hyperkitty/, archiverKeyEnv: HK_KEY }
archive:
  cgiExtension: .cgi
state: ./state.sqlite
`;

async function errorOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(UserError);
    return (err as Error).message;
  }
  throw new Error('expected an error');
}

describe('config file', () => {
  it('loads YAML and resolves paths relative to the file', async () => {
    const file = await configFile('m.yaml', valid);
    const cfg = await loadConfig(file);
    expect(cfg.source.root).toBe(path.join(path.dirname(file), 'mailman'));
    expect(cfg.state).toBe(path.join(path.dirname(file), 'state.sqlite'));
    expect(cfg.reports).toBe(path.join(path.dirname(file), 'reports'));
    expect(cfg.archive.cgiExtension).toBe('.cgi');
    expect(cfg.target.kind).toBe('mailman3');
  });

  it('loads JSON with discourse defaults', async () => {
    const file = await configFile(
      'm.json',
      JSON.stringify({ source: { root: '/srv/mailman' }, target: { kind: 'discourse', url: 'https://forum.example.org', apiKeyEnv: 'DISCOURSE_KEY', apiUsername: 'system' } }),
    );
    const cfg = await loadConfig(file);
    expect(cfg.target.kind === 'discourse' && cfg.target.requestsPerMinute).toBe(60);
    expect(cfg.source.root).toBe('/srv/mailman');
  });

  it('names the file and the key of a wrong value', async () => {
    const file = await configFile('bad.yaml', valid.replace('http://127.0.0.1:8001', 'not a url'));
    const msg = await errorOf(loadConfig(file));
    expect(msg).toContain(file);
    expect(msg).toContain('target.rest.url');
  });

  it('names an unknown key', async () => {
    const file = await configFile('bad.yaml', valid + 'colour: blue\n');
    const msg = await errorOf(loadConfig(file));
    expect(msg).toContain('"colour"');
  });

  it('rejects a secret written where an environment variable name belongs', async () => {
    const file = await configFile('bad.yaml', valid.replace('passwordEnv: MM_REST_PASS', 'passwordEnv: "s3cr3t pass!"'));
    const msg = await errorOf(loadConfig(file));
    expect(msg).toContain('target.rest.passwordEnv');
    expect(msg).not.toContain('s3cr3t');
  });

  it('rejects an unknown target kind and a missing source', async () => {
    expect(await errorOf(loadConfig(await configFile('k.yaml', valid.replace('kind: mailman3', 'kind: sympa'))))).toContain('target');
    expect(await errorOf(loadConfig(await configFile('s.yaml', valid.replace(/source:\n {2}root: .\/mailman\n/, ''))))).toContain('source');
  });

  it('reports YAML syntax errors and unreadable files with the path', async () => {
    const file = await configFile('broken.yaml', 'source: [unclosed\n');
    expect(await errorOf(loadConfig(file))).toMatch(/broken\.yaml: not valid YAML/);
    expect(await errorOf(loadConfig('/nonexistent/mm2migrate.yaml'))).toContain('/nonexistent/mm2migrate.yaml: cannot read');
  });

  it('reads secrets from the environment and never echoes them', () => {
    process.env.MM2M_TEST_SECRET = 'hunter2';
    expect(secretFromEnv('MM2M_TEST_SECRET', 'rest password')).toBe('hunter2');
    delete process.env.MM2M_TEST_SECRET;
    expect(() => secretFromEnv('MM2M_TEST_SECRET', 'rest password')).toThrow(/MM2M_TEST_SECRET is not set/);
  });
});
