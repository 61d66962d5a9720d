// The tracker inside a page, as a test reads it: waiting for the bundle to take over the stub, stats(), flush().
import type { Page } from './engines';
import { until } from './wait';

/** What `_klaviyo.stats()` returns (README). */
export interface TrackerStats {
  queued: number;
  sent: number;
  retried: number;
  merged: number;
  dropped: { invalid: number; client: number; attempts: number; ttl: number; cap: number };
}

/** Wait until the page's bundle has taken over the stub (`_klaviyo.loaded`, its methods in place); an evaluate that
 *  fails meanwhile (a navigation under way) counts as not yet. */
export const bundleLoaded = (page: Page, timeoutMs?: number): Promise<unknown> =>
  until(() => page.evaluate(() => (window as any)._klaviyo?.loaded === true && typeof (window as any)._klaviyo.stats === 'function').catch(() => false), {
    timeoutMs,
    describe: () => 'bundle not loaded',
  });

/** The page's `_klaviyo.stats()`. */
export const trackerStats = (page: Page): Promise<TrackerStats> => page.evaluate(() => (window as any)._klaviyo.stats() as TrackerStats);

/** `_klaviyo.flush()` in the page: resolves when its queue is empty (or waits only on retries). */
export const flushTracker = (page: Page): Promise<unknown> => page.evaluate(() => (window as any)._klaviyo.flush());

/** Tab i identifies `each` people (`tab<i>-<n>@example.com`) in one task; every tab's calls are sent before any is
 *  awaited, so the tabs start together (in WebKit the session runs the scripts a few ms apart). */
export const identifyInTabs = (pages: Page[], each: number): Promise<unknown> =>
  Promise.all(
    pages.map((p, tab) =>
      p.evaluate(
        ({ tab, each }) => {
          const k = (window as any)._klaviyo;
          for (let i = 0; i < each; i++) k.push(['identify', { email: `tab${tab}-${i}@example.com` }]);
        },
        { tab, each },
      ),
    ),
  );
