// Path safety: a source installation with hostile list folder names (names with "..", leading
// dots, spaces, backslashes, a newline), list folders and archive folders that are symlinks to
// places outside the installation, and list names such as ../../etc given on the command line.
// Such lists must be refused (exit 2, a one-line error naming the list) or skipped with a clear
// problem; and whatever the tool writes stays inside its reports folder and state database.
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { cp, mkdir, readdir, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { runCli } from './helpers/cli.js';
import { tempDir } from './helpers/discourse-run.js';
import { SAMPLE_ROOT } from './helpers/sample.js';

const HOSTILE_FOLDERS = ['a..b', '.hidden', 'name with space', 'back\\slash', 'new\nline', '-rf', 'ünïcode'];
const HOSTILE_ARGS = ['../../etc', '..', '.', 'nihongo/../../../tmp', '/etc', 'nihongo/..', 'a..b', '.hidden', '..%2f..%2fetc', 'linked', 'NIHONGO '];

let base: string;
let root: string;
let outside: string;
let work: string;
let configFile: string;

/** Every path below `dir` with a fingerprint of its content (files) or kind (folders, links). */
async function snapshot(dir: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const rel of (await readdir(dir, { recursive: true })).map(String)) {
    const abs = path.join(dir, rel);
    const st = await stat(abs).catch(() => null);
    if (!st) out.set(rel, 'dangling');
    else if (st.isFile()) out.set(rel, `${st.mode.toString(8)}:${createHash('sha1').update(await readFile(abs)).digest('hex')}`);
    else out.set(rel, `${st.isDirectory() ? 'dir' : 'other'}:${st.mode.toString(8)}`);
  }
  return out;
}

/** Paths added or changed between two snapshots. */
function changed(before: Map<string, string>, after: Map<string, string>): string[] {
  return [...after].filter(([k, v]) => before.get(k) !== v).map(([k]) => k);
}

beforeAll(async () => {
  base = await tempDir('mm2m-paths-');
  root = path.join(base, 'mailman2');
  outside = path.join(base, 'outside');
  work = path.join(base, 'work');
  await mkdir(path.join(root, 'lists'), { recursive: true });
  await mkdir(path.join(root, 'archives', 'private'), { recursive: true });
  // One ordinary list, copied whole.
  await cp(path.join(SAMPLE_ROOT, 'lists', 'nihongo'), path.join(root, 'lists', 'nihongo'), { recursive: true });
  await cp(path.join(SAMPLE_ROOT, 'archives/private/nihongo.mbox'), path.join(root, 'archives/private/nihongo.mbox'), { recursive: true });
  await cp(path.join(SAMPLE_ROOT, 'archives/private/nihongo'), path.join(root, 'archives/private/nihongo'), { recursive: true });
  // Folders whose names are not Mailman list names, each with a real config.pck and archive.
  for (const name of HOSTILE_FOLDERS) {
    await cp(path.join(SAMPLE_ROOT, 'lists', 'oldproject'), path.join(root, 'lists', name), { recursive: true });
    await mkdir(path.join(root, 'archives/private', `${name}.mbox`), { recursive: true });
    await cp(path.join(SAMPLE_ROOT, 'archives/private/oldproject.mbox/oldproject.mbox'), path.join(root, 'archives/private', `${name}.mbox`, `${name}.mbox`));
  }
  // A list folder that is a symlink to a list outside the installation.
  await cp(path.join(SAMPLE_ROOT, 'lists', 'liste-fr'), path.join(outside, 'lists', 'liste-fr'), { recursive: true });
  await symlink(path.join(outside, 'lists', 'liste-fr'), path.join(root, 'lists', 'linked'));
  // Inside nihongo's pipermail archive: a period folder and a page that are symlinks leading outside.
  await mkdir(path.join(outside, 'period'), { recursive: true });
  await writeFile(path.join(outside, 'period', '000001.html'), '<html>outside</html>');
  await writeFile(path.join(outside, 'secret.txt'), 'not for the archive\n');
  await symlink(path.join(outside, 'period'), path.join(root, 'archives/private/nihongo/Week-of-Mon-20191007'));
  const period = (await readdir(path.join(root, 'archives/private/nihongo'))).find((f) => f.startsWith('Week-of-Mon-2019112'))!;
  await symlink(path.join(outside, 'secret.txt'), path.join(root, 'archives/private/nihongo', period, '009999.html'));
  await symlink('../../../../../outside/secret.txt', path.join(root, 'archives/private/nihongo', period, '009998.html'));

  await mkdir(work);
  configFile = path.join(work, 'config.json');
  await writeFile(
    configFile,
    JSON.stringify({
      source: { root, timeZone: 'UTC' },
      target: { kind: 'discourse', url: 'http://127.0.0.1:9', apiKeyEnv: 'MM2M_PATHS_UNUSED_KEY', apiUsername: 'admin' },
      state: path.join(work, 'state.sqlite'),
      reports: path.join(work, 'reports'),
    }),
  );
});

/** What a run may write: its reports folder and its state database. */
function allowed(rel: string): boolean {
  return rel === 'work/reports' || rel.startsWith('work/reports/') || /^work\/state\.sqlite(-wal|-shm|-journal)?$/.test(rel);
}

