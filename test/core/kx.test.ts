import { describe, expect, test } from 'vitest';
import { cookieString, kxFromKlaId, kxFromSearch, kxOf, readCookie, registrableDomain } from '../../src/core/kx';

const KX_ENC = 'J8fjcn003Wy6b-3ILNlOyZXabW6dcFwTyeuxrowMers%3D.McN66'; // the example of Klaviyo's OpenAPI spec
const KX = 'J8fjcn003Wy6b-3ILNlOyZXabW6dcFwTyeuxrowMers=.McN66';

// Klaviyo's `__kla_id` is base64 of a JSON object; btoa needs Latin-1, which JSON of ASCII is.
const klaId = (o: unknown) => btoa(JSON.stringify(o));

describe('kxOf', () => {
  test.each([
    [KX, KX],
    [KX_ENC, KX],
    ['abcdefghij.AbC12', 'abcdefghij.AbC12'], // no padding
    ['ab_cd-ef==.AbC123', 'ab_cd-ef==.AbC123'], // URL-safe alphabet, two pad chars
    ['abc%3D%3D.AbC123', 'abc==.AbC123'],
    ['a'.repeat(240) + '.AbC12345', 'a'.repeat(240) + '.AbC12345'], // 249 characters
    ['abcd.AbC12', 'abcd.AbC12'], // 10 characters: the shortest accepted
  ])('%s', (input, canonical) => {
    expect(kxOf(input)).toBe(canonical);
  });

  test.each([
    ['markup', '<img src=x onerror=alert(1)>.AbC123'],
    ['script in token', 'abc<script>.AbC123'],
    ['quote', 'abcdefgh".AbC123'],
    ['5 KB', 'a'.repeat(5000) + '.AbC123'],
    ['257 characters', 'a'.repeat(250) + '.AbC123'],
    ['too short (9)', 'abc.AbC12'],
    ['no company', 'abcdefghijklmnop'],
    ['company too short', 'abcdefghijkl.AbC1'],
    ['company too long', 'abcdefghijkl.AbC123456'],
    ['company not alphanumeric', 'abcdefghijkl.AbC_12'],
    ['three pad chars', 'abcdefghij===.AbC123'],
    ['padding inside', 'abc=defghij.AbC123'],
    ['standard base64 +/', 'abc+def/ghij.AbC123'],
    ['space', 'abc defghij.AbC123'],
    ['two dots', 'abcdefghij.AbC.123'],
    ['malformed escape', 'abcdefghij%E0%A4%A.AbC123'],
    ['double encoded stays encoded after one decode', 'abcdefghij%253D.AbC123'],
    ['newline', 'abcdefghij.AbC123\n'],
    ['empty', ''],
  ])('rejects %s', (_name, v) => {
    expect(kxOf(v)).toBeUndefined();
  });

  test.each([[undefined], [null], [42], [{ toString: () => KX }], [[KX]], [Symbol('kx')]])('rejects non-string %s', (v) => {
    expect(kxOf(v)).toBeUndefined();
  });
});

describe('kxFromSearch', () => {
  test('reads _kx from a query string, decoding %3D', () => {
    expect(kxFromSearch(`?utm_source=email&_kx=${KX_ENC}&x=1`)).toBe(KX);
    expect(kxFromSearch(`_kx=${KX_ENC}`)).toBe(KX);
  });

  test('a second layer of encoding is decoded once more', () => {
    expect(kxFromSearch(`?_kx=${encodeURIComponent(KX_ENC)}`)).toBe(KX);
  });

  test('the first _kx wins', () => expect(kxFromSearch(`?_kx=${KX_ENC}&_kx=other.AbC123`)).toBe(KX));

  test.each(['', '?', '?kx=abc', '?_kx=', `?_kx=%3Cscript%3Ealert(1)%3C/script%3E.AbC123`, `?_kx=${'a'.repeat(5000)}.AbC123`, '?_kx=%E0%A4%A', `?_kx_=${KX_ENC}`])(
    'undefined for %s',
    (search) => expect(kxFromSearch(search)).toBeUndefined(),
  );
});

