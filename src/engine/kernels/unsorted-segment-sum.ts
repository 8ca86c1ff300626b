// UnsortedSegmentSum for the wasm backend, which ships none; the gradient of tf.gather (every embedding
// lookup) needs it. One pass over the data in TypeScript: the op is O(N), so the wasm heap is read in place.
//
// Imports tfjs-core directly, not ../tf.js: that module imports this one to register it.
import { UnsortedSegmentSum } from '@tensorflow/tfjs-core';
import type { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import { asWasmBackend } from './wasm-backend.js';

/**
 * TF semantics: `segmentIds` has the shape of a prefix of `x`'s shape; out[s, ...] sums every slice of `x`
 * whose id is s. Ids outside [0, numSegments) are dropped, as TF drops negative ids.
 */
function unsortedSegmentSum(args: {
  inputs: { x: TensorInfo; segmentIds: TensorInfo };
  backend: unknown;
  attrs: { numSegments: number };
}): TensorInfo {
  const backend = asWasmBackend(args.backend);
  const { x, segmentIds } = args.inputs;
  const { numSegments } = args.attrs;
  const idsShape = segmentIds.shape;
  if (x.dtype !== 'float32' && x.dtype !== 'int32') {
    throw new Error(`UnsortedSegmentSum on wasm supports float32 and int32 data, got ${x.dtype}`);
  }
  if (idsShape.length > x.shape.length || idsShape.some((d, i) => d !== x.shape[i])) {
    throw new Error(`UnsortedSegmentSum: segmentIds shape [${idsShape}] must be a prefix of data shape [${x.shape}]`);
  }
  if (!Number.isInteger(numSegments) || numSegments < 0) {
    throw new Error(`UnsortedSegmentSum: numSegments must be a non-negative integer, got ${numSegments}`);
  }
  const sliceShape = x.shape.slice(idsShape.length);
  const sliceSize = sliceShape.reduce((p, d) => p * d, 1);
  const out = backend.makeOutput([numSegments, ...sliceShape], x.dtype);
  const outValues = backend.typedArrayFromHeap(out);
  outValues.fill(0); // makeOutput hands back recycled heap memory
  // Read inputs after makeOutput: an allocation may grow the heap and detach earlier views of it.
  const values = backend.typedArrayFromHeap(x);
  const ids = backend.typedArrayFromHeap(segmentIds);
  for (let i = 0; i < ids.length; i++) {
    const s = ids[i];
    if (s < 0 || s >= numSegments) continue;
    const src = i * sliceSize;
    const dst = s * sliceSize;
    for (let j = 0; j < sliceSize; j++) outValues[dst + j] += values[src + j];
  }
  return out;
}

export const unsortedSegmentSumConfig: KernelConfig = {
  kernelName: UnsortedSegmentSum,
  backendName: 'wasm',
  kernelFunc: unsortedSegmentSum as unknown as KernelFunc,
};
