// The bursts the 1500-identify test and the bench send: n distinct people through the tracker, and the same n
// requests by hand with no tracker (the floor: what this browser can send at all), as page scripts.
import { buildRequest } from '../../src/core/body';
/** Bare fetches in flight at once: the tracker's starting window (core/concurrency.ts). */
const MAX_IN_FLIGHT = 12;

/** Collector options with no rate limits, for the requests sent by hand. */
export const UNLIMITED = { strict: true, limits: { perSecond: 1e9, perMinute: 1e9 } };

/** n identifies for distinct people (`<prefix><i>@example.com`, properties.i), pushed in one loop. */
export const identifyCalls = (n: number, prefix: string): string =>
  `for (let i = 0; i < ${n}; i++) window._klaviyo.push(['identify', { email: ${JSON.stringify(prefix)} + i + '@example.com', properties: { i } }]);`;

/** The same n requests by hand: the tracker's URL, headers and body shape, as many at a time as it keeps in flight. */
export const bareFetches = (apiHost: string, company: string, n: number): string => {
  const { url, headers } = buildRequest({ email: 'x@example.com' }, { apiHost, company });
  return `for (let w = 0; w < ${MAX_IN_FLIGHT}; w++) (async () => {
  for (let i = w; i < ${n}; i += ${MAX_IN_FLIGHT}) {
    const email = 'bare' + i + '@example.com';
    const body = JSON.stringify({ data: { type: 'profile', attributes: { email, properties: { i } }, meta: { identifiers: { email } } } });
    await fetch(${JSON.stringify(url)}, { method: 'POST', credentials: 'omit', referrerPolicy: 'no-referrer', headers: ${JSON.stringify(headers)}, body });
  }
})();`;
};
