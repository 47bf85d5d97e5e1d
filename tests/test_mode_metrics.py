"""Mode coverage metrics on constructed sample sets with known answers."""
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from configs import mode_collapse
from gan_jax import data
from gan_jax.families.latent import mode_metrics
from gan_jax.families.latent import models
from gan_jax import toy_data
from gan_jax.families.latent import step as train_step_lib

GRID = toy_data.modes("grid25")
STD = toy_data.mode_std("grid25")


def _score(samples, modes=GRID, std=STD):
  return {k: float(v) for k, v in mode_metrics.mode_coverage(samples, modes, std).items()}


def test_perfect_uniform_coverage():
  out = _score(np.repeat(GRID, 4, axis=0))
  assert out == {"modes": 25.0, "hq": 1.0, "reverse_kl": pytest.approx(0.0, abs=1e-6)}


def test_collapse_onto_one_mode():
  out = _score(np.tile(GRID[3], (100, 1)))
  assert out["modes"] == 1.0 and out["hq"] == 1.0
  assert out["reverse_kl"] == pytest.approx(math.log(25), rel=1e-6)


def test_three_sigma_boundary_and_low_quality_samples():
  inside = GRID[0] + np.array([2.9 * STD, 0.0])
  outside = GRID[1] + np.array([0.0, 3.1 * STD])
  far = np.array([1.0, 1.0])  # Between four modes: low quality.
  out = _score(np.stack([inside, outside, far, far]))
  assert out["hq"] == 0.25
  assert out["modes"] == 1.0  # Only the HQ sample captures its mode.
  assert out["reverse_kl"] == pytest.approx(math.log(25), rel=1e-6)


def test_reverse_kl_two_modes_known_value():
  # 3/4 of the HQ samples on one mode, 1/4 on another, of M = 8.
  ring = toy_data.modes("ring8")
  samples = np.concatenate([np.tile(ring[0], (3, 1)), ring[1:2]])
  expected = 0.75 * math.log(0.75 * 8) + 0.25 * math.log(0.25 * 8)
  out = _score(samples, ring, 0.01)
  assert out["modes"] == 2.0 and out["reverse_kl"] == pytest.approx(expected, rel=1e-5)


def test_no_hq_sample_counts_as_full_collapse():
  assert _score(np.full((10, 2), 100.0))["reverse_kl"] == pytest.approx(math.log(25), rel=1e-6)


def test_in_loop_evaluator_returns_python_floats():
  config = mode_collapse.get_config("ring8,nonsat")
  config.model.g_hidden, config.model.d_hidden = (8,), (8,)
  config.mode_eval_samples = 100
  info = data.load(config.dataset).info
  generator, discriminator = models.make_models(config.model, info.shape, 0)
  state = train_step_lib.init_state(config, generator, discriminator, jax.random.key(0),
                                    jnp.zeros((2, 2)))
  out = mode_metrics.make_in_loop_evaluator(config, info, generator)(state, 0)
  assert set(out) == {"modes", "hq_percent", "reverse_kl"}
  assert all(isinstance(v, float) for v in out.values())
  assert 0 <= out["modes"] <= 8 and 0 <= out["hq_percent"] <= 100
