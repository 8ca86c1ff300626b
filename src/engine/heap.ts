// Recognising a wasm heap that ran out. The wasm backend's heap is one WebAssembly.Memory capped at
// 4 GiB (wasm32). Its malloc does not fail cleanly there: it may return 0 or a block running past the
// heap's end, which tfjs-backend-wasm 4.22 uses as it is; guardWasmHeap turns both into an error at
// the allocation. Past that, what running out looks like depends on where it fails: emscripten's
// abort() ("Aborted(). Build with -sASSERTIONS for more info.", a WebAssembly.RuntimeError), a trap
// on an offset past the end ("memory access out of bounds"), a typed-array view that no longer fits
// ("Invalid typed array length", "Start offset ... is outside the bounds of the buffer"), or V8
// refusing a large ArrayBuffer. Callers turn these into one clear out-of-memory error with figures,
// instead of blaming whichever file was being read.
import { tf } from './tf.js';
import { asWasmBackend, heapMemory } from './kernels/wasm-backend.js';

const HEAP_FAILURE = /wasm heap cannot allocate|^Aborted\(|memory access out of bounds|Invalid typed array length|outside the bounds of the buffer|Array buffer allocation failed|Cannot enlarge memory|out of memory|Out of memory/;

/** Whether `e` is what an exhausted wasm heap (or a refused large allocation) throws. */
export function isHeapExhausted(e: unknown): boolean {
  // by its message only: a WebAssembly.RuntimeError may also be a real bug ("unreachable", "divide by zero"), not memory
  return e instanceof Error && HEAP_FAILURE.test(e.message);
}

/** The wasm backend's heap size in bytes now (it only grows), or undefined on another backend. */
export function wasmHeapBytes(): number | undefined {
  if (tf.getBackend() !== 'wasm') return undefined;
  const memory = heapMemory(asWasmBackend(tf.backend()));
  return memory?.buffer.byteLength;
}

interface WasmAllocator {
  _malloc(bytes: number): number;
  _free(pointer: number): void;
  HEAPU8: Uint8Array;
}

interface Meter {
  live: number;
  peak: number;
}

const sizes = new Map<number, number>();
const meters = new Set<Meter>();
const guarded = new WeakSet<object>();

/**
 * Wraps the wasm backend's malloc once: an allocation the heap cannot grow to (emscripten's malloc
 * returns 0, and tfjs-backend-wasm 4.22 would go on writing at offset 0) throws a clear error
 * instead; and while a meter runs, live and peak bytes are counted. Call after the wasm backend started.
 */
export function guardWasmHeap(): void {
  if (tf.getBackend() !== 'wasm') return;
  const wasm = asWasmBackend(tf.backend()).wasm as unknown as WasmAllocator;
  if (guarded.has(wasm)) return;
  guarded.add(wasm);
  // emscripten's exports start as trampolines that replace themselves on their first call: resolve them first
  wasm._free(wasm._malloc(8));
  const malloc = wasm._malloc.bind(wasm);
  const free = wasm._free.bind(wasm);
  wasm._malloc = (bytes: number) => {
    const pointer = malloc(bytes) >>> 0;
    // past the heap's end: when the heap cannot grow, this build's malloc can return a block that
    // ends beyond it (measured: 2 GB asked with 2.5 GB held gave an offset 40 KB before the end)
    if (bytes > 0 && (pointer === 0 || pointer + bytes > wasm.HEAPU8.length)) {
      throw new RangeError(`the wasm heap cannot allocate ${bytes} more bytes (heap at ${(wasm.HEAPU8.buffer.byteLength / 2 ** 30).toFixed(2)} GiB; wasm32 caps it at 4 GiB)`);
    }
    if (meters.size > 0) {
      sizes.set(pointer, bytes);
      for (const m of meters) m.peak = Math.max(m.peak, (m.live += bytes));
    }
    return pointer;
  };
  wasm._free = (pointer: number) => {
    const bytes = sizes.get(pointer >>> 0);
    if (bytes !== undefined) {
      sizes.delete(pointer >>> 0);
      for (const m of meters) m.live -= bytes;
    }
    free(pointer);
  };
}

/**
 * Counts the wasm heap's allocations made by the backend from now on: `peak()` is the most bytes they
 * held at once (what the heap must hold above what was live before). Stop it when done.
 *
 * @example
 *   const meter = meterWasmHeap(); await step(); console.log(meter.peak()); meter.stop();
 */
export function meterWasmHeap(): { peak(): number; live(): number; stop(): void } {
  guardWasmHeap();
  const m: Meter = { live: 0, peak: 0 };
  meters.add(m);
  return {
    peak: () => m.peak,
    live: () => m.live,
    stop: () => {
      meters.delete(m);
      if (meters.size === 0) sizes.clear();
    },
  };
}

/**
 * Wasm-heap bytes a taped forward pass leaves for its backward pass: the meter's live bytes once
 * `loss()` has returned, under tf.variableGrads over `vars` (the gradients are then made and freed).
 *
 * @example
 *   const kept = keptForBackward(() => model.loss(ids, ids, undefined, { training: true }), [...model.trainableParameters().values()]);
 */
export function keptForBackward(loss: () => tf.Scalar, vars: tf.Variable[]): number {
  const meter = meterWasmHeap();
  let kept = 0;
  try {
    const { value, grads } = tf.variableGrads(() => {
      const y = loss();
      kept = meter.live();
      return y;
    }, vars);
    tf.dispose([value, ...Object.values(grads)]);
  } finally {
    meter.stop();
  }
  return kept;
}
