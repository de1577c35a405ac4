export type * from './types.js';
export { buildRedirects, groupByHost, sortEntries, articleFileName, PERIOD_INDEX_PAGES } from './entries.js';
export { toNginx, type NginxMap, type NginxOptions } from './nginx.js';
export { toApache, type ApacheMap, type ApacheOptions } from './apache.js';
export { toJson, toCsv, unmappedToCsv, csvField } from './tabular.js';
export { periodSpan, archiveView, type PeriodSpan, type ArchiveView, type Granularity } from './periods.js';
export { oldLayout, fqdnListname, HyperKittyUrls, discoursePostUrl, DEFAULT_PUBLIC_ARCHIVE_URL, type OldLayout, type OldBase } from './urls.js';
export { apacheEscapePath, encodePathForUrl, safeTargetUrl, unsafePathReason, unsafeHostReason } from './keys.js';
