// Autoregressive generation for one prompt: the prompt runs once, then each step feeds only the new
// token against the KV cache (or, with useCache false, recomputes the whole sequence — the reference
// the cache is tested against).
import { tf } from '../engine/tf.js';
import { Rng } from '../math/rng.js';
import { KVCache } from './kv-cache.js';
import { sampleToken, validateSampling, type SamplingOptions } from './sampling.js';
import type { CausalLM } from './types.js';

export interface GenerateOptions extends SamplingOptions {
  maxNewTokens: number;
  /** Seed of the sampling draws. Default 0. */
  seed?: number;
  /** Token(s) that end generation; default the config's eos_token_id. */
  eosTokenId?: number | readonly number[];
  /** Stop after emitting an end token (which is included in `ids`). Default true. */
  stopAtEos?: boolean;
  /** Reuse keys/values of earlier positions. Default true. */
  useCache?: boolean;
  /** Also return each step's next-token logits. Default false. */
  returnLogits?: boolean;
}

export interface GenerateResult {
  /** The generated tokens (the prompt not included). */
  ids: number[];
  /** Next-token logits [V] of each step, before temperature and filtering (with `returnLogits`). */
  logits?: Float32Array[];
}

/** Logits of the last position for `input` int32 ids, as a fresh Float32Array [V]. */
async function nextTokenLogits(model: CausalLM, input: number[], cache: KVCache | undefined): Promise<Float32Array> {
  const last = tf.tidy(() => {
    const ids = tf.tensor2d(input, [1, input.length], 'int32'); // [1, T]
    const logits = model.logits(ids, { cache }); // [1, T, V]
    const V = logits.shape[2];
    return tf.reshape(tf.slice(logits, [0, input.length - 1, 0], [1, 1, V]), [V]); // [V]
  });
  try {
    return (await last.data()) as Float32Array;
  } finally {
    last.dispose();
  }
}

/**
 * Continues `promptIds` by up to `maxNewTokens` tokens: greedy at temperature 0 (default), else
 * seeded sampling with optional top-k / top-p. Leaves no tensors behind.
 *
 * @example
 *   const { ids } = await generate(model, tokenizer.encode('Hello'), { maxNewTokens: 20, temperature: 0.7, topP: 0.9, seed: 1 });
 */
export async function generate(model: CausalLM, promptIds: number[], opts: GenerateOptions): Promise<GenerateResult> {
  validateSampling(opts);
  if (!Number.isInteger(opts.maxNewTokens) || opts.maxNewTokens < 0) throw new Error(`maxNewTokens must be an integer ≥ 0, got ${opts.maxNewTokens}`);
  if (promptIds.length === 0) throw new Error('generate needs at least one prompt token');
  if (promptIds.length + opts.maxNewTokens > model.maxPositions) {
    throw new Error(`prompt (${promptIds.length}) + maxNewTokens (${opts.maxNewTokens}) exceeds the model's ${model.maxPositions} positions`);
  }
  const eosIds = opts.eosTokenId ?? model.config.eosTokenId;
  const eos = new Set<number>(eosIds === undefined ? [] : typeof eosIds === 'number' ? [eosIds] : eosIds);
  const stopAtEos = opts.stopAtEos ?? true;
  const rng = new Rng(opts.seed ?? 0);
  const cache = opts.useCache === false ? undefined : new KVCache(model.numLayers);
  const all = [...promptIds];
  const out: GenerateResult = { ids: [], logits: opts.returnLogits ? [] : undefined };
  try {
    let input = all;
    for (let step = 0; step < opts.maxNewTokens; step++) {
      const logits = await nextTokenLogits(model, input, cache);
      out.logits?.push(logits);
      const next = sampleToken(logits, opts, rng);
      all.push(next);
      out.ids.push(next);
      if (stopAtEos && eos.has(next)) break;
      input = cache ? [next] : all;
    }
  } finally {
    cache?.dispose();
  }
  return out;
}
