"""Pix2Pix's networks (Isola et al. 2017, sec. 3.2 and appendix 6.1.1), as flax.linen modules.

  UNetGenerator(out_channels)(source, train)          -> image in [-1, 1], source's height/width
  PatchDiscriminator()(image, source=None, train)     -> logits (B, h, w), one per patch

The generator is the authors' U-Net: an encoder of 4x4 stride-2 convolutions down to 1x1, a mirror
decoder of 4x4 stride-2 transposed convolutions, and skip connections concatenating each encoder
level to the decoder level of the same size. Its noise is dropout (rate 0.5) in the decoder levels
just above the bottleneck (the paper: "we provide noise only in the form of dropout, applied on
several layers of our generator at both training and test time"); `dropout=True` keeps it on at test
time as the paper does.

The discriminator is the PatchGAN: `n_layers` 4x4 stride-2 convolutions, one stride-1 convolution and
a 1-channel stride-1 convolution, so each logit scores one N x N patch of its input
(`receptive_field(3)` = 70: the paper's 70x70 PatchGAN). Given `source` it scores the pair
concat(source, image) (the conditional D of Pix2Pix); without it the image alone (CycleGAN's D).

Layer choices follow the authors' code (junyanz/pytorch-CycleGAN-and-pix2pix): widths 64 * min(2^i,
8), LeakyReLU(0.2) in the encoder and D, ReLU in the decoder, no normalisation on the outermost and
innermost encoder convolutions nor on D's first, convolutions biased only when no batch norm follows,
weights N(0, 0.02), batch-norm scales N(1, 0.02). `norm` is 'batch' (the paper), 'instance' (per
image and channel, no affine parameters, as torch's InstanceNorm2d there) or 'none'.
"""
import functools
import math

import flax.linen as nn
import jax
import jax.numpy as jnp

from gan_jax.errors import UserError

NORMS = ("batch", "instance", "none")
MIN_SIZE, MAX_SIZE = 16, 1024

leaky_relu = functools.partial(nn.leaky_relu, negative_slope=0.2)
conv_init = nn.initializers.normal(0.02)


def _bn_scale_init(key, shape, dtype=jnp.float32):
  return 1.0 + 0.02 * jax.random.normal(key, shape, dtype)


def check_norm(norm):
  if norm not in NORMS:
    raise UserError(f"model.norm={norm!r} is unknown; allowed: {', '.join(NORMS)}")
  return norm


def normalization(norm, train, axis_name=None, name=None):
  """A normalisation layer as a function of NHWC features.

  'batch': batch statistics in training (averaged over `axis_name` under pmap), running averages
  otherwise (torch's momentum 0.1 and eps 1e-5). 'instance': each image's and channel's own
  statistics over space, with no scale or bias (torch InstanceNorm2d(affine=False)), the same in
  training and at test time. 'none': the identity.
  """
  if check_norm(norm) == "batch":
    return nn.BatchNorm(use_running_average=not train, momentum=0.9, epsilon=1e-5,
                        scale_init=_bn_scale_init, axis_name=axis_name if train else None,
                        name=name)
  if norm == "instance":
    return nn.GroupNorm(num_groups=None, group_size=1, epsilon=1e-5, use_bias=False,
                        use_scale=False, use_fast_variance=False, name=name)
  return lambda x: x


def _down(features, use_bias, name=None):
  """4x4 stride-2 convolution, padding 1: halves the height and width."""
  return nn.Conv(features, (4, 4), (2, 2), padding=((1, 1), (1, 1)), use_bias=use_bias,
                 kernel_init=conv_init, name=name)


def upsample_conv(x, kernel, method="auto"):
  """The 4x4 stride-2 transposed convolution that doubles the height and width: torch's
  ConvTranspose2d(k=4, s=2, p=1), i.e. `lax.conv_transpose` with padding k - 1 - p = 2 on each
  side of the dilated input (flax's ConvTranspose layout: kernel (4, 4, in, out), not flipped).

  'phases' computes it as four 2x2 convolutions of the input, one per output phase: output pixel
  (2i + a, 2j + b) sees input rows i - 1 + a, i + a and columns j - 1 + b, j + b through kernel
  taps [a::2, b::2]. Same numbers, no multiplications by the dilation's zeros, and on XLA:CPU a
  weight gradient ~10x faster than conv_transpose's (1.5 s -> 0.14 s for 32x8x8x256 -> 128 on 2
  cores). 'auto' takes the phases on CPUs and conv_transpose elsewhere.
  """
  if method == "auto":
    method = "phases" if jax.default_backend() == "cpu" else "transpose"
  dims = ("NHWC", "HWIO", "NHWC")
  if method == "transpose":
    return jax.lax.conv_transpose(x, kernel, (2, 2), ((2, 2), (2, 2)), dimension_numbers=dims)
  n, h, w, _ = x.shape
  padded = jnp.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))
  rows = []
  for a in (0, 1):
    row = [jax.lax.conv_general_dilated(padded[:, a:a + h + 1, b:b + w + 1], kernel[a::2, b::2],
                                        (1, 1), "VALID", dimension_numbers=dims)
           for b in (0, 1)]
    rows.append(jnp.stack(row, axis=3))        # (n, h, w, 2 [b], out)
  out = jnp.stack(rows, axis=2)                # (n, h, 2 [a], w, 2 [b], out)
  return out.reshape(n, 2 * h, 2 * w, kernel.shape[-1])


