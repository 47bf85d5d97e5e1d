"""Generators and discriminators of the seed GANs (flax.linen).

Every module is pure: parameters, batch statistics and any other tracked state live in the variable
collections that `init`/`apply` take and return. All models share one calling convention so the train
step can treat them alike:

  generator(z, labels, train)          -> samples shaped like the data, in the data's range
  discriminator(x, labels, train)      -> one logit per example, shape (B,)

`labels` is an int array (B,) or None. When the module's `num_classes > 0` the one-hot label is
concatenated to z in G and to the input (broadcast over space for images) in D, as in Mirza & Osindero's
conditional GAN; `conditioning="projection"` instead adds <embed(y), phi(x)> to D's logit (Miyato &
Koyama 2018).

Stability options of the discriminators (all off by default, leaving the seed models unchanged):
spectral normalisation (`nn.SpectralNorm`, its power-iteration vectors in the "spectral_norm"
collection, updated only when `train`), minibatch discrimination (Salimans et al. 2016), minibatch
standard deviation (Karras et al. 2018) and packing (PacGAN, Lin et al. 2018: D scores `pack`
consecutive samples jointly, returning B / pack logits).
"""
import functools
import math
from typing import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from gan_jax.errors import UserError

leaky_relu = functools.partial(nn.leaky_relu, negative_slope=0.2)


def _one_hot(labels, num_classes, dtype):
  if num_classes <= 0:
    return None
  if labels is None:
    raise ValueError(f"this model is conditional on {num_classes} classes and needs labels")
  return jax.nn.one_hot(labels, num_classes, dtype=dtype)


def concat_label_to_vector(z, labels, num_classes):
  onehot = _one_hot(labels, num_classes, z.dtype)
  return z if onehot is None else jnp.concatenate([z, onehot], axis=-1)


SN_COLLECTION = "spectral_norm"


def maybe_spectral_norm(layer, enabled, train):
  """`layer` as a function of x, spectrally normalised when `enabled` (power iteration in train)."""
  if not enabled:
    return layer
  sn = nn.SpectralNorm(layer, collection_name=SN_COLLECTION)
  return lambda x: sn(x, update_stats=train)


def activation_fn(name):
  if name not in ("leaky_relu", "relu"):
    raise UserError(f"activation {name!r} is unknown; allowed: leaky_relu, relu, maxout (D only)")
  return leaky_relu if name == "leaky_relu" else nn.relu


class MinibatchDiscrimination(nn.Module):
  """Salimans et al. 2016, sec. 3.2: o(x_i)_b = sum_j exp(-||M_i,b - M_j,b||_1), M = x T.

  Returns the `num_kernels` features o(x_i) (the j = i term, exp(0) = 1, included as in the paper).
  """
  num_kernels: int = 50
  kernel_dim: int = 5

  @nn.compact
  def __call__(self, h):
    t = self.param("T", nn.initializers.normal(0.05),
                   (h.shape[-1], self.num_kernels * self.kernel_dim))
    m = (h @ t).reshape((h.shape[0], self.num_kernels, self.kernel_dim))
    l1 = jnp.abs(m[:, None] - m[None, :]).sum(-1)  # (B, B, kernels)
    return jnp.exp(-l1).sum(1)


def minibatch_stddev(h, group_size=4):
  """ProGAN's feature: mean over features of the std over each group of `group_size` samples."""
  g = math.gcd(group_size, h.shape[0])
  groups = h.reshape((g, -1) + h.shape[1:])
  std = jnp.sqrt(groups.var(axis=0) + 1e-8).mean(axis=tuple(range(1, h.ndim)))  # (B / g,)
  return jnp.tile(std, g)[:, None]


def discriminator_head(h, labels, num_classes, conditioning, spectral_norm, train):
  """Final linear logit of features h (B, F); projection conditioning adds <embed(y), h>."""
  logit = maybe_spectral_norm(nn.Dense(1), spectral_norm, train)(h)[:, 0]
  if num_classes > 0 and conditioning == "projection":
    if labels is None:
      raise ValueError(f"this model is conditional on {num_classes} classes and needs labels")
    # Spectrally normalised with the rest of D, as in Miyato & Koyama's SNGAN projection D.
    embed = maybe_spectral_norm(nn.Embed(num_classes, h.shape[-1], name="projection",
                                         embedding_init=nn.initializers.normal(0.02)),
                                spectral_norm, train)
    logit = logit + jnp.sum(embed(labels) * h, axis=-1)
  return logit


