"""Output shapes and parameter counts of the seed models (counts hand-computed from the specs)."""
import jax
import jax.numpy as jnp
import ml_collections
import pytest

from gan_jax.families.latent import models
from gan_jax.errors import UserError


def _count(tree):
  return sum(x.size for x in jax.tree.leaves(tree))


def _init(module, *args, **kwargs):
  return module.init({"params": jax.random.key(0), "dropout": jax.random.key(1)}, *args,
                     train=False, **kwargs)


def _cfg(name, conditional=False, **extra):
  return ml_collections.ConfigDict(dict(name=name, conditional=conditional, latent_dim=100,
                                        d_dropout=0.3, **extra))


def test_dcgan28_matches_tensorflow_tutorial_counts():
  g, d = models.make_models(_cfg("dcgan28"), (28, 28, 1), 10)
  z = jnp.zeros((3, 100))
  g_vars = _init(g, z)
  # Dense 100*12544, ConvT 5*5*256*128, 5*5*128*64, 5*5*64*1 (no biases) + BN scale/bias.
  assert _count(g_vars["params"]) == 1_254_400 + 819_200 + 204_800 + 1_600 + 2 * (12_544 + 128 + 64)
  assert _count(g_vars["batch_stats"]) == 2 * (12_544 + 128 + 64)
  assert g.apply(g_vars, z, train=False).shape == (3, 28, 28, 1)
  d_vars = _init(d, jnp.zeros((3, 28, 28, 1)))
  assert _count(d_vars["params"]) == (25 * 64 + 64) + (25 * 64 * 128 + 128) + (7 * 7 * 128 + 1)
  assert d.apply(d_vars, jnp.zeros((3, 28, 28, 1)), train=False).shape == (3,)


def test_dcgan32_counts_and_shapes():
  g, d = models.make_models(_cfg("dcgan32"), (32, 32, 3), 10)
  z = jnp.zeros((2, 128))
  g_vars = _init(g, z)
  convs = 16 * 512 * 256 + 16 * 256 * 128 + 9 * 128 * 128 + 16 * 128 * 64 + 9 * 64 * 64
  bn = 2 * (8192 + 256 + 128 + 128 + 64 + 64)
  assert _count(g_vars["params"]) == 128 * 8192 + convs + (9 * 64 * 3 + 3) + bn
  assert g.apply(g_vars, z, train=False).shape == (2, 32, 32, 3)
  d_vars = _init(d, jnp.zeros((2, 32, 32, 3)))
  expected = (16 * 3 * 64 + 64) + (16 * 64 * 128 + 128) + (16 * 128 * 256 + 256) + (4 * 4 * 256 + 1)
  assert _count(d_vars["params"]) == expected


def test_mlp_counts_and_ranges():
  g, d = models.make_models(_cfg("mlp"), (2,), 0)
  z = jnp.ones((4, 100)) * 10.0
  g_vars = _init(g, z)
  assert _count(g_vars["params"]) == (100 * 256 + 256) + (256 * 512 + 512) + (512 * 2 + 2)
  assert _count(_init(d, jnp.zeros((4, 2)))["params"]) == (2 * 512 + 512) + (512 * 256 + 256) + 257
  g_img, _ = models.make_models(_cfg("mlp"), (8, 8, 1), 0)
  out = g_img.apply(_init(g_img, z), z)
  assert out.shape == (4, 8, 8, 1)
  assert float(jnp.abs(out).max()) <= 1.0  # tanh for images; points are unbounded.