describe('kxFromKlaId', () => {
  test('reads $exchange_id from base64 JSON', () => {
    expect(kxFromKlaId(klaId({ cid: 'ZmI1', $referrer: { ts: 1 }, $exchange_id: KX }))).toBe(KX);
  });

  test('URL-encoded cookie value and URL-safe alphabet', () => {
    const b64 = klaId({ $exchange_id: KX, cid: '>>>???' }); // `>>>???` forces + and / into the base64
    expect(b64).toMatch(/[+/]/);
    expect(kxFromKlaId(encodeURIComponent(b64))).toBe(KX);
    expect(kxFromKlaId(b64.replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, ''))).toBe(KX);
  });

  test('a percent-encoded exchange id inside the JSON is canonicalised', () => {
    expect(kxFromKlaId(klaId({ $exchange_id: KX_ENC }))).toBe(KX);
  });

  test.each([
    ['absent', undefined],
    ['empty', ''],
    ['not base64', '!!!not-base64!!!'],
    ['base64 of non-JSON', btoa('hello')],
    ['JSON without the key', klaId({ cid: 'x' })],
    ['JSON null', btoa('null')],
    ['JSON array', klaId([KX])],
    ['exchange id not a string', klaId({ $exchange_id: 12 })],
    ['hostile exchange id', klaId({ $exchange_id: '<script>alert(1)</script>' })],
    ['huge cookie', klaId({ $exchange_id: KX, pad: 'x'.repeat(9000) })],
    ['malformed escape', '%E0%A4%A'],
  ])('undefined for %s', (_name, v) => expect(kxFromKlaId(v)).toBeUndefined());

  test('an own __proto__ key in the JSON does not pollute', () => {
    expect(kxFromKlaId(btoa(`{"__proto__":{"polluted":1},"$exchange_id":"${KX}"}`))).toBe(KX);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});

describe('readCookie', () => {
  const jar = `a=1; __kla_id=eyJ4IjoxfQ%3D%3D; _kx=${encodeURIComponent(KX)};  spaced = v ; empty=; bad=%E0%A4%A`;

  test('finds a cookie and percent-decodes it', () => {
    expect(readCookie(jar, '_kx')).toBe(KX);
    expect(readCookie(jar, '__kla_id')).toBe('eyJ4IjoxfQ==');
    expect(readCookie(jar, 'a')).toBe('1');
    expect(readCookie(jar, 'spaced')).toBe('v');
    expect(readCookie(jar, 'empty')).toBe('');
  });

  test('malformed encoding is returned raw', () => expect(readCookie(jar, 'bad')).toBe('%E0%A4%A'));

  test('absent and prefix names are not matched', () => {
    expect(readCookie(jar, 'b')).toBeUndefined();
    expect(readCookie(jar, '_k')).toBeUndefined();
    expect(readCookie(jar, 'kla_id')).toBeUndefined();
    expect(readCookie('', '_kx')).toBeUndefined();
  });

  test('the first of two same-named cookies wins (most specific path first)', () => {
    expect(readCookie('_kx=first; _kx=second', '_kx')).toBe('first');
  });

  test('a value containing = is kept whole', () => expect(readCookie(`_kx=${KX}`, '_kx')).toBe(KX));
});

describe('cookieString', () => {
  test('https with a domain', () => {
    expect(cookieString('_kx', KX, { secure: true, domain: 'example.co.uk' })).toBe(
      `_kx=${encodeURIComponent(KX)}; path=/; max-age=31536000; domain=example.co.uk; SameSite=Lax; Secure`,
    );
  });

  test('http, no domain, custom max-age', () => {
    expect(cookieString('_kx', 'v', { secure: false, maxAgeDays: 2 })).toBe('_kx=v; path=/; max-age=172800; SameSite=Lax');
  });

  test('a domain that could inject attributes is dropped', () => {
    const s = cookieString('_kx', 'v', { secure: true, domain: 'evil.com; SameSite=None' });
    expect(s).toBe('_kx=v; path=/; max-age=31536000; SameSite=Lax; Secure');
  });

  test('the value cannot inject attributes', () => {
    const s = cookieString('_kx', 'v; domain=evil.com', { secure: false });
    expect(s.split(';')).toHaveLength(4);
    expect(readCookie(s.split(';')[0]!, '_kx')).toBe('v; domain=evil.com');
  });

  test('round trip through happy-dom document.cookie', () => {
    document.cookie = cookieString('_kx_test', KX, { secure: false });
    expect(readCookie(document.cookie, '_kx_test')).toBe(KX);
    // (Deletion by max-age=0 is not modelled by happy-dom; the Chromium tests of the cookie adapter cover it.)
  });
});

describe('registrableDomain', () => {
  test.each([
    ['example.com', 'example.com'],
    ['www.example.com', 'example.com'],
    ['a.b.shop.example.com', 'example.com'],
    ['shop.example.co.uk', 'example.co.uk'],
    ['example.co.uk', 'example.co.uk'],
    ['www.example.com.au', 'example.com.au'],
    ['shop.example.org.br', 'example.org.br'],
    ['store.example.de', 'example.de'],
    ['WWW.Example.COM.', 'example.com'],
    ['localhost', undefined],
    ['co.uk', undefined],
    ['127.0.0.1', undefined],
    ['10.0.0.255', undefined],
    ['[::1]', undefined],
    ['::1', undefined],
    ['', undefined],
    ['a..com', undefined],
    ['ab.de', undefined], // a 2-3 letter label under a ccTLD looks like a public suffix
    ['www.ab.de', 'www.ab.de'],
    ['1.2.3.4.', undefined],
    ['[2001:db8::1]', undefined],
    ['xn--80ak6aa92e.com', 'xn--80ak6aa92e.com'],
  ])('%s -> %s', (host, expected) => expect(registrableDomain(host)).toBe(expected));
});
