// buildRequest: the exact Create or Update Client Profile request for a profile at an API revision (DESIGN §4).
import type { Profile, ProfileRequestBody } from './types';
import { FIELDS, identifiersOf } from './payload';

/** One HTTP request, ready for fetch: POST is implied. */
export interface RequestSpec { url: string; headers: Record<string, string>; body: string }

// One field of a profile copied to another: TypeScript types `to[k] = from[k]` for a generic key only.
const copyField = <K extends keyof Profile>(to: Profile, from: Profile, k: K) => {
  to[k] = from[k];
};

/** The exact request for a profile update at a revision (default 2023-01-24). Revision dates compare as
 *  strings (`YYYY-MM-DD[.suffix]`). The URL carries only the public company id, never personal data. */
export function buildRequest(profile: Profile, opts: { apiHost: string; company: string; revision?: string }): RequestSpec {
  const revision = opts.revision || '2023-01-24';
  const v2024 = revision >= '2024-10-15'; // path without trailing slash, JSON:API media type
  const attributes: Profile = {};
  // Attributes in the order of DESIGN §4 (JSON.stringify drops the undefined ones).
  for (const k of FIELDS) if (k != '_kx' || revision >= '2023-09-15') copyField(attributes, profile, k);
  const identifiers = identifiersOf(profile);
  const meta = revision < '2023-07-15' && Object.keys(identifiers)[0] ? { identifiers } : undefined;
  const body: ProfileRequestBody = { data: { type: 'profile', attributes, meta } };
  return {
    url: `${opts.apiHost.replace(/\/+$/, '')}/client/profiles${v2024 ? '' : '/'}?company_id=${encodeURIComponent(opts.company)}`,
    headers: { revision, 'Content-Type': `application/${v2024 ? 'vnd.api+' : ''}json` },
    body: JSON.stringify(body),
  };
}
