import { createHash } from 'node:crypto';

/** Topic.external_id rules (app/models/topic.rb): `\A[\w-]+\z`, at most 50 characters, unique case-insensitively. */
export const EXTERNAL_ID_MAX_LENGTH = 50;
const EXTERNAL_ID_PATTERN = /^[A-Za-z0-9_-]+$/;

/**
 * The topic external_id of a thread root. Message-IDs do not fit Discourse's rules, so they are
 * hashed; the list name is part of the hash so that a message cross-posted to two lists gives two
 * topics. Lower-case hex keeps case-insensitive uniqueness exact.
 */
export function topicExternalId(list: string, messageId: string): string {
  const digest = createHash('sha256').update(`${list.toLowerCase()}\n${messageId}`).digest('hex').slice(0, 40);
  return `mm2-${digest}`;
}

/**
 * skip_validations (which the importer must send) also skips Discourse's own external_id checks,
 * leaving only the database's exact unique index: an id Discourse would have refused is stored, and
 * `GET /t/external_id/:id` can never find it again. So the client checks before sending.
 */
export function checkExternalId(id: string): string | null {
  if (id.length === 0) return 'external_id is empty';
  if (id.length > EXTERNAL_ID_MAX_LENGTH) return `external_id ${JSON.stringify(id.slice(0, 60))} is longer than ${EXTERNAL_ID_MAX_LENGTH} characters`;
  if (!EXTERNAL_ID_PATTERN.test(id)) return `external_id ${JSON.stringify(id)} may hold only letters, digits, "_" and "-"`;
  return null;
}
