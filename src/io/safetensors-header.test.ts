import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../math/rng.js';
import { SafetensorsError, parseSafetensors, serializeSafetensors, toFloat32 } from './safetensors.js';
import { findDuplicateKey } from './safetensors-json.js';

/** A file built by hand: u64 LE length, the header text as UTF-8, then `data` (no padding). */
function file(header: string | Uint8Array, data: ArrayLike<number> = [], length?: bigint): Uint8Array {
  const h = typeof header === 'string' ? new TextEncoder().encode(header) : header;
  const out = new Uint8Array(8 + h.length + data.length);
  new DataView(out.buffer).setBigUint64(0, length ?? BigInt(h.length), true);
  out.set(h, 8);
  out.set(data, 8 + h.length);
  return out;
}

const entry = (dtype: string, shape: number[], begin: number, end: number): string =>
  JSON.stringify({ dtype, shape, data_offsets: [begin, end] });
const zeros = (n: number): number[] => new Array<number>(n).fill(0);

interface BadCase {
  rule: string; // which validation rule the case breaks
  bytes: Uint8Array;
  message: RegExp;
}

const A = entry('F32', [2], 0, 8);
const BAD: BadCase[] = [
  { rule: 'short', bytes: new Uint8Array([1, 2, 3]), message: /3 bytes, shorter than the 8-byte header length prefix/ },
  { rule: 'too-large', bytes: file('{}', [], 100_000_001n), message: /header length 100000001 exceeds the 100000000-byte limit/ },
  { rule: 'too-large', bytes: file('{}', [], 2n ** 64n - 1n), message: /header length 18446744073709551615 exceeds/ },
  { rule: 'past-end', bytes: file('{}', [], 50n), message: /header length 50 runs past the end of the file \(only 2 bytes/ },
  { rule: 'utf8', bytes: file(new Uint8Array([0x7b, 0xff, 0x7d])), message: /header is not valid UTF-8/ },
  { rule: 'json', bytes: file('{"a":'), message: /header is not valid JSON/ },
  { rule: 'json', bytes: file('{"a":1}\0\0'), message: /header is not valid JSON/ },
  { rule: 'object', bytes: file('[1,2]'), message: /header must be a JSON object, got an array/ },
  { rule: 'object', bytes: file('"text"'), message: /header must be a JSON object, got "text"/ },
  { rule: 'start', bytes: file(' {}'), message: /header must start with '\{' \(no leading whitespace\), found " "/ },
  { rule: 'dtype', bytes: file(`{"a":${entry('F17', [2], 0, 8)}}`, zeros(8)), message: /tensor "a": unknown dtype "F17"/ },
  { rule: 'dtype', bytes: file(`{"a":${entry('F8_E4M3', [2], 0, 2)}}`, zeros(2)), message: /tensor "a": dtype "F8_E4M3" is valid safetensors but lorapro does not read it/ },
  { rule: 'fields', bytes: file('{"a":{"shape":[2],"data_offsets":[0,8]}}', zeros(8)), message: /tensor "a": missing field "dtype"/ },
  { rule: 'fields', bytes: file('{"a":{"dtype":7,"shape":[2],"data_offsets":[0,8]}}', zeros(8)), message: /tensor "a": dtype must be a string, got 7/ },
  { rule: 'fields', bytes: file('{"a":{"dtype":"F32","data_offsets":[0,8]}}', zeros(8)), message: /tensor "a": missing field "shape"/ },
  { rule: 'fields', bytes: file(`{"a":${entry('F32', [-2], 0, 8)}}`, zeros(8)), message: /tensor "a": shape must be an array of non-negative integers, got \[-2\]/ },
  { rule: 'fields', bytes: file(`{"a":${entry('F32', [1.5], 0, 8)}}`, zeros(8)), message: /tensor "a": shape must be an array of non-negative integers, got \[1.5\]/ },
  { rule: 'fields', bytes: file('{"a":{"dtype":"F32","shape":[2]}}', zeros(8)), message: /tensor "a": missing field "data_offsets"/ },
  { rule: 'fields', bytes: file('{"a":{"dtype":"F32","shape":[2],"data_offsets":[8]}}', zeros(8)), message: /tensor "a": data_offsets must be \[begin, end\] of two non-negative integers, got \[8\]/ },
  { rule: 'fields', bytes: file('{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,-8]}}', zeros(8)), message: /tensor "a": data_offsets must be \[begin, end\].*got \[0,-8\]/ },
  { rule: 'fields', bytes: file('{"a":[1,2]}'), message: /tensor "a": entry must be an object with dtype, shape and data_offsets/ },
  { rule: 'metadata', bytes: file(`{"__metadata__":["x"],"a":${A}}`, zeros(8)), message: /__metadata__ must be an object of string values, got \["x"\]/ },
  { rule: 'metadata', bytes: file(`{"__metadata__":{"k":3},"a":${A}}`, zeros(8)), message: /__metadata__\["k"\] must be a string, got 3/ },
  { rule: 'backwards', bytes: file(`{"a":${entry('F32', [1], 8, 4)}}`, zeros(8)), message: /tensor "a": data_offsets \[8, 4\] run backwards \(begin > end\)/ },
  { rule: 'start-at-0', bytes: file(`{"a":${entry('F32', [1], 4, 8)}}`, zeros(8)), message: /tensor "a": data_offsets \[4, 8\] do not start at 0/ },
  { rule: 'overlap', bytes: file(`{"a":${A},"b":${entry('F32', [2], 4, 12)}}`, zeros(12)), message: /tensor "b": data_offsets \[4, 12\] overlap tensor "a", which ends at 8/ },
  { rule: 'gap', bytes: file(`{"a":${entry('F32', [1], 0, 4)},"b":${entry('F32', [1], 8, 12)}}`, zeros(12)), message: /tensor "b": data_offsets \[8, 12\] leave a gap of 4 bytes after tensor "a"/ },
  { rule: 'size', bytes: file(`{"a":${entry('F32', [2], 0, 4)}}`, zeros(4)), message: /tensor "a": data_offsets \[0, 4\] hold 4 bytes but F32 \[2\] needs 8/ },
  { rule: 'trailing', bytes: file(`{"a":${A}}`, zeros(11)), message: /3 trailing bytes after the last tensor/ },
  { rule: 'missing', bytes: file(`{"a":${A}}`, zeros(5)), message: /file is truncated: tensors end at byte 8 of the byte buffer but it holds only 5 \(3 bytes missing\)/ },
  { rule: 'duplicate', bytes: file(`{"a":${A},"a":${A}}`, zeros(8)), message: /duplicate tensor name "a"/ },
  { rule: 'duplicate', bytes: file('{"a":{"dtype":"F32","dtype":"F32","shape":[2],"data_offsets":[0,8]}}', zeros(8)), message: /duplicate key "dtype" in tensor "a"/ },
  { rule: 'duplicate', bytes: file(`{"__metadata__":{"k":"1","k":"2"},"a":${A}}`, zeros(8)), message: /duplicate key "k" in __metadata__/ },
  { rule: 'overflow', bytes: file(`{"a":${entry('U8', [2 ** 40, 2 ** 40], 0, 0)}}`), message: /tensor "a": shape \[1099511627776,1099511627776\] overflows/ },
  { rule: 'overflow', bytes: file(`{"a":${entry('F64', [2 ** 51], 0, 0)}}`), message: /tensor "a": shape \[2251799813685248\] overflows/ },
];

test('every validation rule rejects its crafted file with its own message naming the file', () => {
  const rules = new Set(BAD.map((c) => c.rule));
  // The 15 rules, with "not JSON / not an object", "overlap / gap / not at 0" and "trailing / missing"
  // told apart: 19 distinct messages.
  assert.equal(rules.size, 19);
  BAD.forEach((c, i) => {
    const source = `/ckpt/case-${i}-${c.rule}.safetensors`;
    let error: unknown;
    try {
      parseSafetensors(c.bytes, source);
    } catch (e) {
      error = e;
    }
    assert.ok(error instanceof SafetensorsError, `case ${i} (${c.rule}) should throw a SafetensorsError, got ${String(error)}`);
    assert.match(error.message, c.message, `case ${i} (${c.rule})`);
    assert.ok(error.message.startsWith(`${source}: `), `case ${i}: message names the file: ${error.message}`);
    assert.equal(error.source, source);
    for (const other of BAD) {
      if (other.rule !== c.rule) assert.doesNotMatch(error.message, other.message, `case ${i} (${c.rule}) also reads as ${other.rule}`);
    }
  });
});

test('the same headers minus the defect parse, so each case fails for its stated reason only', () => {
  const ok = (header: string, data: number[] = []) => parseSafetensors(file(header, data), 'ok.safetensors');
  assert.equal(ok('{}').tensors.size, 0);
  assert.equal(ok(`{"a":${A}}`, zeros(8)).tensors.get('a')?.bytes.length, 8);
  assert.deepEqual(ok(`{"__metadata__":{"k":"1"},"a":${A}}`, zeros(8)).metadata, { k: '1' });
  assert.equal(ok(`{"__metadata__":null,"a":${A}}`, zeros(8)).tensors.size, 1);
  assert.equal(ok(`{"a":${A},"b":${entry('F32', [1], 8, 12)}}`, zeros(12)).tensors.size, 2);
  assert.equal(ok(`{"a":${entry('U8', [2 ** 40, 0], 0, 0)}}`).tensors.get('a')?.bytes.length, 0);
  assert.equal(ok(`{"a":${A}}    `, zeros(8)).tensors.size, 1); // trailing padding spaces are fine
  // Unknown fields in an entry are ignored, as serde does.
  assert.equal(ok(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8],"extra":1}}`, zeros(8)).tensors.size, 1);
  // "__proto__" is just a name: it must not reach Object.prototype.
  const proto = ok(`{"__metadata__":{"__proto__":"x"},"__proto__":${A}}`, zeros(8));
  assert.equal(proto.metadata.__proto__, 'x');
  assert.ok(proto.tensors.has('__proto__'));
  assert.equal(({} as Record<string, unknown>).x, undefined);
});

test('findDuplicateKey sees escaped keys and ignores strings that are values', () => {
  assert.deepEqual(findDuplicateKey('{"a":1,"\\u0061":2}'), { path: [], key: 'a' });
  assert.equal(findDuplicateKey('{"a":"a","b":["a","a"],"c":{"a":1}}'), undefined);
  assert.deepEqual(findDuplicateKey('{"x":[{"k":1,"k":2}]}'), { path: ['x', ''], key: 'k' });
  assert.equal(findDuplicateKey('{"a\\"b":1,"a\\\\":2,"c":"}{"}'), undefined);
  const deep = `${'['.repeat(200000)}${']'.repeat(200000)}`; // no recursion to overflow
  assert.equal(findDuplicateKey(deep), undefined);
});

function mutate(base: Uint8Array, headerEnd: number, rng: Rng): Uint8Array {
  const pick = rng.int(6);
  const structural = [0x7b, 0x7d, 0x5b, 0x5d, 0x22, 0x2c, 0x3a, 0x30, 0x39, 0x2d, 0x5c, 0x20, 0xff];
  const out = base.slice();
  switch (pick) {
    case 0: // overwrite header bytes with JSON-significant characters
    case 1: {
      const times = 1 + rng.int(3);
      for (let k = 0; k < times; k++) out[8 + rng.int(headerEnd - 8)] = structural[rng.int(structural.length)];
      return out;
    }
    case 2: // corrupt the length prefix
      out[rng.int(8)] = rng.int(256);
      return out;
    case 3: // truncate
      return out.slice(0, rng.int(base.length));
    case 4: {
      // append
      const extra = new Uint8Array(1 + rng.int(16)).map(() => rng.int(256));
      const longer = new Uint8Array(base.length + extra.length);
      longer.set(base);
      longer.set(extra, base.length);
      return longer;
    }
    default: {
      // splice: drop a range of the header and insert random bytes in its place
      const at = 8 + rng.int(headerEnd - 8);
      const drop = rng.int(8);
      const insert = new Uint8Array(rng.int(8)).map(() => rng.int(256));
      const spliced = new Uint8Array(base.length - Math.min(drop, base.length - at) + insert.length);
      spliced.set(base.subarray(0, at));
      spliced.set(insert, at);
      spliced.set(base.subarray(Math.min(base.length, at + drop)), at + insert.length);
      return spliced;
    }
  }
}

test('fuzz: seeded mutations either parse or throw a SafetensorsError, quickly', () => {
  const base = serializeSafetensors(
    {
      w: { shape: [2, 3], data: new Float32Array([1, 2, 3, 4, 5, 6]) },
      h: { dtype: 'F16', shape: [2], data: [0.5, -1] },
      ids: { dtype: 'I64', shape: [3], data: new BigInt64Array([1n, 2n, 3n]) },
      mask: { dtype: 'BOOL', shape: [2], data: [1, 0] },
      s: { shape: [], data: [7] },
      empty: { shape: [0, 4], data: [] },
    },
    { note: 'fuzz' },
  );
  const headerEnd = 8 + Number(new DataView(base.buffer).getBigUint64(0, true));
  const rng = new Rng(20240611);
  const deadline = Date.now() + 2500;
  let runs = 0;
  let accepted = 0;
  let slowest = 0;
  while (runs < 4000 && Date.now() < deadline) {
    const bytes = mutate(base, headerEnd, rng);
    const started = performance.now();
    try {
      const parsed = parseSafetensors(bytes, 'fuzz.safetensors');
      for (const [name, t] of parsed.tensors) toFloat32(t, name); // an accepted file is usable
      accepted++;
    } catch (e) {
      if (!(e instanceof SafetensorsError) || !e.message.startsWith('fuzz.safetensors: ')) {
        assert.fail(`mutation ${runs} threw ${(e as Error)?.constructor?.name}: ${String(e)}`);
      }
    }
    slowest = Math.max(slowest, performance.now() - started);
    runs++;
  }
  assert.ok(runs >= 1000, `only ${runs} mutations ran in the time budget`);
  assert.ok(slowest < 250, `a single parse took ${slowest.toFixed(1)} ms`);
  assert.ok(accepted > 0 && accepted < runs, `accepted ${accepted} of ${runs}: the mutations should hit both outcomes`);
});
