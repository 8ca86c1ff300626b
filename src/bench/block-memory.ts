// bench:block-memory: the wasm-heap bytes one transformer block keeps for its backward pass at a public
// model's shape, measured, beside the memory estimate's figure. Two random-weight bf16 folders of the
// preset's shape with 1 and 3 blocks (scale-folders.ts) are loaded on the frozen tier, LoRA r 8 goes on
// every linear layer, and a taped forward pass runs; the heap meter's live bytes once the loss is
// computed, 3 blocks less 1 block, halved, is one block's share (the embeddings, head and loss cancel).
// Run: `npm run bench:block-memory -- [--preset llama-1b] [--batch 4] [--length 256] [--dir /tmp/lorapro-scale]`.
import { tf } from '../engine/tf.js';
import { useBackend } from '../engine/backend.js';
import { keptForBackward } from '../engine/heap.js';
import { injectLora } from '../adapters/inject.js';
import { loraConfig } from '../adapters/lora-config.js';
import { readModelConfig } from '../io/hf-config.js';
import { loadPretrained } from '../models/pretrained.js';
import type { CausalLM } from '../models/types.js';
import { decoderShape, estimateMemory } from '../train/memory-estimate.js';
import { PRESETS, presetFolder } from './scale-folders.js';

const MIB = 2 ** 20;

function parseArgs(argv: readonly string[]): { preset: string; batch: number; length: number; dir: string } {
  const o: Record<string, string> = {};
  for (let i = 0; i < argv.length; i += 2) {
    if (!argv[i].startsWith('--') || argv[i + 1] === undefined) throw new Error(`unknown argument "${argv[i]}"; see the header of src/bench/block-memory.ts`);
    o[argv[i].slice(2)] = argv[i + 1];
  }
  for (const k of Object.keys(o)) if (!['preset', 'batch', 'length', 'dir'].includes(k)) throw new Error(`unknown option --${k}; known: --preset, --batch, --length, --dir`);
  const preset = o.preset ?? 'llama-1b';
  if (!PRESETS[preset]) throw new Error(`--preset ${preset}: choose from ${Object.keys(PRESETS).join(', ')}`);
  const int = (k: string, d: number) => {
    const n = Number(o[k] ?? d);
    if (!Number.isInteger(n) || n < 1) throw new Error(`--${k} takes a positive integer, got "${o[k]}"`);
    return n;
  };
  return { preset, batch: int('batch', 4), length: int('length', 256), dir: o.dir ?? '/tmp/lorapro-scale' };
}

/** Heap bytes a taped forward pass of the model in `dir` keeps for its backward pass. */
async function keptByForward(dir: string, B: number, T: number): Promise<number> {
  const model = (await loadPretrained(dir, { task: 'causal-lm', frozen: { quantize: 'none' }, onWarning: () => {} })) as CausalLM;
  injectLora(model, loraConfig({ targetModules: 'all-linear', r: 8, loraAlpha: 16 }));
  const ids = tf.tensor2d(Int32Array.from({ length: B * T }, (_, i) => (7 * i) % 250), [B, T], 'int32');
  try {
    return keptForBackward(() => model.loss(ids, ids, undefined, { training: true }), [...model.trainableParameters().values()]);
  } finally {
    ids.dispose();
    model.dispose();
  }
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  await useBackend();
  const kept: number[] = [];
  let estimated = 0;
  for (const layers of [1, 3]) {
    const p = { ...PRESETS[args.preset], name: `${args.preset}-${layers}-block`, layers };
    const folder = await presetFolder(args.dir, p, { length: args.length, examples: 2, log: (l) => console.error(l) });
    kept.push(await keptByForward(folder.dir, args.batch, args.length));
    const shape = decoderShape(await readModelConfig(folder.dir))!;
    const est = estimateMemory(shape, { method: 'lora', rank: 8, targetModules: 'all-linear', task: 'causal-lm', quantize: 'none', batchSize: args.batch, maxLength: args.length, gradientCheckpointing: false, checkpointFormat: 'bf16', frozenTier: true });
    estimated += (layers === 1 ? -1 : 1) * est.parts.find((part) => part.name.startsWith('activations:'))!.bytes;
  }
  const measured = (kept[1] - kept[0]) / 2;
  console.log(`${args.preset} shape, batch ${args.batch} × ${args.length}, lora r 8 on every linear layer, frozen tier: one block keeps ${(measured / MIB).toFixed(1)} MiB (heap meter); the estimate says ${(estimated / 2 / MIB).toFixed(1)} MiB`);
}

await main();
