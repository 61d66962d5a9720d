// The bad-input table for e2e/badInput.test.ts: every kind of hostile or wrong command a page can push.
// `make` is JavaScript source, evaluated in the page (so Proxies, BigInt, Symbols, cycles and class instances
// are real page objects), whose value is handed to `window._klaviyo.push(...)` as is. `field` is the name the
// one console error must contain (the key as the caller wrote it, or the command part that is wrong).

/** One kind of bad input. */
export interface BadInput {
  /** Short name of the kind, printed in the report. */
  kind: string;
  /** What the `[klaviyo]` console error must name (a substring of the message). */
  field: string;
  /** Page-side JavaScript expression producing the value that is pushed. */
  make: string;
  /**
   * 'anonymous': must run before any valid identify (later, a remembered identity makes it valid), so it is
   * pushed before the bundle loads, replayed in order. 'preload': also pushed before load, to cover replay.
   */
  phase?: 'anonymous' | 'preload';
}

// Page-side helpers the expressions below use (defined once in the test page).
export const PAGE_HELPERS = `
window.__throwingGetter = (key, base) => Object.defineProperty(base || {}, key, { enumerable: true, get() { throw new Error('getter trap'); } });
window.__cyclic = () => { const o = { name: 'loop' }; o.self = o; return o; };
window.__deep = (n) => { let o = { leaf: 1 }; for (let i = 0; i < n; i++) o = { d: o }; return o; };
`;

const S = (n: number, ch = 'a') => `${JSON.stringify(ch)}.repeat(${n})`;
const MB6 = 6 * 1024 * 1024;

