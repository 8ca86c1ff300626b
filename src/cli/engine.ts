// Starts the engine a command computes on (--backend, $LORAPRO_BACKEND, else native, else wasm) and
// says once, on stderr, which one it is and why.
import { describeEngineChoice, useBackend } from '../engine/backend.js';
import type { CliIO } from './args.js';

export async function startEngine(requested: unknown, io: Pick<CliIO, 'err'>): Promise<string> {
  const name = await useBackend(requested as string | undefined);
  io.err(`engine: ${describeEngineChoice()}`);
  return name;
}
