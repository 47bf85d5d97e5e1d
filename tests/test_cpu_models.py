"""The CPU-sized models ('conv28', 'conv_mlp28'): the sub-pixel generator (depth-to-space against a
loop reference, parameter counts, a 3x3 sub-pixel convolution spans the stride-2 transposed
convolution it replaces) and the patch convolution (the same function as nn.Conv)."""
import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest

from gan_jax.families.latent import models


def test_depth_to_space_matches_a_loop_reference():
  x = np.asarray(jax.random.normal(jax.random.key(0), (2, 3, 4, 2 * 2 * 5)))
  out = np.asarray(models.depth_to_space(jnp.asarray(x), 2))
  assert out.shape == (2, 6, 8, 5)
  expected = np.zeros_like(out)
  for h in range(3):
    for w in range(4):
      for i in range(2):
        for j in range(2):
          # TensorFlow's depth_to_space order: channel (i * 2 + j) * C + c -> pixel (2h+i, 2w+j).
          expected[:, 2 * h + i, 2 * w + j, :] = x[:, h, w, (i * 2 + j) * 5:(i * 2 + j + 1) * 5]
  np.testing.assert_array_equal(out, expected)


def test_conv_mlp28_counts_and_shapes():
  config = ml_collections.ConfigDict(dict(name="conv_mlp28", latent_dim=64, g_hidden=(16, 8),
                                          d_hidden=(32, 16)))
  g, d = models.make_models(config, (28, 28, 1), 10)
  assert isinstance(g, models.SubPixelGenerator28) and isinstance(d, models.MLPDiscriminator)
  z = jnp.zeros((3, 64))
  g_vars = g.init(jax.random.key(0), z, train=False)
  count = lambda tree: sum(v.size for v in jax.tree.leaves(tree))
  # Dense 64 -> 7*7*16 (no bias), BN; conv 3x3 16 -> 4*8 (no bias), BN; conv 3x3 8 -> 4*1 + bias.
  assert count(g_vars["params"]) == (64 * 784 + 2 * 784) + (9 * 16 * 32 + 2 * 8) + (9 * 8 * 4 + 4)
  assert g.apply(g_vars, z, train=False).shape == (3, 28, 28, 1)
  d_vars = d.init(jax.random.key(0), jnp.zeros((3, 28, 28, 1)), train=False)
  assert count(d_vars["params"]) == (784 * 32 + 32) + (32 * 16 + 16) + (16 + 1)
  # Conditional: the one-hot label is concatenated to z.
  cond = config.copy_and_resolve_references()
  cond.conditional = True
  g, _ = models.make_models(cond, (28, 28, 1), 10)
  g_vars = g.init(jax.random.key(0), z, jnp.zeros((3,), jnp.int32), train=False)
  assert g_vars["params"]["Dense_0"]["kernel"].shape == (74, 784)


@pytest.mark.parametrize("kernel", [4, 5])
def test_subpixel_conv_spans_a_stride2_transposed_conv(kernel):
  """Fits the 3x3 sub-pixel convolution's weights to a random transposed convolution (4x4 as in
  DCGAN, 5x5 as in the TF tutorial's MNIST G) by least squares: the residual is zero, so replacing
  the transposed convolution loses nothing."""
  c_in, c_out = 2, 3
  x = jax.random.normal(jax.random.key(0), (4, 5, 5, c_in))
  conv_t = nn.ConvTranspose(c_out, (kernel, kernel), (2, 2), padding="SAME", use_bias=False)
  target = conv_t.apply(conv_t.init(jax.random.key(1), x), x)
  assert target.shape == (4, 10, 10, c_out)
  conv = nn.Conv(4 * c_out, (3, 3), padding="SAME", use_bias=False)
  w0 = conv.init(jax.random.key(2), x)
  sub_pixel = lambda w: models.depth_to_space(conv.apply({"params": {"kernel": w}}, x)).ravel()
  # The output is linear in the weights: columns of its Jacobian, solved in float64.
  a = np.asarray(jax.jacobian(sub_pixel)(w0["params"]["kernel"])).reshape(target.size, -1)
  w, *_ = np.linalg.lstsq(a.astype(np.float64), np.asarray(target, np.float64).ravel(), rcond=None)
  residual = a @ w - np.asarray(target).ravel()
  assert np.abs(residual).max() < 1e-4 * np.abs(target).max()
  # Not trivially true: a 1x1 sub-pixel convolution cannot do it.
  conv1 = nn.Conv(4 * c_out, (1, 1), use_bias=False)
  w1 = conv1.init(jax.random.key(2), x)["params"]["kernel"]
  a1 = np.asarray(jax.jacobian(lambda w: models.depth_to_space(
      conv1.apply({"params": {"kernel": w}}, x)).ravel())(w1)).reshape(target.size, -1)
  w, *_ = np.linalg.lstsq(a1.astype(np.float64), np.asarray(target, np.float64).ravel(), rcond=None)
  assert np.abs(a1 @ w - np.asarray(target).ravel()).max() > 0.1 * np.abs(target).max()


@pytest.mark.parametrize("kernel", [3, 4, 5])
@pytest.mark.parametrize("size", [28, 14, 6])
def test_patch_conv_is_nn_conv(kernel, size):
  x = jax.random.normal(jax.random.key(0), (2, size, size, 3))
  conv = nn.Conv(5, (kernel, kernel), (2, 2), padding="SAME")
  variables = conv.init(jax.random.key(1), x)
  patch = models.PatchConv(5, kernel)
  # Same parameter names and shapes: one's weights load into the other.
  assert jax.tree.map(jnp.shape, patch.init(jax.random.key(1), x)) == jax.tree.map(jnp.shape,
                                                                                   variables)
  np.testing.assert_allclose(patch.apply(variables, x), conv.apply(variables, x), atol=1e-5)
  # And the input gradients (what the gradient penalty differentiates again).
  grad = lambda f: jax.grad(lambda v: jnp.sum(jnp.sin(f(v))))(x)
  np.testing.assert_allclose(grad(lambda v: patch.apply(variables, v)),
                             grad(lambda v: conv.apply(variables, v)), atol=1e-5)


def test_stride2_patches_refuses_odd_sizes():
  with pytest.raises(ValueError, match="even"):
    models.stride2_patches(jnp.zeros((1, 7, 7, 1)), 4)


def test_conv28_discriminator_uses_patch_convs():
  config = ml_collections.ConfigDict(dict(name="conv28", latent_dim=8, g_hidden=(8, 4),
                                          d_hidden=(4, 8), d_dropout=0.0))
  g, d = models.make_models(config, (28, 28, 1), 10)
  assert isinstance(d, models.DCGANDiscriminator) and d.patch_conv
  assert d.layers == ((4, 4), (8, 4))
  x = jax.random.normal(jax.random.key(0), (3, 28, 28, 1))
  variables = d.init(jax.random.key(1), x, train=False)
  # The same weights in the nn.Conv discriminator give the same logits.
  reference = models.DCGANDiscriminator(d.layers, dropout_rate=0.0)
  np.testing.assert_allclose(d.apply(variables, x, train=False),
                             reference.apply(variables, x, train=False), rtol=1e-5, atol=1e-5)
  assert g.apply(g.init(jax.random.key(0), jnp.zeros((2, 8)), train=False), jnp.zeros((2, 8)),
                 train=False).shape == (2, 28, 28, 1)
