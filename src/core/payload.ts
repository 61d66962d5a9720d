// normalizeProfile: identify props (modern and legacy `$` keys) -> a validated, normalised Profile (DESIGN §3).
// Rules beyond DESIGN:
// - Strings are trimmed; an empty string, null or undefined means "absent" for every named field.
// - Every value given is validated, also the one that loses (modern `email` beats legacy `$email`, but a bad
//   `$email` is still reported): a typo should be seen, not silently dropped.
// - Errors name the key as the caller wrote it (`$city`, `location.city`, `properties.a.b`, `plan.0`).
// - `$` + a field name is its legacy spelling (`$id` for external_id); `$` + a location field goes to location.
// - Properties nest at most 10 deep; that limit also ends a cycle (the error path shows the loop).
// - Phone numbers lose spaces, dots, dashes and parentheses before the E.164 check.
// - Numeric strings for latitude/longitude become numbers.
// - In properties, Dates become ISO strings, undefined members are dropped, undefined array items become
//   null and -0 becomes 0: exactly what JSON.stringify sends, so the stored profile is what goes on the wire.
import type { Identifiers, Profile } from './types';
import { kxOf } from './kx';

/** A validation failure: the field (dotted path, as the caller spelled it) and a short reason. */
export type Invalid = { field: string; reason: string };

/** Largest request body the API takes, in bytes (5 MB). */
export const MAX_BODY = 5 << 20;

// Room kept for the envelope and for the identifiers the tracker folds in later (sent twice in 2023-01-24).
const LIMIT = MAX_BODY - 8192;

// Every name in one split string (shorter in the bundle than an array of literals): the Profile's string
// fields (0-9), `location` and `properties` (10, 11), then the location fields (12+), latitude and longitude
// last (19, 20).
const NAMES = 'email phone_number external_id anonymous_id _kx first_name last_name organization title image location properties address1 address2 city country region zip timezone latitude longitude'.split(' ');
/** The Profile's top-level fields in wire order (DESIGN §4): identifiers first, `_kx` last of them. */
export const FIELDS = NAMES.slice(0, 12) as (keyof Profile)[];
/** The identifier fields (a constant: identifiersOf runs on every identify). */
const ID_FIELDS = NAMES.slice(0, 5) as (keyof Identifiers)[];
/** The identifiers remembered for a person, in this order: ID_FIELDS without `_kx` (it belongs to the browser). */
export const PERSON_FIELDS = NAMES.slice(0, 4) as Exclude<keyof Identifiers, '_kx'>[];

const proto = Object.getPrototypeOf;
const keys = Object.keys;

/** The state of one normalizeProfile call, passed to the helpers below: `at_` is the path being read (set before
 *  each read, so that a getter or Proxy trap that throws is named), `n_` a lower bound of the JSON bytes of the custom
 *  properties, `why_` the reason of a refusal of ours. (One object per call rather than closures: the helpers are
 *  made once, and a page may identify 10 000 times in a loop.) */
interface Walk { at_: string; n_: number; why_?: string }

// Refuses the value at `w.at_`: its reason noted, the walk ended (normalizeProfile's one catch returns the
// refusal; what the caller's code throws leaves `why_` unset). A declaration, not an arrow: TypeScript narrows
// after a call only to a declared `never` function.
function fail(w: Walk, reason: string): never {
  w.why_ = reason;
  throw w;
}

// Fails unless `v` is a plain object: prototype Object.prototype (of any realm) or null. Primitives, arrays, Dates,
// Maps and class instances all have a prototype whose own prototype is not null. (A declaration: see fail.)
function plain(w: Walk, v: unknown): asserts v is Record<string, unknown> {
  if (v == null || ((v = proto(v)) && proto(v))) fail(w, 'is not a plain object');
}

// The custom properties make the body too big: reported on `properties`, whatever path is being read.
function tooBig(w: Walk): never {
  w.at_ = 'properties';
  fail(w, 'makes the body over 5 MB');
}

