// The shape of src/ (docs/ARCHITECTURE.md): no file imports itself back through others, and folders
// import only downwards in LAYERS. Reads the TypeScript sources, not dist/, so a stale compiled file
// cannot hide a circle. Every relative import counts: `import type`, `export … from`, `import()`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

/**
 * Lowest first. A file may import its own folder and any folder of an earlier row; folders on one
 * row do not import each other. '.' is src/ itself: index.ts and browser.ts, the public entries.
 */
const LAYERS: readonly (readonly string[])[] = [
  ['math'], // r×r algebra and the RNG: imports nothing of ours
  ['quant'], // quantized block formats (int8 rows, NF4, ggml's q8_0/q4_0) on plain arrays: no TF.js
  ['engine'], // the TF.js instance, backends, kernels
  ['io'], // wire formats
  ['models', 'optim'],
  ['adapters'], // wraps models' layers; pairs are optim's LoraPair
  ['data'], // data files → examples → tokens → batches
  ['tasks'], // built-in tasks: examples from npm data packages
  ['train'], // config, methods, the step, the loop, checkpoints, run.json, TrainSession
  ['report'], // report.html and comparisons, from run.json and metrics.jsonl
  ['run'], // train(), the learning-rate search, compare, pretrain, the studio's server
  ['.'],
  ['bench'],
  ['cli', 'web'], // leaves: the command (it runs bench paper) and the playground
];

/** Tests may also import the entries they drive end to end (a whole run to compare with, the studio's server, the package). */
const TEST_MAY_ALSO_IMPORT = new Set(['index.ts', 'run/train.ts', 'run/studio.ts']);

interface Import {
  readonly from: string; // src-relative, e.g. 'train/trainer.ts'
  readonly to: string;
  readonly spec: string; // as written
}

const SRC = fileURLToPath(new URL('../src/', import.meta.url)); // dist/ or src/ → src/

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...sourceFiles(path));
    else if (name.endsWith('.ts') && !name.endsWith('.d.ts')) out.push(relative(SRC, path).split(sep).join('/'));
  }
  return out;
}

/** The relative imports of every file; an import that names no source file is an error (a parse this test missed). */
function readImports(files: readonly string[]): { imports: Import[]; unresolved: string[] } {
  const known = new Set(files);
  const imports: Import[] = [];
  const unresolved: string[] = [];
  for (const from of files) {
    const info = ts.preProcessFile(readFileSync(join(SRC, from), 'utf8'), true, true);
    for (const { fileName: spec } of info.importedFiles) {
      if (!spec.startsWith('.')) continue;
      const to = relative(SRC, resolve(SRC, dirname(from), spec)).split(sep).join('/').replace(/\.js$/, '.ts');
      if (known.has(to)) imports.push({ from, to, spec });
      else if (!spec.endsWith('.json') || !existsSync(resolve(SRC, dirname(from), spec))) unresolved.push(`${from} imports '${spec}', which is no file under src/`);
    }
  }
  return { imports, unresolved };
}

/** One import circle as a path `a.ts → b.ts → a.ts` with the specifiers, or undefined. */
function findCircle(imports: readonly Import[]): string | undefined {
  const out = new Map<string, Import[]>();
  for (const i of imports) out.set(i.from, [...(out.get(i.from) ?? []), i]);
  const state = new Map<string, 'open' | 'done'>();
  const stack: Import[] = [];
  const visit = (file: string): string | undefined => {
    state.set(file, 'open');
    for (const edge of out.get(file) ?? []) {
      stack.push(edge);
      if (state.get(edge.to) === 'open') {
        const loop = stack.slice(stack.findIndex((e) => e.from === edge.to));
        return [loop[0].from, ...loop.map((e) => `${e.to} (import '${e.spec}')`)].join(' → ');
      }
      if (!state.has(edge.to)) {
        const found = visit(edge.to);
        if (found) return found;
      }
      stack.pop();
    }
    state.set(file, 'done');
    return undefined;
  };
  for (const file of out.keys()) {
    if (state.has(file)) continue;
    const found = visit(file);
    if (found) return found;
  }
  return undefined;
}

const folderOf = (file: string): string => (file.includes('/') ? file.slice(0, file.indexOf('/')) : '.');

/** Imports that go up or sideways in LAYERS, each naming the file, the import and what its folder may import. */
function layerViolations(imports: readonly Import[]): string[] {
  const row = new Map(LAYERS.flatMap((folders, i) => folders.map((f) => [f, i] as const)));
  const bad: string[] = [];
  for (const i of imports) {
    const a = folderOf(i.from);
    const b = folderOf(i.to);
    if (!row.has(a)) {
      bad.push(`${i.from}: the folder ${a}/ is not in LAYERS (src/layout.test.ts); give it a row`);
      continue;
    }
    if (a === b || (row.get(b) ?? Infinity) < row.get(a)!) continue;
    if (i.from.endsWith('.test.ts') && TEST_MAY_ALSO_IMPORT.has(i.to)) continue;
    const allowed = LAYERS.slice(0, row.get(a)).flat().join(', ') || 'nothing';
    bad.push(`${i.from} imports '${i.spec}' (${i.to}): ${a === '.' ? 'src/' : `${a}/`} may import only ${allowed}`);
  }
  return bad;
}

const files = sourceFiles(SRC);
const { imports, unresolved } = readImports(files);

test('every relative import of src/ names a source file', () => {
  assert.ok(files.length > 100 && imports.length > 500, `read ${files.length} files and ${imports.length} imports under ${SRC}`);
  assert.deepEqual(unresolved, []);
});

test('no import circle among the files of src/', () => {
  const circle = findCircle(imports);
  assert.equal(circle, undefined, `import circle: ${circle}`);
});

test('folders import only downwards (math ← engine ← io ← models/optim ← adapters ← data ← tasks ← train ← report ← run ← src/ ← bench ← cli/web)', () => {
  assert.deepEqual(layerViolations(imports), []);
});

test('the checks catch a planted circle and an upward import', () => {
  const planted: Import[] = [
    { from: 'train/a.ts', to: 'train/b.ts', spec: './b.js' },
    { from: 'train/b.ts', to: 'train/c.ts', spec: './c.js' },
    { from: 'train/c.ts', to: 'train/a.ts', spec: './a.js' },
    { from: 'train/c.ts', to: 'run/x.ts', spec: '../run/x.js' },
  ];
  assert.equal(findCircle(planted), "train/a.ts → train/b.ts (import './b.js') → train/c.ts (import './c.js') → train/a.ts (import './a.js')");
  assert.equal(findCircle(planted.slice(0, 2)), undefined);
  const [violation, ...rest] = layerViolations(planted);
  assert.match(violation, /^train\/c\.ts imports '\.\.\/run\/x\.js' \(run\/x\.ts\): train\/ may import only math, quant, engine, io, models, optim, adapters, data, tasks$/);
  assert.deepEqual(rest, []);
  assert.deepEqual(layerViolations([{ from: 'optim/a.test.ts', to: 'run/train.ts', spec: '../run/train.js' }]), []);
  assert.equal(layerViolations([{ from: 'models/a.ts', to: 'optim/b.ts', spec: '../optim/b.js' }]).length, 1, 'one row: no sideways imports');
});
