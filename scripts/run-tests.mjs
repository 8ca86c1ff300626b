// Runs the compiled test files with Node's test runner. Fast suites are `*.test.js`; slow ones are
// `*.slow.test.js` and run only with --slow (the README's separate command).
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';

const slow = process.argv.includes('--slow');
const files = [];
(function walk(dir) {
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) walk(path);
    else if (name.endsWith('.test.js') && name.endsWith('.slow.test.js') === slow) files.push(path);
  }
})('dist');
if (files.length === 0) {
  console.error(`no ${slow ? 'slow ' : ''}test files under dist/`);
  process.exit(1);
}
const result = spawnSync(process.execPath, ['--test', ...files], { stdio: 'inherit' });
process.exit(result.status ?? 1);
