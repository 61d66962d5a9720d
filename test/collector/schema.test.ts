// @vitest-environment node
// Request validation: the official schemas (made strict) and the rules Klaviyo applies beyond them.
import { describe, expect, it } from 'vitest';
import { schemaRevisionFor } from '../../dev/collector/revision';
import { loadSchemas, toJsonSchema, type SchemaRevision } from '../../dev/collector/schemas';
import { validateBody } from '../../dev/collector/validate';
import { body2023, bodyModern } from './client';

const strictSchemas = loadSchemas(true);
const lenientSchemas = loadSchemas(false);
const pointers = (revision: SchemaRevision, body: unknown, strict = true) =>
  validateBody((strict ? strictSchemas : lenientSchemas).find((s) => s.revision === revision)!, body, strict).map((e) => e.source?.pointer);

describe('accepted bodies', () => {
  const cases: [string, SchemaRevision, unknown][] = [
    ['2023-01-24 minimal: email in attributes and meta.identifiers', '2023-01-24', body2023('sarah@example.com')],
    [
      '2023-01-24 every attribute, latitude as number and longitude as string',
      '2023-01-24',
      body2023('sarah@example.com', {
        phone_number: '+15005550006', external_id: 'x-1', anonymous_id: 'anon', first_name: 'Sarah', last_name: 'Mason',
        organization: 'Klaviyo', title: 'Engineer', image: 'https://example.com/a.png',
        location: { address1: '89 E 42nd St', address2: '1st', city: 'New York', country: 'US', latitude: 40.7128, longitude: '74.0060', region: 'NY', zip: '10017', timezone: 'America/New_York' },
        properties: { plan: 'pro', nested: { any: ['thing', 1, null] } },
      }),
    ],
    ['2023-01-24 _kx alone in meta.identifiers', '2023-01-24', { data: { type: 'profile', attributes: {}, meta: { identifiers: { _kx: 'abc.AbC123' } } } }],
    ['2023-09-15 _kx in attributes, patch_properties', '2023-09-15', { data: { type: 'profile', attributes: { _kx: 'abc' }, meta: { patch_properties: { append: { skus: '1' }, unset: ['old'] } } } }],
    ['2024-10-15 nulls (OpenAPI nullable), locale and location.ip', '2024-10-15', bodyModern({ external_id: 'e1', first_name: null, locale: 'en-US', location: { ip: '127.0.0.1', latitude: null }, properties: null })],
  ];
  it.each(cases)('%s', (_name, revision, body) => {
    expect(pointers(revision, body)).toEqual([]);
  });
});

describe('refused bodies name the field', () => {
  const cases: [string, SchemaRevision, unknown, string][] = [
    ['no data', '2023-01-24', {}, '/data'],
    ['data.type not profile', '2023-01-24', { data: { type: 'person', attributes: { email: 'a@b.co' }, meta: { identifiers: { email: 'a@b.co' } } } }, '/data/type'],
    ['no attributes', '2023-09-15', { data: { type: 'profile' } }, '/data/attributes'],
    ['unknown attribute', '2023-01-24', body2023('a@b.co', { favorite_color: 'teal' }), '/data/attributes/favorite_color'],
    ['unknown location field', '2023-09-15', bodyModern({ email: 'a@b.co', location: { street: 'x' } }), '/data/attributes/location/street'],
    ['unknown top-level field', '2023-09-15', { ...bodyModern({ email: 'a@b.co' }), included: [] }, '/included'],
    ['email not a string', '2023-01-24', body2023('a@b.co', { email: 42 }), '/data/attributes/email'],
    ['latitude neither string nor number', '2023-01-24', body2023('a@b.co', { location: { latitude: true } }), '/data/attributes/location/latitude'],
    ['properties not an object', '2023-09-15', bodyModern({ email: 'a@b.co', properties: ['x'] }), '/data/attributes/properties'],
    ['2023-01-24 meta without identifiers', '2023-01-24', { data: { type: 'profile', attributes: { email: 'a@b.co' }, meta: {} } }, '/data/meta/identifiers'],
    ['2023-01-24 _kx in attributes (added in 2023-09-15)', '2023-01-24', body2023('a@b.co', { _kx: 'abc' }), '/data/attributes/_kx'],
    ['2023-01-24 no meta at all (no identifier)', '2023-01-24', { data: { type: 'profile', attributes: { email: 'a@b.co' } } }, '/data/meta'],
    ['2023-01-24 empty meta.identifiers', '2023-01-24', { data: { type: 'profile', attributes: { email: 'a@b.co' }, meta: { identifiers: {} } } }, '/data/meta/identifiers'],
    ['email not shaped like an email', '2023-09-15', bodyModern({ email: 'sarah at example' }), '/data/attributes/email'],
    ['phone not E.164', '2023-09-15', bodyModern({ phone_number: '555-1234' }), '/data/attributes/phone_number'],
    ['phone with a leading 0 country digit', '2023-09-15', bodyModern({ phone_number: '+0123456789' }), '/data/attributes/phone_number'],
    ['bad email in meta.identifiers', '2023-01-24', { data: { type: 'profile', attributes: {}, meta: { identifiers: { email: 'nope' } } } }, '/data/meta/identifiers/email'],
    ['2023-09-15 meta.identifiers (removed)', '2023-09-15', { data: { type: 'profile', attributes: { email: 'a@b.co' }, meta: { identifiers: { email: 'a@b.co' } } } }, '/data/meta/identifiers'],
    ['2023-09-15 no identifier in attributes', '2023-09-15', bodyModern({ first_name: 'Sarah' }), '/data/attributes'],
    ['2024-10-15 a null email is no identifier', '2024-10-15', bodyModern({ email: null, first_name: 'Sarah' }), '/data/attributes'],
    ['2023-09-15 locale (added in 2024-10-15)', '2023-09-15', bodyModern({ email: 'a@b.co', locale: 'en-US' }), '/data/attributes/locale'],
    ['2023-09-15 null email (nullable only from 2024-10-15)', '2023-09-15', bodyModern({ email: null, external_id: 'e' }), '/data/attributes/email'],
    ['patch_properties unknown operation', '2023-09-15', { data: { type: 'profile', attributes: { email: 'a@b.co' }, meta: { patch_properties: { push: {} } } } }, '/data/meta/patch_properties/push'],
    ['body not an object', '2023-09-15', [], '/'],
  ];
  it.each(cases)('%s -> %s', (_name, revision, body, pointer) => {
    expect(pointers(revision, body)).toContain(pointer);
  });

  it('reports a oneOf failure once, not once per branch', () => {
    expect(pointers('2023-01-24', body2023('a@b.co', { location: { latitude: true } }))).toEqual(['/data/attributes/location/latitude']);
  });

  it('reports every bad field of one body', () => {
    expect(pointers('2023-09-15', bodyModern({ email: 1, foo: 2 })).sort()).toEqual(['/data/attributes/email', '/data/attributes/foo']);
  });
});

