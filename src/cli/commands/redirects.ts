import { mkdir, open, rename } from 'node:fs/promises';
import path from 'node:path';
import { secretFromEnv } from '../../config/load.js';
import { openSession, selectLists } from '../../pipeline/session.js';
import { UserError, type Problem } from '../../problems.js';
import { toApache } from '../../redirects/apache.js';
import { redirectsFromState, type ListRedirects } from '../../redirects/from-state.js';
import { toNginx } from '../../redirects/nginx.js';
import { REDIRECT_CONFIDENCES, REDIRECT_KINDS, summarizeRedirects, type RedirectSummary } from '../../redirects/summary.js';
import { toCsv, toJson, unmappedToCsv } from '../../redirects/tabular.js';
import type { RedirectEntry, UnmappedUrl } from '../../redirects/types.js';
import { ensureReportDir, writeReportFile } from '../../reports/write.js';
import { DiscourseClient } from '../../targets/discourse/client.js';
import { createPermalinks, type PermalinkEntry, type PermalinkResult } from '../../targets/discourse/permalinks.js';
import { listNames, type Command } from '../command.js';
import { renderTable } from '../table.js';

const FORMATS = ['nginx', 'apache', 'json', 'csv', 'discourse-permalinks'] as const;
type Format = (typeof FORMATS)[number];

