// A small matrix-multiply kernel in WebAssembly SIMD, assembled here from its bytecode and run on the
// wasm backend's own heap (it imports the backend's memory, so it reads and writes tensors in place).
//
// Why: XNNPACK, the backend's fast path, packs its right operand into a fresh buffer on every call
// (measured ~8 ns a float for thin operands, ~20 for 2,048-row ones, plus ~20 us to create the
// operator) and takes no transposes. A training step's weight gradients (k = batch x context) and its
// attention products (64 matrices of 128 x 32 x 128 a call) pay that toll over and over. This kernel
// reads both operands where they lie: A as rows or as columns (Aᵀ stored), B as rows.
//
// C[m, n] (+)= A[m, k] · B[k, n], computed in register tiles of 4 rows x 8 columns: per step of k, two
// 4-float loads of B's row, four broadcasts of A's column, eight multiply-adds into accumulators.
// Columns of tiles run outermost so one 8-column strip of B stays in L1 while every row tile uses it.

/** Element addressing, all in bytes: A(i, t) at a + i*ai + t*ak; B(t, j) at b + t*bk + j*bj; C(i, j) at c + i*cs + 4j. */
export interface GemmArgs {
  a: number;
  b: number;
  c: number;
  m: number; // a multiple of TILE_ROWS
  n: number; // a multiple of TILE_COLS
  k: number; // at least 1
  ai: number;
  ak: number;
  bk: number;
  bj: number; // 4 (B's rows as stored), or 4·k for B packed as strips of 8 columns (bk = 32)
  cs: number;
  accumulate: boolean; // C += A·B instead of C = A·B
}

export const TILE_ROWS = 4;
export const TILE_COLS = 8;

type Gemm = (a: number, b: number, c: number, m: number, n: number, k: number, ai: number, ak: number, bk: number, bj: number, cs: number, accumulate: number) => void;
type Pack = (b: number, out: number, k: number, n: number, bk: number) => void;

/** The two kernels: `rows` takes any A strides; `columns` is for ai = 4 (Aᵀ stored), one A pointer. */
export interface SimdGemm {
  rows: Gemm;
  columns: Gemm;
  /** B [k, n] (rows bk bytes apart) → strips of 8 columns, each [k, 8] contiguous: L1 holds a strip whatever B's row stride. */
  pack: Pack;
}

// --- bytecode ---------------------------------------------------------------------------------

const I32 = 0x7f;
const V128 = 0x7b;

function uleb(n: number): number[] {
  const out: number[] = [];
  do {
    let byte = n & 0x7f;
    n >>>= 7;
    if (n !== 0) byte |= 0x80;
    out.push(byte);
  } while (n !== 0);
  return out;
}

function sleb(n: number): number[] {
  const out: number[] = [];
  for (;;) {
    const byte = n & 0x7f;
    n >>= 7;
    if ((n === 0 && (byte & 0x40) === 0) || (n === -1 && (byte & 0x40) !== 0)) {
      out.push(byte);
      return out;
    }
    out.push(byte | 0x80);
  }
}

const vec = (items: number[][]): number[] => [...uleb(items.length), ...items.flat()];
const name = (s: string): number[] => [...uleb(s.length), ...[...s].map((ch) => ch.charCodeAt(0))];
const section = (id: number, body: number[]): number[] => [id, ...uleb(body.length), ...body];

// Instructions (the ones used here)
const op = {
  get: (i: number) => [0x20, ...uleb(i)],
  set: (i: number) => [0x21, ...uleb(i)],
  i32: (v: number) => [0x41, ...sleb(v)],
  add: [0x6a],
  sub: [0x6b],
  mul: [0x6c],
  ltU: [0x49],
  ne: [0x47],
  block: [0x02, 0x40],
  loop: [0x03, 0x40],
  if: [0x04, 0x40],
  else: [0x05],
  end: [0x0b],
  brIf: (depth: number) => [0x0d, ...uleb(depth)],
  simd: (code: number, ...rest: number[]) => [0xfd, ...uleb(code), ...rest],
};
const vLoad = (offset: number) => op.simd(0x00, 2, ...uleb(offset)); // v128.load align=4 bytes
const vLoadSplat = (offset: number) => op.simd(0x09, 2, ...uleb(offset)); // v128.load32_splat
const vStore = (offset: number) => op.simd(0x0b, 2, ...uleb(offset)); // v128.store
const vZero = op.simd(0x0c, ...new Array<number>(16).fill(0)); // v128.const 0
const f32x4Add = op.simd(0xe4);
const f32x4Mul = op.simd(0xe6);

// Parameters, in the order of `Gemm`
const P = { a: 0, b: 1, c: 2, m: 3, n: 4, k: 5, ai: 6, ak: 7, bk: 8, bj: 9, cs: 10, acc: 11 };
const PARAMS = 12;