def _check_conditioning(conditioning):
  if conditioning not in ("concat", "projection"):
    raise UserError(f"model.d_conditioning={conditioning!r} is unknown; allowed: concat, "
                    "projection")


def concat_label_to_image(x, labels, num_classes):
  """Appends the one-hot label as constant feature maps."""
  onehot = _one_hot(labels, num_classes, x.dtype)
  if onehot is None:
    return x
  maps = jnp.broadcast_to(onehot[:, None, None, :], x.shape[:3] + (num_classes,))
  return jnp.concatenate([x, maps], axis=-1)


class MLPGenerator(nn.Module):
  """The vanilla GAN generator: z -> 256 -> 512 -> data, LeakyReLU(0.2).

  `batch_norm`: hidden layers are Dense (no bias) -> BN -> activation, as PacGAN's toy generator.
  """
  data_shape: Sequence[int]
  hidden: Sequence[int] = (256, 512)
  num_classes: int = 0
  output_activation: str = "tanh"  # 'tanh' for images in [-1, 1], 'none' for 2D points.
  activation: str = "leaky_relu"   # Or 'relu' (PacGAN's toy generator).
  spectral_norm: bool = False
  batch_norm: bool = False
  axis_name: str | None = None

  @nn.compact
  def __call__(self, z, labels=None, train=True):
    act = activation_fn(self.activation)
    h = concat_label_to_vector(z, labels, self.num_classes)
    for width in self.hidden:
      h = maybe_spectral_norm(nn.Dense(width, use_bias=not self.batch_norm), self.spectral_norm,
                              train)(h)
      h = act(_batch_norm(train, self.axis_name)(h) if self.batch_norm else h)
    out = maybe_spectral_norm(nn.Dense(math.prod(self.data_shape)), self.spectral_norm, train)(h)
    if self.output_activation == "tanh":
      out = jnp.tanh(out)
    return out.reshape((z.shape[0],) + tuple(self.data_shape))


