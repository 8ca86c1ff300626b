// Keys and values of positions already processed, one pair per decoder layer, so each generation step
// only runs the new token through the model. The cache owns its tensors: call dispose() when done.
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
