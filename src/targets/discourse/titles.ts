import { threadSubjectOf } from '../../mailman2/message-meta.js';

/** topics.title is limited to 255 characters (max_topic_title_length's ceiling). */
export const MAX_TITLE_LENGTH = 255;
export const NO_SUBJECT = '(no subject)';

/**
 * The topic title of a thread: the root's subject with the list prefix and reply/forward markers
 * (Re:, Fwd:, AW:, SV: …) removed. The index already stores that as `thread_subject`; `subject` is
 * the fallback for rows indexed before it existed. Whitespace is collapsed and the title cut at
 * 255 code points, on a word boundary where one is near.
 */
export function topicTitle(threadSubject: string | null, subject: string | null): string {
  const base = threadSubject ?? (subject === null ? '' : threadSubjectOf(subject));
  let title = base.replace(/[\u0000-\u001f\u007f]+/g, ' ').replace(/\s+/g, ' ').trim();
  if (title === '') return NO_SUBJECT;
  const chars = [...title];
  if (chars.length > MAX_TITLE_LENGTH) {
    const cut = chars.slice(0, MAX_TITLE_LENGTH - 1).join('');
    const space = cut.lastIndexOf(' ');
    title = `${space > MAX_TITLE_LENGTH * 0.75 ? cut.slice(0, space) : cut}…`;
  }
  return title;
}
