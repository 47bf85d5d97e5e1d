"""2D Gaussian mixtures used to measure mode coverage (ring8, grid25).

Sampling is pure JAX so a whole batch is drawn inside the jitted train step.
"""

import itertools

import jax
import jax.numpy as jnp
import numpy as np

from gan_jax.errors import UserError

# name -> (means (M, 2), std). Values follow the usual mode-collapse protocols
# (Metz et al. unrolled GAN ring, PacGAN / VEEGAN grid).
_MIXTURES = {
    'ring8': (
        np.stack([np.cos(np.arange(8) * 2 * np.pi / 8),
                  np.sin(np.arange(8) * 2 * np.pi / 8)], axis=1),
        0.01,
    ),
    'grid25': (
        np.array(list(itertools.product([-4., -2., 0., 2., 4.], repeat=2))),
        0.05,
    ),
}

NAMES = tuple(_MIXTURES)


def _check(name: str) -> None:
  if name not in _MIXTURES:
    raise UserError(
        f'unknown toy mixture {name!r}: allowed are {", ".join(NAMES)}')


def modes(name: str) -> np.ndarray:
  """Means of the mixture components, float32 (M, 2)."""
  _check(name)
  return _MIXTURES[name][0].astype(np.float32)


def mode_std(name: str) -> float:
  """Standard deviation of every (isotropic) component."""
  _check(name)
  return float(_MIXTURES[name][1])


def sample_mixture(rng: jax.Array, means: jax.Array, std: float,
                   batch_size: int) -> jax.Array:
  """Draws (batch_size, 2) float32 points from an equal-weight mixture.

  Traceable: `means` may be a traced array passed into jit.
  """
  means = jnp.asarray(means, jnp.float32)
  k_comp, k_noise = jax.random.split(rng)
  comp = jax.random.randint(k_comp, (batch_size,), 0, means.shape[0])
  noise = jax.random.normal(k_noise, (batch_size, 2), jnp.float32)
  return means[comp] + jnp.float32(std) * noise


def make_training_set(name: str, num_examples: int,
                      seed: int) -> tuple[np.ndarray, np.ndarray]:
  """Fixed finite training set (points float32 (N,2), component int32 (N,)).

  Deterministic in (name, num_examples, seed); numpy so it does not depend on
  the JAX backend's RNG implementation.
  """
  means, std = modes(name), mode_std(name)
  rs = np.random.default_rng(seed)
  comp = rs.integers(0, len(means), size=num_examples)
  x = means[comp] + std * rs.standard_normal((num_examples, 2))
  return x.astype(np.float32), comp.astype(np.int32)
