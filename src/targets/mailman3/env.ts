/**
 * Everything the Mailman 3 apply phases share, built once per run: the target config, the core
 * REST client, the archiver key and the list naming rule. Secrets are read from the environment
 * variables the config names and never leave this object except as request headers.
 */
import { secretFromEnv } from '../../config/load.js';
import { Mailman3TemplatesSchema, type Mailman3TargetConfig, type Mailman3TemplatesConfig } from '../../config/schema.js';
import type { ListConfig } from '../../mailman2/list-config.js';
import { UserError } from '../../problems.js';
import { mailman3Names, type Mailman3Names } from './names.js';
import { CoreClient } from './rest-client.js';

export interface Mailman3Env {
  target: Mailman3TargetConfig;
  core: CoreClient;
  archiverKey: string;
  names(config: ListConfig): Mailman3Names;
}

export interface Mailman3EnvOverrides {
  /** Used instead of the environment variables (tests, embedding). */
  restPassword?: string;
  archiverKey?: string;
  core?: Partial<Omit<ConstructorParameters<typeof CoreClient>[0], 'url' | 'user' | 'password'>>;
}

export function createMailman3Env(target: Mailman3TargetConfig, overrides: Mailman3EnvOverrides = {}): Mailman3Env {
  const password = overrides.restPassword ?? secretFromEnv(target.rest.passwordEnv, 'Mailman 3 REST password (target.rest.passwordEnv)');
  const archiverKey = overrides.archiverKey ?? secretFromEnv(target.hyperkitty.archiverKeyEnv, 'HyperKitty archiver key (target.hyperkitty.archiverKeyEnv)');
  const core = new CoreClient({
    url: target.rest.url,
    user: target.rest.user,
    password,
    passwordSource: `the password in $${target.rest.passwordEnv}`,
    ...overrides.core,
  });
  return { target, core, archiverKey, names: (config) => mailman3Names(config, target) };
}

export type { Mailman3TemplatesConfig } from '../../config/schema.js';

/** The `templates` section of the target config, or null when template publishing is not set up. */
export function templatesConfig(target: Mailman3TargetConfig): Mailman3TemplatesConfig | null {
  // Config files are validated on load; objects built in code are checked here too.
  if (target.templates === undefined) return null;
  const parsed = Mailman3TemplatesSchema.safeParse(target.templates);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new UserError(`target.templates.${issue.path.join('.') || 'via'}: ${issue.message}`);
  }
  return parsed.data;
}
