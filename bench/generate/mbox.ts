/**
 * Streams a realistic Mailman 2.1 list mbox (archives/private/<list>.mbox/<list>.mbox) of a chosen
 * size: an optional legacy import at the start (older mail appended with `cat`, partly unescaped
 * `From ` lines, bad dates, no Mailman headers), then live-archived posts as ArchRunner wrote them,
 * with threads, MIME, charsets and the anomalies real archives carry. Memory stays flat: only a
 * bounded window of threads, recent drafts and held posts is kept.
 */
import { type Writable } from 'node:stream';
import { type Charset } from './charsets.js';
import { ServerZone, pythonFormatdate, senderDate } from './dates.js';
import { cook, ipFor, ListHeaders, mailmanVersionAt, mboxBody, type ClobberPolicy, type ListIdentity } from './mailman.js';
import { MessageComposer, type BodyKind, type ComposePlan, type Draft, type ThreadNode } from './messages.js';
import { makeBot, makePeople, makePerson, type ClientKind, type Person } from './people.js';
import { Rng } from './random.js';
import { ByteSink } from './sink.js';
import { BinaryPool, TextPool } from './text-pool.js';
import { type Language } from './vocabulary.js';

export interface GenerateMboxOptions {
  seed: number;
  /** Stop once the mbox reaches this size (the last message may overshoot a little). */
  targetBytes: number;
  /** Internal list name. */
  list: string;
  /** Mail host of the list (host_name). */
  host: string;
  /** First live-archived post; the legacy import (if any) lies before it. Default 2005-01-10. */
  startDate?: Date;
  /** Default `[<realName>] `; may contain `%d`/`%05d` (post number). */
  subjectPrefix?: string;
  /** Default: `list` with a capital first letter. */
  realName?: string;
  description?: string;
  /** Host of web_page_url; default `host`. */
  webHost?: string;
  webScheme?: 'http' | 'https';
  archivePrivate?: boolean;
  /** Charset of the list's preferred language (List-Id encoding). Default us-ascii. */
  listCharset?: Charset;
  /** Weights of the languages people write in; default mostly English with some of each. */
  languages?: ReadonlyArray<readonly [number, Language]>;
  /** Posters; default generated from the seed. */
  people?: readonly Person[];
  /** Server time zone (IANA). Default America/New_York. */
  timeZone?: string;
  /** ARCHIVER_CLOBBER_DATE_POLICY. Default 2 (Mailman's default). */
  clobberDatePolicy?: ClobberPolicy;
  /** Share of the bytes that is a legacy import at the start of the mbox. Default 0.05. */
  legacyShare?: number;
  /** Multiplies the rates of all anomalies (bad dates, missing ids, duplicates, From lines). */
  anomalyRate?: number;
  /** Mean byte size of attachments before base64 (default 50 KB), to shift the size mix. */
  meanAttachmentBytes?: number;
  /** If set, one JSON line per message (offset, ids, what was done to it) is written here. */
  manifest?: string | Writable;
}

export interface MboxStats {
  /** Messages written (each begins with a real From_ separator). */
  messages: number;
  bytes: number;
  /** Threads started (messages that are not replies). */
  threads: number;
  legacyMessages: number;
  /** Body lines starting with `From ` left unescaped (legacy import). */
  unescapedFromLines: number;
  /** Of those, lines that look like a real separator (strict From_ line followed by a header line). */
  separatorLikeLines: number;
  missingMessageIds: number;
  /** Messages reusing an earlier Message-ID (same content re-sent + different content). */
  duplicateMessageIds: number;
  clobberedDates: number;
  heldMessages: number;
  attachments: number;
  firstReceived: string | null;
  lastReceived: string | null;
}

/** Empirical mean message size of the default mix, used only to spread dates over the target. */
const MEAN_MESSAGE_BYTES = 6500;

/** The strict separator the tests and `cleanarch` look for. */
const STRICT_FROM = /^From \S+ +\w{3} \w{3} +\d+ \d+:\d+:\d+ \d{4}$/;
const HEADER_START = /^[\x21-\x39\x3b-\x7e]+:/;

