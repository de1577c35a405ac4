#!/usr/bin/env node
import { commands } from './commands.js';
import { helpText, parseCommandArgs } from './command.js';
import { UserError } from '../problems.js';
import { VERSION } from '../paths.js';

const USAGE = `mm2migrate — move Mailman 2.1 lists to Mailman 3 or Discourse

Usage: mm2migrate <command> [options]

Commands:
${commands.map((c) => `  ${c.name.padEnd(12)} ${c.summary}`).join('\n')}

Run "mm2migrate <command> --help" for the options of a command.
`;

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(USAGE);
    return name ? 0 : 2;
  }
  if (name === '--version') {
    process.stdout.write(`${VERSION}\n`);
    return 0;
  }
  const cmd = commands.find((c) => c.name === name);
  if (!cmd) throw new UserError(`unknown command "${name}" (run mm2migrate --help)`, 2);
  const { values, positionals } = parseCommandArgs(cmd, rest);
  if (values.help) {
    process.stdout.write(helpText(cmd));
    return 0;
  }
  return cmd.run(values, positionals);
}

const debug = process.argv.includes('--debug');
main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    if (err instanceof UserError) {
      process.stderr.write(`mm2migrate: ${err.message}\n`);
      process.exitCode = err.exitCode;
    } else {
      process.stderr.write(`mm2migrate: unexpected error: ${err instanceof Error ? err.message : String(err)}\n`);
      if (debug && err instanceof Error) process.stderr.write(`${err.stack}\n`);
      else process.stderr.write('(run again with --debug for details)\n');
      process.exitCode = 70;
    }
  },
);
