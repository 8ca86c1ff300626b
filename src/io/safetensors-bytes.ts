// Typed-array views over little-endian file bytes. A tensor's bytes may sit at any offset of the
// file buffer, and typed arrays need aligned offsets, so unaligned data is copied once; big-endian
// hosts (none that Node ships for today) get their bytes swapped rather than misread.

export const HOST_IS_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

type Ctor<T> = { new (buffer: ArrayBufferLike, byteOffset: number, length: number): T; BYTES_PER_ELEMENT: number };

/** Reverses each `size`-byte element of `bytes` in place. */
export function swapBytes(bytes: Uint8Array, size: number): void {
  for (let i = 0; i + size <= bytes.length; i += size) {
    for (let a = i, b = i + size - 1; a < b; a++, b--) {
      const t = bytes[a];
      bytes[a] = bytes[b];
      bytes[b] = t;
    }
  }
}

/**
 * A host-order typed array over little-endian `bytes`. It is a view (no copy) when it can be, so
 * callers must treat it as read-only and copy before handing it out.
 */
export function readView<T>(bytes: Uint8Array, type: Ctor<T>): T {
  const size = type.BYTES_PER_ELEMENT;
  const length = bytes.length / size;
  if (HOST_IS_LITTLE_ENDIAN && bytes.byteOffset % size === 0) return new type(bytes.buffer, bytes.byteOffset, length);
  const copy = bytes.slice();
  if (!HOST_IS_LITTLE_ENDIAN) swapBytes(copy, size);
  return new type(copy.buffer, 0, length);
}

/** The little-endian bytes of a host-order typed array (a view on little-endian hosts). */
export function littleEndianBytes(values: ArrayBufferView): Uint8Array {
  const bytes = new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
  if (HOST_IS_LITTLE_ENDIAN) return bytes;
  const copy = bytes.slice();
  swapBytes(copy, (values as unknown as { BYTES_PER_ELEMENT: number }).BYTES_PER_ELEMENT);
  return copy;
}
