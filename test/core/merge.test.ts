import { describe, expect, it } from 'vitest';
import { mergeProfiles, personKeys, planBatches } from '../../src/core/merge';

/** The person an update belongs to: its strongest identifier as `kind:value`, '' when none. */
const personKey = (p: Parameters<typeof personKeys>[0]) => personKeys(p)[0] ?? '';
import type { Profile, QueueItem } from '../../src/core/types';

const NOW = 1_700_000_000_000;
const none = new Set<string>();
let seq = 0;

function item(profile: Profile, over: Partial<QueueItem> = {}): QueueItem {
  const n = ++seq;
  return {
    id: String(n).padStart(6, '0'),
    company: 'AbC123',
    revision: '2023-01-24',
    profile,
    createdAt: NOW - 10_000 + n,
    attempts: 0,
    notBefore: 0,
    ...over,
  };
}

describe('personKey', () => {
  it('takes the first of external_id, email, phone_number, anonymous_id, _kx, prefixed by its kind', () => {
    const all = { _kx: 'k', anonymous_id: 'a', phone_number: '+15005550006', email: 'e@x.co', external_id: '42' };
    expect(personKey(all)).toBe('external_id:42');
    expect(personKey({ ...all, external_id: undefined })).toBe('email:e@x.co');
    expect(personKey({ _kx: 'k', anonymous_id: 'a', phone_number: '+15005550006' })).toBe('phone_number:+15005550006');
    expect(personKey({ _kx: 'k', anonymous_id: 'a' })).toBe('anonymous_id:a');
    expect(personKey({ _kx: 'k' })).toBe('_kx:k');
    expect(personKey({})).toBe('');
  });

  it('keeps kinds apart: the same value as email and as external_id are different people', () => {
    expect(personKey({ email: 'x' })).not.toBe(personKey({ external_id: 'x' }));
  });

  it('personKeys lists every identifier, strongest first; _kx only when it is the only one', () => {
    expect(personKeys({ _kx: 'k', email: 'e@x.co', external_id: '42' })).toEqual(['external_id:42', 'email:e@x.co']);
    expect(personKeys({ _kx: 'k' })).toEqual(['_kx:k']);
  });

  it('people who share the browser\'s _kx are still planned side by side', () => {
    const items = ['a', 'b', 'c'].map((n, i) => ({
      id: String(i), company: 'AbC123', revision: '2023-01-24', createdAt: 0, attempts: 0, notBefore: 0,
      profile: { email: `${n}@x.co`, _kx: 'k' },
    }));
    expect(planBatches(items, 0, new Set()).map((b) => b.profile.email)).toEqual(['a@x.co', 'b@x.co', 'c@x.co']);
  });
});

