import type { Command } from './command.js';
import { inspectCommand } from './commands/inspect.js';
import { migrateCommand } from './commands/migrate.js';
import { redirectsCommand } from './commands/redirects.js';
import { statusCommand } from './commands/status.js';
import { verifyCommand } from './commands/verify.js';

export const commands: Command[] = [inspectCommand, migrateCommand, redirectsCommand, statusCommand, verifyCommand];
