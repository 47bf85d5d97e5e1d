"""CycleGAN's generator (Zhu et al. 2017, appendix 7.2; Johnson et al. 2016's residual network).

    c7s1-k, d2k, d4k, R4k x n, u2k, uk, c7s1-C (tanh)     (model.g_downsamplings=2, the paper's)

c7s1-k: 7x7 convolution, stride 1, k filters, reflection padding 3, instance norm, ReLU. dk: 3x3
convolution, stride 2, instance norm, ReLU (the two downsamplings). Rk: a residual block of two 3x3
convolutions with reflection padding 1 and instance norm (ReLU between them, none after the sum).
uk: 3x3 transposed convolution, stride 2 (PyTorch's padding=1, output_padding=1: exactly doubles
the size), instance norm, ReLU. The paper uses n = 6 blocks at 128 px and 9 at 256 px; at 32 px a
few blocks suffice (the receptive field already spans the image).

Like the authors' code: instance norm without learned scale and bias and without running statistics
(the same normalisation in training and at test time), biases on every convolution, weights drawn
from N(0, 0.02) and zero biases. The discriminators are Pix2Pix's PatchGAN
(gan_jax.families.pix2pix.models).
"""
import flax.linen as nn
import jax.numpy as jnp

from gan_jax.errors import UserError
from gan_jax.families.pix2pix.models import conv_init
from gan_jax.families.pix2pix.models import normalization


def instance_norm(x):
  """Each example's channels normalised over space (Ulyanov et al. 2016), no affine parameters:
  the same function in training and at test time."""
  return normalization("instance", train=True)(x)


def reflect_pad(x, pad):
  return jnp.pad(x, ((0, 0), (pad, pad), (pad, pad), (0, 0)), mode="reflect")


def _conv(features, kernel, stride=1, name=None):
  return nn.Conv(features, (kernel, kernel), (stride, stride), padding="VALID",
                 kernel_init=conv_init, name=name)


class ResidualBlock(nn.Module):
  """x + IN(conv3(pad(ReLU(IN(conv3(pad(x))))))): the shape and channel count are kept."""

  @nn.compact
  def __call__(self, x):
    h = nn.relu(instance_norm(_conv(x.shape[-1], 3)(reflect_pad(x, 1))))
    return x + instance_norm(_conv(x.shape[-1], 3)(reflect_pad(h, 1)))


class ResnetGenerator(nn.Module):
  """Image (B, H, W, C_in) in [-1, 1] -> image (B, H, W, channels) in [-1, 1]; H and W multiples
  of 2 ** downsamplings.

  width: k of c7s1-k (ngf, 64 in the paper); num_blocks: n residual blocks at
  width * 2 ** downsamplings channels; downsamplings: the stride-2 steps down (and up), 2 in the
  paper. Fewer keep the residual blocks at a higher resolution with a smaller receptive field: a
  generator biased towards changing appearance rather than shape (0: every layer at full size).
  """
  channels: int
  width: int = 64
  num_blocks: int = 9
  downsamplings: int = 2

  @nn.compact
  def __call__(self, x, train=True):
    del train  # No dropout or running statistics: training and inference are the same function.
    h = nn.relu(instance_norm(_conv(self.width, 7)(reflect_pad(x, 3))))
    for i in range(1, self.downsamplings + 1):  # d2k, d4k; PyTorch's padding=1 at stride 2 is
      h = jnp.pad(h, ((0, 0), (1, 1), (1, 1), (0, 0)))  # (1, 1) on even sizes.
      h = nn.relu(instance_norm(_conv(self.width * 2**i, 3, stride=2)(h)))
    for _ in range(self.num_blocks):
      h = ResidualBlock()(h)
    for i in reversed(range(self.downsamplings)):  # u2k, uk
      # PyTorch ConvTranspose2d(k=3, s=2, padding=1, output_padding=1) is a transposed convolution
      # with (k - 1 - 1, k - 1 - 1 + 1) = (1, 2) padding of the dilated input: size 2H exactly.
      h = nn.ConvTranspose(self.width * 2**i, (3, 3), (2, 2), padding=((1, 2), (1, 2)),
                           transpose_kernel=True, kernel_init=conv_init)(h)
      h = nn.relu(instance_norm(h))
    return jnp.tanh(_conv(self.channels, 7)(reflect_pad(h, 3)))


def check_image_size(shape, what, downsamplings=2):
  """The stride-2 steps need H and W divisible by 2 ** downsamplings and 2 px left after them
  (and the first layer's reflection padding of 3 needs 4)."""
  h, w = shape[:2]
  factor = 2**downsamplings
  least = max(4, 2 * factor)
  if h % factor or w % factor or min(h, w) < least:
    raise UserError(f"{what}: images of {h}x{w} px cannot go through CycleGAN's ResNet generator "
                    f"({downsamplings} stride-2 downsamplings): height and width must be "
                    f"multiples of {factor} and at least {least}; set dataset.image_size (e.g. "
                    "28, 32, 128, 256) or model.g_downsamplings")
