// Each person's merged state, as Klaviyo would hold it after the accepted requests in arrival order.

import type { ProfileState } from './types';

type Obj = Record<string, unknown>;
const obj = (v: unknown): Obj | undefined => (typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Obj) : undefined);
const ATTRIBUTE_IDS = ['email', 'phone_number', 'external_id', 'anonymous_id', '_kx'];
const META_IDS = [...ATTRIBUTE_IDS, 'id'];

/** The identifiers of a body: attributes' identifier fields, then meta.identifiers (2023-01-24). */
export function identifiersOf(body: unknown): Record<string, string> {
  const data = obj(obj(body)?.data);
  const out: Record<string, string> = {};
  const take = (from: Obj | undefined, fields: string[]) => {
    for (const f of fields) if (typeof from?.[f] === 'string' && from[f] !== '') out[f] = from[f] as string;
  };
  take(obj(data?.attributes), ATTRIBUTE_IDS);
  take(obj(obj(data?.meta)?.identifiers), META_IDS);
  return out;
}

/** Per states list: each `company\0field\0value` to the states holding it now (a linear search per request made
 *  the collector itself the bottleneck of a 1500-request burst: O(n²), seconds of CPU), and each state's place. */
const indexes = new WeakMap<ProfileState[], Map<string, Set<ProfileState>>>();
const ORDER = new WeakMap<ProfileState, number>();

/**
 * Merge one accepted body into `states` (mutated; returns the person's state). The person is the
 * first known state of the company sharing any identifier value; otherwise a new one. `states` starts empty
 * and is filled only here.
 */
export function mergeProfile(states: ProfileState[], company: string, body: unknown, seq: number): ProfileState {
  const ids = identifiersOf(body);
  const key = (c: string, f: string, v: string) => `${c}\0${f}\0${v}`;
  // One index per list, built up as this function fills it (the collector starts and resets with an empty list).
  let index = indexes.get(states);
  if (!index) indexes.set(states, (index = new Map()));
  const holders = (k: string) => index!.get(k) ?? index!.set(k, new Set()).get(k)!;
  let state: ProfileState | undefined;
  for (const [f, v] of Object.entries(ids))
    for (const s of index.get(key(company, f, v)) ?? []) if (!state || ORDER.get(s)! < ORDER.get(state)!) state = s;
  if (!state) {
    const [field, value] = Object.entries(ids)[0] ?? ['seq', String(seq)];
    state = { key: `${company}:${field}:${value}`, company, identifiers: {}, attributes: {}, updates: 0, lastSeq: seq };
    ORDER.set(state, states.push(state) - 1);
  }
  // The state now holds these values, and no longer the ones they replace.
  for (const [f, v] of Object.entries(ids)) {
    const old = state.identifiers[f];
    if (old !== undefined && old !== v) index.get(key(company, f, old))?.delete(state);
    holders(key(company, f, v)).add(state);
  }
  Object.assign(state.identifiers, ids);
  const data = obj(obj(body)?.data);
  for (const [k, v] of Object.entries(obj(data?.attributes) ?? {})) {
    if (v === null) delete state.attributes[k];
    // location and properties change key by key, as in Klaviyo: a later update keeps earlier keys.
    else if ((k === 'location' || k === 'properties') && obj(v)) state.attributes[k] = mergeKeys(obj(state.attributes[k]), obj(v)!);
    else state.attributes[k] = v;
  }
  applyPatch(state, obj(obj(data?.meta)?.patch_properties));
  state.updates += 1;
  state.lastSeq = seq;
  return state;
}

/** `next` over `prev` key by key; a null value removes the key. */
function mergeKeys(prev: Obj | undefined, next: Obj): Obj {
  const out: Obj = { ...prev };
  for (const [k, v] of Object.entries(next)) if (v === null) delete out[k]; else out[k] = v;
  return out;
}

/** meta.patch_properties (2023-09-15 on): append / unappend values to array properties, unset keys. */
function applyPatch(state: ProfileState, patch: Obj | undefined): void {
  if (!patch) return;
  const props: Obj = { ...obj(state.attributes.properties) };
  const list = (v: unknown) => (Array.isArray(v) ? v : v === undefined ? [] : [v]);
  for (const [k, v] of Object.entries(obj(patch.append) ?? {})) props[k] = [...list(props[k]), ...list(v)];
  for (const [k, v] of Object.entries(obj(patch.unappend) ?? {})) props[k] = list(props[k]).filter((x) => !list(v).includes(x));
  for (const k of list(patch.unset)) if (typeof k === 'string') delete props[k];
  state.attributes.properties = props;
}
