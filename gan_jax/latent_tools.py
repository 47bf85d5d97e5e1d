"""Latent-space operations behind `python -m gan_jax.explore`: interpolation paths, measured image
attributes, and concept-vector arithmetic with exemplars chosen by a measured attribute.

Everything here is a plain function of arrays (latents, images in [-1, 1] NHWC, labels), so it works
for any generator; explore.py binds it to a trained run.
"""
import dataclasses
from typing import Callable

import numpy as np

from gan_jax.errors import UserError

ATTRIBUTES = ("stroke_width", "slant", "brightness")


@dataclasses.dataclass(frozen=True)
class LatentModel:
  """What the tools need from a trained generator (a family's `latent_model(restored)` builds it).

  generate(z, labels) -> images in [-1, 1]; for a model with an intermediate latent space (StyleGAN)
  also map(z, labels) -> ws (B, num_ws, w_dim), synthesize(ws) -> images, and the tracked w_avg.
  """
  name: str
  z_dim: int
  num_classes: int
  generate: Callable
  map: Callable | None = None
  synthesize: Callable | None = None
  num_ws: int = 0
  w_avg: np.ndarray | None = None

  @property
  def has_w(self):
    return self.map is not None


def check_psi(psi, as_written=None):
  """Truncation psi must be in [0, 1]; else one UserError naming it (`as_written` by the user)."""
  if not 0.0 <= psi <= 1.0:
    raise UserError(f"--psi={as_written or f'{psi:g}'} is outside [0, 1]; allowed: numbers in "
                    "[0, 1] (1 = no truncation, 0 = the average w)")


def slerp(a, b, t, eps=1e-7):
  """Spherical interpolation between latents a and b (..., d) at fractions t (rows broadcast):
  Gaussian latents concentrate on a sphere, which slerp stays on (White 2016)."""
  a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
  t = _against(np.asarray(t, np.float64), a)
  cos = np.sum(a * b, -1, keepdims=True) / (
      np.linalg.norm(a, axis=-1, keepdims=True) * np.linalg.norm(b, axis=-1, keepdims=True) + eps)
  omega = np.arccos(np.clip(cos, -1.0, 1.0))
  sin = np.sin(omega)
  small = sin < eps  # (Anti-)parallel: fall back to the straight line.
  safe = np.where(small, 1.0, sin)
  out = np.where(small, (1 - t) * a + t * b,
                 (np.sin((1 - t) * omega) * a + np.sin(t * omega) * b) / safe)
  return out.astype(np.float32)


def lerp(a, b, t):
  """Linear interpolation between latents a and b (..., d) at fractions t (rows broadcast)."""
  a, b = np.asarray(a, np.float32), np.asarray(b, np.float32)
  t = _against(np.asarray(t, np.float32), a)
  return ((1 - t) * a + t * b).astype(np.float32)


def _against(t, a):
  """Fractions t (one per leading row) shaped to broadcast over the rest of a's axes: a latent is
  (d,) in z and (num_ws, d) per-layer in StyleGAN's w."""
  return t.reshape(t.shape + (1,) * max(a.ndim - t.ndim, 1))


def interpolation_rows(starts, ends, steps, spherical):
  """(rows * steps, d): each row goes from starts[i] to ends[i] in `steps` points."""
  t = np.linspace(0.0, 1.0, steps)
  fn = slerp if spherical else lerp
  return np.concatenate([fn(np.broadcast_to(s, (steps,) + s.shape),
                            np.broadcast_to(e, (steps,) + e.shape), t)
                         for s, e in zip(starts, ends)])


def loop_path(keyframes, frames_per_segment, spherical):
  """A closed path through the keyframes (k, d) back to the first: k * frames_per_segment points,
  eased at each keyframe (t -> (1 - cos(pi t)) / 2) so the animation does not jerk."""
  fn = slerp if spherical else lerp
  t = (1 - np.cos(np.pi * np.arange(frames_per_segment) / frames_per_segment)) / 2
  segments = []
  for i, start in enumerate(keyframes):
    end = keyframes[(i + 1) % len(keyframes)]
    segments.append(fn(np.broadcast_to(start, (len(t),) + start.shape),
                       np.broadcast_to(end, (len(t),) + end.shape), t))
  return np.concatenate(segments)


