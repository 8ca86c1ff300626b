// Helpers for the model tests (not part of the public API): fixture paths, tiny configs and a
// relative-tolerance comparison.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { tf } from '../engine/tf.js';
import { parseModelConfig, type ModelConfig } from '../io/hf-config.js';

/** Golden fixtures written by scripts/parity/make_fixtures.py (dist/models → src/models/fixtures). */
export const FIXTURES_DIR = fileURLToPath(new URL('../../src/models/fixtures/', import.meta.url));

export const FIXTURES = ['gpt2-lm', 'gpt2-cls', 'llama-gqa-f16', 'qwen2-tied-bf16', 'mistral-window', 'bert-cls', 'roberta-cls'] as const;

export interface Expected {
  task: 'causal-lm' | 'sequence-classification';
  input_ids: number[][];
  attention_mask: number[][];
  token_type_ids?: number[][];
  /** [B, T, V] with null at padding positions (causal-lm), or [B, numLabels]. */
  logits: (number[] | null)[][] | number[][];
}

export function fixtureDir(name: string): string {
  return `${FIXTURES_DIR}${name}`;
}

export function readExpected(name: string): Expected {
  return JSON.parse(readFileSync(`${fixtureDir(name)}/expected.json`, 'utf8')) as Expected;
}

export function int2d(rows: number[][]): tf.Tensor2D {
  return tf.tensor2d(rows, [rows.length, rows[0].length], 'int32');
}

/** |actual − expected| ≤ rtol·max(|expected|, 1) elementwise, naming the first offending index. */
export function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, rtol: number, what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < expected.length; i++) {
    const tol = rtol * Math.max(Math.abs(expected[i]), 1);
    if (!(Math.abs(actual[i] - expected[i]) <= tol)) {
      assert.fail(`${what}[${i}]: got ${actual[i]}, expected ${expected[i]} (tolerance ${tol})`);
    }
  }
}

/** Tiny configs for tests that need no checkpoint. */
export const TINY: Record<'gpt2' | 'llama' | 'bert' | 't5', () => ModelConfig> = {
  gpt2: () => parseModelConfig({ model_type: 'gpt2', vocab_size: 40, n_positions: 24, n_embd: 16, n_layer: 2, n_head: 2, pad_token_id: 0 }, 'tiny gpt2'),
  llama: () =>
    parseModelConfig(
      {
        model_type: 'llama',
        vocab_size: 40,
        hidden_size: 16,
        intermediate_size: 24,
        num_hidden_layers: 2,
        num_attention_heads: 4,
        num_key_value_heads: 2,
        tie_word_embeddings: true,
      },
      'tiny llama',
    ),
  bert: () =>
    parseModelConfig(
      { model_type: 'bert', vocab_size: 40, hidden_size: 16, intermediate_size: 24, num_hidden_layers: 2, num_attention_heads: 2, max_position_embeddings: 24 },
      'tiny bert',
    ),
  t5: () =>
    parseModelConfig(
      { model_type: 't5', vocab_size: 40, d_model: 16, d_kv: 4, d_ff: 24, num_layers: 2, num_heads: 2, relative_attention_num_buckets: 8, relative_attention_max_distance: 16, feed_forward_proj: 'gated-gelu', tie_word_embeddings: false },
      'tiny t5',
    ),
};
