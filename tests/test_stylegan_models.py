"""StyleGAN-lite's networks: modulated convolution, mapping learning-rate multiplier, truncation,
style mixing, the FIR resampling and the minibatch standard deviation against references."""
import math

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
import torch

from gan_jax import layers
from gan_jax import resample
from gan_jax.errors import UserError
from gan_jax.families.stylegan import models

# Tiny: widths 16 at 4x4, 8 at 8x8; 4 layer inputs (num_ws) at 8x8.
TINY = dict(resolution=8, channels=3, z_dim=8, w_dim=8, channel_base=64, channel_max=16,
            mapping_layers=2)


@pytest.fixture(scope="module")
def tiny_g():
  g = models.Generator(**TINY)
  variables = jax.jit(lambda k: g.init(k, jnp.zeros((2, 8)), train=False))(jax.random.key(0))
  # A w average away from zero, as after training, so truncation has something to pull to.
  w_avg = jax.random.normal(jax.random.key(5), (8,))
  variables = {**variables, "w_avg": {"mapping": {"w_avg": w_avg}}}
  return g, variables


def test_demodulated_weights_have_unit_norm_per_output_channel():
  weight = jax.random.normal(jax.random.key(0), (3, 3, 5, 7))
  styles = jax.random.normal(jax.random.key(1), (4, 5)) * 3.0 + 1.0
  w = models.modulated_weights(weight, styles, demodulate=True)  # (B, kh, kw, in, out)
  norms = jnp.sqrt(jnp.sum(jnp.square(w), axis=(1, 2, 3)))
  np.testing.assert_allclose(norms, np.ones((4, 7)), rtol=1e-5)
  # Without demodulation the norms follow the styles (and are not all 1).
  raw = models.modulated_weights(weight, styles, demodulate=False)
  assert not np.allclose(jnp.sqrt(jnp.sum(jnp.square(raw), axis=(1, 2, 3))), 1.0, atol=0.1)


@pytest.mark.parametrize("up", [1, 2])
@pytest.mark.parametrize("demodulate", [True, False])
def test_unfused_modulated_conv_equals_per_sample_weights(up, demodulate):
  """The unfused computation is the grouped ('fused') one: each sample convolved with its own
  modulated (and demodulated) weights."""
  x = jax.random.normal(jax.random.key(0), (3, 4, 4, 5))
  weight = jax.random.normal(jax.random.key(1), (3, 3, 5, 6))
  styles = jax.random.normal(jax.random.key(2), (3, 5)) + 1.0
  out = models.modulated_conv2d(x, weight, styles, demodulate=demodulate, up=up)
  per_sample = models.modulated_weights(weight, styles, demodulate)
  conv = (models.upsample_conv2d if up > 1 else
          lambda v, w: layers.conv2d(v, w, padding=1))
  expected = jnp.stack([conv(x[i:i + 1], per_sample[i])[0] for i in range(3)])
  np.testing.assert_allclose(out, expected, rtol=1e-4, atol=1e-5)


def _upfirdn2d_torch(x, f, up=1, down=1, padding=(0, 0, 0, 0), gain=1.0):
  """NVIDIA's reference semantics of upfirdn2d (NCHW): zero insertion, pad / crop, convolve with
  the flipped filter times gain, keep every `down`-th pixel."""
  b, c, h, w = x.shape
  x0, x1, y0, y1 = padding
  x = x.reshape(b, c, h, 1, w, 1)
  x = torch.nn.functional.pad(x, [0, up - 1, 0, 0, 0, up - 1]).reshape(b, c, h * up, w * up)
  x = torch.nn.functional.pad(x, [max(x0, 0), max(x1, 0), max(y0, 0), max(y1, 0)])
  x = x[:, :, max(-y0, 0):x.shape[2] - max(-y1, 0), max(-x0, 0):x.shape[3] - max(-x1, 0)]
  kernel = (torch.tensor(f) * gain).flip([0, 1])[None, None].repeat(c, 1, 1, 1)
  return torch.nn.functional.conv2d(x, kernel, groups=c)[:, :, ::down, ::down]


@pytest.mark.usefixtures("production_compiler")  # Parity with the reference.
@pytest.mark.parametrize("kwargs", [dict(up=2, padding=(2, 1, 2, 1), gain=4.0),
                                    dict(down=2, padding=(1, 1, 1, 1)),
                                    dict(padding=(1, -1, 0, 2)),
                                    dict(up=2, down=2, padding=(0, 3, 1, 2))])
def test_upfirdn2d_matches_the_reference_semantics(kwargs):
  rng = np.random.default_rng(0)
  x = rng.normal(size=(2, 3, 8, 8)).astype(np.float32)
  f = rng.normal(size=(4, 4)).astype(np.float32)  # Asymmetric: the flip and the pads matter.
  expected = _upfirdn2d_torch(torch.tensor(x), f, **kwargs).numpy().transpose(0, 2, 3, 1)
  out = resample.upfirdn2d(jnp.asarray(x.transpose(0, 2, 3, 1)), f, **kwargs)
  np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-5)


