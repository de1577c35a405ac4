/**
 * Mailman 2 text settings → Mailman 3 templates.
 *
 * Mailman 2 interpolates headers, footers and autoresponses with Python's `%` operator and a
 * SafeDict (unknown `%(name)s` stay as written; a template that is not a valid format string is sent
 * verbatim), or with `$name` when `use_dollar_strings` is set. welcome_msg and goodbye_msg are never
 * interpolated. Mailman 3 expands `$name`/`${name}` with `string.Template.safe_substitute`, so a
 * literal `$` must become `$$`.
 *
 * Variable renames follow import21 (MM3 utilities/importer.py `convert_placeholders`), with these
 * deliberate differences, each because import21's result does not say what Mailman 2 said:
 * - `%(list_name)s`/`%(_internal_name)s` → `${short_listname}` (Mailman 2 gave the short name;
 *   import21's `${listname}` is the posting address);
 * - `%(host_name)s`, `%(user_language)s` are converted too (import21 leaves them);
 * - import21's two stock-footer rewrites (`%(real_name)s@%(host_name)s` → unsubscribe line,
 *   `%(real_name)s mailing list` → `… -- ${listname}`) apply to whole lines only, so they do not
 *   mangle sentences; the listinfo URL line is dropped only when it is the whole line;
 * - unknown variables stay as written and are reported (import21 prints a warning);
 * - autoresponse texts are converted (import21 copies them with their `%(listname)s`).
 */
import type { ListConfig } from '../../mailman2/list-config.js';
import type { Problem } from '../../problems.js';
import type { NotApplicable, NotCarried } from './map-types.js';

export type TemplateKind =
  /** msg_header / msg_footer: list variables plus the personalization variables. */
  | 'regular'
  /** digest_header / digest_footer: list variables only (Mailman 2 never personalized digests). */
  | 'digest'
  /** welcome_msg / goodbye_msg: literal text in Mailman 2. */
  | 'notice'
  /** autoresponse_*_text: Mailman 2's Replybot variables. */
  | 'autoresponse';

export interface ConvertTemplateOptions {
  /** The list was switched to `$`-strings in Mailman 2 (`use_dollar_strings`). */
  dollarStrings?: boolean;
  /** Replaces an in-sentence Mailman 2 listinfo URL (web_page_url + listinfo/<list>). */
  listinfoUrl?: string;
}

export interface ConvertedTemplate {
  text: string;
  /** Mailman 2 variables (or directives) with no Mailman 3 equivalent; kept in the text as written. */
  unknownVariables: string[];
  /** Other things worth telling the operator (e.g. Mailman 2 could not interpolate the text). */
  notes: string[];
}

const LIST_VARIABLES: Readonly<Record<string, string>> = {
  real_name: '${display_name}',
  list_name: '${short_listname}',
  _internal_name: '${short_listname}',
  host_name: '${domain}',
  description: '${description}',
  info: '${info}',
  cgiext: '',
};

const PERSONAL_VARIABLES: Readonly<Record<string, string>> = {
  user_address: '${user_email}',
  user_delivered_to: '${user_delivered_to}',
  user_language: '${user_language}',
  user_name: '${user_name}',
  // Mailman 3 mails no passwords (import21 drops it too).
  user_password: '',
};

// Replybot.py's SafeDict; Mailman 3's replybot offers requestemail/owneremail under the same names.
const AUTORESPONSE_VARIABLES: Readonly<Record<string, string>> = {
  listname: '${display_name}',
  requestemail: '${requestemail}',
  owneremail: '${owneremail}',
};

function variablesFor(kind: TemplateKind): Readonly<Record<string, string>> {
  if (kind === 'regular') return { ...LIST_VARIABLES, ...PERSONAL_VARIABLES };
  if (kind === 'digest') return LIST_VARIABLES;
  if (kind === 'autoresponse') return AUTORESPONSE_VARIABLES;
  return {};
}

type Token = { literal: string } | { variable: string; raw: string };