/** At least 40 kinds of bad input (there are more: each line is one kind). */
export const BAD_INPUTS: BadInput[] = [
  // Identify with no identifier: only meaningful while no identity is remembered.
  { kind: 'identify without identifier', field: 'identifier', make: `['identify', { first_name: 'Anon' }]`, phase: 'anonymous' },
  { kind: 'identify with empty object', field: 'identifier', make: `['identify', {}]`, phase: 'anonymous' },
  { kind: 'identify with blank email only', field: 'identifier', make: `['identify', { email: '   ', plan: 'x' }]`, phase: 'anonymous' },

  // Pushed before load: the replay path must survive them too.
  { kind: 'non-array push before load (string)', field: 'push', make: `'identify'`, phase: 'preload' },
  { kind: 'throwing Proxy command before load', field: 'push', make: `new Proxy(['identify', { email: 'proxy-pre@example.com' }], { get() { throw new Error('trap'); } })`, phase: 'preload' },
  { kind: 'bad email before load', field: 'email', make: `['identify', { email: 'pre-load-bad' }]`, phase: 'preload' },
  { kind: 'unknown config option before load', field: 'config', make: `['config', { apiHostt: 'https://evil.example' }]`, phase: 'preload' },

  // Non-array pushes.
  { kind: 'non-array push: string', field: 'push', make: `'identify'` },
  { kind: 'non-array push: null', field: 'push', make: `null` },
  { kind: 'non-array push: number', field: 'push', make: `42` },
  { kind: 'non-array push: undefined', field: 'push', make: `undefined` },
  { kind: 'non-array push: array-like object', field: 'push', make: `({ 0: 'identify', 1: { email: 'arraylike@example.com' }, length: 2 })` },
  { kind: 'non-array push: function', field: 'push', make: `(function identify() {})` },
  { kind: 'revoked Proxy command', field: 'push', make: `(() => { const r = Proxy.revocable([], {}); r.revoke(); return r.proxy; })()` },
  { kind: 'throwing Proxy command', field: 'push', make: `new Proxy(['identify', { email: 'proxy@example.com' }], { get() { throw new Error('trap'); } })` },

  // Unknown commands.
  { kind: 'unknown command', field: 'track', make: `['track', { email: 'track@example.com' }]` },
  { kind: 'command in wrong case', field: 'IDENTIFY', make: `['IDENTIFY', { email: 'upper@example.com' }]` },
  { kind: 'empty command array', field: 'push', make: `[]` },
  { kind: 'Symbol as command name', field: 'push', make: `[Symbol('identify'), { email: 'sym@example.com' }]` },
  { kind: '__proto__ as command name', field: 'push', make: `['__proto__', { polluted: 1 }]` },
  { kind: 'over-long command name', field: 'push', make: `['x'.repeat(100000), {}]` },

  // Wrong arity and bad arguments to account/config.
  { kind: 'identify with an extra argument', field: 'identify', make: `['identify', { email: 'arity@example.com' }, 'extra']` },
  { kind: 'over-long command name with an extra argument', field: 'push', make: `['x'.repeat(100000), {}, {}]` },
  { kind: 'identify with no argument', field: 'identify', make: `['identify']` },
  { kind: 'account with no argument', field: 'account', make: `['account']` },
  { kind: 'account with a short id', field: 'account', make: `['account', 'abc']` },
  { kind: 'account with an object', field: 'account', make: `['account', { id: 'AbC123' }]` },
  { kind: 'config with no argument', field: 'config', make: `['config']` },
  { kind: 'config with a string', field: 'config', make: `['config', 'debug']` },
  { kind: 'config apiHost javascript: URL', field: 'apiHost', make: `['config', { apiHost: 'javascript:alert(1)' }]` },
  { kind: 'config apiHost with a path and query', field: 'apiHost', make: `['config', { apiHost: 'https://evil.example/collect?x=1' }]` },
  { kind: 'config debug not boolean', field: 'debug', make: `['config', { debug: 'yes' }]` },
  { kind: 'config cookieDomain with attributes', field: 'cookieDomain', make: `['config', { cookieDomain: 'example.com; SameSite=None' }]` },
  { kind: 'config __proto__ key', field: '__proto__', make: `['config', JSON.parse('{"__proto__": {"polluted": 1}}')]` },

  // identify's argument is not a plain object.
  { kind: 'identify(null)', field: 'props', make: `['identify', null]` },
  { kind: 'identify(number)', field: 'props', make: `['identify', 42]` },
  { kind: 'identify(string)', field: 'props', make: `['identify', 'string@example.com']` },
  { kind: 'identify(array)', field: 'props', make: `['identify', [{ email: 'array@example.com' }]]` },
  { kind: 'identify(class instance)', field: 'props', make: `['identify', new (class Person { constructor() { this.email = 'class@example.com'; } })()]` },
  { kind: 'identify(Map)', field: 'props', make: `['identify', new Map([['email', 'map@example.com']])]` },

  // Email and phone.
  { kind: 'bad email', field: 'email', make: `['identify', { email: 'not-an-email' }]` },
  { kind: 'email over 100 characters', field: 'email', make: `['identify', { email: ${S(95)} + '@example.com' }]` },
  { kind: 'legacy $email without a dot', field: '$email', make: `['identify', { $email: 'a@b' }]` },
  { kind: 'email as a number', field: 'email', make: `['identify', { email: 12345 }]` },
  { kind: 'email as a Date', field: 'email', make: `['identify', { email: new Date(0) }]` },
  { kind: 'phone not E.164', field: 'phone_number', make: `['identify', { phone_number: '555-1234' }]` },
  { kind: 'legacy $phone_number with leading 0', field: '$phone_number', make: `['identify', { $phone_number: '+0123456789' }]` },
  { kind: 'phone as a Date', field: 'phone_number', make: `['identify', { phone_number: new Date(0) }]` },
  { kind: 'phone with letters', field: 'phone_number', make: `['identify', { phone_number: '+1 500 CALL NOW' }]` },
  { kind: 'email as an array', field: 'email', make: `['identify', { email: ['arr@example.com'] }]` },

  // Over-long and wrongly typed fields.
  { kind: 'first_name over 255', field: 'first_name', make: `['identify', { email: 'long1@example.com', first_name: ${S(256)} }]` },
  { kind: 'external_id over 255', field: 'external_id', make: `['identify', { external_id: ${S(256)} }]` },
  { kind: 'legacy $id over 255', field: '$id', make: `['identify', { $id: ${S(256)} }]` },
  { kind: 'image over 2048', field: 'image', make: `['identify', { email: 'long2@example.com', image: 'https://x.example/' + ${S(2048)} }]` },
  { kind: 'legacy $city over 255', field: '$city', make: `['identify', { email: 'long3@example.com', $city: ${S(256)} }]` },
  { kind: 'first_name as an object', field: 'first_name', make: `['identify', { email: 'obj@example.com', first_name: { toString() { return 'x'; } } }]` },
  { kind: 'external_id as a boolean', field: 'external_id', make: `['identify', { external_id: true }]` },
  { kind: 'external_id as a Date', field: 'external_id', make: `['identify', { external_id: new Date(0) }]` },

  // Location.
  { kind: 'latitude NaN', field: 'location.latitude', make: `['identify', { email: 'nan@example.com', location: { latitude: NaN } }]` },
  { kind: 'legacy $longitude Infinity', field: '$longitude', make: `['identify', { email: 'inf@example.com', $longitude: Infinity }]` },
  { kind: 'legacy $latitude not numeric', field: '$latitude', make: `['identify', { email: 'latstr@example.com', $latitude: '12abc' }]` },
  { kind: 'latitude out of range', field: 'location.latitude', make: `['identify', { email: 'lat@example.com', location: { latitude: 200 } }]` },
  { kind: 'location as an array', field: 'location', make: `['identify', { email: 'locarr@example.com', location: [1, 2] }]` },
  { kind: 'unknown location field', field: 'location.planet', make: `['identify', { email: 'mars@example.com', location: { planet: 'Mars' } }]` },

  // Properties that JSON cannot carry.
  { kind: 'cycle through an object', field: 'properties.a', make: `['identify', { email: 'cycle@example.com', properties: { a: __cyclic() } }]` },
  { kind: 'cycle through an array', field: 'list', make: `['identify', { email: 'cycle2@example.com', list: (() => { const a = [1]; a.push(a); return a; })() }]` },
  { kind: 'BigInt', field: 'score', make: `['identify', { email: 'big@example.com', score: 10n }]` },
  { kind: 'function', field: 'properties.cb', make: `['identify', { email: 'fn@example.com', properties: { cb() { return 1; } } }]` },
  { kind: 'Symbol value', field: 'tag', make: `['identify', { email: 'symv@example.com', tag: Symbol('t') }]` },
  { kind: 'NaN in properties', field: 'properties.n', make: `['identify', { email: 'nanp@example.com', properties: { n: NaN } }]` },
  { kind: '-Infinity inside an array', field: 'properties.list', make: `['identify', { email: 'ninf@example.com', properties: { list: [1, -Infinity] } }]` },
  { kind: 'invalid Date', field: 'properties.when', make: `['identify', { email: 'baddate@example.com', properties: { when: new Date('nope') } }]` },
  { kind: 'Map in properties', field: 'properties.m', make: `['identify', { email: 'mapv@example.com', properties: { m: new Map([['a', 1]]) } }]` },
  { kind: 'Set as a custom property', field: 'tags', make: `['identify', { email: 'set@example.com', tags: new Set(['a']) }]` },
  { kind: 'class instance in properties', field: 'properties.cart', make: `['identify', { email: 'cart@example.com', properties: { cart: new (class Cart { constructor() { this.items = []; } })() } }]` },
  { kind: 'properties is a Map', field: 'properties', make: `['identify', { email: 'pmap@example.com', properties: new Map() }]` },
  { kind: 'properties inheriting from another object', field: 'properties', make: `['identify', { email: 'inh@example.com', properties: Object.create({ inherited: 1 }) }]` },
  { kind: 'toJSON method in properties', field: 'properties.a', make: `['identify', { email: 'tojson@example.com', properties: { a: { toJSON() { return 1; } } } }]` },
  { kind: 'properties is an array', field: 'properties', make: `['identify', { email: 'parr@example.com', properties: [1, 2] }]` },
  { kind: 'RegExp', field: 're', make: `['identify', { email: 're@example.com', re: /x/ }]` },
  { kind: 'typed array', field: 'buf', make: `['identify', { email: 'buf@example.com', buf: new Uint8Array(4) }]` },
  { kind: 'nesting 40 levels deep', field: 'properties', make: `['identify', { email: 'deep@example.com', properties: __deep(40) }]` },
  { kind: 'sparse array of 1e9', field: 'properties', make: `['identify', { email: 'sparse@example.com', properties: { a: new Array(1e9) } }]` },

  // Getters and Proxies that throw.
  { kind: 'throwing getter on email', field: 'email', make: `['identify', __throwingGetter('email')]` },
  { kind: 'throwing getter in properties', field: 'properties.secret', make: `['identify', { email: 'getter@example.com', properties: __throwingGetter('secret') }]` },
  { kind: 'Proxy props throwing on ownKeys', field: 'props', make: `['identify', new Proxy({ email: 'pk@example.com' }, { ownKeys() { throw new Error('trap'); } })]` },
  { kind: 'Proxy props throwing on get', field: 'email', make: `['identify', new Proxy({ email: 'pg@example.com' }, { get() { throw new Error('trap'); } })]` },
  { kind: 'Proxy properties throwing on getPrototypeOf', field: 'properties', make: `['identify', { email: 'pp@example.com', properties: new Proxy({}, { getPrototypeOf() { throw new Error('trap'); } }) }]` },

  // Prototype pollution: JSON.parse makes these own keys, as a server response or a URL decoder would.
  { kind: '__proto__ key at top level', field: '__proto__', make: `['identify', JSON.parse('{"email": "pp1@example.com", "__proto__": {"polluted": 1}}')]` },
  { kind: 'constructor key at top level', field: 'constructor', make: `['identify', JSON.parse('{"email": "pp2@example.com", "constructor": {"prototype": {"polluted": 1}}}')]` },
  { kind: 'prototype key in properties', field: 'properties.prototype', make: `['identify', JSON.parse('{"email": "pp3@example.com", "properties": {"prototype": {"polluted": 1}}}')]` },
  { kind: '__proto__ nested in properties', field: 'properties.a.__proto__', make: `['identify', JSON.parse('{"email": "pp4@example.com", "properties": {"a": {"__proto__": {"polluted": 1}}}}')]` },
  { kind: '__proto__ in location', field: 'location.__proto__', make: `['identify', JSON.parse('{"email": "pp5@example.com", "location": {"__proto__": {"polluted": 1}}}')]` },
  { kind: 'constructor.prototype in a custom key', field: 'x.constructor', make: `['identify', JSON.parse('{"email": "pp6@example.com", "x": {"constructor": {"prototype": {"polluted": 1}}}}')]` },

  // Size.
  { kind: '6 MB string in properties', field: 'properties', make: `['identify', { email: 'huge@example.com', properties: { blob: ${S(MB6, 'x')} } }]` },
  { kind: '6 MB string as email', field: 'email', make: `['identify', { email: ${S(MB6, 'x')} + '@example.com' }]` },
  { kind: '6 MB property name', field: 'properties', make: `['identify', { email: 'key@example.com', properties: { [${S(MB6, 'k')}]: 1 } }]` },
  { kind: '6 MB over 600 keys', field: 'properties', make: `['identify', { email: 'many@example.com', properties: Object.fromEntries(Array.from({ length: 600 }, (_, i) => ['k' + i, ${S(10 * 1024, 'y')}])) }]` },

  // The exchange id.
  { kind: '_kx with markup', field: '_kx', make: `['identify', { email: 'kxm@example.com', _kx: '<img src=x onerror=window.__xss=1>' }]` },
];
