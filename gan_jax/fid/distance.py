"""Frechet distance, KID, Inception Score and precision/recall on the device.

The Frechet distance between N(mu1, S1) and N(mu2, S2) is
  |mu1 - mu2|^2 + tr S1 + tr S2 - 2 tr (S1^1/2 S2 S1^1/2)^1/2,
and the last trace is the nuclear norm (sum of singular values) of S1^1/2 S2^1/2, since
(S1^1/2 S2^1/2)(S1^1/2 S2^1/2)^T = S1^1/2 S2 S1^1/2. We compute it, in float64, from the
eigendecompositions S_i = V_i diag(w_i) V_i^T as the singular values of
diag(w1^1/2) V1^T V2 diag(w2^1/2).

Why singular values and not the usual square roots of eigenvalues of S1 S2 (scipy's sqrtm) or of
S1^1/2 S2 S1^1/2: those eigenvalues carry an absolute error of about eps * |S|^2, and a square root
turns an eigenvalue that should be 0 into sqrt(eps) * |S| ~ 1e-7 * |S|. Covariances of fewer
images than feature dimensions (N < 2048) have thousands of such zero eigenvalues, and the old
form gave -0.0005 for two identical statistics of 400 images. Singular values are accurate to
eps * |S| each, so the error stays near 1e-12. For the same reason, eigenvalues below the
eigensolver's error bound (d * eps * the largest one, the numerical-rank tolerance of numpy's
matrix_rank) are zero, and the covariances' traces are taken over the same clipped eigenvalues as
their square roots, so that tr S1 + tr S2 and 2 tr (.)^1/2 cancel exactly when S1 = S2. For
full-rank covariances (N > d images) this is the textbook value: it matches scipy's sqrtm to 1e-9.
It never yields complex parts and runs on accelerators.
"""

import jax
import jax.numpy as jnp
import numpy as np

from gan_jax.errors import UserError
from gan_jax.fid.statistics import x64


def _psd_root_eigh(s):
  """(sqrt of the eigenvalues, eigenvectors) of a symmetric PSD matrix; eigenvalues below the
  eigensolver's error bound (numerically zero, of either sign) are 0."""
  w, v = jnp.linalg.eigh(s)
  tol = s.shape[0] * jnp.finfo(s.dtype).eps * jnp.max(jnp.abs(w))
  return jnp.sqrt(jnp.where(w > tol, w, 0.0)), v


@jax.jit
def _frechet(mu1, s1, mu2, s2):
  r1, v1 = _psd_root_eigh(s1)
  r2, v2 = _psd_root_eigh(s2)
  # Singular values of S1^1/2 S2^1/2 = V1 diag(r1) (V1^T V2) diag(r2) V2^T: those of the middle.
  cross = r1[:, None] * (v1.T @ v2) * r2[None, :]
  tr_covmean = jnp.sum(jnp.linalg.svd(cross, compute_uv=False))
  diff = mu1 - mu2
  return diff @ diff + jnp.sum(r1 * r1) + jnp.sum(r2 * r2) - 2.0 * tr_covmean


def frechet_distance(mu1, sigma1, mu2, sigma2):
  """FID between two Gaussians, in float64 on the default device."""
  shapes = [np.shape(a) for a in (mu1, sigma1, mu2, sigma2)]
  d = shapes[0][0] if shapes[0] else 0
  if shapes != [(d,), (d, d), (d,), (d, d)]:
    raise UserError(f"statistics shapes {shapes}; expected (d,), (d, d) twice")
  with x64():
    args = [jnp.asarray(a, jnp.float64) for a in (mu1, sigma1, mu2, sigma2)]
    return float(_frechet(*args))


# ---------------------------------------------------------------------------
# Kernel Inception Distance (Binkowski et al.): unbiased MMD^2 with the cubic
# polynomial kernel k(x, y) = (x.y / d + 1)^3, averaged over random subsets.

@jax.jit
def _mmd2(x, y):
  d = x.shape[1]
  hp = jax.lax.Precision.HIGHEST
  kxx = (jnp.dot(x, x.T, precision=hp) / d + 1) ** 3
  kyy = (jnp.dot(y, y.T, precision=hp) / d + 1) ** 3
  kxy = (jnp.dot(x, y.T, precision=hp) / d + 1) ** 3
  m = x.shape[0]
  off = lambda k: (jnp.sum(k) - jnp.trace(k)) / (m * (m - 1))
  return off(kxx) + off(kyy) - 2 * jnp.mean(kxy)


