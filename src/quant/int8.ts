// int8 with one scale per output row (symmetric, LLM.int8()'s row-wise "vector" quantization without
// its outlier columns): scale = absmax(row) / 127 in float32, q = round-half-to-even(x / scale)
// clamped to ±127, x ≈ q · scale. An all-zero row has scale 0 and dequantizes to zeros.
// Plain arrays only (no TF.js).

/** One int8 weight: `values` [rows, cols] row-major, `scales` one float32 per row. */
export interface Int8Rows {
  readonly rows: number;
  readonly cols: number;
  readonly values: Int8Array;
  readonly scales: Float32Array;
}

export function int8Bytes(rows: number, cols: number): number {
  return rows * cols + 4 * rows;
}

/** Round half to even (banker's rounding): 2.5 → 2, 3.5 → 4, −2.5 → −2. */
export function roundHalfEven(x: number): number {
  const r = Math.round(x); // halves go up (toward +∞)
  return Math.abs(x - Math.trunc(x)) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

export function quantizeInt8(values: Float32Array, rows: number, cols: number): Int8Rows {
  if (values.length !== rows * cols) throw new Error(`quantizeInt8: ${values.length} values for a [${rows}, ${cols}] weight`);
  const q = new Int8Array(rows * cols);
  const scales = new Float32Array(rows);
  for (let r = 0; r < rows; r++) {
    const row = values.subarray(r * cols, (r + 1) * cols);
    let max = 0;
    for (let j = 0; j < cols; j++) max = Math.max(max, Math.abs(row[j]));
    const scale = Math.fround(max / 127);
    scales[r] = scale;
    if (scale === 0) continue;
    for (let j = 0; j < cols; j++) q[r * cols + j] = Math.max(-127, Math.min(127, roundHalfEven(Math.fround(row[j] / scale))));
  }
  return { rows, cols, values: q, scales };
}

export function dequantizeInt8(q: Int8Rows): Float32Array {
  const out = new Float32Array(q.rows * q.cols);
  for (let r = 0; r < q.rows; r++) {
    const scale = q.scales[r];
    for (let j = 0; j < q.cols; j++) out[r * q.cols + j] = Math.fround(q.values[r * q.cols + j] * scale);
  }
  return out;
}
