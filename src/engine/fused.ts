// Fused elementwise ops: one kernel where the backend has one (wasm: ./kernels/gelu.ts), the same
// expression op by op elsewhere. Models call these; neither form is differentiable by tape, so each is
// used inside a tf.customGrad that supplies the gradient.
import { tf } from './tf.js';
import { GELU_C1, GELU_C2, GELU_NEW_ARG, GELU_NEW_GRAD } from './kernels/gelu.js';

const hasKernel = (name: string): boolean => tf.getKernel(name, tf.getBackend()) !== undefined;

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
