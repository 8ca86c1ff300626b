// Dense decompositions in Float64 for adapter initialisation (PiSSA, OLoRA, LoRA-GA): a thin SVD, a
// randomized top-q SVD, and a Householder QR with LAPACK's sign convention. Sized for one weight
// matrix at a time; nothing here knows TF.js.
import { Matrix, SingularValueDecomposition } from 'ml-matrix';
import { mat, matmul, transpose, type Mat } from './linalg.js';
import type { Rng } from './rng.js';

/** A thin SVD M = U·diag(s)·Vᵀ: U [m, k], s [k] descending, V [n, k], k = min(m, n). */
export interface Svd {
  readonly u: Mat;
  readonly s: Float64Array;
  readonly v: Mat;
}

const toMl = (a: Mat): Matrix => new Matrix(Array.from({ length: a.rows }, (_, i) => Array.from(a.data.subarray(i * a.cols, (i + 1) * a.cols))));
const fromMl = (m: Matrix): Mat => mat(m.rows, m.columns, m.to1DArray());

function assertFinite(a: Mat, what: string): void {
  for (const v of a.data) if (!Number.isFinite(v)) throw new Error(`${what} contains a non-finite value (${v})`);
}

/** The first `k` columns of a row-major matrix. */
export function leadingColumns(a: Mat, k: number): Mat {
  const out = mat(a.rows, k);
  for (let i = 0; i < a.rows; i++) for (let j = 0; j < k; j++) out.data[i * k + j] = a.data[i * a.cols + j];
  return out;
}

/** The first `k` rows of a row-major matrix. */
export function leadingRows(a: Mat, k: number): Mat {
  return mat(k, a.cols, a.data.subarray(0, k * a.cols));
}

/** Thin SVD (Golub–Kahan via ml-matrix), singular values sorted descending. */
export function svd(a: Mat): Svd {
  assertFinite(a, 'svd input');
  const k = Math.min(a.rows, a.cols);
  const d = new SingularValueDecomposition(toMl(a), { autoTranspose: true, computeLeftSingularVectors: true, computeRightSingularVectors: true });
  const order = d.diagonal.map((s, i) => [s, i] as const).sort((x, y) => y[0] - x[0]).slice(0, k).map(([, i]) => i);
  const u0 = fromMl(d.leftSingularVectors);
  const v0 = fromMl(d.rightSingularVectors);
  const u = mat(a.rows, k);
  const v = mat(a.cols, k);
  order.forEach((src, j) => {
    for (let i = 0; i < a.rows; i++) u.data[i * k + j] = u0.data[i * u0.cols + src];
    for (let i = 0; i < a.cols; i++) v.data[i * k + j] = v0.data[i * v0.cols + src];
  });
  return { u, s: Float64Array.from(order.map((i) => d.diagonal[i])), v };
}

/**
 * Householder QR, reduced: M [m, n] = Q [m, k]·R [k, n], k = min(m, n), with LAPACK's (and so
 * torch.linalg.qr's) sign convention: each reflector maps its column to β·e₁ with β = −sign(α)·‖x‖
 * (dlarfg), so R's diagonal has the opposite sign of the column's leading entry; a column already
 * zero below the diagonal is left alone (τ = 0).
 */
export function householderQr(a: Mat): { q: Mat; r: Mat } {
  assertFinite(a, 'householderQr input');
  const m = a.rows;
  const n = a.cols;
  const k = Math.min(m, n);
  const w = Float64Array.from(a.data); // reduced in place to R (upper part)
  const vs: Float64Array[] = [];
  const taus: number[] = [];
  for (let j = 0; j < k; j++) {
    const alpha = w[j * n + j];
    let xnorm2 = 0;
    for (let i = j + 1; i < m; i++) xnorm2 += w[i * n + j] ** 2;
    const v = new Float64Array(m - j);
    if (xnorm2 === 0) {
      vs.push(v);
      taus.push(0);
      continue;
    }
    const beta = -Math.sign(alpha || 1) * Math.hypot(alpha, Math.sqrt(xnorm2));
    const tau = (beta - alpha) / beta;
    v[0] = 1;
    for (let i = j + 1; i < m; i++) v[i - j] = w[i * n + j] / (alpha - beta);
    // apply H = I − τ·v·vᵀ to the trailing columns
    for (let c = j; c < n; c++) {
      let dot = 0;
      for (let i = j; i < m; i++) dot += v[i - j] * w[i * n + c];
      dot *= tau;
      for (let i = j; i < m; i++) w[i * n + c] -= dot * v[i - j];
    }
    vs.push(v);
    taus.push(tau);
  }
  const r = mat(k, n);
  for (let i = 0; i < k; i++) for (let c = i; c < n; c++) r.data[i * n + c] = w[i * n + c];
  // Q = H₀·H₁·…·H_{k−1} applied to the first k columns of I, from the last reflector back
  const q = mat(m, k);
  for (let i = 0; i < k; i++) q.data[i * k + i] = 1;
  for (let j = k - 1; j >= 0; j--) {
    const v = vs[j];
    const tau = taus[j];
    if (tau === 0) continue;
    for (let c = 0; c < k; c++) {
      let dot = 0;
      for (let i = j; i < m; i++) dot += v[i - j] * q.data[i * k + c];
      dot *= tau;
      for (let i = j; i < m; i++) q.data[i * k + c] -= dot * v[i - j];
    }
  }
  return { q, r };
}

/**
 * A rank-q SVD by randomized subspace iteration (Halko, Martinsson & Tropp 2011, Algorithm 4.4 as
 * torch.svd_lowrank's get_approximate_basis): Q = orth(M·G) for a seeded Gaussian G [n, q], then
 * `niter` times Q ← orth(M·orth(Mᵀ·Q)); M ≈ Q·(QᵀM), whose small SVD gives the factors.
 */
export function randomizedSvd(a: Mat, q: number, niter: number, rng: Rng): Svd {
  assertFinite(a, 'randomizedSvd input');
  if (!(Number.isInteger(q) && q >= 1 && q <= Math.min(a.rows, a.cols))) throw new Error(`randomizedSvd: q must be an integer in [1, ${Math.min(a.rows, a.cols)}], got ${q}`);
  if (!(Number.isInteger(niter) && niter >= 0)) throw new Error(`randomizedSvd: niter must be an integer ≥ 0, got ${niter}`);
  const g = mat(a.cols, q, Array.from({ length: a.cols * q }, () => rng.normal()));
  const at = transpose(a);
  let basis = householderQr(matmul(a, g)).q; // [m, q]
  for (let i = 0; i < niter; i++) {
    basis = householderQr(matmul(at, basis)).q; // [n, q]
    basis = householderQr(matmul(a, basis)).q; // [m, q]
  }
  const small = svd(matmul(transpose(basis), a)); // [q, n] = Ũ·S·Vᵀ
  return { u: matmul(basis, small.u), s: small.s, v: small.v };
}
