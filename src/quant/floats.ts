// The checkpoint float types a frozen weight may keep as stored (little-endian bytes), widened to
// float32 exactly (float16.ts's conversions).
import { bf16ToFloat32, f16ToFloat32 } from './float16.js';
import type { FrozenFormat } from './formats.js';

/** Stored f32 / bf16 / f16 bytes → float32 values. */
export function widenFloats(format: Extract<FrozenFormat, 'f32' | 'bf16' | 'f16'>, bytes: Uint8Array): Float32Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (format === 'f32') {
    const out = new Float32Array(bytes.byteLength / 4);
    for (let i = 0; i < out.length; i++) out[i] = view.getFloat32(4 * i, true);
    return out;
  }
  const out = new Float32Array(bytes.byteLength / 2);
  const widen = format === 'bf16' ? bf16ToFloat32 : f16ToFloat32;
  for (let i = 0; i < out.length; i++) out[i] = widen(view.getUint16(2 * i, true));
  return out;
}
