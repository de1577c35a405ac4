import { z } from 'zod';

/**
 * The migration configuration file. Secrets are never in the file: it names the environment
 * variables that hold them (`passwordEnv`, `archiverKeyEnv`, `apiKeyEnv`).
 */
const envName = z
  .string()
  .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be the name of an environment variable, not a secret');

const httpUrl = z.string().url().refine((u) => /^https?:\/\//.test(u), 'must be an http(s) URL');

// Templates publishing for the Mailman 3 target (see src/targets/mailman3/env.ts).
const SHELL_SAFE_PATH = /^\/[A-Za-z0-9._/@+:-]*$/;

/**
 * Where list templates (header, footer, welcome, goodbye) are published for the core. Mailman 3
 * stores only a URI per template and fetches it whenever it decorates a message (cached for
 * `[mailman] cache_life`, 7 days by default), so the place must stay up as long as the list lives:
 * - `http`: the tool writes `<dir>/<list_id>/<template>.txt`; the operator serves `dir` at
 *   `baseUrl` from any web server the core can reach (UTF-8, with `charset=utf-8` for non-ASCII
 *   text, or Mailman's `requests` reads it as Latin-1); the tool checks each URL before setting it.
 * - `file`: the tool writes `<coreDir>/<list_id>/<template>.txt` on the core host through
 *   `command` (argv prefix such as ["ssh", "mail.example.org"]; [] when it runs on that host) and
 *   sets `file://` URIs.
 * Without it, templates are not carried: their exact text is reported.
 */
export const Mailman3TemplatesSchema = z.discriminatedUnion('via', [
  z
    .object({
      via: z.literal('http'),
      dir: z.string().min(1),
      baseUrl: z.string().url().refine((u) => /^https?:\/\//.test(u), 'must be an http(s) URL'),
    })
    .strict(),
  z
    .object({
      via: z.literal('file'),
      coreDir: z.string().regex(SHELL_SAFE_PATH, 'must be an absolute path of letters, digits and ._/@+:-'),
      command: z.array(z.string()).default([]),
    })
    .strict(),
]);
export type Mailman3TemplatesConfig = z.infer<typeof Mailman3TemplatesSchema>;

export const Mailman3TargetSchema = z
  .object({
    kind: z.literal('mailman3'),
    rest: z.object({ url: httpUrl, user: z.string().min(1), passwordEnv: envName }).strict(),
    hyperkitty: z
      .object({
        url: httpUrl,
        archiverKeyEnv: envName,
        /**
         * A HyperKitty (Django) superuser, used only to read back private archives: anonymous
         * visitors cannot see them, so without it verify cannot count a private list's messages.
         */
        user: z.string().min(1).optional(),
        passwordEnv: envName.optional(),
      })
      .strict()
      .refine((h) => (h.user === undefined) === (h.passwordEnv === undefined), 'user and passwordEnv go together'),
    /** Postorius base URL, for listinfo redirects; defaults to <newBaseUrl>/postorius/. */
    postoriusUrl: httpUrl.optional(),
    /** Mail domain for the new lists; default is each list's own host_name. */
    domain: z.string().min(1).optional(),
    /** Which archive path to use; `auto` lets the plan pick the faster one per list. */
    archivePath: z.enum(['http', 'server', 'auto']).default('http'),
    /** Command prefix that runs on the HyperKitty host, e.g. ["ssh", "lists.example.org"]; empty = local. */
    serverCommand: z.array(z.string()).optional(),
    /**
     * The server-side archive import: `manage` is the argv of Django's manage command on the
     * HyperKitty host (run after serverCommand), e.g. ["mailman-web"] or
     * ["sudo", "-u", "www-data", "/usr/share/mailman3-web/manage.py"]; `tmpDir` is where the
     * cleaned mbox is copied to on that host when serverCommand is not empty.
     */
    serverImport: z
      .object({
        manage: z.array(z.string().min(1)).min(1).default(['mailman-web']),
        tmpDir: z.string().min(1).default('/tmp'),
      })
      .strict()
      .default({ manage: ['mailman-web'], tmpDir: '/tmp' }),
    templates: Mailman3TemplatesSchema.optional(),
    /**
     * How many messages are posted to HyperKitty at once. HyperKitty does its per-message work
     * inside the request, so the rate stops rising once every web worker is busy, and where that
     * happens depends on its number of workers and on the load of its machine (on the test stack:
     * 1–2 in flight when loaded, 4 when quiet). `auto` measures the rate while it raises the number
     * and keeps the level at which it stops rising (at most 16); a number fixes it.
     */
    replayConcurrency: z.union([z.literal('auto'), z.number().int().min(1).max(64)], { error: 'expected "auto" or a whole number from 1 to 64' }).default('auto'),
  })
  .strict();

export const DiscourseTargetSchema = z
  .object({
    kind: z.literal('discourse'),
    url: httpUrl,
    apiKeyEnv: envName,
    apiUsername: z.string().min(1),
    /** Site-wide admin API budget (DISCOURSE_MAX_ADMIN_API_REQS_PER_MINUTE). */
    requestsPerMinute: z.number().int().min(1).default(60),
    parentCategory: z.union([z.number().int(), z.string()]).optional(),
    /** How archive authors are represented; see README "Discourse target". */
    authors: z.enum(['active-users', 'importer-account']).default('active-users'),
    /** Group that may see categories of lists with private archives; default: one group per list. */
    privateGroup: z.string().optional(),
    /** Members become a group watching the category. */
    subscriptions: z.boolean().default(true),
    /** Replay even though the site would send email notifications (not recommended). */
    allowEmails: z.boolean().default(false),
    foldQuotedTails: z.boolean().default(false),
    /** Use the HTML part of multipart/alternative mail instead of the text part (Discourse's own default is HTML). */
    preferHtml: z.boolean().default(false),
    /** Upload attachments and link them from the post; off leaves a note naming each attachment. */
    uploadAttachments: z.boolean().default(true),
  })
  .strict();

export const ConfigSchema = z
  .object({
    source: z
      .object({
        root: z.string().min(1),
        /** The Mailman 2 server's time zone (IANA name): dates without a zone and pipermail periods use it. */
        timeZone: z
          .string()
          .refine((tz) => {
            try {
              new Intl.DateTimeFormat('en', { timeZone: tz });
              return true;
            } catch {
              return false;
            }
          }, 'must be an IANA time zone name such as Europe/Berlin')
          .default('UTC'),
        /** Per-list overrides, e.g. a charset for a list whose preferred_language lies. */
        lists: z.record(z.string(), z.object({ charset: z.string().optional() }).strict()).default({}),
      })
      .strict(),
    target: z.discriminatedUnion('kind', [Mailman3TargetSchema, DiscourseTargetSchema]),
    archive: z
      .object({
        oldBaseUrl: httpUrl.optional(),
        cgiExtension: z.string().regex(/^(\.[A-Za-z0-9]+)?$/, 'must be empty or like ".cgi"').default(''),
        newBaseUrl: httpUrl.optional(),
        /** Thread messages with no usable headers by subject as well. */
        groupBySubject: z.boolean().default(false),
      })
      .strict()
      .default({ cgiExtension: '', groupBySubject: false }),
    state: z.string().min(1).default('./mm2migrate.sqlite'),
    reports: z.string().min(1).default('./reports'),
  })
  .strict();

export type Config = z.infer<typeof ConfigSchema>;
export type Mailman3TargetConfig = z.infer<typeof Mailman3TargetSchema>;
export type DiscourseTargetConfig = z.infer<typeof DiscourseTargetSchema>;
export type TargetConfig = Config['target'];