export const redirectsCommand: Command = {
  name: 'redirects',
  summary: 'write redirect maps for the old pipermail/listinfo URLs (nginx, Apache, JSON, CSV) or create Discourse permalinks',
  usage: 'mm2migrate redirects --config FILE (--list NAME... | --all) --format nginx|apache|json|csv|discourse-permalinks [--out FILE]',
  options: {
    config: { type: 'string', short: 'c', valueName: 'FILE', description: 'the migration config file' },
    list: { type: 'string', multiple: true, valueName: 'NAME', description: 'a list whose old URLs to redirect' },
    all: { type: 'boolean', description: 'every list of the source installation' },
    format: { type: 'string', valueName: 'FORMAT', description: `one of ${FORMATS.join(', ')}` },
    out: {
      type: 'string',
      valueName: 'FILE',
      description: 'nginx: FILE = map include, FILE.server.conf = server snippet; apache: FILE = RewriteMap text, FILE.conf = config; json/csv: FILE (default stdout)',
    },
    'map-path': { type: 'string', valueName: 'PATH', description: 'apache: where the server will read the RewriteMap (default: the absolute --out path)' },
    json: { type: 'boolean', description: 'print the summary as JSON on stdout' },
  },
  async run(values) {
    if (typeof values.config !== 'string') throw new UserError('redirects: --config FILE is required', 2);
    const format = values.format;
    if (typeof format !== 'string' || !(FORMATS as readonly string[]).includes(format)) {
      throw new UserError(`redirects: --format must be one of ${FORMATS.join(', ')}`, 2);
    }
    const out = typeof values.out === 'string' ? path.resolve(values.out) : null;
    if ((format === 'nginx' || format === 'apache') && !out) throw new UserError(`redirects: --format ${format} writes two files; name the first with --out FILE`, 2);
    if ((format === 'json' || format === 'csv') && !out && values.json) {
      throw new UserError('redirects: --json prints the summary on stdout, so the redirects need --out FILE', 2);
    }

    const session = await openSession(values.config);
    try {
      const { cfg, store } = session;
      if (format === 'discourse-permalinks' && cfg.target.kind !== 'discourse') {
        throw new UserError('redirects: --format discourse-permalinks needs a Discourse target in the config', 2);
      }
      const lists = await selectLists(cfg, listNames(values.list), Boolean(values.all));

      const results: ListRedirects[] = [];
      const summaries: RedirectSummary[] = [];
      const failures: { list: string; error: string }[] = [];
      for (const list of lists) {
        let r: ListRedirects;
        try {
          r = await redirectsFromState(store, cfg, list);
        } catch (err) {
          if (!(err instanceof UserError)) throw err;
          failures.push({ list, error: err.message });
          continue;
        }
        results.push(r);
        const summary = summarizeRedirects(list, r.entries, r.unmapped, r.problems);
        summaries.push(summary);
        await writeReportFile(await ensureReportDir(cfg.reports, list), 'redirects.json', JSON.stringify(summary, null, 2) + '\n');
      }

      const entries = results.flatMap((r) => r.entries);
      const unmapped = results.flatMap((r) => r.unmapped);
      const written: string[] = [];
      const writerProblems: Problem[] = [];
      let permalinks: PermalinkResult | null = null;
      switch (format as Format) {
        case 'nginx': {
          const map = toNginx(entries);
          writerProblems.push(...map.problems);
          written.push(await writeOutput(out!, map.mapChunks()), await writeOutput(`${out}.server.conf`, map.serverSnippet));
          break;
        }
        case 'apache': {
          const mapPath = typeof values['map-path'] === 'string' ? values['map-path'] : out!;
          const map = toApache(entries, { mapPath });
          writerProblems.push(...map.problems);
          written.push(await writeOutput(out!, map.rewriteMapChunks()), await writeOutput(`${out}.conf`, map.configSnippet));
          break;
        }
        case 'json': {
          const text = toJson(entries, unmapped);
          if (out) written.push(await writeOutput(out, text));
          else process.stdout.write(text);
          break;
        }
        case 'csv': {
          const text = toCsv(entries);
          if (out) {
            written.push(await writeOutput(out, text));
            if (unmapped.length > 0) written.push(await writeOutput(`${out}.unmapped.csv`, unmappedToCsv(unmapped)));
          } else process.stdout.write(text);
          break;
        }
        case 'discourse-permalinks': {
          if (cfg.target.kind !== 'discourse') break;
          const { permalinkEntries, problems } = toPermalinkEntries(results);
          writerProblems.push(...problems);
          const client = new DiscourseClient({
            baseUrl: cfg.target.url,
            apiKey: secretFromEnv(cfg.target.apiKeyEnv, 'target.apiKeyEnv (Discourse admin API key)'),
            apiUsername: cfg.target.apiUsername,
            requestsPerMinute: cfg.target.requestsPerMinute,
          });
          permalinks = await createPermalinks(client, permalinkEntries);
          if (out) written.push(await writeOutput(out, JSON.stringify(permalinks, null, 2) + '\n'));
          break;
        }
      }

      process.stderr.write(renderSummary(summaries, failures, writerProblems, written, permalinks));
      if (values.json) {
        process.stdout.write(
          JSON.stringify(
            {
              format,
              files: written,
              lists: summaries.map(({ problems: _p, unmapped: u, ...s }) => ({ ...s, unmapped: u })),
              failures,
              problems: [...summaries.flatMap((s) => s.problems), ...writerProblems],
              ...(permalinks ? { permalinks } : {}),
            },
            null,
            2,
          ) + '\n',
        );
      }
      const errors = [...summaries.flatMap((s) => s.problems), ...writerProblems].filter((p) => p.severity === 'error');
      return failures.length > 0 || errors.length > 0 || (permalinks?.failed.length ?? 0) > 0 ? 1 : 0;
    } finally {
      await session.close();
    }
  },
};

/**
 * Written whole (temp file + rename: a web server reloading meanwhile never reads half a map); readable by the
 * web server, which is why it is not owner-only. Pieces are written as they come, so a map is never held whole.
 */
