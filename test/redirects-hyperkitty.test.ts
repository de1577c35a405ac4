/**
 * The redirects against a real HyperKitty (test/stack: Debian's Mailman 3 core and HyperKitty on loopback):
 * the public sample lists are migrated by the archive phase, the redirects are built from the state database,
 * and verifyRedirects must find every new URL answering 200 — article pages under the hash computed in
 * advance, attachments under HyperKitty's own counter and file name, month views and mbox exports.
 * Postorius is not part of the stack, so listinfo redirects are checked elsewhere. Slow (starts the stack);
 * skipped when the stack is not installed (test/stack/install.sh).
 */
import { existsSync } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Mailman3TargetConfig } from '../src/config/schema.js';
import { runIndexPhase } from '../src/pipeline/index-phase.js';
import { redirectsFromState } from '../src/redirects/from-state.js';
import { verifyRedirects } from '../src/redirects/verify.js';
import { StateDb } from '../src/state/db.js';
import { Store } from '../src/state/store.js';
import { replayMailman3Archive } from '../src/targets/mailman3/archive.js';
import { createMailman3Env } from '../src/targets/mailman3/env.js';
import type { ListContext } from '../src/targets/target.js';
import { sampleConfig } from './helpers/sample.js';
import { coreRest } from './helpers/mailman3-run.js';
import { startMailman3Stack, type Mailman3Stack } from './stack/mailman3-stack.js';

const installed = ['/usr/bin/python3', '/usr/bin/mailman', '/usr/lib/mailman3/bin/master'].every((p) => existsSync(p));
const DOMAIN = `r${Date.now().toString(36)}${process.pid.toString(36)}.redirects.test`;

let stack: Mailman3Stack;
const tmpRoots: string[] = [];

const rest = coreRest(() => stack);

describe.skipIf(!installed)('redirects into a real HyperKitty', () => {
  beforeAll(async () => {
    stack = await startMailman3Stack();
    const domain = await rest('POST', '/domains', { mail_host: DOMAIN });
    expect(domain.status, await domain.text()).toBe(201);
  }, 300_000);
  afterAll(async () => {
    await stack?.stop();
    for (const d of tmpRoots) await rm(d, { recursive: true, force: true });
  });

  it.each(['devtalk', 'oldproject', 'nihongo'])('%s: every article, attachment, month view and export URL answers 200', async (list) => {
    const cfg = await sampleConfig({
      domain: DOMAIN,
      rest: { url: stack.restUrl, user: stack.restUser, passwordEnv: 'MM2M_TEST_UNUSED' },
      hyperkitty: { url: `${stack.hyperkittyUrl}/`, archiverKeyEnv: 'MM2M_TEST_UNUSED' },
    } as Partial<Mailman3TargetConfig>);
    tmpRoots.push(path.dirname(cfg.state));
    // The new site is reached where the stack serves it.
    delete (cfg.archive as { newBaseUrl?: string }).newBaseUrl;
    const db = await StateDb.open(cfg.state);
    const store = await Store.open(db);
    try {
      const { config } = await runIndexPhase(store, cfg, list);
      const env = createMailman3Env(cfg.target as Mailman3TargetConfig, { restPassword: stack.restPassword, archiverKey: stack.archiverKey });
      const fqdn = env.names(config).fqdn;
      const made = await rest('POST', '/lists', { fqdn_listname: fqdn });
      expect(made.status, await made.text()).toBe(201);
      const patched = await rest('PATCH', `/lists/${fqdn.replace('@', '.')}/config`, { archive_policy: config.archive.policy });
      expect(patched.status).toBe(204);
      const reportDir = path.join(cfg.reports, list);
      await mkdir(reportDir, { recursive: true });
      const ctx: ListContext = { list, config, store, cfg, reportDir, signal: new AbortController().signal, progress: () => undefined };
      await replayMailman3Archive(ctx, env);

      const r = await redirectsFromState(store, cfg, list);
      const checked = r.entries.filter((e) => e.kind !== 'listinfo');
      expect(checked.every((e) => e.newUrl.startsWith(`${stack.hyperkittyUrl}/list/${fqdn}/`))).toBe(true);
      const v = await verifyRedirects(checked, { concurrency: 4, timeoutMs: 30_000 });
      expect(v.failed).toEqual([]);
      expect(v.ok).toBe(checked.length);
      if (list === 'devtalk') expect(checked.filter((e) => e.kind === 'attachment').length).toBeGreaterThan(0);

      // A wrong attachment name or message hash is a 404 there, so the check above can fail.
      const att = checked.find((e) => e.kind === 'attachment' || e.kind === 'article')!;
      const broken = await verifyRedirects([{ ...att, newUrl: att.newUrl.replace(/[A-Z2-7]{32}/, 'A'.repeat(32)) }], { concurrency: 1, timeoutMs: 30_000 });
      expect(broken.failed.map((f) => f.status)).toEqual([404]);
    } finally {
      await db.close();
    }
  }, 300_000);
});
