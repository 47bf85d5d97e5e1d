"""Semantics of the stability toolbox: penalties on analytic critics, clipping, spectral norm, D's
targets and inputs, replay buffer, unrolled GAN, EMA, projection D, minibatch features, packing."""
import flax
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from configs import gan_mlp
from configs import stability
from gan_jax import losses
from gan_jax.families.latent import models
from gan_jax import regularizers
from gan_jax import replay
from gan_jax.families.latent import step as train_step_lib

W = jnp.array([3.0, 4.0])  # Linear critic D(x) = w . x: ||grad|| = 5 everywhere.


def test_gradient_penalty_on_linear_critic():
  real = jax.random.normal(jax.random.key(0), (16, 2))
  fake = jax.random.normal(jax.random.key(1), (16, 2))
  gp = regularizers.gradient_penalty(lambda x: x @ W, real, fake, jax.random.key(2))
  assert float(gp) == pytest.approx((5.0 - 1.0) ** 2, rel=1e-5)


def test_gradient_penalty_is_per_sample_at_interpolates():
  # D(x) = ||x||^2 / 2 has grad x: the penalty is mean((||x_hat|| - 1)^2) at x_hat on the segment.
  real, fake = jnp.array([[2.0, 0.0]]), jnp.array([[0.0, 0.0]])
  rng = jax.random.key(3)
  eps = float(jax.random.uniform(rng, (1, 1))[0, 0])
  gp = regularizers.gradient_penalty(lambda x: 0.5 * jnp.sum(x * x, -1), real, fake, rng)
  assert float(gp) == pytest.approx((2.0 * eps - 1.0) ** 2, rel=1e-4)


def test_r1_and_dragan_on_analytic_critics():
  real = jax.random.normal(jax.random.key(0), (8, 2))
  r1 = regularizers.r1_penalty(lambda x: 0.5 * jnp.sum(x * x, -1), real)
  assert float(r1) == pytest.approx(float(jnp.mean(jnp.sum(real * real, -1))), rel=1e-5)
  dragan = regularizers.dragan_penalty(lambda x: x @ W, real, jax.random.key(1))
  assert float(dragan) == pytest.approx(16.0, rel=1e-5)
  # D = x^2 / 2 on reals 0 and 2 (std 1): x_hat = x + alpha * u / 2 with alpha, u ~ U(0, 1), so the
  # penalty is 1 + E[alpha^2 u^2] / 4 = 1 + 1/36 (1 + 1/12 without the interpolation).
  two_points = jnp.tile(jnp.array([[0.0], [2.0]]), (100_000, 1))
  dragan = regularizers.dragan_penalty(lambda x: 0.5 * jnp.sum(x * x, -1), two_points,
                                       jax.random.key(2))
  assert float(dragan) == pytest.approx(1.0 + 1.0 / 36.0, abs=2e-3)


def _setup(**overrides):
  config = stability.add_defaults(gan_mlp.get_config("ring8"))
  config.model.g_hidden, config.model.d_hidden = (16,), (16,)
  for key, value in overrides.items():
    section, _, field = key.rpartition(".")
    (config[section] if section else config)[field] = value
  generator, discriminator = models.make_models(config.model, (2,), 0)
  state = train_step_lib.init_state(config, generator, discriminator, jax.random.key(0),
                                    jnp.zeros((4, 2)))
  step = jax.jit(train_step_lib.make_step(config, generator, discriminator))
  b = config.batch_size * config.n_critic
  batch = {"x": jax.random.normal(jax.random.key(1), (b, 2)), "label": jnp.zeros(b, jnp.int32)}
  return config, state, step, batch


def test_weight_clipping_bounds_every_critic_weight():
  _, state, step, batch = _setup(**{"loss.name": "wasserstein", "loss.clip_value": 0.01,
                                    "n_critic": 2, "d_optimizer.learning_rate": 1.0})
  state, _ = step(state, batch, jax.random.key(0))
  leaves = jax.tree.leaves(state.nets["d"].params)
  assert max(float(jnp.abs(p).max()) for p in leaves) == pytest.approx(0.01)


