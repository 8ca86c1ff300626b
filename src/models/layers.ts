// Small building blocks shared by the model files: embeddings, norms, activations, dropout and a
// list container whose children are named "0", "1", … as in PyTorch's nn.ModuleList.
import { tf } from '../engine/tf.js';
import { geluNewGrad, geluNewWithSigmoid, layerNormForward, layerNormInputGrad, nativeOpsOn, swiglu, swigluGrad, rmsNormForward, rmsNormInputGrad } from '../engine/fused.js';
import { Rng } from '../math/rng.js';
import type { QuantizeMode } from '../quant/formats.js';
import { FrozenEmbedding, FrozenLinear } from './frozen-linear.js';
import { Linear, type LinearLike } from './linear.js';
import { Module } from './module.js';

/**
 * How new parameters are filled: seeded normal(0, std) as Hugging Face's `_init_weights`, or zeros
 * when a checkpoint will overwrite them (no point drawing a billion normals to throw away).
 */
export interface Init {
  readonly rng: Rng;
  readonly std: number;
  readonly random: boolean;
  /**
   * Set when the model is built for loading with its frozen weights outside the heap (engine/frozen.ts):
   * the layers that honour it (the Llama family's linear layers and embeddings) are made empty, to be
   * filled by the checkpoint, and block linear layers quantized as `quantize` says.
   */
  readonly frozen?: { readonly quantize: QuantizeMode };
}

export function randomInit(seed: number, std = 0.02): Init {
  return { rng: new Rng(seed), std, random: true };
}

export function zerosInit(): Init {
  return { rng: new Rng(0), std: 0, random: false };
}

/**
 * Init of a task head: always seeded normal (std 0.02 when the backbone is zero-filled for loading),
 * so a head the checkpoint lacks starts from reproducible weights.
 */
export function headInit(backbone: Init | undefined, seed = 0): Init {
  return { rng: new Rng(seed), std: backbone?.random ? backbone.std : 0.02, random: true };
}

/** A normal(0, init.std) tensor, or zeros when the weights will be loaded. */
export function initWeight(shape: number[], init: Init): tf.Tensor {
  if (!init.random) return tf.zeros(shape, 'float32');
  const n = shape.reduce((a, b) => a * b, 1);
  return tf.tensor(init.rng.normalArray(n, init.std), shape, 'float32');
}

/** A Linear layer initialised per `init` (std 0 makes Linear allocate zeros). */
export function linear(inFeatures: number, outFeatures: number, init: Init, opts: { bias?: boolean; transposeOnLoad?: boolean } = {}): Linear {
  return new Linear(inFeatures, outFeatures, { ...opts, rng: init.rng, std: init.random ? init.std : 0 });
}

/** A linear layer of a model's blocks: frozen (and quantized as `init.frozen` says) when the model is built for the frozen tier. */
export function blockLinear(inFeatures: number, outFeatures: number, init: Init, opts: { bias?: boolean } = {}): Linear | FrozenLinear {
  return init.frozen ? new FrozenLinear(inFeatures, outFeatures, { bias: opts.bias, quantize: init.frozen.quantize }) : linear(inFeatures, outFeatures, init, opts);
}

/** Token embeddings: frozen in the checkpoint's dtype when the model is built for the frozen tier. */
export function tokenEmbedding(num: number, dim: number, init: Init): Embedding | FrozenEmbedding {
  return init.frozen ? new FrozenEmbedding(num, dim) : new Embedding(num, dim, init);
}

/** Narrows a module handed to `onChildReplaced` to a linear layer, naming it when it is not one. */
export function asLinear(m: Module, name: string): LinearLike {
  const l = m as Partial<LinearLike>;
  if (typeof l.forward !== 'function' || typeof l.inFeatures !== 'number' || typeof l.outFeatures !== 'number') {
    throw new Error(`child "${name}" must be replaced by a linear layer, got ${m.constructor.name}`);
  }
  return m as LinearLike;
}

/** Token or position lookup table: weight [num, dim]; ids int32 [...] → [..., dim]. */
export class Embedding extends Module {
  readonly weight: tf.Variable<tf.Rank.R2>;

