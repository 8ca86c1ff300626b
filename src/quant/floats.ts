// The checkpoint float types a frozen weight may keep as stored (little-endian bytes), widened to
// float32 exactly. (io/safetensors-float.ts converts the other way too; this layer imports nothing.)
import type { FrozenFormat } from './formats.js';

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

function fromBits(bits: number): number {
  u32[0] = bits >>> 0;
  return f32[0];
}

/** IEEE binary16 → float32, exact (subnormals, infinities and NaN included). */
export function f16Value(h: number): number {
  const sign = (h & 0x8000) << 16;
  const exp = (h >> 10) & 0x1f;
  const man = h & 0x3ff;
  if (exp === 0x1f) return fromBits(sign | 0x7f800000 | (man << 13));
  if (exp !== 0) return fromBits(sign | ((exp + 112) << 23) | (man << 13));
  return (sign ? -1 : 1) * man * 2 ** -24;
}

export function bf16Value(b: number): number {
  return fromBits((b & 0xffff) << 16);
}

/** Stored f32 / bf16 / f16 bytes → float32 values. */
export function widenFloats(format: Extract<FrozenFormat, 'f32' | 'bf16' | 'f16'>, bytes: Uint8Array): Float32Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (format === 'f32') {
    const out = new Float32Array(bytes.byteLength / 4);
    for (let i = 0; i < out.length; i++) out[i] = view.getFloat32(4 * i, true);
    return out;
  }
  const out = new Float32Array(bytes.byteLength / 2);
  const widen = format === 'bf16' ? bf16Value : f16Value;
  for (let i = 0; i < out.length; i++) out[i] = widen(view.getUint16(2 * i, true));
  return out;
}
