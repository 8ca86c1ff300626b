// The slice of @tensorflow/tfjs-backend-wasm 4.22's BackendWasm that the project's kernels use. None of it
// is exported with types, so it is declared here once; every cast to it lives in `asWasmBackend`.
import type { DataId, DataType, TensorInfo } from '@tensorflow/tfjs-core';

type WasmArg = 'number' | 'array';

interface WasmModule {
  asm?: { memory?: unknown }; // Emscripten's exports of the module, its heap among them
  cwrap(name: string, returnType: null, argTypes: WasmArg[]): (...args: unknown[]) => void;
  tfjs: {
    registerTensor(id: number, size: number, memoryOffset: number): void;
    disposeData(id: number): void;
  };
}

interface WasmTensorData {
  id: number; // the tensor's id on the C++ side
  memoryOffset: number; // byte offset into the wasm heap
  shape: number[]; // as made; a kernel that returns a reshaped output updates it
}

export interface WasmBackend {
  wasm: WasmModule;
  dataIdMap: { get(dataId: DataId): WasmTensorData };
  dataIdNextNumber: number;
  makeOutput(shape: number[], dtype: DataType): TensorInfo;
  typedArrayFromHeap(info: TensorInfo): Float32Array | Int32Array | Uint8Array;
  disposeData(dataId: DataId): boolean;
}

export function asWasmBackend(backend: unknown): WasmBackend {
  return backend as WasmBackend;
}

/** The backend's heap as a WebAssembly.Memory another module can import, or null where the build hides it. */
export function heapMemory(backend: WasmBackend): WebAssembly.Memory | null {
  const memory = backend.wasm.asm?.memory;
  return memory instanceof WebAssembly.Memory ? memory : null;
}

/** The C++ id and heap offset of a tensor the backend owns. */
export function wasmData(backend: WasmBackend, info: TensorInfo): WasmTensorData {
  return backend.dataIdMap.get(info.dataId);
}

/**
 * Registers `size` float32 elements starting at `byteOffset` (inside some tensor's memory) as a tensor the
 * C++ side can address by id, without copying. Release with `releaseView`, never `disposeData`, which
 * would free memory the view does not own.
 */
export function registerView(backend: WasmBackend, byteOffset: number, size: number): number {
  const id = backend.dataIdNextNumber++;
  backend.wasm.tfjs.registerTensor(id, size, byteOffset);
  return id;
}

/** Forgets a view's id on the C++ side (and any XNNPACK operator cached on it); the memory stays. */
export function releaseView(backend: WasmBackend, id: number): void {
  backend.wasm.tfjs.disposeData(id);
}
