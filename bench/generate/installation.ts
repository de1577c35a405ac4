/**
 * Writes a whole Mailman 2.1 prefix: `lists/<name>/config.pck` (+ `config.pck.last`, as
 * MailList.__save leaves it) for every list and `archives/private/<name>.mbox/<name>.mbox` for the
 * archived ones. Lists differ in language and charset, hosts (virtual hosts), privacy, period,
 * prefix style, roster shapes and nonmember rules; posters in each mbox are mostly its members.
 */
import { copyFile, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { generateMbox } from './mbox.js';
import { LANGUAGE_CHARSET, listConfigDict, type ListLanguage, type ListSpec, type MemberSpec, type NameStorage } from './list-config.js';
import { makePeople, type Person } from './people.js';
import { pickleDump } from './pickle-writer.js';
import { Rng } from './random.js';
import { canEncode } from './charsets.js';
import { type Language } from './vocabulary.js';

export interface GenerateInstallationOptions {
  seed: number;
  /** The Mailman prefix to create (e.g. /var/lib/mailman); created if missing. */
  root: string;
  /** Number of lists, including the `mailman` site list. */
  lists: number;
  membersPerList: [number, number];
  /** Mbox size range per archived list; sizes are log-uniform in it. */
  mboxBytesPerList: [number, number];
  /** Reserved: pipermail HTML trees are not generated yet. */
  pipermail?: false;
  /** Server time zone; default America/New_York. */
  timeZone?: string;
}

export interface InstallationStats {
  lists: string[];
  messages: number;
  bytes: number;
}

const PROJECTS = ['apollo', 'borealis', 'cobalt', 'dynamo', 'ember', 'falcon', 'granite', 'helix', 'ion', 'juniper', 'krypton', 'lumen', 'meridian', 'nimbus', 'orion', 'pulsar', 'quasar', 'raven', 'sierra', 'tundra', 'umbra', 'vertex', 'willow', 'xenon', 'yarrow', 'zephyr'];
const SUFFIXES = ['users', 'dev', 'announce', 'devel', 'commits', 'general', 'board', 'discuss', 'help', 'i18n', 'security', 'docs', 'testers', 'packagers'];
const LANGUAGE_SUFFIX: Record<ListLanguage, string> = { en: '', fr: '-fr', de: '-de', ja: '-ja', ru: '-ru' };

const DESCRIPTIONS: Record<ListLanguage, (p: string) => string> = {
  en: (p) => `Discussion of the ${p} project`,
  fr: (p) => `Liste des utilisateurs francophones de ${p} : entraide, questions, événements`,
  de: (p) => `Diskussionsliste für ${p}-Benutzer (Übersetzungen, Fragen, Ankündigungen)`,
  ja: (p) => `${p} 日本語ユーザー会メーリングリスト`,
  ru: (p) => `Русскоязычная рассылка пользователей ${p}`,
};

const INFOS: Record<ListLanguage, (p: string) => string> = {
  en: (p) => `Technical discussion about the <b>${p}</b> project.\n\nPlease read the <a href="http://example.com/guidelines">posting guidelines</a>\nbefore posting.  Patches welcome!`,
  fr: (p) => `Bienvenue sur la liste francophone de ${p}.\n\nMerci d'écrire en français. Les messages publicitaires sont interdits.\nCoût de l'adhésion : 0 €`,
  de: (p) => `Willkommen auf der deutschsprachigen Liste für ${p}.\n\nBitte schreibt höflich und zum Thema. Größere Anhänge bitte vermeiden.`,
  ja: (p) => `${p} について日本語で話しましょう。`,
  ru: (p) => `Обсуждение ${p} на русском языке.\n\nПожалуйста, соблюдайте правила рассылки.`,
};

const FOOTERS: Record<ListLanguage, string> = {
  en: '_______________________________________________\n%(real_name)s mailing list\n%(real_name)s@%(host_name)s\n%(web_page_url)slistinfo%(cgiext)s/%(_internal_name)s\n',
  fr: '_______________________________________________\nListe de diffusion %(real_name)s\nPour vous désabonner : %(web_page_url)slistinfo%(cgiext)s/%(_internal_name)s\n',
  de: '_______________________________________________\n%(real_name)s Mailingliste\nAbmelden: %(web_page_url)slistinfo%(cgiext)s/%(_internal_name)s\n',
  ja: '-- \n%(real_name)s mailing list\n%(real_name)s@%(host_name)s\n%(web_page_url)slistinfo%(cgiext)s/%(_internal_name)s\n',
  ru: '_______________________________________________\nРассылка %(real_name)s\n%(web_page_url)slistinfo%(cgiext)s/%(_internal_name)s\n',
};

const PEOPLE_LANGUAGES: Record<ListLanguage, ReadonlyArray<readonly [number, Language]>> = {
  en: [[80, 'en'], [5, 'fr'], [5, 'de'], [3, 'ru'], [3, 'ja'], [4, 'misc']],
  fr: [[75, 'fr'], [20, 'en'], [5, 'misc']],
  de: [[75, 'de'], [20, 'en'], [5, 'misc']],
  ja: [[80, 'ja'], [20, 'en']],
  ru: [[80, 'ru'], [20, 'en']],
};

const VHOSTS: ReadonlyArray<{ mail: string; web: string }> = [
  { mail: 'lists.example.net', web: 'lists.example.net' },
  { mail: 'example.net', web: 'lists.example.net' },
  { mail: 'lists.example.com', web: 'www.example.com' },
];

function logUniform(rng: Rng, [min, max]: readonly [number, number]): number {
  if (max <= min) return min;
  const lo = Math.log(Math.max(1, min));
  return Math.round(Math.exp(lo + rng.float() * (Math.log(max) - lo)));
}

function capitalise(name: string): string {
  return name.replace(/(^|-)([a-z])/g, (_m, sep: string, c: string) => sep + c.toUpperCase());
}

function memberFor(rng: Rng, person: Person, listLanguage: ListLanguage, topics: string[]): MemberSpec {
  const charset = LANGUAGE_CHARSET[listLanguage];
  const name = person.name || null;
  const asciiName = name !== null && !/[^\x20-\x7e]/.test(name);
  let storage: NameStorage = 'unicode';
  if (name !== null) {
    storage = rng.weighted<NameStorage>([
      [50, 'unicode'],
      [25, asciiName ? 'str-ascii' : 'str-utf8'],
      [charset !== 'us-ascii' && canEncode(name, charset) && !asciiName ? 15 : 0, 'str-list-charset'],
      [asciiName ? 0 : 3, 'str-rfc2047'],
    ]);
  }
  const bits = [2, 4, 8, 16, 32, 64, 128].filter((b) => rng.chance(b === 2 ? 0.01 : b === 128 ? 0.03 : 0.08));
  const options = rng.chance(0.08) ? 0 : bits.reduce((a, b) => a | b, 256);
  const r = rng.float();
  const delivery = r < 0.04 ? { status: 2 as const } : r < 0.05 ? { status: 3 as const } : r < 0.07 ? { status: 4 as const } : null;
  return {
    address: person.address,
    name: rng.chance(0.8) ? name : null,
    nameStorage: storage,
    digest: rng.chance(0.08),
    options,
    password: rng.chance(0.2) ? `pw-${person.address.split('@')[0]}` : rng.chars('abcdefghijklmnopqrstuvwxyz', 8),
    language: listLanguage !== 'en' && rng.chance(0.1) ? 'en' : listLanguage,
    delivery: delivery ? { status: delivery.status, ms: 0 } : null,
    topics: topics.length > 0 && rng.chance(0.1) ? [rng.pick(topics)] : [],
  };
}

export async function generateInstallation(options: GenerateInstallationOptions): Promise<InstallationStats> {
  if (!(options.lists >= 1)) throw new Error(`generateInstallation: lists must be at least 1, got ${options.lists}`);
  const root = new Rng(options.seed);
  const siteHost = 'lists.example.org';
  // Names first, so that nonmember rules can point at other lists of the site (`@otherlist`).
  const names: string[] = [];
  const languages: ListLanguage[] = [];
  const used = new Set<string>();
  for (let i = 0; i < options.lists; i++) {
    const r = root.child(`name-${i}`);
    if (i === 0) {
      names.push('mailman');
      languages.push('en');
      used.add('mailman');
      continue;
    }
    const language = r.weighted<ListLanguage>([[75, 'en'], [8, 'fr'], [8, 'de'], [5, 'ja'], [4, 'ru']]);
    let name = `${r.pick(PROJECTS)}-${r.pick(SUFFIXES)}${LANGUAGE_SUFFIX[language]}`;
    while (used.has(name)) name = `${r.pick(PROJECTS)}-${r.pick(SUFFIXES)}${r.int(2, 999)}${LANGUAGE_SUFFIX[language]}`;
    used.add(name);
    names.push(name);
    languages.push(language);
  }

  const stats: InstallationStats = { lists: [], messages: 0, bytes: 0 };
  for (let i = 0; i < names.length; i++) {
    const name = names[i] as string;
    const language = languages[i] as ListLanguage;
    const rng = root.child(`list-${i}`);
    const site = i === 0;
    const project = capitalise(name.split('-')[0] as string);
    const vhost = !site && rng.chance(0.2) ? rng.pick(VHOSTS) : { mail: siteHost, web: siteHost };
    const realName = rng.chance(0.7) ? capitalise(name) : name;
    const prefixStyle = rng.weighted([[85, 'plain'], [8, 'numbered'], [7, 'none']] as const);
    const subjectPrefix = prefixStyle === 'plain' ? `[${realName}] ` : prefixStyle === 'numbered' ? `[${name}:%05d] ` : '';
    const createdMs = Date.UTC(2001, 0, 1) + Math.floor(rng.float() * 14 * 365.25 * 86_400_000);
    const topics = !site && rng.chance(0.1)
      ? [
          { name: 'Build', pattern: 'build|ci|compile', description: 'Build system and CI' },
          { name: 'Release', pattern: 'release|tag|version', description: 'Release planning' },
        ]
      : [];

    // --- members (and the posters of the mbox) ---
    const memberCount = site ? Math.min(5, options.membersPerList[1]) : logUniform(rng, options.membersPerList);
    const people = makePeople(rng.child('members'), memberCount, { languages: PEOPLE_LANGUAGES[language] });
    const members = people.map((p) => memberFor(rng, p, language, topics.map((t) => t.name)));

    // --- archive ---
    const archive = site ? rng.chance(0.5) : rng.chance(0.95);
    const archivePrivate = site || rng.chance(0.3);
    const description = site ? 'Mailman site list' : DESCRIPTIONS[language](project);
    let lastPostMs = createdMs + rng.int(1, 400) * 86_400_000;
    let postCount = 0;
    const hasMbox = archive && rng.chance(0.97);
    if (hasMbox) {
      const dir = join(options.root, 'archives', 'private', `${name}.mbox`);
      await mkdir(dir, { recursive: true });
      const memberAddresses = new Set(people.map((p) => p.address.toLowerCase()));
      const nonmembers = makePeople(rng.child('nonmembers'), Math.max(2, Math.round(memberCount / 10)), { languages: PEOPLE_LANGUAGES[language] }, 9000).filter(
        (p) => !memberAddresses.has(p.address.toLowerCase()),
      );
      const mbox = await generateMbox(
        {
          seed: rng.child('mbox').int(0, 2 ** 31 - 1),
          targetBytes: logUniform(rng, options.mboxBytesPerList),
          list: name,
          host: vhost.mail,
          webHost: vhost.web,
          startDate: new Date(createdMs + 86_400_000),
          subjectPrefix,
          realName,
          description,
          archivePrivate,
          listCharset: LANGUAGE_CHARSET[language],
          people: people.length > 0 ? [...people, ...nonmembers] : nonmembers,
          timeZone: options.timeZone,
          legacyShare: rng.chance(0.15) ? rng.pick([0.1, 0.3, 0.6]) : 0,
        },
        join(dir, `${name}.mbox`),
      );
      stats.messages += mbox.messages;
      stats.bytes += mbox.bytes;
      postCount = mbox.messages + Math.round(mbox.messages * 0.02);
      if (mbox.lastReceived) lastPostMs = Date.parse(mbox.lastReceived);
    }

    // Delivery-status changes happened while the list was running.
    for (const m of members) if (m.delivery) m.delivery.ms = createdMs + Math.floor(rng.float() * Math.max(86_400_000, lastPostMs - createdMs));

    const otherList = names[rng.int(0, names.length - 1)] as string;
    const spec: ListSpec = {
      name,
      realName,
      host: vhost.mail,
      webHost: vhost.web,
      webScheme: rng.chance(0.2) ? 'https' : 'http',
      language,
      description,
      info: site ? '' : INFOS[language](project),
      subjectPrefix,
      archive,
      archivePrivate,
      archiveVolumeFrequency: rng.weighted([[70, 1], [10, 2], [8, 0], [8, 3], [4, 4]] as const),
      owners: [`owner@${vhost.mail}`, ...(rng.chance(0.4) ? [`Second.Admin@Example.org`] : [])],
      moderators: rng.chance(0.4) ? [`mod@${vhost.mail}`] : [],
      members,
      createdMs,
      lastPostMs,
      postCount,
      genericNonmemberAction: rng.weighted([[60, 1], [20, 2], [15, 3], [5, 0]] as const),
      subscribePolicy: rng.weighted([[60, 1], [20, 2], [15, 3], [5, 0]] as const),
      acceptNonmembers: rng.chance(0.4) ? ['ci-bot@build.example.com', '^.*@partner\\.example\\.com$', ...(otherList !== name ? [`@${otherList}`] : [])] : [],
      holdNonmembers: rng.chance(0.3) ? ['^.*@freemail\\.example$'] : [],
      rejectNonmembers: rng.chance(0.3) ? ['spammer@bad.example'] : [],
      discardNonmembers: rng.chance(0.3) ? ['^(?i)promo.*@', '^.*@spam\\.example$'] : [],
      banList: rng.chance(0.3) ? ['troll@example.net', '^.*@banned\\.example$'] : [],
      topics,
      footer: FOOTERS[language],
      autoresponses: rng.chance(0.3) ? [{ address: 'stranger@nowhere.example', ms: lastPostMs, count: 1 }] : [],
    };
    const dir = join(options.root, 'lists', name);
    await mkdir(dir, { recursive: true });
    const pickle = pickleDump(listConfigDict(rng.child('config'), spec));
    await writeFile(join(dir, 'config.pck'), pickle);
    // __save hard-links the previous config.pck to config.pck.last; a copy of the same state will do.
    await copyFile(join(dir, 'config.pck'), join(dir, 'config.pck.last'));
    stats.lists.push(name);
  }
  return stats;
}
