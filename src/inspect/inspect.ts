import { discoverLists, listPaths } from '../mailman2/installation.js';
import { readListConfig } from '../mailman2/list-config.js';
import { memberSummary, type MemberSummary } from '../mailman2/member-summary.js';
import { readMbox } from '../mailman2/mbox.js';
import { readPipermail } from '../mailman2/pipermail.js';
import { UserError, type Problem } from '../problems.js';

/** The `inspect --json` document: these field names are what other tools read. */
export interface InspectedList {
  name: string;
  displayName: string | null;
  hostName: string | null;
  postingAddress: string | null;
  language: string | null;
  charset: string | null;
  archive: {
    policy: 'public' | 'private' | 'never' | null;
    volumeFrequency: number | null;
    mbox: string | null;
    mboxMessages: number;
    firstDate: string | null;
    lastDate: string | null;
    pipermailArticles: number;
  };
  members: MemberSummary[];
  owners: string[];
  moderators: string[];
  articles: { number: number; period: string; messageId: string | null }[];
  problems: Problem[];
}

export async function inspectInstallation(root: string, only: string[] = []): Promise<InspectedList[]> {
  const all = await discoverLists(root);
  for (const name of only) {
    if (!all.includes(name)) throw new UserError(`${root}/lists/${name}: no such list in this Mailman 2 installation`);
  }
  const names = only.length ? only : all;
  const out: InspectedList[] = [];
  for (const name of names) out.push(await inspectList(root, name));
  return out;
}

/** Never throws for a bad list: what could not be read becomes a problem of that list. */
export async function inspectList(root: string, name: string): Promise<InspectedList> {
  const paths = await listPaths(root, name);
  const result: InspectedList = {
    name,
    displayName: null,
    hostName: null,
    postingAddress: null,
    language: null,
    charset: null,
    archive: { policy: null, volumeFrequency: null, mbox: paths.mbox, mboxMessages: 0, firstDate: null, lastDate: null, pipermailArticles: 0 },
    members: [],
    owners: [],
    moderators: [],
    articles: [],
    problems: [],
  };
  const fail = (err: unknown, code: string): void => {
    result.problems.push({ severity: 'error', code, list: name, message: err instanceof Error ? err.message.split('\n')[0]! : String(err) });
  };
  let charset: string | undefined;
  try {
    const { config, problems } = await readListConfig(paths.configPck, { listName: name });
    result.problems.push(...problems);
    Object.assign(result, {
      displayName: config.realName,
      hostName: config.hostName,
      postingAddress: config.postingAddress,
      language: config.preferredLanguage,
      charset: config.charset,
      owners: config.owners,
      moderators: config.moderators,
      members: config.members.map(memberSummary),
    });
    result.archive.policy = config.archive.policy;
    result.archive.volumeFrequency = config.archive.volumeFrequency;
    charset = config.charset;
  } catch (err) {
    fail(err, 'config-unreadable');
  }
  if (paths.mbox) {
    try {
      let first: string | null = null;
      let last: string | null = null;
      for await (const msg of readMbox(paths.mbox, { list: name, charset })) {
        result.archive.mboxMessages++;
        const d = msg.meta.date;
        if (d && (!first || d < first)) first = d;
        if (d && (!last || d > last)) last = d;
        for (const p of msg.problems) if (p.severity === 'error') result.problems.push({ ...p, list: name });
      }
      result.archive.firstDate = first;
      result.archive.lastDate = last;
    } catch (err) {
      fail(err, 'mbox-unreadable');
    }
  }
  if (paths.pipermail) {
    try {
      const archive = await readPipermail(paths.pipermail, { list: name, charset: charset ?? 'us-ascii', volumeFrequency: result.archive.volumeFrequency ?? undefined });
      const homes = archive.articles.filter((a) => !a.stray).sort((a, b) => a.number - b.number);
      result.archive.pipermailArticles = homes.length;
      result.articles = homes.map((a) => ({ number: a.number, period: a.period, messageId: a.messageId }));
      result.problems.push(...archive.problems);
    } catch (err) {
      fail(err, 'pipermail-unreadable');
    }
  }
  return result;
}
