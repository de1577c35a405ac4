/**
 * Expected duration of each archive path, from throughput measured against a real HyperKitty on a
 * 2-core machine. The server-side path (one server process: hyperkitty_import, sender links, search
 * index update, read-back) ran at 77–94 messages/s everything included, with 1–2 s of fixed cost
 * on the server plus copying the mbox there (bench/README.md). Over the archiver endpoint, 4 clients
 * got 16–17 messages/s accepted and processed (tasks run inline) on a quiet machine and 3.4–5 under
 * load; with a separate task cluster, one client is accepted at ~9 messages/s but the queue drains
 * at 2.5–4 end to end. The HTTP path is bound by HyperKitty's own per-message work; 6 is a middle
 * figure for planning, not a promise.
 */
export const HTTP_MESSAGES_PER_SECOND = 6;
export const SERVER_IMPORT_MESSAGES_PER_SECOND = 75;
/** Fixed cost of the server-side path: starting Django, copying the cleaned mbox over the command prefix (ssh). */
export const SERVER_IMPORT_OVERHEAD_SECONDS = 15;

export interface ArchivePathEstimate {
  messages: number;
  httpSeconds: number;
  serverSeconds: number;
  recommended: 'http' | 'server';
  reason: string;
}

export function estimateArchivePaths(messages: number, serverAvailable: boolean): ArchivePathEstimate {
  const httpSeconds = messages / HTTP_MESSAGES_PER_SECOND;
  const serverSeconds = messages ? SERVER_IMPORT_OVERHEAD_SECONDS + messages / SERVER_IMPORT_MESSAGES_PER_SECOND : 0;
  const serverFaster = serverSeconds < httpSeconds;
  const recommended = serverFaster && serverAvailable ? 'server' : 'http';
  const reason = !serverFaster
    ? 'small archive: the HTTP replay needs no shell on the server and is about as fast'
    : serverAvailable
      ? 'the server-side import is faster for an archive of this size'
      : 'the server-side import would be faster; configure target.serverCommand (shell access to the HyperKitty host) to use it';
  return { messages, httpSeconds, serverSeconds, recommended, reason };
}
