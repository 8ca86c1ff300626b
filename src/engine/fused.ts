// Fused elementwise ops: one kernel where the backend has one (wasm: ./kernels/gelu.ts; the native
// engine: ./kernels/native-ops.ts), the same expression op by op elsewhere. Models call these; neither form is differentiable by tape, so each is
// used inside a tf.customGrad that supplies the gradient.
import { tf } from './tf.js';
import { GELU_C1, GELU_C2, GELU_NEW_ARG, GELU_NEW_GRAD } from './kernels/gelu.js';
import { LAYER_NORM, LAYER_NORM_GRAD, RMS_NORM, RMS_NORM_GRAD, layerNormFits } from './kernels/layer-norm.js';
import { NATIVE_ADAM, NATIVE_ADAM_HOST, type HostAdamAttrs, NATIVE_SOFTMAX, NATIVE_SOFTMAX_GRAD, NATIVE_GELU_NEW, NATIVE_SWIGLU, NATIVE_SWIGLU_GRAD, biasLayout, nativeHeap, nativeOpsEnabled, type AdamAttrs } from './kernels/native-ops.js';
import { simdSupported } from './kernels/wasm-asm.js';
import { nativeAddon } from './native.js';
import { asWasmBackend, heapMemory, wasmData } from './kernels/wasm-backend.js';

/**
 * Whether the current backend has the fused kernel `name` and can run it: registered (wasm only), and
 * WebAssembly SIMD with the backend's heap in reach (a non-SIMD browser or a build that hides the heap
 * takes the op-by-op route instead).
 */
const hasKernel = (name: string): boolean =>
  tf.getKernel(name, tf.getBackend()) !== undefined && simdSupported() && heapMemory(asWasmBackend(tf.backend())) !== null;

/** gelu_new's sigmoid argument 2u = x·(2√(2/π) + 2√(2/π)·0.044715·x²), so that gelu_new(x) = x·σ(2u). */
export function geluNewArg(x: tf.Tensor): tf.Tensor {
  if (hasKernel(GELU_NEW_ARG)) return tf.engine().runKernel(GELU_NEW_ARG, { x }) as tf.Tensor;
  return tf.tidy(() => tf.mul(x, tf.add(tf.mul(tf.square(x), GELU_C2), GELU_C1)));
}

/** dL/dx of gelu_new from x, s = σ(2u) and dL/dy: dy·(s + x·s·(1 − s)·(2√(2/π) + 6√(2/π)·0.044715·x²)). */
export function geluNewGrad(x: tf.Tensor, s: tf.Tensor, dy: tf.Tensor): tf.Tensor {
  if (hasKernel(GELU_NEW_GRAD)) return tf.engine().runKernel(GELU_NEW_GRAD, { x, s, dy }) as tf.Tensor;
  return tf.tidy(() => {
    const dArg = tf.add(tf.mul(tf.square(x), 3 * GELU_C2), GELU_C1); // d(2u)/dx
    return tf.mul(dy, tf.add(s, tf.mul(x, tf.mul(tf.mul(s, tf.sub(1, s)), dArg))));
  });
}

/** LayerNorm over the last axis: y = x̂·w + b with x̂ = (x − mean)·r, r = 1/√(var + eps) [..., 1]; also returns x̂ and r. */
export function layerNormForward(x: tf.Tensor, weight: tf.Tensor, bias: tf.Tensor, eps: number): { y: tf.Tensor; xhat: tf.Tensor; r: tf.Tensor } {
  if (hasKernel(LAYER_NORM) && layerNormFits(x.shape) && x.dtype === 'float32') {
    const [y, xhat, r] = tf.engine().runKernel(LAYER_NORM, { x, weight, bias }, { eps }) as tf.Tensor[];
    return { y, xhat, r };
  }
  return tf.tidy(() => {
    const xc = tf.sub(x, tf.mean(x, -1, true)); // [..., C]
    const r = tf.rsqrt(tf.add(tf.mean(tf.square(xc), -1, true), eps)); // [..., 1]
    const xhat = tf.mul(xc, r);
    return { y: tf.add(tf.mul(xhat, weight), bias), xhat, r };
  });
}

