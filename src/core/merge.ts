// Who an update belongs to, and how queued updates of one person fold into one request.
// Pure: the delivery loop passes the queue, the time and the people with a request in flight.
import type { Identifiers, Profile, QueueItem } from './types';

/** Identifier kinds, strongest first: the first one present names the person. */
const KINDS = ['external_id', 'email', 'phone_number', 'anonymous_id', '_kx'] as const;
/** Keys that must never reach an object the tracker builds (prototype pollution). */
const UNSAFE = /^(__proto__|constructor|prototype)$/;

/** Every identifier of a profile as `kind:value`, strongest first (e.g. `['email:a@b.co', '_kx:…']`). */
export function personKeys(p: Identifiers): string[] {
  return KINDS.filter((k) => p[k]).map((k) => k + ':' + p[k]);
}

/** The person an update belongs to: the first of external_id, email, phone_number, anonymous_id, _kx as `kind:value`; '' when none. */
export function personKey(p: Identifiers): string {
  return personKeys(p)[0] ?? '';
}

/** Copy src's own defined values into target, skipping unsafe keys; `location`/`properties` one level deeper. */
function fold<T extends object>(target: T, src: object | undefined, deep?: boolean): T {
  const t = target as Record<string, unknown>;
  // for-in over own keys: about 3x faster than Object.entries here, which matters for 10 000 items.
  for (const k in src) {
    const v = (src as Record<string, unknown>)[k];
    if (v === undefined || !Object.prototype.hasOwnProperty.call(src, k) || UNSAFE.test(k)) continue;
    // Nested objects are folded into the target's own (created here on first sight), so a result
    // never shares an object with its inputs and a batch can fold item after item in place.
    t[k] = deep && (k === 'location' || k === 'properties') ? fold((t[k] as object) ?? {}, v as object) : v;
  }
  return target;
}

/** Fold a later update into an earlier one: field by field the later value wins; `location` and `properties` merged key by key. Pure, returns a new object, prototype-safe. */
export function mergeProfiles(earlier: Profile, later: Profile): Profile {
  return fold(fold({}, earlier, true), later, true) as Profile;
}

/** One planned request: the merged update of one person's queued items. Times are ms since epoch. */
export interface Batch {
  /** personKey of the merged profile. */
  key: string;
  /** Every identifier of the merged profile (personKeys): add all of them to `busy` while in flight. */
  keys: string[];
  /** Queue item ids, oldest first: delete them on 2xx, reschedule them otherwise. */
  ids: string[];
  profile: Profile;
  /** Largest attempts of the items. */
  attempts: number;
  /** Oldest createdAt of the items: the TTL counts from here. */
  createdAt: number;
  /** Latest notBefore of the items. */
  notBefore: number;
}

/**
 * Group queued items (oldest first) into at most one request per person, in the order of each person's
 * oldest item. Items sharing any identifier are one person (an `email` update and a later
 * `external_id + email` one must not race). An item is held back for a later round, and with it every
 * later item of its person (the last identify must win), when: its notBefore is after `now`, one of its
 * identifiers is in `busy`, it names another value for an identifier the batch already has, its company
 * or revision differs, or merging would make the profile's JSON exceed `maxBytes` (UTF-8 bytes; a
 * batch's first item is always taken). One pass with Maps: fine for 10 000 items.
 */
export function planBatches(items: QueueItem[], now: number, busy: ReadonlySet<string>, maxBytes?: number): Batch[] {
  const batches: Batch[] = [];
  // Identifier -> the open batch that claims it, or null once that person is held back this round.
  const owner = new Map<string, Batch | null>();
  // Per batch: its first item (company, revision) and an upper bound of its profile's JSON bytes.
  const meta = new Map<Batch, { first: QueueItem; bytes: number }>();
  const utf8 = new TextEncoder();
  const size = (p: Profile) => (maxBytes === undefined ? 0 : utf8.encode(JSON.stringify(p)).length);
  for (const it of items) {
    const keys = personKeys(it.profile);
    const refs = new Set<Batch>();
    let held = it.notBefore > now;
    for (const k of keys) {
      const o = owner.get(k);
      if (o === null || busy.has(k)) held = true;
      else if (o) refs.add(o);
    }
    // Two batches claim this item's identifiers: it would join two people; wait until both are sent.
    if (refs.size > 1) held = true;
    const [b] = refs;
    const bytes = size(it.profile);
    if (b && !held) {
      const m = meta.get(b)!;
      held =
        m.first.company !== it.company ||
        m.first.revision !== it.revision ||
        KINDS.some((k) => b.profile[k] && it.profile[k] && b.profile[k] !== it.profile[k]);
      // A merge's JSON is never larger than its two parts', so a sum is a safe bound without copying
      // the batch for every item; once the sum is over, measure the batch itself before giving up.
      if (!held && maxBytes !== undefined) {
        if (m.bytes + bytes > maxBytes) m.bytes = size(b.profile);
        held = (m.bytes += bytes) > maxBytes;
      }
    }
    if (held) {
      for (const r of refs) for (const k of r.keys) owner.set(k, null);
      for (const k of keys) owner.set(k, null);
    } else if (b) {
      fold(b.profile, it.profile, true);
      b.ids.push(it.id);
      b.attempts = Math.max(b.attempts, it.attempts);
      b.createdAt = Math.min(b.createdAt, it.createdAt);
      b.notBefore = Math.max(b.notBefore, it.notBefore);
      // A new identifier (say external_id after email) joins the batch: claim it, rename the batch.
      if (keys.some((k) => owner.get(k) !== b)) {
        b.keys = personKeys(b.profile);
        b.key = b.keys[0] ?? '';
        for (const k of b.keys) owner.set(k, b);
      }
    } else {
      const n: Batch = {
        key: keys[0] ?? '',
        keys,
        ids: [it.id],
        profile: mergeProfiles({}, it.profile),
        attempts: it.attempts,
        createdAt: it.createdAt,
        notBefore: it.notBefore,
      };
      batches.push(n);
      meta.set(n, { first: it, bytes });
      for (const k of keys) owner.set(k, n);
    }
  }
  return batches;
}