/** The body of one kernel; `unitRows`: A's rows are 4 bytes apart (one pointer, fixed offsets). */
function kernelBody(unitRows: boolean): number[] {
  // i32 locals
  let next = PARAMS;
  const i0 = next++;
  const j0 = next++;
  const t = next++;
  const pb = next++;
  const pc = next++;
  const pa = [next++, next++, next++, next++];
  const i32Locals = next - PARAMS;
  // v128 locals: 8 accumulators (row r, half h at 2r + h), two halves of B's row, one broadcast of A
  const acc = Array.from({ length: 8 }, () => next++);
  const bv = [next++, next++];
  const av = next++;
  const v128Locals = next - PARAMS - i32Locals;

  const rowPtr = (r: number) => [...op.get(pc), ...op.get(P.cs), ...op.i32(r), ...op.mul, ...op.add]; // pc + r*cs
  const code: number[] = [];
  const emit = (...parts: number[][]) => parts.forEach((p) => code.push(...p));

  emit(op.i32(0), op.set(j0));
  emit(op.loop); // over column strips
  emit(op.i32(0), op.set(i0));
  emit(op.loop); // over row tiles
  // pc = c + i0*cs + 4*j0
  emit(op.get(P.c), op.get(i0), op.get(P.cs), op.mul, op.add, op.get(j0), op.i32(4), op.mul, op.add, op.set(pc));
  // accumulators start from C or from zero
  emit(op.get(P.acc), op.if);
  for (let r = 0; r < 4; r++) for (let h = 0; h < 2; h++) emit(rowPtr(r), vLoad(16 * h), op.set(acc[2 * r + h]));
  emit(op.else);
  for (const v of acc) emit(vZero, op.set(v));
  emit(op.end);
  // pa[0] = a + i0*ai; pa[r] = pa[r-1] + ai
  emit(op.get(P.a), op.get(i0), op.get(P.ai), op.mul, op.add, op.set(pa[0]));
  if (!unitRows) for (let r = 1; r < 4; r++) emit(op.get(pa[r - 1]), op.get(P.ai), op.add, op.set(pa[r]));
  // pb = b + j0*bj
  emit(op.get(P.b), op.get(j0), op.get(P.bj), op.mul, op.add, op.set(pb));
  emit(op.get(P.k), op.set(t));
  emit(op.loop); // over k
  emit(op.get(pb), vLoad(0), op.set(bv[0]), op.get(pb), vLoad(16), op.set(bv[1]));
  for (let r = 0; r < 4; r++) {
    if (unitRows) emit(op.get(pa[0]), vLoadSplat(4 * r), op.set(av));
    else emit(op.get(pa[r]), vLoadSplat(0), op.set(av));
    for (let h = 0; h < 2; h++) emit(op.get(acc[2 * r + h]), op.get(av), op.get(bv[h]), f32x4Mul, f32x4Add, op.set(acc[2 * r + h]));
  }
  for (const p of unitRows ? pa.slice(0, 1) : pa) emit(op.get(p), op.get(P.ak), op.add, op.set(p));
  emit(op.get(pb), op.get(P.bk), op.add, op.set(pb));
  emit(op.get(t), op.i32(1), op.sub, op.set(t), op.get(t), op.brIf(0));
  emit(op.end);
  for (let r = 0; r < 4; r++) for (let h = 0; h < 2; h++) emit(rowPtr(r), op.get(acc[2 * r + h]), vStore(16 * h));
  emit(op.get(i0), op.i32(TILE_ROWS), op.add, op.set(i0), op.get(i0), op.get(P.m), op.ltU, op.brIf(0));
  emit(op.end);
  emit(op.get(j0), op.i32(TILE_COLS), op.add, op.set(j0), op.get(j0), op.get(P.n), op.ltU, op.brIf(0));
  emit(op.end);
  emit(op.end); // function

  const locals = vec([[...uleb(i32Locals), I32], [...uleb(v128Locals), V128]]);
  const body = [...locals, ...code];
  return [...uleb(body.length), ...body];
}

/** The body of `pack(b, out, k, n, bk)`: for each strip of 8 columns, its k rows of 8 floats, one after another. */
function packBody(): number[] {
  const [b, out, k, n, bk] = [0, 1, 2, 3, 4];
  const [j0, t, src, dst] = [5, 6, 7, 8];
  const code = [
    ...op.get(out), ...op.set(dst), ...op.i32(0), ...op.set(j0),
    ...op.loop, // over strips
    ...op.get(b), ...op.get(j0), ...op.i32(4), ...op.mul, ...op.add, ...op.set(src),
    ...op.get(k), ...op.set(t),
    ...op.loop, // over rows
    ...op.get(dst), ...op.get(src), ...vLoad(0), ...vStore(0),
    ...op.get(dst), ...op.get(src), ...vLoad(16), ...vStore(16),
    ...op.get(src), ...op.get(bk), ...op.add, ...op.set(src),
    ...op.get(dst), ...op.i32(32), ...op.add, ...op.set(dst),
    ...op.get(t), ...op.i32(1), ...op.sub, ...op.set(t), ...op.get(t), ...op.brIf(0),
    ...op.end,
    ...op.get(j0), ...op.i32(TILE_COLS), ...op.add, ...op.set(j0), ...op.get(j0), ...op.get(n), ...op.ltU, ...op.brIf(0),
    ...op.end,
    ...op.end,
  ];
  const body = [...vec([[...uleb(4), I32]]), ...code];
  return [...uleb(body.length), ...body];
}

