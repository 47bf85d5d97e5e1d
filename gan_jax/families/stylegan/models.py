"""StyleGAN-lite: StyleGAN2's generator and discriminator (Karras et al. 2020), sized by config.

Faithful to stylegan2-ada-pytorch (training/networks.py) where it matters for what is learned:

  G = synthesis(mapping(z, y)):
    mapping    z -> pixel_norm -> [EqualDense + lrelu] x num_layers -> w, learning-rate multiplier
               0.01; a label embedding (pixel-normalised) is concatenated to z when conditional; the
               running mean of w (`w_avg`, decay 0.995, in the "w_avg" collection) is tracked in
               training and used by truncation.
    synthesis  a learned 4x4 constant; per resolution two 3x3 modulated convolutions with
               weight demodulation (the first upsamples), per-pixel noise with a learned strength,
               bias, lrelu * sqrt(2); a 1x1 toRGB (modulated, not demodulated) whose outputs are
               summed over resolutions through FIR upsampling ('skip' architecture). w is broadcast
               to `num_ws` layer inputs; style mixing and truncation act on that (B, num_ws, w_dim)
               array.
  D = 'orig' (the cifar config) or 'resnet' blocks of two 3x3 convolutions (the second downsamples
      through the [1, 3, 3, 1] filter), a minibatch standard deviation feature, a 3x3 convolution,
      two dense layers; class-conditional through a projection onto a mapped label embedding.

With NVIDIA's weights copied in, G's and D's outputs equal NVIDIA's to float32 rounding
(experiments/stylegan_reference.py). Differences in how, not what: NHWC; the modulated convolution
runs unfused (styles scale the input, demodulation the output: the same function as the grouped
convolution, see `modulated_weights`), which is NVIDIA's own choice in training; no fp16, no conv
clamp (NVIDIA's mixed-precision options).

Progressive growing (Karras et al. 2018) is a call argument: `stage` (a Python int: resolution 4 *
2**stage) and `alpha` (the fade-in of the newest block, an array). In G the newest toRGB output is
added with weight alpha to the upsampled image of the smaller network; in D the newest block's
output is blended with the smaller D's fromRGB of the downsampled input. `stage=None` is the full
network.
"""
import math

import flax.linen as nn
import jax
import jax.numpy as jnp

from gan_jax import resample
from gan_jax.errors import UserError
from gan_jax.layers import (EqualConv, EqualDense, channels_at, check_resolution, conv2d, lrelu,
                            minibatch_stddev_maps, num_stages, pixel_norm)

NOISE_MODES = ("random", "const", "none")


def num_ws(resolution):
  """Layer inputs of the synthesis network: two per resolution, one at 4x4, plus the last toRGB."""
  return 2 * check_resolution(resolution) - 2


def truncate(ws, w_avg, psi, cutoff=None):
  """The truncation trick (StyleGAN sec. 3.1): w' = w_avg + psi (w - w_avg) for the layer inputs
  [0, cutoff) (all when cutoff is None); psi = 1 leaves ws unchanged, psi = 0 gives w_avg."""
  truncated = w_avg + psi * (ws - w_avg)
  if cutoff is None:
    return truncated
  layer = jnp.arange(ws.shape[1])[None, :, None]
  return jnp.where(layer < cutoff, truncated, ws)


def mix_styles(ws, ws_other, cutoff):
  """Style mixing: the layer inputs [cutoff, num_ws) taken from `ws_other` (StyleGAN sec. 3.1).
  `cutoff` may be traced; cutoff = num_ws keeps ws."""
  layer = jnp.arange(ws.shape[1])[None, :, None]
  return jnp.where(layer < cutoff, ws, ws_other)


