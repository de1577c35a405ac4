/**
 * A problem found while reading or migrating. Problems are data, not exceptions: one bad list, key
 * or message must not stop the others, and every problem ends up in the reports.
 */
export type Severity = 'error' | 'warning' | 'info';

export interface Problem {
  severity: Severity;
  /** Stable machine-readable code, e.g. `undecodable-string`, `truncated-pickle`. */
  code: string;
  /** One line for a human; names the list, file and key where known. */
  message: string;
  list?: string;
  file?: string;
  key?: string;
}

/** An error meant to reach the user as one line (no stack trace unless --debug). */
export class UserError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
    this.name = 'UserError';
  }
}