class MLPDiscriminator(nn.Module):
  """The vanilla GAN discriminator: data -> 512 -> 256 -> 1 logit, LeakyReLU(0.2).

  `activation="maxout"` uses `maxout_pieces` linear pieces per unit (PacGAN's toy discriminator).
  """
  hidden: Sequence[int] = (512, 256)
  num_classes: int = 0
  activation: str = "leaky_relu"
  maxout_pieces: int = 5
  spectral_norm: bool = False
  conditioning: str = "concat"
  pack: int = 1
  minibatch_kernels: int = 0     # > 0: minibatch discrimination features before the logit.
  minibatch_kernel_dim: int = 5
  minibatch_std: bool = False

  @nn.compact
  def __call__(self, x, labels=None, train=True):
    _check_conditioning(self.conditioning)
    b = x.shape[0]
    if b % self.pack:
      raise ValueError(f"batch size {b} is not a multiple of pack={self.pack}")
    h = x.reshape((b, -1))
    if self.conditioning == "concat":
      h = concat_label_to_vector(h, labels, self.num_classes)
    h = h.reshape((b // self.pack, -1))  # PacGAN: `pack` samples side by side, one decision.
    labels = None if labels is None else labels[::self.pack]
    for width in self.hidden:
      if self.activation == "maxout":
        h = maybe_spectral_norm(nn.Dense(width * self.maxout_pieces), self.spectral_norm, train)(h)
        h = h.reshape(h.shape[:-1] + (width, self.maxout_pieces)).max(-1)
      else:
        h = activation_fn(self.activation)(
            maybe_spectral_norm(nn.Dense(width), self.spectral_norm, train)(h))
    if self.minibatch_kernels:
      h = jnp.concatenate([h, MinibatchDiscrimination(self.minibatch_kernels,
                                                      self.minibatch_kernel_dim)(h)], -1)
    if self.minibatch_std:
      h = jnp.concatenate([h, minibatch_stddev(h)], -1)
    return discriminator_head(h, labels, self.num_classes, self.conditioning, self.spectral_norm,
                              train)


def _batch_norm(train, axis_name):
  # Keras defaults (momentum 0.99, eps 1e-3), as in the seeds' notebooks. Under pmap, `axis_name`
  # makes the batch statistics those of the global batch, as jit over a mesh computes them.
  return nn.BatchNorm(use_running_average=not train, momentum=0.99, epsilon=1e-3,
                      axis_name=axis_name if train else None)


def scaled(channels, multiplier):
  """A layer's channels times `model.channel_multiplier` (at least 1): the papers' networks at 1,
  narrower ones for CPUs and tests below it."""
  return max(1, round(channels * multiplier))


class DCGANGenerator(nn.Module):
  """DCGAN generator from a layer table: z -> Dense -> `base` map -> [ConvTranspose, BN, LeakyReLU]
  per `layers` entry (features, kernel, stride) -> ConvTranspose to C channels (`out`: kernel,
  stride, bias) -> tanh. Hidden channels are scaled by `channel_multiplier`."""
  base: tuple = ()
  layers: tuple = ()
  out: tuple = ()
  channels: int = 1
  num_classes: int = 0
  axis_name: str | None = None
  channel_multiplier: float = 1.0

  @nn.compact
  def __call__(self, z, labels=None, train=True):
    h = concat_label_to_vector(z, labels, self.num_classes)
    height, width, depth = self.base
    base = (height, width, scaled(depth, self.channel_multiplier))
    dense = nn.Dense(math.prod(base), use_bias=False)
    h = leaky_relu(_batch_norm(train, self.axis_name)(dense(h)))
    h = h.reshape((-1,) + base)
    for features, kernel, stride in self.layers:
      h = nn.ConvTranspose(scaled(features, self.channel_multiplier), (kernel, kernel),
                           (stride, stride), padding="SAME", use_bias=False)(h)
      h = leaky_relu(_batch_norm(train, self.axis_name)(h))
    kernel, stride, bias = self.out
    h = nn.ConvTranspose(self.channels, (kernel, kernel), (stride, stride), padding="SAME",
                         use_bias=bias)(h)
    return jnp.tanh(h)


def stride2_patches(x, kernel):
  """The k x k patches a stride-2 'SAME' convolution sees: (B, H, W, C) -> (B, H/2, W/2, k*k*C),
  (row, column, channel) order; H and W even. Strided slices of the padded input, no convolution."""
  b, h, w, c = x.shape
  if h % 2 or w % 2:
    raise ValueError(f"stride2_patches needs even heights and widths, got {h}x{w}")
  lo = (kernel - 2) // 2  # 'SAME' pads kernel - 2 in total for even sizes, the extra one after.
  hi = kernel - 2 - lo
  x = jnp.pad(x, ((0, 0), (lo, hi + 1), (lo, hi + 1), (0, 0)))
  return jnp.concatenate([x[:, i:i + h:2, j:j + w:2] for i in range(kernel) for j in range(kernel)],
                         axis=-1)


class PatchConv(nn.Module):
  """`nn.Conv(features, (k, k), (2, 2), padding="SAME")` (same parameters, same function) computed
  as one matrix product of the input's patches. XLA:CPU runs convolutions' weight gradients, and
  most of all the double backward pass of an input-gradient penalty (WGAN-GP), many times slower
  than matrix products: a DCGAN critic's update with the gradient penalty ran ~1.6-2.7x faster
  this way on 2 CPU cores (experiments/results/main_job.md)."""
  features: int
  kernel: int

  @nn.compact
  def __call__(self, x):
    k = self.kernel
    kernel = self.param("kernel", nn.initializers.lecun_normal(), (k, k, x.shape[-1], self.features))
    bias = self.param("bias", nn.initializers.zeros, (self.features,))
    return stride2_patches(x, k) @ kernel.reshape((-1, self.features)) + bias


class DCGANDiscriminator(nn.Module):
  """DCGAN discriminator from a layer table: [Conv (features, kernel) s2, LeakyReLU, Dropout] per
  `layers` entry -> Dense 1 (or the projection head). `patch_conv`: the convolutions as matrix
  products of patches (PatchConv; faster on CPUs). Channels are scaled by `channel_multiplier`."""
  layers: tuple = ()
  num_classes: int = 0
  dropout_rate: float = 0.3
  spectral_norm: bool = False
  conditioning: str = "concat"
  patch_conv: bool = False
  channel_multiplier: float = 1.0

  @nn.compact
  def __call__(self, x, labels=None, train=True):
    _check_conditioning(self.conditioning)
    h = concat_label_to_image(x, labels, self.num_classes) if self.conditioning == "concat" else x
    for i, (features, kernel) in enumerate(self.layers):
      features = scaled(features, self.channel_multiplier)
      # Named as nn.Conv's default names: the two forms' weights are interchangeable.
      conv = (PatchConv(features, kernel, name=f"Conv_{i}") if self.patch_conv else
              nn.Conv(features, (kernel, kernel), (2, 2), padding="SAME"))
      h = leaky_relu(maybe_spectral_norm(conv, self.spectral_norm, train)(h))
      h = nn.Dropout(self.dropout_rate, deterministic=not train)(h)
    return discriminator_head(h.reshape((h.shape[0], -1)), labels, self.num_classes,
                              self.conditioning, self.spectral_norm, train)


class DCGAN28Generator(DCGANGenerator):
  """The seed's MNIST DCGAN generator (TensorFlow tutorial): z(100) -> 7x7x256 -> 14x14x64 ->
  28x28xC."""
  base: tuple = (7, 7, 256)
  layers: tuple = ((128, 5, 1), (64, 5, 2))
  out: tuple = (5, 2, False)


class DCGAN28Discriminator(DCGANDiscriminator):
  """The seed's MNIST DCGAN discriminator: Conv 64 s2 -> Conv 128 s2 (LeakyReLU, Dropout 0.3) ->
  Dense 1."""
  layers: tuple = ((64, 5), (128, 5))


class DCGAN32Generator(DCGANGenerator):
  """The seed's CIFAR-10 DCGAN generator: z(128) -> 4x4x512 -> 8 -> 16 -> 32x32xC."""
  base: tuple = (4, 4, 512)
  layers: tuple = ((256, 4, 2), (128, 4, 2), (128, 3, 1), (64, 4, 2), (64, 3, 1))
  out: tuple = (3, 1, True)
  channels: int = 3


class DCGAN32Discriminator(DCGANDiscriminator):
  """The seed's CIFAR-10 DCGAN discriminator: Conv 64/128/256 4x4 s2 (LeakyReLU, Dropout 0.3) ->
  Dense 1."""
  layers: tuple = ((64, 4), (128, 4), (256, 4))


class SNGAN32Generator(nn.Module):
  """SNGAN's standard CNN generator (Miyato et al. 2018, table 3): z(128) -> 4x4x512 -> deconv 4x4
  s2 256/128/64 (BN, ReLU) -> conv 3x3 C, tanh. Hidden channels scaled by `channel_multiplier`."""
  channels: int = 3
  num_classes: int = 0
  axis_name: str | None = None
  spectral_norm: bool = False
  channel_multiplier: float = 1.0

  @nn.compact
  def __call__(self, z, labels=None, train=True):
    sn = lambda layer: maybe_spectral_norm(layer, self.spectral_norm, train)
    width = functools.partial(scaled, multiplier=self.channel_multiplier)
    h = concat_label_to_vector(z, labels, self.num_classes)
    h = nn.relu(_batch_norm(train, self.axis_name)(sn(nn.Dense(4 * 4 * width(512)))(h)))
    h = h.reshape((-1, 4, 4, width(512)))
    for features in (256, 128, 64):
      h = sn(nn.ConvTranspose(width(features), (4, 4), (2, 2), padding="SAME"))(h)
      h = nn.relu(_batch_norm(train, self.axis_name)(h))
    return jnp.tanh(sn(nn.Conv(self.channels, (3, 3), padding="SAME"))(h))


class SNGAN32Discriminator(nn.Module):
  """SNGAN's standard CNN discriminator: conv 3x3 / 4x4 s2 pairs 64-128-256, conv 3x3 512,
  LeakyReLU(0.1), linear logit; spectral normalisation on every layer by default. Channels scaled
  by `channel_multiplier`."""
  num_classes: int = 0
  dropout_rate: float = 0.0
  spectral_norm: bool = True
  conditioning: str = "concat"
  channel_multiplier: float = 1.0

  @nn.compact
  def __call__(self, x, labels=None, train=True):
    _check_conditioning(self.conditioning)
    act = functools.partial(nn.leaky_relu, negative_slope=0.1)
    sn = lambda layer: maybe_spectral_norm(layer, self.spectral_norm, train)
    width = functools.partial(scaled, multiplier=self.channel_multiplier)
    h = concat_label_to_image(x, labels, self.num_classes) if self.conditioning == "concat" else x
    for features in (64, 128, 256):
      h = act(sn(nn.Conv(width(features), (3, 3), padding="SAME"))(h))
      h = act(sn(nn.Conv(width(features), (4, 4), (2, 2), padding="SAME"))(h))
    h = act(sn(nn.Conv(width(512), (3, 3), padding="SAME"))(h))
    return discriminator_head(h.reshape((h.shape[0], -1)), labels, self.num_classes,
                              self.conditioning, self.spectral_norm, train)


def depth_to_space(x, factor=2):
  """(B, H, W, f*f*C) -> (B, f*H, f*W, C): channel groups become f x f pixel blocks."""
  b, h, w, c = x.shape
  x = x.reshape((b, h, w, factor, factor, c // (factor * factor)))
  return x.transpose((0, 1, 3, 2, 4, 5)).reshape((b, h * factor, w * factor, -1))


class SubPixelGenerator28(nn.Module):
  """A small DCGAN-style 28x28 generator sized for CPUs: z -> Dense 7x7x`widths[0]` (BN, ReLU) ->
  per further width a 2x up-sampling (BN, ReLU) -> a 2x up-sampling to C channels -> tanh.

  Each 2x up-sampling is a sub-pixel convolution (Shi et al. 2016): a 3x3 convolution to 4x the
  channels, then depth-to-space. It spans the same functions as a stride-2 transposed convolution
  but skips the zeros that XLA lowers the transposed one to: on 2 CPU cores, forward and backward
  pass of G ran ~4x faster (experiments/results/main_job.md)."""
  widths: Sequence[int] = (64, 32)
  channels: int = 1
  num_classes: int = 0
  axis_name: str | None = None

  @nn.compact
  def __call__(self, z, labels=None, train=True):
    h = concat_label_to_vector(z, labels, self.num_classes)
    h = nn.Dense(7 * 7 * self.widths[0], use_bias=False)(h)
    h = nn.relu(_batch_norm(train, self.axis_name)(h)).reshape((-1, 7, 7, self.widths[0]))
    for width in self.widths[1:]:
      h = depth_to_space(nn.Conv(4 * width, (3, 3), padding="SAME", use_bias=False)(h))
      h = nn.relu(_batch_norm(train, self.axis_name)(h))
    h = depth_to_space(nn.Conv(4 * self.channels, (3, 3), padding="SAME")(h))
    return jnp.tanh(h)


# name -> (generator, discriminator, image height/width it produces or None for any shape).
_MODELS = {
    "mlp": (MLPGenerator, MLPDiscriminator, None),
    "dcgan28": (DCGAN28Generator, DCGAN28Discriminator, 28),
    "dcgan32": (DCGAN32Generator, DCGAN32Discriminator, 32),
    "sngan32": (SNGAN32Generator, SNGAN32Discriminator, 32),
    # CPU-sized: a small conv G and the MLP D, whose gradient penalty's double backward stays
    # cheap on CPUs (tried for the main job: experiments/results/main_job.md). Widths:
    # model.g_hidden / model.d_hidden.
    "conv_mlp28": (SubPixelGenerator28, MLPDiscriminator, 28),
    # CPU-sized DCGAN / cGAN pair: the same G and a DCGAN discriminator with one 4x4 stride-2 conv
    # per model.d_hidden width.
    "conv28": (SubPixelGenerator28, DCGANDiscriminator, 28),
    # ProGAN's networks (progan.py), at the data's resolution (a power of two); they grow
    # progressively with `model.progressive`.
    "progan": (None, None, None),
}
MODEL_NAMES = tuple(_MODELS)


def make_models(model_config, data_shape, num_classes, axis_name=None):
  """Builds (generator, discriminator) for data of `data_shape` ((H, W, C) or (2,)).

  `num_classes` > 0 with `model_config.conditional` makes both conditional. `axis_name`: the pmap
  axis over which batch normalisation averages its statistics. The stability options (see the
  module docstring) are read with `.get`, so configs without them build the seed models.
  """
  name = model_config.name
  if name not in _MODELS:
    raise UserError(f"model.name={name!r} is unknown; allowed: {', '.join(MODEL_NAMES)}")
  g_cls, d_cls, size = _MODELS[name]
  data_shape = tuple(data_shape)
  classes = num_classes if model_config.get("conditional", False) else 0
  if model_config.get("conditional", False) and num_classes <= 0:
    raise UserError("model.conditional=True needs a labelled dataset; this dataset has no classes")
  get = model_config.get
  if name == "progan":
    return _progan(model_config, data_shape, classes)
  if get("progressive", False):
    raise UserError(f"model.progressive=True grows model.name='progan' (or the stylegan family), "
                    f"not {name!r}")
  d_sn = get("spectral_norm", name == "sngan32")
  conditioning = get("d_conditioning", "concat")
  if get("pack", 1) > 1 and d_cls is not MLPDiscriminator:
    raise UserError(f"model.pack={get('pack')} is implemented for the MLP discriminator only")
  if get("pack", 1) > 1 and classes and conditioning == "projection":
    raise UserError(f"model.pack={get('pack')} with model.d_conditioning='projection' is not "
                    "supported: a pack holds several labels and the projection takes one; use "
                    "d_conditioning=concat")
  minibatch_features = get("minibatch_kernels", 0) or get("minibatch_std", False)
  if minibatch_features and d_cls is not MLPDiscriminator:
    raise UserError("model.minibatch_kernels / minibatch_std are implemented for the MLP "
                    "discriminator only")
  d_mlp = lambda: MLPDiscriminator(tuple(get("d_hidden", (512, 256))), classes,
                                   get("d_activation", "leaky_relu"), get("maxout_pieces", 5), d_sn,
                                   conditioning, get("pack", 1), get("minibatch_kernels", 0),
                                   get("minibatch_kernel_dim", 5), get("minibatch_std", False))
  if size is None:
    activation = "tanh" if len(data_shape) == 3 else "none"
    return (MLPGenerator(data_shape, tuple(get("g_hidden", (256, 512))), classes, activation,
                         get("g_activation", "leaky_relu"), get("g_spectral_norm", False),
                         get("g_batch_norm", False), axis_name), d_mlp())
  if len(data_shape) != 3 or data_shape[:2] != (size, size):
    raise UserError(f"model.name={name!r} produces {size}x{size} images, but the data has shape "
                    f"{data_shape}; use dataset.image_size={size} or a model for that shape "
                    f"({', '.join(MODEL_NAMES)})")
  g_kwargs = {"spectral_norm": True} if get("g_spectral_norm", False) else {}
  if g_kwargs and name != "sngan32":
    raise UserError(f"model.g_spectral_norm is implemented for mlp and sngan32, not {name!r}")
  if name in ("conv_mlp28", "conv28"):
    g = g_cls(tuple(get("g_hidden", (64, 32))), data_shape[2], classes, axis_name)
    if name == "conv_mlp28":
      return g, d_mlp()
    return g, d_cls(tuple((width, 4) for width in get("d_hidden", (32, 64))), classes,
                    get("d_dropout", 0.3), d_sn, conditioning, patch_conv=True)
  default_dropout = 0.0 if name == "sngan32" else 0.3
  multiplier = get("channel_multiplier", 1.0)
  return (g_cls(channels=data_shape[2], num_classes=classes, axis_name=axis_name,
                channel_multiplier=multiplier, **g_kwargs),
          d_cls(num_classes=classes, dropout_rate=get("d_dropout", default_dropout),
                spectral_norm=d_sn, conditioning=conditioning, channel_multiplier=multiplier))


def _progan(model_config, data_shape, classes):
  """ProGAN's generator and discriminator for square images whose side is a power of two."""
  from gan_jax.families.latent import progan  # pylint: disable=g-import-not-at-top
  if len(data_shape) != 3 or data_shape[0] != data_shape[1] or data_shape[0] < 4 or (
      data_shape[0] & (data_shape[0] - 1)):
    raise UserError(f"model.name='progan' needs square images whose side is a power of two >= 4 "
                    f"(4, 8, 16, 32, 64, 128, 256, ...); the data has shape {data_shape}: set "
                    "dataset.image_size")
  get = model_config.get
  size = dict(resolution=data_shape[0], channel_base=get("channel_base", 4096),
              channel_max=get("channel_max", 256), num_classes=classes)
  return (progan.ProGANGenerator(channels=data_shape[2], **size),
          progan.ProGANDiscriminator(mbstd_group_size=get("mbstd_group_size", 4), **size))
