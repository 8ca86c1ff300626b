// LoRA-Pro full mode's Adam moments outside the wasm heap. Its two float32 m×n moments per adapted
// layer are the largest thing a run holds (2·Σ m·n floats: 7.8 GB for a Llama-3.2-1B shape, past the
// heap's 4 GiB on their own), and only the Adam update reads them. Here they are Node Float32Arrays,
// one pair per layer, which the native engine's adamHost kernel updates in place while it reads g̃
// from the heap and writes the direction to it. One owner (this class), one dispose.
import { tf } from '../engine/tf.js';
import { nativeAdamHost } from '../engine/fused.js';
import type { AdamHyper } from './adamw.js';
import type { HostArray } from './optimizer.js';

export class HostMoments {
  private readonly moments = new Map<string, { m: Float32Array; v: Float32Array; shape: number[] }>();

  /** The moment pair `name` (zeros the first time), sized for `shape`. */
  private pair(name: string, shape: readonly number[]): { m: Float32Array; v: Float32Array; shape: number[] } {
    let p = this.moments.get(name);
    if (p === undefined) {
      const n = shape.reduce((a, b) => a * b, 1);
      p = { m: new Float32Array(n), v: new Float32Array(n), shape: [...shape] };
      this.moments.set(name, p);
    }
    return p;
  }

  /**
   * Adam's bias-corrected direction of `g` at step `t` (the caller disposes it); the moments of `name`
   * are updated in place, exactly as adamw.ts adamDirection updates heap moments (the same kernel).
   */
  direction(name: string, g: tf.Tensor, t: number, h: AdamHyper): tf.Tensor {
    const { m, v } = this.pair(name, g.shape);
    return nativeAdamHost(g, { m, v, gScale: 1, beta1: h.beta1, beta2: h.beta2, eps: h.eps, bc1: 1 - h.beta1 ** t, sqrtBc2: Math.sqrt(1 - h.beta2 ** t) });
  }

  /** Bytes held. */
  get bytes(): number {
    let n = 0;
    for (const p of this.moments.values()) n += p.m.byteLength + p.v.byteLength;
    return n;
  }

  /** The moments by slot name ("<module>.exp_avg", "<module>.exp_avg_sq"), as views of the live arrays: a checkpoint writes them before the next step. */
  snapshot(): Map<string, HostArray> {
    const out = new Map<string, HostArray>();
    for (const [name, p] of this.moments) {
      out.set(`${name}.exp_avg`, { shape: [...p.shape], data: p.m }); // views, not copies: at 1 B parameters
      out.set(`${name}.exp_avg_sq`, { shape: [...p.shape], data: p.v }); // a copy doubled the 7.25 GiB of moments while a checkpoint was written
    }
    return out;
  }

  /** Replaces every pair with `state`'s; each slot's shape is checked against `expected` (module → shape). */
  restore(state: ReadonlyMap<string, HostArray>, expected: ReadonlyMap<string, readonly number[]>, who: string): void {
    const next = new Map<string, { m: Float32Array; v: Float32Array; shape: number[] }>();
    for (const [slot, a] of state) {
      const match = /^(.*)\.(exp_avg|exp_avg_sq)$/.exec(slot);
      const shape = match ? expected.get(match[1]) : undefined;
      if (!match || shape === undefined) throw new Error(`${who}: state has unknown slot "${slot}"`);
      if (a.shape.join() !== shape.join() || a.data.length !== shape.reduce((x, y) => x * y, 1)) throw new Error(`${who}: state slot "${slot}" has shape [${a.shape}], expected [${shape}]`);
      const p = next.get(match[1]) ?? { m: new Float32Array(a.data.length), v: new Float32Array(a.data.length), shape: [...shape] };
      (match[2] === 'exp_avg' ? p.m : p.v).set(a.data);
      next.set(match[1], p);
    }
    this.moments.clear();
    for (const [k, p] of next) this.moments.set(k, p);
  }

  dispose(): void {
    this.moments.clear(); // the arrays go with their last reference
  }
}
