// The bursts the 1500-identify test and the bench send: n distinct people through the tracker, and the same n
// requests by hand with no tracker (the floor: what this browser can send at all), as page scripts.

/** Collector options with no rate limits, for the requests sent by hand. */
export const UNLIMITED = { strict: true, limits: { perSecond: 1e9, perMinute: 1e9 } };

/** n identifies for distinct people (`<prefix><i>@example.com`, properties.i), pushed in one loop. */
export const identifyCalls = (n: number, prefix: string): string =>
  `for (let i = 0; i < ${n}; i++) window._klaviyo.push(['identify', { email: ${JSON.stringify(prefix)} + i + '@example.com', properties: { i } }]);`;

/** The same n requests by hand: the tracker's body shape and headers, 12 at a time (its requests in flight), to `api`. */
export const bareFetches = (api: string, n: number): string => `for (let w = 0; w < 12; w++) (async () => {
  for (let i = w; i < ${n}; i += 12) {
    const email = 'bare' + i + '@example.com';
    const body = JSON.stringify({ data: { type: 'profile', attributes: { email, properties: { i } }, meta: { identifiers: { email } } } });
    await fetch(${JSON.stringify(api)}, { method: 'POST', credentials: 'omit', headers: { revision: '2023-01-24', 'Content-Type': 'application/json' }, body });
  }
})();`;
