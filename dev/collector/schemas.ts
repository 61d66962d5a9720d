// Loads the official request schemas (schemas/*.schema.json, extracted from Klaviyo's OpenAPI spec)
// and compiles them with ajv, after turning OpenAPI 3.0 dialect into plain JSON Schema.
import { readFileSync } from 'node:fs';
import { Ajv, type ValidateFunction } from 'ajv';

/** Revisions we hold a schema for, oldest first; a request uses the newest one not after its own date. */
export const SCHEMA_REVISIONS = ['2023-01-24', '2023-09-15', '2024-10-15'] as const;
export type SchemaRevision = (typeof SCHEMA_REVISIONS)[number];

/** What the collector needs of one revision: its path, content types and compiled body validator. */
export interface RevisionSchema {
  revision: SchemaRevision;
  path: string;
  contentTypes: string[];
  validate: ValidateFunction;
}

type Node = Record<string, unknown>;
const isObj = (v: unknown): v is Node => typeof v === 'object' && v !== null && !Array.isArray(v);

// Objects whose keys are the customer's own (custom properties, patch operations on them).
const FREE_FORM = new Set(['/data/attributes/properties', '/data/meta/patch_properties/append', '/data/meta/patch_properties/unappend']);

/**
 * OpenAPI 3.0 schema -> JSON Schema: `nullable: true` becomes a `null` type (or a `null` branch of a
 * oneOf), `example` is dropped (ajv's strict mode refuses unknown keywords), and with `strict` every
 * object but the free-form ones gets `additionalProperties: false`, since Klaviyo refuses unknown fields.
 */
export function toJsonSchema(schema: unknown, strict: boolean, path = ''): unknown {
  if (Array.isArray(schema)) return schema.map((s) => toJsonSchema(s, strict, path));
  if (!isObj(schema)) return schema;
  const out: Node = {};
  for (const [k, v] of Object.entries(schema)) {
    if (k === 'example' || k === 'nullable') continue;
    if (k === 'properties' && isObj(v)) {
      out[k] = Object.fromEntries(Object.entries(v).map(([name, s]) => [name, toJsonSchema(s, strict, `${path}/${name}`)]));
    } else out[k] = toJsonSchema(v, strict, path);
  }
  if (schema.nullable === true) {
    if (typeof out.type === 'string') out.type = [out.type, 'null'];
    else if (Array.isArray(out.oneOf)) out.oneOf = [...out.oneOf, { type: 'null' }];
  }
  const isObject = out.type === 'object' || (Array.isArray(out.type) && out.type.includes('object'));
  if (strict && isObject && !FREE_FORM.has(path) && out.additionalProperties === undefined) out.additionalProperties = false;
  return out;
}

// Compiling takes ajv a good part of a second on a busy machine, and tests start many collectors:
// compiled validators are immutable, so each (strict, dir) is compiled once per process.
const compiled = new Map<string, RevisionSchema[]>();

/** Read and compile the three revisions' schemas from `dir` (default: the project's schemas/); memoised. */
export function loadSchemas(strict: boolean, dir = new URL('../../schemas/', import.meta.url)): RevisionSchema[] {
  const key = `${strict}:${dir.href}`;
  const hit = compiled.get(key);
  if (hit) return hit;
  const schemas = compileSchemas(strict, dir);
  compiled.set(key, schemas);
  return schemas;
}

function compileSchemas(strict: boolean, dir: URL): RevisionSchema[] {
  const ajv = new Ajv({ allErrors: true, allowUnionTypes: true });
  return SCHEMA_REVISIONS.map((revision) => {
    const file = JSON.parse(readFileSync(new URL(`klaviyo-client-profiles-${revision}.schema.json`, dir), 'utf8')) as {
      path: string;
      requestBody: { contentTypes: string[]; schema: Node };
    };
    const { $schema: _drop, ...body } = file.requestBody.schema; // ajv 8 defaults to draft-07 already
    return {
      revision,
      path: file.path,
      contentTypes: file.requestBody.contentTypes,
      validate: ajv.compile(toJsonSchema(body, strict) as Node),
    };
  });
}
