// The exit-code rule as a user meets it: what the user can fix (input, options, files, the file
// system) exits 2 with the path named, never a raw errno or stack; a closed output pipe is not a
// failure.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tempDir, writeTinyModel } from '../train/testing.js';

const MAIN = fileURLToPath(new URL('./main.js', import.meta.url));

const root = tempDir('lorapro-exit-');
const model = await writeTinyModel(join(root, 'model'), 'llama');

/** Runs the executable with its stdout closed before it writes anything (`lorapro … | head -0`). */
function withClosedStdout(...argv: string[]): Promise<{ code: number | null; err: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [MAIN, ...argv], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, LORAPRO_BACKEND: '' } });
    child.stdout.destroy();
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('close', (code) => resolve({ code, err }));
  });
}

test('a reader that closes the pipe early ends the command quietly with 0 (lorapro info | head -1)', async () => {
  const r = await withClosedStdout('info', '--model', model);
  assert.equal(r.code, 0, r.err);
  assert.doesNotMatch(r.err, /EPIPE|\n\s+at /, 'no EPIPE stack trace');
});
