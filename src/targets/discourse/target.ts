import { secretFromEnv, type LoadedConfig } from '../../config/load.js';
import type { DiscourseTargetConfig } from '../../config/schema.js';
import type { Problem } from '../../problems.js';
import { UserError } from '../../problems.js';
import type { ListContext, Target, TargetPlan, VerifyResult } from '../target.js';
import { ensureCategory, ensureGroup, ensureGroupWatching, settingsIds } from './apply-category.js';
import { addGroupMembers, ensureAccounts, recordedIdentities, setMemberLevels, silenceArchiveAuthors, type Identity } from './apply-users.js';
import { DEFAULT_USERNAME_RULES, type UsernameRules } from './authors.js';
import { DiscourseClient, type ClientOptions } from './client.js';
import { buildListModel, planFromModel, type ListModel } from './plan.js';
import { runPreflight, type PreflightResult } from './preflight.js';
import { replayArchive } from './replay.js';
import { verifyList } from './verify.js';

export interface DiscourseTargetOptions {
  dryRun: boolean;
  /** Client overrides (tests: shorter backoff, a clock). */
  client?: Partial<Omit<ClientOptions, 'baseUrl' | 'apiKey' | 'apiUsername' | 'requestsPerMinute'>>;
}

/**
 * The Discourse target: one category per list, threads as topics, posts under their authors'
 * accounts, nothing notified. See the README, "Discourse target".
 */
export class DiscourseTarget implements Target {
  readonly kind = 'discourse' as const;
  private readonly tcfg: DiscourseTargetConfig;
  private clientInstance: DiscourseClient | null = null;
  private pre: PreflightResult | null = null;

  constructor(
    readonly cfg: LoadedConfig,
    private readonly opts: DiscourseTargetOptions,
  ) {
    if (cfg.target.kind !== 'discourse') throw new Error('DiscourseTarget needs a discourse target config');
    this.tcfg = cfg.target;
  }

  /** The API client, made on first use so that a dry-run needs no API key. */
  get client(): DiscourseClient {
    if (this.opts.dryRun) throw new Error('dry-run: the Discourse target makes no requests');
    this.clientInstance ??= new DiscourseClient({
      ...this.opts.client,
      baseUrl: this.tcfg.url,
      apiKey: secretFromEnv(this.tcfg.apiKeyEnv, 'target.apiKeyEnv (Discourse admin API key)'),
      apiUsername: this.tcfg.apiUsername,
      requestsPerMinute: this.tcfg.requestsPerMinute,
    });
    return this.clientInstance;
  }

  private get rules(): UsernameRules {
    return this.pre?.usernameRules ?? DEFAULT_USERNAME_RULES;
  }

  private needsAccounts(): boolean {
    return this.tcfg.authors === 'active-users' || this.tcfg.subscriptions;
  }

  async preflight(): Promise<Problem[]> {
    this.pre = await runPreflight(this.client, this.tcfg, { accountsNeeded: this.needsAccounts() });
    return this.pre.problems;
  }

  /** Apply phases refuse to run on a site that failed the pre-flight check, even if the caller skipped it. */
  private async checked(): Promise<void> {
    if (!this.pre) await this.preflight();
    const fatal = this.pre!.problems.find((p) => p.severity === 'error');
    if (fatal) throw new UserError(`pre-flight check failed: ${fatal.message}`);
  }

  private model(ctx: ListContext): Promise<ListModel> {
    return buildListModel(ctx.store, ctx.list, ctx.config, this.tcfg, this.rules);
  }

  async plan(ctx: ListContext): Promise<TargetPlan> {
    return planFromModel(await this.model(ctx), ctx.config, this.tcfg);
  }

  async applySettings(ctx: ListContext): Promise<void> {
    await this.checked();
    const model = await this.model(ctx);
    const fullName = `${ctx.config.realName || ctx.list} mailing list`;
    const groupId = model.group ? await ensureGroup(this.client, ctx, model.group.name, fullName) : null;
    const categoryId = await ensureCategory(this.client, ctx, model, this.tcfg);
    if (model.group?.watching && groupId !== null) await ensureGroupWatching(this.client, ctx, groupId, model.group.name, categoryId);
  }

  async applyRoster(ctx: ListContext): Promise<void> {
    await this.checked();
    const model = await this.model(ctx);
    const problems: Problem[] = [];
    const ids = await ensureAccounts(this.client, ctx, model, this.rules, problems);
    await silenceArchiveAuthors(this.client, ctx, model, this.tcfg.subscriptions);
    const { categoryId, groupId } = await settingsIds(ctx, model);
    if (groupId !== null && !ctx.signal.aborted) {
      const members = model.accounts
        .filter((a) => a.member)
        .map((a) => ids.get(a.email))
        .filter((i): i is Extract<Identity, { username: string }> => !!i && !('attributed' in i))
        .map((i) => i.username);
      await addGroupMembers(this.client, ctx, groupId, members);
      if (model.group?.watching) await setMemberLevels(this.client, ctx, model, categoryId, ids);
    }
    await ctx.store.replaceProblems(ctx.list, 'roster', problems);
  }

  async replayArchive(ctx: ListContext): Promise<void> {
    await this.checked();
    const model = await this.model(ctx);
    const { categoryId } = await settingsIds(ctx, model);
    const identities = await recordedIdentities(ctx);
    const problems: Problem[] = [];
    try {
      // Without secure_uploads Discourse serves every upload to anyone with its URL, whatever the
      // category's permissions: a private list's attachments are then not uploaded (noted instead).
      const exposesUploads = ctx.config.archive.policy !== 'public' && !isOn(this.pre!.settings.secure_uploads);
      await replayArchive({ client: this.client, ctx, model, tcfg: this.tcfg, categoryId, identities, problems, uploadsPublic: exposesUploads });
    } finally {
      // A resumed run reports again what it meets again; keep one copy of each.
      const known = new Set((await ctx.store.problems(ctx.list)).filter((p) => p.phase === 'archive').map((p) => p.message));
      await ctx.store.addProblems(ctx.list, 'archive', problems.filter((p) => !known.has(p.message)));
    }
  }

  async verify(ctx: ListContext): Promise<VerifyResult> {
    return verifyList(this.client, ctx, await this.model(ctx));
  }

  /** Requests sent and the share of the configured budget they used (for reports and tests). */
  usage(): { requests: number; throttled: number; share: number; byRoute: Record<string, number> } | null {
    const c = this.clientInstance;
    if (!c) return null;
    return { requests: c.budget.sent, throttled: c.budget.throttled, share: c.budget.usedShare(), byRoute: Object.fromEntries(c.counts) };
  }

  async close(): Promise<void> {
    this.clientInstance = null;
  }
}

function isOn(v: unknown): boolean {
  return v === true || v === 'true' || v === 't';
}
