// Helpers for the collector tests: request bodies and a POST with Klaviyo's headers.
import type { Collector } from '../../dev/collector/index';

/** A valid body for revision 2023-01-24 for this email (extra attributes merged in). */
export function body2023(email: string, attributes: Record<string, unknown> = {}) {
  return { data: { type: 'profile', attributes: { email, ...attributes }, meta: { identifiers: { email } } } };
}

/** A valid body for revisions 2023-09-15 and later. */
export function bodyModern(attributes: Record<string, unknown>) {
  return { data: { type: 'profile', attributes } };
}

export interface PostOptions {
  revision?: string;
  /** Default: '/client/profiles/' before 2024-10-15, '/client/profiles' from then on. */
  path?: string;
  company?: string;
  contentType?: string;
  /** Sent as is when a string. */
  raw?: string;
}

/** POST a body to the collector's client profile endpoint, as the tracker does. */
export function post(c: Collector, body: unknown, o: PostOptions = {}): Promise<Response> {
  const revision = o.revision ?? '2023-01-24';
  const path = o.path ?? (revision >= '2024-10-15' ? '/client/profiles' : '/client/profiles/');
  const headers: Record<string, string> = {
    'content-type': o.contentType ?? (revision >= '2024-10-15' ? 'application/vnd.api+json' : 'application/json'),
  };
  if (o.revision !== '') headers.revision = revision;
  return fetch(`${c.url}${path}?company_id=${o.company ?? 'AbC123'}`, { method: 'POST', headers, body: o.raw ?? JSON.stringify(body) });
}

/** The JSON:API errors of an answer. */
export async function errorsOf(res: Response): Promise<{ code: string; detail: string; source?: { pointer?: string; parameter?: string } }[]> {
  return ((await res.json()) as { errors: never[] }).errors;
}
