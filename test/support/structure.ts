// The shape rules of issue 14, checked on source text with the TypeScript parser (no type checking, no new
// dependency): no import circle among the files given, no closure over 120 lines, no function over 40 lines of its own.
import { readdirSync, readFileSync } from 'node:fs';
import { posix } from 'node:path';
import ts from 'typescript';

/** Source files by path relative to the repository, with '/' separators: `{ 'src/a.ts': '...' }`. */
export type Sources = Record<string, string>;

/** The longest a function may be, nested functions included ("no closure over 120 lines"). */
export const MAX_SPAN = 120;
/** The longest a function may be, the lines of the functions nested directly in it excluded. */
export const MAX_OWN = 40;

/** Every .ts file under `dir` (relative to the working directory), read, keyed by its '/'-separated path. */
export function readSources(dir: string): Sources {
  const out: Sources = {};
  for (const e of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (!e.isFile() || !e.name.endsWith('.ts') || e.name.endsWith('.d.ts')) continue;
    const path = posix.join(e.parentPath.split('\\').join('/'), e.name);
    out[path] = readFileSync(path, 'utf8');
  }
  return out;
}

const parse = (path: string, text: string) => ts.createSourceFile(path, text, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);

/** Module specifiers a file names: imports and `import type`, `export ... from`, `import('...')` calls and types. */
function specifiers(sf: ts.SourceFile): string[] {
  const out: string[] = [];
  const visit = (n: ts.Node) => {
    if ((ts.isImportDeclaration(n) || ts.isExportDeclaration(n)) && n.moduleSpecifier && ts.isStringLiteral(n.moduleSpecifier)) out.push(n.moduleSpecifier.text);
    else if (ts.isImportEqualsDeclaration(n) && ts.isExternalModuleReference(n.moduleReference) && ts.isStringLiteral(n.moduleReference.expression)) out.push(n.moduleReference.expression.text);
    else if (ts.isCallExpression(n) && n.expression.kind == ts.SyntaxKind.ImportKeyword && n.arguments[0] && ts.isStringLiteral(n.arguments[0])) out.push(n.arguments[0].text);
    else if (ts.isImportTypeNode(n) && ts.isLiteralTypeNode(n.argument) && ts.isStringLiteral(n.argument.literal)) out.push(n.argument.literal.text);
    ts.forEachChild(n, visit);
  };
  visit(sf);
  return out;
}

/** The file among `sources` a relative specifier of `from` names (`./x`, `./x.ts`, `./x.js`, `./x/index.ts`). */
function resolve(from: string, spec: string, sources: Sources): string | undefined {
  if (!spec.startsWith('.')) return undefined;
  const base = posix.normalize(posix.join(posix.dirname(from), spec));
  const stem = base.replace(/\.(js|ts)$/, '');
  return [base, stem + '.ts', stem + '/index.ts'].find((p) => p in sources);
}

/** Each file's relative imports among `sources`, sorted. */
export function importGraph(sources: Sources): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const [path, text] of Object.entries(sources)) {
    const to = specifiers(parse(path, text)).map((s) => resolve(path, s, sources));
    graph.set(path, [...new Set(to.filter((p): p is string => !!p))].sort());
  }
  return graph;
}

/** The strongly connected components of `graph` (Tarjan), each sorted: a file is on a cycle iff its component has
 *  more than one file or it imports itself. */
function components(graph: Map<string, string[]>): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const out: string[][] = [];
  const visit = (v: string) => {
    index.set(v, index.size);
    low.set(v, index.get(v)!);
    stack.push(v);
    for (const w of graph.get(v) ?? []) {
      if (!index.has(w)) visit(w), low.set(v, Math.min(low.get(v)!, low.get(w)!));
      else if (stack.includes(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) != index.get(v)) return;
    const c: string[] = [];
    for (let w = ''; w != v; ) c.push((w = stack.pop()!));
    out.push(c.sort());
  };
  for (const v of [...graph.keys()].sort()) if (!index.has(v)) visit(v);
  return out;
}

/** A shortest path of imports from `start` back to itself, staying inside `within`: [start, ..., start]. */
function shortestCycle(graph: Map<string, string[]>, start: string, within: Set<string>): string[] {
  const prev = new Map<string, string>();
  const queue = [start];
  for (let i = 0; i < queue.length; i++) {
    for (const w of graph.get(queue[i]!) ?? []) {
      if (!within.has(w) || prev.has(w)) continue;
      prev.set(w, queue[i]!);
      if (w == start) {
        const path = [start];
        for (let p = prev.get(start)!; p != start; p = prev.get(p)!) path.unshift(p);
        return [start, ...path];
      }
      queue.push(w);
    }
  }
  return [start];
}