class UpConv(nn.Module):
  """4x4 stride-2 transposed convolution (`upsample_conv`) with flax ConvTranspose's parameters."""
  features: int
  use_bias: bool = True
  method: str = "auto"

  @nn.compact
  def __call__(self, x):
    kernel = self.param("kernel", conv_init, (4, 4, x.shape[-1], self.features))
    y = upsample_conv(x, kernel.astype(x.dtype), self.method)
    if self.use_bias:
      y = y + self.param("bias", nn.initializers.zeros, (self.features,)).astype(x.dtype)
    return y


def _up(features, use_bias, name=None):
  return UpConv(features, use_bias, name=name)


def unet_depth(height, width):
  """Number of stride-2 levels that take a `height` x `width` image down to 1x1."""
  if height != width or height & (height - 1) or not MIN_SIZE <= height <= MAX_SIZE:
    raise UserError(f"image size {height}x{width}: the U-Net needs square images whose side is a "
                    f"power of two from {MIN_SIZE} to {MAX_SIZE} (set dataset.image_size)")
  return int(math.log2(height))


class UNetGenerator(nn.Module):
  """The Pix2Pix U-Net (the authors' `unet_256` at 256 px; the depth follows the image size).

  Level i of the encoder has `width * min(2^i, 8)` channels; the decoder's `dropout_blocks` levels
  nearest the bottleneck (not the bottleneck's own upsampling) apply dropout after their
  normalisation, as the authors' code does (3 levels at every size from 32 px up).
  """
  out_channels: int
  width: int = 64
  norm: str = "batch"
  dropout_blocks: int = 3
  dropout_rate: float = 0.5
  axis_name: str | None = None

  @nn.compact
  def __call__(self, source, train=True, dropout=None):
    """`dropout`: whether dropout is on (default: in training only)."""
    depth = unet_depth(*source.shape[1:3])
    if not 0 <= self.dropout_blocks <= depth - 2:
      raise UserError(f"model.dropout_blocks={self.dropout_blocks}: a {source.shape[1]} px U-Net "
                      f"has {depth - 2} decoder levels between its bottleneck and its output")
    dropout = train if dropout is None else dropout
    norm = lambda name: normalization(self.norm, train, self.axis_name, name)
    use_bias = self.norm != "batch"
    widths = [self.width * min(2 ** i, 8) for i in range(depth)]

    skips, h = [], source
    for i, features in enumerate(widths):
      h = h if i == 0 else leaky_relu(h)
      h = _down(features, use_bias, name=f"down{i}")(h)
      if 0 < i < depth - 1:  # The outermost and innermost levels are not normalised.
        h = norm(f"down{i}_norm")(h)
      skips.append(h)

    for i in reversed(range(depth)):
      if i < depth - 1:
        h = jnp.concatenate([skips[i], h], axis=-1)
      h = nn.relu(h)
      if i == 0:
        return jnp.tanh(_up(self.out_channels, True, name="up0")(h))
      h = norm(f"up{i}_norm")(_up(widths[i - 1], use_bias, name=f"up{i}")(h))
      if depth - 1 - self.dropout_blocks <= i < depth - 1:
        h = nn.Dropout(self.dropout_rate, deterministic=not dropout)(h)


def patch_layers(n_layers):
  """The PatchGAN's convolutions: (kernel, stride, width multiplier, normalised) each; the last one
  is the 1-channel logit (multiplier None). Padding 1 everywhere."""
  if n_layers < 1:
    raise UserError(f"model.d_layers={n_layers} must be >= 1")
  layers = [(4, 2, 1, False)]
  layers += [(4, 2, min(2 ** n, 8), True) for n in range(1, n_layers)]
  return layers + [(4, 1, min(2 ** n_layers, 8), True), (4, 1, None, False)]


def receptive_field(n_layers):
  """The side of the input patch one PatchGAN logit sees: 16, 34, 70, 142 for 1-4 layers."""
  size = 1
  for kernel, stride, _, _ in reversed(patch_layers(n_layers)):
    size = (size - 1) * stride + kernel
  return size


def patch_grid(size, n_layers):
  """The side of the PatchGAN's logit map for a `size` x `size` input."""
  for kernel, stride, _, _ in patch_layers(n_layers):
    size = (size + 2 - kernel) // stride + 1
  return size


class PatchDiscriminator(nn.Module):
  """The PatchGAN discriminator (the authors' `NLayerDiscriminator`): one logit per patch."""
  width: int = 64
  n_layers: int = 3
  norm: str = "batch"
  axis_name: str | None = None

  @nn.compact
  def __call__(self, image, source=None, train=True):
    h = image if source is None else jnp.concatenate([source, image], axis=-1)
    if patch_grid(h.shape[1], self.n_layers) < 1 or patch_grid(h.shape[2], self.n_layers) < 1:
      raise UserError(f"model.d_layers={self.n_layers} is too deep for {h.shape[1]}x{h.shape[2]} "
                      "images (no patch left); use fewer layers")
    layers = patch_layers(self.n_layers)
    for i, (kernel, stride, mult, normalised) in enumerate(layers):
      last = i == len(layers) - 1
      h = nn.Conv(1 if last else self.width * mult, (kernel, kernel), (stride, stride),
                  padding=((1, 1), (1, 1)), use_bias=not normalised or self.norm != "batch",
                  kernel_init=conv_init, name=f"conv{i}")(h)
      if last:
        return h[..., 0]
      if normalised:
        h = normalization(self.norm, train, self.axis_name, name=f"norm{i}")(h)
      h = leaky_relu(h)
