// Bundles the browser build with esbuild: dist/browser/lorapro.js (the `lorapro/browser` entry) and the
// playground (dist/studio: page, worker, the wasm backend's .wasm files). Every module reachable from a
// browser entry must be free of static imports of Node built-ins: Node-only functions import them
// lazily (`await import('node:path')`), and json-file.ts, the one reader they load that way, is
// allowed (ALLOWED_NODE_IMPORTERS). A browser never calls them; any other import is a build error
// naming the file.
import { build } from 'esbuild';
import { copyFileSync, mkdirSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const ALLOWED_NODE_IMPORTERS = new Set(['src/io/json-file.ts']);

/** node:* resolves to a stub that throws when used, so a lazily imported Node-only reader still bundles. */
const nodeStub = {
  name: 'node-stub',
  setup(b) {
    b.onResolve({ filter: /^node:/ }, (args) => ({ path: args.path, namespace: 'node-stub', pluginData: args.importer }));
    b.onLoad({ filter: /.*/, namespace: 'node-stub' }, (args) => ({
      contents: `module.exports = new Proxy({}, { get: (_, k) => k === '__esModule' ? false : () => { throw new Error(${JSON.stringify(`${args.path} is not available in a browser`)} + ' (' + String(k) + ')'); } });`,
      loader: 'js',
    }));
  },
};

function checkNodeImports(metafile) {
  const bad = [];
  for (const [file, info] of Object.entries(metafile.inputs)) {
    if (file.startsWith('node-stub:')) continue;
    for (const imp of info.imports) {
      if (imp.path.startsWith('node-stub:') && imp.kind !== 'dynamic-import' && !ALLOWED_NODE_IMPORTERS.has(file)) bad.push(`${file} imports ${imp.path.slice('node-stub:'.length)}`);
    }
  }
  if (bad.length) throw new Error(`the browser build reaches Node built-ins:\n  ${bad.join('\n  ')}\nkeep them out of the browser's modules (see docs/ARCHITECTURE.md)`);
}

const common = {
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: 'es2022',
  sourcemap: true,
  minify: true,
  metafile: true,
  logLevel: 'warning',
  absWorkingDir: root,
  plugins: [nodeStub],
  define: { 'process.env.NODE_ENV': '"production"' },
};

const results = await Promise.all([
  build({ ...common, entryPoints: ['src/browser.ts'], outfile: 'dist/browser/lorapro.js' }),
  build({ ...common, entryPoints: ['src/web/app.ts'], outfile: 'dist/studio/app.js' }),
  build({ ...common, entryPoints: ['src/web/worker.ts'], outfile: 'dist/studio/worker.js' }),
]);
for (const r of results) checkNodeImports(r.metafile);

const web = join(root, 'dist/studio'); // not dist/web: tsc writes the unbundled src/web there
for (const name of readdirSync(join(root, 'web'))) copyFileSync(join(root, 'web', name), join(web, name));
const wasmDir = dirname(createRequire(import.meta.url).resolve('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm'));
mkdirSync(join(web, 'tfjs-wasm'), { recursive: true });
for (const name of readdirSync(wasmDir).filter((n) => n.endsWith('.wasm') && !n.includes('threaded'))) copyFileSync(join(wasmDir, name), join(web, 'tfjs-wasm', name));
const sizes = results.map((r) => Object.entries(r.metafile.outputs).filter(([f]) => f.endsWith('.js')).map(([f, o]) => `${relative('dist', f)} ${(o.bytes / 1e6).toFixed(1)} MB`)).flat();
console.log(`browser build: ${sizes.join(', ')}`);
