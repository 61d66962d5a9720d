// The tracker: commands in, durable queue items out. Pure of the browser: everything it touches
// (clock, randomness, storage, network, locks, console) arrives in `env`, so unit tests run it
// on a memory store and a fake fetch, and the browser entry wires the real ones.
import type { Config, Identifiers, Profile, QueueItem } from './core/types';
import { PERSON_FIELDS, identifiersOf, isInvalid, normalizeProfile } from './core/payload';
import { createDelivery, type DeliveryEnv } from './delivery';

export interface TrackerEnv extends DeliveryEnv {
  /** The visitor's exchange id (URL or cookie), read once the config is known. */
  exchangeId(cfg: Config): string | undefined;
  /** Remembered identity per company (localStorage: never a cookie). */
  identity: { load(company: string): Identifiers | undefined; save(company: string, ids: Identifiers): void };
}

/** A command as pushed: `['identify', {...}]`; `p` carries the stub's promise settlers. */
export type Command = unknown[] & { p?: [(v?: unknown) => void, (e: unknown) => void] };

/** Known config keys: a pattern for strings, else the typeof the value must have. */
const OPTIONS: Record<string, RegExp | string | undefined> = {
  __proto__: null as never,
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
  // The tracker's state, all here (plain locals: the minifier shortens them, not object fields).
  let company: string | undefined;
  let identity: Identifiers | undefined;
  let loaded = false;
  let kx: string | undefined;
  let kxRead = false;
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

  const fail = (msg: string): Promise<never> => {
    env.log.error((msg = ERR + msg));
    stats.dropped.invalid++;
    return Promise.reject(new Error(msg));
  };

  /** Save the remembered identity of company `c`: its identifier fields only. */
  const remember = (c: string) => identity && env.identity.save(c, identifiersOf(identity, PERSON_FIELDS));

  // account and config act at once: they return their failure, or nothing (run() answers with a resolved promise).
  function account(id: unknown): Promise<never> | void {
    // `[^\W_]` is [A-Za-z0-9] (a word character but `_`), spelled as in the exchange id's pattern (core/kx.ts).
    if (typeof id !== 'string' || !/^[^\W_]{6}$/.test(id)) return fail('account: company id must be 6 letters or digits');
    if (company !== id) {
      // The open batch's identity is the old company's: saved under its key now; later calls open a new batch.
      if (batch) remember(company!);
      batch = undefined;
      company = id;
      identity = undefined; // read on the first identify: a page view that identifies nobody never touches localStorage
      loaded = false;
      delivery.setCompany(id);
      for (const [profile, ok, ko] of waiting.splice(0)) queue(profile).then(ok, ko);
    }
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

  // Read (and, from the URL, store) the exchange id once the page's config is known.
  function readKx() {
    if (!kxRead) (kxRead = true), (kx = env.exchangeId(cfg));
  }

  /** Validate, then queue durably; resolves when the update is in storage. */
  function identify(props: unknown): Promise<void> {
    const profile = normalizeProfile(props);
    return isInvalid(profile) ? fail(`identify: ${profile.field} ${profile.reason}`) : queue(profile);
  }

  /** Attach identity and `_kx` to a valid profile and queue it (held until a company id is known). What was
   *  validated is what goes: a caller that changes its object afterwards changes nothing queued. */
  function queue(profile: Profile): Promise<void> {
    // (Settled by the write it joins once `account` arrives, as a call made then would be.)
    if (!company) return new Promise((ok, ko) => waiting.push([profile, ok, ko]));
    readKx();
    if (!loaded) (loaded = true), (identity = env.identity.load(company));
    const known = identity;
    // A new identifier of a kind we already remember means another person (log-out, log-in):
    // start over from the new identifiers instead of mixing two people.
    const base = known && !PERSON_FIELDS.some((k) => profile[k] && known[k] && profile[k] !== known[k]) ? known : undefined;
    // The remembered identifiers filled in, in place: the profile is normalizeProfile's own new object (this runs
    // for every call of a 10 000-call loop: no copies, no `delete`).
    let any = false;
    for (const k of PERSON_FIELDS) {
      const v = profile[k] || base?.[k];
      if (v) (profile[k] = v), (any = true);
      // On any change, remembered in memory now (the profile itself: only its identifier fields are ever read;
      // `known` keeps the old identity for the rest of the loop), written to localStorage once per task (with the
      // batch): a loop of 1000 identifies for different people must not pay 1000 synchronous storage writes, nor
      // 1000 copies.
      if (v !== known?.[k]) identity = profile;
    }
    const x = profile._kx ?? kx;
    if (x) profile._kx = x;
    if (!any && !x) return fail('identify: needs an identifier (email, phone_number, external_id, anonymous_id or _kx)');
    const now = env.now();
    if (cfg.debug) env.log.info(ERR + 'identify', profile);
    stats.queued++;
    // Every call made in one task lands in one write: the first call of a task opens a batch and a
    // microtask commits it; all calls of the batch share its promise. Ids sort in call order.
    if (!batch) {
      const items: QueueItem[] = (batch = []);
      const c = company;
      written = Promise.resolve().then(() => {
        batch = undefined;
        if (c == company) remember(c);
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

  /** Run one pushed command; never throws (errors go to the console and the returned promise). */
  function run(cmd: unknown): Promise<unknown> {
    const c = cmd as Command;
    let out: Promise<unknown>;
    let p: Command['p'];
    try {
      if (!Array.isArray(c)) out = fail("push: expected an array like ['identify', {...}]");
      else {
        // The stub's settlers are read here, inside the try: a Proxy command may throw on any read.
        if (c.p) p = [c.p[0], c.p[1]];
        const [name, arg] = c;
        const label = JSON.stringify(typeof name === 'string' ? name.slice(0, 40) : typeof name);
        out =
          (c.length > 2 ? fail(`push: ${label} takes one argument`)
          : name === 'identify' ? identify(arg)
          : name === 'account' ? account(arg)
          : name === 'config' ? config(arg)
          : fail(`push: unknown command ${label}`)) || Promise.resolve();
      }
    } catch {
      // Last line of defence: a Proxy or getter that throws where validation did not look.
      out = fail('push: the command could not be read');
    }
    if (p) out.then(p[0], p[1]);
    else out.catch(() => {}); // push() has no caller to tell: the console error is the report
    return out;
  }

  return {
    run,
    identify,
    readKx,
    company: () => company,
    // flush, leave, resume, online and remote (another tab wrote items for this company) are the delivery's. The
    // spread brings its add and setCompany along too (fewer bytes than naming the five): the type leaves them out,
    // as nothing outside the tracker may queue unvalidated items or switch company behind its back.
    ...(delivery as Pick<typeof delivery, 'flush' | 'leave' | 'resume' | 'online' | 'remote'>),
    stats: (): typeof stats => JSON.parse(JSON.stringify(stats)),
    config: cfg,
  };
}

export type Tracker = ReturnType<typeof createTracker>;
