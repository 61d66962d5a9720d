import Ajv from 'ajv';
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { buildRequest } from '../../src/core/body';
import { identifiersOf, isInvalid, normalizeProfile } from '../../src/core/payload';
import type { Profile } from '../../src/core/types';
import s20230124 from '../../schemas/klaviyo-client-profiles-2023-01-24.schema.json';
import s20230915 from '../../schemas/klaviyo-client-profiles-2023-09-15.schema.json';
import s20241015 from '../../schemas/klaviyo-client-profiles-2024-10-15.schema.json';

// Schemas made strict: OpenAPI `nullable` as type arrays, and no unknown property in any object that lists
// its properties (the custom `properties` attribute lists none and stays open). Same rule as body.test.ts.
function strict(s: unknown): unknown {
  if (Array.isArray(s)) return s.map(strict);
  if (!s || typeof s !== 'object') return s;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(s)) out[k] = k === 'properties' ? Object.fromEntries(Object.entries(v as object).map(([p, ps]) => [p, strict(ps)])) : strict(v);
  if (out.nullable) {
    delete out.nullable;
    if (typeof out.type === 'string') out.type = [out.type, 'null'];
    else if (Array.isArray(out.oneOf)) out.oneOf = [...out.oneOf, { type: 'null' }];
  }
  if (out.properties) out.additionalProperties = false;
  return out;
}
const ajv = new Ajv({ strict: false });
const revisions = [
  ['2023-01-24', ajv.compile(strict(s20230124.requestBody.schema) as object)],
  ['2023-09-15', ajv.compile(strict(s20230915.requestBody.schema) as object)],
  ['2024-10-15', ajv.compile(strict(s20241015.requestBody.schema) as object)],
] as const;

const FORBIDDEN = ['__proto__', 'constructor', 'prototype'];
const LOCATION = ['address1', 'address2', 'city', 'country', 'latitude', 'longitude', 'region', 'zip', 'timezone'];
// Calls `f` on every object and array reachable through own properties.
function walk(v: unknown, f: (o: object) => void) {
  if (!v || typeof v !== 'object') return;
  f(v);
  for (const k of Object.getOwnPropertyNames(v)) walk((v as Record<string, unknown>)[k], f);
}

const protoKeys = () => Object.getOwnPropertyNames(Object.prototype).sort().join();
const protoBefore = protoKeys();

// Plain throws, not expect(): this runs thousands of times and expect() is slow in loops.
function assert(ok: unknown, msg: () => string): asserts ok {
  if (!ok) throw new Error(msg());
}
const PROFILE_KEYS = ['email', 'phone_number', 'external_id', 'anonymous_id', '_kx', 'first_name', 'last_name', 'organization', 'title', 'image', 'location', 'properties'];

// The invariants every input must keep; returns the result for further checks.
function check(input: unknown) {
  let out: ReturnType<typeof normalizeProfile>;
  try {
    out = normalizeProfile(input);
  } catch (e) {
    throw new Error(`normalizeProfile threw: ${String(e)}`);
  }
  assert(({} as Record<string, unknown>).polluted === undefined, () => 'Object.prototype polluted');
  if (isInvalid(out)) {
    const keys = Object.keys(out).sort().join();
    assert(keys === 'field,reason' && typeof out.field === 'string' && out.reason.length > 0, () => `bad Invalid ${keys}`); // field may be '' for a custom key ''
    return out;
  }
  // A Profile: free of prototype-pollution keys at any depth; every object under properties built on a null
  // prototype (arrays are plain Arrays); only the names of the Profile type; exactly what JSON would carry.
  walk(out, (o) => {
    for (const k of Object.getOwnPropertyNames(o)) assert(!FORBIDDEN.includes(k), () => `forbidden key ${k} in the result`);
  });
  walk(out.properties, (o) => assert(Object.getPrototypeOf(o) === (Array.isArray(o) ? Array.prototype : null), () => 'properties object with a prototype'));
  for (const k of Object.keys(out)) assert(PROFILE_KEYS.includes(k), () => `unknown profile key ${k}`);
  if (out.location) for (const k of Object.keys(out.location)) assert(LOCATION.includes(k), () => `unknown location key ${k}`);
  expect(JSON.parse(JSON.stringify(out))).toEqual(out);
  // The tracker adds an identifier when the payload has none; the body must then be schema-valid.
  const p: Profile = Object.keys(identifiersOf(out)).length ? out : { ...out, anonymous_id: 'anon-1' };
  for (const [revision, validate] of revisions) {
    const { body, url } = buildRequest(p, { apiHost: 'https://a.klaviyo.com', company: 'AbC123', revision });
    const parsed: unknown = JSON.parse(body);
    assert(JSON.stringify(parsed) === body, () => `body not round-trip stable: ${body}`);
    assert(validate(parsed), () => `${revision}: ${JSON.stringify(validate.errors)}\n${body}`);
    assert(/^https:\/\/a\.klaviyo\.com\/client\/profiles\/?\?company_id=AbC123$/.test(url), () => url);
  }
  return out;
}

