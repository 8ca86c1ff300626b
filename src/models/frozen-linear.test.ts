// Llama-family checkpoints loaded onto the frozen tier (weights outside the wasm heap in their own
// dtype, engine/frozen.ts) reproduce the independent PyTorch logits of the parity fixtures, hold no
// float32 copy of their linear or embedding weights on the heap, and give their bytes back on dispose.
// Also on the cpu engine, where the frozen tier's fallback keeps float32 tensors instead.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tf } from '../engine/tf.js';
import { useBackend } from '../engine/backend.js';
import { frozenBytes } from '../engine/frozen.js';
import { nativeStatus } from '../engine/native.js';
import { readSafetensorsHeader } from '../io/safetensors.js';
import { FrozenEmbedding, FrozenLinear } from './frozen-linear.js';
import { loadPretrained } from './pretrained.js';
import { assertClose, fixtureDir, int2d, readExpected } from './testing.js';
import type { CausalLM } from './types.js';

const status = nativeStatus();
const ENGINES = status.available ? (['native', 'cpu'] as const) : (['cpu'] as const);

for (const engine of ENGINES) {
  for (const name of ['llama-gqa-f16', 'qwen2-tied-bf16']) {
    test(`${name} on the frozen tier matches the PyTorch reference on ${engine}`, async () => {
      await useBackend(engine);
      const exp = readExpected(name);
      const before = { bytes: frozenBytes(), tensors: tf.memory().numTensors };
      const model = (await loadPretrained(fixtureDir(name), { task: 'causal-lm', frozen: { quantize: 'none' } })) as CausalLM;
      try {
        const modules = [...model.namedModules().values()];
        assert.ok(modules.some((m) => m instanceof FrozenLinear) && modules.some((m) => m instanceof FrozenEmbedding));
        // what is left on the heap as parameters: norms (and biases) only
        const onHeap = [...model.namedParameters().keys()];
        assert.ok(onHeap.every((n) => /norm\.weight$|\.bias$/.test(n)), `only norms and biases are parameters: ${onHeap.join(', ')}`);
        if (engine === 'native') {
          // the checkpoint's own bytes, as stored: every 2-D tensor but the norms'
          const header = await readSafetensorsHeader(`${fixtureDir(name)}/model.safetensors`);
          const stored = [...header.tensors].filter(([n, t]) => t.shape.length === 2 && !/norm/.test(n)).reduce((s, [, t]) => s + t.dataOffsets[1] - t.dataOffsets[0], 0);
          assert.equal(frozenBytes() - before.bytes, stored);
        }
        const ids = int2d(exp.input_ids);
        const mask = int2d(exp.attention_mask);
        const logits = model.logits(ids, { attentionMask: mask });
        const got = (await logits.array()) as number[][][];
        (exp.logits as (number[] | null)[][]).forEach((row, b) =>
          row.forEach((want, t) => {
            if (want !== null) assertClose(got[b][t], want, 1e-4, `${name} logits[${b}][${t}]`);
          }),
        );
        tf.dispose([logits, ids, mask]);
      } finally {
        model.dispose();
      }
      assert.deepEqual({ bytes: frozenBytes(), tensors: tf.memory().numTensors }, before, 'dispose frees the frozen bytes and tensors');
    });
  }
}
