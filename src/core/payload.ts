// normalizeProfile: identify props (modern and legacy `$` keys) -> a validated, normalised Profile (DESIGN §3).
// Rules beyond DESIGN:
// - Strings are trimmed; an empty string, null or undefined means "absent" for every named field.
// - Every value given is validated, also the one that loses (modern `email` beats legacy `$email`, but a bad
//   `$email` is still reported): a typo should be seen, not silently dropped.
// - Errors name the key as the caller wrote it (`$city`, `location.city`, `properties.a.b`, `plan.0`).
// - Phone numbers lose spaces, dots, dashes and parentheses before the E.164 check.
// - Numeric strings for latitude/longitude become numbers.
// - In properties, Dates become ISO strings, undefined members are dropped, undefined array items become
//   null and -0 becomes 0: exactly what JSON.stringify sends, so the stored profile is what goes on the wire.
import type { Identifiers, Location, Profile } from './types';
import { kxOf } from './kx';

/** A validation failure: the field (dotted path, as the caller spelled it) and a short reason. */
export type Invalid = { field: string; reason: string };

/** Largest request body the API takes, in bytes (5 MB). */
export const MAX_BODY = 5 * 1024 * 1024;

// Room kept for the envelope and for the identifiers the tracker folds in later (sent twice in 2023-01-24).
const LIMIT = MAX_BODY - 8192;
// Most JSON bytes the capped top-level and location strings can take (about 6.5 K characters, 6 bytes each).
const NAMED_MAX = 40_000;
const TOO_BIG = 'makes the body larger than 5 MB';
const MAX_DEPTH = 10;

/** The Profile's top-level fields in wire order (DESIGN §4): identifiers first, `_kx` last of them. */
export const FIELDS = ['email', 'phone_number', 'external_id', 'anonymous_id', '_kx', 'first_name', 'last_name', 'organization', 'title', 'image', 'location', 'properties'] as const;
const LOC = ['address1', 'address2', 'city', 'country', 'latitude', 'longitude', 'region', 'zip', 'timezone'];

// Per-call state: the path being read (joined only on failure, so a getter or Proxy trap that throws is
// named), the first problem, the objects being walked (cycle detection), and the string characters and
// values seen in properties: a lower bound of the JSON size that stops hostile DAGs early, and an upper bound
// that spares the exact measure for ordinary payloads.
interface Ctx { path: (string | number)[]; bad?: Invalid; seen: object[]; chars: number; nodes: number }

function fail(c: Ctx, reason: string, field = c.path.join('.') || 'props'): never {
  c.bad = { field, reason };
  throw c; // caught in normalizeProfile, which returns c.bad: the thrown value itself is never inspected
}

const forbidden = (k: string) => k === '__proto__' || k === 'constructor' || k === 'prototype';
const POLLUTION = 'is not allowed (prototype pollution)';

// A plain object: prototype Object.prototype (of any realm) or null. Rejects arrays, Dates, Maps, class instances.
function isPlain(v: unknown): v is Record<string, unknown> {
  if (!v || typeof v !== 'object' || Array.isArray(v)) return false;
  const p = Object.getPrototypeOf(v) as object | null;
  return p === null || Object.getPrototypeOf(p) === null;
}

// A trimmed string, undefined when absent; `cap` in characters.
function str(c: Ctx, v: unknown, cap: number): string | undefined {
  if (v == null) return;
  if (typeof v !== 'string') fail(c, 'must be a string');
  const s = v.trim();
  if (s.length > cap) fail(c, `is too long (max ${cap})`);
  return s || undefined;
}

function coord(c: Ctx, v: unknown, max: number): number | undefined {
  if (typeof v === 'string') {
    v = v.trim();
    if (/^-?\d+(\.\d+)?$/.test(v as string)) v = +(v as string);
  }
  if (v == null || v === '') return;
  if (typeof v !== 'number' || !isFinite(v)) fail(c, 'must be a finite number');
  if (v < -max || v > max) fail(c, `must be between -${max} and ${max}`);
  return v + 0; // -0 + 0 is 0: JSON sends -0 as 0, and the stored profile must equal what is sent
}

// One named field into its target; modern spellings overwrite, legacy ones only fill a gap.
function put(c: Ctx, t: Record<string, unknown>, name: string, v: unknown, modern: boolean) {
  let x: string | number | undefined;
  if (name === 'latitude' || name === 'longitude') x = coord(c, v, name === 'latitude' ? 90 : 180);
  // Caps in characters, after trim; a phone number is capped before its separators go, E.164 bounds it after.
  else if ((x = str(c, v, name === 'email' ? 100 : name === 'image' ? 2048 : 255)) !== undefined) {
    if (name === 'email' && !/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(x)) fail(c, 'must be an email address');
    // Phone: `+1 (500) 555-0006` is the same number as `+15005550006`.
    if (name === 'phone_number' && !/^\+[1-9]\d{1,14}$/.test((x = x.replace(/[\s().-]/g, '')))) fail(c, 'must be E.164, like +15005550006');
  }
  if (x !== undefined && (modern || t[name] === undefined)) t[name] = x;
}

