// Keys and values of positions already processed, one pair per decoder layer, so each generation step
// only runs the new token through the model (Seq2SeqCache: T5's decoder, with the encoder's cross-attention
// keys/values kept too). The caches own their tensors: call dispose() when done.
import { tf } from '../engine/tf.js';

export class KVCache {
  private readonly keys: (tf.Tensor4D | undefined)[];
  private readonly values: (tf.Tensor4D | undefined)[];

  constructor(readonly numLayers: number) {
    this.keys = new Array(numLayers).fill(undefined);
    this.values = new Array(numLayers).fill(undefined);
  }

  /** Number of cached positions (S of the stored [B, nKV, S, hd] tensors). */
  get length(): number {
    return this.keys[0]?.shape[2] ?? 0;
  }

  /**
   * Appends this step's k, v [B, nKV, T, hd] for `layer` and returns the full [B, nKV, S+T, hd]
   * tensors. They are kept out of the caller's tf.tidy and replace the previous ones, which are freed.
   */
  append(layer: number, k: tf.Tensor4D, v: tf.Tensor4D): [tf.Tensor4D, tf.Tensor4D] {
    if (layer < 0 || layer >= this.numLayers) throw new Error(`KVCache has ${this.numLayers} layers, got layer ${layer}`);
    const oldK = this.keys[layer];
    const oldV = this.values[layer];
    const newK = tf.keep(oldK ? tf.concat([oldK, k], 2) : tf.clone(k)); // [B, nKV, S+T, hd]
    const newV = tf.keep(oldV ? tf.concat([oldV, v], 2) : tf.clone(v));
    oldK?.dispose();
    oldV?.dispose();
    this.keys[layer] = newK;
    this.values[layer] = newV;
    return [newK, newV];
  }

  dispose(): void {
    for (let i = 0; i < this.numLayers; i++) {
      this.keys[i]?.dispose();
      this.values[i]?.dispose();
      this.keys[i] = this.values[i] = undefined;
    }
  }
}

/** Keys and values a decoder block of an encoder-decoder attends over: its own (new rows appended) and the encoder's. */
export interface BlockKV {
  selfKV(kNew: tf.Tensor4D, vNew: tf.Tensor4D): [tf.Tensor4D, tf.Tensor4D];
  crossKV(compute: () => [tf.Tensor4D, tf.Tensor4D]): [tf.Tensor4D, tf.Tensor4D];
}

/**
 * Decoder state of one generation: the self-attention keys/values of past positions and the
 * cross-attention keys/values of the encoder output, computed once on the first step. Owns its
 * tensors: call dispose() when done.
 */
export class Seq2SeqCache {
  readonly self: KVCache;
  private readonly cross: ([tf.Tensor4D, tf.Tensor4D] | undefined)[];

  constructor(readonly numLayers: number) {
    this.self = new KVCache(numLayers);
    this.cross = new Array(numLayers).fill(undefined);
  }

  /** Decoder positions already processed. */
  get length(): number {
    return this.self.length;
  }

  blockKV(layer: number): BlockKV {
    return {
      selfKV: (k, v) => this.self.append(layer, k, v),
      crossKV: (compute) => {
        if (!this.cross[layer]) {
          const [k, v] = compute();
          this.cross[layer] = [tf.keep(k), tf.keep(v)]; // outlive the step's tidy, reused every step
        }
        return this.cross[layer]!;
      },
    };
  }

  dispose(): void {
    this.self.dispose();
    for (let i = 0; i < this.numLayers; i++) {
      tf.dispose(this.cross[i]);
      this.cross[i] = undefined;
    }
  }
}
