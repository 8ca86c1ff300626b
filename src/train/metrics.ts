// Evaluation metrics on plain arrays, matching scikit-learn's definitions so numbers compare with
// published GLUE-style results. Class labels are integer indices.

function checkPair(yTrue: ArrayLike<number>, yPred: ArrayLike<number>, name: string): void {
  if (yTrue.length !== yPred.length) throw new Error(`${name}: ${yTrue.length} labels but ${yPred.length} predictions`);
  if (yTrue.length === 0) throw new Error(`${name}: no examples`);
  for (let i = 0; i < yTrue.length; i++) {
    if (!Number.isInteger(yTrue[i])) throw new Error(`${name}: label ${i} must be an integer class index, got ${yTrue[i]}`);
    if (!Number.isInteger(yPred[i])) throw new Error(`${name}: prediction ${i} must be an integer class index, got ${yPred[i]}`);
  }
}

/** Fraction of predictions equal to the label. */
export function accuracy(yTrue: ArrayLike<number>, yPred: ArrayLike<number>): number {
  checkPair(yTrue, yPred, 'accuracy');
  let correct = 0;
  for (let i = 0; i < yTrue.length; i++) if (yTrue[i] === yPred[i]) correct++;
  return correct / yTrue.length;
}

/**
 * counts[t][p] = number of examples with label t predicted as p (rows: truth, as sklearn's
 * confusion_matrix). `numClasses` defaults to 1 + the largest class seen.
 */
export function confusionMatrix(yTrue: ArrayLike<number>, yPred: ArrayLike<number>, numClasses?: number): number[][] {
  checkPair(yTrue, yPred, 'confusionMatrix');
  let k = numClasses ?? 0;
  if (numClasses === undefined) for (let i = 0; i < yTrue.length; i++) k = Math.max(k, yTrue[i] + 1, yPred[i] + 1);
  if (!Number.isInteger(k) || k < 1) throw new Error(`confusionMatrix: numClasses must be a positive integer, got ${numClasses}`);
  const counts = Array.from({ length: k }, () => new Array<number>(k).fill(0));
  for (let i = 0; i < yTrue.length; i++) {
    const t = yTrue[i];
    const p = yPred[i];
    if (t < 0 || t >= k || p < 0 || p >= k) throw new Error(`confusionMatrix: example ${i} has label ${t} and prediction ${p}, outside [0, ${k})`);
    counts[t][p]++;
  }
  return counts;
}

/** Classes that occur as a label or a prediction (sklearn's unique_labels(y_true, y_pred)). */
function presentClasses(yTrue: ArrayLike<number>, yPred: ArrayLike<number>): number[] {
  const seen = new Set<number>();
  for (let i = 0; i < yTrue.length; i++) seen.add(yTrue[i]).add(yPred[i]);
  return [...seen].sort((a, b) => a - b);
}

/**
 * Unweighted mean over present classes of F1_c = 2·TP / (2·TP + FP + FN); a class never predicted
 * (or never true) has TP = 0 and so F1 = 0, as sklearn's f1_score(average='macro', zero_division=0).
 */
export function macroF1(yTrue: ArrayLike<number>, yPred: ArrayLike<number>): number {
  checkPair(yTrue, yPred, 'macroF1');
  const classes = presentClasses(yTrue, yPred);
  let sum = 0;
  for (const c of classes) {
    let tp = 0;
    let fp = 0;
    let fn = 0;
    for (let i = 0; i < yTrue.length; i++) {
      if (yPred[i] === c && yTrue[i] === c) tp++;
      else if (yPred[i] === c) fp++;
      else if (yTrue[i] === c) fn++;
    }
    sum += (2 * tp) / (2 * tp + fp + fn); // denominator > 0: c is a label or a prediction
  }
  return sum / classes.length;
}

/**
 * Matthews correlation, multiclass (Gorodkin 2004), as sklearn's matthews_corrcoef: with C the
 * confusion matrix, t_k its row sums, p_k its column sums, c its trace and s its total,
 *   MCC = (c·s − Σ t_k p_k) / sqrt((s² − Σ p_k²)(s² − Σ t_k²)),  and 0 when the denominator is 0.
 */
export function matthewsCorrelation(yTrue: ArrayLike<number>, yPred: ArrayLike<number>): number {
  checkPair(yTrue, yPred, 'matthewsCorrelation');
  const classes = presentClasses(yTrue, yPred);
  const index = new Map(classes.map((c, k) => [c, k]));
  const t = new Array<number>(classes.length).fill(0);
  const p = new Array<number>(classes.length).fill(0);
  let c = 0;
  for (let i = 0; i < yTrue.length; i++) {
    t[index.get(yTrue[i]) as number]++;
    p[index.get(yPred[i]) as number]++;
    if (yTrue[i] === yPred[i]) c++;
  }
  const s = yTrue.length;
  let tp = 0;
  let pp = 0;
  let tt = 0;
  for (let k = 0; k < classes.length; k++) {
    tp += t[k] * p[k];
    pp += p[k] * p[k];
    tt += t[k] * t[k];
  }
  const denominator = (s * s - pp) * (s * s - tt);
  return denominator === 0 ? 0 : (c * s - tp) / Math.sqrt(denominator);
}

export interface ClassificationMetrics {
  readonly accuracy: number;
  readonly macroF1: number;
  readonly mcc: number;
}

/** The three metrics a classification eval logs. */
export function classificationMetrics(yTrue: ArrayLike<number>, yPred: ArrayLike<number>): ClassificationMetrics {
  return { accuracy: accuracy(yTrue, yPred), macroF1: macroF1(yTrue, yPred), mcc: matthewsCorrelation(yTrue, yPred) };
}

/** Index of the largest logit in each row of a row-major [rows, numClasses] array (first on ties). */
export function argmaxRows(logits: ArrayLike<number>, numClasses: number): number[] {
  if (!Number.isInteger(numClasses) || numClasses < 1) throw new Error(`argmaxRows: numClasses must be a positive integer, got ${numClasses}`);
  if (logits.length % numClasses !== 0) throw new Error(`argmaxRows: ${logits.length} logits is not a multiple of numClasses ${numClasses}`);
  const out: number[] = [];
  for (let row = 0; row < logits.length; row += numClasses) {
    let best = 0;
    for (let k = 1; k < numClasses; k++) if (logits[row + k] > logits[row + best]) best = k;
    out.push(best);
  }
  return out;
}

/**
 * Weighted mean Σ w_i·l_i / Σ w_i; with token counts as weights, per-batch mean losses become the
 * mean loss per token. Without weights, the plain mean.
 */
export function meanLoss(losses: ArrayLike<number>, weights?: ArrayLike<number>): number {
  if (losses.length === 0) throw new Error('meanLoss: no losses');
  if (weights && weights.length !== losses.length) throw new Error(`meanLoss: ${losses.length} losses but ${weights.length} weights`);
  let sum = 0;
  let total = 0;
  for (let i = 0; i < losses.length; i++) {
    const w = weights ? weights[i] : 1;
    if (!(w >= 0)) throw new Error(`meanLoss: weight ${i} must be non-negative, got ${w}`);
    if (w === 0) continue; // an empty batch's loss may be NaN; it carries no weight
    sum += w * losses[i];
    total += w;
  }
  if (total === 0) throw new Error('meanLoss: the weights sum to 0');
  return sum / total;
}

/** exp(mean token cross-entropy in nats). */
export function perplexity(meanTokenLoss: number): number {
  if (!Number.isFinite(meanTokenLoss)) throw new Error(`perplexity: mean token loss must be finite, got ${meanTokenLoss}`);
  return Math.exp(meanTokenLoss);
}