export function countFromLines(body: string): { unescaped: number; separatorLike: number } {
  let unescaped = 0;
  let separatorLike = 0;
  let at = body.startsWith('From ') ? 0 : body.indexOf('\nFrom ');
  while (at >= 0) {
    const start = at === 0 && body.startsWith('From ') ? 0 : at + 1;
    const end = body.indexOf('\n', start);
    const line = body.slice(start, end < 0 ? body.length : end);
    unescaped++;
    if (STRICT_FROM.test(line) && end >= 0) {
      const nextEnd = body.indexOf('\n', end + 1);
      const next = body.slice(end + 1, nextEnd < 0 ? body.length : nextEnd);
      if (HEADER_START.test(next)) separatorLike++;
    }
    at = body.indexOf('\nFrom ', start);
  }
  return { unescaped, separatorLike };
}

interface Thread {
  subject: { text: string; lang: Language };
  nodes: ThreadNode[];
  count: number;
  maxLength: number;
  lastMs: number;
}

interface Held {
  draft: Draft;
  receivedMs: number;
  approveMs: number;
  meta: Record<string, unknown>;
}

const DEFAULT_LANGUAGES: ReadonlyArray<readonly [number, Language]> = [
  [70, 'en'],
  [8, 'fr'],
  [8, 'de'],
  [5, 'ru'],
  [5, 'ja'],
  [4, 'misc'],
];

const LEGACY_CLIENTS: readonly ClientKind[] = ['pine', 'eudora', 'mutt', 'outlook', 'thunderbird'];

