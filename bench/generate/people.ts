/**
 * Posters and their mail clients. A client decides how a message looks on the wire: Message-ID
 * shape, MIME boundary, mailer header, how names are RFC 2047-encoded, the Date format and how
 * replies quote. Mixing them is what makes a generated archive look like a real one.
 */
import { type Charset } from './charsets.js';
import { type DateStyle } from './dates.js';
import { type Rng } from './random.js';
import { DOMAINS, FIRST_NAMES, LANGUAGE_DOMAINS, LAST_NAMES, TRANSLIT, type Language } from './vocabulary.js';

export type ClientKind = 'thunderbird' | 'outlook' | 'gmail' | 'apple' | 'mutt' | 'pine' | 'evolution' | 'eudora' | 'bot';

/** How the From header carries the display name. */
export type NameStyle = 'plain' | 'encoded' | 'quoted-encoded' | 'comment' | 'bare' | 'raw8bit';

export interface Person {
  /** Display name as text; '' when the person only ever sends a bare address. */
  name: string;
  /** Address as typed: local part case preserved, domain lower case. */
  address: string;
  lang: Language;
  /** Charset the client uses for this person's non-ASCII text. */
  charset: Charset;
  client: ClientKind;
  /** Fixed UTC offset of the sender's clock, in minutes. */
  tzOffset: number;
  nameStyle: NameStyle;
  /** Share of posts with an HTML alternative. */
  htmlShare: number;
}

const OFFSETS: Record<Language, readonly number[]> = {
  en: [-480, -420, -360, -300, -300, -300, -240, 0, 0, 60, 600],
  fr: [60, 60, 120, -300, -240],
  de: [60, 60, 120],
  ru: [180, 180, 240, 420],
  ja: [540],
  misc: [0, 60, 120, 480, 330, -180],
};

function asciiLocal(text: string): string {
  let out = '';
  for (const ch of text.toLowerCase()) {
    if (/[a-z0-9]/.test(ch)) out += ch;
    else if (TRANSLIT[ch]) out += TRANSLIT[ch];
  }
  return out;
}

const ROMAJI_FALLBACK = ['yamada', 'tanaka', 'sato', 'suzuki', 'takahashi', 'watanabe', 'ito', 'nakamura', 'kobayashi', 'kato', 'ivanov', 'petrov', 'smirnov', 'popov', 'wang', 'li', 'zhang', 'nikos'];

export interface PeopleOptions {
  /** Weights of the languages posters write in. */
  languages: ReadonlyArray<readonly [number, Language]>;
  /** Make this person write in `lang`, in its legacy charset (KOI8-R, ISO-2022-JP, Latin-1). */
  force?: Language;
}

/**
 * `count` people with distinct addresses. The last few (the rarest posters) are one per non-English
 * language in its legacy charset, so even a small archive carries every charset.
 */
export function makePeople(rng: Rng, count: number, options: PeopleOptions, indexBase = 0): Person[] {
  const extra = options.languages.filter(([w, l]) => w > 0 && l !== 'en').map(([, l]) => l);
  const forced = count >= 2 * extra.length ? extra : [];
  const out: Person[] = [];
  const seen = new Set<string>();
  for (let i = 0; i < count; i++) {
    const force = i >= count - forced.length ? forced[i - (count - forced.length)] : undefined;
    let p = makePerson(rng.child(`person-${indexBase + i}`), indexBase + i, { ...options, force });
    if (seen.has(p.address.toLowerCase())) {
      const at = p.address.indexOf('@');
      p = { ...p, address: `${p.address.slice(0, at)}${indexBase + i}${p.address.slice(at)}` };
    }
    seen.add(p.address.toLowerCase());
    out.push(p);
  }
  return out;
}