def test_fir_resampling_keeps_constants_inside_the_border():
  x = jnp.full((1, 8, 8, 2), 0.7)
  np.testing.assert_allclose(resample.upsample2d(x)[:, 2:-2, 2:-2], 0.7, rtol=1e-6)
  np.testing.assert_allclose(resample.downsample2d(x)[:, 1:-1, 1:-1], 0.7, rtol=1e-6)


def test_minibatch_stddev_maps_against_a_direct_computation():
  x = np.random.default_rng(0).normal(size=(8, 3, 3, 4)).astype(np.float32)
  out = np.asarray(layers.minibatch_stddev_maps(jnp.asarray(x), group_size=4, num_channels=2))
  assert out.shape == (8, 3, 3, 6)
  np.testing.assert_array_equal(out[..., :4], x)
  for i in range(8):
    group = x[i % 2::2]  # NVIDIA's reshape(G, -1, ...): sample i sits in group i mod (B / G).
    for f in range(2):
      std = np.sqrt(group[..., 2 * f:2 * f + 2].var(axis=0) + 1e-8).mean()
      np.testing.assert_allclose(out[i, :, :, 4 + f], std, rtol=1e-5)


def test_mapping_learning_rate_multiplier_is_applied():
  """Stored weights are N(0, 1/0.01^2) and scaled by 0.01 / sqrt(fan_in): the effective weights
  start as N(0, 1/fan_in), and one Adam step (which moves every stored weight by lr) moves them by
  lr * 0.01 / sqrt(fan_in), where a layer without the multiplier moves by lr / sqrt(fan_in)."""
  mapping = models.MappingNetwork(z_dim=64, w_dim=64, num_ws=None, num_layers=2)
  plain = layers.EqualDense(64)
  z = jax.random.normal(jax.random.key(1), (16, 64))
  mapping_vars = mapping.init(jax.random.key(0), z)
  params = {"mapping": mapping_vars["params"], "plain": plain.init(jax.random.key(0), z)["params"]}
  fc = params["mapping"]["fc1"]["kernel"]
  assert 80 < float(jnp.std(fc)) < 120  # 1 / 0.01
  np.testing.assert_allclose(float(jnp.std(fc * 0.01 / math.sqrt(64))), 1 / math.sqrt(64),
                             rtol=0.05)
  lr = 1e-3
  tx = optax.adam(lr, b1=0.0, b2=0.99, eps=1e-12)

  def loss(p):
    w = mapping.apply({**mapping_vars, "params": p["mapping"]}, z)
    return jnp.sum(jnp.square(plain.apply({"params": p["plain"]}, w)))

  updates, _ = tx.update(jax.jit(jax.grad(loss))(params), tx.init(params), params)
  moved = optax.apply_updates(params, updates)
  move = lambda path, gain: np.abs(np.asarray(path(moved) - path(params))) * gain
  mapping_move = move(lambda p: p["mapping"]["fc1"]["kernel"], 0.01 / math.sqrt(64))
  plain_move = move(lambda p: p["plain"]["kernel"], 1 / math.sqrt(64))
  np.testing.assert_allclose(np.median(mapping_move), lr * 0.01 / math.sqrt(64), rtol=1e-3)
  np.testing.assert_allclose(np.median(plain_move), lr / math.sqrt(64), rtol=1e-3)
  # The generator's mapping network is built with the multiplier.
  assert models.Generator(**TINY).mapping_lr_multiplier == 0.01


def test_truncation_psi_0_gives_the_w_average_image_and_psi_1_the_plain_sample(tiny_g):
  g, variables = tiny_g
  z = jax.random.normal(jax.random.key(1), (3, 8))
  sample = jax.jit(lambda z, psi: g.apply(variables, z, train=False, psi=psi))
  w_avg = variables["w_avg"]["mapping"]["w_avg"]
  avg_ws = jnp.broadcast_to(w_avg, (3, models.num_ws(8), 8))
  avg_image = g.apply(variables, avg_ws, noise_mode="const", method="synthesize")
  np.testing.assert_allclose(sample(z, 0.0), avg_image, rtol=1e-5, atol=1e-5)
  plain = g.apply(variables, z, train=False)
  np.testing.assert_allclose(sample(z, 1.0), plain, rtol=1e-5, atol=1e-6)
  assert float(jnp.abs(plain - avg_image).max()) > 1e-2


def test_truncation_cutoff_keeps_the_later_layers():
  ws = jax.random.normal(jax.random.key(0), (2, 6, 4))
  w_avg = jax.random.normal(jax.random.key(1), (4,))
  out = models.truncate(ws, w_avg, 0.5, cutoff=2)
  np.testing.assert_allclose(out[:, :2], w_avg + 0.5 * (ws[:, :2] - w_avg), rtol=1e-6)
  np.testing.assert_array_equal(out[:, 2:], ws[:, 2:])