def kernel_inception_distance(feats1, feats2, num_subsets=100,
                              subset_size=1000, seed=0):
  """(mean, std) of KID over `num_subsets` subsets, like NVIDIA/torch-fidelity."""
  n = min(len(feats1), len(feats2))
  m = min(n, subset_size)
  if m < 2:
    raise UserError(f"KID needs at least 2 features per side; got {n}")
  rs = np.random.RandomState(seed)
  vals = []
  with x64():
    f1 = jnp.asarray(feats1, jnp.float64)
    f2 = jnp.asarray(feats2, jnp.float64)
    for _ in range(num_subsets):
      i = rs.choice(len(feats1), m, replace=False)
      j = rs.choice(len(feats2), m, replace=False)
      vals.append(float(_mmd2(f1[i], f2[j])))
  return float(np.mean(vals)), float(np.std(vals))


# ---------------------------------------------------------------------------
# Inception Score from streamed per-split sums: for split k,
#   log IS_k = mean_i sum_y p_iy log p_iy - sum_y pbar_ky log pbar_ky.

def split_ids(index, num, splits):
  """Split of each sample index, as contiguous equal chunks (like torch-fidelity)."""
  return (index * splits) // num


def is_update(acc, logits, ids, mask):
  """Adds softmax sums to acc = (p_sum (S, C), plogp_sum (S,), count (S,))."""
  p_sum, plogp_sum, count = acc
  logp = jax.nn.log_softmax(logits.astype(jnp.float32), axis=-1)
  p = jnp.exp(logp)
  w = mask.astype(jnp.float32)
  s = p_sum.shape[0]
  onehot = jax.nn.one_hot(ids, s, dtype=jnp.float32) * w[:, None]
  hp = jax.lax.Precision.HIGHEST
  p_sum = p_sum + jnp.dot(onehot.T, p, precision=hp)
  plogp_sum = plogp_sum + onehot.T @ jnp.sum(p * logp, axis=-1)
  return p_sum, plogp_sum, count + jnp.sum(onehot, axis=0)


def is_init(splits=10, classes=1008):
  return (jnp.zeros((splits, classes)), jnp.zeros((splits,)),
          jnp.zeros((splits,)))


def is_from_sums(acc):
  """(mean, std) of the Inception Score over splits, in float64."""
  p_sum, plogp_sum, count = (np.asarray(a, np.float64) for a in acc)
  pbar = p_sum / count[:, None]
  ent = np.sum(pbar * np.log(np.clip(pbar, 1e-30, None)), axis=1)
  scores = np.exp(plogp_sum / count - ent)
  return float(np.mean(scores)), float(np.std(scores))


def inception_score(logits, splits=10):
  """IS of an (N, C) logits array (reference for the streamed version)."""
  n = len(logits)
  logits = jnp.asarray(logits, jnp.float32)
  ids = split_ids(jnp.arange(n), n, splits)
  acc = is_update(is_init(splits, logits.shape[1]), logits, ids,
                  jnp.ones((n,), bool))
  return is_from_sums(acc)


# ---------------------------------------------------------------------------
# Improved precision and recall (Kynkaanniemi et al. 2019), k-NN balls.

def _sqdist(a, b):
  hp = jax.lax.Precision.HIGHEST
  return (jnp.sum(a * a, 1)[:, None] + jnp.sum(b * b, 1)[None, :]
          - 2 * jnp.dot(a, b.T, precision=hp))


def _radii(x, k, rows):
  def one(chunk):
    d = _sqdist(chunk, x)
    return -jax.lax.top_k(-d, k + 1)[0][:, k]  # k+1: the point itself is 0.
  return jnp.concatenate([one(x[i:i + rows]) for i in range(0, len(x), rows)])


def _coverage(ref, radii, query, rows):
  out = []
  for i in range(0, len(query), rows):
    d = _sqdist(query[i:i + rows], ref)
    out.append(jnp.any(d <= radii[None, :], axis=1))
  return jnp.mean(jnp.concatenate(out).astype(jnp.float32))


def precision_recall(real_feats, fake_feats, k=3, rows=1024):
  """(precision, recall) with k-nearest-neighbour manifolds."""
  r = jnp.asarray(real_feats, jnp.float32)
  f = jnp.asarray(fake_feats, jnp.float32)
  if len(r) <= k or len(f) <= k:
    raise UserError(f"precision/recall needs more than k={k} features per side")
  precision = _coverage(r, _radii(r, k, rows), f, rows)
  recall = _coverage(f, _radii(f, k, rows), r, rows)
  return float(precision), float(recall)
