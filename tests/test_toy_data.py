"""Tests for the 2D Gaussian mixtures."""

import jax
import ml_collections
import numpy as np
import pytest

from gan_jax import data
from gan_jax import toy_data
from gan_jax.errors import UserError


def test_modes_known_values():
  ring = toy_data.modes('ring8')
  assert ring.shape == (8, 2) and ring.dtype == np.float32
  np.testing.assert_allclose(np.linalg.norm(ring, axis=1), 1.0, atol=1e-6)
  np.testing.assert_allclose(ring[0], [1, 0], atol=1e-6)
  np.testing.assert_allclose(ring[2], [0, 1], atol=1e-6)
  grid = toy_data.modes('grid25')
  assert grid.shape == (25, 2)
  assert {tuple(p) for p in grid.tolist()} == {
      (a, b) for a in (-4, -2, 0, 2, 4) for b in (-4, -2, 0, 2, 4)}
  assert toy_data.mode_std('ring8') == 0.01
  assert toy_data.mode_std('grid25') == 0.05


@pytest.mark.parametrize('name', ['ring8', 'grid25'])
def test_sample_statistics(name):
  means, std = toy_data.modes(name), toy_data.mode_std(name)
  n = 20000
  sample = jax.jit(toy_data.sample_mixture, static_argnums=(2, 3))
  x = np.asarray(sample(jax.random.key(0), means, std, n))
  assert x.shape == (n, 2) and x.dtype == np.float32
  d = np.linalg.norm(x[:, None] - means[None], axis=-1)
  nearest = d.argmin(1)
  counts = np.bincount(nearest, minlength=len(means))
  # Equal weights: every mode within 5 binomial sigmas of n/M.
  expected = n / len(means)
  assert np.all(np.abs(counts - expected) < 5 * np.sqrt(expected))
  for m in range(len(means)):
    pts = x[nearest == m]
    np.testing.assert_allclose(pts.mean(0), means[m], atol=5 * std /
                               np.sqrt(len(pts)) + 1e-6)
    np.testing.assert_allclose(pts.std(0), std, rtol=0.1)


def test_training_set_is_deterministic():
  a, ca = toy_data.make_training_set('grid25', 1000, seed=3)
  b, cb = toy_data.make_training_set('grid25', 1000, seed=3)
  c, _ = toy_data.make_training_set('grid25', 1000, seed=4)
  np.testing.assert_array_equal(a, b)
  np.testing.assert_array_equal(ca, cb)
  assert not np.array_equal(a, c)
  means = toy_data.modes('grid25')
  assert np.abs(a - means[ca]).max() < 0.05 * 6


def test_unknown_mixture():
  with pytest.raises(UserError, match="'ring9'.*ring8, grid25"):
    toy_data.modes('ring9')


def _config(**kw):
  return ml_collections.ConfigDict(dict(name='ring8', num_examples=0) | kw)


def test_stream_sampler_is_pure_in_seed_and_step():
  ds = data.load(_config())
  assert ds.arrays is None and ds.info.kind == 'points'
  assert ds.info.num_examples == 0 and ds.info.modes.shape == (8, 2)
  device_data, sample = data.feed.make_device_sampler(ds, 16, seed=1)
  sample = jax.jit(sample)
  a, b = sample(device_data, 5), sample(device_data, 5)
  np.testing.assert_array_equal(a['x'], b['x'])
  assert not np.array_equal(a['x'], sample(device_data, 6)['x'])
  _, sample2 = data.feed.make_device_sampler(ds, 16, seed=2)
  assert not np.array_equal(a['x'], jax.jit(sample2)(device_data, 5)['x'])
  assert a['x'].shape == (16, 2) and a['label'].dtype == np.int32


def test_fixed_training_set_sampler():
  ds = data.load(_config(name='grid25', num_examples=100))
  assert ds.info.num_examples == 100 and ds.arrays['x'].shape == (100, 2)
  device_data, sample = data.feed.make_device_sampler(ds, 10, seed=0)
  xs = np.concatenate([np.asarray(jax.jit(sample)(device_data, s)['x'])
                       for s in range(10)])
  # One epoch visits the fixed points exactly once, unscaled.
  ref = ds.arrays['x']
  np.testing.assert_array_equal(xs[np.lexsort(xs.T)], ref[np.lexsort(ref.T)])
