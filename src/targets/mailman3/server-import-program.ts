import { z } from 'zod';

/**
 * The server-side import as ONE Python program run in HyperKitty's Django shell
 * (`<manage> shell -c <program>`), instead of the documented `hyperkitty_import` and
 * `update_index_one_list` as two commands plus read-backs. Measured on the test stack (HyperKitty
 * 1.3.7, Whoosh), `update_index_one_list` was as slow as the import itself or slower: haystack
 * indexes with Whoosh's `update_document`, which opens a reader over every segment of the shared
 * index for every message. The program does the same steps, with the same results, and less
 * repeated work:
 *  1. the list's row is created and synced from Mailman core (what hyperkitty_import does first,
 *     so a private list is private before its first message), and for a private archive the
 *     import stops unless HyperKitty now has the list as private;
 *  2. `hyperkitty_import --since 1970-01-01 -l <list> --no-sync-mailman <mbox>` through
 *     call_command. `--no-sync-mailman` skips its final `sync_with_mailman()`, which re-syncs
 *     EVERY list and looks up in Mailman EVERY sender of the whole site not yet linked to a
 *     Mailman user (one REST request each, repeated at every import);
 *  3. the senders of this list not yet linked are looked up (the part of that sync that concerns
 *     this import; the daily `sync_mailman` job does the rest of the site);
 *  4. the list's full-text index: haystack's `update_index` for the list, exactly as
 *     `update_index_one_list` runs it (same querysets, batches, retries, documents). Only with the
 *     Whoosh backend, each batch's old copies are deleted through one searcher and the documents
 *     then added (Whoosh's own advice for many documents) instead of `update_document` per message;
 *     any other backend, or a Whoosh index locked for a minute, is updated the standard way;
 *  5. read-back: the message-id hashes HyperKitty stores for the list, printed as JSON after a
 *     marker. Runs whatever failed before, so a partial import is still journaled.
 * Each step announces itself on stdout (`mm2migrate: <step>`) and its own output follows, so the
 * commands log reads like the documented procedure.
 */

export const RESULT_MARKER = 'MM2MIGRATE-SERVER-IMPORT ';

export interface ServerImportProgramOptions {
  fqdn: string;
  /** The mbox as the server sees it. */
  mboxFile: string;
  /** Stop before importing unless HyperKitty has the list as private after the sync. */
  requirePrivate: boolean;
}

const Step = z.object({ ok: z.boolean(), seconds: z.number(), error: z.string().optional() });

export const ServerImportResult = z.object({
  sync: Step.extend({ archivePolicy: z.string().nullable().optional() }),
  import: Step.nullable(),
  senders: Step.extend({ checked: z.number().optional(), linked: z.number().optional() }).nullable(),
  index: Step.extend({ method: z.enum(['whoosh-bulk', 'update_index']).optional(), bulkBatches: z.number().optional() }).nullable(),
  readBack: Step.extend({ hashes: z.array(z.string()).optional() }),
});
export type ServerImportResult = z.infer<typeof ServerImportResult>;

/** Python literal of a string (JSON string syntax is valid Python for any text). */
function py(s: string): string {
  return JSON.stringify(s);
}

