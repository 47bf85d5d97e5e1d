"""DF-GAN-lite: a one-stage text-to-image generator and a matching-aware discriminator.

Tao et al. 2022, "DF-GAN: A Simple and Effective Baseline for Text-to-Image Synthesis":
  G   z -> Dense -> a small feature map -> residual blocks (nearest upsampling, two 3x3 convs);
      every block fuses the condition (z and the sentence embedding, concatenated) through deep
      text-image fusion: two text-conditioned affine transforms, h * gamma(c) + beta(c), each
      followed by LeakyReLU(0.2), before each convolution. gamma starts at 1 and beta at 0 (the
      final layers of their MLPs start at zero weights), so the blocks start unconditioned.
  D   image features from residual down-sampling blocks (4x4/2 conv, 3x3 conv, a learnt residual
      gain starting at 0) joined with the sentence embedding broadcast over space, then a 3x3 conv
      and a conv over the whole map to one logit ("one-way output").
Options: StackGAN's conditioning augmentation (Zhang et al. 2017: the sentence embedding is replaced
by a sample of N(mu(e), diag(sigma(e)^2)), with a KL term towards N(0, I)); the sentence projection
in D (a Dense layer before the join; DF-GAN joins the raw embedding).

Sentence embeddings come L2-normalised (unit length, 384 entries of ~0.05): both networks multiply
them by sqrt(dim) so their entries have unit scale, like z's.

No batch normalisation anywhere (as DF-GAN): the networks have parameters only.
"""
import functools
import math
from typing import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

leaky_relu = functools.partial(nn.leaky_relu, negative_slope=0.2)
# PyTorch's default initialisation of Linear and Conv2d weights (kaiming_uniform, a = sqrt(5): U(+-
# 1 / sqrt(fan_in))), as DF-GAN trains: its MA-GP raises D's gradient norm to the 6th power, so the
# norm it starts from (sqrt(3) smaller per layer than Flax's lecun_normal) matters.
torch_init = nn.initializers.variance_scaling(1 / 3, "fan_in", "uniform")
Dense = functools.partial(nn.Dense, kernel_init=torch_init)
Conv = functools.partial(nn.Conv, kernel_init=torch_init)


def scale_sentence(sentence):
  """Unit-length sentence embeddings -> entries of unit scale."""
  return sentence * math.sqrt(sentence.shape[-1])


def upsample_nearest(h):
  """x2 nearest-neighbour upsampling as a broadcast (jax.image.resize's gradient is a scatter, ~16x
  slower on the CPU)."""
  b, height, width, c = h.shape
  return jnp.broadcast_to(h[:, :, None, :, None, :], (b, height, 2, width, 2, c)).reshape(
      b, 2 * height, 2 * width, c)


class Affine(nn.Module):
  """DF-GAN's text-conditioned affine transform of feature maps: h * gamma(c) + beta(c), gamma and
  beta each from a two-layer MLP of the condition c, starting at gamma = 1, beta = 0."""

  @nn.compact
  def __call__(self, h, cond):
    features = h.shape[-1]

    def mlp(name, bias_init):
      hidden = nn.relu(Dense(features, name=f"{name}_hidden")(cond))
      return nn.Dense(features, kernel_init=nn.initializers.zeros, bias_init=bias_init,
                      name=name)(hidden)

    gamma = mlp("gamma", nn.initializers.ones)
    beta = mlp("beta", nn.initializers.zeros)
    return h * gamma[:, None, None, :] + beta[:, None, None, :]


class Fusion(nn.Module):
  """Deep text-image fusion (DF-GAN's DFBlock): affine, LeakyReLU, affine, LeakyReLU."""

  @nn.compact
  def __call__(self, h, cond):
    h = leaky_relu(Affine(name="affine0")(h, cond))
    return leaky_relu(Affine(name="affine1")(h, cond))


class GBlock(nn.Module):
  """Upsample x2 (nearest, optional), then shortcut(h) + conv(fuse(conv(fuse(h))))."""
  features: int
  upsample: bool = True

  @nn.compact
  def __call__(self, h, cond):
    if self.upsample:
      h = upsample_nearest(h)
    residual = Conv(self.features, (3, 3), name="conv1")(Fusion(name="fuse1")(h, cond))
    residual = Conv(self.features, (3, 3), name="conv2")(Fusion(name="fuse2")(residual, cond))
    shortcut = (h if h.shape[-1] == self.features
                else Conv(self.features, (1, 1), name="shortcut")(h))
    return shortcut + residual


