// Starts the engine a command computes on (--backend, $LORAPRO_BACKEND, else native, else wasm) and
// says once, on stderr, which one it is and why; sets the precision of frozen bf16 products
// (--matmul-precision, $LORAPRO_MATMUL, else f32) and says when bf16 was asked for but cannot run.
// What the user chose is checked here first, so a misspelt engine, precision or thread count is bad
// usage (exit 2) naming the flag or variable and the valid values, in the CLI's words, not the API's.
import { BACKEND_ENV, describeEngineChoice, engineName, matmulPrecision, useBackend } from '../engine/backend.js';
import { MATMUL_ENV, MATMUL_PRECISIONS, configureNative, nativeStatus, type MatmulPrecision } from '../engine/native.js';
import { UsageError } from '../train/errors.js';
import type { CliIO } from './args.js';

/** The engines a command can run on in Node. */
export const CLI_ENGINES = ['native', 'wasm', 'cpu', 'webgpu'] as const;

/** The native engine's thread count (read by native/src/addon.cc). */
export const THREADS_ENV = 'LORAPRO_THREADS';

function envValue(name: string): string | undefined {
  const value = process.env[name]?.trim();
  return value ? value : undefined;
}

/**
 * The engine asked for (undefined: the default), after checking --backend, LORAPRO_BACKEND and
 * LORAPRO_THREADS; each bad value is a UsageError that names where it came from.
 */
export function requestedEngine(flag: unknown): string | undefined {
  const threads = envValue(THREADS_ENV);
  if (threads !== undefined && !(/^\d+$/.test(threads) && Number(threads) >= 1)) {
    throw new UsageError(`${THREADS_ENV} must be a whole number of threads ≥ 1, got "${process.env[THREADS_ENV]}"; unset it to use every core`);
  }
  const fromFlag = typeof flag === 'string' && flag.trim() !== '' ? flag.trim() : undefined;
  const requested = fromFlag ?? envValue(BACKEND_ENV);
  if (requested === undefined) return undefined;
  const where = fromFlag !== undefined ? '--backend' : BACKEND_ENV;
  if (!(CLI_ENGINES as readonly string[]).includes(requested)) {
    const fix = fromFlag !== undefined ? 'leave --backend out' : `unset ${BACKEND_ENV}`;
    throw new UsageError(`${where} must be one of ${CLI_ENGINES.join(', ')}, got "${requested}"; ${fix} for the default (native where it was built, else wasm)`);
  }
  if (requested === 'native') {
    const status = nativeStatus();
    if (!status.available) throw new UsageError(`${where} native: the native engine is unavailable (${status.reason}); choose wasm or cpu`);
  }
  return requested;
}

/** Starts the engine the options and environment ask for; returns its name. */
export async function chooseEngine(flag: unknown): Promise<string> {
  return useBackend(requestedEngine(flag));
}

/** `chooseEngine` and `applyMatmul`, then says once, on stderr, which engine it is. */
export async function startEngine(requested: unknown, io: Pick<CliIO, 'err'>, matmul?: unknown): Promise<string> {
  requestedMatmul(matmul);
  const name = await chooseEngine(requested);
  applyMatmul(matmul, io);
  io.err(`engine: ${describeEngineChoice()}`);
  return name;
}

/** The matmul precision asked for (undefined: f32, the default), after checking --matmul-precision and LORAPRO_MATMUL. */
export function requestedMatmul(flag: unknown): MatmulPrecision | undefined {
  const fromFlag = typeof flag === 'string' && flag.trim() !== '' ? flag.trim() : undefined;
  const requested = fromFlag ?? envValue(MATMUL_ENV);
  if (requested === undefined) return undefined;
  if (!(MATMUL_PRECISIONS as readonly string[]).includes(requested)) {
    const where = fromFlag !== undefined ? '--matmul-precision' : MATMUL_ENV;
    const fix = fromFlag !== undefined ? 'leave --matmul-precision out' : `unset ${MATMUL_ENV}`;
    throw new UsageError(`${where} must be one of ${MATMUL_PRECISIONS.join(', ')}, got "${requested}"; ${fix} for f32`);
  }
  return requested as MatmulPrecision;
}

/**
 * Sets the precision of frozen bf16 products for the engine already started; when bf16 is asked for
 * but will not run (another engine, no AVX512_BF16, an older native build) says so once and goes on in f32.
 */
export function applyMatmul(flag: unknown, io: Pick<CliIO, 'err'>): MatmulPrecision {
  const requested = requestedMatmul(flag) ?? 'f32';
  const status = nativeStatus();
  if (!status.available) {
    if (requested === 'bf16') io.err(`--matmul-precision bf16: the native engine is unavailable (${status.reason}); computing in f32`);
    return 'f32';
  }
  if (status.info.matmul === undefined) {
    if (requested === 'bf16') io.err('--matmul-precision bf16: this build of the native engine has no bf16 products (rebuild it with node scripts/build-native.mjs); computing in f32');
    return 'f32';
  }
  const info = configureNative({ matmul: requested });
  if (requested === 'bf16' && matmulPrecision() !== 'bf16') {
    const why = engineName() !== 'native' ? `the engine is ${engineName()}, not native` : !info.bf16Dot ? 'this CPU lacks AVX512_BF16' : `the ${info.isa} kernels run, not avx512`;
    io.err(`--matmul-precision bf16: ${why}; computing in f32`);
  }
  return matmulPrecision();
}
