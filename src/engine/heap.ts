// Recognising a wasm heap that ran out. The wasm backend's heap is one WebAssembly.Memory capped at
// 4 GiB (wasm32); what an allocation past it looks like depends on where it fails: emscripten's
// abort() ("Aborted(). Build with -sASSERTIONS for more info.", a WebAssembly.RuntimeError), a trap
// on an offset past the end ("memory access out of bounds"), a typed-array view that no longer fits
// ("Invalid typed array length", "Start offset ... is outside the bounds of the buffer"), or V8
// refusing a large ArrayBuffer. Callers turn these into one clear out-of-memory error with figures,
// instead of blaming whichever file was being read.
import { tf } from './tf.js';
import { asWasmBackend, heapMemory } from './kernels/wasm-backend.js';

const HEAP_FAILURE = /^Aborted\(|memory access out of bounds|Invalid typed array length|outside the bounds of the buffer|Array buffer allocation failed|Cannot enlarge memory|out of memory|Out of memory/;

/** Whether `e` is what an exhausted wasm heap (or a refused large allocation) throws. */
export function isHeapExhausted(e: unknown): boolean {
  if (e instanceof WebAssembly.RuntimeError) return true;
  return (e instanceof RangeError || e instanceof Error) && HEAP_FAILURE.test((e as Error).message);
}

/** The wasm backend's heap size in bytes now (it only grows), or undefined on another backend. */
export function wasmHeapBytes(): number | undefined {
  if (tf.getBackend() !== 'wasm') return undefined;
  const memory = heapMemory(asWasmBackend(tf.backend()));
  return memory?.buffer.byteLength;
}