def test_mlp_generator_batch_norm_normalises_each_hidden_layer():
  cfg = _cfg("mlp")
  cfg.g_hidden, cfg.g_batch_norm, cfg.g_activation = (16, 8), True, "relu"
  g, _ = models.make_models(cfg, (2,), 0)
  z = jax.random.normal(jax.random.key(0), (64, 100)) * 3.0 + 1.0
  variables = _init(g, z)
  # PacGAN's generator: hidden Dense layers without bias (BN's shift replaces it).
  assert _count(variables["params"]) == 100 * 16 + 16 * 8 + (8 * 2 + 2) + 2 * (16 + 8)
  assert _count(variables["batch_stats"]) == 2 * (16 + 8)
  _, inter = g.apply(variables, z, train=True, mutable=["batch_stats", "intermediates"],
                     capture_intermediates=lambda m, _: isinstance(m, models.nn.BatchNorm))
  for name in ("BatchNorm_0", "BatchNorm_1"):
    h = inter["intermediates"][name]["__call__"][0]
    assert jnp.allclose(h.mean(0), 0.0, atol=1e-5) and jnp.allclose(h.var(0), 1.0, atol=1e-2)


@pytest.mark.parametrize("name,shape,latent", [("mlp", (2,), 100), ("dcgan28", (28, 28, 1), 100),
                                                ("dcgan32", (32, 32, 3), 128),
                                                ("sngan32", (32, 32, 3), 128)])
def test_generator_batch_norm_uses_the_global_batch_under_an_axis_name(name, shape, latent):
  # Under pmap each device holds a shard of the batch; with the axis name BN's statistics (and so
  # the samples and the running averages) are those of the whole batch, as on one device.
  cfg = _cfg(name)
  cfg.g_batch_norm = True  # Read by the MLP only; the image generators always have BN.
  g_one, _ = models.make_models(cfg, shape, 0)
  g_sharded, _ = models.make_models(cfg, shape, 0, axis_name="devices")
  z = jax.random.normal(jax.random.key(0), (8, latent))
  variables = _init(g_one, z)
  apply = lambda g, z: g.apply(variables, z, train=True, mutable=["batch_stats"])
  whole, whole_stats = apply(g_one, z)
  shards, shard_stats = jax.vmap(lambda z: apply(g_sharded, z), axis_name="devices")(
      z.reshape((2, 4, latent)))
  assert jnp.allclose(shards.reshape(whole.shape), whole, atol=1e-4)
  for a, b in zip(jax.tree.leaves(whole_stats), jax.tree.leaves(shard_stats)):
    assert jnp.allclose(b[0], a, atol=1e-5) and jnp.allclose(b[1], a, atol=1e-5)


def test_conditional_models_use_the_label():
  g, d = models.make_models(_cfg("dcgan28", conditional=True), (28, 28, 1), 10)
  z = jnp.zeros((2, 100))
  labels = jnp.array([3, 3])
  g_vars = _init(g, z, labels)
  # The one-hot adds 10 inputs to the first Dense layer.
  assert g_vars["params"]["Dense_0"]["kernel"].shape == (110, 7 * 7 * 256)
  z = jax.random.normal(jax.random.key(0), (2, 100))
  a = g.apply(g_vars, z, jnp.array([3, 3]), train=False)
  b = g.apply(g_vars, z, jnp.array([3, 4]), train=False)
  assert jnp.allclose(a[0], b[0]) and not jnp.allclose(a[1], b[1])
  x = jnp.zeros((2, 28, 28, 1))
  d_vars = _init(d, x, labels)
  assert d_vars["params"]["Conv_0"]["kernel"].shape == (5, 5, 11, 64)


def test_bad_model_choices_are_user_errors():
  with pytest.raises(UserError, match="model.name='resnet' is unknown; allowed: mlp"):
    models.make_models(_cfg("resnet"), (28, 28, 1), 0)
  with pytest.raises(UserError, match="produces 28x28 images.*32, 32, 3"):
    models.make_models(_cfg("dcgan28"), (32, 32, 3), 0)
  with pytest.raises(UserError, match="needs a labelled dataset"):
    models.make_models(_cfg("mlp", conditional=True), (2,), 0)
  with pytest.raises(UserError, match="pack=2 with model.d_conditioning='projection'"):
    models.make_models(_cfg("mlp", conditional=True, pack=2, d_conditioning="projection"),
                       (28, 28, 1), 10)