// A JSON value for properties, copied onto null-prototype objects: keys chosen by the input can never reach a
// setter (or `__proto__`) on Object.prototype, even if a forbidden key slipped past the check.
// Returns undefined for undefined (dropped by the caller, as JSON does).
function clean(c: Ctx, v: unknown, depth: number): unknown {
  const t = typeof v;
  if (t === 'string') c.chars += (v as string).length;
  if (c.chars + 2 * ++c.nodes > LIMIT) fail(c, TOO_BIG, 'properties'); // each value takes 2+ bytes
  if (v === null || t === 'string' || t === 'boolean' || t === 'undefined') return v;
  if (t === 'number') return isFinite(v as number) ? (v as number) + 0 : fail(c, 'must be a finite number'); // -0 -> 0, as JSON
  if (t !== 'object') return fail(c, t === 'bigint' ? 'is a BigInt' : `is a ${t}`); // function, symbol
  // Date.prototype methods, not the instance's: a subclass could override toISOString with anything.
  if (v instanceof Date) return isNaN(Date.prototype.getTime.call(v)) ? fail(c, 'is an invalid date') : Date.prototype.toISOString.call(v);
  const arr = Array.isArray(v);
  if (!arr && !isPlain(v)) fail(c, 'is not a plain object');
  if (depth > MAX_DEPTH) fail(c, `is too deep (max ${MAX_DEPTH})`);
  const o = v as Record<string, unknown>;
  if (c.seen.includes(o)) fail(c, 'is a cycle');
  c.seen.push(o);
  let out: unknown;
  if (arr) {
    const a = o as unknown as unknown[];
    const n = a.length;
    if (n * 2 > LIMIT) fail(c, TOO_BIG, 'properties'); // `new Array(1e9)` must not spin
    const r: unknown[] = [];
    for (let i = 0; i < n; i++) {
      c.path.push(i);
      r.push(clean(c, a[i], depth + 1) ?? null);
      c.path.pop();
    }
    out = r;
  } else {
    const r = Object.create(null) as Record<string, unknown>;
    for (const k of Object.keys(o)) {
      c.path.push(k);
      if (forbidden(k)) fail(c, POLLUTION);
      c.chars += k.length;
      const x = clean(c, o[k], depth + 1);
      if (x !== undefined) r[k] = x;
      c.path.pop();
    }
    out = r;
  }
  c.seen.pop();
  return out;
}

/** Validate and normalise identify props (modern and legacy `$` keys); the Profile or the first problem found.
 *  Never throws, whatever it is given. Objects under `properties` have null prototypes. */
export function normalizeProfile(input: unknown): Profile | Invalid {
  const c: Ctx = { path: [], seen: [], chars: 0, nodes: 0 };
  try {
    if (!isPlain(input)) fail(c, 'must be a plain object');
    // Profile and location get only names from the tables above, never a key chosen by the input, so plain
    // objects are safe for them (and about twice as fast as null-prototype ones, which V8 keeps as dictionaries).
    const p: Record<string, unknown> = {};
    const loc: Record<string, unknown> = {};
    const custom = Object.create(null) as Record<string, unknown>;
    let props: Record<string, unknown> | undefined;
    for (const k of Object.keys(input)) {
      c.path[0] = k; // the path is back to one entry here: every push below has its pop
      if (forbidden(k)) fail(c, POLLUTION);
      const v = input[k];
      // Legacy spelling: `$` + the modern name (`$id` for external_id). `$anonymous_id` and `$external_id`
      // are taken too: no site means anything else by them.
      const name = k === '$id' ? 'external_id' : k[0] === '$' ? k.slice(1) : k;
      const i = FIELDS.indexOf(name as (typeof FIELDS)[number]);
      if (i >= 0 && i < 10 && i !== 4) put(c, p, name, v, name === k); // the string fields: not _kx, location, properties
      else if (name !== k && LOC.includes(name)) put(c, loc, name, v, false);
      else if (k === '_kx') {
        if (v != null && v !== '') p._kx = kxOf(v) ?? fail(c, 'must be an exchange id');
      } else if (k === 'location') {
        if (v == null) continue;
        if (!isPlain(v)) fail(c, 'must be a plain object');
        for (const f of Object.keys(v)) {
          c.path.push(f);
          if (forbidden(f)) fail(c, POLLUTION);
          if (!LOC.includes(f)) fail(c, 'is not a location field');
          put(c, loc, f, v[f], true);
          c.path.pop();
        }
      } else if (k === 'properties') {
        if (v == null) continue;
        if (!isPlain(v)) fail(c, 'must be a plain object');
        props = clean(c, v, 1) as Record<string, unknown>;
      } else {
        // Any other key is a custom property (legacy habit); its path is the key the caller wrote.
        c.chars += k.length;
        const x = clean(c, v, 1);
        if (x !== undefined) custom[k] = x;
      }
    }
    // A key given both at the top level and inside `properties`: `properties` wins, being the explicit place.
    if (props) Object.assign(custom, props);
    if (Object.keys(loc).length) p.location = loc as Location;
    if (Object.keys(custom).length) p.properties = custom;
    // Measure exactly only when the bound says it could matter: a character of a string or key takes at most
    // 6 bytes (`\u0000`), any other value at most 24 (`-2.2250738585072014e-308`), punctuation (`"":,`) 6 more.
    if (6 * c.chars + 30 * c.nodes + NAMED_MAX > LIMIT) {
      c.path = [];
      const json = JSON.stringify(p);
      if (json.length > LIMIT || new TextEncoder().encode(json).length > LIMIT) fail(c, TOO_BIG, 'properties');
    }
    return p as Profile;
  } catch {
    // c.bad is set by fail(); anything else is a getter or Proxy trap of the caller's that threw.
    return c.bad ?? { field: c.path.join('.') || 'props', reason: 'throws when read' };
  }
}

/** True for the Invalid half of normalizeProfile's result. */
export function isInvalid(x: unknown): x is Invalid {
  return !!x && typeof (x as Invalid).reason === 'string' && typeof (x as Invalid).field === 'string';
}

/** The identifiers of a profile (email, phone_number, external_id, anonymous_id, _kx), only those set. */
export function identifiersOf(p: Profile): Identifiers {
  const ids: Identifiers = {};
  for (const k of FIELDS.slice(0, 5) as (keyof Identifiers)[]) if (p[k]) ids[k] = p[k];
  return ids;
}
