"""ProGAN's generator and discriminator (Karras et al. 2018, table 2), with progressive growing as a
switch: DCGAN-style convolutional networks that grow 4x4 -> 8x8 -> ... .

  G: z -> pixel_norm -> dense to 4x4 (gain sqrt(2)/4) -> lrelu -> pixel_norm -> conv 3x3; per
     resolution: nearest 2x upsampling, two conv 3x3 (each lrelu, pixel_norm); toRGB 1x1 (linear).
  D: fromRGB 1x1 (lrelu); per resolution: conv 3x3, conv 3x3 to the next width (lrelu), 2x2 average
     pooling; at 4x4: minibatch standard deviation, conv 3x3, dense, dense to one logit.

Every layer has an equalised learning rate (He gain sqrt(2), 1 for the toRGB and the logit). Widths
follow min(channel_base / resolution, channel_max). Progressive growing: `stage` (a Python int,
resolution 4 * 2**stage) and `alpha` (an array, the fade-in) are call arguments: G's output is
(1 - alpha) * upsample(toRGB_{k-1}(h_{k-1})) + alpha * toRGB_k(h_k) and D's features
(1 - alpha) * fromRGB_{k-1}(avg_pool(x)) + alpha * block_k(fromRGB_k(x)) (sec. 3, fig. 2); stage
None is the full network (fixed-resolution training of the same networks).

Calling convention of the latent models: generator(z, labels, train, stage=, alpha=) -> images,
discriminator(x, labels, train, stage=, alpha=) -> one logit per example. Conditional models
concatenate the one-hot label to z in G and add a projection term <embed(y), h> to D's logit.
"""
import math

import flax.linen as nn
import jax
import jax.numpy as jnp

from gan_jax import resample
from gan_jax.layers import (EqualConv, EqualDense, channels_at, check_resolution,
                            minibatch_stddev_maps, num_stages, pixel_norm)

HE_GAIN = math.sqrt(2.0)


def _lrelu(x):
  return nn.leaky_relu(x, 0.2)


def _is_one(alpha):
  return isinstance(alpha, (int, float)) and alpha == 1


class ProGANGenerator(nn.Module):
  resolution: int = 32
  channels: int = 3
  channel_base: int = 4096
  channel_max: int = 256
  num_classes: int = 0

  @nn.compact
  def __call__(self, z, labels=None, train=True, stage=None, alpha=1.0):
    del train
    check_resolution(self.resolution)
    stage = num_stages(self.resolution) - 1 if stage is None else stage
    width = lambda res: channels_at(res, self.channel_base, self.channel_max)
    conv = lambda res, name: lambda h: pixel_norm(_lrelu(
        EqualConv(width(res), 3, gain=HE_GAIN, name=name)(h)))
    torgb = lambda res, h: EqualConv(self.channels, 1, name=f"torgb{res}")(h)
    h = pixel_norm(z)
    if self.num_classes:
      h = jnp.concatenate([h, jax.nn.one_hot(labels, self.num_classes, dtype=h.dtype)], -1)
    h = EqualDense(16 * width(4), gain=HE_GAIN / 4, name="b4_dense")(h)
    h = pixel_norm(_lrelu(h.reshape(h.shape[0], 4, 4, width(4))))
    h = conv(4, "b4_conv")(h)
    previous = h
    for k in range(1, stage + 1):
      res = 4 * 2**k
      previous = h
      h = resample.upsample_nearest(h)
      h = conv(res, f"b{res}_conv0")(h)
      h = conv(res, f"b{res}_conv1")(h)
    img = torgb(4 * 2**stage, h)
    if stage > 0 and not _is_one(alpha):
      coarse = resample.upsample_nearest(torgb(2**(stage + 1), previous))
      img = coarse + alpha * (img - coarse)
    return img


class ProGANDiscriminator(nn.Module):
  resolution: int = 32
  channel_base: int = 4096
  channel_max: int = 256
  mbstd_group_size: int = 4
  num_classes: int = 0

  @nn.compact
  def __call__(self, x, labels=None, train=True, stage=None, alpha=1.0):
    del train
    check_resolution(self.resolution)
    stage = num_stages(self.resolution) - 1 if stage is None else stage
    width = lambda res: channels_at(res, self.channel_base, self.channel_max)
    conv = lambda features, name: lambda h: _lrelu(
        EqualConv(features, 3, gain=HE_GAIN, name=name)(h))
    fromrgb = lambda res, img: _lrelu(
        EqualConv(width(res), 1, gain=HE_GAIN, name=f"fromrgb{res}")(img))
    top = 4 * 2**stage
    h = fromrgb(top, x)
    for res in [4 * 2**k for k in range(stage, 0, -1)]:
      h = conv(width(res), f"b{res}_conv0")(h)
      h = conv(width(res // 2), f"b{res}_conv1")(h)
      h = resample.avg_pool(h)
      if res == top and not _is_one(alpha):
        coarse = fromrgb(res // 2, resample.avg_pool(x))
        h = coarse + alpha * (h - coarse)
    h = minibatch_stddev_maps(h, self.mbstd_group_size)
    h = conv(width(4), "b4_conv")(h)
    h = _lrelu(EqualDense(width(4), gain=HE_GAIN, name="b4_dense")(h.reshape(h.shape[0], -1)))
    logit = EqualDense(1, name="b4_out")(h)[:, 0]
    if self.num_classes:
      embed = nn.Embed(self.num_classes, h.shape[-1], name="projection",
                       embedding_init=nn.initializers.normal(1.0 / math.sqrt(h.shape[-1])))
      logit = logit + jnp.sum(embed(labels) * h, axis=-1)
    return logit
