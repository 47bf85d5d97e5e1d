"""The building blocks of ProGAN and StyleGAN: layers with an equalised learning rate, pixel
normalisation, the minibatch standard deviation feature and the width rule.

Equalised learning rate (Karras et al. 2018, ProGAN sec. 4.1): weights are stored as N(0, 1) and
scaled at run time by the He constant `gain / sqrt(fan_in)`, so Adam, whose steps do not depend on a
parameter's scale, moves every layer's effective weights at the same relative speed. A learning-rate
multiplier `lr_multiplier` (StyleGAN, Karras et al. 2019, sec. C: 0.01 for the mapping network)
stores the weights as N(0, 1 / lr_multiplier) and scales them by `lr_multiplier * gain /
sqrt(fan_in)`: the effective initial weights are unchanged and each Adam step moves them
lr_multiplier times as far.

StyleGAN2 (stylegan2-ada-pytorch, `FullyConnectedLayer`, `Conv2dLayer`) keeps `gain` = 1 and
multiplies the activation instead (`lrelu(x) * sqrt(2)`, `LRELU_GAIN`); ProGAN puts sqrt(2) into
`gain`. For a positively homogeneous activation the two are the same network.
"""
import math

import flax.linen as nn
import jax
import jax.numpy as jnp

from gan_jax import resample
from gan_jax.errors import UserError

LRELU_GAIN = math.sqrt(2.0)


def lrelu(x, gain=LRELU_GAIN):
  """LeakyReLU(0.2) times `gain`: StyleGAN2's `bias_act(act='lrelu')`, which keeps unit variance."""
  return nn.leaky_relu(x, 0.2) * gain


def pixel_norm(x, axis=-1, eps=1e-8):
  """x / sqrt(mean(x^2) + eps) over `axis` (ProGAN's pixelwise feature normalisation, eq. 2;
  StyleGAN's `normalize_2nd_moment` of z)."""
  return x * jax.lax.rsqrt(jnp.mean(jnp.square(x), axis=axis, keepdims=True) + eps)


class EqualDense(nn.Module):
  """A dense layer with an equalised learning rate: y = x @ (W * lr_multiplier * gain / sqrt(in)) +
  b * lr_multiplier, W ~ N(0, 1 / lr_multiplier^2). The bias is stored as bias_init / lr_multiplier,
  so its effective initial value is `bias_init` (NVIDIA's is bias_init * lr_multiplier; the two
  differ only for a non-zero bias_init with a multiplier, which no network uses)."""
  features: int
  use_bias: bool = True
  bias_init: float = 0.0
  lr_multiplier: float = 1.0
  gain: float = 1.0

  @nn.compact
  def __call__(self, x):
    fan_in = x.shape[-1]
    kernel = self.param("kernel", nn.initializers.normal(1.0 / self.lr_multiplier),
                        (fan_in, self.features))
    y = x @ (kernel * (self.lr_multiplier * self.gain / math.sqrt(fan_in)))
    if self.use_bias:
      bias = self.param("bias", nn.initializers.constant(self.bias_init / self.lr_multiplier),
                        (self.features,))
      y = y + bias * self.lr_multiplier
    return y


class EqualConv(nn.Module):
  """A square 'same' convolution (NHWC) with an equalised learning rate.

  `down=2` halves the resolution as StyleGAN2's `conv2d_resample` does: the [1, 3, 3, 1] low-pass
  filter first (with the convolution's padding folded in), then a stride-2 convolution without
  padding; a 1x1 convolution downsamples first and convolves after.
  """
  features: int
  kernel_size: int = 3
  use_bias: bool = True
  gain: float = 1.0
  down: int = 1

  @nn.compact
  def __call__(self, x):
    k, fan_in = self.kernel_size, x.shape[-1] * self.kernel_size**2
    kernel = self.param("kernel", nn.initializers.normal(1.0), (k, k, x.shape[-1], self.features))
    kernel = kernel * (self.gain / math.sqrt(fan_in))
    if self.down == 1:
      y = conv2d(x, kernel, padding=k // 2)
    elif k == 1:
      y = conv2d(resample.downsample2d(x, down=self.down), kernel)
    else:
      pad = k // 2
      f = resample.FILTER.shape[0]
      x = resample.upfirdn2d(x, resample.FILTER, padding=(pad + (f - self.down + 1) // 2,
                                                          pad + (f - self.down) // 2) * 2)
      y = conv2d(x, kernel, stride=self.down)
    if self.use_bias:
      y = y + self.param("bias", nn.initializers.zeros, (self.features,))
    return y


def conv2d(x, kernel, stride=1, padding=0):
  """Cross-correlation of NHWC `x` with an HWIO `kernel` (torch.nn.functional.conv2d's
  convention)."""
  return jax.lax.conv_general_dilated(
      x, kernel.astype(x.dtype), (stride, stride), [(padding, padding)] * 2,
      dimension_numbers=("NHWC", "HWIO", "NHWC"))


def check_resolution(resolution, what="resolution"):
  """log2(resolution) for a power of two >= 4; otherwise a UserError naming `what`."""
  if not isinstance(resolution, int) or resolution < 4 or resolution & (resolution - 1):
    raise UserError(f"{what}={resolution} is not a power of two >= 4; allowed: 4, 8, 16, 32, 64, "
                    "128, 256, ...")
  return int(math.log2(resolution))


def num_stages(resolution):
  """Resolutions 4, 8, ..., `resolution`: the stages of progressive growing."""
  return check_resolution(resolution) - 1


def channels_at(resolution, channel_base, channel_max):
  """NVIDIA's width rule: min(channel_base / resolution, channel_max)."""
  return min(channel_base // resolution, channel_max)


def minibatch_stddev_maps(x, group_size=4, num_channels=1):
  """The minibatch standard deviation feature (ProGAN sec. 3; StyleGAN2's MinibatchStdLayer), NHWC:
  per group of `group_size` samples (sample i in group i mod B/G, as NVIDIA's reshape), the standard
  deviation over the group, averaged over pixels and over each of `num_channels` channel groups,
  appended as `num_channels` constant feature maps."""
  b, h, w, c = x.shape
  g = math.gcd(min(group_size, b), b)
  f = num_channels
  y = x.reshape(g, b // g, h, w, f, c // f)
  y = jnp.sqrt(jnp.var(y, axis=0) + 1e-8)          # (n, H, W, F, c)
  y = y.mean(axis=(1, 2, 4))                        # (n, F)
  y = jnp.tile(y, (g, 1))[:, None, None, :]         # (B, 1, 1, F)
  return jnp.concatenate([x, jnp.broadcast_to(y, (b, h, w, f)).astype(x.dtype)], axis=-1)