/** LayerNorm's dL/dx from dL/dy, x̂, r and the weight: r·(g − mean(g) − x̂·mean(g·x̂)), g = dy·w. */
export function layerNormInputGrad(dy: tf.Tensor, xhat: tf.Tensor, r: tf.Tensor, weight: tf.Tensor): tf.Tensor {
  if (hasKernel(LAYER_NORM_GRAD) && layerNormFits(dy.shape) && dy.dtype === 'float32') {
    return tf.engine().runKernel(LAYER_NORM_GRAD, { dy, xhat, r, weight }) as tf.Tensor;
  }
  return tf.tidy(() => {
    const g = tf.mul(dy, weight);
    return tf.mul(tf.sub(tf.sub(g, tf.mean(g, -1, true)), tf.mul(xhat, tf.mean(tf.mul(g, xhat), -1, true))), r);
  });
}

/** RMSNorm over the last axis: y = x̂·w with x̂ = x·r, r = 1/√(mean(x²) + eps) [..., 1]; also returns x̂ and r. */
export function rmsNormForward(x: tf.Tensor, weight: tf.Tensor, eps: number): { y: tf.Tensor; xhat: tf.Tensor; r: tf.Tensor } {
  if (hasKernel(RMS_NORM) && layerNormFits(x.shape) && x.dtype === 'float32') {
    const [y, xhat, r] = tf.engine().runKernel(RMS_NORM, { x, weight }, { eps }) as tf.Tensor[];
    return { y, xhat, r };
  }
  return tf.tidy(() => {
    const r = tf.rsqrt(tf.add(tf.mean(tf.square(x), -1, true), eps)); // [..., 1]
    const xhat = tf.mul(x, r);
    return { y: tf.mul(weight, xhat), xhat, r };
  });
}

/** RMSNorm's dL/dx from dL/dy, x̂, r and the weight: r·(g − x̂·mean(g·x̂)), g = dy·w. */
export function rmsNormInputGrad(dy: tf.Tensor, xhat: tf.Tensor, r: tf.Tensor, weight: tf.Tensor): tf.Tensor {
  if (hasKernel(RMS_NORM_GRAD) && layerNormFits(dy.shape) && dy.dtype === 'float32') {
    return tf.engine().runKernel(RMS_NORM_GRAD, { dy, xhat, r, weight }) as tf.Tensor;
  }
  return tf.tidy(() => {
    const g = tf.mul(dy, weight);
    return tf.mul(tf.sub(g, tf.mul(xhat, tf.mean(tf.mul(g, xhat), -1, true))), r);
  });
}

/**
 * Whether the native engine's softmax and AdamW kernels run now (./kernels/native-ops.ts): the wasm
 * backend with the addon loaded and switched on. Callers keep their op-by-op route for every other case.
 */
export function nativeOpsOn(): boolean {
  return nativeOpsEnabled() && tf.getBackend() === 'wasm' && tf.getKernel(NATIVE_SOFTMAX, 'wasm') !== undefined && nativeHeap(asWasmBackend(tf.backend())) !== null;
}

/**
 * softmax(x + bias) over the last axis, bias (optional) [B or 1, 1, T, S] over x [B, nH, T, S]: one native
 * pass per row (see nativeOpsOn), else the add and TF.js's Softmax.
 */
export function biasedSoftmax(x: tf.Tensor, bias?: tf.Tensor): tf.Tensor {
  if (nativeOpsOn() && x.dtype === 'float32' && (bias === undefined || biasLayout(x.shape, bias.shape) !== null)) {
    return tf.engine().runKernel(NATIVE_SOFTMAX, bias === undefined ? { x } : { x, bias }, { withLse: false }) as tf.Tensor;
  }
  return tf.tidy(() => tf.softmax(bias === undefined ? x : tf.add(x, bias), -1));
}

/** softmax(z) over the last axis and each row's logsumexp [..., 1 dropped]: one native pass, else three ops. */
export function softmaxWithLse(z: tf.Tensor): { p: tf.Tensor; lse: tf.Tensor } {
  if (nativeOpsOn() && z.dtype === 'float32') {
    const [p, lse] = tf.engine().runKernel(NATIVE_SOFTMAX, { x: z }, { withLse: true }) as tf.Tensor[];
    return { p, lse };
  }
  return { p: tf.softmax(z, -1), lse: tf.logSumExp(z, -1) };
}

/** dL/dx of y = softmax(x) over the last axis: y·(dy − Σ dy·y). */
export function softmaxGrad(y: tf.Tensor, dy: tf.Tensor): tf.Tensor {
  if (nativeOpsOn() && y.dtype === 'float32' && dy.dtype === 'float32') return tf.engine().runKernel(NATIVE_SOFTMAX_GRAD, { y, dy }) as tf.Tensor;
  return tf.tidy(() => tf.mul(y, tf.sub(dy, tf.sum(tf.mul(dy, y), -1, true))));
}

/**
 * One fused AdamW step on the native engine (callers check nativeOpsOn first): [p', m', v'], or with no
 * p [direction, m', v']. The caller owns the three results.
 */
