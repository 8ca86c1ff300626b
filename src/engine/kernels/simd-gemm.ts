// A small matrix-multiply kernel in WebAssembly SIMD, assembled here from its bytecode and run on the
// wasm backend's own heap (it imports the backend's memory, so it reads and writes tensors in place).
//
// Why: XNNPACK, the backend's fast path, creates an operator and packs its right operand into a fresh
// buffer on every call (the backend caches both on the operand's id, which a training step never
// reuses), and takes no transposes. A step's weight gradients (k = batch x context) and its attention
// products (64 matrices of 128 x 32 x 128 a call) pay that toll over and over. This kernel reads A
// where it lies, as rows or as columns (Aᵀ stored), and copies B block by block into strips. On a
// 2-core EPYC (`node dist/bench/gemm.js`, two runs on 2026-11-27): weight gradients 1.2–2.4x and
// attention products 1.7–3.0x the GFLOP/s of the XNNPACK route, the forward products 1.1–1.3x.
//
// C[m, n] (+)= A[m, k] · B[k, n], computed in register tiles of 4 rows x 8 columns: per step of k, two
// 4-float loads of B's row, four broadcasts of A's column, eight multiply-adds into accumulators.
// Columns of tiles run outermost so one 8-column strip of B stays in L1 while every row tile uses it.
import { assembleModule, moduleCache, op, type WasmFunction } from './wasm-asm.js';

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

const { get, set, i32, add, sub, mul, ltU, loop, end, brIf, vLoad, vLoadSplat, vStore, f32x4Add, f32x4Mul } = op;
const vZero = op.f32x4(0);

// Parameters, in the order of `Gemm`
const P = { a: 0, b: 1, c: 2, m: 3, n: 4, k: 5, ai: 6, ak: 7, bk: 8, bj: 9, cs: 10, acc: 11 };
const PARAMS = 12;

/** One kernel; `unitRows`: A's rows are 4 bytes apart (Aᵀ stored), so one pointer and fixed offsets. */
function kernel(exportName: string, unitRows: boolean): WasmFunction {
  let next = PARAMS;
  const i0 = next++;
  const j0 = next++;
  const t = next++;
  const pb = next++;
  const pc = next++;
  const pa = [next++, next++, next++, next++];
  const i32Locals = next - PARAMS;
  // v128: 8 accumulators (row r, half h at 2r + h), two halves of B's row, one broadcast of A
  const acc = Array.from({ length: 8 }, () => next++);
  const bv = [next++, next++];
  const av = next++;
  const v128Locals = next - PARAMS - i32Locals;

  const code: number[] = [];
  const emit = (...parts: number[][]) => parts.forEach((p) => code.push(...p));
  const rowPtr = (r: number) => [...get(pc), ...get(P.cs), ...i32(r), ...mul, ...add]; // pc + r*cs

  emit(i32(0), set(j0));
  emit(loop); // over strips of 8 columns
  emit(i32(0), set(i0));
  emit(loop); // over tiles of 4 rows
  emit(get(P.c), get(i0), get(P.cs), mul, add, get(j0), i32(4), mul, add, set(pc)); // pc = c + i0*cs + 4*j0
  emit(get(P.acc), op.if); // accumulators start from C, or from zero
  for (let r = 0; r < 4; r++) for (let h = 0; h < 2; h++) emit(rowPtr(r), vLoad(16 * h), set(acc[2 * r + h]));
  emit(op.else);
  for (const v of acc) emit(vZero, set(v));
  emit(end);
  emit(get(P.a), get(i0), get(P.ai), mul, add, set(pa[0])); // pa[r] = a + (i0 + r)*ai
  if (!unitRows) for (let r = 1; r < 4; r++) emit(get(pa[r - 1]), get(P.ai), add, set(pa[r]));
  emit(get(P.b), get(j0), get(P.bj), mul, add, set(pb)); // pb = b + j0*bj
  emit(get(P.k), set(t));
  emit(loop); // over k
  emit(get(pb), vLoad(0), set(bv[0]), get(pb), vLoad(16), set(bv[1]));
  for (let r = 0; r < 4; r++) {
    if (unitRows) emit(get(pa[0]), vLoadSplat(4 * r), set(av));
    else emit(get(pa[r]), vLoadSplat(0), set(av));
    for (let h = 0; h < 2; h++) emit(get(acc[2 * r + h]), get(av), get(bv[h]), f32x4Mul, f32x4Add, set(acc[2 * r + h]));
  }
  for (const p of unitRows ? pa.slice(0, 1) : pa) emit(get(p), get(P.ak), add, set(p));
  emit(get(pb), get(P.bk), add, set(pb));
  emit(get(t), i32(1), sub, set(t), get(t), brIf(0));
  emit(end);
  for (let r = 0; r < 4; r++) for (let h = 0; h < 2; h++) emit(rowPtr(r), get(acc[2 * r + h]), vStore(16 * h));
  emit(get(i0), i32(TILE_ROWS), add, set(i0), get(i0), get(P.m), ltU, brIf(0));
  emit(end);
  emit(get(j0), i32(TILE_COLS), add, set(j0), get(j0), get(P.n), ltU, brIf(0));
  emit(end);
  return { name: exportName, params: PARAMS, i32Locals, v128Locals, code };
}

/** `pack(b, out, k, n, bk)`: for each strip of 8 columns, its k rows of 8 floats one after another. */
function pack(): WasmFunction {
  const [b, out, k, n, bk] = [0, 1, 2, 3, 4];
  const [j0, t, src, dst] = [5, 6, 7, 8];
  const code = [
    get(out), set(dst), i32(0), set(j0),
    loop, // over strips
    get(b), get(j0), i32(4), mul, add, set(src),
    get(k), set(t),
    loop, // over rows
    get(dst), get(src), vLoad(0), vStore(0),
    get(dst), get(src), vLoad(16), vStore(16),
    get(src), get(bk), add, set(src),
    get(dst), i32(32), add, set(dst),
    get(t), i32(1), sub, set(t), get(t), brIf(0),
    end,
    get(j0), i32(TILE_COLS), add, set(j0), get(j0), get(n), ltU, brIf(0),
    end,
  ].flat();
  return { name: 'pack', params: 5, i32Locals: 4, v128Locals: 0, code };
}

/** The module's bytes: imports env.memory, exports `rows`, `columns` and `pack`. */
export function gemmModuleBytes(): Uint8Array<ArrayBuffer> {
  return assembleModule([kernel('rows', false), kernel('columns', true), pack()]);
}

const bind = moduleCache<SimdGemm>(gemmModuleBytes);

/** The kernels bound to `memory` (one instance per memory), or null without WebAssembly SIMD. */
export function simdGemm(memory: WebAssembly.Memory): SimdGemm | null {
  return bind(memory);
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
// rows onto a few L1 sets), and 64 rows of A and C at a time. `node dist/bench/gemm.js` (2-core EPYC, 16:43 UTC
// 2026-11-27): TN 128 x 2048 x 512 at 15.0 GFLOP/s unpacked, 19.2 packed; NN 2048 x 128 x 512 17.8 → 20.4;
// other block sizes within noise of these.
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
