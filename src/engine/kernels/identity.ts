// Identity and Cast for the wasm backend without the copy. The stock kernels (tfjs-backend-wasm 4.22) copy
// the whole buffer even when nothing changes, and tfjs-core's gradients call both all the time (every
// mul/div gradient casts its operands to float32; tape bookkeeping clones dys): ~5% of a training step's
// kernel time on the bench decoder. As the cpu backend and wasm's own Reshape do, an unchanged tensor here
// shares its buffer (one more reference) instead; kernels never write into their inputs, so sharing is safe.
//
// Imports tfjs-core directly, not ../tf.js: that module imports this one to register it.
import { Cast, Identity } from '@tensorflow/tfjs-core';
import type { DataType, KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';

interface RefCountingBackend {
  incRef(dataId: TensorInfo['dataId']): void;
  makeOutput(shape: number[], dtype: DataType): TensorInfo;
  typedArrayFromHeap(info: TensorInfo): Float32Array | Int32Array | Uint8Array;
}

/** Another reference to x's buffer, as a new tensor of the same shape and dtype. */
function share(backend: RefCountingBackend, x: TensorInfo): TensorInfo {
  backend.incRef(x.dataId);
  return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
}

function identity(args: { inputs: { x: TensorInfo }; backend: unknown }): TensorInfo {
  return share(args.backend as RefCountingBackend, args.inputs.x);
}

/**
 * Same dtype: shared. Otherwise converted element by element; to bool as nonzero → 1 like the cpu backend
 * (the stock kernel's typed-array copy turned −1 into 255).
 */
function cast(args: { inputs: { x: TensorInfo }; backend: unknown; attrs: { dtype: DataType } }): TensorInfo {
  const backend = args.backend as RefCountingBackend;
  const { x } = args.inputs;
  const { dtype } = args.attrs;
  if (x.dtype === dtype) return share(backend, x);
  const out = backend.makeOutput(x.shape, dtype);
  const from = backend.typedArrayFromHeap(x);
  const to = backend.typedArrayFromHeap(out);
  if (dtype === 'bool') for (let i = 0; i < from.length; i++) to[i] = from[i] !== 0 ? 1 : 0;
  else to.set(from); // float32 → int32 truncates toward zero, as the cpu backend does
  return out;
}

export const identityConfig: KernelConfig = { kernelName: Identity, backendName: 'wasm', kernelFunc: identity as unknown as KernelFunc };
export const castConfig: KernelConfig = { kernelName: Cast, backendName: 'wasm', kernelFunc: cast as unknown as KernelFunc };
