// @vitest-environment node
// The shape of src/ (issue 14): no import circle, no closure over 120 lines, no function over 40 lines of its own.
// Each check lists every offender in one failure; the checker itself is tried on small sources first, so that a
// checker that finds nothing cannot pass for a clean src/.
import { describe, expect, it } from 'vitest';
import { MAX_OWN, MAX_SPAN, functionSizes, importCycles, readSources, sizeViolations } from './support/structure';

/** A function `name` of exactly `lines` lines whose body is plain statements. */
const fn = (name: string, lines: number, indent = '') =>
  [`${indent}function ${name}() {`, ...Array.from({ length: lines - 2 }, (_, i) => `${indent}  f(${i});`), `${indent}}`].join('\n');

/** A factory of `lines` lines made of inner functions of 39 lines each, so only its span can be over a limit. */
const factory = (lines: number) => {
  const inner = Array.from({ length: Math.floor((lines - 2) / 39) }, (_, i) => fn(`step${i}`, 39, '  '));
  const rest = lines - 2 - inner.length * 39;
  return ['export function make() {', ...inner, ...Array.from({ length: rest }, () => '  g();'), '}'].join('\n');
};

describe('the structure checker', () => {
  it('finds an import circle through import, export ... from and import type, naming its files in order', () => {
    const cycles = importCycles({
      'src/a.ts': "import { b } from './store/b';\nexport const a = b;",
      'src/store/b.ts': "export { c as b } from '../core/c';",
      'src/core/c.ts': "import type { A } from '../a';\nexport const c = 1 as unknown as A;",
    });
    expect(cycles).toEqual(['src/a.ts -> src/store/b.ts -> src/core/c.ts -> src/a.ts']);
  });

  it('finds circles through dynamic imports, index files, .js specifiers and a file importing itself', () => {
    expect(importCycles({ 'src/a.ts': "export const load = () => import('./d');", 'src/d/index.ts': "import '../a.js';" })).toEqual([
      'src/a.ts -> src/d/index.ts -> src/a.ts',
    ]);
    expect(importCycles({ 'src/s.ts': "export type T = import('./s').U; export type U = 1;" })).toEqual(['src/s.ts -> src/s.ts']);
  });

  it('names every file of a knot larger than its shortest circle', () => {
    const cycles = importCycles({ 'a.ts': "import './b';", 'b.ts': "import './a';\nimport './c';", 'c.ts': "import './a';" });
    expect(cycles).toEqual(['a.ts -> b.ts -> a.ts (files that import one another: a.ts, b.ts, c.ts)']);
  });

  it('finds no circle in a diamond, and ignores packages and files it was not given', () => {
    const cycles = importCycles({
      'a.ts': "import './b';\nimport './c';\nimport 'idb-keyval';",
      'b.ts': "import './d';",
      'c.ts': "import './d';\nimport '../elsewhere';",
      'd.ts': 'export {};',
    });
    expect(cycles).toEqual([]);
  });

  it(`finds a function of ${MAX_OWN + 1} lines and passes one of ${MAX_OWN}, leading comments not counted`, () => {
    const text = [`/** A doc comment\n *  above it. */`, fn('ok', MAX_OWN), fn('big', MAX_OWN + 1)].join('\n');
    expect(functionSizes('f.ts', text).map((f) => [f.name, f.line, f.span, f.own])).toEqual([
      ['ok', 3, 40, 40],
      ['big', 43, 41, 41],
    ]);
    expect(sizeViolations({ 'f.ts': text })).toEqual(['f.ts:43 big 41/41 (own > 40)']);
  });

  it(`finds a factory of ${MAX_SPAN + 1} lines made of small functions, and passes one of ${MAX_SPAN}`, () => {
    const sizes = functionSizes('f.ts', factory(MAX_SPAN + 1));
    expect(sizes[0]).toEqual({ file: 'f.ts', line: 1, name: 'make', span: 121, own: 4 });
    expect(sizes.slice(1).every((f) => f.span == 39 && f.own == 39)).toBe(true);
    expect(sizeViolations({ 'f.ts': factory(MAX_SPAN + 1) })).toEqual(['f.ts:1 make 121/4 (span > 120)']);
    expect(sizeViolations({ 'f.ts': factory(MAX_SPAN) })).toEqual([]);
  });

  it('measures arrows, function expressions, methods, getters, setters and constructors, comments included', () => {
    const body = (n: number) => Array.from({ length: n }, (_, i) => (i % 2 ? '  // a comment' : '  f();')).join('\n');
    const text = [
      `const arrow = async (x: number) => {\n${body(1)}\n};`,
      `const expr = function () {\n${body(2)}\n};`,
      `class K {\n  constructor() {\n${body(3)}\n  }\n  get g() {\n${body(4)}\n  }\n  set s(v: number) {\n${body(5)}\n  }\n  m() {\n${body(6)}\n  }\n}`,
      `const o = { p() {\n${body(7)}\n}, q: () => 1 };`,
      `[1].map((x) => {\n${body(8)}\n});`,
    ].join('\n');
    expect(functionSizes('f.ts', text).map((f) => `${f.name}:${f.line}:${f.span}`)).toEqual([
      'arrow:1:3', 'expr:4:4', 'constructor:9:5', 'g:14:6', 's:20:7', 'm:27:8', 'p:36:9', 'q:44:1', 'map callback:45:10',
    ]);
  });

  it("takes nested functions' lines off their parent's own, a line shared by two of them once", () => {
    const text = `function outer() {\n  const a = () => [1].map((x) => x).filter((y) => y);\n${fn('inner', 5, '  ')}\n  return a;\n}`;
    const sizes = functionSizes('f.ts', text);
    expect(sizes.map((f) => [f.name, f.span, f.own])).toEqual([
      ['outer', 9, 3],
      ['a', 1, 0],
      ['map callback', 1, 1],
      ['filter callback', 1, 1],
      ['inner', 5, 5],
    ]);
  });
});

describe('src/', () => {
  const src = readSources('src');

  it('is what the checks read: every .ts file under src/, with its functions', () => {
    expect(Object.keys(src)).toEqual(expect.arrayContaining(['src/index.ts', 'src/tracker.ts', 'src/core/types.ts', 'src/store/idbStore.ts']));
    expect(Object.entries(src).flatMap(([file, text]) => functionSizes(file, text)).length).toBeGreaterThan(100);
  });

  it('has no import circle (import, import type, export ... from, import())', () => {
    const cycles = importCycles(src);
    expect(cycles, `${cycles.length} import circle(s) in src/:\n${cycles.join('\n')}\n`).toEqual([]);
  });

  it(`has no closure over ${MAX_SPAN} lines and no function over ${MAX_OWN} lines of its own`, () => {
    const found = sizeViolations(src);
    expect(found, `${found.length} function(s) too long (file:line name span/own):\n${found.join('\n')}\n`).toEqual([]);
  });
});
