"""Generators and discriminators of the seed GANs (flax.linen).

Every module is pure: parameters, batch statistics and any other tracked state live in the variable
collections that `init`/`apply` take and return. All models share one calling convention so the train
step can treat them alike:

  generator(z, labels, train)          -> samples shaped like the data, in the data's range
  discriminator(x, labels, train)      -> one logit per example, shape (B,)

`labels` is an int array (B,) or None. When the module's `num_classes > 0` the one-hot label is
concatenated to z in G and to the input (broadcast over space for images) in D, as in Mirza & Osindero's
conditional GAN.
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


def concat_label_to_image(x, labels, num_classes):
  """Appends the one-hot label as constant feature maps."""
  onehot = _one_hot(labels, num_classes, x.dtype)
  if onehot is None:
    return x
  maps = jnp.broadcast_to(onehot[:, None, None, :], x.shape[:3] + (num_classes,))
  return jnp.concatenate([x, maps], axis=-1)


class MLPGenerator(nn.Module):
  """The vanilla GAN generator: z -> 256 -> 512 -> data, LeakyReLU(0.2)."""
  data_shape: Sequence[int]
  hidden: Sequence[int] = (256, 512)
  num_classes: int = 0
  output_activation: str = "tanh"  # 'tanh' for images in [-1, 1], 'none' for 2D points.

  @nn.compact
  def __call__(self, z, labels=None, train=True):
    h = concat_label_to_vector(z, labels, self.num_classes)
    for width in self.hidden:
      h = leaky_relu(nn.Dense(width)(h))
    out = nn.Dense(math.prod(self.data_shape))(h)
    if self.output_activation == "tanh":
      out = jnp.tanh(out)
    return out.reshape((z.shape[0],) + tuple(self.data_shape))


class MLPDiscriminator(nn.Module):
  """The vanilla GAN discriminator: data -> 512 -> 256 -> 1 logit, LeakyReLU(0.2)."""
  hidden: Sequence[int] = (512, 256)
  num_classes: int = 0

  @nn.compact
  def __call__(self, x, labels=None, train=True):
    h = concat_label_to_vector(x.reshape((x.shape[0], -1)), labels, self.num_classes)
    for width in self.hidden:
      h = leaky_relu(nn.Dense(width)(h))
    return nn.Dense(1)(h)[:, 0]


def _batch_norm(train, axis_name):
  # Keras defaults (momentum 0.99, eps 1e-3), as in the seeds' notebooks. Under pmap, `axis_name`
  # makes the batch statistics those of the global batch, as jit over a mesh computes them.
  return nn.BatchNorm(use_running_average=not train, momentum=0.99, epsilon=1e-3,
                      axis_name=axis_name if train else None)


class DCGAN28Generator(nn.Module):
  """The seed's MNIST DCGAN generator (TensorFlow tutorial): z(100) -> 7x7x256 -> 14x14x64 -> 28x28xC."""
  channels: int = 1
  num_classes: int = 0
  axis_name: str | None = None

  @nn.compact
  def __call__(self, z, labels=None, train=True):
    h = concat_label_to_vector(z, labels, self.num_classes)
    h = leaky_relu(_batch_norm(train, self.axis_name)(nn.Dense(7 * 7 * 256, use_bias=False)(h)))
    h = h.reshape((-1, 7, 7, 256))
    for features, stride in ((128, 1), (64, 2)):
      h = nn.ConvTranspose(features, (5, 5), (stride, stride), padding="SAME", use_bias=False)(h)
      h = leaky_relu(_batch_norm(train, self.axis_name)(h))
    h = nn.ConvTranspose(self.channels, (5, 5), (2, 2), padding="SAME", use_bias=False)(h)
    return jnp.tanh(h)


class DCGAN28Discriminator(nn.Module):
  """The seed's MNIST DCGAN discriminator: Conv 64 s2 -> Conv 128 s2 (LeakyReLU, Dropout 0.3) -> Dense 1."""
  num_classes: int = 0
  dropout_rate: float = 0.3

  @nn.compact
  def __call__(self, x, labels=None, train=True):
    h = concat_label_to_image(x, labels, self.num_classes)
    for features in (64, 128):
      h = leaky_relu(nn.Conv(features, (5, 5), (2, 2), padding="SAME")(h))
      h = nn.Dropout(self.dropout_rate, deterministic=not train)(h)
    return nn.Dense(1)(h.reshape((h.shape[0], -1)))[:, 0]


