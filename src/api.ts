// The ESM entry (dist/klaviyo.mjs) for bundler users: the same tracker, created on first use.
import { browserTracker } from './browser/browserTracker';
import { hasKxParam } from './core/kx';
import type { Tracker } from './tracker';

export type { Config, Drop, Profile, Location, Identifiers } from './core/types';

let tracker: Tracker | undefined;
// Created lazily so importing the module has no side effects (and works in SSR until first use).
const t = () => (tracker ??= browserTracker(window, document));

/** Set the public API key (company id, 6 characters). A `_kx` in the page's URL is kept (in its cookie) from
 *  here on, as the IIFE does at load; in a microtask, so that a `config` made in the same task (the cookie's
 *  domain may depend on it) applies, whichever came first. */
export const account = (companyId: string): Promise<unknown> => {
  const done = t().run(['account', companyId]);
  if (hasKxParam(location.search)) queueMicrotask(() => t().readKx());
  return done;
};
/** Change settings: `apiHost`, `revision`, `cookieDomain`, `debug`, `onError`. */
export const config = (options: Record<string, unknown>): Promise<unknown> => t().run(['config', options]);
/** Validate and queue a profile update; resolves once it is durable, rejects on bad input. */
export const identify = (props: Record<string, unknown>): Promise<void> => t().identify(props);
/** Resolves when the queue is empty or only holds items waiting on a retry. */
export const flush = (): Promise<void> => t().flush();
/** Counters: queued, sent, retried, merged, dropped by reason. */
export const stats = () => t().stats();
