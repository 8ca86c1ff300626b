// A Hugging Face model folder held in memory (FileSet: dropped or fetched files) → a model, with the
// same checks and messages as loadPretrained on a folder. No file system: the browser's loader.
import { FileSet, checkpointTensorsOf } from '../io/file-set.js';
import { parseModelConfig } from '../io/hf-config.js';
import { InputFileError } from '../io/input-error.js';
import type { AnyModel } from './types.js';
import { modelFromCheckpoint, type LoadOptions, type LoadReport } from './weights.js';

/**
 * `loadPretrained` for files in memory: config.json and model.safetensors (or an index and its
 * shards), each named `folder/file` in errors.
 *
 * @example
 *   const files = new FileSet('gpt2', { 'config.json': configBytes, 'model.safetensors': weightBytes });
 *   const { model } = await loadPretrainedFromFiles(files, { task: 'sequence-classification', numLabels: 2 });
 */
export async function loadPretrainedFromFiles(files: FileSet, opts: LoadOptions = {}): Promise<{ model: AnyModel; report: LoadReport }> {
  const configPath = files.path('config.json');
  const json = files.json('config.json');
  if (json === undefined) throw new InputFileError(configPath, `${files.name} is not a Hugging Face model folder: it has no config.json (files: ${files.names().join(', ') || 'none'})`);
  const config = parseModelConfig(json, configPath);
  return modelFromCheckpoint(config, checkpointTensorsOf(files), opts, { source: files.name, configPath });
}
