// The exit-code rule as a user meets it: what the user can fix (input, options, files, the file
// system) exits 2 with the path named, never a raw errno or stack; a closed output pipe is not a
// failure.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeFileAtomic } from '../io/safetensors-write.js';
import { appendMetrics, type MetricsLine } from '../train/metrics-log.js';
import { tempDir, writeJsonl, writeTinyModel } from '../train/testing.js';
import { reportFailure } from './cli.js';
import { fileSystemMessage } from './file-errors.js';
import { runCli, writeTinyByteModel } from './testing.js';

const MAIN = fileURLToPath(new URL('./main.js', import.meta.url));

const root = tempDir('lorapro-exit-');
const model = await writeTinyModel(join(root, 'model'), 'llama');
const byteModel = await writeTinyByteModel(join(root, 'byte-model')); // no chat template

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

/** Runs `lorapro …argv` in this process with some environment variables set for the call. */
async function runWithEnv(env: Record<string, string>, ...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const before = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
  Object.assign(process.env, env);
  try {
    return await runCli(...argv);
  } finally {
    for (const [k, v] of Object.entries(before)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}

const ENGINE_CHOICES: { name: string; env: Record<string, string>; args: string[]; message: RegExp }[] = [
  { name: '--backend cuda', env: {}, args: ['--backend', 'cuda'], message: /--backend must be one of native, wasm, cpu, webgpu, got "cuda"/ },
  { name: 'LORAPRO_BACKEND=bogus', env: { LORAPRO_BACKEND: 'bogus' }, args: [], message: /LORAPRO_BACKEND must be one of native, wasm, cpu, webgpu, got "bogus"; unset LORAPRO_BACKEND/ },
  { name: 'LORAPRO_THREADS=0', env: { LORAPRO_THREADS: '0' }, args: [], message: /LORAPRO_THREADS must be a whole number of threads ≥ 1, got "0"/ },
  { name: 'LORAPRO_THREADS=abc', env: { LORAPRO_THREADS: 'abc' }, args: [], message: /LORAPRO_THREADS must be a whole number of threads ≥ 1, got "abc"/ },
];

for (const c of ENGINE_CHOICES) {
  test(`an unknown engine or thread count is bad usage, exit 2, in the CLI's words: ${c.name}`, async () => {
    for (const command of [['info', '--model', model], ['generate', '--model', model, '--prompt', 'hi']]) {
      const r = await runWithEnv(c.env, ...command, ...c.args);
      assert.equal(r.code, 2, r.err);
      assert.match(r.err, c.message);
      assert.doesNotMatch(r.err, /useBackend/, 'the API is not the CLI user\'s business');
    }
  });
}

test('--out under a file (ENOTDIR) and a read-only --out are refused before any work, exit 2, naming the path', async () => {
  const file = join(root, 'a-file');
  writeFileSync(file, 'not a folder');
  const r = await runCli('train', '--model', model, '--train', join(root, 'none.jsonl'), '--task', 'causal-lm', '--method', 'lora', '--out', join(file, 'run'));
  assert.equal(r.code, 2, r.err);
  assert.match(r.err, /--out .*a-file\/run: .*a-file is a file, not a folder \(ENOTDIR\)/);
  assert.doesNotMatch(r.err, /engine:/, 'refused before the engine started');
});

test('merge --out naming an existing file is refused before the merge, exit 2, and the file is kept', async () => {
  const file = join(root, 'merged.bin');
  writeFileSync(file, 'keep me');
  // the adapter does not exist: had the merge started, that would be the error
  const r = await runCli('merge', '--model', model, '--adapter', join(root, 'no-adapter'), '--out', file);
  assert.equal(r.code, 2, r.err);
  assert.match(r.err, /--out .*merged\.bin is a file \(EEXIST\)/);
  assert.equal(readFileSync(file, 'utf8'), 'keep me');
});

test('generate --chat on a model with no chat template is bad usage, exit 2, with the way out', async () => {
  const r = await runCli('generate', '--model', byteModel, '--prompt', 'hi', '--chat', '--max-new-tokens', '2');
  assert.equal(r.code, 2, r.err);
  assert.match(r.err, /--chat: .* has no chat template .*; drop --chat/);
});

test('chat records for a model with no chat template are bad input, exit 2, naming the line', async () => {
  const chat = writeJsonl(join(root, 'chat.jsonl'), [{ messages: [{ role: 'user', content: 'hi' }, { role: 'assistant', content: 'hello' }] }]);
  const r = await runCli('train', '--model', byteModel, '--train', chat, '--task', 'causal-lm', '--method', 'lora', '--lr', '0.01', '--max-steps', '1', '--out', join(root, 'chat-run'));
  assert.equal(r.code, 2, r.err);
  assert.match(r.err, /chat\.jsonl line 1: Tokenizer\(.*byte-model\): no chat template "default"/);
});

test('generate --max-new-tokens 0 is refused clearly, never "Infinity positions"', async () => {
  for (const n of ['0', '-3']) {
    const r = await runCli('generate', '--model', byteModel, '--prompt', 'hi', `--max-new-tokens=${n}`);
    assert.equal(r.code, 2, r.err);
    assert.match(r.err, new RegExp(`--max-new-tokens must be a whole number ≥ 1, got ${n}`));
    assert.doesNotMatch(r.err, /Infinity/);
  }
});

test('a full disk (ENOSPC) names the file being written and how to resume, exit 2', async () => {
  // injected into an atomic write: the error names the file, not the temp file or nothing
  const target = join(root, 'run.json');
  const enospc = () => Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC', errno: -28, syscall: 'write' });
  const thrown = await writeFileAtomic(target, async () => {
    throw enospc();
  }).catch((e: unknown) => e as NodeJS.ErrnoException);
  assert.equal(thrown?.path, target);
  const lines: string[] = [];
  assert.equal(reportFailure(thrown, 'train', { out: () => {}, err: (l) => lines.push(l) }), 2);
  assert.match(lines[0], /^lorapro train: no space left on the device while writing .*run\.json \(ENOSPC\); free some space, then continue from the last checkpoint with lorapro train .*--resume/);
  // a real one, where the system has /dev/full: metrics.jsonl's appends name their file too
  if (existsSync('/dev/full')) {
    const real = await appendMetrics('/dev/full', { step: 1 } as MetricsLine).catch((e: unknown) => e as NodeJS.ErrnoException);
    assert.equal(real?.code, 'ENOSPC');
    assert.match(fileSystemMessage(real, 'merge')!, /while writing \/dev\/full \(ENOSPC\); free some space, then run the command again/);
  }
});

test('a read-only or forbidden folder, and errors that are not the file system\'s, keep their codes', () => {
  const err = (code: string, path: string) => Object.assign(new Error(code), { code, path, syscall: 'open' });
  assert.match(fileSystemMessage(err('EROFS', '/mnt/ro/run'), 'train')!, /\/mnt\/ro\/run is on a read-only file system \(EROFS\); choose a folder on a writable disk/);
  assert.match(fileSystemMessage(err('EACCES', '/root/x'), 'train')!, /permission denied for \/root\/x \(EACCES, open\)/);
  assert.equal(fileSystemMessage(new Error('a bug'), 'train'), undefined);
  assert.equal(reportFailure(new Error('a bug'), 'train', { out: () => {}, err: () => {} }), 1, 'a failure of the run itself is 1');
});