def modulated_weights(weight, styles, demodulate=True):
  """The per-sample weights of a modulated convolution (StyleGAN2 eqs. 1-3): w'_bijko = s_bi w_ijko,
  demodulated to w'' = w' / sqrt(sum_{i,j,k} w'^2 + 1e-8) so every output channel has unit norm.
  weight: (kh, kw, in, out); styles: (B, in) -> (B, kh, kw, in, out). What the grouped ('fused')
  convolution uses; `modulated_conv2d` computes the same function without forming it."""
  w = weight[None] * styles[:, None, None, :, None]
  if demodulate:
    w = w * jax.lax.rsqrt(jnp.sum(jnp.square(w), axis=(1, 2, 3), keepdims=True) + 1e-8)
  return w


def _interleave(even, odd, axis):
  """Rows (or columns) even[0], odd[0], even[1], ... along `axis`; len(even) = len(odd) + 1."""
  odd = jnp.pad(odd, [(0, 0)] * axis + [(0, 1)] + [(0, 0)] * (odd.ndim - axis - 1))
  shape = list(even.shape)
  shape[axis] *= 2
  both = jnp.stack([even, odd], axis + 1).reshape(shape)
  return jax.lax.slice_in_dim(both, 0, shape[axis] - 1, axis=axis)


def transposed_conv2d(x, weight):
  """The stride-2 transposed convolution of NVIDIA's upsampling layers (zero insertion, then a
  true convolution with `weight`, full padding: (H - 1) * 2 + k outputs), for an odd k.

  Computed by phases: output rows (columns) 2q take the even kernel taps and 2q + 1 the odd ones, so
  it is four small correlations at the input's resolution, interleaved. On XLA:CPU the direct form
  (an lhs-dilated convolution) took 1.8 s for the weight gradient of a 16 -> 32 layer with 64
  channels at batch 32; by phases, with the padding done before a VALID convolution, 0.09 s."""
  k = weight.shape[0]
  if k % 2 == 0 or k < 3:
    raise ValueError(f"kernel size {k}; an odd size >= 3 is supported")
  # y[2q + r] = sum_j x[q - j] w[2j + r]: a correlation with the flipped phase taps.
  phase = (slice(k - 1, None, -2), slice(k - 2, None, -2))  # even taps, odd taps (reversed)

  def corr(h, w, pad_h, pad_w):
    h = jnp.pad(h, ((0, 0), (pad_h, pad_h), (pad_w, pad_w), (0, 0)))
    return conv2d(h, w.astype(h.dtype))
  pads = ((k + 1) // 2 - 1, (k - 1) // 2 - 1)   # Taps per phase, less one.
  rows = []
  for r in range(2):
    cols = [corr(x, weight[phase[r], phase[c]], pads[r], pads[c]) for c in range(2)]
    rows.append(_interleave(cols[0], cols[1], 2))
  return _interleave(rows[0], rows[1], 1)


def upsample_conv2d(x, weight):
  """2x upsampling convolution, as NVIDIA's `conv2d_resample(up=2)`: a stride-2 transposed
  convolution (`transposed_conv2d`), then the [1, 3, 3, 1] FIR filter (gain 4) with the padding
  that brings the size to exactly 2x."""
  k = weight.shape[0]
  y = transposed_conv2d(x, weight)
  f = resample.FILTER.shape[0]
  # NVIDIA's padding for up=2 with padding k // 2, less what the transposed convolution added.
  p0 = k // 2 + (f + 1) // 2 - (k - 1)
  p1 = k // 2 + (f - 2) // 2 - (k - 2)
  return resample.upfirdn2d(y, resample.FILTER, padding=(p0, p1, p0, p1), gain=4.0)


def modulated_conv2d(x, weight, styles, demodulate=True, up=1):
  """A modulated 3x3 or 1x1 convolution of NHWC `x`, optionally upsampling 2x (`upsample_conv2d`).

  Unfused (NVIDIA's fused_modconv=False): scale the input channels by the styles, convolve with the
  shared weight, scale the output channels by the demodulation coefficients
  1 / sqrt(sum_i s_i^2 sum_jk w_ijko^2 + 1e-8); equal to convolving each sample with
  `modulated_weights`.
  """
  x = x * styles[:, None, None, :].astype(x.dtype)
  if up == 2:
    y = upsample_conv2d(x, weight)
  elif up == 1:
    y = conv2d(x, weight, padding=weight.shape[0] // 2)
  else:
    raise ValueError(f"up={up}; allowed: 1, 2")
  if demodulate:
    dcoefs = jax.lax.rsqrt(jnp.square(styles) @ jnp.sum(jnp.square(weight), axis=(0, 1)) + 1e-8)
    y = y * dcoefs[:, None, None, :].astype(y.dtype)
  return y


class MappingNetwork(nn.Module):
  """z (and a label) -> w, broadcast to `num_ws` layer inputs and truncated; tracks w's mean."""
  z_dim: int
  w_dim: int
  num_ws: int | None
  num_layers: int = 8
  num_classes: int = 0
  embed_features: int | None = None   # None: w_dim.
  layer_features: int | None = None   # None: w_dim.
  lr_multiplier: float = 0.01
  w_avg_beta: float | None = 0.995    # None: no tracking (D's label mapping).

  @nn.compact
  def __call__(self, z, labels=None, psi=1.0, cutoff=None, update_w_avg=False):
    parts = []
    if self.z_dim > 0:
      parts.append(pixel_norm(z.astype(jnp.float32)))
    if self.num_classes > 0:
      if labels is None:
        raise ValueError(f"this mapping network is conditional on {self.num_classes} classes and "
                         "needs labels")
      onehot = jax.nn.one_hot(labels, self.num_classes, dtype=jnp.float32)
      # NVIDIA's label embedding has no learning-rate multiplier.
      embed = EqualDense(self.embed_features or self.w_dim, name="embed")(onehot)
      parts.append(pixel_norm(embed))
    x = jnp.concatenate(parts, axis=-1)
    for i in range(self.num_layers):
      features = self.w_dim if i == self.num_layers - 1 else (self.layer_features or self.w_dim)
      x = lrelu(EqualDense(features, lr_multiplier=self.lr_multiplier, name=f"fc{i}")(x))
    if self.w_avg_beta is not None:
      w_avg = self.variable("w_avg", "w_avg", jnp.zeros, (self.w_dim,))
      if update_w_avg and not self.is_initializing():
        batch_mean = jax.lax.stop_gradient(x).mean(axis=0)
        w_avg.value = batch_mean + self.w_avg_beta * (w_avg.value - batch_mean)
    if self.num_ws is None:
      return x
    ws = jnp.broadcast_to(x[:, None, :], (x.shape[0], self.num_ws, self.w_dim))
    if not (isinstance(psi, (int, float)) and psi == 1):
      if self.w_avg_beta is None:
        raise ValueError("truncation needs the tracked w average (w_avg_beta)")
      ws = truncate(ws, w_avg.value, psi, cutoff)
    return ws


class SynthesisLayer(nn.Module):
  """Modulated 3x3 convolution (optionally upsampling) + noise + bias + lrelu * sqrt(2)."""
  features: int
  resolution: int
  up: int = 1
  use_noise: bool = True

  @nn.compact
  def __call__(self, x, w, noise_mode="random", gain=1.0):
    styles = EqualDense(x.shape[-1], bias_init=1.0, name="affine")(w)
    weight = self.param("weight", nn.initializers.normal(1.0), (3, 3, x.shape[-1], self.features))
    x = modulated_conv2d(x, weight, styles, demodulate=True, up=self.up)
    if self.use_noise:
      # The per-layer fixed noise image ("const" mode: reproducible samples and smooth animations).
      noise_const = self.variable(
          "noise_const", "noise",
          lambda: jax.random.normal(self.make_rng("params"), (self.resolution, self.resolution, 1)))
      strength = self.param("noise_strength", nn.initializers.zeros, ())
      if noise_mode == "random":
        noise = jax.random.normal(self.make_rng("noise"), x.shape[:3] + (1,), x.dtype)
        x = x + noise * strength
      elif noise_mode == "const":
        x = x + noise_const.value[None] * strength
    bias = self.param("bias", nn.initializers.zeros, (self.features,))
    return lrelu(x + bias, gain=math.sqrt(2.0) * gain)


class ToRGB(nn.Module):
  """A modulated 1x1 convolution to image channels, without demodulation; linear."""
  channels: int

  @nn.compact
  def __call__(self, x, w):
    in_channels = x.shape[-1]
    styles = EqualDense(in_channels, bias_init=1.0, name="affine")(w) / math.sqrt(in_channels)
    weight = self.param("weight", nn.initializers.normal(1.0), (1, 1, in_channels, self.channels))
    return (modulated_conv2d(x, weight, styles, demodulate=False)
            + self.param("bias", nn.initializers.zeros, (self.channels,)))


class SynthesisNetwork(nn.Module):
  """ws (B, num_ws, w_dim) -> images (B, R, R, C) at resolution 4 * 2**stage ('skip'
  architecture)."""
  resolution: int
  channels: int = 3
  channel_base: int = 4096
  channel_max: int = 256
  use_noise: bool = True

  @nn.compact
  def __call__(self, ws, stage=None, alpha=1.0, noise_mode="random"):
    if noise_mode not in NOISE_MODES:
      raise ValueError(f"noise_mode={noise_mode!r}; allowed: {', '.join(NOISE_MODES)}")
    last = num_stages(self.resolution) - 1
    stage = last if stage is None else stage
    x = img = None
    for k in range(stage + 1):
      res = 4 * 2**k
      width = channels_at(res, self.channel_base, self.channel_max)
      layer = lambda name, up=1: SynthesisLayer(width, res, up=up, use_noise=self.use_noise,
                                                name=f"b{res}_{name}")
      if k == 0:
        const = self.param("const", nn.initializers.normal(1.0), (4, 4, width))
        x = jnp.broadcast_to(const[None], (ws.shape[0], 4, 4, width))
        x = layer("conv1")(x, ws[:, 0], noise_mode)
      else:
        x = layer("conv0", up=2)(x, ws[:, 2 * k - 1], noise_mode)
        x = layer("conv1")(x, ws[:, 2 * k], noise_mode)
      y = ToRGB(self.channels, name=f"b{res}_torgb")(x, ws[:, 2 * k + 1])
      if img is None:
        img = y
      else:
        # The newest resolution fades in: alpha = 0 is the smaller network's image, upsampled.
        img = resample.upsample2d(img) + (alpha * y if k == stage else y)
    return img


class Generator(nn.Module):
  """StyleGAN2's generator: `generator(z, labels, train)` like every latent model, plus `map`
  (z -> ws with truncation) and `synthesize` (ws -> images) for style mixing and latent tools."""
  resolution: int
  channels: int = 3
  z_dim: int = 128
  w_dim: int = 128
  num_classes: int = 0
  mapping_layers: int = 2
  mapping_lr_multiplier: float = 0.01
  w_avg_beta: float = 0.995
  channel_base: int = 4096
  channel_max: int = 256
  use_noise: bool = True

  def setup(self):
    self.num_ws = num_ws(self.resolution)
    self.mapping = MappingNetwork(
        z_dim=self.z_dim, w_dim=self.w_dim, num_ws=self.num_ws, num_layers=self.mapping_layers,
        num_classes=self.num_classes, lr_multiplier=self.mapping_lr_multiplier,
        w_avg_beta=self.w_avg_beta)
    self.synthesis = SynthesisNetwork(
        resolution=self.resolution, channels=self.channels, channel_base=self.channel_base,
        channel_max=self.channel_max, use_noise=self.use_noise)

  def map(self, z, labels=None, psi=1.0, cutoff=None, update_w_avg=False):
    return self.mapping(z, labels, psi=psi, cutoff=cutoff, update_w_avg=update_w_avg)

  def synthesize(self, ws, stage=None, alpha=1.0, noise_mode="random"):
    return self.synthesis(ws, stage=stage, alpha=alpha, noise_mode=noise_mode)

  def __call__(self, z, labels=None, train=True, psi=1.0, cutoff=None, noise_mode=None,
               stage=None, alpha=1.0):
    """Images from z. Training draws fresh noise and updates w_avg; evaluation (train=False) uses
    the fixed noise images, as NVIDIA's generate.py does by default."""
    ws = self.map(z, labels, psi=psi, cutoff=cutoff, update_w_avg=train)
    noise_mode = noise_mode or ("random" if train else "const")
    return self.synthesize(ws, stage=stage, alpha=alpha, noise_mode=noise_mode)


class DiscriminatorBlock(nn.Module):
  """Two 3x3 convolutions, the second halving the resolution; 'resnet' adds a 1x1 skip."""
  tmp_features: int
  out_features: int
  architecture: str = "orig"

  @nn.compact
  def __call__(self, x):
    if self.architecture == "resnet":
      skip = EqualConv(self.out_features, 1, use_bias=False, down=2, name="skip")(x)
      x = lrelu(EqualConv(self.tmp_features, 3, name="conv0")(x))
      x = lrelu(EqualConv(self.out_features, 3, down=2, name="conv1")(x), math.sqrt(2 * 0.5))
      return skip * math.sqrt(0.5) + x
    x = lrelu(EqualConv(self.tmp_features, 3, name="conv0")(x))
    return lrelu(EqualConv(self.out_features, 3, down=2, name="conv1")(x))


D_ARCHITECTURES = ("orig", "resnet")


class Discriminator(nn.Module):
  """StyleGAN2's discriminator: `discriminator(x, labels, train)` -> one logit per example."""
  resolution: int
  channel_base: int = 4096
  channel_max: int = 256
  architecture: str = "orig"
  mbstd_group_size: int = 4
  mbstd_num_channels: int = 1
  num_classes: int = 0
  mapping_layers: int = 2   # Of the label mapping (conditional D).
  cmap_dim: int | None = None  # None: the 4x4 width.

  @nn.compact
  def __call__(self, x, labels=None, train=True, stage=None, alpha=1.0):
    del train  # No dropout or batch statistics.
    if self.architecture not in D_ARCHITECTURES:
      raise UserError(f"model.d_architecture={self.architecture!r} is unknown; allowed: "
                      f"{', '.join(D_ARCHITECTURES)}")
    width = lambda res: channels_at(res, self.channel_base, self.channel_max)
    stage = num_stages(self.resolution) - 1 if stage is None else stage
    fromrgb = lambda res, img: lrelu(EqualConv(width(res), 1, name=f"fromrgb{res}")(img))
    top = 4 * 2**stage
    h = fromrgb(top, x)
    for res in [4 * 2**k for k in range(stage, 0, -1)]:
      h = DiscriminatorBlock(width(res), width(res // 2), self.architecture, name=f"b{res}")(h)
      if res == top and not (isinstance(alpha, (int, float)) and alpha == 1):
        # Fade-in: alpha = 0 is the smaller D on the downsampled image.
        h = h * alpha + fromrgb(res // 2, resample.downsample2d(x)) * (1 - alpha)
    c4 = width(4)
    if self.mbstd_num_channels > 0:
      h = minibatch_stddev_maps(h, self.mbstd_group_size, self.mbstd_num_channels)
    h = lrelu(EqualConv(c4, 3, name="b4_conv")(h))
    h = lrelu(EqualDense(c4, name="b4_fc")(h.reshape(h.shape[0], -1)))
    if self.num_classes == 0:
      return EqualDense(1, name="b4_out")(h)[:, 0]
    cmap_dim = self.cmap_dim or c4
    out = EqualDense(cmap_dim, name="b4_out")(h)
    cmap = MappingNetwork(z_dim=0, w_dim=cmap_dim, num_ws=None, num_layers=self.mapping_layers,
                          num_classes=self.num_classes, w_avg_beta=None,
                          name="mapping")(None, labels)
    # Projection discriminator (Miyato & Koyama 2018), as NVIDIA's epilogue.
    return jnp.sum(out * cmap, axis=-1) / math.sqrt(cmap_dim)
