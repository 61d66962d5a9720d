import { describe, expect, test } from 'vitest';
import { MAX_BODY, identifiersOf, isInvalid, normalizeProfile } from '../../src/core/payload';

const KX = 'J8fjcn003Wy6b-3ILNlOyZXabW6dcFwTyeuxrowMers%3D.McN66';
const KX_DECODED = 'J8fjcn003Wy6b-3ILNlOyZXabW6dcFwTyeuxrowMers=.McN66';

// [name, input, expected Profile]
const valid: [string, unknown, object][] = [
  ['modern email', { email: 'sarah.mason@klaviyo-demo.com' }, { email: 'sarah.mason@klaviyo-demo.com' }],
  ['legacy $email', { $email: 'a@b.co' }, { email: 'a@b.co' }],
  ['modern beats legacy, modern first', { email: 'm@x.io', $email: 'l@x.io' }, { email: 'm@x.io' }],
  ['modern beats legacy, legacy first', { $email: 'l@x.io', email: 'm@x.io' }, { email: 'm@x.io' }],
  ['empty modern lets legacy through', { email: '  ', $email: 'l@x.io' }, { email: 'l@x.io' }],
  ['strings are trimmed', { email: '  a@b.co\n', first_name: ' Sarah ' }, { email: 'a@b.co', first_name: 'Sarah' }],
  ['phone E.164', { phone_number: '+15005550006' }, { phone_number: '+15005550006' }],
  ['phone separators stripped', { $phone_number: '+1 (500) 555-0006' }, { phone_number: '+15005550006' }],
  ['phone with dots', { phone_number: '+44.20.7946.0018' }, { phone_number: '+442079460018' }],
  ['$id is external_id', { $id: 'cust-42' }, { external_id: 'cust-42' }],
  ['external_id beats $id', { $id: 'old', external_id: 'new' }, { external_id: 'new' }],
  ['anonymous_id', { anonymous_id: 'anon-1' }, { anonymous_id: 'anon-1' }],
  ['$anonymous_id and $external_id are taken as legacy too', { $anonymous_id: 'a1', $external_id: 'e1' }, { anonymous_id: 'a1', external_id: 'e1' }],
  ['legacy-looking keys that are not fields stay custom', { $location: 'x', $properties: 1, latitude: 1 }, { properties: { $location: 'x', $properties: 1, latitude: 1 } }],
  ['$_kx is read as _kx, like every `$` + field name', { $_kx: KX }, { _kx: KX_DECODED }],
  ['_kx is decoded once', { _kx: KX }, { _kx: KX_DECODED }],
  ['_kx empty is absent', { email: 'a@b.co', _kx: '' }, { email: 'a@b.co' }],
  [
    'all modern names',
    { email: 'a@b.co', first_name: 'Sarah', last_name: 'Mason', organization: 'Klaviyo', title: 'Engineer', image: 'https://x.io/a.png' },
    { email: 'a@b.co', first_name: 'Sarah', last_name: 'Mason', organization: 'Klaviyo', title: 'Engineer', image: 'https://x.io/a.png' },
  ],
  [
    'all legacy names',
    { $email: 'a@b.co', $first_name: 'Sarah', $last_name: 'Mason', $organization: 'Klaviyo', $title: 'Engineer', $image: 'https://x.io/a.png', $phone_number: '+15005550006', $id: '7' },
    { email: 'a@b.co', first_name: 'Sarah', last_name: 'Mason', organization: 'Klaviyo', title: 'Engineer', image: 'https://x.io/a.png', phone_number: '+15005550006', external_id: '7' },
  ],
  ['null and undefined are absent', { email: 'a@b.co', first_name: null, last_name: undefined, location: null, properties: undefined }, { email: 'a@b.co' }],
  ['empty strings are absent', { email: 'a@b.co', first_name: '', title: '   ' }, { email: 'a@b.co' }],
  [
    'nested location',
    { email: 'a@b.co', location: { address1: '89 E 42nd St', address2: '1st floor', city: 'New York', country: 'United States', region: 'NY', zip: '10017', timezone: 'America/New_York', latitude: 40.7128, longitude: -74.006 } },
    { email: 'a@b.co', location: { address1: '89 E 42nd St', address2: '1st floor', city: 'New York', country: 'United States', region: 'NY', zip: '10017', timezone: 'America/New_York', latitude: 40.7128, longitude: -74.006 } },
  ],
  [
    'flat legacy location',
    { $email: 'a@b.co', $address1: '1 Main', $address2: 'Apt 2', $city: 'Boston', $region: 'MA', $country: 'US', $zip: '02108', $latitude: '42.36', $longitude: '-71.06', $timezone: 'America/New_York' },
    { email: 'a@b.co', location: { address1: '1 Main', address2: 'Apt 2', city: 'Boston', region: 'MA', country: 'US', zip: '02108', latitude: 42.36, longitude: -71.06, timezone: 'America/New_York' } },
  ],
  ['nested location beats flat, merged per field', { $city: 'Old', $zip: '1', location: { city: 'New' } }, { location: { city: 'New', zip: '1' } }],
  ['flat after nested does not override', { location: { city: 'New' }, $city: 'Old' }, { location: { city: 'New' } }],
  ['numeric string coordinates become numbers', { location: { latitude: ' -33.8688 ', longitude: '151' } }, { location: { latitude: -33.8688, longitude: 151 } }],
  ['-0 becomes 0, as JSON sends it', { location: { latitude: -0 }, properties: { n: -0 } }, { location: { latitude: 0 }, properties: { n: 0 } }],
  ['coordinate bounds are inclusive', { location: { latitude: -90, longitude: 180 } }, { location: { latitude: -90, longitude: 180 } }],
  ['empty location is absent', { email: 'a@b.co', location: {} }, { email: 'a@b.co' }],
  ['location of blanks is absent', { email: 'a@b.co', location: { city: ' ', latitude: '' } }, { email: 'a@b.co' }],
  ['custom key goes to properties', { email: 'a@b.co', plan: 'pro' }, { email: 'a@b.co', properties: { plan: 'pro' } }],
  ['unknown $ key is custom', { $source: 'newsletter', $consent: ['email'] }, { properties: { $source: 'newsletter', $consent: ['email'] } }],
  ['custom keys and properties merge', { plan: 'pro', properties: { seats: 3 } }, { properties: { plan: 'pro', seats: 3 } }],
  ['properties wins over a custom key', { plan: 'pro', properties: { plan: 'max' } }, { properties: { plan: 'max' } }],
  ['properties wins whatever the order', { properties: { plan: 'max' }, plan: 'pro' }, { properties: { plan: 'max' } }],
  ['empty properties is absent', { email: 'a@b.co', properties: {} }, { email: 'a@b.co' }],
  [
    'JSON values kept as they are',
    { properties: { s: '  spaced  ', n: 0, neg: -1.5, t: true, f: false, nil: null, arr: [1, 'a', [2]], obj: { deep: { er: 1 } }, empty: {}, '': 'empty key' } },
    { properties: { s: '  spaced  ', n: 0, neg: -1.5, t: true, f: false, nil: null, arr: [1, 'a', [2]], obj: { deep: { er: 1 } }, empty: {}, '': 'empty key' } },
  ],
  ['Dates become ISO strings', { signup: new Date(Date.UTC(2024, 0, 2, 3, 4, 5)), properties: { at: [new Date(0)] } }, { properties: { signup: '2024-01-02T03:04:05.000Z', at: ['1970-01-01T00:00:00.000Z'] } }],
  ['undefined dropped from objects, null in arrays (as JSON)', { properties: { gone: undefined, arr: [undefined, 1] }, also: undefined }, { properties: { arr: [null, 1] } }],
  ['sparse arrays become null-filled', { properties: { arr: [1, , 3] } }, { properties: { arr: [1, null, 3] } }],
  ['shared (non-cyclic) references are fine', (() => { const s = { a: 1 }; return { properties: { x: s, y: [s, s] } }; })(), { properties: { x: { a: 1 }, y: [{ a: 1 }, { a: 1 }] } }],
  ['null-prototype input', Object.assign(Object.create(null), { email: 'a@b.co', plan: 'pro' }), { email: 'a@b.co', properties: { plan: 'pro' } }],
  ['symbol keys are ignored', { email: 'a@b.co', [Symbol('s')]: () => 1 }, { email: 'a@b.co' }],
  ['non-enumerable keys are ignored', Object.defineProperty({ email: 'a@b.co' }, 'hidden', { value: () => 1, enumerable: false }), { email: 'a@b.co' }],
  ['no identifier is fine here', { first_name: 'Sarah' }, { first_name: 'Sarah' }],
  ['empty object', {}, {}],
  ['field at its cap', { email: `${'a'.repeat(94)}@b.com` }, { email: `${'a'.repeat(94)}@b.com` }],
  ['depth 10 is accepted', { properties: { a: { b: { c: { d: { e: { f: { g: { h: { i: 1 } } } } } } } } } }, { properties: { a: { b: { c: { d: { e: { f: { g: { h: { i: 1 } } } } } } } } } }],
];

