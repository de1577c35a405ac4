/**
 * Plain-text mail to Discourse Markdown, following the rules of Discourse's own
 * PlainTextToMarkdown (used for incoming mail): `>` quote levels become Markdown quotes, Markdown
 * punctuation is escaped so mail text is shown as written (URLs are left alone so they still
 * link), HTML is escaped, leading indentation survives as non-breaking spaces, ``` fences are kept
 * and runs of blank lines collapse. format=flowed is undone earlier, by the MIME parser.
 */

export interface MailLine {
  text: string;
  quoteLevel: number;
}

const URL_PATTERN = /\b(?:https?|ftp):\/\/[^\s<>"'()[\]]+(?:\([^\s<>"'()]*\)[^\s<>"'()[\]]*)*|\bmailto:[^\s<>"']+/gi;

/** Splits text into lines with their quote level ("> > foo" and ">>foo" are both level 2). */
export function mailLines(text: string): MailLine[] {
  return text
    .replace(/\r\n?/g, '\n')
    .split('\n')
    .map((line) => {
      const m = /^((?:>[ \t]?)+)/.exec(line);
      if (!m) return { text: line, quoteLevel: 0 };
      const marks = m[1]!;
      return { text: line.slice(marks.length), quoteLevel: (marks.match(/>/g) ?? []).length };
    });
}

function escapeSegment(s: string): string {
  return s
    .replace(/[\\`*_{}[\]()#+\-.!~]/g, (c) => `\\${c}`)
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;');
}

/** Escapes Markdown and HTML in a line of mail text, leaving URLs intact. */
export function escapeMailText(text: string): string {
  let out = '';
  let last = 0;
  for (const m of text.matchAll(URL_PATTERN)) {
    const url = m[0].replace(/[.,;:!?]+$/, '');
    out += escapeSegment(text.slice(last, m.index)) + url;
    last = m.index + url.length;
  }
  return out + escapeSegment(text.slice(last));
}

function indent(text: string): string {
  return text.replace(/^[ \t]+/, (s) => {
    const spaces = s.replace(/\t/g, '  ');
    return spaces.length > 1 ? '&nbsp;'.repeat(spaces.length) : spaces;
  });
}

export function linesToMarkdown(lines: MailLine[]): string {
  // ``` fences: a line opening a fence starts a code block that lasts until the closing fence.
  const inCode: boolean[] = [];
  let open = -1;
  lines.forEach((l, i) => {
    const fence = /^\s{0,3}```/.test(l.text);
    if (open < 0 && fence) open = i;
    else if (open >= 0 && fence) {
      for (let j = open; j <= i; j++) inCode[j] = true;
      open = -1;
    }
  });

  let md = '';
  let lastLevel = 0;
  let lastBlank = false;
  lines.forEach((line, i) => {
    const blank = line.text.trim() === '';
    if (!(lastBlank && blank)) {
      if (line.quoteLevel > 0) {
        const marks = '>'.repeat(line.quoteLevel);
        // Leaving a deeper quote: an empty quote line ends the inner level.
        if (line.quoteLevel < lastLevel && !blank) md += `${marks}\n`;
        md += marks + (blank ? '' : ' ');
      } else if (lastLevel > 0 && !blank) {
        md += '\n';
      }
      md += inCode[i] ? line.text : indent(escapeMailText(line.text));
      md += '\n';
    }
    lastBlank = blank;
    lastLevel = line.quoteLevel;
  });
  return md.replace(/\s+$/, '');
}

export function plainTextToMarkdown(text: string): string {
  return linesToMarkdown(mailLines(text));
}
