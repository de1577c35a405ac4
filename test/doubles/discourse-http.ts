// HTTP plumbing of the Discourse test double: request parameters the way Rails builds
// `params` (query string + JSON / urlencoded / multipart body, with `a[b][]` nesting),
// and the response shapes of ApplicationController / JsonError.

import type { IncomingMessage, ServerResponse } from 'node:http';
import { MSG } from './discourse-text.js';

export type ParamValue = string | number | boolean | null | ParamValue[] | { [key: string]: ParamValue };
export type Params = Record<string, ParamValue>;

export interface UploadedFile {
  field: string;
  filename: string;
  contentType: string;
  data: Buffer;
}

export interface ParsedRequest {
  method: string;
  /** Path without query string. */
  path: string;
  /** Path with query string, as Rails' request.fullpath. */
  fullpath: string;
  params: Params;
  files: UploadedFile[];
  headers: IncomingMessage['headers'];
  remoteIp: string;
}

/** Thrown by handlers; turned into Discourse's error JSON by the server. */
export class DiscourseError extends Error {
  constructor(
    readonly status: number,
    readonly body: unknown,
    readonly headers: Record<string, string> = {},
  ) {
    super(`Discourse error ${status}`);
  }
}

export function jsonError(
  status: number,
  errors: string[],
  type?: string,
  extras?: Record<string, unknown>,
  headers?: Record<string, string>,
): DiscourseError {
  const body: Record<string, unknown> = { errors };
  if (type) body.error_type = type;
  if (extras) body.extras = extras;
  return new DiscourseError(status, body, headers);
}

export const notFound = () => jsonError(404, [MSG.notFound], 'not_found');
export const invalidAccess = (message: string = MSG.invalidAccess) => jsonError(403, [message], 'invalid_access');
export const notLoggedIn = () => jsonError(403, [MSG.notLoggedIn], 'not_logged_in');
export const invalidParameters = (what: string) =>
  jsonError(400, [MSG.invalidParams(what)], 'invalid_parameters');
/** ActionController::ParameterMissing: 400 without error_type. */
export const paramMissing = (name: string) => jsonError(400, [MSG.paramMissing(name)]);
/** render_json_error with an array or an ActiveRecord's full_messages: 422. */
export const unprocessable = (errors: string[]) => jsonError(422, errors);

function setNested(target: Params, key: string, value: ParamValue): void {
  const m = /^([^[\]]+)((?:\[[^\]]*\])*)$/.exec(key);
  if (!m || !m[1]) {
    target[key] = value;
    return;
  }
  const parts = [m[1], ...[...(m[2] ?? '').matchAll(/\[([^\]]*)\]/g)].map((x) => x[1] ?? '')];
  let node: ParamValue = target;
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i] as string;
    const last = i === parts.length - 1;
    const nextIsArray = parts[i + 1] === '';
    if (Array.isArray(node)) {
      if (last) node.push(value);
      else {
        const child: ParamValue = nextIsArray ? [] : {};
        node.push(child);
        node = child;
      }
      continue;
    }
    if (node === null || typeof node !== 'object') return;
    const obj: { [key: string]: ParamValue } = node;
    if (last) {
      obj[part] = value;
    } else {
      const existing = obj[part];
      if (existing === undefined || existing === null || typeof existing !== 'object') {
        obj[part] = nextIsArray ? [] : {};
      }
      node = obj[part] as ParamValue;
    }
  }
}

export function parseUrlencoded(text: string, into: Params = {}): Params {
  if (!text) return into;
  for (const pair of text.split('&')) {
    if (pair === '') continue;
    const eq = pair.indexOf('=');
    const rawKey = eq < 0 ? pair : pair.slice(0, eq);
    const rawVal = eq < 0 ? '' : pair.slice(eq + 1);
    const decode = (s: string) => {
      try {
        return decodeURIComponent(s.replace(/\+/g, ' '));
      } catch {
        return s;
      }
    };
    setNested(into, decode(rawKey), decode(rawVal));
  }
  return into;
}