describe('normalizeProfile: valid payloads', () => {
  test.each(valid)('%s', (_name, input, expected) => {
    const out = normalizeProfile(input);
    expect(isInvalid(out)).toBe(false);
    expect(out).toEqual(expected);
    // Only fields with a value: nothing undefined hiding in the result.
    expect(JSON.parse(JSON.stringify(out))).toEqual(out);
  });
});

class Thing {
  x = 1;
}
const deep = (n: number): unknown => (n === 0 ? 1 : { d: deep(n - 1) });
const cycle: Record<string, unknown> = { a: 1 };
cycle.self = cycle;
const arrCycle: unknown[] = [1];
arrCycle.push({ back: arrCycle });
const throwingGetter = Object.defineProperty({ email: 'a@b.co' }, 'plan', { enumerable: true, get() { throw new Error('boom'); } });
const throwingProxy = new Proxy({}, { ownKeys() { throw new Error('trap'); } });
const revoked = Proxy.revocable({}, {});
revoked.revoke();

// [name, input, field, reason]
const invalid: [string, unknown, string, string][] = [
  ['null', null, 'props', 'is not a plain object'],
  ['a number', 42, 'props', 'is not a plain object'],
  ['a string', 'a@b.co', 'props', 'is not a plain object'],
  ['an array', [{ email: 'a@b.co' }], 'props', 'is not a plain object'],
  ['a Date', new Date(), 'props', 'is not a plain object'],
  ['a Map', new Map([['email', 'a@b.co']]), 'props', 'is not a plain object'],
  ['a class instance', new Thing(), 'props', 'is not a plain object'],
  ['a function', () => ({ email: 'a@b.co' }), 'props', 'is not a plain object'],
  ['email without @', { email: 'sarah.mason' }, 'email', 'must be an email address'],
  ['email without tld', { email: 'a@b' }, 'email', 'must be an email address'],
  ['email with a space', { email: 'a b@c.io' }, 'email', 'must be an email address'],
  ['legacy email named as written', { $email: 'nope' }, '$email', 'must be an email address'],
  ['losing legacy spelling is still checked', { email: 'a@b.co', $email: 'nope' }, '$email', 'must be an email address'],
  ['email over 100', { email: `${'a'.repeat(95)}@b.com` }, 'email', 'is too long (max 100)'],
  ['6 MB email', { email: 'a'.repeat(6 * 1024 * 1024) }, 'email', 'is too long (max 100)'],
  ['email a number', { email: 12 }, 'email', 'must be a string'],
  ['phone without +', { phone_number: '15005550006' }, 'phone_number', 'is not E.164'],
  ['phone with letters', { $phone_number: '+1500CALLNOW' }, '$phone_number', 'is not E.164'],
  ['phone too long', { phone_number: '+1234567890123456' }, 'phone_number', 'is not E.164'],
  ['phone leading zero', { phone_number: '+0123456' }, 'phone_number', 'is not E.164'],
  ['external_id a number', { $id: 12345 }, '$id', 'must be a string'],
  ['first_name an object', { first_name: { a: 1 } }, 'first_name', 'must be a string'],
  ['title over 255', { title: 'x'.repeat(256) }, 'title', 'is too long (max 255)'],
  ['image over 2048', { image: `https://x.io/${'a'.repeat(2048)}` }, 'image', 'is too long (max 2048)'],
  ['location not an object', { location: 'NYC' }, 'location', 'is not a plain object'],
  ['location an array', { location: [] }, 'location', 'is not a plain object'],
  ['unknown location field', { location: { ip: '127.0.0.1' } }, 'location.ip', 'is unknown'],
  ['latitude NaN', { location: { latitude: NaN } }, 'location.latitude', 'must be in [-90, 90]'],
  ['longitude Infinity', { location: { longitude: Infinity } }, 'location.longitude', 'must be in [-180, 180]'],
  ['latitude out of range', { location: { latitude: 91 } }, 'location.latitude', 'must be in [-90, 90]'],
  ['legacy longitude out of range', { $longitude: '-180.5' }, '$longitude', 'must be in [-180, 180]'],
  ['latitude not numeric', { $latitude: '40N' }, '$latitude', 'must be in [-90, 90]'],
  ['latitude a boolean', { location: { latitude: true } }, 'location.latitude', 'must be in [-90, 90]'],
  ['city a number', { location: { city: 7 } }, 'location.city', 'must be a string'],
  ['_kx markup', { _kx: '<script>alert(1)</script>' }, '_kx', 'is not an exchange id'],
  ['_kx 5 KB', { _kx: `${'a'.repeat(5000)}.AbC123` }, '_kx', 'is too long (max 255)'],
  ['_kx not a string', { _kx: 42 }, '_kx', 'must be a string'],
  ['properties an array', { properties: [1] }, 'properties', 'is not a plain object'],
  ['properties a string', { properties: 'x' }, 'properties', 'is not a plain object'],
  ['a function property', { properties: { cb: () => 1 } }, 'properties.cb', 'is a function'],
  ['a custom function key', { email: 'a@b.co', onload() {} }, 'onload', 'is a function'],
  ['a Symbol value', { properties: { s: Symbol('x') } }, 'properties.s', 'is a symbol'],
  ['a BigInt', { properties: { n: 10n } }, 'properties.n', 'is a bigint'],
  ['NaN in properties', { properties: { list: [1, NaN] } }, 'properties.list.1', 'is not finite'],
  ['Infinity custom', { score: -Infinity }, 'score', 'is not finite'],
  ['an invalid Date', { properties: { at: new Date('nope') } }, 'properties.at', 'is an invalid date'],
  ['a Map in properties', { properties: { m: new Map() } }, 'properties.m', 'is not a plain object'],
  ['a Set custom', { tags: new Set(['a']) }, 'tags', 'is not a plain object'],
  ['a class instance in properties', { properties: { t: new Thing() } }, 'properties.t', 'is not a plain object'],
  ['a boxed string', { properties: { s: new String('x') } }, 'properties.s', 'is not a plain object'],
  ['a RegExp', { properties: { r: /x/ } }, 'properties.r', 'is not a plain object'],
  // A cycle is infinitely deep: the depth limit ends it, the path shows the loop.
  ['an object cycle', { properties: cycle }, `properties${'.self'.repeat(10)}`, 'is too deep'],
  ['an array cycle', { list: arrCycle }, `list${'.1.back'.repeat(5)}`, 'is too deep'],
  ['too deep', { properties: { a: deep(10) } }, 'properties.a.d.d.d.d.d.d.d.d.d', 'is too deep'],
  ['__proto__ at the top (JSON.parse)', JSON.parse('{"email":"a@b.co","__proto__":{"polluted":1}}'), '__proto__', 'is not allowed'],
  ['__proto__ deep (JSON.parse)', JSON.parse('{"properties":{"a":[{"__proto__":{"polluted":1}}]}}'), 'properties.a.0.__proto__', 'is not allowed'],
  ['constructor key', { properties: { constructor: { prototype: { polluted: 1 } } } }, 'properties.constructor', 'is not allowed'],
  ['prototype key at the top', { prototype: 1 }, 'prototype', 'is not allowed'],
  ['__proto__ in location', { location: JSON.parse('{"__proto__":{"polluted":1}}') }, 'location.__proto__', 'is not allowed'],
  ['a 6 MB property', { email: 'a@b.co', properties: { blob: 'x'.repeat(6 * 1024 * 1024) } }, 'properties', 'makes the body over 5 MB'],
  ['a huge sparse array', { properties: { a: new Array(1e9) } }, 'properties', 'makes the body over 5 MB'],
  ['a getter that throws', throwingGetter, 'plan', 'throws when read'],
  ['a Proxy whose ownKeys throws', throwingProxy, 'props', 'throws when read'],
  ['a revoked Proxy', revoked.proxy, 'props', 'throws when read'],
  ['a throwing Proxy in properties', { properties: { p: new Proxy({}, { getPrototypeOf() { throw new Error('x'); } }) } }, 'properties.p', 'throws when read'],
];

