// JSON:API error objects, shaped like Klaviyo's.
import { randomUUID } from 'node:crypto';
import type { ApiErrorObj } from './types';

/** One error object; `where` is a JSON pointer into the body (starts with '/') or a parameter name. */
export function apiError(status: number, code: string, detail: string, where?: string): ApiErrorObj {
  const err: ApiErrorObj = { id: randomUUID(), status, code, title: TITLES[code] ?? 'Error.', detail };
  if (where !== undefined) err.source = where.startsWith('/') ? { pointer: where } : { parameter: where };
  return err;
}

const TITLES: Record<string, string> = {
  invalid: 'Invalid input.',
  parse_error: 'Malformed request body.',
  throttled: 'Request was throttled.',
  not_found: 'Not found.',
  method_not_allowed: 'Method not allowed.',
  unsupported_media_type: 'Unsupported media type.',
  request_too_large: 'Request entity too large.',
  gone: 'Gone.',
  error: 'A server error occurred.',
  service_unavailable: 'Service unavailable.',
};

/** The error code the collector uses for a status it is told to answer by a fault. */
export function codeForStatus(status: number): string {
  return { 404: 'not_found', 410: 'gone', 413: 'request_too_large', 429: 'throttled', 503: 'service_unavailable' }[status] ??
    (status >= 500 ? 'error' : 'invalid');
}