def test_spectral_norm_top_singular_value_is_one():
  d = models.MLPDiscriminator(hidden=(32,), spectral_norm=True)
  x = jax.random.normal(jax.random.key(0), (8, 5))
  variables = d.init(jax.random.key(1), x, train=False)
  params = jax.tree.map(lambda p: 3.0 * p, variables["params"])  # Far from norm 1.
  stats = variables[models.SN_COLLECTION]
  for _ in range(30):  # Power iterations run only with train=True.
    _, updates = d.apply({"params": params, models.SN_COLLECTION: stats}, x, train=True,
                         mutable=[models.SN_COLLECTION])
    stats = updates[models.SN_COLLECTION]
  flat = flax.traverse_util.flatten_dict(stats, sep="/")
  kernel = params["Dense_0"]["kernel"]
  sigma = flat["SpectralNorm_0/Dense_0/kernel/sigma"]
  assert float(sigma) == pytest.approx(float(np.linalg.svd(kernel, compute_uv=False)[0]), rel=1e-3)
  assert np.linalg.svd(kernel / sigma, compute_uv=False)[0] == pytest.approx(1.0, rel=1e-3)
  # Evaluation leaves the power-iteration state untouched.
  _, frozen = d.apply({"params": params, models.SN_COLLECTION: stats}, x, train=False,
                      mutable=[models.SN_COLLECTION])
  assert jax.tree.all(jax.tree.map(jnp.array_equal, frozen[models.SN_COLLECTION], stats))


def test_discriminator_targets():
  rng = jax.random.key(0)
  real, fake = losses.discriminator_targets(rng, (1000,), label_smoothing=0.1)
  assert np.all(real == pytest.approx(0.9)) and np.all(fake == 0.0)
  real, fake = losses.discriminator_targets(rng, (1000,), label_noise=0.05)
  assert 0.95 <= real.min() and real.max() <= 1.0 and real.std() > 0.01
  assert 0.0 <= fake.min() and fake.max() <= 0.05 and fake.std() > 0.01
  real, fake = losses.discriminator_targets(rng, (1000,), flip_prob=1.0)
  assert np.all(real == 0.0) and np.all(fake == 1.0)
  real, _ = losses.discriminator_targets(rng, (20_000,), flip_prob=0.3)
  assert float(jnp.mean(real == 0.0)) == pytest.approx(0.3, abs=0.02)


def test_instance_noise_schedule_and_inputs():
  std = lambda step: float(regularizers.instance_noise_std(step, 0.2, 100))
  assert (std(0), std(50), std(100), std(1000)) == pytest.approx((0.2, 0.1, 0.0, 0.0))
  assert float(regularizers.instance_noise_std(10**6, 0.2, 0)) == pytest.approx(0.2)
  x = jnp.zeros((50_000, 2))
  noisy = regularizers.add_instance_noise(x, 0.2, jax.random.key(0))
  assert float(noisy.std()) == pytest.approx(0.2, rel=0.02)


def _push(buffer, values):
  """Pushes samples whose value is also their label, so a test can see both stay paired."""
  values = jnp.asarray(values)
  return replay.push(buffer, values.astype(jnp.float32)[:, None], values.astype(jnp.int32))


def test_replay_buffer_keeps_the_latest_samples_with_their_labels():
  buffer = replay.init(6, (1,))
  for i in range(3):  # Batches 0..3, 4..7, 8..11.
    buffer = _push(buffer, jnp.arange(4 * i, 4 * i + 4))
  assert sorted(np.asarray(buffer["samples"][:, 0]).tolist()) == [6, 7, 8, 9, 10, 11]
  assert np.array_equal(buffer["samples"][:, 0], buffer["labels"])
  big = _push(replay.init(3, (1,)), jnp.arange(5))
  assert sorted(np.asarray(big["samples"][:, 0]).tolist()) == [2, 3, 4]
  assert np.array_equal(big["samples"][:, 0], big["labels"])


def test_replay_mix_fraction_and_labels():
  fake, labels = -jnp.ones((10, 1)), jnp.full((10,), -1, jnp.int32)
  empty = replay.init(6, (1,))
  same, same_labels = replay.mix(empty, fake, labels, jax.random.key(0), 0.5)
  assert jnp.array_equal(same, fake) and jnp.array_equal(same_labels, labels)
  buffer = _push(empty, jnp.arange(6) + 1)
  mixed, mixed_labels = replay.mix(buffer, fake, labels, jax.random.key(0), 0.3)
  assert (np.asarray(mixed[:3, 0]) > 0).all() and np.asarray(mixed[3:, 0]).tolist() == [-1.0] * 7
  # A replayed sample comes back with the label it was generated for.
  assert np.array_equal(mixed[:, 0], mixed_labels)


