// @vitest-environment node
// What `npm pack` would publish (issue 15): only what a user needs (dist/, README, LICENSE, package.json), the CDN
// fields pointing at the IIFE a page loads, and types that resolve for a TypeScript site, both the module's and the
// `window._klaviyo` global's. The site is type-checked against a copy of the packed files only, installed the way
// npm would (node_modules/klaviyo-snippet), so a type that leans on a file left out of the package fails here.
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '..');
const TSC = join(ROOT, 'node_modules/typescript/bin/tsc');

// The package's contents depend on the build: make it if it is not there (npm test builds first anyway).
if (!existsSync(join(ROOT, 'dist/types/global.d.ts'))) execFileSync(process.execPath, ['build.mjs'], { cwd: ROOT, stdio: 'inherit' });

/** The files `npm pack` would put in the tarball. */
function packedFiles(): string[] {
  const out = execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: ROOT, encoding: 'utf8' });
  return (JSON.parse(out) as { files: { path: string }[] }[])[0]!.files.map((f) => f.path).sort();
}

/** A TypeScript site using the package: the module's functions, and pushes typed by the global. */
const SITE = `/// <reference types="klaviyo-snippet/global" />
import { identify, type Profile } from 'klaviyo-snippet';

const who: Profile = { email: 'sarah@example.com', first_name: 'Sarah' };
void identify({ ...who });

window._klaviyo.push(['identify', { email: 'sarah@example.com', properties: { plan: 'pro' } }]);
_klaviyo.push(['account', 'AbC123'], ['config', { apiHost: 'https://a.example.com', debug: false }]);
// Klaviyo's legacy keys go through as they do at run time.
_klaviyo.push(['identify', { $email: 'sarah@example.com', $city: 'Boston' }]);
const durable: Promise<void> = window._klaviyo.identify({ email: 'sarah@example.com' });
void durable;
const queued: number | undefined = window._klaviyo.stats?.().queued;
void queued;

// @ts-expect-error: an email is a string
window._klaviyo.push(['identify', { email: 5 }]);
// @ts-expect-error: there is no such command
window._klaviyo.push(['track', { event: 'x' }]);
// @ts-expect-error: config takes the tracker's settings, typed
window._klaviyo.push(['config', { debug: 'yes' }]);
`;

let dir: string;
let files: string[];

beforeAll(() => {
  files = packedFiles();
  dir = mkdtempSync(join(tmpdir(), 'klaviyo-pack-'));
  for (const f of files) {
    const to = join(dir, 'node_modules/klaviyo-snippet', f);
    mkdirSync(dirname(to), { recursive: true });
    cpSync(join(ROOT, f), to);
  }
  writeFileSync(join(dir, 'site.ts'), SITE);
}, 60_000);
afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('npm pack', () => {
  it('lists only dist/, README.md, LICENSE and package.json, with the bundle, the module and the types', () => {
    expect(files.filter((f) => !/^(dist\/.+|README\.md|LICENSE|package\.json)$/.test(f))).toEqual([]);
    expect(files).toEqual(expect.arrayContaining(['LICENSE', 'README.md', 'dist/klaviyo.js', 'dist/klaviyo.mjs', 'dist/klaviyo.d.ts', 'dist/types/global.d.ts', 'dist/snippet.html']));
  });

  it('points unpkg and jsdelivr at the IIFE, and every entry of package.json at a packed file', () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
    expect(pkg.unpkg).toBe('./dist/klaviyo.js');
    expect(pkg.jsdelivr).toBe('./dist/klaviyo.js');
    const entries = [pkg.main, pkg.module, pkg.types, pkg.unpkg, pkg.jsdelivr, ...Object.values(pkg.exports).flatMap((e) => Object.values(e as object))];
    expect(entries.map((p: string) => p.replace(/^\.\//, '')).filter((p) => !files.includes(p))).toEqual([]);
  });

  // Bundler resolution (package.json exports) and the older node10 resolution (typesVersions) both find the types.
  it.each(['bundler', 'node10'])('types resolve for a TypeScript site (moduleResolution %s), the global typing its pushes', (resolution) => {
    const tsconfig = {
      compilerOptions: {
        target: 'ES2020',
        module: resolution === 'bundler' ? 'ESNext' : 'CommonJS',
        moduleResolution: resolution,
        lib: ['ES2022', 'DOM'],
        strict: true,
        noEmit: true,
        types: [],
        // The package's own .d.ts files are checked too (no skipLibCheck): they must stand alone.
        skipLibCheck: false,
      },
      files: ['site.ts'],
    };
    writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify(tsconfig));
    let out = '';
    try {
      out = execFileSync(process.execPath, [TSC, '-p', dir], { encoding: 'utf8' });
    } catch (err) {
      out = String((err as { stdout?: string }).stdout ?? err);
    }
    expect(out).toBe('');
  }, 60_000);
});
