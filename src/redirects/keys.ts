/**
 * Map keys are DECODED paths, because that is what both servers compare: nginx's $uri is percent-decoded and
 * normalised, and mod_rewrite matches a RewriteRule in server context against the decoded URL-path.
 * A key that a server would normalise differently (dot segments, doubled slashes) or that a config file cannot
 * carry (control characters, broken Unicode) can never match, so it is refused with a reason.
 */

// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Returns why `path` cannot be a redirect key, or null when it can. */
export function unsafePathReason(path: string): string | null {
  if (!path.startsWith('/')) return 'path does not start with "/"';
  if (CONTROL.test(path)) return 'path contains a control character (tab, newline, ...)';
  if (LONE_SURROGATE.test(path)) return 'path contains broken Unicode (lone surrogate)';
  if (path.includes('?') || path.includes('#')) return 'path contains "?" or "#", which a browser never sends as part of a path';
  // Most paths have neither: skip splitting (this runs once per redirect, millions for a big site).
  if (!path.includes('/.') && !path.includes('//')) return null;
  const segments = path.split('/').slice(1);
  for (let i = 0; i < segments.length; i++) {
    const seg = segments[i]!;
    if (seg === '.' || seg === '..') return `path has a "${seg}" segment, which web servers resolve away`;
    if (seg === '' && i < segments.length - 1) return 'path has an empty segment ("//"), which web servers merge';
  }
  return null;
}

/** Host names as nginx's $host holds them: lower-case, no port, no trailing dot. */
export function unsafeHostReason(host: string): string | null {
  if (!/^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/.test(host)) {
    return `host "${host}" is not a lower-case DNS name (xn-- form for IDN)`;
  }
  return null;
}

const APACHE_SAFE = /[A-Za-z0-9$\-_.+!*'(),:;@&=/~]/;

/**
 * The form Apache's internal `escape` map function (ap_escape_uri) gives a decoded path: every byte other than
 * ASCII alphanumerics and $-_.+!*'(),:;@&=/~ becomes %xx with LOWER-case hex. Apache's text map splits on
 * whitespace, so keys are stored in this form and looked up through ${escape:...}.
 */
export function apacheEscapePath(path: string): string {
  let out = '';
  for (const ch of path) {
    if (ch.length === 1 && APACHE_SAFE.test(ch)) {
      out += ch;
      continue;
    }
    for (const byte of Buffer.from(ch, 'utf8')) out += '%' + byte.toString(16).padStart(2, '0');
  }
  return out;
}

const REQUEST_SAFE = /[A-Za-z0-9\-._~!$&'()*+,;=:@/]/;

/** Percent-encodes a decoded path for use in a request line or an absolute URL (RFC 3986 pchar + "/"). */
export function encodePathForUrl(path: string): string {
  let out = '';
  for (const ch of path) {
    if (ch.length === 1 && REQUEST_SAFE.test(ch)) {
      out += ch;
      continue;
    }
    for (const byte of Buffer.from(ch, 'utf8')) out += '%' + byte.toString(16).toUpperCase().padStart(2, '0');
  }
  return out;
}

/**
 * http(s) URLs that `new URL(url).href` returns unchanged and that need no escaping in a map file:
 * lower-case scheme and DNS host (last label starts with a letter, so never an IPv4 number), no
 * port or user info, path segments that are not dot segments (`.`/`%2e` first), only characters
 * neither the parser nor this file's escaping rewrites, an optional query and no fragment.
 */
const PLAIN_URL =
  /^https?:\/\/(?:[a-z0-9-]+\.)*[a-z][a-z0-9-]*(?:\/(?!\.|%2[eE])[A-Za-z0-9\-._~!&()*+,;=:@%]*)+(?:\?[A-Za-z0-9\-._~!&()*+,;=:@%/?]*)?$/;

/**
 * Normalises a target URL so it can sit in any map file: absolute http(s), no whitespace or quotes, and no
 * `$` (nginx would read `$name` in a map value as a variable) or `\` (config escape character).
 * Returns null when the URL is unusable.
 */
export function safeTargetUrl(url: string): string | null {
  // The URLs this tool builds itself are already in the form the WHATWG parser would give; checking
  // that with one regex skips a URL object per redirect. Anything less plain takes the full path.
  if (PLAIN_URL.test(url) && !url.includes('xn--')) return url;
  let parsed: URL;
  try {
    // WHATWG URL parsing turns a backslash into "/" in http(s) paths; keep the character the caller gave.
    parsed = new URL(url.replace(/\\/g, '%5C'));
  } catch {
    return null;
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') return null;
  if (parsed.username || parsed.password) return null;
  const href = parsed.href.replace(/\$/g, '%24').replace(/\\/g, '%5C').replace(/"/g, '%22');
  // eslint-disable-next-line no-control-regex
  if (/[\s\u0000-\u001f\u007f]/.test(href)) return null;
  return href;
}
