// Secrets and personal data: a full run of the CLI — inspect, migrate (once SIGKILLed mid-replay,
// which leaves the SQLite -wal/-shm files behind), migrate again, verify, redirects in every
// format, status, and the error paths (a refused key, a target failing every request) —
// with distinctive secret values in the environment. Then every file of the reports folder, the
// state database with its -wal/-shm, the redirect maps and the stdout/stderr of every command are
// searched for each secret (as is, base64, and as a Basic-auth token), every member password of
// config.pck and every list password hash. The state database and the reports are owner-only.
// The HTML report shows markup from a message (a quarantined message's Subject, a Date header)
// as text in Chromium.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { cp, mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDiscourseDouble, type DiscourseDouble } from './doubles/discourse-double.js';
import { CHROMIUM, dumpDom } from './helpers/chromium.js';
import { runCli, type CliResult } from './helpers/cli.js';
import { discourseConfig, FAST_CLIENT, runList, tempDir } from './helpers/discourse-run.js';
import { spawnCli } from './helpers/kill-harness.js';
import { MM3_ENV, startMailman3Fixture, uniqueDomain, writeMailman3Config, type Mailman3Fixture } from './helpers/mailman3-run.js';
import { ROOT, SAMPLE_LISTS, SAMPLE_ROOT } from './helpers/sample.js';

const KEY_ENV = 'MM2M_SECRETS_TEST_DISCOURSE_KEY';
const DISCOURSE_KEY = 'mm2mSecretDiscourseKey-7c1f0e9a2b';
const WRONG_KEY = 'mm2mSecretWrongKey-4d2b8a61ce';
const MARKUP_SUBJECT = 'Subject: <b>Markup</b> <script>document.title="owned"</script><img src=x onerror="document.title=1">';
const MARKUP_DATE = '<i>jamais</i>';

/** Member passwords (≥ 6 characters, shorter ones match by chance) and list password hashes of the sample lists. */
function sourceSecrets(): { what: string; value: string }[] {
  const out: { what: string; value: string }[] = [];
  for (const list of SAMPLE_LISTS) {
    const e = JSON.parse(readFileSync(path.join(ROOT, 'fixtures/expected', `${list}.json`), 'utf8')) as {
      members: { key: string; password?: string | null }[];
      config_pck_full: Record<string, { text?: string } | null>;
    };
    for (const m of e.members) if (m.password && m.password.length >= 6) out.push({ what: `${list} member ${m.key}'s password`, value: m.password });
    for (const k of ['password', 'mod_password', 'post_password']) {
      const v = e.config_pck_full[k]?.text;
      if (v && v.length >= 6) out.push({ what: `${list} ${k} hash`, value: v });
    }
  }
  return out;
}

/** The needles for one secret: as is, base64, and inside an HTTP Basic token when a user goes with it. */
function needles(secret: { what: string; value: string; user?: string }): { what: string; bytes: Buffer }[] {
  const out = [
    { what: secret.what, bytes: Buffer.from(secret.value) },
    { what: `${secret.what} (base64)`, bytes: Buffer.from(Buffer.from(secret.value).toString('base64').replace(/=+$/, '')) },
  ];
  if (secret.user) out.push({ what: `${secret.what} (Basic auth)`, bytes: Buffer.from(Buffer.from(`${secret.user}:${secret.value}`).toString('base64').replace(/=+$/, '')) });
  return out;
}

async function filesUnder(dir: string): Promise<string[]> {
  if (!existsSync(dir)) return [];
  return (await readdir(dir, { recursive: true })).map((f) => path.join(dir, String(f)));
}

/** Copy of the sample installation with markup in a quarantined message's Subject and in a Date header. */
async function hostileCopy(dir: string): Promise<string> {
  const root = path.join(dir, 'mailman2');
  await cp(SAMPLE_ROOT, root, { recursive: true });
  const devtalk = path.join(root, 'archives/private/devtalk.mbox/devtalk.mbox');
  // A message without From_ line at the start of the mbox: quarantined, its first line quoted in the report.
  await writeFile(devtalk, Buffer.concat([Buffer.from(`${MARKUP_SUBJECT}\nFrom: mallory@example.org\n\nhello\n\n`), readFileSync(devtalk)]));
  const fr = path.join(root, 'archives/private/liste-fr.mbox/liste-fr.mbox');
  const text = readFileSync(fr, 'latin1');
  await writeFile(fr, text.replace(/^Date: .*$/m, `Date: ${MARKUP_DATE}`), 'latin1');
  return root;
}

