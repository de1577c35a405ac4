/**
 * Discourse accounts for archive authors and list members: one per address (lower-cased), with a
 * username that passes Discourse's UsernameValidator under the site's settings.
 */

export interface UsernameRules {
  min: number;
  max: number;
  unicode: boolean;
  reserved: string[];
}

/** Discourse's defaults (config/site_settings.yml). */
export const DEFAULT_USERNAME_RULES: UsernameRules = {
  min: 3,
  max: 20,
  unicode: false,
  reserved: 'admin|moderator|administrator|mod|sys|system|community|info|you|name|username|user|nickname|discourse|discourseorg|discourseforum|support'.split('|'),
};

const CONFUSING_SUFFIX = /\.(?:js|json|css|htm|html|xml|jpg|jpeg|png|gif|bmp|ico|tif|tiff|woff|woff2|svg|txt|md|rss|atom)$/i;

function reserved(name: string, rules: UsernameRules): boolean {
  const lower = name.toLowerCase();
  return rules.reserved.some((r) => (r.includes('*') ? new RegExp(`^${r.split('*').map(escapeRe).join('.*')}$`, 'i').test(lower) : r.toLowerCase() === lower));
}

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** UsernameValidator: allowed characters, first/last character, no runs of specials, no file-like suffix. */
export function usernameProblem(name: string, rules: UsernameRules): string | null {
  const chars = [...name];
  if (chars.length < rules.min) return `shorter than ${rules.min}`;
  if (chars.length > rules.max) return `longer than ${rules.max}`;
  const allowed = rules.unicode ? /^[\p{L}\p{M}\p{N}_.-]+$/u : /^[A-Za-z0-9_.-]+$/;
  if (!allowed.test(name)) return 'has characters other than letters, digits, "_", "." and "-"';
  if (!/^[\p{L}\p{N}_]/u.test(name)) return 'does not begin with a letter, digit or "_"';
  if (!/[\p{L}\p{N}]$/u.test(name)) return 'does not end with a letter or digit';
  if (/[-_.]{2,}/.test(name)) return 'has two special characters in a row';
  if (CONFUSING_SUFFIX.test(name)) return 'ends like a file name';
  if (reserved(name, rules)) return 'is reserved';
  return null;
}

function clean(s: string, rules: UsernameRules): string {
  let out = s.normalize('NFKD').replace(/\p{M}+/gu, '');
  out = out.replace(/\s+/g, '_');
  out = rules.unicode ? out.replace(/[^\p{L}\p{N}_.-]+/gu, '') : out.replace(/[^A-Za-z0-9_.-]+/g, '');
  out = out.replace(/[-_.]{2,}/g, '_').replace(/^[-.]+/, '').replace(/[-_.]+$/, '');
  return out;
}

function fit(base: string, suffix: string, rules: UsernameRules): string {
  const room = rules.max - [...suffix].length;
  let b = [...base].slice(0, Math.max(1, room)).join('').replace(/[-_.]+$/, '');
  if (b === '') b = 'u';
  let name = b + suffix;
  while ([...name].length < rules.min) name += '1';
  return name;
}

/**
 * Usernames to try, best first: from the display name (as Discourse's UserNameSuggester does), else
 * the address's local part; then the same with 1, 2, 3 … appended for collisions.
 */
export function* usernameCandidates(displayName: string | null, email: string, rules: UsernameRules = DEFAULT_USERNAME_RULES): Generator<string> {
  const fromName = displayName ? clean(displayName, rules) : '';
  const local = clean(email.split('@')[0] ?? '', rules);
  const bases = [fromName, local, 'member'].filter((b) => [...b].length >= Math.min(2, rules.min));
  const seen = new Set<string>();
  for (const base of bases) {
    const name = fit(base, '', rules);
    if (!seen.has(name.toLowerCase()) && usernameProblem(name, rules) === null) {
      seen.add(name.toLowerCase());
      yield name;
    }
  }
  const first = bases[0] ?? 'member';
  for (let n = 1; n < 100_000; n++) {
    const name = fit(first, String(n), rules);
    if (!seen.has(name.toLowerCase()) && usernameProblem(name, rules) === null) {
      seen.add(name.toLowerCase());
      yield name;
    }
  }
}

/** A syntactically usable address for a Discourse account (EmailValidator is stricter than RFC 5322). */
export function usableEmail(address: string | null): boolean {
  return address !== null && /^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+$/.test(address);
}

/**
 * The line that names the author when a post goes out under the importer account (authors:
 * importer-account, or an author who cannot have an account). No address: archives are read by
 * the public and addresses invite spam.
 */
export function attributionLine(name: string | null, address: string | null, date: string | null, listName: string): string {
  const who = name?.trim() || (address ? address.replace(/@.*$/, '@…') : 'an unknown sender');
  const when = date ? ` on ${date.slice(0, 10)}` : '';
  return `*${who.replace(/([\\`*_[\]<>])/g, '\\$1')} wrote to ${listName.replace(/([\\`*_[\]<>])/g, '\\$1')}${when}:*`;
}
