"""StyleGAN's training step: the lazy-R1 optimizer correction, the regularisation schedule, the
path length, the G average's half-life, and whole steps."""
import math

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
import pytest

from gan_jax import regularizers as core_regularizers
from gan_jax import state as state_lib
from gan_jax.families.stylegan import models
from gan_jax.families.stylegan import regularizers
from gan_jax.families.stylegan import step as step_lib

# 4x4: the step's logic at the smallest compile (the networks' parts are tested on their own).
G = models.Generator(resolution=4, channels=1, z_dim=8, w_dim=8, channel_base=32, channel_max=8,
                     mapping_layers=2)
D = models.Discriminator(resolution=4, channel_base=32, channel_max=8)
HPARAMS = dict(r1_gamma=10.0, pl_weight=2.0, style_mixing_prob=0.9, ema_half_life_images=80.0,
               ema_rampup=0.0)
ADAM = ml_collections.ConfigDict(dict(name="adam", learning_rate=0.0025, b1=0.0, b2=0.99))


def _state(r1_interval=4, pl_interval=2):
  txs = {"g": state_lib.make_optimizer(regularizers.corrected_optimizer(ADAM, pl_interval), "g"),
         "d": state_lib.make_optimizer(regularizers.corrected_optimizer(ADAM, r1_interval), "d")}
  return step_lib.init_state(G, D, txs, HPARAMS, jax.random.key(0), (4, 4, 1))


def test_lazy_regularisation_corrects_learning_rate_and_betas():
  config = ml_collections.ConfigDict(dict(name="adam", learning_rate=0.002, b1=0.5, b2=0.99))
  corrected = regularizers.corrected_optimizer(config, 16)
  c = 16 / 17
  assert corrected.learning_rate == pytest.approx(0.002 * c)
  assert corrected.b1 == pytest.approx(0.5**c) and corrected.b2 == pytest.approx(0.99**c)
  assert config.learning_rate == 0.002  # The config itself is left alone.
  plain = regularizers.corrected_optimizer(config, 0)  # Not lazy: no correction.
  assert (plain.learning_rate, plain.b1, plain.b2) == (0.002, 0.5, 0.99)
  # The corrected numbers are the optimizer's hyper-parameters in the state (sweepable arrays).
  hyper = _state(r1_interval=16).nets["d"].opt_state.hyperparams
  np.testing.assert_allclose([hyper["learning_rate"], hyper["b1"], hyper["b2"]],
                             [0.0025 * c, 0.0, 0.99**c], rtol=1e-6)
  # Over interval + 1 updates the corrected Adam forgets as the plain one does over `interval`.
  np.testing.assert_allclose((0.99**c)**17, 0.99**16, rtol=1e-12)


def test_lazy_r1_step_is_an_adam_step_on_interval_times_the_penalty():
  """d_reg's update is the corrected Adam applied to interval * gamma / 2 * grad R1."""
  setup = step_lib.Setup(step_lib.Options(r1_interval=4, pl_interval=0, use_r1=True), G, D)
  state = _state(r1_interval=4)
  real = jax.random.uniform(jax.random.key(3), (4, 4, 4, 1), minval=-1, maxval=1)
  new = jax.jit(lambda s: step_lib.d_reg(setup, s, real, None))(state)
  d = state.nets["d"]
  grads = jax.grad(lambda p: 4 * 0.5 * 10.0 * core_regularizers.r1_penalty(
      lambda x: D.apply(d.variables(p), x), real))(d.params)
  tx = optax.adam(0.0025 * 4 / 5, b1=0.0, b2=0.99**(4 / 5))
  updates, _ = tx.update(grads, tx.init(d.params), d.params)
  expected = optax.apply_updates(d.params, updates)
  jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-7),
               new.nets["d"].params, expected)
  assert float(new.extras["r1_penalty"]) > 0


def _batch(seed=0):
  return {"x": jax.random.uniform(jax.random.key(seed), (4, 4, 4, 1), minval=-1, maxval=1)}


