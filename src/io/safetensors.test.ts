import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tf } from '../engine/tf.js';
import { useBackend } from '../engine/backend.js';
import {
  forEachCheckpointTensor,
  listCheckpointFiles,
  parseSafetensors,
  readSafetensors,
  readSafetensorsHeader,
  serializeSafetensors,
  tensorsToWrite,
  toFloat32,
  toInt32,
  toTensor,
  writeFileAtomic,
  writeSafetensors,
  type RawTensor,
} from './safetensors.js';

let dir = '';
before(async () => {
  await useBackend('cpu');
  dir = await mkdtemp(join(tmpdir(), 'lorapro-safetensors-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

const u16s = (t: RawTensor): number[] => {
  const view = new DataView(t.bytes.buffer, t.bytes.byteOffset, t.bytes.byteLength);
  return Array.from({ length: t.bytes.length / 2 }, (_, i) => view.getUint16(2 * i, true));
};
const same = (actual: ArrayLike<number>, expected: number[]): void =>
  assert.deepEqual(Array.from(actual).map((x) => (Object.is(x, -0) ? '-0' : x)), expected.map((x) => (Object.is(x, -0) ? '-0' : x)));

test('parses a file built byte by byte, every dtype, out-of-order header, unaligned data', () => {
  // Byte buffer laid out by hand (offsets chosen so 8-byte values land unaligned):
  //   i8   I8   [2]  @ 0..2    -128, 127
  //   f64  F64  [2]  @ 2..18   1.5, -0.25
  //   f16  F16  [3]  @ 18..24  0x3C00 (1), 0xC100 (-2.5), 0x0001 (2^-24)
  //   bf16 BF16 [2]  @ 24..28  0x3F80 (1), 0xC020 (-2.5)
  //   i64  I64  [2]  @ 28..44  -3, 2^31 - 1
  //   i16  I16  [2]  @ 44..48  -32768, 32767
  //   u8   U8   [2]  @ 48..50  0, 255
  //   b    BOOL [3]  @ 50..53  1, 0, 1
  //   s    F32  []   @ 53..57  3.25
  //   e    I32  [0,2]@ 57..57  (no bytes)
  const data = new DataView(new ArrayBuffer(57));
  data.setInt8(0, -128);
  data.setInt8(1, 127);
  data.setFloat64(2, 1.5, true);
  data.setFloat64(10, -0.25, true);
  [0x3c00, 0xc100, 0x0001].forEach((h, i) => data.setUint16(18 + 2 * i, h, true));
  [0x3f80, 0xc020].forEach((h, i) => data.setUint16(24 + 2 * i, h, true));
  data.setBigInt64(28, -3n, true);
  data.setBigInt64(36, 2n ** 31n - 1n, true);
  data.setInt16(44, -32768, true);
  data.setInt16(46, 32767, true);
  data.setUint8(48, 0);
  data.setUint8(49, 255);
  [1, 0, 1].forEach((b, i) => data.setUint8(50 + i, b));
  data.setFloat32(53, 3.25, true);
  const header =
    '{"e":{"dtype":"I32","shape":[0,2],"data_offsets":[57,57]},' +
    '"s":{"dtype":"F32","shape":[],"data_offsets":[53,57]},' +
    '"b":{"dtype":"BOOL","shape":[3],"data_offsets":[50,53]},' +
    '"u8":{"dtype":"U8","shape":[2],"data_offsets":[48,50]},' +
    '"i16":{"dtype":"I16","shape":[2],"data_offsets":[44,48]},' +
    '"i64":{"dtype":"I64","shape":[2],"data_offsets":[28,44]},' +
    '"__metadata__":{"source":"hand"},' +
    '"bf16":{"dtype":"BF16","shape":[2],"data_offsets":[24,28]},' +
    '"f16":{"dtype":"F16","shape":[3],"data_offsets":[18,24]},' +
    '"f64":{"dtype":"F64","shape":[2],"data_offsets":[2,18]},' +
    '"i8":{"dtype":"I8","shape":[2],"data_offsets":[0,2]}}';
  const headerBytes = new TextEncoder().encode(header);
  const bytes = new Uint8Array(8 + headerBytes.length + 57);
  new DataView(bytes.buffer).setBigUint64(0, BigInt(headerBytes.length), true);
  bytes.set(headerBytes, 8);
  bytes.set(new Uint8Array(data.buffer), 8 + headerBytes.length);

  const { tensors, metadata } = parseSafetensors(bytes, 'hand.safetensors');
  assert.deepEqual(metadata, { source: 'hand' });
  assert.deepEqual([...tensors.keys()], ['i8', 'f64', 'f16', 'bf16', 'i64', 'i16', 'u8', 'b', 's', 'e']); // byte-buffer order (ties by end)
  const get = (name: string): RawTensor => tensors.get(name)!;
  assert.deepEqual(get('f64').shape, [2]);
  assert.equal(get('f64').dtype, 'F64');
  same(toFloat32(get('f64')), [1.5, -0.25]);
  same(toFloat32(get('f16')), [1, -2.5, 2 ** -24]);
  same(toFloat32(get('bf16')), [1, -2.5]);
  same(toInt32(get('i64')), [-3, 2 ** 31 - 1]);
  same(toFloat32(get('i64')), [-3, 2 ** 31]); // 2^31 - 1 rounds to float32
  same(toInt32(get('i16')), [-32768, 32767]);
  same(toInt32(get('i8')), [-128, 127]);
  same(toInt32(get('u8')), [0, 255]);
  same(toInt32(get('b')), [1, 0, 1]);
  same(toFloat32(get('b')), [1, 0, 1]);
  assert.deepEqual(get('s').shape, []);
  same(toFloat32(get('s')), [3.25]);
  assert.deepEqual(get('e').shape, [0, 2]);
  assert.equal(toInt32(get('e')).length, 0);
  assert.throws(() => toInt32(get('f16'), 'f16'), /f16: toInt32 needs an integer or BOOL tensor, got F16/);
});

test('round trip of every written dtype, scalars, zero-size tensors and metadata', () => {
  const bytes = serializeSafetensors(
    {
      f32: { shape: [2, 3], data: new Float32Array([1.5, -2.25, 3.4028234663852886e38, -0, NaN, 2 ** -149]) },
      f16: { dtype: 'F16', shape: [6], data: new Float32Array([1, -2.5, 65504, 2 ** -24, Infinity, NaN]) },
      bf16: { dtype: 'BF16', shape: [4], data: [1, -2.5, Infinity, NaN] },
      i32: { shape: [3], data: new Int32Array([-2147483648, 0, 2147483647]) },
      i64: { shape: [2], data: new BigInt64Array([-(2n ** 40n), 5n]) },
      i64n: { dtype: 'I64', shape: [1], data: [2 ** 53 - 1] },
      u8: { shape: [3], data: new Uint8Array([0, 255, 7]) },
      bool: { dtype: 'BOOL', shape: [3], data: [1, 0, 1] },
      scalar: { shape: [], data: [3.5] },
      empty: { shape: [0, 3], data: new Float32Array(0) },
      emptyF16: { dtype: 'F16', shape: [2, 0], data: [] },
    },
    { lorapro: '0.1', note: 'ünïcødé' },
  );
  // Header: u64 N, N a multiple of 8 so the byte buffer is 8-aligned, padded with spaces.
  const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
  assert.equal((8 + n) % 8, 0);
  const headerText = new TextDecoder().decode(bytes.subarray(8, 8 + n));
  assert.ok(headerText.startsWith('{"__metadata__":{"format":"pt",'), headerText.slice(0, 40));
  assert.match(headerText, /\} *$/);
  const header = JSON.parse(headerText) as Record<string, { data_offsets: [number, number] }>;
  assert.equal(header.f32.data_offsets[1] - header.f32.data_offsets[0], 24);

  const { tensors, metadata } = parseSafetensors(bytes, 'rt.safetensors');
  assert.deepEqual(metadata, { format: 'pt', lorapro: '0.1', note: 'ünïcødé' });
  // Reference order: wider dtypes first, then by name.
  assert.deepEqual([...tensors.keys()], ['i64', 'i64n', 'empty', 'f32', 'i32', 'scalar', 'bf16', 'emptyF16', 'f16', 'bool', 'u8']);
  const get = (name: string): RawTensor => tensors.get(name)!;
  same(toFloat32(get('f32')), [1.5, -2.25, 3.4028234663852886e38, -0, NaN, 2 ** -149]);
  assert.deepEqual(u16s(get('f16')), [0x3c00, 0xc100, 0x7bff, 0x0001, 0x7c00, 0x7e00]);
  same(toFloat32(get('f16')), [1, -2.5, 65504, 2 ** -24, Infinity, NaN]);
  assert.deepEqual(u16s(get('bf16')), [0x3f80, 0xc020, 0x7f80, 0x7fc0]);
  same(toFloat32(get('bf16')), [1, -2.5, Infinity, NaN]);
  same(toInt32(get('i32')), [-2147483648, 0, 2147483647]);
  assert.equal(get('i64').dtype, 'I64');
  same(toFloat32(get('i64')), [-(2 ** 40), 5]);
  assert.throws(() => toInt32(get('i64'), 'i64'), /i64: I64 value -1099511627776 at index 0 is outside the int32 range/);
  assert.equal(new DataView(get('i64n').bytes.buffer, get('i64n').bytes.byteOffset).getBigInt64(0, true), 2n ** 53n - 1n);
  assert.equal(get('u8').dtype, 'U8');
  same(toInt32(get('u8')), [0, 255, 7]);
  same(toInt32(get('bool')), [1, 0, 1]);
  assert.deepEqual(get('scalar').shape, []);
  same(toFloat32(get('scalar')), [3.5]);
  assert.deepEqual(get('empty').shape, [0, 3]);
  assert.equal(get('empty').bytes.length, 0);
  assert.deepEqual(get('emptyF16').shape, [2, 0]);
  // A file with no tensors still round-trips.
  assert.equal(parseSafetensors(serializeSafetensors({})).tensors.size, 0);
  // Names that look like integers keep the writer's order (a JS object would move them first).
  const numeric = parseSafetensors(serializeSafetensors(new Map([['b', { shape: [], data: [1] }], ['10', { shape: [], data: [2] }]])));
  assert.deepEqual([...numeric.tensors.keys()], ['10', 'b']);
});

test('the writer refuses bad input, naming the tensor and the value', () => {
  const bad = (t: Record<string, unknown>, meta?: Record<string, unknown>) => () =>
    serializeSafetensors(t as never, meta as Record<string, string>);
  assert.throws(bad({ w: { shape: [2, 3], data: [1, 2] } }), /tensor "w": data has 2 values but shape \[2,3\] needs 6/);
  assert.throws(bad({ w: { shape: [2, -1], data: [] } }), /tensor "w": shape must be an array of non-negative integers, got \[2,-1\]/);
  assert.throws(bad({ w: { dtype: 'F8', shape: [1], data: [1] } }), /tensor "w": dtype must be one of F32, F16/);
  assert.throws(bad({ w: { dtype: 'I32', shape: [2], data: [1, 1.5] } }), /tensor "w": value 1.5 at index 1 is not an integer/);
  assert.throws(bad({ w: { dtype: 'U8', shape: [1], data: [256] } }), /tensor "w": value 256 at index 0 is not an integer in \[0, 255\]/);
  assert.throws(bad({ w: { dtype: 'BOOL', shape: [1], data: [2] } }), /tensor "w": value 2 at index 0 is not an integer in \[0, 1\]/);
  assert.throws(bad({ __metadata__: { shape: [], data: [1] } }), /tensor "__metadata__": the name is reserved/);
  assert.throws(bad({}, { k: 3 }), /metadata\["k"\] must be a string, got 3/);
});

test('toTensor: F16 → float32, I64 → int32 (range-checked), BOOL → bool, U8 → int32', async () => {
  const file = parseSafetensors(
    serializeSafetensors({
      h: { dtype: 'F16', shape: [2, 1], data: [1, -2.5] },
      ids: { shape: [3], data: new BigInt64Array([0n, -7n, 2147483647n]) },
      far: { shape: [2], data: new BigInt64Array([1n, 3000000000n]) },
      mask: { dtype: 'BOOL', shape: [2], data: [0, 1] },
      bytes: { shape: [2], data: new Uint8Array([200, 3]) },
    }),
  );
  const before = tf.memory().numTensors;
  const h = toTensor(file.tensors.get('h')!, 'h');
  assert.equal(h.dtype, 'float32');
  assert.deepEqual(h.shape, [2, 1]);
  same(await h.data(), [1, -2.5]);
  const ids = toTensor(file.tensors.get('ids')!, 'ids');
  assert.equal(ids.dtype, 'int32');
  same(await ids.data(), [0, -7, 2147483647]);
  assert.throws(() => toTensor(file.tensors.get('far')!, 'model.far'), /model\.far: I64 value 3000000000 at index 1 is outside the int32 range/);
  const mask = toTensor(file.tensors.get('mask')!);
  assert.equal(mask.dtype, 'bool');
  same(await mask.data(), [0, 1]);
  const u8 = toTensor(file.tensors.get('bytes')!);
  assert.equal(u8.dtype, 'int32');
  same(await u8.data(), [200, 3]);
  tf.dispose([h, ids, mask, u8]);
  assert.equal(tf.memory().numTensors, before);
});

test('tensorsToWrite reads TF.js tensors and writes float32 as BF16 on request', async () => {
  const a = tf.tensor([1, -2.5, 1 + 2 ** -8], [3], 'float32');
  const ids = tf.tensor([4, 5], [2], 'int32');
  const flags = tf.tensor([1, 0], [1, 2], 'bool');
  const written = await tensorsToWrite(new Map([['a', a], ['ids', ids], ['flags', flags]]), 'BF16');
  assert.deepEqual(Object.keys(written).sort(), ['a', 'flags', 'ids']);
  const file = parseSafetensors(serializeSafetensors(written));
  assert.deepEqual(u16s(file.tensors.get('a')!), [0x3f80, 0xc020, 0x3f80]); // 1 + 2^-8 ties to even
  assert.equal(file.tensors.get('ids')!.dtype, 'I32');
  assert.equal(file.tensors.get('flags')!.dtype, 'BOOL');
  assert.deepEqual(file.tensors.get('flags')!.shape, [1, 2]);
  await assert.rejects(tensorsToWrite({ a }, 'F64' as never), /dtype must be F32, F16 or BF16, got "F64"/);
  tf.dispose([a, ids, flags]);
});

test('writeSafetensors is atomic: complete replacement or nothing, and no temp file left', async () => {
  const sub = join(dir, 'atomic');
  await mkdir(sub);
  const path = join(sub, 'adapter.safetensors');
  await writeSafetensors(path, { w: { shape: [2], data: [1, 2] } }, { v: '1' });
  const first = await readFile(path);
  assert.deepEqual((await readSafetensors(path)).metadata, { format: 'pt', v: '1' });

  await writeSafetensors(path, { w: { shape: [3], data: [3, 4, 5] } }, { v: '2' });
  const second = await readSafetensors(path);
  same(toFloat32(second.tensors.get('w')!), [3, 4, 5]);
  assert.deepEqual(await readdir(sub), ['adapter.safetensors']);

  // A value that cannot be encoded fails midway: the old file survives and the temp file is gone.
  await writeSafetensors(path, { w: { shape: [2], data: [1, 2] } }, { v: '3' });
  const kept = await readFile(path);
  await assert.rejects(
    writeSafetensors(path, { a: { shape: [1], data: [1] }, z: { dtype: 'U8', shape: [1], data: [300] } }),
    /tensor "z": value 300/,
  );
  assert.deepEqual(await readFile(path), kept);
  assert.deepEqual(await readdir(sub), ['adapter.safetensors']);

  // Just before the rename the temp file is complete and the target still holds the old bytes;
  // a crash there (the hook throws) leaves the target as it was.
  let seenTemp = '';
  await assert.rejects(
    writeSafetensors(path, { w: { shape: [1], data: [9] } }, {}, {
      async beforeRename(temp) {
        seenTemp = temp;
        assert.match(temp, /adapter\.safetensors\.tmp-\d+-[0-9a-f]+$/);
        assert.deepEqual(await readFile(path), kept);
        same(toFloat32(parseSafetensors(await readFile(temp)).tensors.get('w')!), [9]);
        throw new Error('simulated crash');
      },
    }),
    /simulated crash/,
  );
  assert.ok(seenTemp !== '');
  assert.deepEqual(await readFile(path), kept);
  assert.deepEqual(await readdir(sub), ['adapter.safetensors']);
  assert.notDeepEqual(first, kept);

  // writeFileAtomic on its own: a writer that dies after a partial write changes nothing.
  await assert.rejects(
    writeFileAtomic(path, async (_h, writeAt) => {
      await writeAt(new Uint8Array([1, 2, 3]), 0);
      throw new Error('disk full');
    }),
    /disk full/,
  );
  assert.deepEqual(await readFile(path), kept);
  assert.deepEqual(await readdir(sub), ['adapter.safetensors']);
});

async function writeShards(name: string): Promise<string> {
  const ckpt = join(dir, name);
  await mkdir(ckpt);
  await writeSafetensors(join(ckpt, 'model-00001-of-00002.safetensors'), {
    'a.weight': { shape: [2, 2], data: [1, 2, 3, 4] },
    'a.bias': { dtype: 'F16', shape: [2], data: [0.5, -0.5] },
  });
  await writeSafetensors(join(ckpt, 'model-00002-of-00002.safetensors'), {
    'b.weight': { dtype: 'BF16', shape: [3], data: [1, 2, 3] },
  });
  const index = {
    metadata: { total_size: 32 },
    weight_map: {
      'a.weight': 'model-00001-of-00002.safetensors',
      'a.bias': 'model-00001-of-00002.safetensors',
      'b.weight': 'model-00002-of-00002.safetensors',
    },
  };
  await writeFile(join(ckpt, 'model.safetensors.index.json'), JSON.stringify(index));
  return ckpt;
}

test('sharded checkpoint: the index names two shards and every tensor is read', async () => {
  const ckpt = await writeShards('sharded');
  const files = await listCheckpointFiles(ckpt);
  assert.deepEqual(files, [join(ckpt, 'model-00001-of-00002.safetensors'), join(ckpt, 'model-00002-of-00002.safetensors')]);
  const seen: [string, number[], string][] = [];
  await forEachCheckpointTensor(ckpt, (name, t, file) => {
    seen.push([name, Array.from(toFloat32(t, name)), file.slice(ckpt.length + 1)]);
  });
  assert.deepEqual(seen.sort(), [
    ['a.bias', [0.5, -0.5], 'model-00001-of-00002.safetensors'],
    ['a.weight', [1, 2, 3, 4], 'model-00001-of-00002.safetensors'],
    ['b.weight', [1, 2, 3], 'model-00002-of-00002.safetensors'],
  ]);
  const header = await readSafetensorsHeader(files[1]);
  assert.deepEqual(header.tensors.get('b.weight'), { dtype: 'BF16', shape: [3], dataOffsets: [0, 6] });

  // A single-file checkpoint is just that file, and wins over an index like in transformers.
  await writeSafetensors(join(ckpt, 'model.safetensors'), { x: { shape: [], data: [1] } });
  assert.deepEqual(await listCheckpointFiles(ckpt), [join(ckpt, 'model.safetensors')]);
});

test('sharded checkpoint problems are reported naming the file', async () => {
  const ckpt = await writeShards('broken');
  const indexPath = join(ckpt, 'model.safetensors.index.json');
  const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

  await rm(join(ckpt, 'model-00002-of-00002.safetensors'));
  await assert.rejects(
    listCheckpointFiles(ckpt),
    new RegExp(`^InputFileError: ${esc(indexPath)}: shard "model-00002-of-00002.safetensors" \\(1 tensors, e.g. "b.weight"\\) is missing`),
  );

  await writeFile(indexPath, '{"weight_map": {"a.weight": "model-00001-of-00002.safetensors",');
  await assert.rejects(listCheckpointFiles(ckpt), new RegExp(`${esc(indexPath)}: not valid JSON`));
  await writeFile(indexPath, '{"weight_map": ["model-00001-of-00002.safetensors"]}');
  await assert.rejects(listCheckpointFiles(ckpt), new RegExp(`${esc(indexPath)}: "weight_map" must be an object`));
  await writeFile(indexPath, '{"weight_map": {"a.weight": "../model-00001-of-00002.safetensors"}}');
  await assert.rejects(listCheckpointFiles(ckpt), new RegExp(`${esc(indexPath)}: weight_map\\["a.weight"\\] must be a shard file name inside`));
  await writeFile(indexPath, '{"weight_map": {"a.weight": "model-00001-of-00002.safetensors", "c.weight": "model-00001-of-00002.safetensors"}}');
  await assert.rejects(
    listCheckpointFiles(ckpt),
    new RegExp(`${esc(join(ckpt, 'model-00001-of-00002.safetensors'))}: tensor "c.weight" is listed in model.safetensors.index.json but is not in this shard`),
  );

  // A corrupt shard is reported by the shard's own path.
  await writeFile(indexPath, '{"weight_map": {"a.weight": "model-00001-of-00002.safetensors"}}');
  const shard = join(ckpt, 'model-00001-of-00002.safetensors');
  await writeFile(shard, (await readFile(shard)).subarray(0, 40));
  await assert.rejects(listCheckpointFiles(ckpt), new RegExp(`^SafetensorsError: ${esc(shard)}: header length \\d+ runs past the end`));

  const empty = join(dir, 'empty');
  await mkdir(empty);
  await assert.rejects(listCheckpointFiles(empty), new RegExp(`${esc(empty)}: no model.safetensors or model.safetensors.index.json`));
});

test('a tensor found in two shards is an error naming both files', async () => {
  const ckpt = await writeShards('twice');
  await writeSafetensors(join(ckpt, 'model-00002-of-00002.safetensors'), {
    'b.weight': { shape: [1], data: [1] },
    'a.weight': { shape: [1], data: [1] },
  });
  await assert.rejects(
    forEachCheckpointTensor(ckpt, () => undefined),
    /model-00002-of-00002\.safetensors: tensor "a.weight" is also in .*model-00001-of-00002\.safetensors/,
  );
});