interface Outputs {
  results: { args: string[]; r: CliResult }[];
  /** Files whose bytes are searched, besides the reports folder and the state database. */
  extraFiles: string[];
  /** -wal/-shm files as they were while a killed run had left them. */
  walSnapshots: { name: string; bytes: Buffer; mode: number }[];
}

async function leaks(outputs: Outputs, reports: string, state: string, secrets: { what: string; value: string; user?: string }[]): Promise<string[]> {
  const haystacks: { where: string; bytes: Buffer }[] = [];
  for (const { args, r } of outputs.results) {
    haystacks.push({ where: `stdout of ${args.join(' ')}`, bytes: Buffer.from(r.stdout) }, { where: `stderr of ${args.join(' ')}`, bytes: Buffer.from(r.stderr) });
  }
  for (const f of [...(await filesUnder(reports)), state, `${state}-wal`, `${state}-shm`, ...outputs.extraFiles]) {
    if (existsSync(f) && (await stat(f)).isFile()) haystacks.push({ where: f, bytes: await readFile(f) });
  }
  for (const w of outputs.walSnapshots) haystacks.push({ where: `${w.name} after a SIGKILL`, bytes: w.bytes });
  const found: string[] = [];
  for (const s of secrets) {
    for (const n of needles(s)) {
      for (const h of haystacks) if (h.bytes.includes(n.bytes)) found.push(`${n.what} in ${h.where}`);
    }
  }
  return found;
}

async function openToOthers(reports: string, state: string, outputs: Outputs): Promise<string[]> {
  const bad: string[] = [];
  for (const f of [reports, ...(await filesUnder(reports)), state, `${state}-wal`, `${state}-shm`]) {
    if (!existsSync(f)) continue;
    const mode = (await stat(f)).mode & 0o777;
    if (mode & 0o077) bad.push(`${f}: mode ${mode.toString(8)}`);
  }
  for (const w of outputs.walSnapshots) if (w.mode & 0o077) bad.push(`${w.name} (while left by a killed run): mode ${(w.mode & 0o777).toString(8)}`);
  return bad;
}

