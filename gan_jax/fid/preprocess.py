"""Turns images into the Inception's input exactly as the reference does.

Generated float images in [-1, 1] are first quantized to uint8 like NVIDIA's
metrics (x * 127.5 + 128, clip, truncate), grey images get 3 channels, then a
bilinear resize to 299 x 299 (TF1's legacy resize, the graph's own, by default;
pytorch-fid's align_corners=False one as an option) and (x - 128) / 128.
The resize is two small dense matmuls per image, which accelerators like.
"""

import functools

import jax
import jax.numpy as jnp
import numpy as np

from gan_jax.errors import UserError

SIZE = 299
RESIZE_MODES = ("tf1", "pytorch")


def quantize(x):
  """Float images in [-1, 1] -> uint8-valued float32, as NVIDIA's metrics."""
  return jnp.floor(jnp.clip(x * 127.5 + 128.0, 0.0, 255.0))


@functools.lru_cache(maxsize=32)
def resize_matrix(n_in, n_out, mode="tf1"):
  """(n_out, n_in) bilinear interpolation weights along one axis.

  tf1: src = dst * n_in / n_out (TF1 resize_bilinear, align_corners=False,
  no half-pixel centers). pytorch: src = (dst + 0.5) * n_in / n_out - 0.5,
  clamped at 0 (F.interpolate bilinear, align_corners=False, no antialias).
  """
  if mode not in RESIZE_MODES:
    raise UserError(f"resize mode {mode!r} not in {RESIZE_MODES}")
  scale = n_in / n_out
  dst = np.arange(n_out, dtype=np.float64)
  if mode == "tf1":
    # TF1 computes the source position in float32.
    src = (dst.astype(np.float32) * np.float32(scale)).astype(np.float64)
  else:
    src = np.maximum((dst + 0.5) * scale - 0.5, 0.0)
  lo = np.floor(src).astype(np.int64)
  frac = src - lo
  lo = np.minimum(lo, n_in - 1)
  hi = np.minimum(lo + 1, n_in - 1)
  m = np.zeros((n_out, n_in), np.float64)
  np.add.at(m, (np.arange(n_out), lo), 1.0 - frac)
  np.add.at(m, (np.arange(n_out), hi), frac)
  return m.astype(np.float32)


def resize(x, size=SIZE, mode="tf1"):
  """Bilinear resize of NHWC float images to size x size."""
  _, h, w, _ = x.shape
  if (h, w) == (size, size):
    return x
  rh = jnp.asarray(resize_matrix(h, size, mode))
  rw = jnp.asarray(resize_matrix(w, size, mode))
  hp = jax.lax.Precision.HIGHEST  # TF32 would move pixel values by ~0.1.
  x = jnp.einsum("oh,nhwc->nowc", rh, x, precision=hp)
  return jnp.einsum("pw,nowc->nopc", rw, x, precision=hp)


def to_rgb(x):
  if x.shape[-1] == 3:
    return x
  if x.shape[-1] == 1:
    return jnp.repeat(x, 3, axis=-1)
  raise UserError(f"images have {x.shape[-1]} channels; expected 1 or 3")


def preprocess_uint8(x, mode="tf1", size=SIZE):
  """uint8 (or uint8-valued) NHWC images -> Inception input in [-1, 1]."""
  if x.ndim != 4:
    raise UserError(f"images have shape {x.shape}; expected NHWC")
  x = to_rgb(x.astype(jnp.float32))
  x = resize(x, size, mode)
  return (x - 128.0) / 128.0


def preprocess_generated(x, mode="tf1", size=SIZE):
  """Generator output in [-1, 1] -> Inception input, via uint8 quantization."""
  return preprocess_uint8(quantize(x), mode, size)