export async function generateMbox(options: GenerateMboxOptions, out: Writable | string): Promise<MboxStats> {
  if (!(options.targetBytes > 0)) throw new Error(`generateMbox: targetBytes must be positive, got ${options.targetBytes}`);
  if (!/^[a-z0-9][a-z0-9._-]*$/i.test(options.list)) throw new Error(`generateMbox: bad list name ${JSON.stringify(options.list)}`);
  const root = new Rng(options.seed);
  const rng = root.child('messages');
  const target = options.targetBytes;
  const rate = options.anomalyRate ?? 1;
  const legacyShare = Math.min(0.9, Math.max(0, options.legacyShare ?? 0.05));
  const realName = options.realName ?? options.list.charAt(0).toUpperCase() + options.list.slice(1);
  const list: ListIdentity = {
    name: options.list.toLowerCase(),
    realName,
    host: options.host,
    webHost: options.webHost ?? options.host,
    webScheme: options.webScheme ?? 'http',
    description: options.description ?? `${realName} mailing list`,
    charset: options.listCharset ?? 'us-ascii',
    subjectPrefix: options.subjectPrefix ?? `[${realName}] `,
    archivePrivate: options.archivePrivate ?? false,
  };
  const listAddress = `${list.name}@${list.host}`;
  const legacyHost = `old.${list.host.split('.').slice(-2).join('.')}`;
  const headers = new ListHeaders(list);
  const zone = new ServerZone(options.timeZone ?? 'America/New_York');
  const policy: ClobberPolicy = options.clobberDatePolicy ?? 2;
  const site = root.child('site');
  const upgradeLagDays = site.int(20, 600);
  const virusScanner = site.chance(0.4);

  const text = new TextPool(root.child('text'));
  const binary = new BinaryPool(root.child('binary'), Math.min(8 << 20, Math.max(256 << 10, target / 64)));
  const composer = new MessageComposer(text, binary);

  const estimated = Math.max(20, target / MEAN_MESSAGE_BYTES);
  const people: Person[] = options.people
    ? [...options.people]
    : makePeople(root, Math.round(Math.min(3000, 15 + estimated / 120)), { languages: options.languages ?? DEFAULT_LANGUAGES });
  if (people.length === 0) throw new Error('generateMbox: people must not be empty');
  const bots = Array.from({ length: 2 }, (_, i) => makeBot(root.child(`bot-${i}`), i));
  const legacyPeople = Array.from({ length: Math.max(5, Math.round(people.length / 4)) }, (_, i) => {
    const p = makePerson(root.child(`legacy-person-${i}`), 5000 + i, { languages: [[85, 'en'], [8, 'fr'], [7, 'de']] });
    return { ...p, client: root.child(`legacy-client-${i}`).pick(LEGACY_CLIENTS), htmlShare: 0 };
  });

  // Dates advance in proportion to bytes written, so each era fills its span whatever the size mix.
  const liveStart = (options.startDate ?? new Date(Date.UTC(2005, 0, 10, 14, 0, 0))).getTime();
  const liveBytes = target * (1 - legacyShare);
  const liveSpan = Math.min(20 * 365.25, Math.max(60, liveBytes / MEAN_MESSAGE_BYTES / 12)) * 86_400_000;
  const legacyBytes = target * legacyShare;
  const legacySpan = Math.min(8 * 365.25, Math.max(90, legacyBytes / 2500 / 3)) * 86_400_000;
  const legacyStart = liveStart - legacySpan - 30 * 86_400_000;
  const maxThreads = Math.round(Math.min(400, 30 + estimated / 2000));

  const sink = await ByteSink.open(out, 'latin1');
  const manifest = options.manifest ? await ByteSink.open(options.manifest, 'utf8') : null;
  const stats: MboxStats = {
    messages: 0,
    bytes: 0,
    threads: 0,
    legacyMessages: 0,
    unescapedFromLines: 0,
    separatorLikeLines: 0,
    missingMessageIds: 0,
    duplicateMessageIds: 0,
    clobberedDates: 0,
    heldMessages: 0,
    attachments: 0,
    firstReceived: null,
    lastReceived: null,
  };

  let threads: Thread[] = [];
  const recentIds: string[] = [];
  const recentDrafts: Draft[] = [];
  let held: Held[] = [];
  let heldBytes = 0;
  let postId = 1;
  let legacy = legacyShare > 0;
  let clock = legacy ? legacyStart : liveStart;
  let lastEntryBytes = MEAN_MESSAGE_BYTES;
  let nextHeldMs = Number.POSITIVE_INFINITY;

  const emit = async (head: string, body: string, meta: Record<string, unknown>, receivedMs: number, draft: Draft | null) => {
    // Bodies are built from encoded bytes by construction; headers mix many sources, so check them.
    if (/[^\x00-\xff]/.test(head)) throw new Error(`generateMbox: message ${stats.messages} has a header character above U+00FF (encoding bug)`);
    const offset = sink.bytes;
    await sink.write(head);
    await sink.write(body);
    lastEntryBytes = head.length + body.length;
    stats.messages++;
    const when = new Date(receivedMs).toISOString();
    stats.firstReceived ??= when;
    stats.lastReceived = when;
    if (draft) {
      if (draft.messageId === null) stats.missingMessageIds++;
      // Duplicates are only ever made on purpose (a re-sent draft or a reused id); generated ids
      // do not collide, so counting those needs no set of every id seen.
      else if (meta.duplicate !== undefined) stats.duplicateMessageIds++;
      if (draft.hasUnescapedFromLines) {
        const c = countFromLines(draft.body);
        stats.unescapedFromLines += c.unescaped;
        stats.separatorLikeLines += c.separatorLike;
        meta.unescapedFromLines = c.unescaped;
        meta.separatorLikeLines = c.separatorLike;
      }
    }
    if (manifest) {
      await manifest.write(
        JSON.stringify({ n: stats.messages - 1, offset, bytes: lastEntryBytes, received: when, messageId: draft?.messageId ?? null, ...meta }) + '\n',
      );
    }
  };

  const cookAndEmit = async (draft: Draft, receivedMs: number, archivedMs: number, approvedMs: number | null, meta: Record<string, unknown>) => {
    const trace: string[] = [];
    if (virusScanner) trace.push(`X-Virus-Scanned: amavisd-new at ${list.host}`);
    const sender = draft.envelopeSender;
    const senderDomain = sender.slice(sender.lastIndexOf('@') + 1);
    if (rng.chance(0.5)) {
      trace.push(
        `Received: from [10.${rng.int(0, 255)}.${rng.int(0, 255)}.${rng.int(1, 254)}] (client.${senderDomain} [${ipFor(rng)}])\n\tby mail.${senderDomain} (Postfix) with ESMTPSA id ${rng.chars('0123456789ABCDEF', 10)}\n\tfor <${listAddress}>; ${senderDate(receivedMs - rng.int(1, 30) * 1000, 0, 'rfc-nopad')}`,
      );
    }
    if (receivedMs > Date.UTC(2011, 0, 1) && rng.chance(0.35)) {
      const b = rng.bytes(128).toString('base64');
      trace.push(
        `DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=${senderDomain}; s=${rng.pick(['selector1', 'mail', '20161025', 'default'])};\n\th=from:to:subject:date:message-id:mime-version;\n\tbh=${rng.bytes(32).toString('base64')};\n\tb=${b.slice(0, 70)}\n\t ${b.slice(70, 140)}\n\t ${b.slice(140, 210)}\n\t ${b.slice(210)}`,
      );
    }
    const cooked = cook(rng, {
      draft,
      headers,
      zone,
      receivedMs,
      archivedMs,
      approvedMs,
      postId: postId++,
      version: mailmanVersionAt(archivedMs, upgradeLagDays),
      policy,
      noEnvelope: rng.chance(0.002 * rate),
      traceHeaders: trace,
    });
    if (cooked.dateClobbered) stats.clobberedDates++;
    await emit(cooked.head, cooked.body, { era: 'live', subject: cooked.subject, dateClobbered: cooked.dateClobbered, ...meta }, receivedMs, draft);
  };

  const releaseHeld = async (until: number) => {
    if (until < nextHeldMs) return;
    const due = held.filter((h) => h.approveMs <= until).sort((a, b) => a.approveMs - b.approveMs);
    held = held.filter((h) => h.approveMs > until);
    for (const h of due) heldBytes -= h.draft.body.length;
    nextHeldMs = held.reduce((m, h) => Math.min(m, h.approveMs), Number.POSITIVE_INFINITY);
    for (const h of due) {
      await cookAndEmit(h.draft, h.receivedMs, h.approveMs + rng.int(1, 60) * 1000, h.approveMs, { held: true, ...h.meta });
    }
  };

  try {
    while (sink.bytes < target) {
      if (legacy && sink.bytes >= legacyBytes) {
        legacy = false;
        clock = liveStart;
        threads = [];
      }
      const mean = legacy ? (legacySpan * lastEntryBytes) / legacyBytes : (liveSpan * Math.min(lastEntryBytes, 4 * MEAN_MESSAGE_BYTES)) / liveBytes;
      clock += Math.max(1000, Math.round(rng.exponential(mean)));
      if (!legacy) await releaseHeld(clock);
      const remaining = target - sink.bytes;

      // Same message archived twice (re-sent, or duplicated on the way in).
      if (!legacy && recentDrafts.length > 0 && rng.chance(0.003 * rate)) {
        const again = rng.pick(recentDrafts);
        await cookAndEmit(again, clock, clock + rng.int(1, 60) * 1000, null, { duplicate: 'same-content' });
        continue;
      }
      if (legacy && stats.messages === 0 && rng.chance(0.5)) {
        await emit(folderInternalData(zone, clock, legacyHost), '', { era: 'legacy', kind: 'folder-internal-data' }, clock, null);
        continue;
      }

      // --- who writes, in which thread ---
      if (stats.messages % 16 === 0) threads = threads.filter((t) => clock - t.lastMs < 120 * 86_400_000 && t.count < t.maxLength);
      const pool = legacy ? legacyPeople : people;
      const isBot = !legacy && rng.chance(0.03);
      const author = isBot ? rng.pick(bots) : (pool[Math.floor(pool.length * Math.pow(rng.float(), 2.2))] as Person);
      let thread: Thread | null = null;
      let parent: ThreadNode | null = null;
      if (!isBot && threads.length > 0 && rng.chance(0.68)) {
        thread = threads[threads.length - 1 - Math.floor(threads.length * Math.pow(rng.float(), 3))] as Thread;
        parent = rng.chance(0.55) ? (thread.nodes[thread.nodes.length - 1] as ThreadNode) : rng.pick(thread.nodes);
      }
      const subject = thread ? thread.subject : { text: text.subject(rng, author.lang), lang: author.lang };

      // --- shape and anomalies ---
      const r = (p: number) => rng.chance(p * rate * (legacy ? 5 : 1));
      let kind: BodyKind = legacy
        ? rng.weighted<BodyKind>([[95, 'plain'], [3, 'attachments'], [2, 'signed']])
        : rng.weighted<BodyKind>([
            [70, 'plain'],
            [40 * author.htmlShare, 'alternative'],
            [2 * author.htmlShare, 'html-only'],
            [4, 'attachments'],
            [author.client === 'mutt' || author.client === 'evolution' ? 15 : 2, 'signed'],
            [1, 'forward'],
            [1, 'log'],
          ]);
      if (isBot) kind = rng.chance(0.3) ? 'log' : 'plain';
      const attachmentSizes: number[] = [];
      if (kind === 'attachments') {
        const n = rng.weighted([[8, 1], [2, 2], [1, 3]] as const);
        const mean = options.meanAttachmentBytes ?? 50_000;
        const mu = Math.log(mean) - 0.845;
        // Base64 grows files by 4/3; keep the last message from overshooting the target.
        let budget = Math.max(2000, (remaining - 4000) * 0.74);
        for (let i = 0; i < n; i++) {
          const size = Math.min(budget, Math.max(200, Math.round(rng.logNormal(mu, 1.3))), 12 << 20);
          attachmentSizes.push(size);
          budget = Math.max(200, budget - size);
        }
        stats.attachments += n;
      }
      const logBytes = kind === 'log' ? Math.min(Math.max(1000, remaining - 4000), Math.round(rng.logNormal(Math.log(15000), 1))) : 0;
      const fromProse = r(0.01);
      const mboxExcerpt = r(0.002);
      const keepUnescaped = legacy && (fromProse || mboxExcerpt) && rng.chance(0.75);
      if (keepUnescaped) kind = 'plain';
      const badDate = r(0.012)
        ? rng.weighted<NonNullable<ComposePlan['badDate']>>([
            [2, 'missing'],
            [2, 'unparseable'],
            [1, 'far-future'],
            [2, 'far-past'],
            [1, 'three-digit-year'],
            [2, 'two-digit-year'],
          ])
        : null;
      let forcedMessageId: string | null = null;
      if (recentIds.length > 0 && r(0.002)) forcedMessageId = rng.pick(recentIds);
      const missingMessageId = !forcedMessageId && (legacy ? rng.chance(0.05 * rate) : r(0.004));
      const skewMs = rng.chance(0.005) ? rng.int(-6, 6) * 3_600_000 : rng.int(-120, 120) * 1000;
      const plan: ComposePlan = {
        author,
        sentMs: clock + skewMs - rng.int(1, 120) * 1000,
        parent,
        subject,
        kind,
        attachmentSizes,
        logBytes,
        legacy,
        missingMessageId,
        forcedMessageId,
        badDate,
        fromProse,
        mboxExcerpt,
        keepUnescaped,
        rawSubject: r(0.002),
        emptySubject: r(0.003),
        listAddress: legacy ? `${list.name}@${legacyHost}` : listAddress,
        listName: realName,
      };
      const draft = composer.compose(rng, plan);
      const receivedMs = clock + (rng.chance(0.01) ? rng.int(600, 7200) * 1000 : 0);
      const meta: Record<string, unknown> = { kind, attachments: attachmentSizes.length };
      if (forcedMessageId) meta.duplicate = 'different-content';
      if (badDate) meta.badDate = badDate;

      if (legacy) {
        stats.legacyMessages++;
        await emit(legacyHead(rng, draft, receivedMs, zone, legacyHost, list.name), mboxBody(draft.body), { era: 'legacy', subject: legacySubject(draft), ...meta }, receivedMs, draft);
      } else if (rng.chance(0.01 * rate) && held.length < 50 && heldBytes + draft.body.length < remaining * 0.05) {
        // Held posts are archived when approved, possibly after the target is reached; keeping
        // their total small keeps the final size close to the target.
        stats.heldMessages++;
        heldBytes += draft.body.length;
        const delay = rng.chance(0.3) ? rng.int(16, 45) * 86_400_000 : rng.int(1, 72) * 3_600_000;
        held.push({ draft, receivedMs, approveMs: receivedMs + delay, meta });
        nextHeldMs = Math.min(nextHeldMs, receivedMs + delay);
      } else {
        await cookAndEmit(draft, receivedMs, receivedMs + rng.int(1, 90) * 1000, null, meta);
      }

      // --- remember for replies and duplicates ---
      if (thread) {
        thread.nodes.push(draft.node);
        if (thread.nodes.length > 24) thread.nodes.shift();
        thread.count++;
        thread.lastMs = clock;
      } else if (!isBot || rng.chance(0.2)) {
        stats.threads++;
        threads.push({ subject, nodes: [draft.node], count: 1, maxLength: Math.round(1 + rng.logNormal(1.2, 1.1)), lastMs: clock });
        if (threads.length > maxThreads) threads.shift();
      } else stats.threads++;
      if (draft.messageId) {
        recentIds.push(draft.messageId);
        if (recentIds.length > 200) recentIds.shift();
      }
      if (!legacy && draft.body.length < 64 * 1024) {
        recentDrafts.push(draft);
        if (recentDrafts.length > 32) recentDrafts.shift();
      }
    }
    // Posts still held when the archive was copied were approved eventually; archive them last.
    await releaseHeld(Number.POSITIVE_INFINITY);
  } catch (err) {
    await sink.abort();
    await manifest?.abort();
    throw err;
  }

  await sink.close();
  if (manifest) await manifest.close();
  stats.bytes = sink.bytes;
  return stats;
}