def test_replay_in_train_step_fills_buffer():
  config, state, step, batch = _setup(**{"replay.size": 64, "replay.fraction": 0.5})
  for i in range(3):
    state, metrics = step(state, batch, jax.random.key(i))
  assert int(state.extras["replay"]["count"]) == 3 * config.batch_size
  assert np.isfinite(float(metrics["d_loss"]))


def test_unrolled_zero_equals_plain_step_and_unrolling_changes_g():
  _, plain, step_plain, batch = _setup()
  _, zero, step_zero, _ = _setup(unrolled_steps=0)
  _, unrolled, step_unrolled, _ = _setup(unrolled_steps=2)
  rng = jax.random.key(5)
  a, _ = step_plain(plain, batch, rng)
  b, _ = step_zero(zero, batch, rng)
  c, metrics = step_unrolled(unrolled, batch, rng)
  assert jax.tree.all(jax.tree.map(jnp.array_equal, a.nets["g"].params, b.nets["g"].params))
  assert jax.tree.all(jax.tree.map(jnp.array_equal, a.nets["d"].params, b.nets["d"].params))
  # D's own update is the same; only G's gradient sees the unrolled D.
  assert jax.tree.all(jax.tree.map(jnp.array_equal, a.nets["d"].params, c.nets["d"].params))
  assert not jax.tree.all(jax.tree.map(jnp.array_equal, a.nets["g"].params, c.nets["g"].params))
  assert np.isfinite(float(metrics["g_loss"]))


def test_ema_update_rule():
  _, state, step, batch = _setup(**{"ema.decay": 0.9, "ema.start_step": 1})
  s1, _ = step(state, batch, jax.random.key(0))  # step 0 < start_step: EMA copies G.
  assert jax.tree.all(jax.tree.map(jnp.array_equal, s1.ema["g"]["params"], s1.nets["g"].params))
  s2, _ = step(s1, batch, jax.random.key(1))
  expected = jax.tree.map(lambda e, p: 0.9 * e + 0.1 * p, s1.ema["g"]["params"], s2.nets["g"].params)
  assert jax.tree.all(jax.tree.map(lambda x, y: jnp.allclose(x, y, atol=1e-7),
                                   s2.ema["g"]["params"], expected))


def test_ema_averages_batch_norm_statistics_and_samples_with_them():
  config, state, step, batch = _setup(**{"ema.decay": 0.9, "model.g_batch_norm": True})
  generator, _ = models.make_models(config.model, (2,), 0)
  s1, _ = step(state, batch, jax.random.key(0))
  s2, _ = step(s1, batch, jax.random.key(1))
  live = s2.nets["g"].collections["batch_stats"]
  expected = jax.tree.map(lambda e, p: 0.9 * e + 0.1 * p, s1.ema["g"]["batch_stats"], live)
  assert jax.tree.all(jax.tree.map(lambda x, y: jnp.allclose(x, y, atol=1e-7),
                                   s2.ema["g"]["batch_stats"], expected))
  assert not jax.tree.all(jax.tree.map(jnp.allclose, s2.ema["g"]["batch_stats"], live))
  z, labels = jax.random.normal(jax.random.key(2), (8, 2)), jnp.zeros(8, jnp.int32)
  sample = train_step_lib.make_sample_fn(generator)(s2, z, labels)
  averaged = {"params": s2.ema["g"]["params"], "batch_stats": s2.ema["g"]["batch_stats"]}
  np.testing.assert_allclose(sample, generator.apply(averaged, z, labels, train=False))
  with_live = generator.apply({"params": s2.ema["g"]["params"], "batch_stats": live}, z, labels,
                              train=False)
  assert not np.allclose(sample, with_live)


def test_projection_discriminator_output():
  d = models.MLPDiscriminator(hidden=(4,), num_classes=3, conditioning="projection")
  x = jax.random.normal(jax.random.key(0), (5, 2))
  y = jnp.array([0, 1, 2, 1, 0])
  params = d.init(jax.random.key(1), x, y, train=False)["params"]
  out = d.apply({"params": params}, x, y, train=False)
  h = models.leaky_relu(x @ params["Dense_0"]["kernel"] + params["Dense_0"]["bias"])
  expected = (h @ params["Dense_1"]["kernel"])[:, 0] + params["Dense_1"]["bias"][0] + jnp.sum(
      params["projection"]["embedding"][y] * h, -1)
  np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-6)
  assert params["Dense_0"]["kernel"].shape == (2, 4)  # No one-hot input with projection.


