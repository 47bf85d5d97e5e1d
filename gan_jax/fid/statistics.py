"""Streamed feature statistics on the device, and their files.

Per batch we add the feature sum and the sum of outer products (one fp32 matmul
at HIGHEST precision) into compensated (Kahan) fp32 accumulators, so memory is
O(d^2) and the sums keep ~fp64 accuracy without turning on x64 for the whole
program. Mean and covariance (N - 1) are then formed in float64.
"""

import contextlib
import hashlib
import os
import re
import tempfile
import zipfile
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from gan_jax.errors import UserError


@contextlib.contextmanager
def x64():
  """Scoped float64: jit retraces under it, the rest of the program stays fp32."""
  if hasattr(jax, "enable_x64"):
    with jax.enable_x64(True):
      yield
  else:  # older jax
    with jax.experimental.enable_x64():  # pylint: disable=no-member
      yield


class Sums(NamedTuple):
  n: jax.Array    # () float32, count of accumulated rows
  s1: jax.Array   # (d,) sum of features
  c1: jax.Array   # (d,) Kahan compensation of s1
  s2: jax.Array   # (d, d) sum of outer products
  c2: jax.Array   # (d, d) Kahan compensation of s2


def init_sums(dim):
  z1, z2 = jnp.zeros((dim,), jnp.float32), jnp.zeros((dim, dim), jnp.float32)
  return Sums(jnp.zeros((), jnp.float32), z1, z1, z2, z2)


def _kahan(s, c, v):
  y = v - c
  t = s + y
  return t, (t - s) - y


def update_sums(sums, feats, mask=None):
  """Adds a batch (B, d) of features; rows where mask is False are ignored."""
  feats = feats.astype(jnp.float32)
  if mask is not None:
    feats = jnp.where(mask[:, None], feats, 0.0)
    n = jnp.sum(mask.astype(jnp.float32))
  else:
    n = jnp.float32(feats.shape[0])
  b1 = jnp.sum(feats, axis=0)
  # HIGHEST: TF32 here would shift FID by ~0.1.
  b2 = jnp.dot(feats.T, feats, precision=jax.lax.Precision.HIGHEST)
  s1, c1 = _kahan(sums.s1, sums.c1, b1)
  s2, c2 = _kahan(sums.s2, sums.c2, b2)
  return Sums(sums.n + n, s1, c1, s2, c2)


@jax.jit
def _mean_cov(sums):
  n = sums.n.astype(jnp.float64)
  s1 = sums.s1.astype(jnp.float64) - sums.c1.astype(jnp.float64)
  s2 = sums.s2.astype(jnp.float64) - sums.c2.astype(jnp.float64)
  mu = s1 / n
  sigma = (s2 - n * jnp.outer(mu, mu)) / (n - 1)
  return mu, 0.5 * (sigma + sigma.T)


def mean_cov(sums):
  """Float64 (mu, sigma) on the device from accumulated sums."""
  if float(sums.n) < 2:
    raise UserError(f"{int(sums.n)} images given; FID needs at least 2")
  with x64():
    return _mean_cov(sums)


# ---------------------------------------------------------------------------
# Files: pytorch-fid's stats .npz holds `mu` and `sigma`.

def save_stats(path, mu, sigma, **extra):
  """Writes pytorch-fid-compatible statistics (extra arrays allowed); returns the path written
  (`.npz` is appended when missing, as numpy does)."""
  path = path if path.endswith(".npz") else path + ".npz"
  if os.path.isdir(path):
    raise UserError(f"cannot write statistics to {path!r}: it is a directory; name a .npz file")
  d = os.path.dirname(os.path.abspath(path))
  os.makedirs(d, exist_ok=True)
  fd, tmp = tempfile.mkstemp(suffix=".npz", dir=d)
  os.close(fd)
  try:
    np.savez(tmp, mu=np.asarray(mu, np.float64),
             sigma=np.asarray(sigma, np.float64),
             **{k: np.asarray(v) for k, v in extra.items()})
    os.replace(tmp, path)
  finally:
    if os.path.exists(tmp):
      os.remove(tmp)
  return path


def read_npz(path, what="file"):
  """{name: array} of an `.npz`; a file that is not one (not a zip archive, truncated, pickled
  objects) is a one-line UserError."""
  if not zipfile.is_zipfile(path):
    raise UserError(f"{what} {path!r} cannot be decoded as .npz: not a zip archive "
                    "(numpy.savez writes one)")
  try:
    with np.load(path, allow_pickle=False) as z:
      return {k: z[k] for k in z.files}
  except Exception as e:  # pylint: disable=broad-except  # zlib, zipfile, EOF and format errors.
    reason = " ".join(str(e).split()) or type(e).__name__
    raise UserError(f"{what} {path!r} cannot be decoded as .npz: {reason}") from e


def is_stats_file(path):
  try:
    with np.load(path, allow_pickle=False) as z:
      return "mu" in z.files and "sigma" in z.files
  except Exception:  # pylint: disable=broad-except
    return False


def check_finite(mu, sigma, what):
  """Statistics with NaN or Inf give a meaningless distance: a UserError naming `what`."""
  bad = {name: int(np.size(a) - np.count_nonzero(np.isfinite(a)))
         for name, a in (("mu", mu), ("sigma", sigma))}
  if any(bad.values()):
    counts = ", ".join(f"{name} has {n} NaN/Inf entries" for name, n in bad.items() if n)
    raise UserError(f"{what} are not finite ({counts}); recompute them")


def stats_from_arrays(data, path, dim=2048):
  """(mu, sigma, extras) from the arrays of a statistics file, checked."""
  data = dict(data)
  if "mu" not in data or "sigma" not in data:
    raise UserError(f"statistics file {path!r} has arrays {sorted(data)}; "
                    "expected mu and sigma")
  mu, sigma = data.pop("mu"), data.pop("sigma")
  if mu.shape != (dim,) or sigma.shape != (dim, dim):
    raise UserError(f"statistics file {path!r}: mu {mu.shape}, sigma "
                    f"{sigma.shape}; expected ({dim},) and ({dim}, {dim})")
  check_finite(mu, sigma, f"the statistics in {path!r}")
  return mu.astype(np.float64), sigma.astype(np.float64), data


def load_stats(path, dim=2048):
  """Reads (mu, sigma, extras) from a pytorch-fid style `.npz`."""
  return stats_from_arrays(read_npz(path, "statistics file"), path, dim)


def reference_cache_path(cache_key, num_images, resize, weights_id,
                         cache_dir):
  """One file per (dataset/split key, N, resize mode, weights)."""
  slug = re.sub(r"[^A-Za-z0-9_.-]+", "_", cache_key)[:80]
  h = hashlib.sha1(f"{cache_key}|{num_images}|{resize}|{weights_id}".encode())
  name = f"ref-{slug}-n{num_images}-{resize}-{weights_id}-{h.hexdigest()[:8]}"
  return os.path.join(cache_dir, "fid_stats", name + ".npz")