export function makePerson(rng: Rng, index: number, options: PeopleOptions): Person {
  const lang = options.force ?? rng.weighted(options.languages);
  const first = rng.pick(FIRST_NAMES[lang]);
  const last = rng.pick(LAST_NAMES[lang]);
  const name = lang === 'ja' ? `${last} ${first}` : `${first} ${last}`;
  let local = lang === 'ja' || lang === 'ru' || (lang === 'misc' && !/[a-z]/i.test(asciiLocal(first)))
    ? rng.pick(ROMAJI_FALLBACK)
    : rng.weighted([
        [4, `${asciiLocal(first)}.${asciiLocal(last)}`],
        [2, asciiLocal(first)],
        [2, `${asciiLocal(first).charAt(0)}${asciiLocal(last)}`],
        [1, `${asciiLocal(first)}${rng.int(1, 99)}`],
        [1, `${asciiLocal(first)}_${asciiLocal(last)}`],
      ] as const);
  if (local === '' || local === '.') local = 'user';
  // The index keeps addresses unique however small the name lists are.
  local = `${local}${index > 40 ? index : ''}`;
  if (rng.chance(0.04)) local = local.charAt(0).toUpperCase() + local.slice(1);
  const domain = rng.chance(0.6) && LANGUAGE_DOMAINS[lang] ? rng.pick(LANGUAGE_DOMAINS[lang] ?? DOMAINS) : rng.pick(DOMAINS);

  const legacy = options.force !== undefined;
  const charset: Charset =
    legacy && lang !== 'misc' && lang !== 'en'
      ? lang === 'ru' ? 'koi8-r' : lang === 'ja' ? 'iso-2022-jp' : 'iso-8859-1'
      : lang === 'en'
      ? 'us-ascii'
      : lang === 'fr' || lang === 'de'
        ? rng.chance(0.55) ? 'iso-8859-1' : 'utf-8'
        : lang === 'ru'
          ? rng.chance(0.5) ? 'koi8-r' : 'utf-8'
          : lang === 'ja'
            ? rng.chance(0.6) ? 'iso-2022-jp' : 'utf-8'
            : 'utf-8';
  const client = rng.weighted<ClientKind>([
    [5, 'thunderbird'],
    [4, 'outlook'],
    [4, 'gmail'],
    [2, 'apple'],
    [3, 'mutt'],
    [1, 'pine'],
    [1, 'evolution'],
    [1, 'eudora'],
  ]);
  const asciiName = !/[^\x20-\x7e]/.test(name);
  const nameStyle: NameStyle = asciiName
    ? rng.weighted<NameStyle>([
        [12, 'plain'],
        [2, 'comment'],
        [1, 'bare'],
      ])
    : rng.weighted<NameStyle>([
        [12, 'encoded'],
        [2, 'quoted-encoded'],
        [1, 'bare'],
        [charset === 'utf-8' || charset === 'iso-8859-1' ? 0.5 : 0, 'raw8bit'],
      ]);
  return {
    name: nameStyle === 'bare' ? '' : name,
    address: `${local}@${domain}`,
    lang,
    charset,
    client,
    tzOffset: rng.pick(OFFSETS[lang]),
    nameStyle,
    htmlShare: client === 'outlook' || client === 'gmail' || client === 'apple' ? 0.5 : client === 'thunderbird' ? 0.15 : 0,
  };
}

/** An automated sender (CI, cron, tracker) that always writes plain ASCII. */
export function makeBot(rng: Rng, index: number): Person {
  const name = rng.pick(['CI Bot', 'Build Daemon', 'Bug Tracker', 'Cron Daemon', 'Commit Notifier', 'Nightly Tester']);
  const local = rng.pick(['ci-bot', 'builder', 'tracker', 'root', 'commits', 'nightly']);
  return {
    name,
    address: `${local}${index}@build.example.com`,
    lang: 'en',
    charset: 'us-ascii',
    client: 'bot',
    tzOffset: 0,
    nameStyle: 'plain',
    htmlShare: 0,
  };
}

