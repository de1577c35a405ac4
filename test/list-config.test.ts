import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { UserError } from '../src/problems.js';
import { charsetForLanguage, decodeBytes, decodeWithFallbacks } from '../src/mailman2/charset.js';
import {
  SECRET_KEYS,
  listConfigFromPickle,
  MEMBER_ROSTER_KEYS,
  readListConfig,
  type JsonValue,
  type ListConfigResult,
  type Member,
} from '../src/mailman2/list-config.js';
import { loadPickle, PyDict } from '../src/mailman2/pickle.js';

const here = (p: string): string => fileURLToPath(new URL(p, import.meta.url));
const MM2 = here('../fixtures/mailman2/');
const EXPECTED_DIR = here('../fixtures/expected/');
const UPSTREAM = here('../../shared/fixtures/upstream/mailman3/');
const tmp = mkdtempSync(path.join(tmpdir(), 'mm2-list-config-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

type Typed = JsonValue;
interface ExpectedMember {
  key: string;
  address: string;
  realname: { py: string; text: string } | null;
  digest: boolean;
  flags: string[];
  user_options: number;
  delivery_status: string;
  delivery_status_changed: number | null;
  language: string;
  language_raw: string | null;
  moderated: boolean;
  concealed: boolean;
  password: string | null;
  topics: string[];
  bounce_info: { score: number; date: number[]; noticesleft: number; lastnotice: number[]; cookie: string | null } | null;
}
interface Expected {
  list: { posting_address: string; list_charset: string; public_archive: boolean; archive_volume_frequency: number };
  settings: Record<string, JsonValue>;
  config_pck_full: Record<string, Typed>;
  members: ExpectedMember[];
}

const lists = readdirSync(`${MM2}lists`).sort();
const results = new Map<string, ListConfigResult>();
async function load(name: string): Promise<ListConfigResult> {
  let r = results.get(name);
  if (!r) {
    r = await readListConfig(`${MM2}lists/${name}/config.pck`, { listName: name });
    results.set(name, r);
  }
  return r;
}
const expectedFor = (name: string): Expected => JSON.parse(readFileSync(`${EXPECTED_DIR}${name}.json`, 'utf8')) as Expected;

/** EXPECTED's typed JSON (`config_pck_full`) reduced to plain JSON, the form `settings` uses. */
function plain(v: Typed): JsonValue {
  if (Array.isArray(v)) return v.map(plain);
  if (v === null || typeof v !== 'object') return v;
  switch (v.py) {
    case 'str':
    case 'unicode':
      return v.text as string;
    case 'float':
      return v.value as number;
    case 'tuple':
      return (v.items as Typed[]).map(plain);
    default:
      throw new Error(`not plain: ${JSON.stringify(v).slice(0, 80)}`);
  }
}

/** Dict items in a stable order, since EXPECTED lists them sorted and config.pck in hash order. */
function canonical(v: Typed): Typed {
  if (Array.isArray(v)) return v.map(canonical);
  if (v === null || typeof v !== 'object') return v;
  const out: { [k: string]: Typed } = {};
  for (const [k, x] of Object.entries(v)) out[k] = canonical(x);
  if (v.py === 'dict') {
    out.items = (out.items as Typed[][]).slice().sort((a, b) => (JSON.stringify(a[0]) < JSON.stringify(b[0]) ? -1 : 1));
  }
  return out;
}

const FLAG_OPTION: Record<string, keyof Member['options']> = {
  DisableDelivery: 'disableDelivery',
  DontReceiveOwnPosts: 'dontReceiveOwnPosts',
  AcknowledgePosts: 'acknowledgePosts',
  DisableMime: 'plainDigest',
  ConcealSubscription: 'conceal',
  SuppressPasswordReminder: 'suppressPasswordReminder',
  ReceiveNonmatchingTopics: 'receiveNonmatchingTopics',
  Moderate: 'moderate',
  DontReceiveDuplicates: 'dontReceiveDuplicates',
};
const STATUS: Record<string, Member['deliveryStatus']> = {
  ENABLED: 'enabled',
  UNKNOWN: 'unknown',
  BYUSER: 'by_user',
  BYADMIN: 'by_moderator',
  BYBOUNCE: 'by_bounces',
};
const RFC2047 = /=\?[^?\s]+\?[bBqQ]\?[^?\s]*\?=/;
const ymd = (t: number[]): string => `${t[0]}-${String(t[1]).padStart(2, '0')}-${String(t[2]).padStart(2, '0')}`;

describe.each(lists)('%s against EXPECTED.json', (name) => {
  const expected = expectedFor(name);

  it('list identity, charset and archive', async () => {
    const { config } = await load(name);
    expect(config.name).toBe(name);
    expect(config.postingAddress).toBe(expected.list.posting_address);
    expect(config.charset).toBe(expected.list.list_charset);
    expect(config.archive.volumeFrequency).toBe(expected.list.archive_volume_frequency);
    expect(config.archive.policy).toBe(expected.list.public_archive ? 'public' : 'private');
  });

  it('every EXPECTED setting, decoded, under its Mailman 2 name', async () => {
    const { config } = await load(name);
    for (const [key, value] of Object.entries(expected.settings)) {
      expect(config.settings[key], key).toEqual(value);
    }
    expect(config.owners).toEqual(expected.settings.owner);
    expect(config.moderators).toEqual(expected.settings.moderator);
  });

  it('every key of config.pck lands in settings, raw or the member roster', async () => {
    const { config } = await load(name);
    for (const [key, typed] of Object.entries(expected.config_pck_full)) {
      if (MEMBER_ROSTER_KEYS.includes(key)) {
        expect(config.settings[key], key).toBeUndefined();
        expect(config.raw[key], key).toBeUndefined();
      } else if (SECRET_KEYS.has(key)) {
        // List password hashes are secrets: only whether one is set survives.
        const original = plain(typed);
        expect(config.settings[key], key).toEqual(original === null ? null : original === '' ? '' : '(set)');
      } else if (key in config.settings) {
        expect(config.settings[key], key).toEqual(plain(typed));
      } else {
        expect(config.raw[key], key).toBeDefined();
        expect(canonical(config.raw[key]!), key).toEqual(canonical(typed));
      }
    }
    const all = [...Object.keys(config.settings), ...Object.keys(config.raw), ...MEMBER_ROSTER_KEYS];
    expect(new Set(all)).toEqual(new Set([...Object.keys(expected.config_pck_full), ...MEMBER_ROSTER_KEYS]));
  });

  it('members: address case, names, options, delivery, language, digest kind, bounces', async () => {
    const { config, problems } = await load(name);
    expect(config.members.map((m) => m.key).sort()).toEqual(expected.members.map((m) => m.key).sort());
    for (const e of expected.members) {
      const m = config.members.find((x) => x.key === e.key)!;
      const label = `${name} ${e.key}`;
      expect(m.email, label).toBe(e.address);
      if (e.realname === null) {
        expect(m.displayName, label).toBeNull();
      } else if (RFC2047.test(e.realname.text)) {
        expect(m.displayName, label).not.toMatch(RFC2047);
        expect(problems.some((p) => p.code === 'rfc2047-decoded' && p.key === `usernames[${e.key}]`), label).toBe(true);
      } else {
        expect(m.displayName, label).toBe(e.realname.text);
      }
      expect(m.delivery, label).toBe(!e.digest ? 'regular' : e.flags.includes('DisableMime') ? 'plain-digest' : 'mime-digest');
      expect(m.deliveryStatus, label).toBe(STATUS[e.delivery_status]);
      expect(m.deliveryStatusChanged, label).toBe(
        e.delivery_status_changed === null ? null : new Date(e.delivery_status_changed * 1000).toISOString(),
      );
      expect(m.optionBits, label).toBe(e.user_options);
      const on = Object.entries(m.options).filter(([, v]) => v).map(([k]) => k).sort();
      expect(on, label).toEqual(e.flags.map((f) => FLAG_OPTION[f]).sort());
      expect(m.moderated, label).toBe(e.moderated);
      expect(m.options.conceal, label).toBe(e.concealed);
      expect(m.language, label).toBe(e.language);
      expect(m.languageRaw, label).toBe(e.language_raw);
      expect(m.hasPassword, label).toBe(e.password !== null && e.password !== '');
      expect(m.topics, label).toEqual(e.topics);
      expect(m.bounceInfo, label).toEqual(
        e.bounce_info === null
          ? null
          : {
              score: e.bounce_info.score,
              date: ymd(e.bounce_info.date),
              noticesLeft: e.bounce_info.noticesleft,
              lastNotice: ymd(e.bounce_info.lastnotice),
              cookie: e.bounce_info.cookie,
            },
      );
    }
  });

  it('never carries a member password', async () => {
    const result = await load(name);
    const text = JSON.stringify(result);
    for (const e of expected.members) {
      if (e.password) expect(text.includes(JSON.stringify(e.password).slice(1, -1)), `${e.key}'s password`).toBe(false);
    }
  });

  it('nonmember filters keep regexes and @lists apart from addresses', async () => {
    const { config } = await load(name);
    for (const [action, field] of [
      ['accept', 'accept_these_nonmembers'],
      ['hold', 'hold_these_nonmembers'],
      ['reject', 'reject_these_nonmembers'],
      ['discard', 'discard_these_nonmembers'],
    ] as const) {
      const entries = (expected.settings[field] ?? plain(expected.config_pck_full[field]!)) as string[];
      const f = config.nonmembers[action];
      expect(f.regexes).toEqual(entries.filter((x) => x.startsWith('^')));
      expect(f.lists.map((l) => `@${l}`)).toEqual(entries.filter((x) => x.startsWith('@')));
      expect(f.addresses).toEqual(entries.filter((x) => !x.startsWith('^') && !x.startsWith('@')));
    }
  });
});

describe('charsets', () => {
  it('follows Mailman 2.1.39 add_language for the languages of the corpus and upstream fixtures', () => {
    expect(['en', 'fr', 'ja', 'el'].map(charsetForLanguage)).toEqual(['us-ascii', 'iso-8859-1', 'euc-jp', 'iso-8859-7']);
    expect(charsetForLanguage('xx_XX')).toBeNull();
    expect(charsetForLanguage('constructor')).toBeNull();
  });

  it('decodes ISO-8859-1 and -9 as ISO, not as the Windows code pages WHATWG substitutes', () => {
    expect(decodeBytes(Buffer.from([0x80, 0x9f, 0xe9]), 'iso-8859-1')).toEqual({ text: '\u0080\u009fé' });
    expect(decodeBytes(Buffer.from([0x80, 0xfd]), 'iso-8859-9')).toEqual({ text: '\u0080ı' });
  });

  it('never replaces a byte: us-ascii and broken multi-byte input are errors', () => {
    expect(decodeBytes(Buffer.from([0x41, 0xe9]), 'us-ascii')).toHaveProperty('error');
    expect(decodeBytes(Buffer.from([0xa4, 0xa2, 0xa4]), 'euc-jp')).toHaveProperty('error');
    expect(decodeBytes(Buffer.from([0xc3]), 'utf-8')).toHaveProperty('error');
    expect(decodeBytes(Buffer.from([0xe9]), 'no-such-charset')).toEqual({ error: 'unknown charset "no-such-charset"' });
  });

  it('falls back in order and says when nothing fitted', () => {
    expect(decodeWithFallbacks(Buffer.from('Zoë'), ['us-ascii', 'utf-8'])).toEqual({
      text: 'Zoë',
      charset: 'utf-8',
      fallback: true,
      lossless: true,
    });
    const none = decodeWithFallbacks(Buffer.from([0x5a, 0xff]), ['us-ascii', 'utf-8']);
    expect(none).toMatchObject({ text: 'Z\u00ff', lossless: false });
  });
});

describe('decoding', () => {
  it('liste-fr: latin-1 byte strings become text, entities stay literal, nothing is reported', async () => {
    const { config, problems } = await load('liste-fr');
    expect(config.description).toBe('Liste des utilisateurs francophones : entraide, questions, événements');
    expect(config.info).toContain("Merci d'écrire en français");
    expect(config.info).toContain('&#8364;');
    expect(config.msgFooter).toContain('Pour vous désabonner');
    expect(config.members.find((m) => m.key === 'helene@example.fr')?.displayName).toBe('Hélène Dupré');
    expect(problems.filter((p) => p.severity !== 'info')).toEqual([]);
  });

  it('devtalk: an RFC 2047 name is decoded and a UTF-8 byte name in a us-ascii list is reported', async () => {
    const { config, problems } = await load('devtalk');
    expect(config.members.find((m) => m.key === 'renee@example.fr')?.displayName).toBe('Renée Façon');
    expect(config.members.find((m) => m.key === 'zoe@example.se')?.displayName).toBe('Zoë Ångström');
    const zoe = problems.find((p) => p.key === 'usernames[zoe@example.se]');
    expect(zoe?.code).toBe('string-charset-fallback');
    expect(zoe?.message).toMatch(/devtalk.*utf-8/);
  });

  it('devtalk: the _BounceInfo instance of a member disabled by bounces', async () => {
    const heidi = (await load('devtalk')).config.members.find((m) => m.key === 'heidi@bounce.example')!;
    expect(heidi.deliveryStatus).toBe('by_bounces');
    expect(heidi.bounceInfo).toMatchObject({ score: 2, date: '2020-01-04', noticesLeft: 2 });
  });

  it('an undecodable byte string is reported with its key and kept byte for byte', async () => {
    const original = Buffer.from('caf\xe9 \xff\xfe', 'latin1');
    const file = path.join(tmp, 'undecodable.pck');
    writeFileSync(file, pickleDict([
      ['preferred_language', str('en')],
      ['real_name', str('Broken')],
      ['host_name', str('lists.example.org')],
      ['description', str(original)],
      ['members', Buffer.concat([Buffer.from('}'), str('bob@example.com'), Buffer.from('K\x00s', 'latin1')])],
      ['usernames', Buffer.concat([Buffer.from('}'), str('bob@example.com'), str(Buffer.from('B\xf6b', 'latin1')), Buffer.from('s')])],
    ]));
    const { config, problems } = await readListConfig(file, { listName: 'broken' });
    expect(Buffer.from(config.description, 'latin1').equals(original)).toBe(true);
    const p = problems.find((x) => x.key === 'description');
    expect(p).toMatchObject({ code: 'undecodable-string', list: 'broken', file, severity: 'warning' });
    expect(p?.message).toContain(original.toString('base64'));
    const name = problems.find((x) => x.key === 'usernames[bob@example.com]');
    expect(name?.code).toBe('undecodable-string');
    expect(Buffer.from(config.members[0]!.displayName!, 'latin1').equals(Buffer.from('B\xf6b', 'latin1'))).toBe(true);
  });

  it('a UTF-8 byte name in a latin-1 list is read as UTF-8 and reported; latin-1 names stay latin-1', () => {
    const data = pickleDict([
      ['preferred_language', str('fr')],
      ['real_name', str('Liste')],
      ['host_name', str('lists.example.org')],
      ['members', Buffer.from('}(U\x0fzoe@example.comK\x00U\x0fjos@example.comK\x00u', 'latin1')],
      ['usernames', Buffer.concat([Buffer.from('}('), str('zoe@example.com'), str(Buffer.from('Zoë', 'utf8')), str('jos@example.com'), str(Buffer.from('José', 'latin1')), Buffer.from('u')])],
    ]);
    const { config, problems } = listConfigFromPickle(loadPickle(data) as PyDict, { listName: 'liste', file: 'liste.pck' });
    expect(config.charset).toBe('iso-8859-1');
    expect(config.members.map((m) => [m.key, m.displayName])).toEqual([
      ['jos@example.com', 'José'],
      ['zoe@example.com', 'Zoë'],
    ]);
    const about = problems.filter((p) => p.code !== 'missing-setting').map((p) => [p.code, p.key]);
    expect(about).toEqual([['string-charset-fallback', 'usernames[zoe@example.com]']]);
  });

  const greek = `${UPSTREAM}config-greek.pck`;
  it.skipIf(!existsSync(greek))('config-greek.pck (protocol 0): iso-8859-7 info from preferred_language el', async () => {
    const { config, problems } = await readListConfig(greek, { listName: 'ant' });
    expect(config.charset).toBe('iso-8859-7');
    expect(config.info).toBe('Αυτή είναι μια λίστα.');
    expect(problems.filter((p) => p.code === 'undecodable-string')).toEqual([]);

    const overridden = await readListConfig(greek, { listName: 'ant', charset: 'iso-8859-1' });
    expect(overridden.config.charset).toBe('iso-8859-1');
    const decoded = JSON.parse(readFileSync(`${greek}.decoded.json`, 'utf8')) as {
      value: { dict_items: [{ py2str_ascii?: string }, { py2str_hex?: string }][] };
    };
    const infoHex = decoded.value.dict_items.find(([k]) => k.py2str_ascii === 'info')![1].py2str_hex;
    expect(Buffer.from(overridden.config.info, 'latin1').toString('hex')).toBe(infoHex);
  });
});

describe('upstream Mailman 3 import21 pickles', () => {
  const files = existsSync(UPSTREAM) ? readdirSync(UPSTREAM).filter((f) => f.endsWith('.pck')) : [];
  it.skipIf(files.length === 0)('read without errors; members match the decoded dicts', async () => {
    for (const f of files) {
      const decoded = JSON.parse(readFileSync(`${UPSTREAM}${f}.decoded.json`, 'utf8')) as {
        value: { dict_items: [{ py2str_ascii?: string }, { dict_items?: unknown[] }][] };
      };
      const dictSize = (key: string): number =>
        decoded.value.dict_items.find(([k]) => k.py2str_ascii === key)?.[1].dict_items?.length ?? 0;
      const { config } = await readListConfig(`${UPSTREAM}${f}`, { listName: 'test' });
      expect(config.members.length, f).toBe(dictSize('members') + dictSize('digest_members'));
      expect(config.members.filter((m) => m.bounceInfo !== null).length, f).toBe(dictSize('bounce_info'));
    }
  });
});

describe('files that are not a usable config.pck', () => {
  async function userError(file: string): Promise<string> {
    const err = await readListConfig(file, { listName: 'x' }).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(UserError);
    const message = (err as UserError).message;
    expect(message).toContain(file);
    expect(message).not.toContain('\n');
    return message;
  }

  it('a truncated config.pck', async () => {
    const data = readFileSync(`${MM2}lists/devtalk/config.pck`);
    const file = path.join(tmp, 'truncated.pck');
    writeFileSync(file, data.subarray(0, Math.floor(data.length / 2)));
    expect(await userError(file)).toMatch(/truncated/);
  });

  it('a file that is not a pickle', async () => {
    const file = path.join(tmp, 'text.pck');
    writeFileSync(file, '# this is not a pickle\n');
    expect(await userError(file)).toMatch(/not a pickle/);
  });

  it('an empty file', async () => {
    const file = path.join(tmp, 'empty.pck');
    writeFileSync(file, '');
    expect(await userError(file)).toMatch(/empty/);
  });

  it('a missing file', async () => {
    expect(await userError(path.join(tmp, 'nope', 'config.pck'))).toMatch(/cannot read.*ENOENT/);
  });

  it('a pickle that is not a dict', async () => {
    const file = path.join(tmp, 'list.pck');
    writeFileSync(file, Buffer.from(']U\x01aa.', 'latin1'));
    expect(await userError(file)).toMatch(/holds a list, not a dict/);
  });
});

describe('hostile config.pck', () => {
  const base: [string, Buffer][] = [
    ['preferred_language', str('en')],
    ['real_name', str('Evil')],
    ['host_name', str('lists.example.org')],
  ];

  it('a reference bomb (each list holds the previous one twice) is refused quickly', () => {
    // ]q\0 then 60 x (POP ] MARK h(i) h(i) APPENDS q(i+1)): list i+1 = [list i, list i]
    const parts: Buffer[] = [Buffer.from([0x5d, 0x71, 0])];
    for (let i = 0; i < 60; i++) parts.push(Buffer.from([0x30, 0x5d, 0x28, 0x68, i, 0x68, i, 0x65, 0x71, i + 1]));
    const data = pickleDict([...base, ['bomb', Buffer.concat(parts)]]);
    const started = Date.now();
    const root = loadPickle(data) as PyDict;
    expect(() => listConfigFromPickle(root, { listName: 'evil', file: 'evil.pck', size: data.length })).toThrow(UserError);
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('a list that contains itself and very deep nesting are reported, not followed', () => {
    const cyclic = Buffer.from([0x5d, 0x71, 0x00, 0x68, 0x00, 0x61]); // L = []; L.append(L)
    const deep = Buffer.concat([Buffer.alloc(5000, 0x5d), Buffer.alloc(4999, 0x61), Buffer.from('}')]);
    const data = pickleDict([...base, ['loop', cyclic], ['deep', Buffer.concat([Buffer.from('('), deep, Buffer.from('t')])]]);
    const { config, problems } = listConfigFromPickle(loadPickle(data) as PyDict, { listName: 'evil', file: 'evil.pck', size: data.length });
    expect(problems.some((p) => p.code === 'cyclic-value' && p.key?.startsWith('loop'))).toBe(true);
    expect(problems.some((p) => p.code === 'value-too-deep' && p.key?.startsWith('deep'))).toBe(true);
    expect(config.raw.loop).toEqual([{ py: 'cycle' }]);
  });

  it('keys that are not attribute names are reported and never become properties', () => {
    const data = pickleDict([...base, ['__proto__', Buffer.concat([Buffer.from('}'), str('polluted'), Buffer.from('K\x01s', 'latin1')])]]);
    const { config, problems } = listConfigFromPickle(loadPickle(data) as PyDict, { listName: 'evil', file: 'evil.pck' });
    expect(problems.some((p) => p.code === 'unexpected-config-key')).toBe(true);
    expect(Object.keys(config.raw)).not.toContain('__proto__');
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.getPrototypeOf(config.settings)).toBe(Object.prototype);
  });
});

/** A SHORT_BINSTRING / BINSTRING opcode for a Python 2 byte string. */
function str(s: string | Buffer): Buffer {
  const b = typeof s === 'string' ? Buffer.from(s, 'latin1') : s;
  if (b.length < 256) return Buffer.concat([Buffer.from([0x55, b.length]), b]);
  const len = Buffer.alloc(4);
  len.writeInt32LE(b.length);
  return Buffer.concat([Buffer.from([0x54]), len, b]);
}

/** A protocol 1 pickle of a dict whose values are given as opcode sequences. */
function pickleDict(items: [string, Buffer][]): Buffer {
  return Buffer.concat([Buffer.from('}('), ...items.flatMap(([k, v]) => [str(k), v]), Buffer.from('u.')]);
}