describe('normalizeProfile: invalid payloads', () => {
  test.each(invalid)('%s', (_name, input, field, reason) => {
    const out = normalizeProfile(input);
    expect(out).toEqual({ field, reason });
    expect(isInvalid(out)).toBe(true);
  });
});

describe('normalizeProfile: safety', () => {
  test('prototype pollution never reaches Object.prototype', () => {
    const inputs = [
      '{"__proto__":{"polluted":1}}',
      '{"properties":{"__proto__":{"polluted":1}}}',
      '{"plan":{"__proto__":{"polluted":1}}}',
      '{"constructor":{"prototype":{"polluted":1}}}',
      '{"location":{"__proto__":{"polluted":1}}}',
    ];
    for (const s of inputs) expect(isInvalid(normalizeProfile(JSON.parse(s)))).toBe(true);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  test('objects under properties have null prototypes, so a setter on Object.prototype is never called', () => {
    let called = 0;
    Object.defineProperty(Object.prototype, 'plan', { configurable: true, set() { called++; } });
    try {
      const out = normalizeProfile({ email: 'a@b.co', plan: 'pro', location: { city: 'X' }, properties: { nested: { plan: 1 } } });
      expect(called).toBe(0);
      if (isInvalid(out)) throw new Error(out.reason);
      expect(Object.getPrototypeOf(out.properties)).toBe(null);
      expect(Object.getPrototypeOf(out.properties?.nested)).toBe(null);
      expect(Object.getOwnPropertyDescriptor(out.properties, 'plan')?.value).toBe('pro');
      expect((out.properties?.nested as Record<string, unknown>).plan).toBe(1);
    } finally {
      delete (Object.prototype as Record<string, unknown>).plan;
    }
  });

  // normalizeProfile keeps its running state at module level; a getter of the input may call it again (through
  // identify), and the outer call must go on as if it had not.
  test('a getter that calls normalizeProfile again does not disturb the outer call', () => {
    const inner: unknown[] = [];
    const reenter = (input: unknown, then: () => unknown) => ({
      get() {
        inner.push(normalizeProfile(input));
        return then();
      },
      enumerable: true,
    });
    // The outer path survives: the failure after the getter names the outer key, not the inner one.
    const a = Object.defineProperty({ email: 'a@b.co' }, 'plan', reenter({ properties: { deep: { x: 1n } } }, () => () => 0));
    expect(normalizeProfile(a)).toEqual({ field: 'plan', reason: 'is a function' });
    // The inner failure's reason does not leak into a throw of the outer call.
    const b = Object.defineProperty({ email: 'a@b.co' }, 'h', reenter({ email: 'bad' }, () => { throw new Error('x'); }));
    expect(normalizeProfile(b)).toEqual({ field: 'h', reason: 'throws when read' });
    // The size count survives: 5 MB before the getter and 100 kB after it are, together, over the limit.
    const c = Object.defineProperty({ email: 'a@b.co', first: 'x'.repeat(5_200_000) }, 'second', reenter({ plan: 'pro' }, () => 1));
    Object.assign(c, { third: 'x'.repeat(100_000) }); // after the getter, in key order
    expect(normalizeProfile(c)).toEqual({ field: 'properties', reason: 'makes the body over 5 MB' });
    // The inner calls ran and got their own answers.
    expect(inner).toEqual([
      { field: 'properties.deep.x', reason: 'is a bigint' },
      { field: 'email', reason: 'must be an email address' },
      { properties: { plan: 'pro' } },
    ]);
  });

  test('the result shares no object with the input', () => {
    const nested = { a: [1, { b: 2 }] };
    const input = { email: 'a@b.co', location: { city: 'X' }, properties: { nested } };
    const out = normalizeProfile(input) as { properties: { nested: { a: unknown[] } } };
    nested.a.push(3);
    (nested.a[1] as { b: number }).b = 9;
    expect(out.properties.nested).toEqual({ a: [1, { b: 2 }] });
  });

  test('the first problem wins, in key order', () => {
    expect(normalizeProfile({ email: 'bad', phone_number: 'bad' })).toEqual({ field: 'email', reason: 'must be an email address' });
    expect(normalizeProfile({ phone_number: 'bad', email: 'bad' })).toEqual({ field: 'phone_number', reason: 'is not E.164' });
  });

  test('a huge custom key counts toward the size', () => {
    expect(normalizeProfile({ email: 'a@b.co', ['k'.repeat(MAX_BODY)]: 1 })).toEqual({ field: 'properties', reason: 'makes the body over 5 MB' });
  });

  test('long numbers count: 250 000 of them are 6 MB of JSON though each is one value', () => {
    const a = new Array(250_000).fill(-1.2345678901234567e300);
    expect(normalizeProfile({ email: 'a@b.co', properties: { a } })).toEqual({ field: 'properties', reason: 'makes the body over 5 MB' });
  });

  test('escapes count: 1 MB of control characters is 6 MB of JSON', () => {
    expect(normalizeProfile({ properties: { s: '\u0001'.repeat(1024 * 1024) } })).toEqual({ field: 'properties', reason: 'makes the body over 5 MB' });
  });

  test('a body just under the limit passes, just over fails (UTF-8 bytes, not characters)', () => {
    const ok = normalizeProfile({ properties: { s: 'x'.repeat(MAX_BODY - 10_000) } });
    expect(isInvalid(ok)).toBe(false);
    // 'é' is 2 bytes in UTF-8: the character count is under the limit, the byte count is not.
    const over = normalizeProfile({ properties: { s: 'é'.repeat(MAX_BODY / 2 - 1000) } });
    expect(over).toEqual({ field: 'properties', reason: 'makes the body over 5 MB' });
  });

  test('a wide DAG that would expand past 5 MB fails fast instead of spinning', () => {
    let level: unknown = 'x'.repeat(100);
    for (let i = 0; i < 8; i++) level = Array(50).fill(level); // 50^8 leaves if walked naively
    expect(normalizeProfile({ properties: { level } })).toEqual({ field: 'properties', reason: 'makes the body over 5 MB' });
  });

  test('isInvalid discriminates', () => {
    expect(isInvalid({ field: 'email', reason: 'x' })).toBe(true);
    expect(isInvalid({ email: 'a@b.co' })).toBe(false);
    expect(isInvalid(null)).toBe(false);
    expect(isInvalid(undefined)).toBe(false);
  });
});

describe('identifiersOf', () => {
  test('only the identifiers that are set', () => {
    const p = normalizeProfile({ email: 'a@b.co', $id: 'c1', first_name: 'S', _kx: KX, location: { city: 'X' } });
    if (isInvalid(p)) throw new Error(p.reason);
    expect(identifiersOf(p)).toEqual({ email: 'a@b.co', external_id: 'c1', _kx: KX_DECODED });
    expect(identifiersOf({ first_name: 'S' })).toEqual({});
    expect(identifiersOf({ phone_number: '+15005550006', anonymous_id: 'z' })).toEqual({ phone_number: '+15005550006', anonymous_id: 'z' });
  });
});
