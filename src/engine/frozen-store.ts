// The bytes of every live frozen weight, by handle: what the native kernels read (./kernels/frozen.ts)
// and what `frozenBytes()` counts. ./frozen.ts's FrozenWeight is their one owner; nothing here imports
// TF.js, so the kernels can import it without a circle through ../tf.js.

/** A frozen weight's storage as the native kernels take it. */
export interface FrozenData {
  /** Values as stored: f32/bf16/f16 little-endian bytes, int8 values, packed NF4 codes (nf4-dq: then one absmax code per block). */
  readonly bytes: Uint8Array;
  /** int8: one per row; nf4: one absmax per 64 values; nf4-dq: one absmax2 per 256 blocks, then the offset; else null. */
  readonly scales: Float32Array | null;
  /** The native format number (src/quant/formats.ts `code`). */
  readonly code: number;
  readonly rows: number;
  readonly cols: number;
}

const live = new Map<number, FrozenData>();
let nextHandle = 1;
let liveBytes = 0;

const sizeOf = (d: FrozenData): number => d.bytes.byteLength + (d.scales?.byteLength ?? 0);

export function addFrozen(data: FrozenData): number {
  const handle = nextHandle++;
  live.set(handle, data);
  liveBytes += sizeOf(data);
  return handle;
}

export function removeFrozen(handle: number): void {
  const data = live.get(handle);
  if (data === undefined) return;
  live.delete(handle);
  liveBytes -= sizeOf(data);
}

export function frozenData(handle: number): FrozenData {
  const data = live.get(handle);
  if (data === undefined) throw new Error(`frozen weight ${handle} was disposed (or never made)`);
  return data;
}

/** Bytes held by live frozen weights outside the wasm heap (values and scales). */
export function frozenBytes(): number {
  return liveBytes;
}

/** How many frozen weights are live. */
export function frozenCount(): number {
  return live.size;
}
