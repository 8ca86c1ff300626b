// The wasm Transpose of the last two axes: stock kernel vs the project's banded two-pass one
// (src/engine/kernels/transpose.ts), interleaved, median ms per shape. Sets that kernel's thresholds.
// Run: `npx tsc -p . && node dist/bench/transpose.js`.
import os from 'node:os';
import type { KernelConfig, TensorInfo } from '@tensorflow/tfjs-core';
import { tf } from '../engine/tf.js';
import { useBackend } from '../engine/backend.js';
import { stockTranspose, transposeConfig } from '../engine/kernels/transpose.js';
import { measureInterleaved } from './timing.js';

const SHAPES: number[][] = [
  [2048, 1024], [2048, 512], [2048, 384], [2048, 128], [512, 128], [128, 512], [256, 128], [128, 128],
  [16, 4, 128, 128], [16, 4, 128, 32], [64, 128, 32],
];

async function main(): Promise<void> {
  await useBackend('wasm');
  console.log(`# transpose of the last two axes, wasm, ${new Date().toISOString()}, ${os.cpus()[0]?.model.trim()} × ${os.cpus().length}, node ${process.version}`);
  console.log('shape               stock ms   banded ms   stock/banded');
  for (const shape of SHAPES) {
    const x = tf.randomNormal(shape);
    const perm = [...shape.keys()];
    [perm[perm.length - 2], perm[perm.length - 1]] = [perm[perm.length - 1], perm[perm.length - 2]];
    const backend = tf.backend() as unknown as { disposeData(id: object): void };
    const call = (k: KernelConfig) => async () => {
      const out = k.kernelFunc({ inputs: { x }, backend: tf.backend(), attrs: { perm } } as never) as TensorInfo;
      backend.disposeData(out.dataId);
    };
    const t = await measureInterleaved({ stock: call(stockTranspose), banded: call(transposeConfig) }, { warmup: 3, iters: 25 });
    const s = t.medianMs.stock;
    const b = t.medianMs.banded;
    console.log(`${shape.join('x').padEnd(18)} ${s.toFixed(3).padStart(9)} ${b.toFixed(3).padStart(11)} ${(s / b).toFixed(2).padStart(14)}`);
    x.dispose();
  }
}

await main();
