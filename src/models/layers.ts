// Small building blocks shared by the model files: embeddings, norms, activations, dropout and a
// list container whose children are named "0", "1", … as in PyTorch's nn.ModuleList.
import { tf } from '../engine/tf.js';
import { Rng } from '../math/rng.js';
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
    return tf.tidy(() => {
      const { mean, variance } = tf.moments(x, -1, true); // [..., 1]
      const xhat = tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, this.eps)));
      return tf.add(tf.mul(xhat, this.weight), this.bias);
    });
  }
}

/** Llama's RMSNorm: x / sqrt(mean(x²) + eps), then · weight (in float32 throughout here). */
export class RMSNorm extends Module {
  readonly weight: tf.Variable<tf.Rank.R1>;

  constructor(readonly dim: number, readonly eps: number) {
    super();
    this.weight = this.param('weight', tf.ones([dim], 'float32'));
  }

  forward(x: tf.Tensor): tf.Tensor {
    return tf.tidy(() => {
      const variance = tf.mean(tf.square(x), -1, true); // [..., 1]
      return tf.mul(this.weight, tf.mul(x, tf.rsqrt(tf.add(variance, this.eps))));
    });
  }
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

const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);

/** GPT-2's gelu_new: 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))). */
export function geluNew(x: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const inner = tf.mul(SQRT_2_OVER_PI, tf.add(x, tf.mul(0.044715, tf.pow(x, 3))));
    return tf.mul(tf.mul(0.5, x), tf.add(1, tf.tanh(inner)));
  });
}

/** BERT's exact gelu: 0.5·x·(1 + erf(x/√2)). */
export function geluExact(x: tf.Tensor): tf.Tensor {
  return tf.tidy(() => tf.mul(tf.mul(0.5, x), tf.add(1, tf.erf(tf.mul(x, Math.SQRT1_2)))));
}

/** silu / swish: x·σ(x). */
export function silu(x: tf.Tensor): tf.Tensor {
  return tf.tidy(() => tf.mul(x, tf.sigmoid(x)));
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