  constructor(readonly numEmbeddings: number, readonly dim: number, init: Init) {
    super();
    this.weight = this.param('weight', initWeight([numEmbeddings, dim], init) as tf.Tensor2D);
  }

  forward(ids: tf.Tensor): tf.Tensor {
    return tf.gather(this.weight, ids); // [..., dim]
  }
}

/** (x − mean) / sqrt(var + eps) · weight + bias over the last axis (biased variance, as PyTorch). */
export class LayerNorm extends Module {
  readonly weight: tf.Variable<tf.Rank.R1>;
  readonly bias: tf.Variable<tf.Rank.R1>;

  constructor(readonly dim: number, readonly eps: number) {
    super();
    this.weight = this.param('weight', tf.ones([dim], 'float32'));
    this.bias = this.param('bias', tf.zeros([dim], 'float32'));
  }

  forward(x: tf.Tensor): tf.Tensor {
    return layerNorm(x, this.weight, this.bias, this.eps);
  }
}

/**
 * LayerNorm over the last axis with its backward pass written out (the taped one is ~25 small kernels
 * per call): with x̂ = (x − μ)·r, r = 1/√(σ² + eps) and g = dy·weight,
 *   dx = r·(g − mean(g) − x̂·mean(g·x̂)),  dweight = Σ dy·x̂,  dbias = Σ dy  (sums over all but the last axis).
 */
export function layerNorm(x: tf.Tensor, weight: tf.Tensor, bias: tf.Tensor, eps: number): tf.Tensor {
  const f = tf.customGrad(((xs: tf.Tensor, w: tf.Tensor, b: tf.Tensor, save: tf.GradSaveFunc) => {
    const { y, xhat, r } = layerNormForward(xs, w, b, eps); // one fused pass per row on wasm
    save([xhat, r, w]);
    return {
      value: y,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [xh, rs, ws] = saved;
        const lead = Array.from({ length: dy.rank - 1 }, (_, i) => i); // every axis but the last
        return tf.tidy(() => [layerNormInputGrad(dy, xh, rs, ws), tf.sum(tf.mul(dy, xh), lead), tf.sum(dy, lead)]);
      },
    };
  }) as unknown as Parameters<typeof tf.customGrad>[0]);
  return f(x, weight, bias);
}

/** Llama's RMSNorm: x / sqrt(mean(x²) + eps), then · weight (in float32 throughout here). */
export class RMSNorm extends Module {
  readonly weight: tf.Variable<tf.Rank.R1>;

  constructor(readonly dim: number, readonly eps: number) {
    super();
    this.weight = this.param('weight', tf.ones([dim], 'float32'));
  }

  forward(x: tf.Tensor): tf.Tensor {
    return rmsNorm(x, this.weight, this.eps);
  }
}

/**
 * RMSNorm over the last axis with its backward pass written out: with x̂ = x·r, r = 1/√(mean(x²) + eps)
 * and g = dy·weight,  dx = r·(g − x̂·mean(g·x̂)),  dweight = Σ dy·x̂ (over all but the last axis).
 */
export function rmsNorm(x: tf.Tensor, weight: tf.Tensor, eps: number): tf.Tensor {
  const f = tf.customGrad(((xs: tf.Tensor, w: tf.Tensor, save: tf.GradSaveFunc) => {
    const { y, xhat, r } = rmsNormForward(xs, w, eps); // one fused pass per row on wasm
    save([xhat, r, w]);
    return {
      value: y,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [xh, rs, ws] = saved;
        const lead = Array.from({ length: dy.rank - 1 }, (_, i) => i); // every axis but the last
        return tf.tidy(() => [rmsNormInputGrad(dy, xh, rs, ws), tf.sum(tf.mul(dy, xh), lead)]);
      },
    };
  }) as unknown as Parameters<typeof tf.customGrad>[0]);
  return f(x, weight);
}

/** nn.ModuleList: children named by index, so parameter paths read `h.0.attn…`. */
export class ModuleList<M extends Module> extends Module {
  readonly items: M[];

  constructor(items: M[]) {
    super();
    this.items = items.map((m, i) => this.child(String(i), m));
  }

  get length(): number {
    return this.items.length;
  }

