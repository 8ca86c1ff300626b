// Messages between the playground page and its training worker (one worker per run). Files travel
// as ArrayBuffers keyed by file name; everything else is plain data.
import type { BrowserBackend } from '../engine/browser-backend.js';
import type { LabelledSplits, SessionEval, SessionStep } from '../train/session.js';

export type Files = Record<string, ArrayBuffer>;

export interface StartRun {
  readonly type: 'start';
  readonly id: number;
  /** The engine to train on; undefined: the best this browser has. */
  readonly backend?: BrowserBackend;
  /** The model folder's name (messages name files as NAME/file) and its files. */
  readonly model: { readonly name: string; readonly files: Files };
  /** A built-in task's splits, or a dropped training file (and optional eval file) as text. */
  readonly data: { readonly splits: LabelledSplits } | { readonly train: { name: string; text: string }; readonly eval?: { name: string; text: string } };
  /** trainConfig options (method, rank, lr, maxSteps, batchSize, seed, …). */
  readonly options: Readonly<Record<string, unknown>>;
}

export type ToWorker =
  | StartRun
  | { readonly type: 'pause' }
  | { readonly type: 'resume' }
  | { readonly type: 'predict'; readonly text: string }
  | { readonly type: 'export' };

export interface RunInfo {
  readonly engine: string;
  /** The engine line: the engine in words (a webgpu run names its adapter) and why it was chosen. */
  readonly engineLine: string;
  readonly architecture: string;
  readonly task: string;
  readonly totalSteps: number;
  readonly trainExamples: number;
  readonly evalExamples: number;
  readonly labels?: string[];
  readonly lr: number;
  readonly trainableParams: number;
  readonly totalParams: number;
}

export type FromWorker =
  | { readonly type: 'ready'; readonly info: RunInfo }
  | { readonly type: 'log'; readonly line: string }
  | { readonly type: 'step'; readonly step: SessionStep }
  | { readonly type: 'eval'; readonly eval: SessionEval }
  | { readonly type: 'paused'; readonly step: number }
  | { readonly type: 'done'; readonly status: 'completed' | 'diverged'; readonly message?: string }
  | { readonly type: 'prediction'; readonly text: string; readonly classes?: { label: string; probability: number }[]; readonly completion?: string }
  | { readonly type: 'adapter'; readonly files: Files }
  | { readonly type: 'error'; readonly message: string; readonly file?: string };
