/**
 * Mailman 2 stores regexes that Python 2's `re` accepted; Mailman 3 compiles them with Python 3
 * (3.11 on Debian 12), which rejects two things Python 2 allowed and Mailman 2 users wrote a lot:
 * global inline flags that are not at the very start (`^(?i)promo.*@` — "global flags not at the
 * start of the expression") and escapes of ASCII letters with no meaning (`\e`, Python 2 read them
 * as the letter). Both make the REST API refuse the value (`regexp_validator`), so they are
 * rewritten to the equivalent Python 3 spelling here.
 *
 * The ban and nonmember checks below also need to *evaluate* such regexes in JavaScript to mirror
 * what Mailman 3 will do with the roster (import21 skips banned addresses); that is best effort and
 * says so when a Python pattern has no JavaScript equivalent.
 */

/** Escapes Python 2's sre_parse knew; any other ASCII-letter escape was that letter. */
const PY2_KNOWN_LETTER_ESCAPES = new Set([...'abBdDfnrsStvwWxZA']);
const GLOBAL_FLAG_GROUP = /^\(\?([aiLmsux]+)\)/;

export interface ModernizedRegex {
  pattern: string;
  /** One human-readable line per rewrite; empty when the pattern was already valid Python 3. */
  changes: string[];
}

interface ScannedRegex {
  /** The pattern without its global flag groups, letter escapes fixed. */
  body: string;
  /** Global inline flags found anywhere (Python 2 applied them to the whole pattern). */
  flags: Set<string>;
  /** A flag group stood somewhere other than at the very start. */
  misplacedFlags: boolean;
  changes: string[];
}

function scanPythonRegex(pattern: string): ScannedRegex {
  const changes: string[] = [];
  const flags = new Set<string>();
  let body = '';
  let inClass = false;
  let classStart = -1;
  let misplacedFlags = false;
  for (let i = 0; i < pattern.length; i++) {
    const ch = pattern[i]!;
    if (ch === '\\') {
      const next = pattern[i + 1];
      if (next === undefined) {
        body += ch;
        continue;
      }
      if (/[A-Za-z]/.test(next) && !PY2_KNOWN_LETTER_ESCAPES.has(next)) {
        body += next;
        changes.push(`"\\${next}" means "${next}" in Python 2 but is an error in Python 3; written as "${next}"`);
      } else {
        body += ch + next;
      }
      i++;
      continue;
    }
    if (inClass) {
      // A `]` right after `[` or `[^` is a literal member of the class.
      if (ch === ']' && i > classStart + 1 && !(i === classStart + 2 && pattern[classStart + 1] === '^')) inClass = false;
      body += ch;
      continue;
    }
    if (ch === '[') {
      inClass = true;
      classStart = i;
      body += ch;
      continue;
    }
    if (ch === '(') {
      const m = GLOBAL_FLAG_GROUP.exec(pattern.slice(i));
      if (m) {
        for (const f of m[1]!) flags.add(f);
        if (i !== 0) misplacedFlags = true;
        i += m[0].length - 1;
        continue;
      }
    }
    body += ch;
  }
  return { body, flags, misplacedFlags, changes };
}

/**
 * Rewrites a Python 2 regex into a Python 3 one with the same meaning. A pattern that started
 * with `^` still does, because Mailman 3 recognises regex entries (bans, *_these_nonmembers) by
 * that first character: misplaced global flags become a scoped group, `^(?i)x` → `^(?i:x)`.
 */
export function modernizePythonRegex(pattern: string): ModernizedRegex {
  const scan = scanPythonRegex(pattern);
  const changes = [...scan.changes];
  const flags = new Set(scan.flags);
  if (flags.delete('L')) changes.push('the (?L) locale flag is not allowed for text patterns in Python 3; dropped');
  const f = [...flags].join('');
  if (scan.misplacedFlags) {
    changes.push(`inline flags (?${[...scan.flags].join('')}) not at the start are an error in Python 3; applied to the whole pattern as Python 2 did`);
  }
  // Untouched patterns are returned byte for byte (a flag group already at the start stays as written).
  if (changes.length === 0) return { pattern, changes };
  if (f === '') return { pattern: scan.body, changes };
  if (scan.body.startsWith('^')) return { pattern: `^(?${f}:${scan.body.slice(1)})`, changes };
  return { pattern: `(?${f})${scan.body}`, changes };
}

/**
 * A JavaScript RegExp that behaves like Python's `re.match(pattern, s, re.IGNORECASE)` (anchored
 * at the start) for a Mailman 2 pattern, or null when it uses Python syntax with no safe
 * JavaScript equivalent.
 */
export function pythonRegexForMatch(pattern: string): RegExp | null {
  const scan = scanPythonRegex(pattern);
  if (scan.flags.has('x')) return null; // verbose patterns would need a whitespace/comment rewrite
  let jsFlags = 'i';
  if (scan.flags.has('m')) jsFlags += 'm';
  if (scan.flags.has('s')) jsFlags += 's';
  let p = scan.body;
  if (/\(\?[aiLmsux-]+:|\(\?\(|\\Z|\\A|\(\?#/.test(p)) return null;
  p = p.replace(/\(\?P<([A-Za-z_]\w*)>/g, '(?<$1>').replace(/\(\?P=([A-Za-z_]\w*)\)/g, '\\k<$1>');
  try {
    return new RegExp(`^(?:${p})`, jsFlags);
  } catch {
    return null;
  }
}

export interface BanCheck {
  /** The ban_list entry that matches, or null. */
  bannedBy: string | null;
  /** Regex entries that could not be evaluated here (Mailman 3 may still refuse the address). */
  undetermined: string[];
}

/**
 * Mailman 3's `IBanManager.is_banned`: exact match on the (lower-cased) address, or `re.match`
 * with IGNORECASE for entries starting with `^` (model/bans.py).
 */
export function checkBanned(email: string, bans: readonly string[]): BanCheck {
  const lower = email.toLowerCase();
  const undetermined: string[] = [];
  for (const ban of bans) {
    if (!ban.startsWith('^')) {
      if (ban.toLowerCase() === lower) return { bannedBy: ban, undetermined };
      continue;
    }
    const re = pythonRegexForMatch(ban);
    if (re === null) undetermined.push(ban);
    else if (re.test(lower)) return { bannedBy: ban, undetermined };
  }
  return { bannedBy: null, undetermined };
}

const VALID_LOCAL = /^[-0-9a-z!#$%&'*+./=?@_`{}~]+$/i;
const VALID_DOMAIN_PART = /^[-a-z0-9]+$/i;

/**
 * Mailman 3's `IEmailValidator.is_valid` (email/validate.py): ASCII local part from a fixed set,
 * at least two dot-separated domain labels of letters, digits and hyphens, none starting with `-`.
 */
export function isValidMailman3Email(email: string): boolean {
  const at = email.indexOf('@');
  if (at <= 0) return false;
  const local = email.slice(0, at);
  if (!VALID_LOCAL.test(local)) return false;
  const parts = email.slice(at + 1).split('.');
  if (parts.length < 2) return false;
  return parts.every((p) => p.length > 0 && !p.startsWith('-') && VALID_DOMAIN_PART.test(p));
}
