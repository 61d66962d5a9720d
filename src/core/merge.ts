// Who an update belongs to, and how queued updates of one person fold into one request.
// Pure: the delivery loop passes the queue, the time and the people with a request in flight.
import type { Identifiers, Profile, QueueItem } from './types';
import { unsafeKey } from './payload';

/** Identifier kinds, strongest first: the first one present names the person (`_kx` last: personKeys relies on it). */
const KINDS = ['external_id', 'email', 'phone_number', 'anonymous_id', '_kx'] as const;

/** Every identifier of a profile as `kind:value`, strongest first (e.g. `['email:a@b.co', 'phone_number:+1…']`).
 *  `_kx` counts only when it is the sole identifier: it belongs to the browser and rides along on every
 *  update, so as a key it would make everyone identified in that browser one person, sent one at a time. */
export const personKeys = (p: Identifiers): string[] => {
  // `_kx` comes last in KINDS, so it is first only when it is the sole identifier.
  return KINDS.filter((k) => p[k])
    .filter((k, i) => k != '_kx' || i == 0)
    .map((k) => k + ':' + p[k]);
};

/** Copy src's own defined values into target, skipping unsafe keys; with `deep`, objects (`location`,
 *  `properties`: a Profile has no other) are folded one level deeper. Returns target. */
const fold = (target: Record<string, any>, src: Record<string, any> | null, deep?: boolean): Record<string, any> => {
  // (src ?? {}): a tampered stored item may hold `properties: null`. Object.keys: own keys only.
  for (const k of Object.keys(src ?? {})) {
    const v = src![k];
    // Nested objects are folded into the target's own (created here on first sight), so a result
    // never shares an object with its inputs and a batch can fold item after item in place.
    if (v !== undefined && !unsafeKey(k)) target[k] = deep && typeof v == 'object' ? fold(target[k] ?? {}, v) : v;
  }
  return target;
};

/** Fold a later update into an earlier one: field by field the later value wins; `location` and `properties` merged key by key. Pure, returns a new object, prototype-safe. */
export const mergeProfiles = (earlier: Profile, later: Profile): Profile => fold(fold({}, earlier, true), later, true);

/** One planned request: the merged update of one person's queued items. Times are ms since epoch. */
export interface Batch {
  /** Every identifier of the merged profile (personKeys, the person's key first): add all of them to `busy` while
   *  in flight. */
  keys: string[];
  /** Queue item ids, oldest first: delete them on 2xx, reschedule them otherwise. */
  ids: string[];
  profile: Profile;
  /** Attempts and createdAt of the batch's newest item: the answer's verdict (attempts used up, too old) is taken
   *  for it, so a fresh update never goes down with an old one it was merged with. The older items ride along
   *  (their fields are in the request anyway) and the TTL sweep drops one that is too old on its own. */
  attempts: number;
  createdAt: number;
}

/**
 * Group queued items (oldest first) into at most one request per person, in the order of each person's
 * oldest item. Items sharing any identifier are one person (an `email` update and a later
 * `external_id + email` one must not race). An item is held back for a later round, and with it every
 * later item of its person (the last identify must win), when: its notBefore is after `now`, one of its
 * identifiers is in `busy`, it names another value for an identifier the batch already has, its company
 * or revision differs, or merging would make the profile's JSON exceed `maxBytes` (UTF-8 bytes; a
 * batch's first item is always taken). One pass with Maps; it stops at `limit` batches, so that a long queue
 * is planned a slice at a time (the rest of a planned person's items then go in a later round, in order).
 */
export const planBatches = (items: QueueItem[], now: number, busy: ReadonlySet<string>, maxBytes = Infinity, limit = Infinity): Batch[] => {
  const batches: Batch[] = [];
  const owner = new Map<string, Batch>(); // identifier -> the batch that claims it
  const held = new Set<string>(); // identifiers of the people held back this round: their later items wait too
  // The batches items may still join: their first item (company, revision), an upper bound of their JSON bytes.
  const open = new Map<Batch | undefined, { first_: QueueItem; bytes_: number }>();
  // Measured only under a byte cap (the page is hiding): otherwise every plan would measure every item for nothing.
  const size = (p: Profile) => (maxBytes < Infinity ? new TextEncoder().encode(JSON.stringify(p)).length : 0);

  /** Whether item `it` (of JSON size `bytes`) may join batch `b` of its person. */
  const joins = (b: Batch, it: QueueItem, bytes: number): boolean => {
    const m = open.get(b);
    const p = it.profile;
    const q = b.profile;
    // A closed batch, or a solo item (it joins no batch).
    if (!m || it.solo || m.first_.company !== it.company || m.first_.revision !== it.revision) return false;
    if (KINDS.some((k) => q[k] && p[k] && q[k] !== p[k])) return false;
    // A merge's JSON is never larger than its two parts', so a sum is a safe bound without copying the batch
    // for every item; once the sum is over, measure the batch itself before giving up.
    if (m.bytes_ + bytes > maxBytes) m.bytes_ = size(q);
    return m.bytes_ + bytes <= maxBytes;
  };

  /** Fold item `it` (of JSON size `bytes`) into batch `b` of its person, or into a new batch; claim the batch's
   *  identifiers. */
  const add = (b: Batch | undefined, it: QueueItem, bytes: number) => {
    if (!b) {
      // keys, attempts and createdAt are set below.
      b = { ids: [] as string[], profile: {} } as Batch;
      batches.push(b);
      open.set(b, { first_: it, bytes_: 0 });
    }
    open.get(b)!.bytes_ += bytes;
    fold(b.profile, it.profile, true);
    b.ids.push(it.id);
    // Items come oldest first (ids sort by createdAt): the last one's counters are the newest item's.
    b.attempts = it.attempts;
    b.createdAt = it.createdAt;
    // Nothing joins a solo item's batch, and the rest of its person waits for it.
    if (it.solo) open.delete(b);
    // A new identifier (say external_id after email) may join a batch: claim it.
    b.keys = personKeys(b.profile);
    for (const k of b.keys) owner.set(k, b);
  };

  for (const it of items) {
    const keys = personKeys(it.profile);
    const bytes = size(it.profile);
    let b: Batch | undefined;
    let wait = it.notBefore > now;
    for (const k of keys) {
      const o = owner.get(k);
      // Busy or held back, or a second claimant (this item would join two people: it waits until both are sent).
      if (busy.has(k) || held.has(k) || (o && b && b !== o)) wait = true;
      else b = o || b;
    }
    if (wait || (b && !joins(b, it, bytes))) {
      // Close every batch this item touches, so the rest of each person involved waits too.
      for (const k of keys) {
        open.delete(owner.get(k));
        held.add(k);
      }
    } else if (b || batches.length < limit) add(b, it, bytes);
    else break;
  }
  return batches;
};