function parseMultipart(body: Buffer, boundary: string, into: Params, files: UploadedFile[]): void {
  const delimiter = Buffer.from(`--${boundary}`);
  let pos = body.indexOf(delimiter);
  while (pos >= 0) {
    const start = pos + delimiter.length;
    if (body.subarray(start, start + 2).toString() === '--') break;
    const next = body.indexOf(delimiter, start);
    if (next < 0) break;
    let part = body.subarray(start, next);
    if (part.subarray(0, 2).toString() === '\r\n') part = part.subarray(2);
    if (part.subarray(part.length - 2).toString() === '\r\n') part = part.subarray(0, part.length - 2);
    const headerEnd = part.indexOf('\r\n\r\n');
    if (headerEnd >= 0) {
      const headerText = part.subarray(0, headerEnd).toString('utf8');
      const data = part.subarray(headerEnd + 4);
      const disposition = /content-disposition:([^\r\n]*)/i.exec(headerText)?.[1] ?? '';
      const name = /\bname="([^"]*)"/i.exec(disposition)?.[1];
      const filename = /\bfilename="([^"]*)"/i.exec(disposition)?.[1];
      const contentType = /content-type:\s*([^\r\n]*)/i.exec(headerText)?.[1]?.trim() ?? 'application/octet-stream';
      if (name !== undefined) {
        if (filename !== undefined) {
          files.push({ field: name, filename, contentType, data: Buffer.from(data) });
          setNested(into, name, filename);
        } else {
          setNested(into, name, data.toString('utf8'));
        }
      }
    }
    pos = next;
  }
}

function jsonToParams(value: unknown): ParamValue {
  if (value === null || typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') {
    return value;
  }
  if (Array.isArray(value)) return value.map(jsonToParams);
  if (typeof value === 'object') {
    const out: { [key: string]: ParamValue } = {};
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) out[k] = jsonToParams(v);
    return out;
  }
  return null;
}

export async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer));
  return Buffer.concat(chunks);
}

/** Builds Rails-like params. A malformed JSON body is Rails' 400. */
export function parseRequest(req: IncomingMessage, body: Buffer): ParsedRequest {
  const url = new URL(req.url ?? '/', 'http://double.invalid');
  const params: Params = {};
  parseUrlencoded(url.search.replace(/^\?/, ''), params);
  const files: UploadedFile[] = [];
  const contentType = req.headers['content-type'] ?? '';
  if (body.length > 0) {
    if (/^application\/json/i.test(contentType)) {
      let parsed: unknown;
      try {
        parsed = JSON.parse(body.toString('utf8'));
      } catch {
        throw jsonError(400, ['Invalid JSON body']);
      }
      if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) {
        for (const [k, v] of Object.entries(parsed as Record<string, unknown>)) params[k] = jsonToParams(v);
      } else {
        params._json = jsonToParams(parsed);
      }
    } else if (/^multipart\/form-data/i.test(contentType)) {
      const boundary = /boundary=(?:"([^"]+)"|([^;]+))/i.exec(contentType);
      const b = boundary?.[1] ?? boundary?.[2];
      if (b) parseMultipart(body, b.trim(), params, files);
    } else {
      parseUrlencoded(body.toString('utf8'), params);
    }
  }
  return {
    method: (req.method ?? 'GET').toUpperCase(),
    path: url.pathname,
    fullpath: (req.url ?? '/').replace(/^[a-z]+:\/\/[^/]+/i, ''),
    params,
    files,
    headers: req.headers,
    remoteIp: req.socket.remoteAddress ?? '127.0.0.1',
  };
}

export function str(v: ParamValue | undefined): string | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return undefined;
}

/** Rails' `present?` for a param. */
export function present(v: ParamValue | undefined): boolean {
  if (v === undefined || v === null) return false;
  if (typeof v === 'string') return v.trim() !== '';
  if (Array.isArray(v)) return v.length > 0;
  if (typeof v === 'object') return Object.keys(v).length > 0;
  return v !== false;
}

/** ActiveModel::Type::Boolean cast. */
export function truthy(v: ParamValue | undefined): boolean {
  if (v === undefined || v === null) return false;
  if (typeof v === 'boolean') return v;
  const s = String(v).trim().toLowerCase();
  return !['', '0', 'f', 'false', 'off', 'no', 'n'].includes(s);
}

export function obj(v: ParamValue | undefined): { [key: string]: ParamValue } | undefined {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? v : undefined;
}

export function list(v: ParamValue | undefined): ParamValue[] {
  if (v === undefined || v === null) return [];
  if (Array.isArray(v)) return v;
  if (typeof v === 'object') return Object.values(v);
  return [v];
}

export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', ...headers });
  res.end(text);
}

export function sendText(res: ServerResponse, status: number, text: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', ...headers });
  res.end(text);
}
