// Page.waitForURL for every engine, through evaluate: the document's own location and readyState, so a URL the
// engine reports for a navigation still pending (WebKit) is not taken for the page having landed. An evaluate
// that fails meanwhile (Chromium: "Execution context was destroyed" while a navigation is under way) is retried.
import type { Page } from './types';

export async function waitForURL(page: Pick<Page, 'evaluate'>, url: string | RegExp, timeoutMs = 15_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  let last = '';
  for (;;) {
    try {
      const [href, state] = await page.evaluate<[string, string]>('[location.href, document.readyState]');
      last = `${href} (${state})`;
      if (state === 'complete' && (typeof url === 'string' ? href === url : url.test(href))) return;
    } catch (e) {
      last = (e as Error).message;
    }
    if (Date.now() > end) throw new Error(`waitForURL(${url}) timed out; last: ${last}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