@pytest.fixture(scope="module")
def compiled_steps():
  """One step with R1 (interval 4) and path length (interval 2), one with neither."""
  cfg = step_lib.Options(r1_interval=4, pl_interval=2, use_r1=True, use_pl=True,
                         use_mixing=True)
  plain = step_lib.Options(use_r1=False, use_pl=False, use_mixing=True)
  return (jax.jit(step_lib.make_step(cfg, G, D)), jax.jit(step_lib.make_step(plain, G, D)))


def test_regularisers_run_only_on_their_steps(compiled_steps):
  """R1 every 4 steps and path length every 2 (from step 0); in between, the step is the plain
  one. The penalties in the state are written only by the regularisation phases."""
  regularised, plain = compiled_steps
  state = _state()
  rng = jax.random.key(7)
  same = lambda a, b: all(jax.tree.leaves(jax.tree.map(
      lambda x, y: bool(np.allclose(x, y, rtol=1e-6, atol=1e-8)), a, b)))
  for step, r1_runs, pl_runs in [(0, True, True), (1, False, False), (2, False, True),
                                 (4, True, True)]:
    s = state.replace(step=jnp.int32(step))
    a, metrics = regularised(s, _batch(), rng)
    b, _ = plain(s, _batch(), rng)
    assert same(a.nets["g"].params, b.nets["g"].params) == (not pl_runs), step
    assert same(a.nets["d"].params, b.nets["d"].params) == (not (pl_runs or r1_runs)), step
    assert (float(metrics["r1_penalty"]) > 0) == r1_runs, step
    assert (float(metrics["pl_mean"]) > 0) == pl_runs, step


def test_steps_train_track_w_and_average_g(compiled_steps):
  regularised, _ = compiled_steps
  state = _state()
  w_avg0 = state.nets["g"].collections["w_avg"]["mapping"]["w_avg"]
  for i in range(3):
    state, metrics = regularised(state, _batch(i), jax.random.key(i))
  assert int(state.step) == 3
  for name in ("g_loss", "d_loss", "d_real", "d_fake", "r1_penalty", "pl_penalty"):
    assert np.isfinite(float(metrics[name])), name
  assert float(state.extras["pl_mean"]) > 0
  g = state.nets["g"]
  w_avg = g.collections["w_avg"]["mapping"]["w_avg"]
  assert not np.allclose(w_avg, w_avg0)
  # The average holds G's w average and lags its weights (half-life 80 images = 20 steps).
  np.testing.assert_array_equal(state.ema["g"]["w_avg"]["mapping"]["w_avg"], w_avg)
  const = lambda v: v["params"]["synthesis"]["const"]
  assert not np.allclose(const(state.ema["g"]), const(g.variables()))


def test_ema_half_life_and_ramp_up():
  assert float(regularizers.ema_beta(0, 64, 500_000.0, 0.05)) == 0.0  # First step copies G.
  beta = float(regularizers.ema_beta(100, 64, 10_000.0))
  np.testing.assert_allclose(beta ** (10_000 / 64), 0.5, rtol=1e-4)
  # Ramp-up: the half-life is min(10k images, 5% of the 6,400 images seen) = 320 images.
  np.testing.assert_allclose(float(regularizers.ema_beta(100, 64, 10_000.0, 0.05)),
                             0.5 ** (64 / 320), rtol=1e-5)


def test_path_lengths_of_a_linear_synthesis():
  """For images = A w (one layer input), the path length is ||A^T y|| with y the scaled noise."""
  a = jax.random.normal(jax.random.key(0), (4 * 4 * 2, 3))
  synthesize = lambda ws: (ws[:, 0] @ a.T).reshape(-1, 4, 4, 2)
  ws = jax.random.normal(jax.random.key(1), (5, 1, 3))
  lengths = regularizers.path_lengths(synthesize, ws, jax.random.key(2))
  y = jax.random.normal(jax.random.key(2), (5, 4, 4, 2)) / math.sqrt(16)
  np.testing.assert_allclose(lengths, jnp.linalg.norm(y.reshape(5, -1) @ a, axis=1), rtol=1e-5)
  penalty, mean = regularizers.path_length_penalty(lengths, 0.0, decay=0.01)
  np.testing.assert_allclose(mean, 0.01 * lengths.mean(), rtol=1e-6)
  np.testing.assert_allclose(penalty, jnp.mean(jnp.square(lengths - mean)), rtol=1e-6)
