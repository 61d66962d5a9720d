// Validates a request body against its revision's schema, then (strict mode) the rules Klaviyo
// applies beyond the schema: email shape, E.164 phone numbers, at least one identifier.
import type { ErrorObject } from 'ajv';
import { apiError } from './errors';
import type { RevisionSchema } from './schemas';
import type { ApiErrorObj } from './types';

/** Loose email shape, as Klaviyo checks it: something@domain.tld, no spaces. */
export const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
/** E.164: '+', a non-zero country digit, at most 15 digits in all. */
export const E164 = /^\+[1-9]\d{1,14}$/;

const ATTRIBUTE_IDS = ['email', 'phone_number', 'external_id', 'anonymous_id', '_kx'];
const META_IDS = ['id', ...ATTRIBUTE_IDS];

const escapeToken = (t: string) => t.replace(/~/g, '~0').replace(/\//g, '~1');
type Obj = Record<string, unknown>;
const obj = (v: unknown): Obj | undefined => (typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Obj) : undefined);

/** The 400 errors of a parsed body for this revision (empty when the body is acceptable). */
export function validateBody(schema: RevisionSchema, body: unknown, strict: boolean): ApiErrorObj[] {
  if (!schema.validate(body)) return schemaErrors(schema.validate.errors ?? []);
  return strict ? strictErrors(schema, body) : [];
}

/** ajv errors -> one JSON:API error per field, the pointer naming the field itself. */
function schemaErrors(errors: ErrorObject[]): ApiErrorObj[] {
  // A value failing a oneOf also fails each branch; report the oneOf alone ("string or number").
  const oneOfAt = new Set(errors.filter((e) => e.keyword === 'oneOf').map((e) => e.instancePath));
  const seen = new Map<string, ApiErrorObj>();
  for (const e of errors) {
    if (e.keyword !== 'oneOf' && oneOfAt.has(e.instancePath) && e.schemaPath.includes('/oneOf/')) continue;
    let pointer = e.instancePath || '/';
    let detail = `'${pointer}' ${e.message ?? 'is invalid'}.`;
    if (e.keyword === 'additionalProperties') {
      const name = String((e.params as { additionalProperty: string }).additionalProperty);
      pointer = `${e.instancePath}/${escapeToken(name)}`;
      detail = `'${name}' is not a valid field for this request.`;
    } else if (e.keyword === 'required') {
      const name = String((e.params as { missingProperty: string }).missingProperty);
      pointer = `${e.instancePath}/${escapeToken(name)}`;
      detail = `'${name}' is a required field.`;
    } else if (e.keyword === 'oneOf') {
      detail = `'${pointer}' must be a string or a number${e.schema && JSON.stringify(e.schema).includes('"null"') ? ' or null' : ''}.`;
    }
    if (!seen.has(pointer)) seen.set(pointer, apiError(400, 'invalid', detail, pointer));
  }
  return [...seen.values()];
}

/** Rules beyond the schema; the body has already passed the schema. */
function strictErrors(schema: RevisionSchema, body: unknown): ApiErrorObj[] {
  const data = obj(obj(body)?.data);
  const attrs = obj(data?.attributes) ?? {};
  const ids = obj(obj(data?.meta)?.identifiers);
  const errors: ApiErrorObj[] = [];
  const check = (where: Obj | undefined, base: string) => {
    if (typeof where?.email === 'string' && !EMAIL.test(where.email)) {
      errors.push(apiError(400, 'invalid', `Invalid email address: '${where.email}'.`, `${base}/email`));
    }
    if (typeof where?.phone_number === 'string' && !E164.test(where.phone_number)) {
      errors.push(apiError(400, 'invalid', 'Invalid phone number format (example of a valid format: +12345678901).', `${base}/phone_number`));
    }
  };
  check(attrs, '/data/attributes');
  check(ids, '/data/meta/identifiers');
  const has = (o: Obj | undefined, keys: string[]) => keys.some((k) => typeof o?.[k] === 'string' && o[k] !== '');
  if (schema.revision === '2023-01-24') {
    // This revision matches people on meta.identifiers only.
    if (!has(ids, META_IDS)) {
      errors.push(apiError(400, 'invalid', `meta.identifiers must hold at least one of ${META_IDS.join(', ')}.`, ids ? '/data/meta/identifiers' : '/data/meta'));
    }
  } else if (!has(attrs, ATTRIBUTE_IDS)) {
    errors.push(apiError(400, 'invalid', `One of ${ATTRIBUTE_IDS.join(', ')} is required.`, '/data/attributes'));
  }
  return errors;
}
