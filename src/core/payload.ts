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
const TOO_BIG = 'makes the body over 5 MB';
const NOT_PLAIN = 'is not a plain object';

// Every name in one split string (shorter in the bundle than an array of literals): the Profile's string
// fields (0-9), `location` and `properties` (10, 11), then the location fields (12+).
const NAMES = 'email phone_number external_id anonymous_id _kx first_name last_name organization title image location properties address1 address2 city country latitude longitude region zip timezone'.split(' ');
/** The Profile's top-level fields in wire order (DESIGN §4): identifiers first, `_kx` last of them. */
export const FIELDS = NAMES.slice(0, 12) as (keyof Profile)[];
/** The identifier fields (a constant: identifiersOf runs on every identify). */
const ID_FIELDS = NAMES.slice(0, 5) as (keyof Identifiers)[];

const proto = Object.getPrototypeOf;
// A plain object: prototype Object.prototype (of any realm) or null. Primitives, arrays, Dates, Maps and class
// instances all have a prototype whose own prototype is not null.
const isPlain = (v: unknown): v is Record<string, unknown> => v != null && (!(v = proto(v)) || !proto(v));

/** Validate and normalise identify props (modern and legacy `$` keys); the Profile or the first problem found.
 *  Never throws, whatever it is given. Objects under `properties` have null prototypes. */