// Values that exercise the whole validator: everything fast-check can make, in every container.
const anything = fc.anything({
  withBigInt: true,
  withBoxedValues: true,
  withDate: true,
  withMap: true,
  withSet: true,
  withNullPrototype: true,
  withObjectString: true,
  withSparseArray: true,
  withTypedArray: true,
  withUnicodeString: true,
  maxDepth: 4,
});

// Payload-shaped records: known names (modern and legacy) with plausible or random values, plus custom keys.
const str = fc.oneof(fc.string(), fc.emailAddress(), fc.constant(''), fc.constant('  '), anything);
const coord = fc.oneof(fc.double(), fc.integer({ min: -200, max: 200 }), fc.double({ min: -90, max: 90, noNaN: true }).map(String), anything);
const phone = fc.oneof(fc.stringMatching(/^\+[1-9]\d{1,14}$/), fc.stringMatching(/^\+?[\d ()-]{0,20}$/), anything);
const location = fc.record(
  { address1: str, address2: str, city: str, country: str, region: str, zip: str, timezone: str, latitude: coord, longitude: coord },
  { requiredKeys: [] },
);
const payload = fc
  .tuple(
    fc.record(
      {
        email: str, $email: str, phone_number: phone, $phone_number: phone, external_id: str, $id: str, anonymous_id: str,
        first_name: str, $first_name: str, last_name: str, organization: str, title: str, image: str,
        _kx: fc.oneof(fc.constant('J8fjcn003Wy6b-3ILNlOyZXabW6dcFwTyeuxrowMers%3D.McN66'), fc.string(), anything),
        location: fc.oneof(location, anything), $city: str, $latitude: coord, $zip: str,
        properties: fc.oneof(fc.dictionary(fc.string(), fc.jsonValue()), fc.dictionary(fc.string(), anything), anything),
      },
      { requiredKeys: [] },
    ),
    fc.dictionary(fc.string(), fc.oneof(fc.jsonValue(), anything), { maxKeys: 5 }),
  )
  .map(([known, custom]) => ({ ...custom, ...known }));

// JSON text with prototype-pollution keys at any depth, parsed the way a page would receive it: JSON.parse
// makes `__proto__` an own key, which a careless copy (`out[k] = v`) would turn into a prototype change.
const pollutingKey = fc.constantFrom('__proto__', 'constructor', 'prototype', 'polluted', 'email', 'properties', 'location');
const jsonText = fc.letrec<{ node: string }>((tie) => ({
  node: fc.oneof(
    { depthSize: 'small' },
    fc.jsonValue({ maxDepth: 1 }).map((v) => JSON.stringify(v)),
    fc.array(fc.tuple(pollutingKey, tie('node')), { maxLength: 4 }).map((es) => `{${es.map(([k, v]) => `${JSON.stringify(k)}:${v}`).join(',')}}`),
    fc.array(tie('node'), { maxLength: 3 }).map((vs) => `[${vs.join(',')}]`),
  ),
})).node;
const hostileJson = jsonText.map((s) => JSON.parse(s) as unknown);

describe('normalizeProfile, property-based', () => {
  test('anything at all', () => fc.assert(fc.property(anything, (v) => void check(v)), { numRuns: 400 }));

  test('JSON values, and objects of them (custom properties)', () => fc.assert(fc.property(fc.oneof(fc.jsonValue(), fc.dictionary(fc.string(), fc.jsonValue())), (v) => void check(v)), { numRuns: 300 }));

  test('payload-shaped records', () => fc.assert(fc.property(payload, (v) => void check(v)), { numRuns: 400 }));

  test('plausible payloads mostly pass', () => {
    // Guards against a validator that rejects everything (which would make the tests above vacuous).
    let profiles = 0;
    fc.assert(
      fc.property(
        fc.record({ email: fc.emailAddress(), first_name: fc.string({ maxLength: 50 }), location: fc.record({ city: fc.string({ maxLength: 50 }), latitude: fc.double({ min: -90, max: 90, noNaN: true }) }), properties: fc.dictionary(fc.string().filter((k) => !['__proto__', 'constructor', 'prototype'].includes(k)), fc.jsonValue()) }),
        (p) => {
          if (!isInvalid(check(p))) profiles++;
        },
      ),
      { numRuns: 200 },
    );
    expect(profiles).toBeGreaterThan(150); // some fast-check emails exceed 100 characters
  });

  test('JSON with __proto__ keys at any depth is refused and never pollutes', () => {
    let refused = 0;
    const refusedWhenForbidden = (input: unknown) => {
      const out = check(input);
      let forbidden = false;
      walk(input, (o) => (forbidden ||= Object.getOwnPropertyNames(o).some((k) => FORBIDDEN.includes(k))));
      // Every object of a JSON input is either walked or refused for its type, so a forbidden key anywhere
      // must end in Invalid.
      if (forbidden) {
        assert(isInvalid(out), () => `accepted ${JSON.stringify(input)}`);
        refused++;
      }
    };
    fc.assert(fc.property(fc.oneof(hostileJson, hostileJson.map((v) => ({ email: 'a@b.co', properties: v }))), refusedWhenForbidden), { numRuns: 400 });
    expect(refused).toBeGreaterThan(50); // the generator does produce such keys
    expect(protoKeys()).toBe(protoBefore);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});
