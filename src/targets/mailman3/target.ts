import type { LoadedConfig } from '../../config/load.js';
import type { Mailman3TargetConfig } from '../../config/schema.js';
import { UserError, type Problem } from '../../problems.js';
import type { ListContext, Target, TargetPlan, VerifyResult } from '../target.js';
import { planMailman3 } from './plan.js';

export class Mailman3Target implements Target {
  readonly kind = 'mailman3' as const;
  private readonly target: Mailman3TargetConfig;

  constructor(cfg: LoadedConfig, _opts: { dryRun: boolean }) {
    if (cfg.target.kind !== 'mailman3') throw new Error('Mailman3Target needs a mailman3 target config');
    this.target = cfg.target;
  }

  plan(ctx: ListContext): Promise<TargetPlan> {
    return planMailman3(ctx, this.target);
  }

  async preflight(): Promise<Problem[]> {
    throw new UserError('the Mailman 3 apply phases are not available in this build yet; use --dry-run');
  }

  async applySettings(_ctx: ListContext): Promise<void> {
    throw new UserError('the Mailman 3 apply phases are not available in this build yet; use --dry-run');
  }

  async applyRoster(_ctx: ListContext): Promise<void> {
    throw new UserError('the Mailman 3 apply phases are not available in this build yet; use --dry-run');
  }

  async replayArchive(_ctx: ListContext): Promise<void> {
    throw new UserError('the Mailman 3 apply phases are not available in this build yet; use --dry-run');
  }

  async verify(_ctx: ListContext): Promise<VerifyResult> {
    throw new UserError('the Mailman 3 apply phases are not available in this build yet; use --dry-run');
  }
}