/** The module's bytes: imports env.memory, exports `rows`, `columns` and `pack`. */
export function gemmModuleBytes(): Uint8Array<ArrayBuffer> {
  const i32s = (count: number) => vec(new Array<number[]>(count).fill([I32]));
  const gemmType = [0x60, ...i32s(PARAMS), ...vec([])];
  const packType = [0x60, ...i32s(5), ...vec([])];
  const bytes = [
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, vec([gemmType, packType])),
    ...section(2, vec([[...name('env'), ...name('memory'), 0x02, 0x00, ...uleb(0)]])), // memory, min 0, no max
    ...section(3, vec([uleb(0), uleb(0), uleb(1)])),
    ...section(7, vec([[...name('rows'), 0x00, 0x00], [...name('columns'), 0x00, 0x01], [...name('pack'), 0x00, 0x02]])),
    ...section(10, vec([kernelBody(false), kernelBody(true), packBody()])),
  ];
  return new Uint8Array(bytes);
}

let compiled: WebAssembly.Module | null | undefined;

/** The compiled module, or null where this WebAssembly has no SIMD (the caller keeps its other path). */
function gemmModule(): WebAssembly.Module | null {
  if (compiled === undefined) {
    const bytes = gemmModuleBytes();
    compiled = WebAssembly.validate(bytes) ? new WebAssembly.Module(bytes) : null;
  }
  return compiled;
}

const instances = new WeakMap<WebAssembly.Memory, SimdGemm | null>();

/** The kernels bound to `memory` (one instance per memory), or null without WebAssembly SIMD. */
export function simdGemm(memory: WebAssembly.Memory): SimdGemm | null {
  let k = instances.get(memory);
  if (k === undefined) {
    const module = gemmModule();
    if (module === null) k = null;
    else {
      const exports = new WebAssembly.Instance(module, { env: { memory } }).exports as unknown as SimdGemm;
      k = { rows: exports.rows, columns: exports.columns, pack: exports.pack };
    }
    instances.set(memory, k);
  }
  return k;
}

/** Runs the kernel that fits `g` once over the whole product (checks the tile multiples; the caller owns every pointer). */
export function runGemm(kernels: SimdGemm, g: GemmArgs): void {
  if (g.m % TILE_ROWS !== 0 || g.n % TILE_COLS !== 0 || g.k < 1) {
    throw new Error(`simd gemm needs m % ${TILE_ROWS} = 0, n % ${TILE_COLS} = 0, k >= 1; got m=${g.m} n=${g.n} k=${g.k}`);
  }
  const fn = g.ai === 4 ? kernels.columns : kernels.rows;
  fn(g.a, g.b, g.c, g.m, g.n, g.k, g.ai, g.ak, g.bk, g.bj, g.cs, g.accumulate ? 1 : 0);
}

// Blocks of the product, so what a block re-reads stays in cache: 256 steps of k of B, packed as strips
// of 8 columns (a strip is 8 KB, whatever B's row stride: unpacked, strides of 1.5 to 4 KB map a strip's
// rows onto a few L1 sets), and 64 rows of A and C at a time. Measured on a 2-core EPYC, TN 128 x 2048 x 512:
// 13.5 GFLOP/s unpacked, 20.7 packed; NN 2048 x 128 x 1024: 16.8 → 20.2 (`node dist/bench/gemm.js`).
export const BLOCK_ROWS = 64;
export const BLOCK_DEPTH = 256;

/** Floats of scratch that `gemm` needs for a product of depth k and width n. */
export const scratchFloats = (k: number, n: number): number => Math.min(k, BLOCK_DEPTH) * n;

/**
 * C (+)= A·B in blocks: each `blockDepth` rows of B packed into `scratch` (a byte offset of
 * `scratchFloats(k, n)` floats for the default blocks), then `blockRows` rows of A at a time against it.
 * Same contract as `runGemm` for everything else; `g.bj` must be 4 (B as stored).
 */
export function gemm(kernels: SimdGemm, g: GemmArgs, scratch: number, blockRows = BLOCK_ROWS, blockDepth = BLOCK_DEPTH): void {
  for (let t0 = 0; t0 < g.k; t0 += blockDepth) {
    const depth = Math.min(blockDepth, g.k - t0);
    kernels.pack(g.b + t0 * g.bk, scratch, depth, g.n, g.bk);
    for (let i0 = 0; i0 < g.m; i0 += blockRows) {
      runGemm(kernels, {
        ...g,
        a: g.a + i0 * g.ai + t0 * g.ak,
        b: scratch,
        bk: TILE_COLS * 4,
        bj: depth * 4,
        c: g.c + i0 * g.cs,
        m: Math.min(blockRows, g.m - i0),
        k: depth,
        accumulate: g.accumulate || t0 > 0,
      });
    }
  }
}
