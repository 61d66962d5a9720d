// @vitest-environment node
import { describe, expect, test } from 'vitest';
import { buildRequest } from '../../src/core/body';
import { isInvalid, normalizeProfile } from '../../src/core/payload';
import type { Profile } from '../../src/core/types';
// The collector's own loader: the official schemas turned into JSON Schema (OpenAPI `nullable`), plain and
// strict (every object but the custom `properties` refuses unknown fields, as Klaviyo does).
import { loadSchemas } from '../../dev/collector/schemas';
import { schemaRevisionFor } from '../../dev/collector/revision';

const official = loadSchemas(false);
const strict = loadSchemas(true);
const pick = (set: typeof official, rev: string) => set.find((s) => s.revision === rev)!.validate;
const validators = Object.fromEntries(
  ['2023-01-24', '2023-09-15', '2024-10-15'].map((r) => [r, { official: pick(official, r), strict: pick(strict, r) }]),
) as Record<'2023-01-24' | '2023-09-15' | '2024-10-15', { official: ReturnType<typeof pick>; strict: ReturnType<typeof pick> }>;

function expectSchemaValid(rev: string, body: unknown) {
  const file = schemaRevisionFor(rev)!;
  for (const fn of [pick(official, file), pick(strict, file)]) expect(fn(body), JSON.stringify(fn.errors)).toBe(true);
}

const KX = 'J8fjcn003Wy6b-3ILNlOyZXabW6dcFwTyeuxrowMers=.McN66';
const full = normalizeProfile({
  email: 'sarah.mason@klaviyo-demo.com',
  phone_number: '+15005550006',
  external_id: '63f64a2b',
  anonymous_id: 'anon-1',
  _kx: KX,
  first_name: 'Sarah',
  last_name: 'Mason',
  organization: 'Klaviyo',
  title: 'Engineer',
  image: 'https://images.example.com/s.jpeg',
  location: { city: 'New York', latitude: 40.7128, longitude: '-74.0060', zip: '10017' },
  properties: { pseudonym: 'Dr. Octopus', tags: ['a', 'b'], nested: { n: 1 } },
}) as Profile;
const opts = { apiHost: 'https://a.klaviyo.com', company: 'AbC123' };

const attrs = {
  email: 'sarah.mason@klaviyo-demo.com',
  phone_number: '+15005550006',
  external_id: '63f64a2b',
  anonymous_id: 'anon-1',
  first_name: 'Sarah',
  last_name: 'Mason',
  organization: 'Klaviyo',
  title: 'Engineer',
  image: 'https://images.example.com/s.jpeg',
  location: { city: 'New York', latitude: 40.7128, longitude: -74.006, zip: '10017' },
  properties: { pseudonym: 'Dr. Octopus', tags: ['a', 'b'], nested: { n: 1 } },
};
const ids = { email: 'sarah.mason@klaviyo-demo.com', phone_number: '+15005550006', external_id: '63f64a2b', anonymous_id: 'anon-1', _kx: KX };

test('the fixture profile is valid', () => expect(isInvalid(full)).toBe(false));

describe('buildRequest at 2023-01-24 (DESIGN §4)', () => {
  test('url, headers and the exact body', () => {
    const r = buildRequest(full, { ...opts, revision: '2023-01-24' });
    expect(r.url).toBe('https://a.klaviyo.com/client/profiles/?company_id=AbC123');
    expect(r.headers).toEqual({ revision: '2023-01-24', 'Content-Type': 'application/json' });
    const body = JSON.parse(r.body);
    expect(body).toEqual({ data: { type: 'profile', attributes: attrs, meta: { identifiers: ids } } });
    expect('_kx' in body.data.attributes).toBe(false);
    expectSchemaValid('2023-01-24', body);
  });

  test('keys in the DESIGN order, byte for byte', () => {
    const p = normalizeProfile({ properties: { a: 1 }, first_name: 'S', _kx: KX, email: 'a@b.co' }) as Profile;
    expect(buildRequest(p, { ...opts, revision: '2023-01-24' }).body).toBe(
      `{"data":{"type":"profile","attributes":{"email":"a@b.co","first_name":"S","properties":{"a":1}},"meta":{"identifiers":{"email":"a@b.co","_kx":"${KX}"}}}}`,
    );
  });

  test('only fields with a value', () => {
    const p = normalizeProfile({ $email: 'a@b.co', first_name: '', last_name: null, location: {}, properties: {} }) as Profile;
    const body = JSON.parse(buildRequest(p, { ...opts, revision: '2023-01-24' }).body);
    expect(body).toEqual({ data: { type: 'profile', attributes: { email: 'a@b.co' }, meta: { identifiers: { email: 'a@b.co' } } } });
    expectSchemaValid('2023-01-24', body);
  });

  test('_kx alone: empty attributes, _kx only in meta.identifiers', () => {
    const body = JSON.parse(buildRequest({ _kx: KX }, { ...opts, revision: '2023-01-24' }).body);
    expect(body).toEqual({ data: { type: 'profile', attributes: {}, meta: { identifiers: { _kx: KX } } } });
    expectSchemaValid('2023-01-24', body);
  });

  test('no identifiers: no meta (the tracker refuses such an update before this)', () => {
    const body = JSON.parse(buildRequest({ first_name: 'S' }, { ...opts, revision: '2023-01-24' }).body);
    expect(body).toEqual({ data: { type: 'profile', attributes: { first_name: 'S' } } });
  });

  test('revision defaults to 2023-01-24', () => {
    const r = buildRequest(full, opts);
    expect(r).toEqual(buildRequest(full, { ...opts, revision: '2023-01-24' }));
    expect(r.headers.revision).toBe('2023-01-24');
  });

  test('a later revision before 2023-07-15 keeps meta.identifiers', () => {
    const body = JSON.parse(buildRequest(full, { ...opts, revision: '2023-06-15' }).body);
    expect(body.data.meta).toEqual({ identifiers: ids });
    expectSchemaValid('2023-06-15', body);
  });
});

