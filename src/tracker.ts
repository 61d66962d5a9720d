// The tracker: commands in, durable queue items out. Pure of the browser: everything it touches
// (clock, randomness, storage, network, locks, console) arrives in `env`, so unit tests run it
// on a memory store and a fake fetch, and the browser entry wires the real ones.
import type { Config, Profile, QueueItem } from './core/types';
import { isInvalid, normalizeProfile } from './core/payload';
import { createIdentity, type IdentityEnv } from './identity';
import { dispatch } from './core/dispatch';
import { createDelivery, type DeliveryEnv } from './delivery/delivery';

/** Everything the tracker touches: the delivery's clock, storage, network and locks, and where identities come from. */
export interface TrackerEnv extends DeliveryEnv, IdentityEnv {}

/** Known config keys: a pattern for strings, else the typeof the value must have. A null-prototype table (a
 *  `__proto__` key in a literal sets the prototype), so `__proto__` and `toString` are not known options. */
const OPTIONS: Record<string, RegExp | string | null | undefined> = {
  __proto__: null,
  apiHost: /^https?:\/\/[^/?#\s]+\/?$/,
  revision: /^\d{4}-\d\d-\d\d(\.\w+)?$/,
  cookieDomain: /^\.?[\w.-]+$/,
  debug: 'boolean',
  onError: 'function',
};
const ERR = '[klaviyo] ';

/** Build a tracker; nothing happens until commands arrive. */
export function createTracker(env: TrackerEnv) {
  const cfg: Config = { apiHost: 'https://a.klaviyo.com', revision: '2023-01-24', debug: false };
  let company: string | undefined;
  /** identify calls made before any company id is known, validated: queued once `account` arrives. */
  const waiting: Array<[Profile, () => void, (e: unknown) => void]> = [];
  /** The current task's items and the promise of their one write. */
  let batch: QueueItem[] | undefined;
  let written: Promise<void>;
  let seq = 0;
  /** Tells this tab's ids from another's written in the same millisecond (ids sort by time, then call order). */
  const tab = env.random().toString(36).slice(2, 6);
  const delivery = createDelivery(env, cfg);
  const stats = delivery.stats;
  const who = createIdentity(env, cfg);

  const fail = (msg: string): Promise<never> => {
    msg = ERR + msg;
    env.log.error(msg);
    stats.dropped.invalid++;
    return Promise.reject(new Error(msg));
  };

  // account and config act at once: they return their failure, or nothing.
  function account(id: unknown): Promise<never> | void {
    // `[^\W_]` is [A-Za-z0-9] (a word character but `_`), spelled as in the exchange id's pattern (core/kx.ts).
    if (typeof id !== 'string' || !/^[^\W_]{6}$/.test(id)) return fail('account: company id must be 6 letters or digits');
    if (company === id) return;
    // The open batch's identity is the old company's: saved under its key now; later calls open a new batch.
    if (batch) who.save_(company!);
    batch = undefined;
    company = id;
    who.reset_();
    delivery.setCompany(id);
    for (const [profile, ok, ko] of waiting.splice(0)) queue(profile).then(ok, ko);
  }

  function config(opts: unknown): Promise<never> | void {
    if (!opts || typeof opts !== 'object' || Array.isArray(opts)) return fail('config: expected an object');
    const o = opts as Record<string, unknown>;
    for (const key of Object.keys(o)) {
      const rule = OPTIONS[key];
      const v = o[key];
      if (!rule) return fail(`config: ${key} is not a known option`);
      if (typeof rule === 'string' ? typeof v !== rule : typeof v !== 'string' || !rule.test(v)) return fail(`config: ${key} is not valid`);
    }
    // Only keys found in OPTIONS (a null-prototype table) get here: `__proto__` never reaches cfg.
    for (const key of Object.keys(o)) (cfg as unknown as Record<string, unknown>)[key] = key === 'apiHost' ? (o[key] as string).replace(/\/$/, '') : o[key];
    if (o.revision) delivery.revised();
  }

  /** Validate, then queue durably; resolves when the update is in storage. */
  function identify(props: unknown): Promise<void> {
    const profile = normalizeProfile(props);
    return isInvalid(profile) ? fail(`identify: ${profile.field} ${profile.reason}`) : queue(profile);
  }

  /** Attach identity and `_kx` to a valid profile and queue it (held until a company id is known, then settled by
   *  the write it joins). What was validated is what goes: a caller that changes its object afterwards changes
   *  nothing queued. */
  function queue(profile: Profile): Promise<void> {
    if (!company) return new Promise((ok, ko) => waiting.push([profile, ok, ko]));
    if (!who.fill_(profile, company)) return fail('identify: needs an identifier (email, phone_number, external_id, anonymous_id or _kx)');
    if (cfg.debug) env.log.info(ERR + 'identify', profile);
    stats.queued++;
    const now = env.now();
    // Every call made in one task lands in one write: the first call of a task opens a batch and a microtask
    // commits it; all calls of the batch share its promise.
    if (!batch) {
      const items: QueueItem[] = (batch = []);
      const c = company;
      written = Promise.resolve().then(() => {
        batch = undefined;
        if (c == company) who.save_(c);
        return delivery.add(items);
      });
    }
    batch.push({
      id: now.toString(36).padStart(9, '0') + (seq++).toString(36).padStart(6, '0') + tab,
      company,
      revision: cfg.revision,
      profile,
      createdAt: now,
      attempts: 0,
      notBefore: 0,
    });
    return written;
  }

  return {
    /** Run one pushed command; never throws (errors go to the console and the returned promise). */
    run: (cmd: unknown) => dispatch(cmd, { identify, account, config }, fail),
    identify,
    readKx: who.readKx,
    company: () => company,
    // The delivery's, but add and setCompany: nothing outside may queue unvalidated items or switch company.
    flush: delivery.flush, leave: delivery.leave, resume: delivery.resume, online: delivery.online, remote: delivery.remote,
    stats: (): typeof stats => JSON.parse(JSON.stringify(stats)),
    config: cfg,
  };
}

export type Tracker = ReturnType<typeof createTracker>;