export function serverImportProgram(opts: ServerImportProgramOptions): string {
  const { fqdn, mboxFile, requirePrivate } = opts;
  // Everything lives inside one function: `shell -c` exec()s the text, and on older Django
  // versions names defined at its top level are not visible inside functions defined there.
  const body = String.raw`
import json, sys, time, traceback
from django.core.management import call_command
from hyperkitty.models import ArchivePolicy, Email, MailingList, Sender

NAME = ${py(fqdn.toLowerCase())}
MBOX = ${py(mboxFile)}
REQUIRE_PRIVATE = ${requirePrivate ? 'True' : 'False'}

def step(label, fn):
    print('mm2migrate: ' + label, flush=True)
    began = time.monotonic()
    try:
        result = dict(fn() or {})
        result['ok'] = True
    except (Exception, SystemExit) as e:
        traceback.print_exc()
        result = {'ok': False, 'error': '%s: %s' % (type(e).__name__, e)}
    sys.stdout.write('\n')
    sys.stdout.flush()
    sys.stderr.flush()
    result['seconds'] = round(time.monotonic() - began, 3)
    return result

def sync():
    mlist = MailingList.objects.get_or_create(name=NAME)[0]
    mlist.update_from_mailman()
    mlist.save()
    policy = ArchivePolicy(mlist.archive_policy).name
    if REQUIRE_PRIVATE and policy != 'private':
        raise RuntimeError('HyperKitty has the list with archive policy %s after syncing it from Mailman core; not importing a private archive' % policy)
    return {'archivePolicy': policy}

def do_import():
    call_command('hyperkitty_import', '--since', '1970-01-01', '-l', NAME, '--no-sync-mailman', MBOX)

def senders():
    checked = linked = 0
    query = Sender.objects.filter(mailman_id__isnull=True, emails__mailinglist__name=NAME).distinct()
    for sender in list(query):
        checked += 1
        sender.set_mailman_id()
        if sender.mailman_id:
            linked += 1
    return {'checked': checked, 'linked': linked}

def index():
    from hyperkitty.search_indexes import update_index
    try:
        from haystack import connections
        from haystack.backends.whoosh_backend import WhooshSearchBackend
        from haystack.exceptions import SkipDocument
        from whoosh.writing import LockError
    except ImportError:
        WhooshSearchBackend = None
    if WhooshSearchBackend is None or not isinstance(connections['default'].get_backend(), WhooshSearchBackend):
        update_index(listname=NAME, verbosity=1)
        return {'method': 'update_index'}
    standard = WhooshSearchBackend.update
    batches = [0]

    # haystack's WhooshSearchBackend.update, with update_document (a reader over every segment
    # for every document) replaced by: delete the old copies through one searcher, then add.
    def bulk_update(self, index, iterable, commit=True):
        if not self.setup_complete:
            self.setup()
        self.index = self.index.refresh()
        try:
            writer = self.index.writer(timeout=60.0, delay=0.25)
        except LockError:
            return standard(self, index, iterable, commit=commit)
        try:
            docs = []
            for obj in iterable:
                try:
                    doc = index.full_prepare(obj)
                except SkipDocument:
                    continue
                for key in doc:
                    doc[key] = self._from_python(doc[key])
                doc.pop('boost', None)
                docs.append(doc)
            unique = [name for name, field in writer.schema.items() if field.unique]
            with writer.searcher() as searcher:
                for doc in docs:
                    for name in unique:
                        if name in doc:
                            for docnum in list(searcher.document_numbers(**{name: doc[name]})):
                                writer.delete_document(docnum)
            for doc in docs:
                try:
                    writer.add_document(**doc)
                except Exception:
                    if not self.silently_fail:
                        raise
                    self.log.error('%s while indexing a document', sys.exc_info()[0].__name__, exc_info=True)
        except BaseException:
            writer.cancel()
            raise
        if docs:
            writer.commit()
            batches[0] += 1
        else:
            writer.cancel()

    WhooshSearchBackend.update = bulk_update
    try:
        update_index(listname=NAME, verbosity=1)
    finally:
        WhooshSearchBackend.update = standard
    return {'method': 'whoosh-bulk', 'bulkBatches': batches[0]}

def read_back():
    return {'hashes': list(Email.objects.filter(mailinglist__name=NAME).values_list('message_id_hash', flat=True))}

out = {'import': None, 'senders': None, 'index': None}
out['sync'] = step('sync the list from Mailman core (MailingList.update_from_mailman)', sync)
if out['sync']['ok']:
    out['import'] = step('hyperkitty_import --since 1970-01-01 -l %s --no-sync-mailman %s' % (NAME, MBOX), do_import)
if out['import'] and out['import']['ok']:
    out['senders'] = step('link the senders of %s to Mailman users (Sender.set_mailman_id)' % NAME, senders)
    out['index'] = step('update_index_one_list %s (haystack update_index of the list)' % NAME, index)
out['readBack'] = step('read back the message-id hashes of %s' % NAME, read_back)
print('\n' + ${py(RESULT_MARKER)} + json.dumps(out), flush=True)
`;
  const indented = body
    .trim()
    .split('\n')
    .map((l) => (l ? `    ${l}` : l))
    .join('\n');
  return `def mm2migrate_server_import():\n${indented}\n\nmm2migrate_server_import()\n`;
}

/** The program's result line from its stdout; null when it never got that far. */
export function parseServerImportResult(stdout: string): ServerImportResult | null {
  const at = stdout.lastIndexOf(RESULT_MARKER);
  if (at < 0) return null;
  const line = stdout.slice(at + RESULT_MARKER.length).split('\n')[0]!;
  let data: unknown;
  try {
    data = JSON.parse(line);
  } catch {
    return null;
  }
  const parsed = ServerImportResult.safeParse(data);
  return parsed.success ? parsed.data : null;
}