/** Thunderbird's major version at the time (1.0 in 2005, 3 in 2010, 38 in 2015, 68 in 2020). */
function thunderbirdAgent(rng: Rng, year: number): string {
  const major = year < 2010 ? Math.max(1, year - 2004) : year < 2012 ? 3 + (year - 2010) * 4 : Math.min(115, 10 + (year - 2012) * 7);
  const gecko = year < 2011 ? `Gecko/${year}${String(rng.int(1, 12)).padStart(2, '0')}${String(rng.int(10, 28))}` : 'Gecko/20100101';
  const os = rng.pick(['X11; Linux x86_64', 'Windows NT 6.1; WOW64', 'Macintosh; Intel Mac OS X 10.9', 'X11; U; Linux i686; en-US']);
  return `User-Agent: Mozilla/5.0 (${os}; rv:${major}.0) ${gecko} Thunderbird/${major}.${rng.int(0, 9)}`;
}

/** The mailer header a client adds. */
export function mailerHeader(rng: Rng, client: ClientKind, year: number): string | null {
  switch (client) {
    case 'thunderbird':
      return year < 2004
        ? `X-Mailer: Mozilla 4.${rng.int(5, 8)} [en] (X11; U; Linux 2.4.${rng.int(2, 20)} i686)`
        : thunderbirdAgent(rng, year);
    case 'outlook':
      return year < 2008
        ? `X-Mailer: Microsoft Outlook Express 6.00.2900.${rng.int(2180, 5931)}`
        : `X-Mailer: Microsoft Outlook ${rng.pick(['14.0', '15.0', '16.0'])}`;
    case 'gmail':
      return null;
    case 'apple':
      return `X-Mailer: Apple Mail (2.${rng.int(750, 3654)})`;
    case 'mutt':
      return `User-Agent: Mutt/1.${rng.int(2, 10)}.${rng.int(0, 9)}i`;
    case 'pine':
      return null;
    case 'evolution':
      return `X-Mailer: Evolution ${rng.int(1, 3)}.${rng.int(0, 36)}.${rng.int(0, 5)}`;
    case 'eudora':
      return `X-Mailer: QUALCOMM Windows Eudora Version ${rng.int(4, 7)}.${rng.int(0, 3)}.${rng.int(0, 9)}`;
    case 'bot':
      return rng.chance(0.5) ? 'X-Mailer: Jenkins' : null;
  }
}

function pad(n: number, width: number): string {
  return String(n).padStart(width, '0');
}

function utcStamp(ms: number): string {
  const d = new Date(ms);
  return `${d.getUTCFullYear()}${pad(d.getUTCMonth() + 1, 2)}${pad(d.getUTCDate(), 2)}${pad(d.getUTCHours(), 2)}${pad(d.getUTCMinutes(), 2)}${pad(d.getUTCSeconds(), 2)}`;
}

const B64ISH = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+_-';

/** A Message-ID (with angle brackets) in the shape the client generates. */
export function messageIdFor(rng: Rng, person: Person, ms: number): string {
  const domain = person.address.slice(person.address.indexOf('@') + 1);
  switch (person.client) {
    case 'thunderbird':
      return new Date(ms).getUTCFullYear() < 2012
        ? `<${rng.hex(8).toUpperCase()}.${rng.int(1000000, 9999999)}@${domain}>`
        : `<${rng.hex(8)}-${rng.hex(4)}-${rng.hex(4)}-${rng.hex(4)}-${rng.hex(12)}@${domain}>`;
    case 'outlook':
      return new Date(ms).getUTCFullYear() < 2010
        ? `<000${rng.int(0, 1)}01c${rng.hex(5)}$${rng.hex(8)}$${rng.hex(8)}@${rng.pick(['PC', 'LAPTOP', 'DESKTOP', 'WS'])}${rng.int(1, 99)}>`
        : `<${rng.chars('ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789', 30)}@${rng.chars('ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789', 14)}.eurprd0${rng.int(1, 9)}.prod.outlook.com>`;
    case 'gmail':
      return `<CA${rng.chars(B64ISH, 2)}${rng.chars(B64ISH, 40)}@mail.gmail.com>`;
    case 'apple':
      return `<${rng.hex(8).toUpperCase()}-${rng.hex(4).toUpperCase()}-${rng.hex(4).toUpperCase()}-${rng.hex(4).toUpperCase()}-${rng.hex(12).toUpperCase()}@${domain}>`;
    case 'mutt':
      return `<${utcStamp(ms)}.GA${rng.int(1000, 99999)}@${rng.pick(['localhost', 'home', 'laptop', 'box'])}.${domain}>`;
    case 'pine':
      return `<Pine.LNX.4.${rng.int(10, 64)}.${utcStamp(ms).slice(2, 12)}0.${rng.int(10000, 32767)}-100000@${domain}>`;
    case 'evolution':
      return `<${Math.floor(ms / 1000)}.${rng.int(1000, 32767)}.${rng.int(0, 30)}.camel@${domain}>`;
    case 'eudora':
      return `<5.2.0.9.2.${utcStamp(ms).slice(0, 8)}${utcStamp(ms).slice(8, 14)}.0${rng.hex(5)}@${domain}>`;
    case 'bot':
      return `<${rng.hex(12)}.${rng.pick(['build', 'nightly', 'commit', 'ticket'])}${rng.int(1, 99999)}@${domain}>`;
  }
}

