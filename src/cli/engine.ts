// Starts the engine a command computes on (--backend, $LORAPRO_BACKEND, else native, else wasm) and
// says once, on stderr, which one it is and why. What the user chose is checked here first, so a
// misspelt engine or thread count is bad usage (exit 2) naming the flag or variable and the valid
// values, in the CLI's words, not the API's.
import { BACKEND_ENV, describeEngineChoice, useBackend } from '../engine/backend.js';
import { nativeStatus } from '../engine/native.js';
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

/** `chooseEngine`, then says once, on stderr, which engine it is. */
export async function startEngine(requested: unknown, io: Pick<CliIO, 'err'>): Promise<string> {
  const name = await chooseEngine(requested);
  io.err(`engine: ${describeEngineChoice()}`);
  return name;
}
