import { createHash } from 'node:crypto';

/**
 * Message-ID normalisation exactly as HyperKitty stores it, so that every message's final URL can be
 * computed before it is sent. hyperkitty_import first applies `_fix_mid` (remove whitespace; if it
 * starts with `<`, cut after the first `>`; drop non-ASCII), then `get_message_id` (unquote, 254 chars).
 */
export function normalizeMessageId(raw: string): string {
  let id = raw.replace(/\s+/g, '');
  if (id.startsWith('<')) {
    const close = id.indexOf('>');
    if (close >= 0) id = id.slice(0, close + 1);
  }
  // eslint-disable-next-line no-control-regex
  id = id.replace(/[^\x00-\x7f]/g, '');
  return unquote(id).slice(0, 254);
}

/** Python's email.utils.unquote. */
function unquote(s: string): string {
  if (s.length > 1) {
    if (s.startsWith('"') && s.endsWith('"')) return s.slice(1, -1).replace(/\\\\/g, '\\').replace(/\\"/g, '"');
    if (s.startsWith('<') && s.endsWith('>')) return s.slice(1, -1);
  }
  return s;
}

/** HyperKitty's message_id_hash: base32 (RFC 4648, no padding needed) of SHA-1 of the normalised id. */
export function messageIdHash(normalizedId: string): string {
  return base32(createHash('sha1').update(normalizedId, 'utf8').digest());
}

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

function base32(bytes: Buffer): string {
  let out = '';
  let bits = 0;
  let value = 0;
  for (const byte of bytes) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += ALPHABET[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += ALPHABET[(value << (5 - bits)) & 31];
  return out;
}