/** A MIME boundary in the shape the client generates. */
export function boundaryFor(rng: Rng, client: ClientKind): string {
  switch (client) {
    case 'thunderbird':
      return `------------${rng.chars('0123456789', 24)}`;
    case 'outlook':
      return `----=_NextPart_000_${rng.hex(4).toUpperCase()}_01${rng.hex(6).toUpperCase()}.${rng.hex(8).toUpperCase()}`;
    case 'gmail':
      return `000000000000${rng.hex(16)}`;
    case 'apple':
      return `Apple-Mail=_${rng.hex(8).toUpperCase()}-${rng.hex(4).toUpperCase()}-${rng.hex(4).toUpperCase()}-${rng.hex(4).toUpperCase()}-${rng.hex(12).toUpperCase()}`;
    case 'mutt':
      return rng.chars('ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/', 16);
    case 'evolution':
      return `=-${rng.chars('ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789', 20)}`;
    case 'pine':
      return `-${rng.int(100000000, 2147483647)}-${rng.int(100000000, 2147483647)}-${rng.int(1000000000, 1999999999)}=:${rng.int(10000, 32767)}`;
    case 'eudora':
      return `=====================_${rng.int(10000000, 99999999)}==_`;
    case 'bot':
      return `===============${rng.chars('0123456789', 19)}==`;
  }
}

export function dateStyleFor(rng: Rng, client: ClientKind): DateStyle {
  switch (client) {
    case 'thunderbird':
    case 'evolution':
      return 'rfc';
    case 'outlook':
    case 'eudora':
      return 'rfc-nopad';
    case 'gmail':
    case 'apple':
      return rng.chance(0.5) ? 'rfc' : 'rfc-nopad';
    case 'mutt':
    case 'bot':
      return 'rfc';
    case 'pine':
      return 'rfc-comment';
  }
}

/** `Charset label` and `B`/`Q` a client uses for RFC 2047 words. */
export function wordStyleFor(client: ClientKind, charset: Charset): { label: string; enc: 'B' | 'Q'; lower: boolean } {
  const cjk = charset === 'iso-2022-jp' || charset === 'koi8-r';
  switch (client) {
    case 'thunderbird':
      return { label: charset.toUpperCase(), enc: cjk || charset === 'utf-8' ? 'B' : 'Q', lower: false };
    case 'outlook':
      return { label: charset, enc: cjk ? 'B' : 'Q', lower: false };
    case 'gmail':
      return { label: charset.toUpperCase(), enc: 'B', lower: false };
    case 'apple':
      return { label: charset, enc: cjk ? 'B' : 'Q', lower: false };
    case 'mutt':
      return { label: charset, enc: cjk ? 'B' : 'Q', lower: false };
    case 'pine':
    case 'eudora':
      return { label: charset.toUpperCase(), enc: cjk ? 'B' : 'Q', lower: false };
    case 'evolution':
    case 'bot':
      return { label: charset, enc: 'B', lower: true };
  }
}
