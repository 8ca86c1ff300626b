// lorapro studio: serves the playground page (run/studio.ts) on a local port until Ctrl-C.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { startStudio } from '../run/studio.js';
import { UsageError } from '../train/errors.js';
import type { Command } from './args.js';

const DEFAULT_MODEL = 'models/lorapro-base';

export const studioCommand: Command = {
  name: 'studio',
  brief: 'the playground: fine-tune in a browser tab, with live charts, side-by-side runs and PEFT adapter download',
  summary:
    'Serves the playground page on a local port and prints its address. In the page: pick the shipped base or drop a Hugging Face folder, a built-in task or a CSV/JSONL file, methods and settings; each run trains in a Web Worker on WebGPU, WebGL or wasm, with charts of loss, evaluation and the per-layer gradient diagnostic, and its adapter downloads in PEFT\'s format. Ctrl-C stops the server.',
  usage: 'lorapro studio [--port N] [--host ADDR] [--model DIR]',
  options: [
    { key: 'port', type: 'int', default: '5177', help: 'port to listen on (0: a free one)' },
    { key: 'host', type: 'string', arg: 'ADDR', default: '127.0.0.1', help: 'address to listen on' },
    { key: 'model', type: 'string', arg: 'DIR', default: DEFAULT_MODEL, help: 'the model folder the page offers ready-made (without it and without models/lorapro-base here: dropped folders only)' },
  ],
  examples: ['lorapro studio', 'lorapro studio --port 8080 --model models/my-gpt2'],
  async run(values, io) {
    const port = (values.port as number | undefined) ?? 5177;
    if (port < 0 || port > 65535) throw new UsageError(`--port must be 0–65535, got ${port}`);
    // The shipped base is in a clone of the repo; from elsewhere (an installed package) the page takes dropped folders.
    const given = values.model as string | undefined;
    const model = given ?? (existsSync(join(DEFAULT_MODEL, 'config.json')) ? DEFAULT_MODEL : undefined);
    const studio = await startStudio({ model, port, host: (values.host as string | undefined) ?? '127.0.0.1' });
    if (model === undefined) io.err(`lorapro studio: no ${DEFAULT_MODEL} here, so the page offers no ready-made model: drop a Hugging Face folder, or pass --model DIR`);
    io.out(`lorapro studio: open ${studio.url} (Ctrl-C stops it)`);
    await new Promise<void>((ok) => {
      process.once('SIGINT', ok);
      process.once('SIGTERM', ok);
    });
    await studio.close();
    return 0;
  },
};