describe('mergeProfiles', () => {
  it('lets the later value win field by field and keeps fields only the earlier has', () => {
    const earlier: Profile = { email: 'e@x.co', first_name: 'Ann', title: 'CTO' };
    const later: Profile = { email: 'e@x.co', first_name: 'Anna', last_name: 'Lee' };
    expect(mergeProfiles(earlier, later)).toEqual({ email: 'e@x.co', first_name: 'Anna', last_name: 'Lee', title: 'CTO' });
  });

  it('merges properties key by key (nested values are replaced whole, like the server does)', () => {
    const merged = mergeProfiles(
      { email: 'e@x.co', properties: { plan: 'free', seats: 1, prefs: { a: 1, b: 2 } } },
      { email: 'e@x.co', properties: { plan: 'pro', prefs: { c: 3 }, cleared: null } },
    );
    expect(merged.properties).toEqual({ plan: 'pro', seats: 1, prefs: { c: 3 }, cleared: null });
  });

  it('merges location key by key', () => {
    const merged = mergeProfiles(
      { email: 'e@x.co', location: { city: 'Boston', zip: '02110', latitude: 42.36 } },
      { email: 'e@x.co', location: { city: 'Cambridge', region: 'MA' } },
    );
    expect(merged.location).toEqual({ city: 'Cambridge', zip: '02110', latitude: 42.36, region: 'MA' });
  });

  it('ignores undefined values in the later update', () => {
    expect(mergeProfiles({ email: 'e@x.co', title: 'CTO' }, { email: 'e@x.co', title: undefined })).toEqual({
      email: 'e@x.co',
      title: 'CTO',
    });
  });

  it('is pure: returns new objects, shares no nested object with its inputs, mutates nothing', () => {
    const earlier: Profile = { email: 'e@x.co', location: { city: 'A' }, properties: { a: 1 } };
    const later: Profile = { email: 'e@x.co', properties: { b: 2 } };
    const before = JSON.stringify([earlier, later]);
    const merged = mergeProfiles(earlier, later);
    expect(JSON.stringify([earlier, later])).toBe(before);
    expect(merged).not.toBe(earlier);
    expect(merged.location).not.toBe(earlier.location);
    expect(merged.properties).not.toBe(earlier.properties);
    expect(merged.properties).not.toBe(later.properties);
    merged.location!.city = 'changed';
    expect(earlier.location!.city).toBe('A');
  });

  it('is prototype-safe: __proto__, constructor and prototype keys never reach the result', () => {
    // JSON.parse makes "__proto__" an own key, as a structured clone from IndexedDB can.
    const evil = JSON.parse(
      '{"email":"e@x.co","__proto__":{"polluted":true},"constructor":{"prototype":{"polluted":true}},' +
        '"properties":{"__proto__":{"polluted":true},"prototype":1,"ok":1},"location":{"__proto__":{"polluted":true},"city":"X"}}',
    ) as Profile;
    const merged = mergeProfiles({ email: 'e@x.co', properties: { a: 1 } }, evil);
    const again = mergeProfiles(evil, {});
    for (const p of [merged, again]) {
      expect(Object.getPrototypeOf(p)).toBe(Object.prototype);
      expect(Object.getPrototypeOf(p.properties)).toBe(Object.prototype);
      expect(Object.getPrototypeOf(p.location)).toBe(Object.prototype);
      expect(Object.keys(p)).not.toContain('__proto__');
      expect(Object.keys(p)).not.toContain('constructor');
      expect(Object.keys(p.properties!)).toEqual(expect.not.arrayContaining(['__proto__', 'prototype']));
      expect(Object.keys(p.location!)).not.toContain('__proto__');
      expect((p as Record<string, unknown>).polluted).toBeUndefined();
    }
    expect(merged.properties).toEqual({ a: 1, ok: 1 });
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});

describe('planBatches', () => {
  it('merges the updates of one person, in order, into one batch', () => {
    const items = [1, 2, 3].map((n) => item({ email: 'e@x.co', properties: { n, [`k${n}`]: true } }));
    items[1]!.attempts = 4;
    items[2]!.notBefore = NOW - 5;
    const [batch, ...rest] = planBatches(items, NOW, none);
    expect(rest).toEqual([]);
    expect(batch).toEqual({
      keys: ['email:e@x.co'],
      ids: items.map((i) => i.id),
      profile: { email: 'e@x.co', properties: { n: 3, k1: true, k2: true, k3: true } },
      // The newest item's: the verdict on the answer is taken for it.
      attempts: 0,
      createdAt: items[2]!.createdAt,
    });
  });

  it('keeps people apart and orders batches by each person\'s oldest item', () => {
    const items = [
      item({ email: 'b@x.co', first_name: 'B1' }),
      item({ email: 'a@x.co', first_name: 'A1' }),
      item({ email: 'b@x.co', first_name: 'B2' }),
      item({ phone_number: '+15005550006', first_name: 'P' }),
    ];
    const batches = planBatches(items, NOW, none);
    expect(batches.map((b) => [b.keys[0], b.ids, b.profile.first_name])).toEqual([
      ['email:b@x.co', [items[0]!.id, items[2]!.id], 'B2'],
      ['email:a@x.co', [items[1]!.id], 'A1'],
      ['phone_number:+15005550006', [items[3]!.id], 'P'],
    ]);
  });

  it('holds a newer item back while an older item of the same person waits on backoff', () => {
    const old = item({ email: 'e@x.co', properties: { n: 1 } }, { notBefore: NOW + 4000, attempts: 2 });
    const newer = item({ email: 'e@x.co', properties: { n: 2 } });
    const other = item({ email: 'o@x.co' });
    expect(planBatches([old, newer, other], NOW, none).map((b) => b.ids)).toEqual([[other.id]]);
    // Once the backoff has passed, both go together and the later value wins.
    const [batch] = planBatches([old, newer, other], NOW + 4000, none);
    expect(batch).toMatchObject({ ids: [old.id, newer.id], profile: { properties: { n: 2 } }, attempts: 0, createdAt: newer.createdAt });
  });

  it('sends a solo item alone, and holds the rest of its person back until it is done', () => {
    const before = item({ email: 'e@x.co', first_name: 'A' });
    const solo = { ...item({ email: 'e@x.co', last_name: 'B' }), solo: true };
    const after = item({ email: 'e@x.co', title: 'C' });
    const other = item({ email: 'o@x.co' });
    // The person's earlier item goes first, on its own; the solo one waits its turn.
    expect(planBatches([before, solo, after, other], NOW, none).map((b) => b.ids)).toEqual([[before.id], [other.id]]);
    expect(planBatches([solo, after, other], NOW, none).map((b) => b.ids)).toEqual([[solo.id], [other.id]]);
    expect(planBatches([after, other], NOW, none).map((b) => b.ids)).toEqual([[after.id], [other.id]]);
  });

  it('stops at `limit` batches: held-back people do not count, and later items wait for a later round', () => {
    const items = [
      item({ email: 'a@x.co', properties: { n: 1 } }),
      item({ email: 'late@x.co' }, { notBefore: NOW + 1 }),
      item({ email: 'b@x.co' }),
      item({ email: 'a@x.co', properties: { n: 2 } }),
      item({ email: 'c@x.co' }),
      item({ email: 'a@x.co', properties: { n: 3 } }),
    ];
    // a (merging its second item), b; the plan ends at c, so a's third item is not folded in (it goes later).
    expect(planBatches(items, NOW, none, Infinity, 2).map((x) => x.ids)).toEqual([[items[0]!.id, items[3]!.id], [items[2]!.id]]);
    expect(planBatches(items, NOW, none).map((x) => x.ids)).toEqual([[items[0]!.id, items[3]!.id, items[5]!.id], [items[2]!.id], [items[4]!.id]]);
  });

  it('sends older items of a person but holds back everything after one waiting on backoff', () => {
    const a = item({ email: 'e@x.co', properties: { n: 1 } });
    const b = item({ email: 'e@x.co', properties: { n: 2 } }, { notBefore: NOW + 1 });
    const c = item({ email: 'e@x.co', properties: { n: 3 } });
    expect(planBatches([a, b, c], NOW, none).map((x) => x.ids)).toEqual([[a.id]]);
  });

  it('skips people with a request in flight, and all of their later items', () => {
    const items = [item({ email: 'busy@x.co' }), item({ email: 'free@x.co' }), item({ email: 'busy@x.co', title: 'x' })];
    const batches = planBatches(items, NOW, new Set(['email:busy@x.co']));
    expect(batches.map((b) => b.keys[0])).toEqual(['email:free@x.co']);
  });

  it('treats items that share any identifier as one person, so an identity upgrade cannot race', () => {
    const anon = item({ email: 'e@x.co', first_name: 'Old' });
    const known = item({ external_id: '42', email: 'e@x.co', first_name: 'New' });
    const [batch, ...rest] = planBatches([anon, known], NOW, none);
    expect(rest).toEqual([]);
    expect(batch).toMatchObject({
      keys: ['external_id:42', 'email:e@x.co'],
      ids: [anon.id, known.id],
      profile: { external_id: '42', email: 'e@x.co', first_name: 'New' },
    });
    // In flight under its strongest key only, a later email-only update of the same person still waits.
    const later = item({ email: 'e@x.co', first_name: 'Newest' });
    expect(planBatches([later], NOW, new Set(batch!.keys))).toEqual([]);
  });

  it('does not merge two people who share a weak identifier, and keeps their order', () => {
    const a = item({ anonymous_id: 'device', email: 'a@x.co', first_name: 'A' });
    const b = item({ anonymous_id: 'device', email: 'b@x.co', first_name: 'B' });
    const a2 = item({ email: 'a@x.co', first_name: 'A2' });
    const batches = planBatches([a, b, a2], NOW, none);
    // b conflicts with a's email: it waits, and so does a2 (it must not overtake b on a's profile).
    expect(batches.map((x) => x.ids)).toEqual([[a.id]]);
    expect(planBatches([b, a2], NOW, none).map((x) => x.ids)).toEqual([[b.id], [a2.id]]);
  });

  it('holds an item that would join two batches (it links two identities) until both are sent', () => {
    const byEmail = item({ email: 'e@x.co', first_name: 'E' });
    const byId = item({ external_id: '42', first_name: 'I' });
    const both = item({ external_id: '42', email: 'e@x.co', first_name: 'Both' });
    const after = item({ email: 'e@x.co', first_name: 'After' });
    expect(planBatches([byEmail, byId, both, after], NOW, none).map((b) => [b.ids, b.profile.first_name])).toEqual([
      [[byEmail.id], 'E'],
      [[byId.id], 'I'],
    ]);
    // Next round, the linked identity gathers the rest in order.
    expect(planBatches([both, after], NOW, none).map((b) => [b.ids, b.profile.first_name])).toEqual([
      [[both.id, after.id], 'After'],
    ]);
  });

  it('never mixes companies or revisions in one request', () => {
    const a = item({ email: 'e@x.co' });
    const otherCompany = item({ email: 'e@x.co' }, { company: 'Other1' });
    const otherRevision = item({ email: 'e@x.co' }, { revision: '2024-10-15' });
    expect(planBatches([a, otherCompany], NOW, none).map((x) => x.ids)).toEqual([[a.id]]);
    expect(planBatches([a, otherRevision], NOW, none).map((x) => x.ids)).toEqual([[a.id]]);
    expect(planBatches([a, item({ email: 'e@x.co' })], NOW, none)[0]!.ids).toHaveLength(2);
  });

  it('plans 10 000 queued items of 100 people as 100 batches', () => {
    const items: QueueItem[] = [];
    for (let i = 0; i < 10_000; i++) {
      items.push(item({ email: `p${i % 100}@x.co`, first_name: `F${i}`, properties: { n: i, [`k${i % 7}`]: i } }));
    }
    const t0 = performance.now();
    const batches = planBatches(items, NOW, none);
    const ms = performance.now() - t0;
    expect(batches).toHaveLength(100);
    expect(batches[0]!.keys[0]).toBe('email:p0@x.co');
    expect(batches[99]!.keys[0]).toBe('email:p99@x.co');
    for (const [p, b] of batches.entries()) {
      expect(b.ids).toHaveLength(100);
      // The last item of person p is i = 9900 + p.
      expect(b.profile.first_name).toBe(`F${9900 + p}`);
      expect(b.profile.properties!.n).toBe(9900 + p);
    }
    console.log(`planBatches: 10 000 items / 100 people in ${ms.toFixed(1)} ms`);
  });

  it('stays linear when one person\'s properties keep growing (folds in place, no copy per item)', () => {
    const items = Array.from({ length: 10_000 }, (_, i) => item({ email: 'one@x.co', properties: { [`k${i}`]: i } }));
    const t0 = performance.now();
    const [batch, ...rest] = planBatches(items, NOW, none);
    const ms = performance.now() - t0;
    expect(rest).toEqual([]);
    expect(batch!.ids).toHaveLength(10_000);
    expect(Object.keys(batch!.profile.properties!)).toHaveLength(10_000);
    expect(batch!.profile.properties!.k9999).toBe(9999);
    console.log(`planBatches: 10 000 items / 1 person, 10 000 properties in ${ms.toFixed(1)} ms`);
    // Copying the merged profile for every item took over 30 s on the dev machine, folding in place
    // 0.1-0.3 s under heavy load: a bound far from both, so it only fails on a quadratic plan.
    expect(ms).toBeLessThan(10_000);
  });

  it('with maxBytes, stops merging into a batch before its JSON exceeds the limit', () => {
    const blob = 'x'.repeat(1000);
    const items = Array.from({ length: 10 }, (_, n) => item({ email: 'e@x.co', properties: { [`p${n}`]: blob } }));
    const other = item({ email: 'o@x.co' });
    const batches = planBatches([...items, other], NOW, none, 5000);
    expect(batches.map((b) => b.keys[0])).toEqual(['email:e@x.co', 'email:o@x.co']);
    const [big] = batches;
    expect(JSON.stringify(big!.profile).length).toBeLessThanOrEqual(5000);
    expect(big!.ids).toEqual(items.slice(0, 4).map((i) => i.id));
    // The rest waits, in order, for the next round.
    const next = planBatches(items.slice(4), NOW, none, 5000);
    expect(next[0]!.ids).toEqual(items.slice(4, 8).map((i) => i.id));
    // Without a limit they all go together.
    expect(planBatches(items, NOW, none)[0]!.ids).toHaveLength(10);
  });

  it('with maxBytes, keeps merging updates that overwrite the same fields (measures, not just sums)', () => {
    const items = Array.from({ length: 30 }, (_, n) => item({ email: 'e@x.co', properties: { n, note: 'x'.repeat(1000) } }));
    const [batch] = planBatches(items, NOW, none, 5000);
    expect(batch!.ids).toHaveLength(30);
    expect(batch!.profile.properties!.n).toBe(29);
  });

  it('with maxBytes, counts UTF-8 bytes, and always takes a batch\'s first item', () => {
    const euro = '€'.repeat(1000); // 3000 bytes in UTF-8, 1000 UTF-16 units
    const items = [0, 1].map((n) => item({ email: 'e@x.co', properties: { [`p${n}`]: euro } }));
    expect(planBatches(items, NOW, none, 5000)[0]!.ids).toEqual([items[0]!.id]);
    const huge = item({ email: 'h@x.co', properties: { blob: 'x'.repeat(10_000) } });
    expect(planBatches([huge], NOW, none, 5000).map((b) => b.ids)).toEqual([[huge.id]]);
  });

  it('does not mutate the queued items', () => {
    const items = [item({ email: 'e@x.co', properties: { a: 1 } }), item({ email: 'e@x.co', properties: { b: 2 } })];
    const before = JSON.stringify(items);
    const [batch] = planBatches(items, NOW, none);
    expect(JSON.stringify(items)).toBe(before);
    expect(batch!.profile.properties).not.toBe(items[0]!.profile.properties);
  });

  it('keeps prototype safety through planning', () => {
    const evil = JSON.parse('{"email":"e@x.co","__proto__":{"polluted":1},"properties":{"__proto__":{"polluted":1}}}') as Profile;
    const [batch] = planBatches([item(evil), item({ email: 'e@x.co' })], NOW, none);
    expect(Object.getPrototypeOf(batch!.profile)).toBe(Object.prototype);
    expect(Object.keys(batch!.profile)).not.toContain('__proto__');
    expect(Object.keys(batch!.profile.properties!)).toEqual([]);
  });
});
