// Slice and SplitV for the wasm backend without the whole-input copy. The stock Slice (tfjs-backend-wasm
// 4.22) starts with `backend.readSync(x)`, which copies all of x out of the heap, to take even one row of
// it: splitting a fused q/k/v projection [16, 128, 384] three ways copied it three times (~8 ms, more than
// the matmul that made it). Here numeric data is read through a view of the heap; strings keep the stock
// route (they live outside the heap).
//
// Imports tfjs-core directly, not ../tf.js: that module imports this one to register it.
import { Slice, SplitV, backend_util, slice_util, util } from '@tensorflow/tfjs-core';
import type { DataType, KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';

interface HeapBackend {
  makeOutput(shape: number[], dtype: DataType): TensorInfo;
  typedArrayFromHeap(info: TensorInfo): Float32Array | Int32Array | Uint8Array;
  readSync(dataId: TensorInfo['dataId']): unknown;
  dataIdMap: { get(dataId: TensorInfo['dataId']): { stringBytes?: Uint8Array[] } };
}

/** Walks the box begin…begin+size of a row-major `shape`, handing each innermost run (out offset, x offset, length) to `setRun`. */
function copyBox(shape: number[], begin: number[], size: number[], setRun: (outOffset: number, xOffset: number, n: number) => void): void {
  const rank = shape.length;
  const strides = util.computeStrides(shape);
  const run = size[rank - 1];
  const rows = util.sizeFromShape(size.slice(0, -1));
  const idx = new Array<number>(Math.max(0, rank - 1)).fill(0); // odometer over the outer dims of the box
  for (let r = 0; r < rows; r++) {
    let xOffset = begin[rank - 1];
    for (let d = 0; d < rank - 1; d++) xOffset += (begin[d] + idx[d]) * strides[d];
    setRun(r * run, xOffset, run);
    for (let d = rank - 2; d >= 0; d--) {
      if (++idx[d] < size[d]) break;
      idx[d] = 0;
    }
  }
}

function sliceKernel(args: { inputs: { x: TensorInfo }; attrs: { begin: number | number[]; size?: number | number[] }; backend: unknown }): TensorInfo {
  const backend = args.backend as HeapBackend;
  const { x } = args.inputs;
  const [begin, size] = slice_util.parseSliceParams(x as never, args.attrs.begin, args.attrs.size);
  const out = backend.makeOutput(size, x.dtype);
  if (util.sizeFromShape(size) === 0) return out;
  if (x.dtype === 'string') {
    const xVals = backend.readSync(x.dataId) as Uint8Array[];
    const outVals = new Array<Uint8Array>(util.sizeFromShape(size));
    copyBox(x.shape, begin, size, (o, i, n) => {
      for (let k = 0; k < n; k++) outVals[o + k] = xVals[i + k];
    });
    backend.dataIdMap.get(out.dataId).stringBytes = outVals;
    return out;
  }
  const xVals = backend.typedArrayFromHeap(x); // a view: no copy
  const outVals = backend.typedArrayFromHeap(out);
  if (slice_util.isSliceContinous(x.shape, begin, size)) {
    const flat = slice_util.computeFlatOffset(begin, util.computeStrides(x.shape));
    outVals.set(xVals.subarray(flat, flat + util.sizeFromShape(size)));
    return out;
  }
  copyBox(x.shape, begin, size, (o, i, n) => outVals.set(xVals.subarray(i, i + n), o));
  return out;
}

function splitVKernel(args: { inputs: { x: TensorInfo }; attrs: { numOrSizeSplits: number | number[]; axis: number | number[] }; backend: unknown }): TensorInfo[] {
  const { x } = args.inputs;
  const axis = util.parseAxisParam(args.attrs.axis, x.shape)[0];
  const sizes = backend_util.prepareSplitSize(x as never, args.attrs.numOrSizeSplits, axis);
  const begin = new Array<number>(x.shape.length).fill(0);
  return sizes.map((s) => {
    const size = [...x.shape];
    size[axis] = s;
    const part = sliceKernel({ inputs: { x }, attrs: { begin: [...begin], size }, backend: args.backend });
    begin[axis] += s;
    return part;
  });
}

export const sliceConfig: KernelConfig = { kernelName: Slice, backendName: 'wasm', kernelFunc: sliceKernel as unknown as KernelFunc };
export const splitVConfig: KernelConfig = { kernelName: SplitV, backendName: 'wasm', kernelFunc: splitVKernel as unknown as KernelFunc };