  protected override onChildReplaced(name: string, module: Module): void {
    this.items[Number(name)] = module as M;
  }
}

// ---- activations ----------------------------------------------------------------------------

/**
 * GPT-2's gelu_new: 0.5·x·(1 + tanh(u)), u = √(2/π)·(x + 0.044715·x³), computed as x·σ(2u) (the same
 * function: 0.5·(1 + tanh(u)) = σ(2u)) because wasm's Sigmoid is ~4× faster than its Tanh, and with the
 * derivative written out as one expression rather than taped op by op (tf.pow's gradient alone cost
 * ~15% of a training step on wasm): d/dx = s + x·s·(1 − s)·2√(2/π)·(1 + 3·0.044715·x²), s = σ(2u).
 * Argument and derivative are one fused pass each on wasm (engine/fused.ts).
 */
export const geluNew = tf.customGrad(((x: tf.Tensor, save: tf.GradSaveFunc) => {
  const { y, s } = geluNewWithSigmoid(x); // s = σ(2u)
  save([x, s]);
  return {
    value: y,
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => [geluNewGrad(saved[0], saved[1], dy)],
  };
}) as unknown as Parameters<typeof tf.customGrad>[0]) as (x: tf.Tensor) => tf.Tensor;

/** BERT's exact gelu: 0.5·x·(1 + erf(x/√2)). */
export function geluExact(x: tf.Tensor): tf.Tensor {
  return tf.tidy(() => tf.mul(tf.mul(0.5, x), tf.add(1, tf.erf(tf.mul(x, Math.SQRT1_2)))));
}

/** silu / swish: x·σ(x). */
export function silu(x: tf.Tensor): tf.Tensor {
  return tf.tidy(() => tf.mul(x, tf.sigmoid(x)));
}

/**
 * act(gate)·up, Llama's gated MLP. For silu with the gradient written out, du = dh·silu(g),
 * dg = dh·u·σ(g)·(1 + g·(1 − σ(g))), keeping gate and up only: one kernel each way on the native
 * engine, elsewhere a few ops, instead of ~10 taped passes over [B, T, I] keeping four of them. For
 * another activation, the ops as they are.
 */
export function gatedActivation(act: Activation, gate: tf.Tensor, up: tf.Tensor): tf.Tensor {
  if (act !== silu) return tf.mul(act(gate), up);
  const f = tf.customGrad(((g: tf.Tensor, u: tf.Tensor, save: tf.GradSaveFunc) => {
    save([g, u]);
    return { value: swiglu(g, u), gradFunc: (dh: tf.Tensor, saved: tf.Tensor[]) => swigluGrad(saved[0], saved[1], dh) };
  }) as unknown as Parameters<typeof tf.customGrad>[0]);
  return f(gate, up) as tf.Tensor;
}

export type Activation = (x: tf.Tensor) => tf.Tensor;

const ACTIVATIONS: Readonly<Record<string, Activation>> = {
  gelu_new: geluNew,
  gelu_pytorch_tanh: geluNew,
  gelu_fast: geluNew, // same tanh formula with the constants folded differently; equal to float32 rounding
  gelu: geluExact,
  silu,
  swish: silu,
  relu: (x) => tf.relu(x),
  tanh: (x) => tf.tanh(x),
};

/** The activation Hugging Face names `name` (config `activation_function` / `hidden_act`). */
export function activation(name: string): Activation {
  const fn = ACTIVATIONS[name];
  if (fn === undefined) throw new Error(`unsupported activation "${name}"; supported: ${Object.keys(ACTIVATIONS).join(', ')}`);
  return fn;
}

// ---- dropout --------------------------------------------------------------------------------

/** Applies inverted dropout at `rate`, or is the identity (outside training). */
export type Dropout = (x: tf.Tensor, rate: number) => tf.Tensor;

export const noDropout: Dropout = (x) => x;

/** Dropout drawing one seed per call from `rng`, so a seeded run drops the same units. */
export function seededDropout(rng: Rng): Dropout {
  return (x, rate) => (rate > 0 ? tf.dropout(x, rate, undefined, rng.int(2 ** 31)) : x);
}
