// LayerNorm and RMSNorm over the last axis as one fused pass per row, forward and backward, in
// WebAssembly SIMD on the wasm heap (./wasm-asm.ts). Op by op, a LayerNorm costs ~5 reductions and ~10
// elementwise passes of its [B, T, C] input, and a bench:train step has nine of them. The weight and
// bias gradients stay ordinary ops (a product and sums over rows).
//
//   LayerNorm forward:  x̂ = (x − mean(x))·r,  r = 1/√(mean((x − mean(x))²) + eps),  y = x̂·w + b
//   LayerNorm backward: g = dy·w,  dx = r·(g − mean(g) − x̂·mean(g·x̂))
//   RMSNorm: the same without the means of x and g, and without b.
//
// Imports tfjs-core directly, not ../tf.js: that module imports this one to register it.
import type { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import { assembleModule, moduleCache, op, type WasmFunction } from './wasm-asm.js';
import { asWasmBackend, heapMemory, wasmData, type WasmBackend } from './wasm-backend.js';

export const LAYER_NORM = 'LoraproLayerNorm';
export const LAYER_NORM_GRAD = 'LoraproLayerNormGrad';
export const RMS_NORM = 'LoraproRmsNorm';
export const RMS_NORM_GRAD = 'LoraproRmsNormGrad';

const { get, set, i32, add, sub, loop, end, brIf, vLoad, vStore, f32x4Add, f32x4Sub, f32x4Mul } = op;
const { f32Add, f32Mul, f32Div, f32Sqrt, f32Load, f32Store, f32FromBits, f32Const, f32x4Splat, f32x4Lane } = op;
const vZeroConst = op.f32x4(0);

/** Sum of the four lanes of the v128 on the stack's local `v`, as an f32. */
const lanesSum = (v: number) => [get(v), f32x4Lane(0), get(v), f32x4Lane(1), f32Add, get(v), f32x4Lane(2), get(v), f32x4Lane(3), f32Add, f32Add].flat();

/** A loop over the `quads` vectors of one row: `ptrs` advanced 16 bytes a turn, `q` counting down. */
function rowLoop(q: number, quads: number, ptrs: number[], body: number[][]): number[] {
  const parts: number[][] = [
    get(quads), set(q),
    loop, ...body,
    ...ptrs.map((p) => [...get(p), ...i32(16), ...add, ...set(p)]),
    get(q), i32(1), sub, set(q), get(q), brIf(0),
    end,
  ];
  return parts.flat();
}

/** forward(x, w, b, y, xhat, r, rows, quads, epsBits, invCBits); `center`: LayerNorm, else RMSNorm (no mean, no b). */
function forward(name: string, center: boolean): WasmFunction {
  const [x, w, b, y, xh, r, rows, quads, epsBits, invCBits] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];
  const [q, p, pw, pb] = [10, 11, 12, 13];
  const [acc, meanV, rV, d] = [14, 15, 16, 17];
  const code = [
    loop, // over rows
    // mean (RMSNorm: 0)
    ...(center
      ? [
          vZeroConst, set(acc), get(x), set(p),
          rowLoop(q, quads, [p], [get(acc), get(p), vLoad(0), f32x4Add, set(acc)]),
          lanesSum(acc), get(invCBits), f32FromBits, f32Mul, f32x4Splat, set(meanV),
        ]
      : [vZeroConst, set(meanV)]),
    // variance, r
    vZeroConst, set(acc), get(x), set(p),
    rowLoop(q, quads, [p], [get(p), vLoad(0), get(meanV), f32x4Sub, set(d), get(acc), get(d), get(d), f32x4Mul, f32x4Add, set(acc)]),
    get(r), f32Const(1), lanesSum(acc), get(invCBits), f32FromBits, f32Mul, get(epsBits), f32FromBits, f32Add, f32Sqrt, f32Div, f32Store(0),
    get(r), f32Load(0), f32x4Splat, set(rV),
    // x̂ and y; x, x̂, y move on by a row
    get(w), set(pw), get(b), set(pb),
    rowLoop(q, quads, [x, xh, y, pw, ...(center ? [pb] : [])], [
      get(x), vLoad(0), get(meanV), f32x4Sub, get(rV), f32x4Mul, set(d),
      get(xh), get(d), vStore(0),
      get(y), get(d), get(pw), vLoad(0), f32x4Mul, ...(center ? [get(pb), vLoad(0), f32x4Add] : []), vStore(0),
    ]),
    get(r), i32(4), add, set(r),
    get(rows), i32(1), sub, set(rows), get(rows), brIf(0),
    end,
  ].flat();
  return { name, params: 10, i32Locals: 4, v128Locals: 4, code };
}

/** backward(dy, xhat, r, w, dx, rows, quads, invCBits); `center`: LayerNorm, else RMSNorm (no mean(g) term). */
function backward(name: string, center: boolean): WasmFunction {
  const [dy, xh, r, w, dx, rows, quads, invCBits] = [0, 1, 2, 3, 4, 5, 6, 7];
  const [q, pdy, pxh, pw] = [8, 9, 10, 11];
  const [a1, a2, g, m1, m2, rV] = [12, 13, 14, 15, 16, 17];
  const mean = (v: number, out: number) => [lanesSum(v), get(invCBits), f32FromBits, f32Mul, f32x4Splat, set(out)].flat();
  const code = [
    loop, // over rows
    vZeroConst, set(a1), vZeroConst, set(a2), get(dy), set(pdy), get(xh), set(pxh), get(w), set(pw),
    rowLoop(q, quads, [pdy, pxh, pw], [
      get(pdy), vLoad(0), get(pw), vLoad(0), f32x4Mul, set(g),
      get(a1), get(g), f32x4Add, set(a1),
      get(a2), get(g), get(pxh), vLoad(0), f32x4Mul, f32x4Add, set(a2),
    ]),
    mean(a1, m1), mean(a2, m2),
    get(r), f32Load(0), f32x4Splat, set(rV),
    get(w), set(pw),
    rowLoop(q, quads, [dy, xh, pw, dx], [
      get(dx),
      get(dy), vLoad(0), get(pw), vLoad(0), f32x4Mul, ...(center ? [get(m1), f32x4Sub] : []), get(xh), vLoad(0), get(m2), f32x4Mul, f32x4Sub, get(rV), f32x4Mul,
      vStore(0),
    ]),
    get(r), i32(4), add, set(r),
    get(rows), i32(1), sub, set(rows), get(rows), brIf(0),
    end,
  ].flat();
  return { name, params: 8, i32Locals: 4, v128Locals: 6, code };
}

