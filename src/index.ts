// The public API of lorapro. Everything a user imports comes from here.

// Engine
import { ensureBackend } from './engine/backend.js';
export { tf } from './engine/tf.js';
export { useBackend, ensureBackend, engineName, describeEngine, describeEngineChoice, BACKEND_ENV } from './engine/backend.js';
export { nativeStatus, configureNative, type NativeInfo, type MatmulPrecision } from './engine/native.js';
export { FrozenWeight, frozenBytes } from './engine/frozen.js';
export { FORMATS as FROZEN_FORMATS, QUANTIZE_MODES, type FrozenFormat, type QuantizeMode } from './quant/formats.js';
export { quantizeNf4, dequantizeNf4, NF4_LEVELS, type Nf4Blocks } from './quant/nf4.js';
export { quantizeNf4Double, dequantizeNf4Double, type Nf4DqBlocks } from './quant/nf4-dq.js';
export { DYNAMIC_MAP } from './quant/dynamic-map.js';
export { quantizeInt8, dequantizeInt8, type Int8Rows } from './quant/int8.js';

// Importing the package starts its engine (LORAPRO_BACKEND, else native, else wasm, else cpu): TF.js registers
// wasm but leaves it uninitialised, so a first raw op would otherwise throw. useBackend() still switches.
await ensureBackend();

// Math core
export { Rng } from './math/rng.js';
export { mat, matmul, transpose, identity, symmetricEigen, dampedInverse, solveSylvester, type Mat } from './math/linalg.js';

// LoRA-Pro and optimisers
export { loraProGradients, equivalentGradient, X_MODES, type XMode, type LoraProInput, type LoraProOutput } from './optim/lora-pro.js';
export { gradientApproximation, approximationQuality, type GradientApproximation, type ApproximationQuality } from './optim/diagnostics.js';
export type { Optimizer, OptimizerState, StepResult, LoraPair, CommonOptions } from './optim/optimizer.js';
export { AdamW, type AdamWOptions } from './optim/adamw.js';
export { SGD, type SGDOptions } from './optim/sgd.js';
export { createLoraPlus } from './optim/lora-plus.js';
export { LoraProSGD, type LoraProSGDOptions } from './optim/lora-pro-sgd.js';
export { LoraProAdamW, type LoraProAdamWOptions } from './optim/lora-pro-adamw.js';
export { LoraFA, type LoraFAOptions } from './optim/lora-fa.js';

// Adapters
export { loraConfig, loraScale, mutatesBase, type LoraConfig, type InitLoraWeights } from './adapters/lora-config.js';
export { LoraLinear } from './adapters/lora-linear.js';
export { injectLora, loraPairs, mergeAndUnload, selectTargets, setMerged, setTraining, type InjectOptions } from './adapters/inject.js';
export { estimateLoraGaGradients } from './adapters/lora-ga.js';
export { saveAdapter, loadAdapter, readAdapterConfig } from './adapters/peft-files.js';
export { exportGguf, type GgufExportOptions, type GgufExportSummary } from './adapters/gguf-export.js';

// Formats
export {
  parseSafetensors, readSafetensors, serializeSafetensors, writeSafetensors, toFloat32, toInt32, toTensor, tensorsToWrite,
  listCheckpointFiles, forEachCheckpointTensor, SafetensorsError, type RawTensor, type SafetensorsFile, type SafeDType,
} from './io/safetensors.js';
export { parseModelConfig, readModelConfig, modelConfigToJson, type ModelConfig, type Gpt2Config, type LlamaConfig, type BertConfig, type T5Config } from './io/hf-config.js';
export { loadTokenizer, Tokenizer } from './io/tokenizer.js';
export { InputFileError } from './io/input-error.js';
export { writeGguf, planGguf, type GgufKv, type GgufTensorInfo } from './io/gguf-write.js';
export { ggufTokenizer } from './io/gguf-tokenizer.js';
export { GGML_TYPES, type GgmlType } from './quant/ggml-type-traits.js';

// Models
export { Module } from './models/module.js';
export { Linear, type LinearLike } from './models/linear.js';
export { loadPretrained, loadPretrainedWithReport, loadSeq2SeqLM, savePretrained, type LoadOptions, type SaveOptions } from './models/pretrained.js';
export { createModel, defaultTask } from './models/auto.js';
export { generate } from './models/generate.js';
export { KVCache, Seq2SeqCache } from './models/kv-cache.js';
export { T5ForConditionalGeneration } from './models/t5.js';
export { T5ForTextToTextClassification, labelTargets, setTextToTextLabels } from './models/t5-classifier.js';
export { generateSeq2Seq } from './models/generate-seq2seq.js';
export { isTextToText } from './models/types.js';
export type { AnyModel, CausalLM, SequenceClassifier, Task, ModelTask, PretrainedModel, ModelOptions, Seq2SeqLM, TextToTextClassifier } from './models/types.js';

// Training
export { train, type TrainResult, type TrainHooks } from './run/train.js';
export { namedGradients } from './train/grads.js';
export { trainConfig, type TrainConfig, type LrRequest, type LrChoice, type LrTrial, type ResumeMode } from './train/config.js';
export { chooseLearningRate, pickTrial } from './run/lr-search.js';
export { suggestedLearningRate, searchGrid, readRecommendations, RECOMMENDATIONS_FILE } from './train/lr-defaults.js';
export { METHODS, INITS, setupMethod, checkInit, checkVariant, type MethodName, type MethodSetup, type MethodVariant } from './train/methods.js';
export { evaluate, type EvalMetrics } from './train/evaluate.js';
export { compareMethods, type CompareOptions, type CompareOutcome } from './run/compare.js';
export { loadTrained } from './train/run-model.js';
export { UsageError } from './train/errors.js';
export { DatasetError } from './data/problems.js';
export { learningRate } from './train/schedule.js';
export { accuracy, macroF1, matthewsCorrelation, perplexity } from './train/metrics.js';
export { loadClassificationData, loadCausalLmData } from './data/files.js';

// Built-in tasks and corpus (Node only: they read npm data packages)
export { builtinTaskNames, loadBuiltinTask, PAPER_TASKS } from './tasks/builtin.js';