async function writeOutput(file: string, content: string | Iterable<string>): Promise<string> {
  await mkdir(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  const fh = await open(tmp, 'w', 0o644);
  try {
    for (const piece of typeof content === 'string' ? [content] : content) await fh.write(piece);
  } finally {
    await fh.close();
  }
  await rename(tmp, file);
  return file;
}

/**
 * Discourse permalinks name a post, topic or category and match the request path on the Discourse host (the old
 * host names must point there). One path is one permalink, whatever host it came from.
 */
function toPermalinkEntries(results: ListRedirects[]): { permalinkEntries: PermalinkEntry[]; problems: Problem[] } {
  const problems: Problem[] = [];
  const byPath = new Map<string, PermalinkEntry>();
  for (const r of results) {
    const ids = r.discourse;
    for (const e of r.entries) {
      let entry: PermalinkEntry | null = null;
      const post = /\/t\/[^/]*\/(\d+)\/(\d+)$/.exec(new URL(e.newUrl).pathname);
      if (post) {
        const postId = ids?.postIds.get(`${post[1]}/${post[2]}`);
        if (postId !== undefined) entry = { oldPath: e.oldPath, postId };
        else if (post[2] === '1') entry = { oldPath: e.oldPath, topicId: Number(post[1]) };
      } else if (ids?.categoryId !== null && ids?.categoryId !== undefined && e.newUrl === ids.categoryUrl) {
        entry = { oldPath: e.oldPath, categoryId: ids.categoryId };
      }
      if (!entry) {
        problems.push({ severity: 'warning', code: 'permalink-no-target', list: r.list, key: e.oldPath, message: `${r.list}: ${e.oldPath} -> ${e.newUrl} names no post, topic or category id the journal knows; no permalink` });
        continue;
      }
      const prev = byPath.get(e.oldPath);
      if (prev && JSON.stringify(prev) !== JSON.stringify(entry)) {
        problems.push({ severity: 'warning', code: 'permalink-path-clash', list: r.list, key: e.oldPath, message: `${r.list}: ${e.oldPath} is an old path on two hosts with different targets; the first is used` });
        continue;
      }
      byPath.set(e.oldPath, entry);
    }
  }
  return { permalinkEntries: [...byPath.values()], problems };
}

function renderSummary(
  summaries: RedirectSummary[],
  failures: { list: string; error: string }[],
  writerProblems: Problem[],
  written: string[],
  permalinks: PermalinkResult | null,
): string {
  const lines: string[] = [];
  const rows: string[][] = [];
  for (const s of summaries) {
    for (const kind of REDIRECT_KINDS) {
      const c = s.byKind[kind];
      if (c.total === 0) continue;
      rows.push([s.list, kind, ...REDIRECT_CONFIDENCES.map((k) => String(c[k])), String(c.total)]);
    }
    rows.push([s.list, 'unmapped', '', '', '', String(s.unmapped.length)]);
  }
  if (rows.length > 0) lines.push(renderTable(['list', 'kind', ...REDIRECT_CONFIDENCES, 'total'], rows), '');
  for (const s of summaries) {
    const byCode = new Map<string, UnmappedUrl[]>();
    for (const u of s.unmapped) byCode.set(u.code, [...(byCode.get(u.code) ?? []), u]);
    for (const [code, us] of byCode) {
      lines.push(`${s.list}: ${us.length} old URL(s) without a redirect (${code}): ${us[0]!.reason}`);
      for (const u of us.slice(0, 5)) lines.push(`    ${u.host}${u.oldPath}`);
      if (us.length > 5) lines.push(`    … and ${us.length - 5} more (reports/${s.list}/redirects.json)`);
    }
    for (const p of s.problems.filter((x) => x.severity !== 'info')) lines.push(`${p.severity}: ${p.message}`);
  }
  for (const p of writerProblems) lines.push(`${p.severity}: ${p.message}`);
  for (const f of failures) lines.push(`error: ${f.error}`);
  if (permalinks) {
    lines.push(
      `Discourse permalinks: ${permalinks.created} created, ${permalinks.existing} already there, ${permalinks.conflicting.length} pointing elsewhere (left alone), ${permalinks.failed.length} failed`,
    );
    for (const f of permalinks.failed.slice(0, 10)) lines.push(`    ${f.oldPath}: ${f.error}`);
  }
  const total = summaries.reduce((n, s) => n + s.redirects, 0);
  lines.push(`${total} redirect(s) for ${summaries.length} list(s)${written.length ? `; wrote ${written.join(', ')}` : ''}`);
  return lines.join('\n') + '\n';
}