/** Keys that must never reach an object the tracker builds (prototype pollution). */
export const unsafeKey = (k: string) => k == '__proto__' || k == 'constructor' || k == 'prototype';

// `o[k]` (path `pre` + key), refusing the keys that could reach a prototype.
const get = (w: Walk, o: Record<string, unknown>, k: string, pre: string) => {
  w.at_ = pre + k;
  w.n_ += k.length;
  if (unsafeKey(k)) fail(w, 'is not allowed');
  return o[k];
};

// Module-level: a regex literal is a new object on every evaluation.
const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

// Named field NAMES[i] into `t` (created when first needed, so that an empty location is never made): modern
// spellings overwrite, legacy ones only fill a gap. Returns `t`.
const put = (w: Walk, t: Record<string, unknown> | undefined, v: unknown, i: number, modern?: boolean) => {
  if (typeof v == 'string') v = v.trim();
  if ((v ?? '') === '') return t; // null, undefined and '' are absent
  // latitude (19), longitude (20)
  if (i > 18) {
    const max = i < 20 ? 90 : 180;
    if (typeof v == 'string') v = +v;
    // `!(x <= max)` is also true for NaN.
    if (typeof v != 'number' || !(Math.abs(v) <= max)) fail(w, `must be in [-${max}, ${max}]`);
    v = (v as number) + 0; // -0 + 0 is 0: JSON sends -0 as 0, and the stored profile must equal what is sent
  } else {
    if (typeof v != 'string') return fail(w, 'must be a string');
    // Caps in characters, after trim (email 0, image 9); a phone number is capped before its separators go,
    // E.164 bounds it after.
    const cap = i ? (i == 9 ? 2048 : 255) : 100;
    if (v.length > cap) fail(w, `is too long (max ${cap})`);
    if (!i && !EMAIL.test(v)) fail(w, 'must be an email address'); // wording pinned by e2e/security.test.ts
    // Phone: `+1 (500) 555-0006` is the same number as `+15005550006`.
    if (i == 1 && !/^\+[1-9]\d{1,14}$/.test((v = v.replace(/[\s().-]/g, '')))) fail(w, 'is not E.164');
    if (i == 4) v = kxOf(v) ?? fail(w, 'is not an exchange id');
  }
  t ||= {};
  if (modern || t[NAMES[i]!] === undefined) t[NAMES[i]!] = v;
  return t;
};

// A JSON-safe copy of a properties value (path: `at`), objects on null prototypes so that a key chosen by
// the input never reaches a setter or `__proto__` of Object.prototype; undefined for undefined (dropped, as
// JSON does). The depth limit also ends any cycle.
const clean = (w: Walk, v: unknown, depth: number): unknown => {
  const path = w.at_;
  const t = typeof v;
  const arr = Array.isArray(v);
  // A byte per value, one more per string character or array slot (keys count in `get`): never more than
  // the JSON, and it stops a 6 MB string, `new Array(1e9)` or a wide shared DAG before any copying.
  if ((w.n_ += 1 + (t == 'string' || arr ? (v as string).length : 0)) > LIMIT) tooBig(w);
  if (t != 'object' || !v) {
    // null, undefined, strings, booleans and finite numbers are JSON as they are (-0 + 0 is 0, as JSON sends it).
    if (t == 'number') return isFinite(v as number) ? (v as number) + 0 : fail(w, 'is not finite');
    // Of the typeof names only `string` and `boolean` occur in 'string boolean'; the rest: function, symbol, bigint.
    return v == null || 'string boolean'.includes(t) ? v : fail(w, `is a ${t}`);
  }
  // Date.prototype's getTime, not the instance's methods: a subclass could override toISOString with anything.
  if (v instanceof Date) return isFinite((v = Date.prototype.getTime.call(v))) ? new Date(v as number).toISOString() : fail(w, 'is an invalid date');
  if (!arr) plain(w, v);
  if (depth > 10) fail(w, 'is too deep');
  if (arr) {
    const r: unknown[] = [];
    // An index loop, not the array's own iterator or map, which the input could have replaced.
    for (let i = 0; i < (v as unknown[]).length; i++) {
      w.at_ = path + '.' + i;
      r.push(clean(w, (v as unknown[])[i], depth + 1) ?? null);
    }
    return r;
  }
  const r = Object.create(null) as Record<string, unknown>;
  for (const k of keys(v)) {
    const x = clean(w, get(w, v as Record<string, unknown>, k, path + '.'), depth + 1);
    if (x !== undefined) r[k] = x;
  }
  return r;
};