describe('list names from the command line', () => {
  it.each(['migrate', 'verify', 'redirects'])('%s refuses each hostile --list with exit 2 and a one-line error naming it', async (command) => {
    const before = await snapshot(base);
    const extra = command === 'redirects' ? ['--format', 'json'] : command === 'migrate' ? ['--dry-run'] : [];
    const results = await Promise.all(HOSTILE_ARGS.map((name) => runCli([command, '--config', configFile, '--list', name, ...extra])));
    for (const [i, name] of HOSTILE_ARGS.entries()) {
      const r = results[i]!;
      expect(r.code, `${command} --list ${JSON.stringify(name)}: ${r.stderr}`).toBe(2);
      const lines = r.stderr.trim().split('\n');
      expect(lines, JSON.stringify(name)).toHaveLength(1);
      expect(lines[0]).toMatch(/^mm2migrate: /);
      expect(lines[0], 'the error names the list').toContain(name.trim());
    }
    expect(changed(before, await snapshot(base)).filter((p) => !allowed(p))).toEqual([]);
  }, 120_000);

  it('inspect refuses them too', async () => {
    const results = await Promise.all(HOSTILE_ARGS.map((name) => runCli(['inspect', '--source', root, '--list', name])));
    for (const [i, name] of HOSTILE_ARGS.entries()) {
      const r = results[i]!;
      expect(r.code, `inspect --list ${JSON.stringify(name)}: ${r.stderr}`).not.toBe(0);
      expect(r.stderr.trim().split('\n'), JSON.stringify(name)).toHaveLength(1);
      expect(r.stdout).toBe('');
    }
  }, 120_000);
});

describe('a hostile installation', () => {
  it('migrate --all --dry-run migrates the valid list, reports every skipped folder, and writes only inside its reports folder and state', async () => {
    const before = await snapshot(base);
    const r = await runCli(['migrate', '--config', configFile, '--all', '--dry-run']);
    expect(r.code, r.stderr).toBe(0);
    const after = await snapshot(base);
    expect(changed(before, after).filter((p) => !allowed(p))).toEqual([]);
    // Only the valid list got a report folder; no folder is named after a hostile one.
    const reportDirs = (await readdir(path.join(work, 'reports'), { withFileTypes: true })).filter((e) => e.isDirectory()).map((e) => e.name);
    expect(reportDirs).toEqual(['nihongo']);
    // Every folder that was not taken is named in a clear warning.
    for (const name of [...HOSTILE_FOLDERS, 'linked']) {
      expect(r.stderr, `skipped folder ${JSON.stringify(name)} is reported`).toContain(`lists/${JSON.stringify(name).slice(1, -1)}`);
    }
    expect(r.stderr).toMatch(/symbolic link/);
    // Nothing from outside the installation was read into the reports.
    for (const f of (await readdir(path.join(work, 'reports'), { recursive: true })).map(String)) {
      const abs = path.join(work, 'reports', f);
      if ((await stat(abs)).isFile()) expect((await readFile(abs, 'utf8')).includes('not for the archive'), f).toBe(false);
    }
  }, 120_000);

  it('the pipermail symlinks that lead outside the archive are reported, not followed', async () => {
    const plan = JSON.parse(await readFile(path.join(work, 'reports', 'nihongo', 'report.json'), 'utf8')) as { problems: { code: string; message: string }[] };
    const outsideLinks = plan.problems.filter((p) => p.code === 'symlink-outside-archive');
    expect(outsideLinks.map((p) => p.message).join('\n')).toMatch(/Week-of-Mon-20191007/);
    expect(outsideLinks.map((p) => p.message).join('\n')).toMatch(/009999\.html/);
    expect(outsideLinks.map((p) => p.message).join('\n')).toMatch(/009998\.html/);
  });

  it('inspect lists the valid list only and names the skipped folders', async () => {
    const r = await runCli(['inspect', '--source', root, '--json']);
    const doc = JSON.parse(r.stdout) as { lists: { name: string }[] };
    expect(doc.lists.map((l) => l.name)).toEqual(['nihongo']);
    for (const name of ['a..b', '.hidden', 'linked']) expect(r.stderr).toContain(`lists/${name}`);
  });

  it('a state database or reports folder given as a symlink into another folder is still written only there', async () => {
    // The operator's own choice (a symlinked reports folder) is honoured; it is not a source path.
    const target = path.join(base, 'elsewhere');
    await mkdir(target);
    const link = path.join(work, 'reports-link');
    await symlink(target, link);
    const cfg2 = path.join(work, 'config2.json');
    const c = JSON.parse(await readFile(configFile, 'utf8')) as Record<string, unknown>;
    await writeFile(cfg2, JSON.stringify({ ...c, reports: link, state: path.join(work, 'state2.sqlite') }));
    const r = await runCli(['migrate', '--config', cfg2, '--list', 'nihongo', '--dry-run']);
    expect(r.code, r.stderr).toBe(0);
    expect(existsSync(path.join(target, 'nihongo', 'plan.json'))).toBe(true);
    await rm(link);
  });
});
