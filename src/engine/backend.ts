import { tf } from './tf.js';

/** Backends the package knows how to start, in order of preference for Node. */
export const NODE_BACKENDS = ['wasm', 'cpu'] as const;
export type BackendName = 'wasm' | 'cpu' | 'webgl' | 'webgpu';

/** Environment variable that overrides the default backend (`wasm` in Node). */
export const BACKEND_ENV = 'LORAPRO_BACKEND';

/** The cpu backend greets Node users with a tfjs-node advert on first use; tfjs-node is not an option here. */
function quietCpu(): void {
  const backend = tf.backend() as unknown as { firstUse?: boolean };
  if (tf.getBackend() === 'cpu' && backend.firstUse) backend.firstUse = false;
}

function envBackend(): string | undefined {
  // Guarded so the browser bundle never touches `process`.
  const env = typeof process !== 'undefined' ? process.env : undefined;
  const value = env?.[BACKEND_ENV]?.trim();
  return value ? value : undefined;
}

/**
 * Starts a TF.js backend and makes it current. With no name, uses `LORAPRO_BACKEND`, else `wasm`,
 * falling back to `cpu` when wasm cannot start. An explicitly requested backend that fails is an error.
 *
 * @example
 *   await useBackend();        // wasm in Node unless LORAPRO_BACKEND says otherwise
 *   await useBackend('cpu');   // force the reference backend
 */
export async function useBackend(name?: string): Promise<string> {
  const requested = name ?? envBackend();
  if (requested !== undefined) {
    if (tf.findBackendFactory(requested) == null) {
      const known = Object.keys(tf.engine().registryFactory).join(', ');
      throw new Error(`unknown TF.js backend "${requested}" (from ${name ? 'useBackend()' : BACKEND_ENV}); registered: ${known}`);
    }
    if (!(await tf.setBackend(requested))) throw new Error(`TF.js backend "${requested}" failed to start`);
    await tf.ready();
    quietCpu();
    return tf.getBackend();
  }
  for (const candidate of NODE_BACKENDS) {
    if (await tf.setBackend(candidate).catch(() => false)) {
      await tf.ready();
      quietCpu();
      return tf.getBackend();
    }
  }
  throw new Error(`no TF.js backend could start (tried ${NODE_BACKENDS.join(', ')})`);
}

let started: Promise<string> | undefined;

/** Starts the default backend once; later calls return the same promise. */
export function ensureBackend(): Promise<string> {
  started ??= useBackend();
  return started;
}
