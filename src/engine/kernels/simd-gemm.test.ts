import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tf } from '../tf.js';
import { useBackend } from '../backend.js';
import { Rng } from '../../math/rng.js';
import { BLOCK_DEPTH, BLOCK_ROWS, TILE_COLS, gemm, gemmModuleBytes, runGemm, scratchFloats, simdGemm, type GemmArgs } from './simd-gemm.js';
import { simdSupported } from './wasm-asm.js';
import { asWasmBackend, heapMemory } from './wasm-backend.js';

/** A fresh 4 MB memory and the kernels bound to it. */
function setup() {
  const memory = new WebAssembly.Memory({ initial: 64 });
  const kernels = simdGemm(memory);
  assert.ok(kernels !== null, 'this Node has WebAssembly SIMD');
  return { memory, kernels, heap: new Float32Array(memory.buffer) };
}

/** A [rows, cols] matrix of uniform values in [-1, 1) drawn from `rng`. */
function random(rng: Rng, rows: number, cols: number): Float64Array {
  return Float64Array.from({ length: rows * cols }, () => 2 * rng.next() - 1);
}

/** The definition, in Float64: C[i, j] = Σ_t A[i, t] B[t, j]. */
function reference(a: Float64Array, b: Float64Array, m: number, k: number, n: number): Float64Array {
  const c = new Float64Array(m * n);
  for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) for (let t = 0; t < k; t++) c[i * n + j] += a[i * k + t] * b[t * n + j];
  return c;
}

function assertNear(actual: ArrayLike<number>, expected: ArrayLike<number>, what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < expected.length; i++) {
    const tol = 1e-5 * (1 + Math.abs(expected[i])) * 8;
    if (!(Math.abs(actual[i] - expected[i]) <= tol)) assert.fail(`${what}: element ${i} is ${actual[i]}, expected ${expected[i]}`);
  }
}

interface Layout {
  columns: boolean; // A stored transposed, [k, m]
  lda: number; // floats between A's stored rows (≥ k, or ≥ m when columns): a block of a larger matrix
}

/**
 * Writes A, B and C's start into the heap as `layout` says, runs `run` with the addressing, and returns C.
 * Floats: A from 0, B after it, C after B (C is pre-filled with `c0` for the accumulate case).
 */
function product(heap: Float32Array, a: Float64Array, b: Float64Array, m: number, k: number, n: number, layout: Layout, c0: Float64Array | null, run: (g: GemmArgs, scratch: number) => void): Float32Array {
  const aFloats = (layout.columns ? k : m) * layout.lda;
  const bAt = aFloats;
  const cAt = bAt + k * n;
  const scratchAt = cAt + m * n;
  for (let i = 0; i < m; i++) for (let t = 0; t < k; t++) heap[layout.columns ? t * layout.lda + i : i * layout.lda + t] = a[i * k + t];
  heap.set(b, bAt);
  heap.fill(Number.NaN, cAt, cAt + m * n); // an overwrite must not read C
  if (c0 !== null) heap.set(c0, cAt);
  const [ai, ak] = layout.columns ? [4, 4 * layout.lda] : [4 * layout.lda, 4];
  run({ a: 0, b: 4 * bAt, c: 4 * cAt, m, n, k, ai, ak, bk: 4 * n, bj: 4, cs: 4 * n, accumulate: c0 !== null }, 4 * scratchAt);
  return heap.slice(cAt, cAt + m * n);
}

test('the kernel module validates and binds to the wasm backend heap (the fast path is taken in Node)', async () => {
  assert.ok(simdSupported(), 'Node 20 validates WebAssembly SIMD');
  assert.ok(WebAssembly.validate(gemmModuleBytes()));
  await useBackend('wasm');
  const memory = heapMemory(asWasmBackend(tf.backend()));
  assert.ok(memory !== null, 'the wasm backend exposes its heap');
  assert.ok(simdGemm(memory) !== null);
});

test('one kernel call equals the definition: A as rows or columns, strided, overwrite and accumulate', () => {
  const { kernels, heap } = setup();
  const rng = new Rng(1);
  const shapes: [number, number, number][] = [[4, 1, 8], [8, 5, 16], [12, 33, 24], [4, 130, 8]];
  for (const [m, k, n] of shapes) {
    for (const columns of [false, true]) {
      for (const accumulate of [false, true]) {
        const a = random(rng, m, k);
        const b = random(rng, k, n);
        const c0 = accumulate ? random(rng, m, n) : null;
        const layout = { columns, lda: (columns ? m : k) + 3 };
        const got = product(heap, a, b, m, k, n, layout, c0, (g) => runGemm(kernels, g));
        const want = reference(a, b, m, k, n).map((v, i) => v + (c0?.[i] ?? 0));
        assertNear(got, want, `${m}x${k}x${n} columns=${columns} accumulate=${accumulate}`);
      }
    }
  }
});

test('the blocked product packs B in blocks of k and walks A in blocks of rows, with remainders', () => {
  const { kernels, heap } = setup();
  const rng = new Rng(2);
  const [m, k, n] = [BLOCK_ROWS * 2 + 4, BLOCK_DEPTH * 2 + 17, 3 * TILE_COLS]; // two full blocks and a part, both ways
  for (const columns of [false, true]) {
    const a = random(rng, m, k);
    const b = random(rng, k, n);
    const layout = { columns, lda: columns ? m : k };
    const got = product(heap, a, b, m, k, n, layout, null, (g, scratch) => gemm(kernels, g, scratch));
    assertNear(got, reference(a, b, m, k, n), `blocked ${m}x${k}x${n} columns=${columns}`);
  }
  assert.equal(scratchFloats(k, n), BLOCK_DEPTH * n);
  assert.equal(scratchFloats(5, n), 5 * n);
});

test('pack lays B out as contiguous strips of 8 columns', () => {
  const { kernels, heap } = setup();
  const [k, n, stride] = [3, 16, 20]; // B's rows 20 floats apart
  for (let t = 0; t < k; t++) for (let j = 0; j < n; j++) heap[t * stride + j] = 100 * t + j;
  const out = 1000;
  kernels.pack(0, 4 * out, k, n, 4 * stride);
  const expected: number[] = [];
  for (let s = 0; s < n / 8; s++) for (let t = 0; t < k; t++) for (let j = 0; j < 8; j++) expected.push(100 * t + 8 * s + j);
  assert.deepEqual([...heap.slice(out, out + k * n)], expected);
});

test('runGemm refuses shapes off the tile multiples, naming them', () => {
  const { kernels } = setup();
  const base = { a: 0, b: 0, c: 0, k: 4, ai: 16, ak: 4, bk: 32, bj: 4, cs: 32, accumulate: false };
  assert.throws(() => runGemm(kernels, { ...base, m: 6, n: 8 }), /m=6 n=8/);
  assert.throws(() => runGemm(kernels, { ...base, m: 4, n: 12 }), /m % 4 = 0, n % 8 = 0/);
});
