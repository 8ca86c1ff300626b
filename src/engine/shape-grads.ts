// Gradients that need only their inputs' shapes, without keeping the inputs alive.
//
// tfjs-core 4.22 registers the gradients of Reshape (`inputsToSave: ['x']`), Add and Sub (`['a', 'b']`)
// so that they save their inputs, and reads nothing of them but `.shape` (to reshape dy back, or to sum
// it over broadcast axes). So every reshape and every sum in a forward pass held its inputs' buffers
// until the backward pass reached it: attention's raw scores [B, nH, T, S] (dead once the softmax has
// run), a linear layer's [N, out] product under its bias, a LoRA layer's base and adapter products, each
// residual branch. Here the engine's runKernel hands these kernels their inputs' shapes as an extra
// attribute (the tape keeps a kernel's attrs; the kernels read only their own), and each gradient is
// the stock one, saving nothing and given shape-only stand-ins for the inputs it used to save.
import * as tf from '@tensorflow/tfjs-core';

/** The kernels whose stock gradient reads only the shapes of these saved inputs. */
const SHAPE_ONLY: Record<string, readonly string[]> = { Reshape: ['x'], Add: ['a', 'b'], Sub: ['a', 'b'] };
const ATTR = 'lorapro_inputShapes';

type RunKernel = (name: string, inputs: Record<string, tf.Tensor>, attrs?: Record<string, unknown>) => unknown;

let installed = false;

/** Installs the attribute and the gradients once per process (idempotent); after the stock gradients are registered. */
export function installShapeOnlyGradients(): void {
  if (installed) return;
  installed = true;
  const engine = tf.engine() as unknown as { runKernel: RunKernel };
  const runKernel = engine.runKernel.bind(engine);
  engine.runKernel = (name, inputs, attrs) => {
    const names = SHAPE_ONLY[name];
    if (names === undefined || names.some((n) => inputs[n] === undefined)) return runKernel(name, inputs, attrs);
    return runKernel(name, inputs, { ...attrs, [ATTR]: names.map((n) => inputs[n].shape) });
  };
  for (const [kernelName, names] of Object.entries(SHAPE_ONLY)) {
    const stock = tf.getGradient(kernelName);
    if (stock === undefined) throw new Error(`shape-only gradients: TF.js has no gradient registered for ${kernelName} yet`);
    tf.registerGradient({
      kernelName,
      inputsToSave: [],
      gradFunc: (dy, _saved, attrs) => {
        const shapes = (attrs as Record<string, unknown>)[ATTR] as number[][] | undefined;
        if (shapes === undefined || shapes.length !== names.length) throw new Error(`${kernelName} gradient: its input shapes were not recorded (a ${kernelName} run outside tf.engine().runKernel)`);
        return stock.gradFunc(dy, shapes.map((shape) => ({ shape }) as tf.Tensor), attrs);
      },
    });
  }
}
