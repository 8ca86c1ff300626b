// lorapro generate: continues a prompt with a causal LM, or answers it with a T5 (optionally with an adapter).
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { loadAdapter } from '../adapters/peft-files.js';
import { readModelConfig } from '../io/hf-config.js';
import { generate } from '../models/generate.js';
import { generateSeq2Seq } from '../models/generate-seq2seq.js';
import { loadSeq2SeqLM } from '../models/pretrained.js';
import { validateSampling, type SamplingOptions } from '../models/sampling.js';
import { UsageError } from '../train/errors.js';
import { loadRunTokenizer, loadTrained, planTrained, requireModelDir } from '../train/run-model.js';
import type { Tokenizer } from '../io/tokenizer.js';
import { checkInferenceMemory } from '../run/memory-check.js';
import { BACKEND_OPTION, MATMUL_OPTION, QUANTIZE_OPTION, quantizeOption, type Command, type CliIO } from './args.js';
import { applyMatmul, chooseEngine, requestedMatmul } from './engine.js';

function samplingOf(values: Record<string, unknown>): SamplingOptions {
  const sampling: SamplingOptions = { temperature: values.temperature as number | undefined, topK: values.topK as number | undefined, topP: values.topP as number | undefined };
  try {
    validateSampling(sampling);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  return sampling;
}

/** --max-new-tokens, a whole number ≥ 1 (default 32). */
function maxNewTokensOf(values: Record<string, unknown>): number {
  const n = (values.maxNewTokens as number | undefined) ?? 32;
  if (!(Number.isInteger(n) && n >= 1)) throw new UsageError(`--max-new-tokens must be a whole number ≥ 1, got ${n}`);
  return n;
}

/** T5: the prompt is the encoder's input and the decoder writes the answer (a text-to-text run's label word). */
async function generateT5(values: Record<string, unknown>, io: CliIO): Promise<number> {
  const dir = values.model as string;
  const adapter = values.adapter as string | undefined;
  if (values.chat) throw new UsageError('--chat needs a causal LM with a chat template; a T5 takes the prompt as it is');
  if (adapter !== undefined && !existsSync(join(adapter, 'adapter_config.json'))) throw new UsageError(`--adapter: ${adapter} is not a PEFT adapter folder (no adapter_config.json)`);
  const tokenizer = await loadRunTokenizer(dir);
  const ids = tokenizer.encode(values.prompt as string, { addSpecialTokens: true });
  if (ids.length === 0) throw new UsageError('--prompt encodes to no tokens');
  const sampling = samplingOf(values);
  await checkInferenceMemory({ model: dir, adapter, log: () => {}, command: 'generate', batchSize: 1, inputLength: ids.length, newTokens: maxNewTokensOf(values) }); // before any weight is loaded
  const model = await loadSeq2SeqLM(dir);
  try {
    if (adapter !== undefined) await loadAdapter(model, adapter);
    const out = await generateSeq2Seq(model, ids, { ...sampling, maxNewTokens: maxNewTokensOf(values), seed: values.seed as number | undefined, eosTokenId: tokenizer.eosTokenId });
    io.out(tokenizer.decode(out.ids, { skipSpecialTokens: true }));
    return 0;
  } finally {
    model.dispose();
  }
}

/** The prompt's token ids, wrapped as a user message with the chat template under --chat. */
function promptIds(values: Record<string, unknown>, tokenizer: Tokenizer): number[] {
  const prompt = values.prompt as string;
  if (values.chat && !tokenizer.hasChatTemplate) {
    throw new UsageError(`--chat: ${values.model} has no chat template (no "chat_template" in tokenizer_config.json, no chat_template.jinja); drop --chat to continue the prompt as plain text`);
  }
  const ids = values.chat
    ? tokenizer.encode(tokenizer.applyChatTemplate([{ role: 'user', content: prompt }], { addGenerationPrompt: true }), { addSpecialTokens: false })
    : tokenizer.encode(prompt, { addSpecialTokens: true });
  if (ids.length === 0) throw new UsageError('--prompt encodes to no tokens');
  return ids;
}

export const generateCommand: Command = {
  name: 'generate',
  brief: 'continue a prompt with a causal LM, or answer it with a T5 (with an adapter)',
  summary: 'Generates text from a prompt with a causal LM (or a T5, which answers it), or a base model with an adapter: greedy by default, sampled with --temperature.',
  usage: 'lorapro generate --model DIR [--adapter DIR] --prompt TEXT [--max-new-tokens N]',
  options: [
    { key: 'model', type: 'string', arg: 'DIR', required: true, help: 'base model folder (or a full fine-tuning output folder)' },
    { key: 'adapter', type: 'string', arg: 'DIR', help: 'PEFT adapter folder' },
    { key: 'prompt', type: 'string', arg: 'TEXT', required: true, help: 'the prompt' },
    { key: 'chat', type: 'boolean', help: 'wrap the prompt as a user message with the chat template' },
    { key: 'maxNewTokens', type: 'int', default: '32', help: 'tokens to generate at most' },
    { key: 'temperature', type: 'number', default: '0 (greedy)', help: 'sampling temperature' },
    { key: 'topK', type: 'int', help: 'sample among the k most likely tokens' },
    { key: 'topP', type: 'number', help: 'nucleus sampling threshold' },
    { key: 'seed', type: 'int', default: '0', help: 'seed of the sampling draws' },
    QUANTIZE_OPTION,
    BACKEND_OPTION,
    MATMUL_OPTION,
  ],
  examples: ['lorapro generate --model models/gpt2 --adapter runs/alpaca-lora-pro --prompt "Q: what is 2+2?" --max-new-tokens 16'],
  async run(values, io) {
    maxNewTokensOf(values);
    requestedMatmul(values.matmulPrecision);
    await chooseEngine(values.backend);
    applyMatmul(values.matmulPrecision, io);
    requireModelDir(values.model as string);
    if ((await readModelConfig(values.model as string)).modelType === 't5') return generateT5(values, io);
    const options = { model: values.model as string, adapter: values.adapter as string | undefined, task: 'causal-lm' as const, log: (l: string) => io.err(l), quantize: quantizeOption(values.quantize) };
    const plan = await planTrained(options);
    const tok = await loadRunTokenizer(options.model);
    const ids = promptIds(values, tok);
    await checkInferenceMemory({ ...options, command: 'generate', batchSize: 1, inputLength: ids.length, newTokens: maxNewTokensOf(values) }, plan); // before any weight is loaded
    const trained = await loadTrained(options, { plan, tokenizer: tok });
    try {
      const { model, tokenizer } = trained;
      if (model.task !== 'causal-lm') throw new UsageError('generate needs a causal LM; this run was trained for classification (use lorapro eval)');
      const maxNewTokens = Math.min(maxNewTokensOf(values), model.maxPositions - ids.length);
      if (maxNewTokens < 1) throw new UsageError(`--prompt has ${ids.length} tokens; the model has ${model.maxPositions} positions, leaving none to generate`);
      const sampling = samplingOf(values);
      const out = await generate(model, ids, { ...sampling, maxNewTokens, seed: values.seed as number | undefined, eosTokenId: tokenizer.eosTokenId });
      io.out(tokenizer.decode(out.ids, { skipSpecialTokens: true }));
      return 0;
    } finally {
      trained.model.dispose();
    }
  },
};