describe('lenient mode (strict: false) is the official schema only', () => {
  it('takes unknown fields, any email shape and no identifier', () => {
    expect(pointers('2023-01-24', body2023('not-an-email', { favorite_color: 'teal' }), false)).toEqual([]);
    expect(pointers('2023-09-15', bodyModern({ first_name: 'Sarah' }), false)).toEqual([]);
  });
  it('still refuses wrong types', () => {
    expect(pointers('2023-01-24', body2023('a@b.co', { email: 1 }), false)).toEqual(['/data/attributes/email']);
  });
});

describe('schemaRevisionFor', () => {
  it.each([
    ['2023-01-24', '2023-01-24'],
    ['2023-06-15.pre', '2023-01-24'],
    ['2023-07-14', '2023-01-24'],
    ['2023-07-15', '2023-09-15'],
    ['2023-09-14', '2023-09-15'],
    ['2023-09-15', '2023-09-15'],
    ['2024-10-14', '2023-09-15'],
    ['2024-10-15', '2024-10-15'],
    ['2025-07-15', '2024-10-15'],
  ])('%s uses the %s schema', (header, schema) => {
    expect(schemaRevisionFor(header)).toBe(schema);
  });
  it.each([undefined, '', '2023-01-23', '2023-1-24', '2023-02-30', 'latest', '2024-10-15.', '2024-10-15 '])('refuses %j', (header) => {
    expect(schemaRevisionFor(header)).toBeUndefined();
  });
});

describe('toJsonSchema', () => {
  it('turns OpenAPI nullable into a null type or a null oneOf branch, and drops example', () => {
    const out = toJsonSchema({ type: 'object', properties: { a: { type: 'string', nullable: true, example: 'x' }, b: { oneOf: [{ type: 'string' }], nullable: true } } }, false);
    expect(out).toEqual({ type: 'object', properties: { a: { type: ['string', 'null'] }, b: { oneOf: [{ type: 'string' }, { type: 'null' }] } } });
  });
  it('closes every object but the free-form ones in strict mode', () => {
    const out = toJsonSchema(
      { type: 'object', properties: { data: { type: 'object', properties: { attributes: { type: 'object', properties: { properties: { type: 'object' } } } } } } },
      true,
    ) as { additionalProperties: boolean; properties: { data: { properties: { attributes: { additionalProperties: boolean; properties: { properties: object } } } } } };
    expect(out.additionalProperties).toBe(false);
    expect(out.properties.data.properties.attributes.additionalProperties).toBe(false);
    expect(out.properties.data.properties.attributes.properties.properties).toEqual({ type: 'object' });
  });
});
