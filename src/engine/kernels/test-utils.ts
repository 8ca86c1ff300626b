// Test helpers: cross-backend parity (the cpu backend is the independent reference), seeded values, and what a tape saves.
import assert from 'node:assert/strict';
import { tf } from '../tf.js';
import { useBackend } from '../backend.js';

export interface Result {
  shape: number[];
  dtype: string;
  values: Float32Array | Int32Array | Uint8Array;
}

/** The outputs of `f` on one engine, read back; `f` seeds its own inputs, so every engine sees the same numbers. */
export async function runOn(backend: 'cpu' | 'wasm' | 'native', f: () => tf.Tensor[]): Promise<Result[]> {
  await useBackend(backend);
  const outs = f(); // f seeds its own inputs, so both backends see the same numbers
  const results = await Promise.all(outs.map(async (t) => ({ shape: t.shape, dtype: t.dtype, values: (await t.data()) as Result['values'] })));
  tf.dispose(outs);
  return results;
}

/** The outputs of `f` computed on cpu and on wasm. */
export async function onCpuAndWasm(f: () => tf.Tensor[]): Promise<{ cpu: Result[]; wasm: Result[] }> {
  const cpu = await runOn('cpu', f);
  const wasm = await runOn('wasm', f);
  return { cpu, wasm };
}

/** Same shape, and every element within `rtol` of the expected value (relative, floored at magnitude 1). */
export function assertClose(actual: Result, expected: { shape: number[]; values: ArrayLike<number> }, what: string, rtol = 1e-4): void {
  assert.deepEqual(actual.shape, expected.shape, `${what}: shape`);
  assert.equal(actual.values.length, expected.values.length, `${what}: size`);
  for (let i = 0; i < actual.values.length; i++) {
    const e = expected.values[i];
    const err = Math.abs(actual.values[i] - e);
    if (!(err <= rtol * Math.max(1, Math.abs(e)))) {
      assert.fail(`${what}: element ${i} is ${actual.values[i]}, expected ${e}`);
    }
  }
}

/** Tensors and backend buffers alive now, to prove a block of work leaves none behind. */
export function liveCounts(): { tensors: number; dataIds: number } {
  return { tensors: tf.memory().numTensors, dataIds: tf.backend().numDataIds() };
}

/** Every combination of transposeA and transposeB. */
export const TRANSPOSES: [boolean, boolean][] = [[false, false], [false, true], [true, false], [true, true]];

/** A matrix-product case: op(a) = [...aBatch, m, k], op(b) = [...bBatch, k, n]. */
export interface MatMulCase {
  aBatch: number[];
  bBatch: number[];
  m: number;
  k: number;
  n: number;
}

/** The stored shape of one side: [..., rows, cols], or [..., cols, rows] where it is transposed. */
export const storedShape = (batch: number[], rows: number, cols: number, transposed: boolean): number[] =>
  transposed ? [...batch, cols, rows] : [...batch, rows, cols];

export const matMulCaseName = (c: MatMulCase, ta: boolean, tb: boolean): string =>
  `[${c.aBatch}|${c.m}x${c.k}] x [${c.bBatch}|${c.k}x${c.n}] transposeA=${ta} transposeB=${tb}`;

/** Seeded values in [-scale, scale) (a small LCG, so every engine sees the same numbers). */
export function values(n: number, seed: number, scale = 4): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = (s / 2 ** 32 - 0.5) * 2 * scale;
  }
  return out;
}

interface TapeNode {
  kernelName: string;
  saved?: tf.Tensor[];
}

/** Runs f under variableGrads and returns the gradients, and what the tape saved per kernel name (in floats). */
export function gradsAndSaved(f: () => tf.Scalar, vars: tf.Variable[]): { grads: Record<string, number[]>; saved: Map<string, number> } {
  const saved = new Map<string, number>();
  const { value, grads } = tf.variableGrads(() => {
    const loss = f();
    const tape = (tf.engine() as unknown as { state: { activeTape: TapeNode[] } }).state.activeTape;
    for (const n of tape) saved.set(n.kernelName, (saved.get(n.kernelName) ?? 0) + (n.saved ?? []).reduce((k, t) => k + t.size, 0));
    return loss;
  }, vars);
  const out = Object.fromEntries(Object.entries(grads).map(([k, g]) => [k, Array.from(g.dataSync())]));
  tf.dispose([value, ...Object.values(grads)]);
  return { grads: out, saved };
}

/** Bytes of the tensors a gradient tape saved while `f` ran (by data buffer: a clone shares its input's). */
export function savedBytes(f: () => tf.Tensor, xs: tf.Tensor[]): number {
  let bytes = 0;
  tf.tidy(() => {
    tf.grads((...inputs: tf.Tensor[]) => {
      const y = f.call(inputs);
      const seen = new Set<unknown>();
      const tape = (tf.engine() as unknown as { state: { activeTape: { saved?: tf.Tensor[] }[] } }).state.activeTape;
      for (const node of tape) for (const t of node.saved ?? []) if (!seen.has(t.dataId)) (seen.add(t.dataId), (bytes += 4 * t.size));
      return tf.sum(y);
    })(xs);
  });
  return bytes;
}

/** Each of `got` equals `want` within `tol` of the largest |value| of that tensor (0: exactly). */
export async function assertSame(got: tf.Tensor[], want: tf.Tensor[], tol: number, what: string): Promise<void> {
  assert.equal(got.length, want.length);
  for (let i = 0; i < got.length; i++) {
    assert.deepEqual(got[i].shape, want[i].shape, `${what} [${i}] shape`);
    const [g, w] = [await got[i].data(), await want[i].data()];
    const scale = Math.max(1e-30, ...Array.from(w, Math.abs));
    let worst = 0;
    for (let j = 0; j < w.length; j++) worst = Math.max(worst, Math.abs(g[j] - w[j]) / scale);
    assert.ok(worst <= tol, `${what} [${i}]: off by ${worst.toExponential(2)} of the largest value (limit ${tol})`);
  }
}