describe('buildRequest at later revisions', () => {
  test('2023-07-15: no meta, no _kx anywhere', () => {
    const r = buildRequest(full, { ...opts, revision: '2023-07-15' });
    expect(r.url).toBe('https://a.klaviyo.com/client/profiles/?company_id=AbC123');
    expect(r.headers).toEqual({ revision: '2023-07-15', 'Content-Type': 'application/json' });
    const body = JSON.parse(r.body);
    expect(body).toEqual({ data: { type: 'profile', attributes: attrs } });
    expectSchemaValid('2023-07-15', body);
  });

  test.each(['2023-09-15', '2024-02-15', '2024-10-14'])('%s: _kx in attributes, no meta', (revision) => {
    const r = buildRequest(full, { ...opts, revision });
    expect(r.url).toBe('https://a.klaviyo.com/client/profiles/?company_id=AbC123');
    expect(r.headers).toEqual({ revision, 'Content-Type': 'application/json' });
    const body = JSON.parse(r.body);
    expect(body).toEqual({ data: { type: 'profile', attributes: { ...attrs, _kx: KX } } });
    expect(Object.keys(body.data.attributes).slice(0, 5)).toEqual(['email', 'phone_number', 'external_id', 'anonymous_id', '_kx']);
    expectSchemaValid(revision, body);
  });

  test.each(['2024-10-15', '2025-01-15', '2024-10-15.pre'])('%s: no trailing slash, JSON:API media type', (revision) => {
    const r = buildRequest(full, { ...opts, revision });
    expect(r.url).toBe('https://a.klaviyo.com/client/profiles?company_id=AbC123');
    expect(r.headers).toEqual({ revision, 'Content-Type': 'application/vnd.api+json' });
    const body = JSON.parse(r.body);
    expect(body).toEqual({ data: { type: 'profile', attributes: { ...attrs, _kx: KX } } });
    expectSchemaValid(revision, body);
  });
});

describe('buildRequest: URL', () => {
  test('trailing slashes of apiHost are stripped; a proxy path is kept', () => {
    expect(buildRequest(full, { apiHost: 'http://127.0.0.1:8787/', company: 'AbC123' }).url).toBe('http://127.0.0.1:8787/client/profiles/?company_id=AbC123');
    expect(buildRequest(full, { apiHost: 'https://shop.example/kl//', company: 'AbC123' }).url).toBe('https://shop.example/kl/client/profiles/?company_id=AbC123');
  });

  test('the company id is encoded', () => {
    expect(buildRequest(full, { apiHost: 'https://a.klaviyo.com', company: 'a b&c=d' }).url).toBe('https://a.klaviyo.com/client/profiles/?company_id=a%20b%26c%3Dd');
  });

  test('no personal data in the URL, at any revision', () => {
    for (const revision of ['2023-01-24', '2023-09-15', '2024-10-15']) {
      const { url } = buildRequest(full, { ...opts, revision });
      for (const v of [...Object.values(ids), 'Sarah', 'Mason', 'New York']) expect(url).not.toContain(encodeURIComponent(v));
      expect(url).not.toMatch(/sarah|%40|@/i);
    }
  });
});

describe('the strict schema check can fail', () => {
  // Proof that the additionalProperties:false variant catches what the official schema lets through.
  test('an unknown attribute, _kx as an attribute at 2023-01-24, meta.identifiers at 2023-09-15', () => {
    const base = { data: { type: 'profile', attributes: { email: 'a@b.co' } } };
    const v0124 = validators['2023-01-24'];
    const v0915 = validators['2023-09-15'];
    const unknown = { data: { ...base.data, attributes: { email: 'a@b.co', nickname: 'x' } } };
    expect(v0124.official(unknown)).toBe(true);
    expect(v0124.strict(unknown)).toBe(false);
    expect(v0124.strict({ data: { ...base.data, attributes: { email: 'a@b.co', _kx: KX } } })).toBe(false);
    expect(v0915.strict({ data: { ...base.data, meta: { identifiers: { email: 'a@b.co' } } } })).toBe(false);
    // The custom properties object stays open.
    expect(v0124.strict({ data: { ...base.data, attributes: { properties: { anything: { at: ['all'] } } } } })).toBe(true);
    // nullable was converted: null is valid at 2024-10-15, not at 2023-09-15.
    expect(validators['2024-10-15'].strict({ data: { type: 'profile', attributes: { email: null, location: { latitude: null } } } })).toBe(true);
    expect(v0915.strict({ data: { type: 'profile', attributes: { email: null } } })).toBe(false);
  });
});
