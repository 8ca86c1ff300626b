// lorapro generate: continues a prompt with a causal LM (optionally with an adapter).
import { useBackend } from '../engine/backend.js';
import { generate } from '../models/generate.js';
import { validateSampling, type SamplingOptions } from '../models/sampling.js';
import { UsageError } from '../train/errors.js';
import { loadTrained } from '../train/run-model.js';
import { BACKEND_OPTION, type Command } from './args.js';

export const generateCommand: Command = {
  name: 'generate',
  brief: 'continue a prompt with a causal LM (with an adapter)',
  summary: 'Generates text from a prompt with a causal LM, or a base model with an adapter: greedy by default, sampled with --temperature.',
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
    BACKEND_OPTION,
  ],
  examples: ['lorapro generate --model models/gpt2 --adapter runs/alpaca-lora-pro --prompt "Q: what is 2+2?" --max-new-tokens 16'],
  async run(values, io) {
    await useBackend(values.backend as string | undefined);
    const trained = await loadTrained({ model: values.model as string, adapter: values.adapter as string | undefined, task: 'causal-lm', log: (l) => io.err(l) });
    try {
      const { model, tokenizer } = trained;
      if (model.task !== 'causal-lm') throw new UsageError('generate needs a causal LM; this run was trained for classification (use lorapro eval)');
      const prompt = values.prompt as string;
      const ids = values.chat
        ? tokenizer.encode(tokenizer.applyChatTemplate([{ role: 'user', content: prompt }], { addGenerationPrompt: true }), { addSpecialTokens: false })
        : tokenizer.encode(prompt, { addSpecialTokens: true });
      if (ids.length === 0) throw new UsageError('--prompt encodes to no tokens');
      const maxNewTokens = Math.min((values.maxNewTokens as number | undefined) ?? 32, model.maxPositions - ids.length);
      if (maxNewTokens < 1) throw new UsageError(`--prompt has ${ids.length} tokens; the model has ${model.maxPositions} positions, leaving none to generate`);
      const sampling: SamplingOptions = { temperature: values.temperature as number | undefined, topK: values.topK as number | undefined, topP: values.topP as number | undefined };
      try {
        validateSampling(sampling);
      } catch (e) {
        throw new UsageError((e as Error).message);
      }
      const out = await generate(model, ids, { ...sampling, maxNewTokens, seed: values.seed as number | undefined, eosTokenId: tokenizer.eosTokenId });
      io.out(tokenizer.decode(out.ids, { skipSpecialTokens: true }));
      return 0;
    } finally {
      trained.model.dispose();
    }
  },
};