// The keys of a plain `input` into a new profile: named fields (modern or legacy `$` spelling) validated into their
// place, the rest into the custom properties. The profile and its location get only names from the tables above,
// never a key chosen by the input; `loc` and `custom` are made when something goes in.
function fields(w: Walk, input: Record<string, unknown>): Profile {
  const p: Record<string, unknown> = {};
  let loc: Record<string, unknown> | undefined;
  let custom: Record<string, unknown> | undefined;
  let props: Record<string, unknown> | undefined;
  for (const k of keys(input)) {
    let v = get(w, input, k, '');
    // Legacy spelling: `$` + the modern name (`$id` for external_id, NAMES[2]).
    const name = k == '$id' ? NAMES[2]! : k[0] == '$' ? k.slice(1) : k;
    const i = NAMES.indexOf(name);
    // Any other key is a custom property (legacy habit), as are `$location`, `$properties` and a location
    // field without `$` (`city`); its path is the key the caller wrote.
    if (i < 0 || (i > 9 && (name != k) == i < 12)) {
      v = clean(w, v, 1);
      if (v !== undefined) (custom ||= Object.create(null) as Record<string, unknown>)[k] = v;
    } else if (i < 10) put(w, p, v, i, name == k);
    else if (i > 11) loc = put(w, loc, v, i);
    else if (v != null) {
      // `location` or `properties`
      plain(w, v);
      if (i > 10) props = clean(w, v, 1) as Record<string, unknown>;
      else
        for (const f of keys(v)) {
          const x = get(w, v, f, k + '.');
          const j = NAMES.indexOf(f);
          if (j < 12) fail(w, 'is unknown');
          loc = put(w, loc, x, j, true);
        }
    }
  }
  // A key given both at the top level and inside `properties`: `properties` wins, being the explicit place.
  // `props` is ours (null prototype, own keys only), so `for in` sees just its keys; with no top-level custom
  // key it becomes `custom` itself (its first key copied onto itself), one object fewer per call.
  for (const k in props) (custom ||= props)[k] = props[k];
  if (loc) p.location = loc;
  if (custom) p.properties = custom;
  return p as Profile;
}

/** Validate and normalise identify props (modern and legacy `$` keys); the Profile or the first problem found.
 *  Never throws, whatever it is given. Objects under `properties` have null prototypes. */
export function normalizeProfile(input: unknown): Profile | Invalid {
  const w: Walk = { at_: 'props', n_: 0 };
  try {
    plain(w, input);
    const p = fields(w, input);
    // The exact size (UTF-8 bytes of the JSON, escapes included), only when it could matter. Each unit of `n_`
    // stands for at most 25 bytes of JSON (a character: 6, as `\u0000`; a number counted once: up to 24, as
    // -1.2345678901234567e+308), and the named fields are capped far below 64 KB.
    if (w.n_ * 25 + 65536 > LIMIT && new TextEncoder().encode(JSON.stringify(p)).length > LIMIT) tooBig(w);
    return p;
  } catch {
    return { field: w.at_, reason: w.why_ || 'throws when read' };
  }
}

/** True for the Invalid half of normalizeProfile's result (a Profile has no `reason`). */
export const isInvalid = (x: unknown): x is Invalid => typeof (x as Invalid | undefined)?.reason == 'string';

/** The identifiers of a profile (email, phone_number, external_id, anonymous_id, _kx, or only `fields`), only those set. */
export function identifiersOf(p: Profile, fields = ID_FIELDS): Identifiers {
  const ids: Identifiers = {};
  for (const k of fields) if (p[k]) ids[k] = p[k];
  return ids;
}
