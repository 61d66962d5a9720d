import { describe, expect, it, vi } from 'vitest';
import { onLifecycle } from '../../src/browser/lifecycle';

/** The happy-dom window and document, with a settable visibilityState. */
const page = () => {
  let state: DocumentVisibilityState = 'visible';
  // Both views of the state, kept in step as browsers keep them.
  Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => state });
  Object.defineProperty(document, 'hidden', { configurable: true, get: () => state === 'hidden' });
  const setVisibility = (s: DocumentVisibilityState) => {
    state = s;
    document.dispatchEvent(new Event('visibilitychange'));
  };
  const fire = (type: string) => window.dispatchEvent(new Event(type));
  const onLeave = vi.fn();
  const onOnline = vi.fn();
  const off = onLifecycle({ win: window, doc: document }, { onLeave, onOnline });
  return { setVisibility, fire, onLeave, onOnline, off };
};

describe('onLifecycle', () => {
  it('calls onFreeze after onLeave when the page goes into the back/forward cache, and onThaw before onShow when it comes back', () => {
    const calls: string[] = [];
    const off = onLifecycle(
      { win: window, doc: document },
      { onLeave: () => calls.push('leave'), onOnline: () => {}, onShow: () => calls.push('show'), onFreeze: () => calls.push('freeze'), onThaw: () => calls.push('thaw') },
    );
    const transition = (type: string, persisted: boolean) => window.dispatchEvent(Object.assign(new Event(type), { persisted }));
    transition('pagehide', false); // an ordinary unload: not cached
    transition('pageshow', false);
    transition('pagehide', true);
    transition('pageshow', true);
    expect(calls).toEqual(['leave', 'show', 'leave', 'freeze', 'thaw', 'show']);
    off();
  });

  it('calls onLeave at once for a page that loads hidden (a background tab), and not again until shown', () => {
    Object.defineProperty(document, 'hidden', { configurable: true, get: () => true });
    const onLeave = vi.fn();
    const off = onLifecycle({ win: window, doc: document }, { onLeave, onOnline: vi.fn() });
    expect(onLeave).toHaveBeenCalledTimes(1);
    window.dispatchEvent(new Event('pagehide'));
    expect(onLeave).toHaveBeenCalledTimes(1);
    off();
    Object.defineProperty(document, 'hidden', { configurable: true, get: () => false });
  });

  it('calls onLeave once when Chrome fires visibilitychange to hidden then pagehide', () => {
    const p = page();
    p.setVisibility('hidden');
    expect(p.onLeave).toHaveBeenCalledTimes(1);
    p.fire('pagehide');
    expect(p.onLeave).toHaveBeenCalledTimes(1);
    p.off();
  });

  it('calls onLeave on pagehide alone (Safari), and not again on a late visibilitychange', () => {
    const p = page();
    p.fire('pagehide');
    expect(p.onLeave).toHaveBeenCalledTimes(1);
    p.setVisibility('hidden');
    expect(p.onLeave).toHaveBeenCalledTimes(1);
    p.off();
  });

  it('does not call onLeave when the page becomes visible', () => {
    const p = page();
    p.setVisibility('visible');
    expect(p.onLeave).not.toHaveBeenCalled();
    p.off();
  });

  it('calls onLeave again for each new hide after the page was visible or shown again', () => {
    const p = page();
    p.setVisibility('hidden');
    p.setVisibility('visible');
    p.setVisibility('hidden');
    expect(p.onLeave).toHaveBeenCalledTimes(2);
    // back/forward cache: pagehide, then restored with pageshow only.
    p.fire('pagehide');
    p.fire('pageshow');
    p.fire('pagehide');
    expect(p.onLeave).toHaveBeenCalledTimes(3);
    p.off();
  });

  it('calls onOnline on each online event, and nothing for offline', () => {
    const p = page();
    p.fire('offline');
    expect(p.onOnline).not.toHaveBeenCalled();
    p.fire('online');
    p.fire('online');
    expect(p.onOnline).toHaveBeenCalledTimes(2);
    expect(p.onLeave).not.toHaveBeenCalled();
    p.off();
  });

  it('stops listening after unsubscribe', () => {
    const p = page();
    p.off();
    p.setVisibility('hidden');
    p.fire('pagehide');
    p.fire('online');
    expect(p.onLeave).not.toHaveBeenCalled();
    expect(p.onOnline).not.toHaveBeenCalled();
  });
});