type Forward = (x: number, w: number, b: number, y: number, xhat: number, r: number, rows: number, quads: number, epsBits: number, invCBits: number) => void;
type Backward = (dy: number, xhat: number, r: number, w: number, dx: number, rows: number, quads: number, invCBits: number) => void;

interface LayerNormKernels {
  forward: Forward;
  backward: Backward;
  rmsForward: Forward;
  rmsBackward: Backward;
}

export const layerNormModuleBytes = (): Uint8Array<ArrayBuffer> =>
  assembleModule([forward('forward', true), backward('backward', true), forward('rmsForward', false), backward('rmsBackward', false)]);
const bind = moduleCache<LayerNormKernels>(layerNormModuleBytes);

const f32Bits = (v: number) => new Int32Array(new Float32Array([v]).buffer)[0];

/**
 * Rows and width of x [..., C], and the kernels; throws where the op cannot run (callers check
 * `layerNormFits`) or where a per-channel operand is not [C] (the kernel would read past it).
 */
function geometry(backend: WasmBackend, x: TensorInfo, perChannel: Record<string, TensorInfo | undefined>): { rows: number; width: number; kernels: LayerNormKernels } {
  const width = x.shape[x.shape.length - 1];
  const rows = x.shape.slice(0, -1).reduce((a, c) => a * c, 1);
  const memory = heapMemory(backend);
  const kernels = memory === null ? null : bind(memory);
  if (kernels === null || !layerNormFits(x.shape) || x.dtype !== 'float32') {
    throw new Error(`the fused norm kernels need WebAssembly SIMD, float32 and a last axis that is a multiple of 4; got ${x.dtype} [${x.shape}]`);
  }
  for (const [name, t] of Object.entries(perChannel)) {
    if (t !== undefined && (t.shape.length !== 1 || t.shape[0] !== width || t.dtype !== 'float32')) {
      throw new Error(`norm ${name} must be float32 [${width}] to match the input's last axis, got ${t.dtype} [${t.shape}]`);
    }
  }
  return { rows, width, kernels };
}

/** Whether the fused kernels take an input of this shape (rows ≥ 1, width a positive multiple of 4). */
export function layerNormFits(shape: readonly number[]): boolean {
  const width = shape[shape.length - 1];
  return shape.length >= 1 && width > 0 && width % 4 === 0 && shape.every((d) => d > 0);
}

type NormArgs = { inputs: { x: TensorInfo; weight: TensorInfo; bias?: TensorInfo }; attrs: { eps: number }; backend: unknown };
type NormGradArgs = { inputs: { dy: TensorInfo; xhat: TensorInfo; r: TensorInfo; weight: TensorInfo }; backend: unknown };

/** The forward kernel: [y, x̂, r]. `center`: LayerNorm (with bias), else RMSNorm. */
function normForward(center: boolean) {
  return (args: NormArgs): TensorInfo[] => {
    const backend = asWasmBackend(args.backend);
    const { x, weight, bias } = args.inputs;
    const { rows, width, kernels } = geometry(backend, x, { weight, bias });
    const y = backend.makeOutput(x.shape, 'float32');
    const xhat = backend.makeOutput(x.shape, 'float32');
    const r = backend.makeOutput([...x.shape.slice(0, -1), 1], 'float32');
    const at = (t: TensorInfo) => wasmData(backend, t).memoryOffset;
    const run = center ? kernels.forward : kernels.rmsForward;
    run(at(x), at(weight), bias === undefined ? 0 : at(bias), at(y), at(xhat), at(r), rows, width / 4, f32Bits(args.attrs.eps), f32Bits(1 / width));
    return [y, xhat, r];
  };
}

/** The input-gradient kernel: dx. */
function normGrad(center: boolean) {
  return (args: NormGradArgs): TensorInfo => {
    const backend = asWasmBackend(args.backend);
    const { dy, xhat, r, weight } = args.inputs;
    const { rows, width, kernels } = geometry(backend, dy, { weight });
    const dx = backend.makeOutput(dy.shape, 'float32');
    const at = (t: TensorInfo) => wasmData(backend, t).memoryOffset;
    (center ? kernels.backward : kernels.rmsBackward)(at(dy), at(xhat), at(r), at(weight), at(dx), rows, width / 4, f32Bits(1 / width));
    return dx;
  };
}

const config = (kernelName: string, kernelFunc: unknown): KernelConfig => ({ kernelName, backendName: 'wasm', kernelFunc: kernelFunc as KernelFunc });
export const layerNormConfigs: readonly KernelConfig[] = [
  config(LAYER_NORM, normForward(true)),
  config(LAYER_NORM_GRAD, normGrad(true)),
  config(RMS_NORM, normForward(false)),
  config(RMS_NORM_GRAD, normGrad(false)),
];
