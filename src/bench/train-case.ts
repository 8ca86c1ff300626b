// The training step the speed benchmarks time (bench:train, bench:torch): a randomly initialised
// decoder (GPT-2 or Llama style, init N(0, 0.02)), synthetic full-length batches, one trainer step
// (tf.variableGrads of the causal-LM loss, then the method's optimiser), drained by reading the loss.
import { tf } from '../engine/tf.js';
import { setTraining } from '../adapters/inject.js';
import { parseModelConfig } from '../io/hf-config.js';
import { Rng } from '../math/rng.js';
import { createModel } from '../models/auto.js';
import { randomInit } from '../models/layers.js';
import type { CausalLM } from '../models/types.js';
import { setupMethod, type MethodName, type MethodSetup } from '../train/methods.js';
import { hostBatch, type HostBatch } from '../train/run-data.js';
import { stepGradients } from '../train/step.js';

export type Arch = 'gpt2' | 'llama';

export interface BenchShape {
  arch: Arch;
  d: number;
  layers: number;
  heads: number;
  context: number;
  batch: number;
  vocab: number;
  rank: number; // LoRA rank on every linear layer but the head
}

/** S and M of bench:torch; bench:train times S. */
export const SIZES = {
  S: { d: 128, layers: 4, heads: 4 },
  M: { d: 256, layers: 6, heads: 8 },
} as const;

export function benchShape(arch: Arch, size: keyof typeof SIZES, vocab = 1024): BenchShape {
  return { arch, ...SIZES[size], context: 128, batch: 16, vocab, rank: 8 };
}

export function decoderConfig(s: BenchShape) {
  if (s.arch === 'gpt2') return parseModelConfig({ model_type: 'gpt2', vocab_size: s.vocab, n_positions: s.context, n_embd: s.d, n_layer: s.layers, n_head: s.heads }, 'bench gpt2');
  return parseModelConfig(
    { model_type: 'llama', vocab_size: s.vocab, hidden_size: s.d, intermediate_size: 4 * s.d, num_hidden_layers: s.layers, num_attention_heads: s.heads, num_key_value_heads: s.heads, max_position_embeddings: s.context },
    'bench llama',
  );
}

/** A full-length batch of synthetic tokens, every position trained on. */
export function syntheticBatch(s: BenchShape, seed: number): HostBatch {
  const rng = new Rng(seed);
  const items = Array.from({ length: s.batch }, (_, b) => {
    const ids = Array.from({ length: s.context }, () => rng.int(s.vocab));
    return { ids, labels: ids, line: b + 1 };
  });
  return hostBatch(items, 0);
}

export interface TrainCase {
  model: CausalLM;
  setup: MethodSetup;
  batch: HostBatch;
}

export function makeCase(method: MethodName, s: BenchShape): TrainCase {
  const model = createModel(decoderConfig(s), { task: 'causal-lm', init: randomInit(1, 0.02) });
  const setup = setupMethod(model, { method, rank: s.rank, alpha: 16, targetModules: 'all-linear', loraDropout: 0, modulesToSave: [], seed: 0, lr: 1e-4, weightDecay: 0, clipNorm: 1 });
  return { model, setup, batch: syntheticBatch(s, 7) };
}

export function trainableCount(c: TrainCase): number {
  return [...c.setup.params.values()].reduce((n, v) => n + v.size, 0);
}

/** One training step as the trainer takes it; resolves when the backend has finished it. */
export async function step(c: TrainCase): Promise<number> {
  setTraining(c.model, true);
  const { loss, grads } = stepGradients(c.model, c.setup.params, [c.batch]);
  await c.setup.optimizer.step(grads, 1e-4);
  tf.dispose([...grads.values()]);
  const value = (await loss.data())[0];
  loss.dispose();
  return value;
}

export function disposeCase(c: TrainCase): void {
  c.setup.optimizer.dispose();
  c.model.dispose();
}