def _layer_outputs(g, variables, ws):
  """The outputs of every synthesis layer and its affine (style) layer, by layer index."""
  _, state = g.apply(variables, ws, noise_mode="const", method="synthesize",
                     capture_intermediates=True, mutable=["intermediates"])
  synthesis = state["intermediates"]["synthesis"]
  index = {"b4_conv1": 0, "b8_conv0": 1, "b8_conv1": 2, "b8_torgb": 3}
  return {index[name]: (synthesis[name]["__call__"][0], synthesis[name]["affine"]["__call__"][0])
          for name in index}


@pytest.mark.parametrize("cutoff", [1, 2, 3])
def test_style_mixing_switches_styles_at_the_chosen_layer(tiny_g, cutoff):
  g, variables = tiny_g
  ws1 = g.apply(variables, jax.random.normal(jax.random.key(1), (2, 8)), method="map")
  ws2 = g.apply(variables, jax.random.normal(jax.random.key(2), (2, 8)), method="map")
  mixed = _layer_outputs(g, variables, models.mix_styles(ws1, ws2, cutoff))
  first, second = _layer_outputs(g, variables, ws1), _layer_outputs(g, variables, ws2)
  for layer, (output, style) in mixed.items():
    if layer < cutoff:  # Coarse layers: the first latent's styles, and its activations.
      np.testing.assert_allclose(style, first[layer][1], rtol=1e-6)
      np.testing.assert_allclose(output, first[layer][0], rtol=1e-5, atol=1e-6)
    else:  # From the cutoff on: the second latent's styles.
      np.testing.assert_allclose(style, second[layer][1], rtol=1e-6)
      assert not np.allclose(style, first[layer][1])
  # cutoff = num_ws is no mixing.
  np.testing.assert_array_equal(models.mix_styles(ws1, ws2, models.num_ws(8)), ws1)


def test_w_average_is_tracked_in_training_only(tiny_g):
  g, variables = tiny_g
  z = jax.random.normal(jax.random.key(1), (4, 8))
  _, updated = g.apply(variables, z, train=True, rngs={"noise": jax.random.key(2)},
                       mutable=["w_avg"])
  w = g.apply(variables, z, method="map")[:, 0]
  old = variables["w_avg"]["mapping"]["w_avg"]
  np.testing.assert_allclose(updated["w_avg"]["mapping"]["w_avg"],
                             w.mean(0) + 0.995 * (old - w.mean(0)), rtol=1e-5)


def test_conditional_mapping_and_projection_discriminator():
  g = models.Generator(**TINY, num_classes=3)
  d = models.Discriminator(resolution=8, channel_base=64, channel_max=16, num_classes=3,
                           architecture="resnet")
  z = jnp.ones((2, 8))
  labels = jnp.array([0, 2], jnp.int32)

  @jax.jit
  def run(key):
    gv = g.init(key, z, labels, train=False)
    x = g.apply(gv, z, labels, train=False)
    dv = d.init(key, x, labels)
    other = 1 - labels // 2  # [1, 0]
    return g.apply(gv, z, labels, method="map"), x, d.apply(dv, x, labels), d.apply(dv, x, other)

  ws, x, logits, other_logits = run(jax.random.key(0))
  assert x.shape == (2, 8, 8, 3) and logits.shape == (2,)
  assert not np.allclose(ws[0], ws[1])  # Same z, different labels.
  assert not np.allclose(logits, other_logits)


@pytest.mark.parametrize("resolution", [0, 2, 24, 48])
def test_resolution_must_be_a_power_of_two(resolution):
  with pytest.raises(UserError, match=f"resolution={resolution} is not a power of two"):
    models.Generator(**dict(TINY, resolution=resolution)).init(
        jax.random.key(0), jnp.zeros((1, 8)), train=False)


def test_transposed_conv_by_phases_matches_torch():
  """NVIDIA's upsampling convolution starts with torch's conv_transpose2d (stride 2) of the input
  and the layer's weight (OIHW, in/out swapped); ours computes it by phases."""
  rng = np.random.default_rng(0)
  x = rng.normal(size=(2, 5, 6, 3)).astype(np.float32)
  w = rng.normal(size=(3, 3, 3, 4)).astype(np.float32)   # HWIO
  expected = torch.nn.functional.conv_transpose2d(
      torch.tensor(x.transpose(0, 3, 1, 2)), torch.tensor(w.transpose(2, 3, 0, 1)), stride=2)
  out = models.transposed_conv2d(jnp.asarray(x), jnp.asarray(w))
  np.testing.assert_allclose(out, expected.numpy().transpose(0, 2, 3, 1), rtol=1e-5, atol=1e-5)


def test_separable_fir_equals_the_2d_filter():
  x = jax.random.normal(jax.random.key(0), (2, 8, 8, 3))
  for kwargs in (dict(up=2, padding=(2, 1, 2, 1), gain=4.0), dict(down=2, padding=(1, 1, 1, 1))):
    np.testing.assert_allclose(resample.upfirdn2d(x, resample.FILTER, **kwargs),
                               resample.upfirdn2d(x, resample.make_filter(), **kwargs),
                               rtol=1e-5, atol=1e-6)