describe('Discourse target', () => {
  let d: DiscourseDouble;
  let dir: string;
  let configFile: string;
  let reports: string;
  let state: string;
  let outputs: Outputs;

  beforeAll(async () => {
    d = await startDiscourseDouble({
      adminRequestsPerMinute: 1_000_000,
      siteSettings: { disable_emails: 'yes', authorized_extensions: '*' },
      apiKeys: [{ key: DISCOURSE_KEY, description: 'secrets test' }],
    });
    dir = await tempDir('mm2m-secrets-');
    const { file: _f, ...cfg } = discourseConfig(dir, d.url, d.adminUsername, { requestsPerMinute: 1_000_000, apiKeyEnv: KEY_ENV });
    cfg.source = { ...cfg.source, root: await hostileCopy(dir), timeZone: 'America/New_York' };
    configFile = path.join(dir, 'config.json');
    await writeFile(configFile, JSON.stringify(cfg));
    reports = cfg.reports;
    state = cfg.state;
    const out = path.join(dir, 'out');
    await mkdir(out);
    outputs = { results: [], extraFiles: [], walSnapshots: [] };
    const env = { [KEY_ENV]: DISCOURSE_KEY };
    const run = async (args: string[], e: NodeJS.ProcessEnv = env): Promise<CliResult> => {
      const r = await runCli(args, { env: e, timeoutMs: 120_000 });
      outputs.results.push({ args, r });
      return r;
    };
    const c = ['--config', configFile];

    await run(['inspect', '--source', cfg.source.root, '--json']);
    await run(['inspect', '--source', cfg.source.root]);
    await run(['migrate', ...c, '--all', '--dry-run']);
    // A run killed in the middle of the replay leaves the write-ahead log behind.
    d.setFault({ match: /^POST \/posts/, rate: 1, kinds: ['slow'], slowMs: 20 });
    const killed = spawnCli(['migrate', ...c, '--all', '--log-json', '--debug'], { env });
    await killed.waitUntil(() => d.state.posts.size > 20);
    killed.child.kill('SIGKILL');
    const k = await killed.exited;
    outputs.results.push({ args: ['migrate (killed)'], r: { code: k.code, signal: k.signal, stdout: k.stdout, stderr: k.stderr } });
    for (const suffix of ['-wal', '-shm']) {
      if (existsSync(state + suffix)) outputs.walSnapshots.push({ name: path.basename(state + suffix), bytes: await readFile(state + suffix), mode: (await stat(state + suffix)).mode });
    }
    d.setFault(null);
    const migrated = await run(['migrate', ...c, '--all', '--log-json', '--debug']);
    expect(migrated.code, migrated.stderr.slice(-2000)).toBe(0);
    await run(['migrate', ...c, '--all']);
    await run(['verify', ...c, '--all']);
    await run(['verify', ...c, '--all', '--json']);
    await run(['verify', ...c, '--all', '--redirects']);
    for (const [format, file] of [['nginx', 'map.conf'], ['apache', 'rewrite.map'], ['csv', 'redirects.csv'], ['json', 'redirects.json'], ['discourse-permalinks', 'permalinks.json']] as const) {
      await run(['redirects', ...c, '--all', '--format', format, '--out', path.join(out, file), '--json']);
    }
    await run(['redirects', ...c, '--all', '--format', 'json']);
    await run(['status', ...c]);
    await run(['status', ...c, '--json']);
    // Error paths: a key the site refuses, and a site that fails every request (with stack traces).
    await run(['migrate', ...c, '--list', 'nihongo', '--debug'], { [KEY_ENV]: WRONG_KEY });
    // A site failing every request: in-process with a short backoff (the CLI retries for a minute),
    // so that the error lands in the state database and the reports searched below.
    d.setFault({ rate: 1, kinds: ['500', 'reset'] });
    process.env[KEY_ENV] = DISCOURSE_KEY;
    try {
      const failed = await runList({ ...cfg, file: configFile }, 'nihongo', { target: { client: FAST_CLIENT } });
      outputs.results.push({ args: ['(in-process) migrate nihongo against a failing site'], r: { code: failed.outcome.ok ? 0 : 1, signal: null, stdout: JSON.stringify(failed.outcome.report), stderr: failed.outcome.report.error ?? '' } });
      expect(failed.outcome.report.status).toBe('failed');
    } finally {
      delete process.env[KEY_ENV];
      d.setFault(null);
    }
    outputs.extraFiles.push(...(await filesUnder(out)));
  }, 300_000);
  afterAll(() => d?.close());

  it('ran every command (the outputs below are the real ones)', () => {
    expect(outputs.results.length).toBeGreaterThanOrEqual(15);
    expect(outputs.walSnapshots.map((w) => w.name).sort()).toEqual(['state.sqlite-shm', 'state.sqlite-wal']);
    expect(outputs.extraFiles.length).toBeGreaterThanOrEqual(5);
    const refused = outputs.results.find((o) => o.args.includes('nihongo') && o.r.code !== 0);
    expect(refused?.r.stderr).toMatch(/403|refused/);
  });

  it('no secret, member password or list password hash appears in any output, report or the state database', async () => {
    const secrets = [
      { what: 'Discourse API key', value: DISCOURSE_KEY },
      { what: 'refused Discourse API key', value: WRONG_KEY },
      ...sourceSecrets(),
    ];
    expect(secrets.length).toBeGreaterThan(20);
    expect(await leaks(outputs, reports, state, secrets)).toEqual([]);
  });

  it('the state database (with -wal/-shm) and every report file and folder are readable by the owner only', async () => {
    expect(await openToOthers(reports, state, outputs)).toEqual([]);
  });

  it.skipIf(!CHROMIUM)('markup from a message is shown as text in the HTML report', async () => {
    const dom = await dumpDom(path.join(reports, 'devtalk', 'report.html'));
    // The problem quotes the start of the quarantined entry: markup and the start of a script tag.
    expect(dom).toContain('&lt;b&gt;Markup&lt;/b&gt; &lt;script&gt;docum');
    expect(dom).not.toContain('<b>Markup</b>');
    expect(dom).not.toMatch(/<script>docum/);
    expect(dom).not.toMatch(/<img[^>]*onerror/i);
    expect(dom).toContain('<title>mm2migrate: devtalk</title>');
    const fr = await dumpDom(path.join(reports, 'liste-fr', 'report.html'));
    expect(fr).toContain('&lt;i&gt;jamais&lt;/i&gt;');
    expect(fr).not.toContain(MARKUP_DATE);
  }, 120_000);
});

