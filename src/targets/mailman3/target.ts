import type { LoadedConfig } from '../../config/load.js';
import type { Mailman3TargetConfig } from '../../config/schema.js';
import { UserError, type Problem } from '../../problems.js';
import type { ListContext, Target, TargetPlan, VerifyResult } from '../target.js';
import { applyMailman3Roster } from './apply-roster.js';
import { applyMailman3Settings } from './apply-settings.js';
import { replayMailman3Archive, verifyMailman3Archive } from './archive.js';
import { createMailman3Env, templatesConfig, type Mailman3Env, type Mailman3EnvOverrides } from './env.js';
import { checkHyperKitty } from './hyperkitty-client.js';
import { planMailman3 } from './plan.js';
import { CoreApiError, VersionsSchema } from './rest-client.js';
import { verifyMailman3Roster } from './verify-roster.js';

/** Oldest core the apply phases were written against (REST API 3.1, private-default style, pre_* flags). */
const MIN_CORE = [3, 3, 0] as const;

export class Mailman3Target implements Target {
  readonly kind = 'mailman3' as const;
  private readonly target: Mailman3TargetConfig;
  private readonly overrides: Mailman3EnvOverrides;
  private envCache: Mailman3Env | null = null;

  constructor(cfg: LoadedConfig, _opts: { dryRun: boolean }, overrides: Mailman3EnvOverrides = {}) {
    if (cfg.target.kind !== 'mailman3') throw new Error('Mailman3Target needs a mailman3 target config');
    this.target = cfg.target;
    this.overrides = overrides;
  }

  /** Built on first use, so a dry-run needs no secrets. */
  get env(): Mailman3Env {
    this.envCache ??= createMailman3Env(this.target, this.overrides);
    return this.envCache;
  }

  plan(ctx: ListContext): Promise<TargetPlan> {
    return planMailman3(ctx, this.target);
  }

  async preflight(): Promise<Problem[]> {
    let env: Mailman3Env;
    try {
      env = this.env;
      templatesConfig(this.target);
    } catch (err) {
      if (err instanceof UserError) return [{ severity: 'error', code: 'mailman3-config', message: err.message }];
      throw err;
    }
    const problems: Problem[] = [];
    try {
      const versions = await env.core.ok({ operation: 'pre-flight: read Mailman core version', method: 'GET', path: '/system/versions', schema: VersionsSchema });
      const version = /(\d+)\.(\d+)(?:\.(\d+))?/.exec(versions.mailman_version)?.slice(1).map((n) => Number(n ?? 0));
      if (versions.api_version !== '3.1') {
        problems.push({ severity: 'error', code: 'mailman3-api-version', message: `Mailman core at ${env.core.apiUrl} speaks REST API ${versions.api_version}; 3.1 is needed` });
      } else if (!version || compare(version, MIN_CORE) < 0) {
        problems.push({
          severity: 'warning',
          code: 'mailman3-old-core',
          message: `${versions.mailman_version} is older than ${MIN_CORE.join('.')}, the oldest core this tool was checked against; settings it does not know are reported as refused`,
        });
      }
    } catch (err) {
      if (!(err instanceof CoreApiError)) throw err;
      problems.push({ severity: 'error', code: err.status === 401 ? 'mailman3-credentials' : 'mailman3-unreachable', message: err.message });
    }
    problems.push(...(await checkHyperKitty(env)));
    return problems;
  }

  applySettings(ctx: ListContext): Promise<void> {
    return applyMailman3Settings(ctx, this.env);
  }

  applyRoster(ctx: ListContext): Promise<void> {
    return applyMailman3Roster(ctx, this.env);
  }

  replayArchive(ctx: ListContext): Promise<void> {
    return replayMailman3Archive(ctx, this.env);
  }

  async verify(ctx: ListContext): Promise<VerifyResult> {
    const checks = [...(await verifyMailman3Roster(ctx, this.env)), ...(await verifyMailman3Archive(ctx, this.env))];
    return { ok: checks.every((c) => c.ok), checks };
  }
}

function compare(a: readonly number[], b: readonly number[]): number {
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const d = (a[i] ?? 0) - (b[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}