function legacySubject(draft: Draft): string {
  const s = draft.subject;
  return `${s.reply ? s.replyWord + ' ' : ''}${s.text}`;
}

/** From_ line and headers of a message as an older MTA/mail client wrote it into the imported mbox. */
function legacyHead(rng: Rng, draft: Draft, receivedMs: number, zone: ServerZone, legacyHost: string, listName: string): string {
  const out: string[] = [];
  const sender = draft.envelopeSender;
  out.push(`From ${sender}${rng.chance(0.7) ? '  ' : ' '}${zone.ctime(receivedMs)}`);
  if (rng.chance(0.3)) out.push(`Return-Path: <${sender}>`);
  if (rng.chance(0.6)) {
    const host = sender.slice(sender.lastIndexOf('@') + 1);
    out.push(
      `Received: from ${host} (${host} [${ipFor(rng)}])\n\tby ${legacyHost} (8.${rng.int(8, 12)}.${rng.int(1, 14)}/8.${rng.int(8, 12)}.${rng.int(1, 14)}) with ESMTP id ${rng.chars('ABCDEFGHIJKLMNOPQRSTUVWXYZ', 3)}${rng.int(10000, 99999)}\n\tfor <${listName}@${legacyHost}>; ${zone.sendmailDate(receivedMs)}`,
    );
  }
  for (const h of draft.headers) out.push(h.line);
  // Some mail clients kept their own status headers, and a wrong Content-Length Mailman ignores.
  if (rng.chance(0.15)) out.push(`Status: ${rng.pick(['RO', 'O', 'OR'])}`);
  if (rng.chance(0.05)) out.push(`Content-Length: ${draft.body.length + rng.int(-40, 40)}`);
  return out.join('\n') + '\n\n';
}

/** The pseudo-message UW-IMAP keeps at the top of a mailbox; imports often carry it along. */
function folderInternalData(zone: ServerZone, ms: number, host: string): string {
  const seconds = Math.floor(ms / 1000);
  return [
    `From MAILER-DAEMON ${zone.ctime(ms)}`,
    `Date: ${pythonFormatdate(ms).replace(' -0000', ' +0000')}`,
    `From: Mail System Internal Data <MAILER-DAEMON@${host}>`,
    `Subject: DON'T DELETE THIS MESSAGE -- FOLDER INTERNAL DATA`,
    `Message-ID: <${seconds}@${host}>`,
    `X-IMAP: ${seconds - 1} 0000000042`,
    'Status: RO',
    '',
    'This text is part of the internal format of your mail folder, and is not',
    'a real message.  It is created automatically by the mail system software.',
    'If deleted, important folder data will be lost, and it will be re-created',
    'with the data reset to initial values.',
    '',
    '',
  ].join('\n');
}