def _grey01(images):
  """Images in [-1, 1] (N, H, W, C) -> grey levels in [0, 1] (N, H, W)."""
  x = (np.asarray(images, np.float32) + 1.0) / 2.0
  return np.clip(x.mean(-1), 0.0, 1.0)


def brightness(images):
  """Mean grey level in [0, 1]."""
  return _grey01(images).mean(axis=(1, 2))


def stroke_width(images, threshold=0.5):
  """Mean stroke thickness in pixels of light-on-dark strokes: ink area / skeleton length (the
  estimate of Morpho-MNIST, Castro et al. 2019). 0 for an image without ink."""
  from skimage.morphology import skeletonize  # pylint: disable=g-import-not-at-top
  ink = _grey01(images) > threshold
  out = np.zeros(len(ink), np.float32)
  for i, mask in enumerate(ink):
    length = skeletonize(mask).sum()
    out[i] = mask.sum() / length if length else 0.0
  return out


def slant(images):
  """Slant of light-on-dark strokes in radians, positive leaning right ('/'): atan of the shear
  cov(x, y) / var(y) of the ink's intensity-weighted pixel coordinates (y pointing up)."""
  grey = _grey01(images)
  n, h, w = grey.shape
  ys, xs = np.meshgrid(-np.arange(h, dtype=np.float64), np.arange(w, dtype=np.float64),
                       indexing="ij")
  mass = grey.reshape(n, -1).astype(np.float64)
  total = np.maximum(mass.sum(1), 1e-8)
  mx = mass @ xs.ravel() / total
  my = mass @ ys.ravel() / total
  dx = xs.ravel()[None] - mx[:, None]
  dy = ys.ravel()[None] - my[:, None]
  cov = (mass * dx * dy).sum(1) / total
  var = np.maximum((mass * dy * dy).sum(1) / total, 1e-8)
  return np.arctan(cov / var).astype(np.float32)


MEASURES = {"stroke_width": stroke_width, "slant": slant, "brightness": brightness}


def measure(attribute, images):
  return MEASURES[attribute](images)


def select_exemplars(values, pool, fraction, high):
  """Indices of `pool` whose attribute `values` are in its top (high) or bottom `fraction`."""
  pool = np.asarray(pool)
  if len(pool) == 0:
    return pool
  order = pool[np.argsort(values[pool])]
  k = max(1, int(round(len(pool) * fraction)))
  return order[-k:] if high else order[:k]


def concept_arithmetic(latents, values, classes, source_class, target_class, exemplars, trials,
                       rng, fraction=0.25):
  """Vectors `mean(high-attribute exemplars of source_class) - mean(low ones of source_class) +
  mean(low ones of target_class)`, each mean over `exemplars` latents drawn from the top / bottom
  `fraction` of the attribute within that class (class None: all samples, and the third term is
  drawn from the low ones not used by the second). The DCGAN paper (Radford et al. 2016, sec. 6.3)
  averages three exemplars per concept. Returns (results (trials, d), means (trials, 3, d): the
  three terms; the third alone is the control)."""
  every = np.arange(len(latents))
  in_class = lambda c: every if c is None else every[np.asarray(classes) == c]
  high_a = select_exemplars(values, in_class(source_class), fraction, True)
  low_a = select_exemplars(values, in_class(source_class), fraction, False)
  low_c = select_exemplars(values, in_class(target_class), fraction, False)
  if source_class is None or source_class == target_class:
    half = len(low_a) // 2  # Disjoint exemplars for the subtracted and the added term.
    low_a, low_c = low_a[:half], low_a[half:]
  for name, pool in (("high source", high_a), ("low source", low_a), ("low target", low_c)):
    if len(pool) < exemplars:
      raise ValueError(f"only {len(pool)} candidate exemplars for the {name} concept; "
                       f"{exemplars} needed: sample more latents")
  draw = lambda pool: latents[rng.choice(pool, exemplars, replace=False)].mean(0)
  means = np.stack([np.stack([draw(high_a), draw(low_a), draw(low_c)]) for _ in range(trials)])
  results = means[:, 0] - means[:, 1] + means[:, 2]
  return results.astype(np.float32), means.astype(np.float32)