/** One line per import circle: `a.ts -> b.ts -> a.ts`, and every file of its knot when it has more. */
export function importCycles(sources: Sources): string[] {
  const graph = importGraph(sources);
  const knots = components(graph).filter((c) => c.length > 1 || graph.get(c[0]!)!.includes(c[0]!));
  return knots.map((c) => {
    const cycle = shortestCycle(graph, c[0]!, new Set(c));
    const line = cycle.join(' -> ');
    return c.length > cycle.length - 1 ? `${line} (files that import one another: ${c.join(', ')})` : line;
  });
}

/** One function-like node: where it starts, what it is called, its lines with and without its nested functions. */
export interface FunctionSize {
  file: string;
  line: number;
  name: string;
  span: number;
  own: number;
}

type FunctionLike = ts.FunctionLikeDeclaration & { body: ts.Node };

const isFunctionLike = (n: ts.Node): n is FunctionLike =>
  (ts.isFunctionDeclaration(n) || ts.isFunctionExpression(n) || ts.isArrowFunction(n) || ts.isMethodDeclaration(n) ||
    ts.isGetAccessorDeclaration(n) || ts.isSetAccessorDeclaration(n) || ts.isConstructorDeclaration(n)) && !!n.body;

/** What a function is called: its own name, else the name it is bound to, else `<callee> callback` or `<anonymous>`. */
function nameOf(n: FunctionLike): string {
  if (ts.isConstructorDeclaration(n)) return 'constructor';
  if (n.name) return n.name.getText();
  const p = n.parent;
  if ((ts.isVariableDeclaration(p) || ts.isPropertyAssignment(p) || ts.isPropertyDeclaration(p) || ts.isParameter(p)) && p.name) return p.name.getText();
  if (ts.isBinaryExpression(p) && p.operatorToken.kind == ts.SyntaxKind.EqualsToken) return p.left.getText();
  if (ts.isCallExpression(p) || ts.isNewExpression(p)) return `${p.expression.getText().split('.').pop()} callback`;
  return '<anonymous>';
}

/** Lines `from`..`to` (1-based, inclusive) of the node as written, leading comments and blank lines excluded. */
function linesOf(sf: ts.SourceFile, n: ts.Node): [number, number] {
  const from = sf.getLineAndCharacterOfPosition(n.getStart(sf)).line + 1;
  return [from, sf.getLineAndCharacterOfPosition(n.getEnd()).line + 1];
}

/** The function-like nodes nested in `n` with no other function-like node between. */
function directlyNested(n: ts.Node): FunctionLike[] {
  const out: FunctionLike[] = [];
  const visit = (c: ts.Node) => void (isFunctionLike(c) ? out.push(c) : ts.forEachChild(c, visit));
  ts.forEachChild(n, visit);
  return out;
}

/** The size of every function in `text`, in source order. `own` counts the lines of its span that no function
 *  nested directly in it covers: its span less theirs, a line shared by two of them taken off once. */
export function functionSizes(file: string, text: string): FunctionSize[] {
  const sf = parse(file, text);
  const out: FunctionSize[] = [];
  const measure = (n: FunctionLike) => {
    const [from, to] = linesOf(sf, n);
    const covered = new Set<number>();
    for (const c of directlyNested(n)) for (let [l, end] = linesOf(sf, c); l <= end; l++) covered.add(l);
    out.push({ file, line: from, name: nameOf(n), span: to - from + 1, own: to - from + 1 - covered.size });
  };
  const visit = (n: ts.Node) => void (isFunctionLike(n) && measure(n), ts.forEachChild(n, visit));
  visit(sf);
  return out;
}

/** One line per function over a limit: `file:line name span/own`, then the rules it breaks. */
export function sizeViolations(sources: Sources, maxSpan = MAX_SPAN, maxOwn = MAX_OWN): string[] {
  const out: string[] = [];
  for (const [file, text] of Object.entries(sources).sort(([a], [b]) => (a < b ? -1 : 1))) {
    for (const f of functionSizes(file, text)) {
      const broken = [f.span > maxSpan && `span > ${maxSpan}`, f.own > maxOwn && `own > ${maxOwn}`].filter(Boolean);
      if (broken.length) out.push(`${f.file}:${f.line} ${f.name} ${f.span}/${f.own} (${broken.join(', ')})`);
    }
  }
  return out;
}
