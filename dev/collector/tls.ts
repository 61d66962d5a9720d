// A throwaway self-signed certificate for the collector's HTTP/2 mode: made by the `openssl` CLI when the collector
// starts, read into memory, and its directory deleted at once, so no key is ever left on disk (or committed), even
// when the process is killed. Browsers in the tests are told to accept it; node clients pass rejectUnauthorized:
// false or trust `collector.certificate`.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface Certificate {
  /** PEM of the private key (EC P-256). */
  key: string;
  /** PEM of the certificate: one day, CN = host, subjectAltName the host plus 127.0.0.1 and localhost. */
  cert: string;
}

/** Is `openssl` on the PATH? (The collector's HTTP/2 mode needs it; the tests skip that mode without it.) */
export function hasOpenssl(): boolean {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** A fresh key and self-signed certificate for `host` (an IP or a name). Throws with a one-line reason without openssl. */
export function selfSignedCertificate(host = '127.0.0.1'): Certificate {
  const dir = mkdtempSync(join(tmpdir(), 'klaviyo-collector-tls-'));
  try {
    const ip = /^[\d.]+$|:/.test(host);
    const names = new Set([`${ip ? 'IP' : 'DNS'}:${host}`, 'IP:127.0.0.1', 'DNS:localhost']);
    const key = join(dir, 'key.pem');
    const cert = join(dir, 'cert.pem');
    // prettier-ignore
    const args = ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
      '-subj', `/CN=${host}`, '-addext', `subjectAltName=${[...names].join(',')}`, '-keyout', key, '-out', cert];
    try {
      execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      const why = code === 'ENOENT' ? 'openssl is not installed (apt-get install -y openssl)' : String((err as { stderr?: Buffer }).stderr ?? '').trim() || (err as Error).message;
      throw new Error(`collector: cannot make a TLS certificate for HTTP/2: ${why}`);
    }
    return { key: readFileSync(key, 'utf8'), cert: readFileSync(cert, 'utf8') };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
