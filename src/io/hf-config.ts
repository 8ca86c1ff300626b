// Hugging Face config.json → typed, frozen model configs. The only place HF's snake_case config
// fields are read; the rest of the project uses these camelCase types.

export type RopeScaling =
  | { type: 'linear'; factor: number }
  | { type: 'llama3'; factor: number; lowFreqFactor: number; highFreqFactor: number; originalMaxPositionEmbeddings: number };

export interface Gpt2Config {
  readonly modelType: 'gpt2';
  readonly vocabSize: number; // vocab_size
  readonly nPositions: number; // n_positions
  readonly nEmbd: number; // n_embd
  readonly nLayer: number; // n_layer
  readonly nHead: number; // n_head
  readonly nInner: number; // n_inner ?? 4 * n_embd
  readonly activation: string; // activation_function, default "gelu_new"
  readonly layerNormEpsilon: number; // layer_norm_epsilon, default 1e-5
  readonly tieWordEmbeddings: boolean; // default true
  readonly numLabels: number; // num_labels or len(id2label), default 2
  readonly id2label?: Readonly<Record<number, string>>;
  readonly padTokenId?: number;
  readonly bosTokenId?: number;
  readonly eosTokenId?: number | readonly number[];
  readonly architectures?: readonly string[];
  readonly raw: Readonly<Record<string, unknown>>; // the parsed JSON, for writing back unchanged
}

/** llama, qwen2 and mistral share this shape. */
export interface LlamaConfig {
  readonly modelType: 'llama' | 'qwen2' | 'mistral';
  readonly vocabSize: number;
  readonly hiddenSize: number;
  readonly intermediateSize: number;
  readonly numHiddenLayers: number;
  readonly numAttentionHeads: number;
  readonly numKeyValueHeads: number; // default numAttentionHeads
  readonly headDim: number; // head_dim ?? hidden_size / num_attention_heads
  readonly maxPositionEmbeddings: number;
  readonly rmsNormEps: number; // default 1e-6
  readonly ropeTheta: number; // rope_theta or rope_parameters.rope_theta, default 10000
  readonly ropeScaling?: RopeScaling; // rope_scaling / rope_parameters; others refused
  readonly hiddenAct: string; // default "silu"
  readonly attentionBias: boolean; // llama: attention_bias (default false); qwen2: q/k/v biases true
  readonly mlpBias: boolean; // default false
  readonly tieWordEmbeddings: boolean; // default false
  readonly numLabels: number;
  readonly id2label?: Readonly<Record<number, string>>;
  readonly padTokenId?: number;
  readonly bosTokenId?: number;
  readonly eosTokenId?: number | readonly number[];
  readonly architectures?: readonly string[];
  readonly raw: Readonly<Record<string, unknown>>;
}

/** bert and roberta encoders. */
export interface BertConfig {
  readonly modelType: 'bert' | 'roberta';
  readonly vocabSize: number;
  readonly hiddenSize: number;
  readonly numHiddenLayers: number;
  readonly numAttentionHeads: number;
  readonly intermediateSize: number;
  readonly hiddenAct: string; // default "gelu"
  readonly maxPositionEmbeddings: number;
  readonly typeVocabSize: number; // default 2
  readonly layerNormEps: number; // default 1e-12
  readonly padTokenId: number; // default 0 (roberta: 1)
  readonly numLabels: number;
  readonly id2label?: Readonly<Record<number, string>>;
  readonly architectures?: readonly string[];
  readonly raw: Readonly<Record<string, unknown>>;
}

export type ModelConfig = Gpt2Config | LlamaConfig | BertConfig;