export function normalizeProfile(input: unknown): Profile | Invalid {
  // This call's state: `at` is the path being read (set before each read, so a getter or Proxy trap that
  // throws is named), `why` the reason of a failure of ours, `n` a lower bound of the JSON bytes of the
  // custom properties.
  let at = 'props';
  let why = '';
  let n = 0;
  // A declaration, not an arrow: TypeScript narrows after a call only to a declared `never` function.
  function fail(reason: string, field = at): never {
    at = field;
    why = reason;
    throw 0; // caught once below; what the caller's code throws leaves `why` empty
  }

  // Each own enumerable key of `o` (path `pre` + key), refusing the keys that could reach a prototype.
  const each = (o: Record<string, unknown>, f: (k: string, v: unknown) => void, pre = at + '.') => {
    for (const k of Object.keys(o)) {
      at = pre + k;
      n += k.length;
      if (/^(__proto__|constructor|prototype)$/.test(k)) fail('is not allowed');
      f(k, o[k]);
    }
  };

  // One named field into `t`: modern spellings overwrite, legacy ones only fill a gap.
  const put = (t: Record<string, unknown>, name: string, v: unknown, modern?: boolean) => {
    if (typeof v == 'string') v = v.trim();
    if (v == null || v === '') return;
    if (/tude$/.test(name)) {
      const max = name[1] == 'a' ? 90 : 180;
      if (typeof v == 'string') v = +v;
      // `!(x <= max)` is also true for NaN.
      if (typeof v != 'number' || !(Math.abs(v) <= max)) fail(`must be in [-${max}, ${max}]`);
      v = (v as number) + 0; // -0 + 0 is 0: JSON sends -0 as 0, and the stored profile must equal what is sent
    } else {
      if (typeof v != 'string') return fail('must be a string');
      // Caps in characters, after trim; a phone number is capped before its separators go, E.164 bounds it after.
      const cap = name == 'email' ? 100 : name == 'image' ? 2048 : 255;
      if (v.length > cap) fail(`is too long (max ${cap})`);
      if (name == 'email' && !/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(v)) fail('must be an email address'); // wording pinned by e2e/security.test.ts
      // Phone: `+1 (500) 555-0006` is the same number as `+15005550006`.
      if (name == 'phone_number' && !/^\+[1-9]\d{1,14}$/.test((v = v.replace(/[\s().-]/g, '')))) fail('is not E.164');
      if (name == '_kx') v = kxOf(v) ?? fail('is not an exchange id');
    }
    if (modern || t[name] === undefined) t[name] = v;
  };

  // A JSON-safe copy of a properties value (path: `at`), objects on null prototypes so that a key chosen by
  // the input never reaches a setter or `__proto__` of Object.prototype; undefined for undefined (dropped, as
  // JSON does). The depth limit also ends any cycle.
  const clean = (v: unknown, depth: number): unknown => {
    const path = at;
    const t = typeof v;
    const arr = Array.isArray(v);
    // A byte per value, one more per string character or array slot (keys count in `each`): never more than
    // the JSON, and it stops a 6 MB string, `new Array(1e9)` or a wide shared DAG before any copying.
    if ((n += 1 + (t == 'string' || arr ? (v as string).length : 0)) > LIMIT) fail(TOO_BIG, 'properties');
    if (t != 'object' || !v) {
      // null, undefined, strings, booleans and finite numbers are JSON as they are (-0 + 0 is 0, as JSON sends it).
      if (t == 'number') return isFinite(v as number) ? (v as number) + 0 : fail('is not finite');
      // Of the typeof names only `string` and `boolean` occur in 'string boolean'; the rest: function, symbol, bigint.
      return v == null || 'string boolean'.includes(t) ? v : fail(`is a ${t}`);
    }
    // Date.prototype's getTime, not the instance's methods: a subclass could override toISOString with anything.
    if (v instanceof Date) return isFinite((v = Date.prototype.getTime.call(v))) ? new Date(v as number).toISOString() : fail('is an invalid date');
    if (!arr && !isPlain(v)) fail(NOT_PLAIN);
    if (depth > 10) fail('is too deep');
    if (arr) {
      const r: unknown[] = [];
      // An index loop, not the array's own iterator or map, which the input could have replaced.
      for (let i = 0; i < (v as unknown[]).length; i++) (at = path + '.' + i), r.push(clean((v as unknown[])[i], depth + 1) ?? null);
      return r;
    }
    const r = Object.create(null) as Record<string, unknown>;
    each(v as Record<string, unknown>, (k, x) => (x = clean(x, depth + 1)) !== undefined && (r[k] = x));
    return r;
  };

  try {
    if (!isPlain(input)) fail(NOT_PLAIN);
    // Profile and location get only names from the tables above, never a key chosen by the input.
    const p: Record<string, unknown> = {};
    const loc: Record<string, unknown> = {};
    const custom = Object.create(null) as Record<string, unknown>;
    let props: unknown;
    each(
      input,
      (k, v) => {
        // Legacy spelling: `$` + the modern name (`$id` for external_id).
        const name = k == '$id' ? 'external_id' : k[0] == '$' ? k.slice(1) : k;
        const i = NAMES.indexOf(name);
        // Any other key is a custom property (legacy habit), as are `$location`, `$properties` and a location
        // field without `$` (`city`); its path is the key the caller wrote.
        if (i < 0 || (i > 9 && (name != k) == i < 12)) (v = clean(v, 1)) !== undefined && (custom[k] = v);
        else if (i < 10) put(p, name, v, name == k);
        else if (i > 11) put(loc, name, v);
        else if (v != null) {
          // `location` or `properties`
          if (!isPlain(v)) fail(NOT_PLAIN);
          if (i > 10) props = clean(v, 1);
          else each(v, (f, x) => (NAMES.indexOf(f) > 11 ? put(loc, f, x, true) : fail('is unknown')));
        }
      },
      '',
    );
    // A key given both at the top level and inside `properties`: `properties` wins, being the explicit place.
    Object.assign(custom, props);
    if (Object.keys(loc).length) p.location = loc;
    if (Object.keys(custom).length) p.properties = custom;
    // The exact size (UTF-8 bytes of the JSON, escapes included), only when it could matter. Each unit of `n`
    // stands for at most 25 bytes of JSON (a character: 6, as `\u0000`; a number counted once: up to 24, as
    // -1.2345678901234567e+308), and the named fields are capped far below 64 KB. Measuring every call cost
    // ~8 µs each, the largest part of identify's time in a 10 000-call loop.
    if (n * 25 + 65536 > LIMIT && new TextEncoder().encode(JSON.stringify(p)).length > LIMIT) fail(TOO_BIG, 'properties');
    return p as Profile;
  } catch {
    // `why` is set by fail(); anything else is a getter or Proxy trap of the caller's that threw.
    return { field: at, reason: why || 'throws when read' };
  }
}

/** True for the Invalid half of normalizeProfile's result (a Profile has no `reason`). */
export const isInvalid = (x: unknown): x is Invalid => typeof (x as Invalid | undefined)?.reason == 'string';

/** The identifiers of a profile (email, phone_number, external_id, anonymous_id, _kx), only those set. */
export function identifiersOf(p: Profile): Identifiers {
  const ids: Identifiers = {};
  for (const k of ID_FIELDS) if (p[k]) ids[k] = p[k];
  return ids;
}