def test_projection_embedding_is_spectrally_normalised_with_d():
  d = models.MLPDiscriminator(hidden=(4,), num_classes=3, conditioning="projection",
                              spectral_norm=True)
  x, y = jax.random.normal(jax.random.key(0), (5, 2)), jnp.array([0, 1, 2, 1, 0])
  variables = d.init(jax.random.key(1), x, y, train=False)
  params = jax.tree.map(lambda p: 50.0 * p, variables["params"])  # Embedding far from norm 1.
  stats = variables[models.SN_COLLECTION]
  for _ in range(30):
    _, updates = d.apply({"params": params, models.SN_COLLECTION: stats}, x, y, train=True,
                         mutable=[models.SN_COLLECTION])
    stats = updates[models.SN_COLLECTION]
  sigma = {k.split("/", 1)[1]: v for k, v in flax.traverse_util.flatten_dict(stats, sep="/").items()
           if k.endswith("/sigma")}
  table = params["projection"]["embedding"]
  assert float(sigma["projection/embedding/sigma"]) == pytest.approx(
      float(np.linalg.svd(table, compute_uv=False)[0]), rel=1e-3)
  # The logit uses every normalised weight, the embedding's included.
  out = d.apply({"params": params, models.SN_COLLECTION: stats}, x, y, train=False)
  h = models.leaky_relu(x @ (params["Dense_0"]["kernel"] / sigma["Dense_0/kernel/sigma"])
                        + params["Dense_0"]["bias"])
  expected = ((h @ (params["Dense_1"]["kernel"] / sigma["Dense_1/kernel/sigma"]))[:, 0]
              + params["Dense_1"]["bias"][0]
              + jnp.sum(table[y] / sigma["projection/embedding/sigma"] * h, -1))
  np.testing.assert_allclose(out, expected, rtol=1e-3, atol=1e-4)


def test_minibatch_discrimination_known_values():
  layer = models.MinibatchDiscrimination(num_kernels=3, kernel_dim=2)
  same = jnp.ones((6, 4))
  params = layer.init(jax.random.key(0), same)
  np.testing.assert_allclose(layer.apply(params, same), 6.0, rtol=1e-6)  # All distances 0.
  apart = 1e3 * jnp.arange(1.0, 7.0)[:, None] * jnp.ones((6, 4))
  params = {"params": {"T": jnp.ones((4, 6))}}
  np.testing.assert_allclose(layer.apply(params, apart), 1.0, rtol=1e-6)  # Only exp(0) of self.


def test_minibatch_stddev_feature():
  h = jnp.concatenate([jnp.zeros((4, 3)), jnp.ones((4, 3))])  # Groups are strided: {i, i+2, ...}.
  out = models.minibatch_stddev(h, group_size=4)
  assert out.shape == (8, 1)
  np.testing.assert_allclose(out, 0.5, rtol=1e-4)


def test_packing_scores_pack_samples_jointly():
  d = models.MLPDiscriminator(hidden=(8,), pack=4)
  x = jax.random.normal(jax.random.key(0), (8, 2))
  params = d.init(jax.random.key(1), x, train=False)["params"]
  assert params["Dense_0"]["kernel"].shape == (8, 8)
  assert d.apply({"params": params}, x, train=False).shape == (2,)
  _, state, step, batch = _setup(**{"model.pack": 4})
  _, metrics = step(state, batch, jax.random.key(0))
  assert np.isfinite(float(metrics["d_loss"]))


def test_mode_seeking_known_values_and_direction():
  a = jnp.zeros((2, 2, 2, 1))
  b = jnp.full((2, 2, 2, 1), 0.5)
  z_a, z_b = jnp.zeros((2, 3)), jnp.full((2, 3), 2.0)
  assert regularizers.mode_seeking_ratio(a, b, z_a, z_b) == pytest.approx(0.25)  # 0.5 / 2.
  assert regularizers.mode_seeking_loss(0.25) == pytest.approx(1 / (0.25 + 1e-5))
  # Descending the loss pushes the two images of a pair apart.
  def loss(b):
    return regularizers.mode_seeking_loss(regularizers.mode_seeking_ratio(a, b, z_a, z_b))
  grad = jax.grad(loss)(b)
  assert bool(jnp.all(grad < 0))
