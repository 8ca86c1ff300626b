// A tiny WebAssembly assembler: just the instructions the project's SIMD kernels use, and a module
// that imports the wasm backend's memory (env.memory) and exports functions of i32 parameters. Kernels
// built with it read and write tensors in place on the backend's heap, by byte offset.
//
// Binary format: https://webassembly.github.io/spec/core/binary/ (SIMD opcodes: the 0xFD prefix).

export const I32 = 0x7f;
export const V128 = 0x7b;

export function uleb(n: number): number[] {
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
const simd = (code: number, ...rest: number[]) => [0xfd, ...uleb(code), ...rest];

/** Instructions. Memory accesses take a constant byte offset added to the address on the stack. */
export const op = {
  get: (i: number) => [0x20, ...uleb(i)],
  set: (i: number) => [0x21, ...uleb(i)],
  i32: (v: number) => [0x41, ...sleb(v)],
  add: [0x6a],
  sub: [0x6b],
  mul: [0x6c],
  ltU: [0x49],
  loop: [0x03, 0x40],
  if: [0x04, 0x40],
  else: [0x05],
  end: [0x0b],
  brIf: (depth: number) => [0x0d, ...uleb(depth)],
  vLoad: (offset: number) => simd(0x00, 2, ...uleb(offset)), // v128.load (alignment hint: 4 bytes)
  vLoadSplat: (offset: number) => simd(0x09, 2, ...uleb(offset)), // v128.load32_splat
  vStore: (offset: number) => simd(0x0b, 2, ...uleb(offset)), // v128.store
  vLoad64Zero: (offset: number) => simd(0x5d, 3, ...uleb(offset)), // v128.load64_zero: two floats, upper half zero
  /** v128.const of one float in all four lanes. */
  f32x4: (v: number) => simd(0x0c, ...Array.from({ length: 4 }, () => [...new Uint8Array(new Float32Array([v]).buffer)]).flat()),
  f32x4Add: simd(0xe4),
  f32x4Sub: simd(0xe5),
  f32x4Mul: simd(0xe6),
  f32x4Splat: simd(0x13),
  f32x4Lane: (lane: number) => simd(0x1f, lane), // f32x4.extract_lane
  f32Const: (v: number) => [0x43, ...new Uint8Array(new Float32Array([v]).buffer)],
  f32FromBits: [0xbe], // f32.reinterpret_i32: an f32 passed in an i32 parameter
  f32Load: (offset: number) => [0x2a, 2, ...uleb(offset)],
  f32Store: (offset: number) => [0x38, 2, ...uleb(offset)],
  f32Add: [0x92],
  f32Mul: [0x94],
  f32Div: [0x95],
  f32Sqrt: [0x91],
  f64x2PromoteLow: simd(0x5f), // the two low f32 lanes as f64
  f64x2Add: simd(0xf0),
};

export interface WasmFunction {
  name: string;
  params: number; // all i32
  i32Locals: number; // numbered after the parameters
  v128Locals: number; // numbered after the i32 locals
  code: number[]; // the body, without the final `end`
}

/** A module importing env.memory (any size, no maximum) and exporting `functions` by name. */
export function assembleModule(functions: readonly WasmFunction[]): Uint8Array<ArrayBuffer> {
  const arities = [...new Set(functions.map((f) => f.params))];
  const types = arities.map((p) => [0x60, ...vec(new Array<number[]>(p).fill([I32])), ...vec([])]);
  const bodies = functions.map((f) => {
    const body = [...vec([[...uleb(f.i32Locals), I32], [...uleb(f.v128Locals), V128]]), ...f.code, ...op.end];
    return [...uleb(body.length), ...body];
  });
  return new Uint8Array([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, vec(types)),
    ...section(2, vec([[...name('env'), ...name('memory'), 0x02, 0x00, ...uleb(0)]])),
    ...section(3, vec(functions.map((f) => uleb(arities.indexOf(f.params))))),
    ...section(7, vec(functions.map((f, i) => [...name(f.name), 0x00, ...uleb(i)]))),
    ...section(10, vec(bodies)),
  ]);
}

/**
 * Compiles `bytes` once and instantiates it once per memory; null where this WebAssembly lacks what the
 * module uses (SIMD), so the caller keeps its other path.
 */
export function moduleCache<T>(bytes: () => Uint8Array<ArrayBuffer>): (memory: WebAssembly.Memory) => T | null {
  let compiled: WebAssembly.Module | null | undefined;
  const instances = new WeakMap<WebAssembly.Memory, T | null>();
  return (memory) => {
    if (compiled === undefined) {
      const b = bytes();
      compiled = WebAssembly.validate(b) ? new WebAssembly.Module(b) : null;
    }
    let exports = instances.get(memory);
    if (exports === undefined) {
      exports = compiled === null ? null : (new WebAssembly.Instance(compiled, { env: { memory } }).exports as T);
      instances.set(memory, exports);
    }
    return exports;
  };
}

let simdValid: boolean | undefined;

/** Whether this WebAssembly validates SIMD code (a one-instruction probe, checked once). */
export function simdSupported(): boolean {
  simdValid ??= WebAssembly.validate(assembleModule([{ name: 'probe', params: 0, i32Locals: 0, v128Locals: 1, code: [...op.f32x4(0), ...op.set(0)] }]));
  return simdValid;
}
