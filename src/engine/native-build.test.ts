// The install step of the native engine (scripts/build-native.mjs) never fails the install: with a
// broken compiler it prints one line naming the cause and exits 0, leaving no binary (the wasm path runs).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const SCRIPT = join(ROOT, 'scripts', 'build-native.mjs');

test('a failed native build prints one line and exits 0', () => {
  const dir = mkdtempSync(join(tmpdir(), 'lorapro-native-'));
  try {
    cpSync(join(ROOT, 'native', 'src'), join(dir, 'src'), { recursive: true });
    cpSync(join(ROOT, 'native', 'binding.gyp'), join(dir, 'binding.gyp'));
    const bin = join(dir, 'broken-bin');
    mkdirSync(bin);
    for (const name of ['g++', 'c++', 'gcc', 'cc']) {
      writeFileSync(join(bin, name), '#!/bin/sh\necho "this compiler is broken on purpose" >&2\nexit 1\n');
      chmodSync(join(bin, name), 0o755);
    }
    const r = spawnSync(process.execPath, [SCRIPT, '--dir', dir], {
      encoding: 'utf8',
      env: { ...process.env, PATH: `${bin}:${process.env.PATH}`, CXX: join(bin, 'g++'), CC: join(bin, 'gcc'), LORAPRO_SKIP_NATIVE: '' },
    });
    assert.equal(r.status, 0, r.stderr);
    const lines = r.stdout.trim().split('\n');
    assert.equal(lines.length, 1, r.stdout);
    assert.match(lines[0], /^lorapro: native engine not built \(.+\); computing on wasm\. Log: .*build\.log$/);
    assert.equal(existsSync(join(dir, 'build', 'Release', 'lorapro.node')), false);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('LORAPRO_SKIP_NATIVE=1 skips the build with a line', () => {
  const r = spawnSync(process.execPath, [SCRIPT, '--dir', join(tmpdir(), 'lorapro-native-unused')], { encoding: 'utf8', env: { ...process.env, LORAPRO_SKIP_NATIVE: '1' } });
  assert.equal(r.status, 0);
  assert.equal(r.stdout.trim(), 'lorapro: native engine not built (LORAPRO_SKIP_NATIVE=1); computing on wasm');
});
