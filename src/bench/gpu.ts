// The Node half of scripts/gpu/run.sh (a GPU machine's one run): training throughput at real models'
// shapes on the current engine, and the files the transformers/PEFT checks compare (scripts/gpu/hf_check.py).
//   speed   --shapes smollm-135m,llama-3.2-1b --methods lora,lora-pro [--batch 4] [--context 256] [--steps 8] [--warmup 2]
//           one JSON line per shape and method: tokens/s from the median step (random weights N(0, 0.02),
//           synthetic full-length batches, LoRA r = 8, alpha 16 on every linear layer but the head)
//   logits  --model DIR --ids FILE [--adapter DIR] --out FILE   logits of a saved model (and adapter) as JSON
//   adapter --model DIR --out DIR                               3 LoRA steps at a high rate, saved as a PEFT adapter
// Shapes are scripts/gpu/shapes.json's Hugging Face configs. Engine: LORAPRO_BACKEND (webgpu on the GPU machine).
import { readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { tf } from '../engine/tf.js';
import { describeEngineChoice, useBackend } from '../engine/backend.js';
import { loadAdapter, saveAdapter } from '../adapters/peft-files.js';
import { setTraining } from '../adapters/inject.js';
import { parseModelConfig } from '../io/hf-config.js';
import { createModel } from '../models/auto.js';
import { randomInit } from '../models/layers.js';
import { loadPretrained } from '../models/pretrained.js';
import type { CausalLM } from '../models/types.js';
import { setupMethod, type MethodName, type MethodSetup } from '../train/methods.js';
import { stepGradients } from '../train/step.js';
import { syntheticBatch, type BenchShape } from './train-case.js';

const SHAPES_FILE = new URL('../../scripts/gpu/shapes.json', import.meta.url);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

function lora(model: CausalLM, method: MethodName, lr: number): MethodSetup {
  return setupMethod(model, { method, rank: 8, alpha: 16, targetModules: 'all-linear', loraDropout: 0, modulesToSave: [], seed: 0, lr, weightDecay: 0, clipNorm: 1 });
}

/** One trainer step; resolves when the backend has finished it (the loss read back). */
async function trainStep(model: CausalLM, setup: MethodSetup, batch: ReturnType<typeof syntheticBatch>, lr: number): Promise<number> {
  setTraining(model, true);
  const { loss, grads } = stepGradients(model, setup.params, [batch]);
  await setup.optimizer.step(grads, lr);
  tf.dispose([...grads.values()]);
  const value = (await loss.data())[0];
  loss.dispose();
  return value;
}

async function speed(o: { shapes: string; methods: string; batch: string; context: string; steps: string; warmup: string }): Promise<void> {
  const shapes = JSON.parse(readFileSync(SHAPES_FILE, 'utf8')) as Record<string, Record<string, unknown>>;
  const [batch, context, steps, warmup] = [o.batch, o.context, o.steps, o.warmup].map(Number);
  for (const name of o.shapes.split(',')) {
    if (!shapes[name]) throw new Error(`unknown shape "${name}"; scripts/gpu/shapes.json has ${Object.keys(shapes).filter((k) => !k.startsWith('_')).join(', ')}`);
    const config = parseModelConfig(shapes[name], `shapes.json ${name}`);
    for (const method of o.methods.split(',') as MethodName[]) {
      const model = createModel(config, { task: 'causal-lm', init: randomInit(1, 0.02) }) as CausalLM;
      const setup = lora(model, method, 1e-4);
      const shape = { batch, context, vocab: shapes[name].vocab_size as number } as BenchShape;
      const hostBatch = syntheticBatch(shape, 7);
      const ms: number[] = [];
      let loss = NaN;
      for (let i = 0; i < warmup + steps; i++) {
        const t0 = performance.now();
        loss = await trainStep(model, setup, hostBatch, 1e-4);
        if (i >= warmup) ms.push(performance.now() - t0);
      }
      const stepMs = median(ms);
      console.log(JSON.stringify({ shape: name, method, engine: describeEngineChoice(), batch, context, steps, warmup, medianStepMs: stepMs, tokensPerSec: (batch * context * 1000) / stepMs, lastLoss: loss, memory: tf.memory().numBytes }));
      setup.optimizer.dispose();
      model.dispose();
    }
  }
}

async function logits(o: { model: string; ids: string; adapter?: string; out: string }): Promise<void> {
  const model = await loadPretrained(o.model, { task: 'causal-lm' });
  if (o.adapter) await loadAdapter(model, o.adapter);
  const ids = JSON.parse(readFileSync(o.ids, 'utf8')) as number[][];
  const y = model.logits(tf.tensor2d(ids, [ids.length, ids[0].length], 'int32')); // [B, T, V]
  writeFileSync(o.out, JSON.stringify({ shape: y.shape, values: Array.from(await y.data()) }));
  console.log(`logits ${y.shape.join('x')} of ${o.model}${o.adapter ? ` + ${o.adapter}` : ''} -> ${o.out} (${describeEngineChoice()})`);
}

/** An adapter whose B is far from zero, so that loading it elsewhere is a real test. */
async function adapter(o: { model: string; out: string }): Promise<void> {
  const model = await loadPretrained(o.model, { task: 'causal-lm' });
  const setup = lora(model, 'lora', 1e-2);
  const vocab = (JSON.parse(readFileSync(`${o.model}/config.json`, 'utf8')) as { vocab_size: number }).vocab_size;
  const batch = syntheticBatch({ batch: 2, context: 16, vocab } as BenchShape, 3);
  for (let i = 0; i < 3; i++) await trainStep(model, setup, batch, 1e-2);
  setTraining(model, false);
  await saveAdapter(model, o.out);
  console.log(`adapter after 3 LoRA steps -> ${o.out}`);
}

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: {
    shapes: { type: 'string', default: 'smollm-135m,llama-3.2-1b' },
    methods: { type: 'string', default: 'lora,lora-pro' },
    batch: { type: 'string', default: '4' },
    context: { type: 'string', default: '256' },
    steps: { type: 'string', default: '8' },
    warmup: { type: 'string', default: '2' },
    model: { type: 'string' },
    ids: { type: 'string' },
    adapter: { type: 'string' },
    out: { type: 'string' },
  },
});
await useBackend();
console.error(`engine: ${describeEngineChoice()}`);
const need = (k: 'model' | 'ids' | 'out') => values[k] ?? (() => { throw new Error(`--${k} is required`); })();
if (positionals[0] === 'speed') await speed(values as Parameters<typeof speed>[0]);
else if (positionals[0] === 'logits') await logits({ model: need('model'), ids: need('ids'), adapter: values.adapter, out: need('out') });
else if (positionals[0] === 'adapter') await adapter({ model: need('model'), out: need('out') });
else throw new Error(`usage: node dist/bench/gpu.js speed|logits|adapter [options] (got "${positionals[0] ?? ''}")`);
