// Training with the base on the frozen tier (engine/frozen.ts): the same losses step for step as the
// base on the heap (a bf16 checkpoint, LoRA and LoRA-Pro), and a steady-state step leaves the frozen
// bytes outside the heap, the tensors and the wasm heap exactly where they were. Native engine only.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tf } from '../engine/tf.js';
import { useBackend } from '../engine/backend.js';
import { frozenBytes } from '../engine/frozen.js';
import { nativeStatus } from '../engine/native.js';
import { setTraining } from '../adapters/inject.js';
import { parseModelConfig } from '../io/hf-config.js';
import { Rng } from '../math/rng.js';
import { createModel } from '../models/auto.js';
import { randomInit } from '../models/layers.js';
import { loadPretrained, savePretrained } from '../models/pretrained.js';
import type { QuantizeMode } from '../quant/formats.js';
import { setupMethod, type MethodName } from './methods.js';
import { hostBatch } from './run-data.js';
import { stepGradients } from './step.js';

const status = nativeStatus();
const skip = status.available ? false : `native engine not built: ${status.reason}`;
const CONFIG = { model_type: 'llama', vocab_size: 96, hidden_size: 48, intermediate_size: 72, num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2, max_position_embeddings: 40 };

let written: Promise<string> | undefined;
/** The bf16 checkpoint the runs load, written once (on whichever engine runs first). */
const folder = (): Promise<string> => (written ??= (async () => {
  const dir = mkdtempSync(join(tmpdir(), 'lorapro-frozen-'));
  const model = createModel(parseModelConfig(CONFIG, 'frozen tier'), { task: 'causal-lm', init: randomInit(3, 0.02) });
  try {
    await savePretrained(model, dir, { dtype: 'BF16' });
  } finally {
    model.dispose();
  }
  return dir;
})());

function batch() {
  const rng = new Rng(1);
  return hostBatch(Array.from({ length: 5 }, (_, b) => {
    const ids = Array.from({ length: 37 }, () => rng.int(96));
    return { ids, labels: ids, line: b + 1 };
  }), 0);
}

/** A seeded run from the bf16 folder: its losses, and `probe` called after each step. */
async function run(method: MethodName, frozen: QuantizeMode | undefined, steps: number, probe: (step: number) => void = () => {}): Promise<number[]> {
  const model = await loadPretrained(await folder(), { task: 'causal-lm', frozen: frozen === undefined ? undefined : { quantize: frozen } });
  const setup = setupMethod(model, { method, rank: 4, alpha: 8, targetModules: 'all-linear', loraDropout: 0, modulesToSave: [], seed: 0, lr: 1e-2, weightDecay: 0, clipNorm: 1 });
  const data = batch();
  const out: number[] = [];
  try {
    setTraining(model, true);
    for (let s = 0; s < steps; s++) {
      const { loss, grads } = stepGradients(model, setup.params, [data]);
      await setup.optimizer.step(grads, 1e-2);
      out.push((await loss.data())[0]);
      tf.dispose([loss, ...grads.values()]);
      probe(s);
    }
  } finally {
    setup.optimizer.dispose();
    model.dispose();
  }
  return out;
}

test('a bf16 base on the frozen tier trains to the same losses as on the heap (LoRA, LoRA-Pro)', { skip }, async () => {
  await useBackend('native');
  for (const method of ['lora', 'lora-pro'] as const) {
    const heap = await run(method, undefined, 5);
    const frozen = await run(method, 'none', 5);
    assert.ok(heap[4] < heap[0], `${method}: the loss falls (${heap})`);
    for (let s = 0; s < heap.length; s++) assert.ok(Math.abs(frozen[s] - heap[s]) <= 1e-4 * heap[s], `${method} step ${s + 1}: frozen ${frozen[s]}, heap ${heap[s]}`);
  }
  const nf4 = await run('lora', 'nf4', 5);
  assert.ok(nf4[4] < nf4[0], `nf4: the loss falls (${nf4})`);
});

test('steady-state steps on an nf4 base leave frozen bytes, tensors and the wasm heap flat', { skip }, async () => {
  await useBackend('native');
  const start = frozenBytes();
  const heapBytes = () => (tf.backend() as unknown as { wasm: { asm: { memory: WebAssembly.Memory } } }).wasm.asm.memory.buffer.byteLength;
  const snapshots: { frozen: number; tensors: number; bytes: number; heap: number }[] = [];
  await run('lora-pro', 'nf4', 12, (s) => {
    if (s >= 3) snapshots.push({ frozen: frozenBytes(), tensors: tf.memory().numTensors, bytes: tf.memory().numBytes, heap: heapBytes() });
  });
  assert.ok(snapshots[0].frozen > start, 'the base is outside the heap');
  for (const s of snapshots) assert.deepEqual(s, snapshots[0]);
  assert.equal(frozenBytes(), start, 'dispose gave every frozen byte back');
});
