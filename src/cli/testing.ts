// Shared by the CLI tests: run a command line in-process, and a tiny byte-level model folder.
import { writeInitialModel } from '../run/pretrain.js';
import { main } from './cli.js';

/** Runs `lorapro ...argv` in this process and collects its exit code and output lines. */
export async function runCli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(argv, { out: (l) => out.push(l), err: (l) => err.push(l) });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

/** A 2-layer, d = 16 Llama with the byte-level tokenizer (what `lorapro pretrain` starts from). */
export async function writeTinyByteModel(dir: string, seed = 1): Promise<string> {
  const config = { model_type: 'llama', vocab_size: 257, hidden_size: 16, intermediate_size: 40, num_hidden_layers: 2, num_attention_heads: 2, num_key_value_heads: 2, max_position_embeddings: 64, tie_word_embeddings: true };
  await writeInitialModel(config, dir, seed);
  return dir;
}
