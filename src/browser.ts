// lorapro in a browser (`lorapro/browser`): everything that needs no file system. Models, tokenizers
// and adapters come as FileSets (dropped or fetched files), data as texts, adapters go out as bytes.
// Start an engine first: `await useBrowserBackend()`.

// Engine
export { tf } from './engine/tf.js';
export { useBrowserBackend, BROWSER_BACKENDS, type BrowserBackend, type BrowserBackendOptions } from './engine/browser-backend.js';
export { engineName, describeEngine, describeEngineChoice } from './engine/backend.js';

// Math core
export { Rng } from './math/rng.js';
export { symmetricEigen, dampedInverse, solveSylvester } from './math/linalg.js';

// LoRA-Pro and optimisers
export { loraProGradients, equivalentGradient, X_MODES, type XMode } from './optim/lora-pro.js';
export { gradientApproximation, approximationQuality, type ApproximationQuality } from './optim/diagnostics.js';
export { AdamW } from './optim/adamw.js';
export { LoraProAdamW } from './optim/lora-pro-adamw.js';
export { LoraProSGD } from './optim/lora-pro-sgd.js';
export { LoraFA } from './optim/lora-fa.js';

// Formats and files in memory
export { FileSet, type FileBytes } from './io/file-set.js';
export { parseSafetensors } from './io/safetensors-parse.js';
export { serializeSafetensors } from './io/safetensors-encode.js';
export { parseModelConfig, type ModelConfig } from './io/hf-config.js';
export { tokenizerFromFiles, tokenizerFromJson, Tokenizer } from './io/tokenizer.js';
export { InputFileError } from './io/input-error.js';

// Models and adapters
export { loadPretrainedFromFiles } from './models/from-files.js';
export { generate } from './models/generate.js';
export { loraConfig, type LoraConfig } from './adapters/lora-config.js';
export { injectLora, loraPairs, mergeAndUnload } from './adapters/inject.js';
export { estimateLoraGaGradients } from './adapters/lora-ga.js';
export { adapterFiles, loadAdapterFromFiles } from './adapters/peft-bytes.js';

// Training in memory
export { TrainSession, runDataFromText, type SessionInputs, type SessionData, type SessionStep, type SessionEval, type LabelledSplits } from './train/session.js';
export { METHODS, type MethodName } from './train/methods.js';
export { suggestedLearningRate, widthOf, recommendationsFromJson, recommendedRate, RECOMMENDATIONS_FILE } from './train/lr-defaults-rule.js';
export { UsageError } from './train/errors.js';
export { DatasetError } from './data/problems.js';
export type { TextFile } from './data/text.js';
export type { EvalMetrics } from './train/evaluate.js';
export type { LayerDiagnostic } from './train/diagnostics.js';
