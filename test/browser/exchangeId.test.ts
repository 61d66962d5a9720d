import { describe, expect, it } from 'vitest';
import { exchangeId } from '../../src/browser/exchangeId';
import type { Config } from '../../src/core/types';

const KX = 'J8fjcn003Wy6b-3ILNlOyZXabW6dcFwTyeuxrowMers=.AbC123';
const cfg = (o: Partial<Config> = {}): Config => ({ apiHost: 'https://a.klaviyo.com', revision: '2023-01-24', debug: false, ...o });

/** A document.cookie that keeps name=value pairs and, like a browser, refuses a cookie for `refuse`. */
function jar(refuse?: string) {
  const kept = new Map<string, string>();
  const writes: string[] = [];
  return {
    writes,
    get cookie() {
      return [...kept].map(([k, v]) => `${k}=${v}`).join('; ');
    },
    set cookie(s: string) {
      writes.push(s);
      if (refuse && s.includes(`domain=${refuse}`)) return;
      const [pair] = s.split(';');
      const i = pair!.indexOf('=');
      kept.set(pair!.slice(0, i), pair!.slice(i + 1));
    },
  };
}
const loc = (search: string, hostname = 'shop.example.com', protocol = 'https:') => ({ search, hostname, protocol });

describe('exchangeId', () => {
  it('takes a valid _kx from the URL and keeps it in a first-party cookie on the registrable domain', () => {
    const doc = jar();
    const info: unknown[] = [];
    expect(exchangeId(loc('?_kx=' + encodeURIComponent(KX)), doc, cfg(), { info: (m) => info.push(m) })).toBe(KX);
    expect(doc.writes).toHaveLength(1);
    expect(doc.writes[0]).toMatch(/^_kx=.+; path=\/; max-age=31536000; domain=example\.com; SameSite=Lax; Secure$/); // a year
    expect(info).toEqual([]); // a valid id is taken quietly
  });

  it('keeps the cookie on the host when the browser refuses the guessed domain (a public suffix)', () => {
    const doc = jar('github.io');
    expect(exchangeId(loc('?_kx=' + encodeURIComponent(KX), 'me.github.io'), doc, cfg(), { info() {} })).toBe(KX);
    expect(doc.writes).toHaveLength(2);
    expect(doc.writes[1]).not.toContain('domain=');
    expect(doc.cookie).toContain('_kx=');
  });

  it('ignores an invalid _kx: a debug message without the value, nothing written', () => {
    const bad = '<img src=x onerror=alert(1)>';
    for (const debug of [false, true]) {
      const doc = jar();
      const info: string[] = [];
      expect(exchangeId(loc('?_kx=' + encodeURIComponent(bad)), doc, cfg({ debug }), { info: (m: string) => info.push(m) })).toBeUndefined();
      expect(doc.writes).toEqual([]);
      expect(info).toHaveLength(debug ? 1 : 0);
      expect(info.join()).not.toContain('img');
    }
  });

  it('falls back to our cookie, then to Klaviyo\'s __kla_id', () => {
    const ours = jar();
    ours.cookie = '_kx=' + encodeURIComponent(KX);
    expect(exchangeId(loc(''), ours, cfg(), { info() {} })).toBe(KX);
    const theirs = jar();
    theirs.cookie = '__kla_id=' + encodeURIComponent(btoa(JSON.stringify({ $exchange_id: KX, cid: 'x' })));
    expect(exchangeId(loc(''), theirs, cfg(), { info() {} })).toBe(KX);
    expect(exchangeId(loc(''), jar(), cfg(), { info() {} })).toBeUndefined();
    // Written by other code with one more encoding layer: read as the exchange id itself.
    const twice = jar();
    twice.cookie = '_kx=' + encodeURIComponent(encodeURIComponent(KX));
    expect(exchangeId(loc(''), twice, cfg(), { info() {} })).toBe(KX);
  });

  it('returns nothing, and throws nothing, where document.cookie throws (sandboxed frame)', () => {
    const doc = {
      get cookie(): string {
        throw new DOMException('sandboxed', 'SecurityError');
      },
      set cookie(_v: string) {
        throw new DOMException('sandboxed', 'SecurityError');
      },
    };
    expect(exchangeId(loc('?_kx=' + encodeURIComponent(KX)), doc, cfg(), { info() {} })).toBeUndefined();
  });
});
