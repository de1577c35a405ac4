import type { LoadedConfig } from '../config/load.js';
import { Mailman3Target } from './mailman3/target.js';
import type { Target } from './target.js';

export async function createTarget(cfg: LoadedConfig, opts: { dryRun: boolean }): Promise<Target> {
  switch (cfg.target.kind) {
    case 'mailman3':
      return new Mailman3Target(cfg, opts);
    case 'discourse': {
      const { DiscourseTarget } = await import('./discourse/target.js');
      return new DiscourseTarget(cfg, opts);
    }
  }
}
