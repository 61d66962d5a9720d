// The collector's public types: what tests and dev/start.ts code against.

/** Options of startCollector. Every field is optional; defaults in the comments. */
export interface CollectorOptions {
  /** TCP port; default 0 (a free port). `npm start` passes 8787 or PORT. */
  port?: number;
  /** Interface to listen on; default '127.0.0.1'. */
  host?: string;
  /**
   * Default true: the revision's schema with `additionalProperties: false` on every object except
   * `attributes.properties` and `meta.patch_properties.*`, email shape, E.164 phone, at least one
   * identifier, the revision's path and content type. False: the official schema only.
   */
  strict?: boolean;
  /** Revisions Klaviyo has retired: requests naming one are answered `410 Gone` (after the rate windows count
   *  them), as Klaviyo does two years after a revision's release. Default none. */
  retired?: string[];
  /** Offset (ms, 0..59999) of the fixed rate windows' boundaries on the collector's clock; default 0. */
  phaseMs?: number;
  /** Requests allowed per company per 1 s and per 60 s fixed window; defaults 350 / 3500. */
  limits?: { perSecond?: number; perMinute?: number };
  /** Serve HTTP/2 over TLS (HTTP/1.1 over TLS to a client that offers only that) with a self-signed certificate made
   *  by `openssl` at start (kept in memory only); `url` is then https://. Default false: plain HTTP/1.1. Browsers must
   *  be told to accept the certificate (Playwright's ignoreHTTPSErrors, Chromium's --ignore-certificate-errors,
   *  WebDriver's acceptInsecureCerts); node clients pass rejectUnauthorized: false or trust `certificate`. */
  http2?: boolean;
  /** HTTP/2 only: the SETTINGS_MAX_CONCURRENT_STREAMS the server announces per connection; default 100, the value
   *  RFC 9113 recommends as the least and common among large sites. */
  maxConcurrentStreams?: number;
  /** Latency (ms) added to every API answer: fixed, or uniform random in [min, max]; default 0. */
  latencyMs?: number | [number, number];
  /** Clock of the rate windows, fault expiry and the record (ms since epoch); default Date.now. */
  now?: () => number;
  /** Randomness for random latency, in [0, 1); default Math.random. */
  random?: () => number;
  /** URL prefix -> directory to serve files from, e.g. `{ '/dist/': 'dist' }`. */
  static?: Record<string, string>;
  /** Extra routes, tried before static files: return true when the request was answered (dev/start.ts's demo page). */
  handle?: (req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse) => boolean;
}

/** A JSON:API error object as the collector answers it (Klaviyo's shape). */
export interface ApiErrorObj {
  id: string;
  status: number;
  code: string;
  title: string;
  detail: string;
  source?: { pointer?: string; parameter?: string };
}

/** One request to the API path, as recorded on arrival and completed when answered. */
export interface RecordedRequest {
  /** 1, 2, 3… in arrival order (restarts after reset). */
  seq: number;
  /** Arrival time on the collector's clock (ms). */
  time: number;
  method: string;
  path: string;
  query: Record<string, string>;
  /** Lower-case header names. */
  headers: Record<string, string>;
  /** Parsed JSON, or the raw text when it was not JSON (undefined for a preflight or a dropped request). */
  body: unknown;
  /** The answer's status; 0 while pending, and for a request dropped or hung by a fault. */
  status: number;
  errors?: ApiErrorObj[];
  /** The `company_id` query parameter. */
  company?: string;
  /** The fault mode that decided this answer, if one did. */
  fault?: Fault['mode'];
  /** Latency (ms) added before the answer. */
  latencyMs?: number;
  /** The request's HTTP version as node saw it: '1.1', or '2.0' for HTTP/2. */
  httpVersion?: string;
}

/** A fault to inject; one per mode is active at a time (a new one replaces the old one of its mode). */
export type Fault =
  /** Answer this status (500, 503, 410, 429…) for forMs (ms) and/or count requests; 429 carries Retry-After (s, default 1). */
  | { mode: 'status'; status: number; forMs?: number; count?: number; retryAfter?: number }
  /** Accept the request and never answer; its socket is destroyed when forMs passes, on clearFaults or close. */
  | { mode: 'hang'; forMs?: number }
  /** Destroy the socket on arrival, for forMs (ms) and/or count requests. */
  | { mode: 'drop'; forMs?: number; count?: number }
  /** Add this latency (ms, fixed or [min, max]) on top of the `latencyMs` option. */
  | { mode: 'latency'; ms: number | [number, number] };

/** A person's merged state, built from the accepted (202) requests in arrival order. */
export interface ProfileState {
  /** Stable key: `<company>:<field>:<value>` of the first identifier seen for this person. */
  key: string;
  company: string;
  /** Every identifier seen for this person, latest value per field. */
  identifiers: Record<string, string>;
  /** Attributes merged field by field; `location` and `properties` merged key by key; null clears a field. */
  attributes: Record<string, unknown>;
  /** Number of accepted requests merged into this state. */
  updates: number;
  /** seq of the last request merged. */
  lastSeq: number;
}

/** A running collector. */
export interface Collector {
  /** Base URL, e.g. http://127.0.0.1:54321 (https:// with `http2`). */
  url: string;
  port: number;
  /** 'h2' with the `http2` option (a client may still speak HTTP/1.1 over TLS), else 'http/1.1'. */
  protocol: 'h2' | 'http/1.1';
  /** With `http2`: the self-signed certificate (PEM), for a client that would rather trust it than skip checks. */
  certificate?: string;
  /** Every request to the API paths in arrival order, preflights included (method 'OPTIONS'). */
  requests(): RecordedRequest[];
  /** The requests answered 202. */
  accepted(): RecordedRequest[];
  /** Each person's merged state in order of first appearance, optionally for one company. */
  profiles(company?: string): ProfileState[];
  /** Add a fault, replacing an active one of the same mode. */
  fault(f: Fault): void;
  /** Remove every fault; hanging requests are ended (socket destroyed). */
  clearFaults(): void;
  /** Forget requests, profiles and rate-window counts (faults stay: clearFaults removes them). */
  reset(): void;
  /** Stop listening and end every open connection (hanging requests, live pages). */
  close(): Promise<void>;
}
