"""Pix2Pix networks: the U-Net and PatchGAN against a PyTorch re-implementation of the authors'
(experiments/torch_pix2pix.py, weights copied), the receptive field, dropout, norms, bad sizes."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch

from experiments import torch_pix2pix
from pix2pix_testing import random_variables
from gan_jax.errors import UserError
from gan_jax.families.pix2pix import models


def _count(module, *inputs):
  shapes = jax.eval_shape(lambda: module.init(jax.random.key(0), *inputs, train=False))
  return sum(int(np.prod(p.shape)) for p in jax.tree.leaves(shapes["params"]))


def test_parameter_counts_match_the_authors_networks():
  # The authors' code prints 54.414 M for unet_256 and 2.769 M for the 70x70 PatchGAN on 3+3
  # channels (batch norm, width 64).
  g = models.UNetGenerator(out_channels=3)
  d = models.PatchDiscriminator()
  x = jnp.zeros((1, 256, 256, 3))
  assert round(_count(g, x) / 1e6, 3) == 54.414
  assert round(_count(d, x, x) / 1e6, 3) == 2.769


def _torch(x):
  return torch.from_numpy(np.asarray(x).transpose(0, 3, 1, 2).copy())


def _nhwc(t):
  return t.detach().numpy().transpose(0, 2, 3, 1)


@pytest.mark.usefixtures("production_compiler")  # Parity with the reference.
@pytest.mark.parametrize("norm", ["batch", "instance", "none"])
@pytest.mark.parametrize("train", [False, True])
def test_unet_matches_pytorch(norm, train):
  size, width = 32, 4
  x = jax.random.uniform(jax.random.key(1), (3, size, size, 1), minval=-1, maxval=1)
  # Dropout is random in both: compare without it in training, with it switched off at test time.
  blocks = 0 if train else 3
  g = models.UNetGenerator(out_channels=2, width=width, norm=norm, dropout_blocks=blocks)
  variables = random_variables(g, x)
  if norm == "batch":  # Running statistics other than the initial 0 / 1.
    stats = jax.tree.map(lambda v: jax.random.uniform(jax.random.key(2), v.shape, minval=0.5,
                                                      maxval=1.5), variables["batch_stats"])
    variables = {**variables, "batch_stats": stats}
  ref = torch_pix2pix.UNet(1, 2, size, width, norm, blocks)
  torch_pix2pix.load_flax_weights(ref, variables)
  ref.train(train)
  if train:
    ours, updates = g.apply(variables, x, train=True, mutable=["batch_stats"])
  else:
    ours = g.apply(variables, x, train=False)
  theirs = _nhwc(ref(_torch(x)))
  np.testing.assert_allclose(ours, theirs, atol=2e-5)
  assert ours.shape == (3, size, size, 2)
  if train and norm == "batch":  # Running averages move as torch's (momentum 0.1).
    np.testing.assert_allclose(updates["batch_stats"]["down1_norm"]["mean"],
                               ref.down_norm[1].running_mean.numpy(), atol=1e-6)


@pytest.mark.usefixtures("production_compiler")  # Parity with the reference.
@pytest.mark.parametrize("norm", ["batch", "instance"])
@pytest.mark.parametrize("n_layers", [1, 2, 3])
def test_patch_discriminator_matches_pytorch(norm, n_layers):
  size = 32
  source = jax.random.uniform(jax.random.key(1), (2, size, size, 1), minval=-1, maxval=1)
  image = jax.random.uniform(jax.random.key(2), (2, size, size, 3), minval=-1, maxval=1)
  d = models.PatchDiscriminator(width=4, n_layers=n_layers, norm=norm)
  variables = random_variables(d, image, source)
  ref = torch_pix2pix.PatchGAN(4, 4, n_layers, norm)
  torch_pix2pix.load_flax_weights(ref, variables)
  ours, _ = d.apply(variables, image, source, train=True, mutable=["batch_stats"])
  theirs = ref.train()(_torch(jnp.concatenate([source, image], -1))).detach().numpy()
  np.testing.assert_allclose(ours, theirs, atol=2e-5)
  side = models.patch_grid(size, n_layers)
  assert ours.shape == (2, side, side)


def test_receptive_field_values():
  assert [models.receptive_field(n) for n in (1, 2, 3, 4)] == [16, 34, 70, 142]
  assert models.patch_grid(256, 3) == 30  # The paper's 30x30 patch map at 256 px.


@pytest.mark.parametrize("n_layers,size", [(1, 32), (2, 64), (3, 96)])
def test_receptive_field_is_the_support_of_a_logits_input_gradient(n_layers, size):
  """The input pixels one (central) logit depends on span exactly receptive_field(n) pixels."""
  d = models.PatchDiscriminator(width=2, n_layers=n_layers, norm="none")
  x = jnp.zeros((1, size, size, 1))
  variables = random_variables(d, x)
  # Positive weights and a non-zero input: no gradient cancels by chance inside the field.
  variables = jax.tree.map(lambda v: jnp.abs(v) + 0.01, variables)
  c = models.patch_grid(size, n_layers) // 2
  grad = jax.grad(lambda x: d.apply(variables, x + 1.0, train=False)[0, c, c])(x)[0, :, :, 0]
  rows, cols = np.nonzero(np.asarray(grad))
  field = models.receptive_field(n_layers)
  assert rows.max() - rows.min() + 1 == field and cols.max() - cols.min() + 1 == field


def test_unconditional_discriminator_scores_the_image_alone():
  image = jnp.ones((2, 32, 32, 3))
  d = models.PatchDiscriminator(width=4, n_layers=2)
  variables = random_variables(d, image)
  assert variables["params"]["conv0"]["kernel"].shape == (4, 4, 3, 4)
  assert d.apply(variables, image, train=False).shape == (2, 6, 6)


def test_instance_norm_normalises_each_image_and_channel():
  x = jax.random.normal(jax.random.key(0), (2, 8, 8, 3)) * 3.0 + 5.0
  norm = models.normalization("instance", train=True)
  y = norm.apply(norm.init(jax.random.key(0), x), x)
  np.testing.assert_allclose(y.mean((1, 2)), 0.0, atol=1e-5)
  np.testing.assert_allclose(y.var((1, 2)), 1.0, atol=1e-3)
  theirs = torch.nn.InstanceNorm2d(3)(_torch(x))
  np.testing.assert_allclose(y, _nhwc(theirs), atol=1e-5)


def test_dropout_is_the_noise_in_training_and_optional_at_test_time():
  x = jax.random.uniform(jax.random.key(1), (2, 32, 32, 1), minval=-1, maxval=1)
  g = models.UNetGenerator(out_channels=2, width=4, norm="instance")
  variables = random_variables(g, x)
  run = lambda seed, **kw: g.apply(variables, x, rngs={"dropout": jax.random.key(seed)}, **kw)
  assert not np.allclose(run(0, train=True), run(1, train=True))
  np.testing.assert_array_equal(run(0, train=False), run(1, train=False))
  assert not np.allclose(run(0, train=False, dropout=True), run(1, train=False, dropout=True))
  no_dropout = models.UNetGenerator(out_channels=2, width=4, norm="instance", dropout_blocks=0)
  np.testing.assert_array_equal(no_dropout.apply(variables, x, train=True,
                                                 rngs={"dropout": jax.random.key(0)}),
                                no_dropout.apply(variables, x, train=False))


@pytest.mark.parametrize("shape", [(1, 48, 48, 1), (1, 32, 64, 1), (1, 8, 8, 1)])
def test_unet_refuses_sizes_it_cannot_take_to_1x1(shape):
  g = models.UNetGenerator(out_channels=1, width=2)
  with pytest.raises(UserError, match="power of two"):
    jax.eval_shape(lambda: g.init(jax.random.key(0), jnp.zeros(shape), train=False))


def test_bad_structure_options_are_user_errors():
  x = jnp.zeros((1, 32, 32, 1))
  init = lambda module: jax.eval_shape(lambda: module.init(jax.random.key(0), x, train=False))
  with pytest.raises(UserError, match="dropout_blocks=4"):
    init(models.UNetGenerator(out_channels=1, width=2, dropout_blocks=4))
  with pytest.raises(UserError, match="too deep"):
    init(models.PatchDiscriminator(width=2, n_layers=4))
  with pytest.raises(UserError, match="norm='layer'"):
    init(models.PatchDiscriminator(width=2, norm="layer"))


def test_upsampling_by_phases_is_the_transposed_convolution():
  x = jax.random.normal(jax.random.key(0), (2, 5, 3, 4))
  kernel = jax.random.normal(jax.random.key(1), (4, 4, 4, 3))
  f = lambda method: jax.jit(lambda x, k: models.upsample_conv(x, k, method))
  np.testing.assert_allclose(f("phases")(x, kernel), f("transpose")(x, kernel), atol=1e-5)
  assert f("phases")(x, kernel).shape == (2, 10, 6, 3)
  grads = lambda method: jax.jit(jax.grad(
      lambda x, k: jnp.sum(jnp.sin(models.upsample_conv(x, k, method))), argnums=(0, 1)))(x, kernel)
  for ours, theirs in zip(grads("phases"), grads("transpose")):
    np.testing.assert_allclose(ours, theirs, atol=1e-4)