// --- Mailman 3 --------------------------------------------------------------------------------

describe('Mailman 3 target', () => {
  let f: Mailman3Fixture;
  let outputs: Outputs;
  let reports: string;
  let state: string;

  beforeAll(async () => {
    f = await startMailman3Fixture();
    const dir = await tempDir('mm2m-secrets-mm3-');
    const run = await writeMailman3Config(f, dir, { domain: uniqueDomain('x'), sourceRoot: await hostileCopy(dir) });
    reports = run.reports;
    state = run.state;
    const out = path.join(dir, 'out');
    await mkdir(out);
    outputs = { results: [], extraFiles: [], walSnapshots: [] };
    const exec = async (args: string[], e: NodeJS.ProcessEnv = run.env): Promise<CliResult> => {
      const r = await runCli(args, { env: e, timeoutMs: 600_000 });
      outputs.results.push({ args, r });
      return r;
    };
    // A private and a public list keep the run short; the Discourse run above covers all four.
    const c = ['--config', run.configFile];
    const lists = ['--list', 'liste-fr', '--list', 'nihongo'];
    await exec(['migrate', ...c, ...lists, '--log-json', '--debug']);
    await exec(['migrate', ...c, ...lists]);
    await exec(['verify', ...c, ...lists, '--debug']);
    await exec(['verify', ...c, ...lists, '--json']);
    for (const [format, file] of [['nginx', 'map.conf'], ['apache', 'rewrite.map'], ['csv', 'redirects.csv'], ['json', 'redirects.json']] as const) {
      await exec(['redirects', ...c, ...lists, '--format', format, '--out', path.join(out, file)]);
    }
    await exec(['status', ...c, '--json']);
    // Error paths: a wrong REST password, a wrong archiver key and a wrong HyperKitty password, all distinctive.
    await exec(['migrate', ...c, '--list', 'nihongo', '--debug'], { ...run.env, [MM3_ENV.rest]: WRONG_KEY });
    await exec(['migrate', ...c, '--list', 'nihongo', '--debug'], { ...run.env, [MM3_ENV.archiver]: WRONG_KEY });
    await exec(['verify', ...c, '--list', 'liste-fr', '--debug'], { ...run.env, [MM3_ENV.hk]: WRONG_KEY });
    outputs.extraFiles.push(...(await filesUnder(out)));
  }, 900_000);
  afterAll(() => f?.stack.stop());

  it('the migration itself succeeded (otherwise the search below proves little)', () => {
    const m = outputs.results[0]!;
    expect(m.r.code, `migrate failed:\n${m.r.stdout}\n${m.r.stderr.split('\n').filter((l) => !l.includes('"type":"p')).join('\n').slice(-4000)}`).toBe(0);
  });

  it('no REST password, archiver key, HyperKitty password, member password or list password hash appears anywhere', async () => {
    const secrets = [
      { what: 'Mailman REST password', value: f.stack.restPassword, user: f.stack.restUser },
      { what: 'HyperKitty archiver key', value: f.stack.archiverKey },
      { what: 'HyperKitty superuser password', value: f.hkPassword, user: f.hkUser },
      { what: 'wrong password/key', value: WRONG_KEY, user: f.stack.restUser },
      ...sourceSecrets(),
    ];
    expect(await leaks(outputs, reports, state, secrets)).toEqual([]);
  });

  it('the state database and every report file and folder are readable by the owner only', async () => {
    expect(await openToOthers(reports, state, outputs)).toEqual([]);
  });
});

// The sample installation itself must not be changed by any of this (hostileCopy works on a copy).
it('left the bundled fixtures untouched', () => {
  const status = execFileSync('git', ['status', '--porcelain', '--', 'fixtures'], { cwd: ROOT, encoding: 'utf8' });
  expect(status).toBe('');
});
