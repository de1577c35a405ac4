import { parseArgs, type ParseArgsConfig } from 'node:util';
import { UserError } from '../problems.js';

export type OptionSpec = NonNullable<ParseArgsConfig['options']>[string] & { description: string; valueName?: string };

export interface Command {
  name: string;
  summary: string;
  usage: string;
  options: Record<string, OptionSpec>;
  /** Returns the process exit code. */
  run(values: Record<string, unknown>, positionals: string[]): Promise<number>;
}

export const commonOptions: Record<string, OptionSpec> = {
  help: { type: 'boolean', short: 'h', description: 'show this help' },
  debug: { type: 'boolean', description: 'print stack traces for unexpected errors' },
};

export function helpText(cmd: Command): string {
  const opts = { ...cmd.options, ...commonOptions };
  const rows = Object.entries(opts).map(([name, spec]) => {
    const flag = `--${name}${spec.type === 'string' ? ` ${spec.valueName ?? 'VALUE'}` : ''}${spec.short ? `, -${spec.short}` : ''}`;
    return `  ${flag.padEnd(28)} ${spec.description}${spec.multiple ? ' (repeatable)' : ''}`;
  });
  return `${cmd.summary}\n\nUsage: ${cmd.usage}\n\nOptions:\n${rows.join('\n')}\n`;
}

export function parseCommandArgs(cmd: Command, argv: string[]): { values: Record<string, unknown>; positionals: string[] } {
  const options = Object.fromEntries(
    Object.entries({ ...cmd.options, ...commonOptions }).map(([k, v]) => {
      const { description: _d, valueName: _v, ...rest } = v;
      return [k, rest];
    }),
  );
  try {
    const { values, positionals } = parseArgs({ args: argv, options, allowPositionals: true, strict: true });
    return { values, positionals };
  } catch (err) {
    throw new UserError(`${cmd.name}: ${(err as Error).message.split('\n')[0]} (see mm2migrate ${cmd.name} --help)`, 2);
  }
}

/** `--list a --list b` or `--list a,b`. */
export function listNames(value: unknown): string[] {
  const raw = Array.isArray(value) ? value : value === undefined ? [] : [value];
  return raw.flatMap((v) => String(v).split(',')).map((s) => s.trim()).filter(Boolean);
}
