import type { Command } from './command.js';
import { inspectCommand } from './commands/inspect.js';
import { migrateCommand } from './commands/migrate.js';
import { statusCommand } from './commands/status.js';
import { verifyCommand } from './commands/verify.js';

export const commands: Command[] = [inspectCommand, migrateCommand, statusCommand, verifyCommand];
