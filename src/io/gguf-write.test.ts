import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gguf } from '@huggingface/gguf';
import { GGML_TYPES } from '../quant/ggml-type-traits.js';
import { planGguf, writeGguf, type GgufKv, type GgufTensorInfo } from './gguf-write.js';

test('the header of one key and one tensor, byte by byte as docs/gguf.md lays it out', () => {
  const plan = planGguf([{ key: 'a', type: 'u32', value: 7 }], [{ name: 't', dims: [2, 3], type: 'F32' }]);
  const expected = [
    ...[0x47, 0x47, 0x55, 0x46], // "GGUF"
    ...[3, 0, 0, 0], // version 3
    ...[1, 0, 0, 0, 0, 0, 0, 0], // one tensor (u64)
    ...[1, 0, 0, 0, 0, 0, 0, 0], // one key (u64)
    ...[1, 0, 0, 0, 0, 0, 0, 0, 0x61], // key "a": u64 length, bytes
    ...[4, 0, 0, 0], // GGUF_TYPE_UINT32
    ...[7, 0, 0, 0],
    ...[1, 0, 0, 0, 0, 0, 0, 0, 0x74], // tensor name "t"
    ...[2, 0, 0, 0], // n_dims
    ...[2, 0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0], // ne[0] = 2 (the row), ne[1] = 3
    ...[0, 0, 0, 0], // GGML_TYPE_F32
    ...[0, 0, 0, 0, 0, 0, 0, 0], // offset 0 in the data section
  ];
  assert.equal(expected.length, 82);
  assert.deepEqual([...plan.header.slice(0, 82)], expected);
  assert.equal(plan.header.length, 96); // padded to 32
  assert.deepEqual([...plan.header.slice(82)], new Array(14).fill(0));
  assert.equal(plan.fileSize, 96 + 24);
});

test('a written file parses with @huggingface/gguf: keys, arrays, dims, types and aligned offsets', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'lorapro-gguf-'));
  try {
    const kvs: GgufKv[] = [
      { key: 'general.architecture', type: 'string', value: 'llama' },
      { key: 'llama.block_count', type: 'u32', value: 2 },
      { key: 'llama.rope.freq_base', type: 'f32', value: 10000 },
      { key: 'tokenizer.ggml.add_bos_token', type: 'bool', value: false },
      { key: 'tokenizer.ggml.tokens', type: 'array', of: 'string', value: ['a', 'Ġb', '✓'] },
      { key: 'tokenizer.ggml.token_type', type: 'array', of: 'i32', value: [1, 1, 3] },
    ];
    const tensors: GgufTensorInfo[] = [
      { name: 'norm.weight', dims: [5], type: 'F32' },
      { name: 'w.weight', dims: [64, 2], type: 'Q8_0' },
      { name: 'v.weight', dims: [3, 2], type: 'F16' },
    ];
    const values = [Float32Array.from([1, 2, 3, 4, 5]), Float32Array.from({ length: 128 }, (_, i) => i / 7), Float32Array.from([1, -1, 0.5, 2, 3, 4])];
    const path = join(dir, 'm.gguf');
    await writeGguf(path, kvs, tensors, (i) => GGML_TYPES[tensors[i].type].quantize(values[i]));
    assert.deepEqual(await readdir(dir), ['m.gguf']); // no temp file left
    const parsed = await gguf(path, { allowLocalFile: true });
    const metadata = parsed.metadata as unknown as Record<string, unknown>;
    const tensorInfos = parsed.tensorInfos;
    assert.equal(metadata.version, 3);
    assert.equal(metadata['general.architecture'], 'llama');
    assert.equal(metadata['llama.block_count'], 2);
    assert.equal(metadata['tokenizer.ggml.add_bos_token'], false);
    assert.deepEqual(metadata['tokenizer.ggml.tokens'], ['a', 'Ġb', '✓']);
    assert.deepEqual(tensorInfos.map((t) => [t.name, t.shape.map(Number), t.dtype, Number(t.offset)]), [
      ['norm.weight', [5], 0, 0],
      ['w.weight', [64, 2], 8, 32], // 20 bytes → next at 32
      ['v.weight', [3, 2], 1, 192], // 4 blocks of 34 = 136 bytes from 32 → 168 → 192
    ]);
    const bytes = await readFile(path);
    const dataStart = bytes.length - 192 - 12; // the file ends with the last tensor
    assert.equal(dataStart % 32, 0);
    assert.deepEqual([...new Float32Array(bytes.buffer.slice(bytes.byteOffset + dataStart, bytes.byteOffset + dataStart + 20))], [1, 2, 3, 4, 5]);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('bad plans and bad tensor bytes are refused, and leave no file', async () => {
  assert.throws(() => planGguf([], [{ name: 'w', dims: [40, 2], type: 'Q4_0' }]), /rows of 40 values are not whole Q4_0 blocks of 32/);
  assert.throws(() => planGguf([{ key: 'k', type: 'u32', value: -1 }], []), /GGUF key k: -1 is not a u32/);
  assert.throws(() => planGguf([{ key: 'k', type: 'u32', value: 1 }, { key: 'k', type: 'u32', value: 2 }], []), /written twice/);
  const dir = await mkdtemp(join(tmpdir(), 'lorapro-gguf-'));
  try {
    await assert.rejects(writeGguf(join(dir, 'x.gguf'), [], [{ name: 'w', dims: [4], type: 'F32' }], () => new Uint8Array(12)), /got 12 bytes, a F32 tensor of dims \[4\] has 16/);
    assert.deepEqual(await readdir(dir), []);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