export function nativeAdam(inputs: { p?: tf.Tensor; g: tf.Tensor; m: tf.Tensor; v: tf.Tensor }, attrs: AdamAttrs): [tf.Tensor, tf.Tensor, tf.Tensor] {
  const named = inputs.p === undefined ? { g: inputs.g, m: inputs.m, v: inputs.v } : inputs;
  return tf.engine().runKernel(NATIVE_ADAM, named, attrs as unknown as tf.NamedAttrMap) as [tf.Tensor, tf.Tensor, tf.Tensor];
}

/** Whether Adam's moments can live outside the wasm heap: the native engine on, with its adamHost kernel. */
export function hostAdamOn(): boolean {
  return nativeOpsOn() && typeof nativeAddon()?.adamHost === 'function';
}

/** g's Adam direction, the moments in attrs.m / attrs.v (outside the heap) updated in place; callers check hostAdamOn first. */
export function nativeAdamHost(g: tf.Tensor, attrs: HostAdamAttrs): tf.Tensor {
  return tf.engine().runKernel(NATIVE_ADAM_HOST, { g }, attrs as unknown as tf.NamedAttrMap) as tf.Tensor;
}

/** silu(gate)·up (Llama's gated MLP): one native pass, else three ops. */
export function swiglu(gate: tf.Tensor, up: tf.Tensor): tf.Tensor {
  if (nativeSwigluFits(gate, up)) return tf.engine().runKernel(NATIVE_SWIGLU, { gate, up }) as tf.Tensor;
  return tf.tidy(() => tf.mul(tf.mul(gate, tf.sigmoid(gate)), up));
}

/** [dgate, dup] of silu(gate)·up from dh: dgate = dh·up·σ(g)·(1 + g·(1 − σ(g))), dup = dh·silu(g). One native pass, else ops. */
export function swigluGrad(gate: tf.Tensor, up: tf.Tensor, dh: tf.Tensor): [tf.Tensor, tf.Tensor] {
  if (nativeSwigluFits(gate, up)) return tf.engine().runKernel(NATIVE_SWIGLU_GRAD, { gate, up, dh }) as [tf.Tensor, tf.Tensor];
  return tf.tidy(() => {
    const s = tf.sigmoid(gate);
    const dgate = tf.mul(tf.mul(dh, up), tf.mul(s, tf.add(1, tf.mul(gate, tf.sub(1, s)))));
    return [dgate, tf.mul(dh, tf.mul(gate, s))] as [tf.Tensor, tf.Tensor];
  });
}

const nativeSwigluFits = (gate: tf.Tensor, up: tf.Tensor): boolean => nativeOpsOn() && gate.dtype === 'float32' && gate.shape.join() === up.shape.join();

/** gelu_new's value and s = σ(2u) for its gradient: one native pass (x read once), else three kernels. */
export function geluNewWithSigmoid(x: tf.Tensor): { y: tf.Tensor; s: tf.Tensor } {
  if (nativeOpsOn() && x.dtype === 'float32') {
    const [y, s] = tf.engine().runKernel(NATIVE_GELU_NEW, { x }, { c1: GELU_C1, c2: GELU_C2 }) as tf.Tensor[];
    return { y, s };
  }
  return tf.tidy(() => {
    const s = tf.sigmoid(geluNewArg(x)); // σ(2u)
    return { y: tf.mul(x, s), s };
  });
}

/**
 * LoRA-Pro's r×r Gram of two float32 tensors in Float64, read from the wasm heap in place (no read-back):
 * Σ_k x[k, i]·y[k, j] over the rows of two [len, r] tensors (byRows), else Σ_k x[i, k]·y[j, k] over the
 * columns of two [r, len]. Null where the native engine is off: the caller reads the values back instead.
 */
export function nativeGram(x: tf.Tensor2D, y: tf.Tensor2D, byRows: boolean): Float64Array | null {
  if (!nativeOpsOn() || x.dtype !== 'float32' || y.dtype !== 'float32' || x.shape.join() !== y.shape.join()) return null;
  const backend = asWasmBackend(tf.backend());
  const native = nativeHeap(backend)!;
  const [dx, dy] = [wasmData(backend, x), wasmData(backend, y)];
  if (dx === undefined || dy === undefined) return null; // not on this backend's heap
  const [len, r] = byRows ? x.shape : [x.shape[1], x.shape[0]];
  return native.addon.gram(native.heap, dx.memoryOffset, dy.memoryOffset, len, r, byRows ? 1 : 0);
}
