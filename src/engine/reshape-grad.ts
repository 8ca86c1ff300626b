// Reshape's gradient without keeping its input alive.
//
// tfjs-core 4.22 registers Reshape's gradient with `inputsToSave: ['x']`, only to read x.shape, and so
// every reshape in a forward pass holds its input's buffer until the backward pass reaches it. Most of
// those buffers are live anyway, but not all: attention's raw scores [B, nH, T, S] (dead once the
// softmax has run), a linear layer's [N, out] product feeding a residual sum. Measured on bench:torch's
// GPT-2 M: 48 MB of scores alone. Here the engine's runKernel hands Reshape its input's shape as an
// extra attribute (the tape keeps a kernel's attrs), and the gradient reads the shape from there and
// saves nothing. The kernels themselves read only `shape`.
import * as tf from '@tensorflow/tfjs-core';

const RESHAPE = 'Reshape';

interface ReshapeAttrs {
  shape: number[];
  inputShape?: number[];
}

type RunKernel = (name: string, inputs: Record<string, tf.Tensor>, attrs?: Record<string, unknown>) => unknown;

let installed = false;

/** Installs the attribute and the gradient once per process (idempotent). */
export function installReshapeGradient(): void {
  if (installed) return;
  installed = true;
  const engine = tf.engine() as unknown as { runKernel: RunKernel };
  const runKernel = engine.runKernel.bind(engine);
  engine.runKernel = (name, inputs, attrs) =>
    name === RESHAPE && inputs.x !== undefined ? runKernel(name, inputs, { ...attrs, inputShape: inputs.x.shape }) : runKernel(name, inputs, attrs);
  tf.registerGradient({
    kernelName: RESHAPE,
    inputsToSave: [],
    gradFunc: (dy, _saved, attrs) => {
      const shape = (attrs as unknown as ReshapeAttrs).inputShape;
      if (shape === undefined) throw new Error('Reshape gradient: the input shape was not recorded (a Reshape run outside tf.engine().runKernel)');
      return { x: () => tf.reshape(dy as tf.Tensor, shape) };
    },
  });
}
