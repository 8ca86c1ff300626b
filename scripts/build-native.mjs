// npm's install step for the optional native engine (native/): builds it with node-gyp against the Node
// headers already on the machine. Nothing is downloaded, and the install never fails because of it: when
// there is no compiler, no headers, or the build breaks, one line says so and lorapro computes on wasm.
//
//   node scripts/build-native.mjs [--dir native]     LORAPRO_SKIP_NATIVE=1 skips the build
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const dirFlag = process.argv.indexOf('--dir');
const dir = resolve(dirFlag >= 0 ? process.argv[dirFlag + 1] : join(root, 'native'));
const log = join(dir, 'build.log');

function done(line) {
  console.log(`lorapro: ${line}`);
  process.exit(0);
}

if (process.env.LORAPRO_SKIP_NATIVE === '1') done('native engine not built (LORAPRO_SKIP_NATIVE=1); computing on wasm');

// npm tells its scripts where its node-gyp is; else npm's bundled copy beside this node; else PATH.
const bundled = join(dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js');
const gyp = process.env.npm_config_node_gyp ?? (existsSync(bundled) ? bundled : undefined);

// Headers: npm's nodedir setting, else the ones installed with this node. Without headers node-gyp
// would try to download them, which must not happen.
const prefix = resolve(dirname(process.execPath), '..');
const nodedir = process.env.npm_config_nodedir ?? (existsSync(join(prefix, 'include', 'node', 'node_api.h')) ? prefix : undefined);
if (nodedir === undefined) done(`native engine not built (no Node headers under ${prefix}/include/node); computing on wasm`);

// configure + build, not rebuild: rebuild deletes build/ first, so a failed rebuild would also lose a
// binary that worked.
const args = ['configure', 'build', `--directory=${dir}`, `--nodedir=${nodedir}`];
const started = Date.now();
const r = gyp === undefined
  ? spawnSync('node-gyp', args, { encoding: 'utf8' })
  : spawnSync(process.execPath, [gyp, ...args], { encoding: 'utf8' });
mkdirSync(dir, { recursive: true });
writeFileSync(log, `${r.stdout ?? ''}${r.stderr ?? ''}${r.error ? String(r.error) : ''}`);
const binary = join(dir, 'build', 'Release', 'lorapro.node');
if (r.status === 0 && existsSync(binary)) done(`native engine built in ${((Date.now() - started) / 1000).toFixed(0)} s (${binary})`);
const lines = `${r.stderr ?? ''}${r.stdout ?? ''}`.split('\n').map((l) => l.trim());
// The most telling line: the compiler's own error, else what it printed just before make gave up,
// else gyp's summary.
const pick = (re) => lines.find((l) => re.test(l) && !l.startsWith('gyp ERR! stack'));
const makeFailed = lines.findIndex((l) => /^make: \*\*\*/.test(l));
const beforeMake = makeFailed > 0 ? lines.slice(0, makeFailed).reverse().find((l) => l && !/^(make:|gyp |cmd:|status:|Warning:)/.test(l) && !/^\s*(CXX|CC|SOLINK)/.test(l)) : undefined;
const cause = r.error
  ? String(r.error.message)
  : (pick(/\berror:/) ?? (beforeMake && `${beforeMake} (${lines[makeFailed]})`) ?? pick(/error/i) ?? `node-gyp exit ${r.status}`);
if (existsSync(binary)) done(`native engine rebuild failed (${cause.slice(0, 200)}); the previous build stays in use (${binary}). Log: ${log}`);
done(`native engine not built (${cause.slice(0, 200)}); computing on wasm. Log: ${log}`);
