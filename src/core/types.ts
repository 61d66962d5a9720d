// The one typed definition of what the tracker keeps and sends. Everything else imports from here.

/** A profile's location, as the client profile API names it. */
export interface Location {
  address1?: string;
  address2?: string;
  city?: string;
  country?: string;
  latitude?: number | string;
  longitude?: number | string;
  region?: string;
  zip?: string;
  timezone?: string;
}

/** The identifiers a person can be matched on. `_kx` is Klaviyo's exchange id. */
export interface Identifiers {
  email?: string;
  phone_number?: string;
  external_id?: string;
  anonymous_id?: string;
  _kx?: string;
}

/** A normalised, validated profile update: modern key names only, only fields with a value. */
export interface Profile extends Identifiers {
  first_name?: string;
  last_name?: string;
  organization?: string;
  title?: string;
  image?: string;
  location?: Location;
  /** Custom properties: plain JSON values, prototype-safe (built on null-prototype objects then copied). */
  properties?: Record<string, unknown>;
}

/** One queued identify call, as stored (IndexedDB or memory). */
export interface QueueItem {
  /** Time-sortable unique id: the queue's order. */
  id: string;
  /** Public API key the item belongs to; queues of two companies never mix. */
  company: string;
  /** API revision the body is built for, e.g. `2023-01-24`. */
  revision: string;
  /** The update, with every identifier it will be matched on already folded in. */
  profile: Profile;
  /** When identify was called (ms since epoch); the TTL counts from here. */
  createdAt: number;
  /** Delivery attempts so far. */
  attempts: number;
  /** Not to be sent before this time (ms since epoch): backoff after a failed attempt. */
  notBefore: number;
  /** Sent on its own, never merged: a merged request it was part of got a 4xx. */
  solo?: boolean;
}

/** Settings a page can change with `['config', {...}]`. */
export interface Config {
  /** API origin, default `https://a.klaviyo.com` (a first-party proxy or the dev collector). */
  apiHost: string;
  /** API revision, default `2023-01-24`; later revisions change the request's shape. */
  revision: string;
  /** Domain for the `_kx` cookie; default: the registrable domain of the page. */
  cookieDomain?: string;
  /** Log every step to the console (may include personal data: never on in production). */
  debug: boolean;
  /** Called for every update the tracker gives up on (4xx, attempts used up, TTL, queue cap; never for a 410). */
  onError?: (drop: Drop) => void;
}

/** What `onError` receives when the tracker gives up on updates. */
export interface Drop {
  reason: 'client' | 'attempts' | 'ttl' | 'cap';
  status?: number;
  message: string;
  count: number;
}

/** The answer to one request: what send() reports, and what the retry policy decides on. */
export interface Answer {
  /** HTTP status; 0 = network error, -1 = timeout. */
  status: number;
  /** The Retry-After header as sent (seconds or an HTTP date); null or absent when not sent. */
  retryAfter?: string | null;
  /** RateLimit-Remaining: requests left in the server's current window. */
  rateRemaining?: number;
  /** RateLimit-Reset: seconds until the server's window resets. */
  rateReset?: number;
  /** The first JSON:API error's `detail` of a 4xx/5xx answer. */
  detail?: string;
  /** The revision the request was sent with (added by the caller: a 410's message names it). */
  revision?: string;
}

/** JSON:API error object of a 4xx/5xx answer. */
export interface ApiError {
  id?: string;
  code?: string;
  title?: string;
  detail?: string;
  source?: { pointer?: string; parameter?: string };
}

/** The request body at every revision (DESIGN §4): `_kx` is an attribute only from 2023-09-15; before 2023-07-15
 *  the identifiers are repeated in `meta.identifiers`, the only place `_kx` goes then. */
export interface ProfileRequestBody {
  data: {
    type: 'profile';
    attributes: Profile;
    meta?: { identifiers: Identifiers };
  };
}