/** Splits a Mailman 2 `%`-template; null when Python's `%` would raise (Mailman 2 then sent it verbatim). */
function tokenizePercent(text: string): { tokens: Token[]; unsupported: string[] } | null {
  const tokens: Token[] = [];
  const unsupported: string[] = [];
  let literal = '';
  let i = 0;
  while (i < text.length) {
    const ch = text[i]!;
    if (ch !== '%') {
      literal += ch;
      i++;
      continue;
    }
    if (text[i + 1] === '%') {
      literal += '%';
      i += 2;
      continue;
    }
    if (text[i + 1] !== '(') return null;
    const close = text.indexOf(')', i + 2);
    if (close < 0) return null;
    const name = text.slice(i + 2, close);
    // Nested parentheses or a key across lines: never a Mailman variable; treat like Python's failure.
    if (name.includes('(') || name.includes('\n')) return null;
    const spec = /^([-+ #0]*)(\d*)(\.\d*)?([hlL]?)([a-zA-Z%]?)/.exec(text.slice(close + 1))!;
    const conversion = spec[5]!;
    if (conversion === '' || !'diouxXeEfFgGcrs'.includes(conversion)) return null;
    // Every value Mailman 2 offers is a string, so a numeric conversion raised TypeError.
    if (conversion !== 's' && conversion !== 'r') return null;
    const end = close + 1 + spec[0].length;
    const raw = text.slice(i, end);
    if (literal) tokens.push({ literal });
    literal = '';
    if (raw === `%(${name})s`) tokens.push({ variable: name, raw });
    else {
      unsupported.push(raw);
      tokens.push({ literal: raw });
    }
    i = end;
  }
  if (literal) tokens.push({ literal });
  return { tokens, unsupported };
}

/** Mailman 2's Utils.to_percent grammar: `$$`, `$name`, `${name}`. */
function tokenizeDollar(text: string): Token[] {
  const tokens: Token[] = [];
  const re = /\$\$|\$([_a-z]\w*)|\$\{([_a-z]\w*)\}/gi;
  let last = 0;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    if (m.index > last) tokens.push({ literal: text.slice(last, m.index) });
    if (m[0] === '$$') tokens.push({ literal: '$' });
    else tokens.push({ variable: (m[1] ?? m[2])!, raw: m[0] });
    last = m.index + m[0].length;
  }
  if (last < text.length) tokens.push({ literal: text.slice(last) });
  return tokens;
}

const escapeDollar = (s: string): string => s.replace(/\$/g, '$$$$');

/** Normalises one line's template syntax to `%(name)s` so the whole-line rules need one spelling. */
function canonicalLine(line: string, dollar: boolean): string {
  const t = line.trim();
  return dollar ? t.replace(/\$\{?([_a-z]\w*)\}?/gi, '%($1)s') : t;
}

const LISTINFO_WHOLE = /^%\(web_page_url\)slistinfo(?:%\(cgiext\)s)?\/%\((?:_internal_name|list_name)\)s$/;
const LISTINFO_INLINE_PERCENT = /%\(web_page_url\)slistinfo(?:%\(cgiext\)s)?\/%\((?:_internal_name|list_name)\)s/g;
const LISTINFO_INLINE_DOLLAR = /\$\{?web_page_url\}?listinfo(?:\$\{?cgiext\}?)?\/\$\{?(?:_internal_name|list_name)\}?/g;
const LISTINFO_MARK = '\u0000listinfo\u0000';

/** Converts one Mailman 2 template text to a Mailman 3 template. */
export function convertTemplate(text: string, kind: TemplateKind, options: ConvertTemplateOptions = {}): ConvertedTemplate {
  const normalized = text.replace(/\r\n/g, '\n');
  const unknown: string[] = [];
  const notes: string[] = [];
  if (kind === 'notice') return { text: escapeDollar(normalized), unknownVariables: [], notes };

  const dollar = options.dollarStrings === true;
  if (!dollar && tokenizePercent(normalized) === null) {
    notes.push('not a valid Mailman 2 format string (a stray "%"), so Mailman 2 sent it verbatim; carried verbatim');
    return { text: escapeDollar(normalized), unknownVariables: [], notes };
  }

  const vars = variablesFor(kind);
  const lines = normalized.split('\n');
  const out: string[] = [];
  for (let li = 0; li < lines.length; li++) {
    let line = lines[li]!;
    const isLast = li === lines.length - 1;
    if (kind === 'regular' || kind === 'digest') {
      const canon = canonicalLine(line, dollar);
      if (LISTINFO_WHOLE.test(canon)) {
        // import21: "The generic footers no longer have URLs in them." The newline goes with it.
        if (!isLast) continue;
        out.push('');
        continue;
      }
      if (canon === '%(real_name)s@%(host_name)s') {
        out.push('To unsubscribe send an email to ${short_listname}-leave@${domain}');
        continue;
      }
      if (canon === '%(real_name)s mailing list') {
        out.push('${display_name} mailing list -- ${listname}');
        continue;
      }
      if (options.listinfoUrl !== undefined) line = line.replace(dollar ? LISTINFO_INLINE_DOLLAR : LISTINFO_INLINE_PERCENT, LISTINFO_MARK);
    }
    const segments = line.split(LISTINFO_MARK);
    const converted = segments.map((segment) => {
      const tokens = dollar ? tokenizeDollar(segment) : tokenizePercent(segment)!.tokens;
      if (!dollar) for (const u of tokenizePercent(segment)!.unsupported) unknown.push(u);
      return tokens
        .map((t) => {
          if ('literal' in t) return escapeDollar(t.literal);
          const mm3 = vars[t.variable];
          if (mm3 !== undefined) return mm3;
          unknown.push(t.variable);
          return escapeDollar(t.raw);
        })
        .join('');
    });
    out.push(converted.join(escapeDollar(options.listinfoUrl ?? '')));
  }
  return { text: out.join('\n'), unknownVariables: [...new Set(unknown)], notes };
}

/** Mailman 3 template names (interfaces/template.py) this tool writes. */
export type Mailman3TemplateName =
  | 'list:member:regular:header'
  | 'list:member:regular:footer'
  | 'list:member:digest:header'
  | 'list:member:digest:footer'
  | 'list:user:notice:welcome'
  | 'list:user:notice:goodbye';

export const TEMPLATE_SOURCES: ReadonlyArray<{ key: string; name: Mailman3TemplateName; kind: TemplateKind }> = [
  { key: 'msg_header', name: 'list:member:regular:header', kind: 'regular' },
  { key: 'msg_footer', name: 'list:member:regular:footer', kind: 'regular' },
  { key: 'digest_header', name: 'list:member:digest:header', kind: 'digest' },
  { key: 'digest_footer', name: 'list:member:digest:footer', kind: 'digest' },
  { key: 'goodbye_msg', name: 'list:user:notice:goodbye', kind: 'notice' },
  { key: 'welcome_msg', name: 'list:user:notice:welcome', kind: 'notice' },
];

/**
 * Mailman 3's own defaults (3.3.8 `templates/en`): both footers fall back to
 * `list:member:generic:footer`; headers and goodbye are empty. A converted Mailman 2 text equal to
 * the default is not written, like import21, so stock footers keep following Mailman 3's default.
 */
export const MAILMAN3_DEFAULT_TEMPLATES: Readonly<Record<Mailman3TemplateName, string>> = {
  'list:member:regular:header': '',
  'list:member:regular:footer':
    '_______________________________________________\n$display_name mailing list -- $listname\nTo unsubscribe send an email to ${short_listname}-leave@${domain}\n',
  'list:member:digest:header': '',
  'list:member:digest:footer':
    '_______________________________________________\n$display_name mailing list -- $listname\nTo unsubscribe send an email to ${short_listname}-leave@${domain}\n',
  'list:user:notice:goodbye': '',
  'list:user:notice:welcome': `Welcome to the "$display_name" mailing list!

To post to this list, send your message to:

  $listname

You can unsubscribe or make adjustments to your options via email by sending
a message to:

  $request_email

with the word 'help' in the subject or body (don't include the quotes), and
you will get back a message with instructions.  You will need your password to
change your options, but for security purposes, this password is not included
here.  If you have forgotten your password you will need to reset it via the
web UI.
`,
};

/** Compares templates the way import21 does (after expansion, stripped), modulo `$x` vs `${x}`. */
export function sameTemplate(a: string, b: string): boolean {
  const norm = (s: string): string => s.replace(/\$\{([_a-z]\w*)\}/gi, '$$$1').trim();
  return norm(a) === norm(b);
}

export interface TemplatePlan {
  name: Mailman3TemplateName;
  /** Mailman 3 template text ($-substitutions). An empty text means "no header/footer at all". */
  text: string;
  /** The Mailman 2 key it comes from. */
  source: string;
  unknownVariables: string[];
}

export interface TemplatesOutcome {
  templates: TemplatePlan[];
  notCarried: NotCarried[];
  notApplicable: NotApplicable[];
  problems: Problem[];
}

/**
 * The templates a list needs in Mailman 3. Texts equal to Mailman 3's default are left out (the
 * list keeps following the default), like import21; an empty Mailman 2 footer becomes an empty
 * template because Mailman 2 then added no footer while Mailman 3 would add its default.
 */
export function planTemplates(config: ListConfig, options: { listinfoUrl?: string } = {}): TemplatesOutcome {
  const out: TemplatesOutcome = { templates: [], notCarried: [], notApplicable: [], problems: [] };
  const list = config.name;
  const dollarStrings = Boolean(config.settings['use_dollar_strings']);
  const texts: Record<string, string> = {
    msg_header: config.msgHeader,
    msg_footer: config.msgFooter,
    digest_header: config.digestHeader,
    digest_footer: config.digestFooter,
    goodbye_msg: config.goodbyeMsg,
    welcome_msg: config.welcomeMsg,
  };
  for (const source of TEMPLATE_SOURCES) {
    const original = texts[source.key] ?? '';
    // Mailman 2's decorate() adds nothing for a whitespace-only template.
    const mm2Text = original.trim() === '' ? '' : original;
    const converted = convertTemplate(mm2Text, source.kind, { dollarStrings, ...options });
    for (const note of converted.notes) {
      out.problems.push({ severity: 'warning', code: 'template-verbatim', list, key: source.key, message: `${list}: ${source.key}: ${note}` });
    }
    if (converted.unknownVariables.length > 0) {
      out.problems.push({
        severity: 'warning',
        code: 'template-unknown-variables',
        list,
        key: source.key,
        message: `${list}: ${source.key} uses ${converted.unknownVariables.join(', ')}, which Mailman 3 cannot fill in; kept as written in ${source.name}`,
      });
    }
    if (source.key === 'welcome_msg') {
      if (mm2Text === '') {
        out.notApplicable.push({ key: source.key, reason: 'empty: Mailman 3 sends its stock welcome, as Mailman 2 did' });
        continue;
      }
      // Mailman 2 put welcome_msg inside its stock welcome; Mailman 3's template *is* the whole
      // welcome, so the stock text has to come along. Only the English stock text is known here.
      if (config.preferredLanguage === 'en') {
        out.templates.push({
          name: source.name,
          text: `${converted.text.replace(/\n+$/, '')}\n\n${MAILMAN3_DEFAULT_TEMPLATES[source.name]}`,
          source: source.key,
          unknownVariables: converted.unknownVariables,
        });
      } else {
        out.notCarried.push({
          key: 'welcome_msg',
          value: original,
          reason:
            `Mailman 2 inserted this text into its stock welcome message; Mailman 3's welcome template replaces the whole message ` +
            `and its stock ${config.preferredLanguage} text is not known here, so setting it would drop that text ` +
            `(import21 skips welcome_msg too); add it to the list's welcome template by hand`,
          viaImport21: false,
        });
      }
      continue;
    }
    const mm3Default = MAILMAN3_DEFAULT_TEMPLATES[source.name];
    if (converted.text === '' && mm3Default === '') {
      out.notApplicable.push({ key: source.key, reason: `empty, like Mailman 3's default ${source.name}` });
      continue;
    }
    if (converted.text !== '' && sameTemplate(converted.text, mm3Default)) {
      out.notApplicable.push({ key: source.key, reason: `Mailman 2's stock text; Mailman 3's default ${source.name} says the same` });
      out.problems.push({
        severity: 'info',
        code: 'template-is-default',
        list,
        key: source.key,
        message: `${list}: ${source.key} is Mailman 2's stock text; the list keeps Mailman 3's default ${source.name}`,
      });
      continue;
    }
    out.templates.push({ name: source.name, text: converted.text, source: source.key, unknownVariables: converted.unknownVariables });
  }
  return out;
}