class ConditioningAugmentation(nn.Module):
  """StackGAN's conditioning augmentation: c = mu(e) + sigma(e) * eps, eps ~ N(0, I), with
  mu, log sigma^2 from a Dense layer and a GLU (the authors' code); returns (c, KL(N(mu, sigma^2)
  || N(0, I)) averaged over entries, as StackGAN's KL_loss). Not training, c = mu: a prompt gives
  the same condition every time (z alone varies the images)."""
  features: int

  @nn.compact
  def __call__(self, sentence, train):
    h = Dense(4 * self.features)(sentence)
    h = h[:, :2 * self.features] * jax.nn.sigmoid(h[:, 2 * self.features:])  # GLU.
    mu, logvar = h[:, :self.features], h[:, self.features:]
    kl = -0.5 * jnp.mean(1.0 + logvar - jnp.square(mu) - jnp.exp(logvar))
    if not train:
      return mu, kl
    eps = jax.random.normal(self.make_rng("augment"), mu.shape, mu.dtype)
    return mu + jnp.exp(0.5 * logvar) * eps, kl


class Generator(nn.Module):
  """DF-GAN-lite G: (z, sentence) -> images in [-1, 1] and the conditioning KL (0 without CA).

  The first block works at `base` x `base`; each later one doubles the size (7 -> 14 -> 28 for
  MNIST, 4 -> 8 -> 16 -> 32 for CIFAR-10).
  """
  image_shape: Sequence[int]          # (H, W, C)
  widths: Sequence[int] = (128, 64, 32)
  conditioning_augmentation: int = 0  # > 0: CA's output width; 0: the sentence embedding itself.

  @nn.compact
  def __call__(self, z, sentence, train=True):
    height, width, channels = self.image_shape
    base = height // 2 ** (len(self.widths) - 1)
    if base * 2 ** (len(self.widths) - 1) != height or height != width:
      raise ValueError(f"image shape {tuple(self.image_shape)} is not square base * 2^"
                       f"{len(self.widths) - 1} for {len(self.widths)} blocks")
    text = scale_sentence(sentence)
    kl = jnp.zeros((), z.dtype)
    if self.conditioning_augmentation:
      text, kl = ConditioningAugmentation(self.conditioning_augmentation, name="ca")(text, train)
    cond = jnp.concatenate([z, text], axis=-1)
    h = Dense(base * base * self.widths[0], name="fc")(z).reshape(
        (z.shape[0], base, base, self.widths[0]))
    for i, features in enumerate(self.widths):
      h = GBlock(features, upsample=i > 0, name=f"block{i}")(h, cond)
    image = jnp.tanh(Conv(channels, (3, 3), name="to_image")(leaky_relu(h)))
    return image, kl


class DBlock(nn.Module):
  """DF-GAN's D block: shortcut (1x1 conv if the width changes, 2x2 average pool) + gamma *
  LeakyReLU(3x3 conv(LeakyReLU(4x4/2 conv))), gamma a learnt scalar starting at 0."""
  features: int

  @nn.compact
  def __call__(self, h):
    residual = leaky_relu(Conv(self.features, (4, 4), strides=2, padding=1, use_bias=False,
                                  name="conv_down")(h))
    residual = leaky_relu(Conv(self.features, (3, 3), use_bias=False, name="conv")(residual))
    shortcut = (h if h.shape[-1] == self.features
                else Conv(self.features, (1, 1), name="shortcut")(h))
    shortcut = nn.avg_pool(shortcut, (2, 2), strides=(2, 2))
    gamma = self.param("gamma", nn.initializers.zeros, ())
    return shortcut + gamma * residual


class Discriminator(nn.Module):
  """Matching-aware D: `features(x)` once per image batch, `judge(features, sentence)` per
  (image, sentence) pairing, so the mismatched pairs reuse the real images' features."""
  widths: Sequence[int] = (32, 64, 128)  # The stem's width, then one down-sampling block each.
  sentence_features: int = 0             # > 0: a Dense projection of the sentence before the join.

  def setup(self):
    self.stem = Conv(self.widths[0], (3, 3))
    self.blocks = [DBlock(w) for w in self.widths[1:]]
    if self.sentence_features:
      self.project = Dense(self.sentence_features)
    self.joint = Conv(2 * self.widths[0], (3, 3), use_bias=False)
    self.out = Dense(1, use_bias=False)  # A conv whose kernel covers the whole map.

  def features(self, x):
    h = self.stem(x)
    for block in self.blocks:
      h = block(h)
    return h

  def judge(self, features, sentence):
    text = scale_sentence(sentence)
    if self.sentence_features:
      text = self.project(text)
    b, height, width, _ = features.shape
    text = jnp.broadcast_to(text[:, None, None, :], (b, height, width, text.shape[-1]))
    h = leaky_relu(self.joint(jnp.concatenate([features, text], axis=-1)))
    return self.out(h.reshape((b, -1)))[:, 0]

  def __call__(self, x, sentence):
    return self.judge(self.features(x), sentence)
