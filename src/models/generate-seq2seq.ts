// Generation for an encoder-decoder (T5): the input is encoded once, then the decoder emits one token
// per step from decoder_start_token_id, feeding only the new token against the cache (self-attention
// keys/values of past positions, cross-attention keys/values of the encoder output), or with useCache
// false re-running the whole decoder prefix — the reference the cache is tested against.
import { tf } from '../engine/tf.js';
import { Rng } from '../math/rng.js';
import type { GenerateOptions, GenerateResult } from './generate.js';
import { sampleToken, validateSampling } from './sampling.js';
import { Seq2SeqCache } from './kv-cache.js';
import type { T5ForConditionalGeneration } from './t5.js';

/** Next-token logits [V] of the last decoder position. */
async function lastLogits(model: T5ForConditionalGeneration, decoderInput: number[], enc: tf.Tensor3D, cache: Seq2SeqCache | undefined): Promise<Float32Array> {
  const last = tf.tidy(() => {
    const ids = tf.tensor2d(decoderInput, [1, decoderInput.length], 'int32'); // [1, T]
    const logits = model.decodeLogits(ids, enc, { cache }); // [1, T, V]
    const V = logits.shape[2];
    return tf.reshape(tf.slice(logits, [0, decoderInput.length - 1, 0], [1, 1, V]), [V]);
  });
  try {
    return (await last.data()) as Float32Array;
  } finally {
    last.dispose();
  }
}

/**
 * Generates up to `maxNewTokens` tokens for `inputIds` (the encoder's input, usually ending in EOS):
 * greedy at temperature 0 (default), else seeded sampling with optional top-k / top-p. The returned
 * ids exclude decoder_start_token_id. Leaves no tensors behind.
 *
 * @example
 *   const { ids } = await generateSeq2Seq(t5, tok.encode('translate English to German: hello'), { maxNewTokens: 20 });
 */
export async function generateSeq2Seq(model: T5ForConditionalGeneration, inputIds: number[], opts: GenerateOptions): Promise<GenerateResult> {
  validateSampling(opts);
  if (!Number.isInteger(opts.maxNewTokens) || opts.maxNewTokens < 0) throw new Error(`maxNewTokens must be an integer ≥ 0, got ${opts.maxNewTokens}`);
  if (inputIds.length === 0) throw new Error('generateSeq2Seq needs at least one input token');
  const eosIds = opts.eosTokenId ?? model.config.eosTokenId;
  const eos = new Set<number>(eosIds === undefined ? [] : typeof eosIds === 'number' ? [eosIds] : eosIds);
  const stopAtEos = opts.stopAtEos ?? true;
  const rng = new Rng(opts.seed ?? 0);
  const cache = opts.useCache === false ? undefined : new Seq2SeqCache(model.numDecoderLayers);
  const enc = tf.tidy(() => model.encode(tf.tensor2d(inputIds, [1, inputIds.length], 'int32'))); // [1, S, d]
  const all = [model.config.decoderStartTokenId];
  const out: GenerateResult = { ids: [], logits: opts.returnLogits ? [] : undefined };
  try {
    let input = all;
    for (let step = 0; step < opts.maxNewTokens; step++) {
      const logits = await lastLogits(model, input, enc, cache);
      out.logits?.push(logits);
      const next = sampleToken(logits, opts, rng);
      all.push(next);
      out.ids.push(next);
      if (stopAtEos && eos.has(next)) break;
      input = cache ? [next] : all;
    }
  } finally {
    cache?.dispose();
    enc.dispose();
  }
  return out;
}