class DCGAN32Generator(nn.Module):
  """The seed's CIFAR-10 DCGAN generator: z(128) -> 4x4x512 -> 8 -> 16 -> 32x32xC."""
  channels: int = 3
  num_classes: int = 0
  axis_name: str | None = None

  @nn.compact
  def __call__(self, z, labels=None, train=True):
    h = concat_label_to_vector(z, labels, self.num_classes)
    h = leaky_relu(_batch_norm(train, self.axis_name)(nn.Dense(4 * 4 * 512, use_bias=False)(h)))
    h = h.reshape((-1, 4, 4, 512))
    for features, kernel, stride in ((256, 4, 2), (128, 4, 2), (128, 3, 1), (64, 4, 2), (64, 3, 1)):
      h = nn.ConvTranspose(features, (kernel, kernel), (stride, stride), padding="SAME",
                           use_bias=False)(h)
      h = leaky_relu(_batch_norm(train, self.axis_name)(h))
    return jnp.tanh(nn.ConvTranspose(self.channels, (3, 3), padding="SAME")(h))


class DCGAN32Discriminator(nn.Module):
  """The seed's CIFAR-10 DCGAN discriminator: Conv 64/128/256 4x4 s2 (LeakyReLU, Dropout 0.3) -> Dense 1."""
  num_classes: int = 0
  dropout_rate: float = 0.3

  @nn.compact
  def __call__(self, x, labels=None, train=True):
    h = concat_label_to_image(x, labels, self.num_classes)
    for features in (64, 128, 256):
      h = leaky_relu(nn.Conv(features, (4, 4), (2, 2), padding="SAME")(h))
      h = nn.Dropout(self.dropout_rate, deterministic=not train)(h)
    return nn.Dense(1)(h.reshape((h.shape[0], -1)))[:, 0]


# name -> (generator, discriminator, image height/width it produces or None for any shape).
_MODELS = {
    "mlp": (MLPGenerator, MLPDiscriminator, None),
    "dcgan28": (DCGAN28Generator, DCGAN28Discriminator, 28),
    "dcgan32": (DCGAN32Generator, DCGAN32Discriminator, 32),
}
MODEL_NAMES = tuple(_MODELS)


def get_models(model_config, data_shape, num_classes, axis_name=None):
  """Builds (generator, discriminator) for data of `data_shape` ((H, W, C) or (2,)).

  `num_classes` > 0 with `model_config.conditional` makes both conditional. `axis_name`: the pmap
  axis over which batch normalisation averages its statistics.
  """
  name = model_config.name
  if name not in _MODELS:
    raise UserError(f"model.name={name!r} is unknown; allowed: {', '.join(MODEL_NAMES)}")
  g_cls, d_cls, size = _MODELS[name]
  data_shape = tuple(data_shape)
  classes = num_classes if model_config.get("conditional", False) else 0
  if model_config.get("conditional", False) and num_classes <= 0:
    raise UserError("model.conditional=True needs a labelled dataset; this dataset has no classes")
  if size is None:
    activation = "tanh" if len(data_shape) == 3 else "none"
    return (MLPGenerator(data_shape, tuple(model_config.get("g_hidden", (256, 512))), classes,
                         activation),
            MLPDiscriminator(tuple(model_config.get("d_hidden", (512, 256))), classes))
  if len(data_shape) != 3 or data_shape[:2] != (size, size):
    raise UserError(f"model.name={name!r} produces {size}x{size} images, but the data has shape "
                    f"{data_shape}; use dataset.image_size={size} or a model for that shape "
                    f"({', '.join(MODEL_NAMES)})")
  return (g_cls(channels=data_shape[2], num_classes=classes),
          d_cls(num_classes=classes, dropout_rate=model_config.get("d_dropout", 0.3)))
