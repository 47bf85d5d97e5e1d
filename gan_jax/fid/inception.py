"""The FID Inception-v3 (TF graph "2015-12-05") as a flax.linen module.

Differs from torchvision's Inception-v3 exactly where the TF graph does:
batch-norm eps 1e-3 with no scale, average pools that exclude padding in the
A, C and first E block, a max pool in the last E block, and a 1008-way
classifier without bias (only used for the Inception Score). Batch norm is
folded into the convolutions when weights are loaded (`params_from_canonical`).
"""

from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

BN_EPS = 1e-3
PRECISIONS = ("highest", "default", "bf16")


class _Conv(nn.Module):
  """Convolution with folded batch norm, then ReLU."""
  features: int
  kernel_size: tuple
  strides: int = 1
  padding: Any = "SAME"
  dtype: Any = jnp.float32
  precision: Any = jax.lax.Precision.HIGHEST

  @nn.compact
  def __call__(self, x):
    kh, kw = self.kernel_size
    kernel = self.param("kernel", nn.initializers.lecun_normal(),
                        (kh, kw, x.shape[-1], self.features))
    bias = self.param("bias", nn.initializers.zeros, (self.features,))
    pad = self.padding
    if pad == "SAME":  # symmetric, as torch's padding=(k-1)//2.
      pad = ((kh // 2, kh // 2), (kw // 2, kw // 2))
    # Pools that exclude padding divide by an fp32 count: cast back.
    x = x.astype(self.dtype)
    y = jax.lax.conv_general_dilated(
        x, kernel.astype(self.dtype), (self.strides, self.strides), pad,
        dimension_numbers=("NHWC", "HWIO", "NHWC"), precision=self.precision)
    return nn.relu(y + bias.astype(self.dtype))


def _avg3(x):
  return nn.avg_pool(x, (3, 3), (1, 1), ((1, 1), (1, 1)),
                     count_include_pad=False)


def _max3s2(x):
  return nn.max_pool(x, (3, 3), (2, 2), "VALID")


class _BlockA(nn.Module):
  pool_features: int
  conv: Any

  @nn.compact
  def __call__(self, x):
    c = self.conv
    b1 = c(64, (1, 1), name="branch1x1")(x)
    b5 = c(48, (1, 1), name="branch5x5_1")(x)
    b5 = c(64, (5, 5), name="branch5x5_2")(b5)
    b3 = c(64, (1, 1), name="branch3x3dbl_1")(x)
    b3 = c(96, (3, 3), name="branch3x3dbl_2")(b3)
    b3 = c(96, (3, 3), name="branch3x3dbl_3")(b3)
    bp = c(self.pool_features, (1, 1), name="branch_pool")(_avg3(x))
    return jnp.concatenate([b1, b5, b3, bp], -1)


class _BlockB(nn.Module):
  conv: Any

  @nn.compact
  def __call__(self, x):
    c = self.conv
    b3 = c(384, (3, 3), 2, "VALID", name="branch3x3")(x)
    bd = c(64, (1, 1), name="branch3x3dbl_1")(x)
    bd = c(96, (3, 3), name="branch3x3dbl_2")(bd)
    bd = c(96, (3, 3), 2, "VALID", name="branch3x3dbl_3")(bd)
    return jnp.concatenate([b3, bd, _max3s2(x)], -1)


class _BlockC(nn.Module):
  c7: int
  conv: Any

  @nn.compact
  def __call__(self, x):
    c, c7 = self.conv, self.c7
    b1 = c(192, (1, 1), name="branch1x1")(x)
    b7 = c(c7, (1, 1), name="branch7x7_1")(x)
    b7 = c(c7, (1, 7), name="branch7x7_2")(b7)
    b7 = c(192, (7, 1), name="branch7x7_3")(b7)
    bd = c(c7, (1, 1), name="branch7x7dbl_1")(x)
    bd = c(c7, (7, 1), name="branch7x7dbl_2")(bd)
    bd = c(c7, (1, 7), name="branch7x7dbl_3")(bd)
    bd = c(c7, (7, 1), name="branch7x7dbl_4")(bd)
    bd = c(192, (1, 7), name="branch7x7dbl_5")(bd)
    bp = c(192, (1, 1), name="branch_pool")(_avg3(x))
    return jnp.concatenate([b1, b7, bd, bp], -1)


class _BlockD(nn.Module):
  conv: Any

  @nn.compact
  def __call__(self, x):
    c = self.conv
    b3 = c(192, (1, 1), name="branch3x3_1")(x)
    b3 = c(320, (3, 3), 2, "VALID", name="branch3x3_2")(b3)
    b7 = c(192, (1, 1), name="branch7x7x3_1")(x)
    b7 = c(192, (1, 7), name="branch7x7x3_2")(b7)
    b7 = c(192, (7, 1), name="branch7x7x3_3")(b7)
    b7 = c(192, (3, 3), 2, "VALID", name="branch7x7x3_4")(b7)
    return jnp.concatenate([b3, b7, _max3s2(x)], -1)


class _BlockE(nn.Module):
  max_pool: bool  # The TF graph's last block pools with max, not average.
  conv: Any

  @nn.compact
  def __call__(self, x):
    c = self.conv
    b1 = c(320, (1, 1), name="branch1x1")(x)
    b3 = c(384, (1, 1), name="branch3x3_1")(x)
    b3 = jnp.concatenate([c(384, (1, 3), name="branch3x3_2a")(b3),
                          c(384, (3, 1), name="branch3x3_2b")(b3)], -1)
    bd = c(448, (1, 1), name="branch3x3dbl_1")(x)
    bd = c(384, (3, 3), name="branch3x3dbl_2")(bd)
    bd = jnp.concatenate([c(384, (1, 3), name="branch3x3dbl_3a")(bd),
                          c(384, (3, 1), name="branch3x3dbl_3b")(bd)], -1)
    if self.max_pool:
      pooled = nn.max_pool(x, (3, 3), (1, 1), ((1, 1), (1, 1)))
    else:
      pooled = _avg3(x)
    bp = c(192, (1, 1), name="branch_pool")(pooled)
    return jnp.concatenate([b1, b3, bd, bp], -1)


class InceptionV3(nn.Module):
  """FID Inception-v3 on images already resized and scaled to [-1, 1].

  Attributes:
    precision: 'highest' (fp32, the reference), 'default' (TF32 on GPUs) or
      'bf16' (bfloat16 activations and weights).
    with_logits: also return the 1008-way logits (no bias) for the IS.
  Returns (pool features (N, 2048) float32, logits (N, 1008) or None).
  """
  precision: str = "highest"
  with_logits: bool = False

  @nn.compact
  def __call__(self, x):
    if self.precision not in PRECISIONS:
      raise ValueError(f"precision {self.precision!r} not in {PRECISIONS}")
    dtype = jnp.bfloat16 if self.precision == "bf16" else jnp.float32
    prec = (jax.lax.Precision.HIGHEST if self.precision == "highest"
            else jax.lax.Precision.DEFAULT)
    conv = lambda *a, **k: _Conv(*a, dtype=dtype, precision=prec, **k)
    x = x.astype(dtype)
    x = conv(32, (3, 3), 2, "VALID", name="Conv2d_1a_3x3")(x)
    x = conv(32, (3, 3), 1, "VALID", name="Conv2d_2a_3x3")(x)
    x = conv(64, (3, 3), name="Conv2d_2b_3x3")(x)
    x = _max3s2(x)
    x = conv(80, (1, 1), name="Conv2d_3b_1x1")(x)
    x = conv(192, (3, 3), 1, "VALID", name="Conv2d_4a_3x3")(x)
    x = _max3s2(x)
    x = _BlockA(32, conv, name="Mixed_5b")(x)
    x = _BlockA(64, conv, name="Mixed_5c")(x)
    x = _BlockA(64, conv, name="Mixed_5d")(x)
    x = _BlockB(conv, name="Mixed_6a")(x)
    x = _BlockC(128, conv, name="Mixed_6b")(x)
    x = _BlockC(160, conv, name="Mixed_6c")(x)
    x = _BlockC(160, conv, name="Mixed_6d")(x)
    x = _BlockC(192, conv, name="Mixed_6e")(x)
    x = _BlockD(conv, name="Mixed_7a")(x)
    x = _BlockE(False, conv, name="Mixed_7b")(x)
    x = _BlockE(True, conv, name="Mixed_7c")(x)
    # Mean over the 8x8 map in fp32 (the graph's 8x8 average pool at 299 px).
    pool = jnp.mean(x.astype(jnp.float32), axis=(1, 2))
    logits = None
    if self.with_logits:
      w = self.param("fc", nn.initializers.lecun_normal(), (2048, 1008))
      logits = jnp.dot(pool, w, precision=jax.lax.Precision.HIGHEST)
    return pool, logits


def params_from_canonical(canonical):
  """Folds batch norm into conv kernels: canonical arrays -> flax params."""
  params = {}
  for name, kernel in canonical.items():
    if not name.endswith("/kernel") or name == "fc/kernel":
      continue
    layer = name[:-len("/kernel")]
    var = canonical[f"{layer}/var"].astype(np.float64)
    gamma = canonical.get(f"{layer}/gamma")
    gamma = np.ones_like(var) if gamma is None else gamma.astype(np.float64)
    scale = gamma / np.sqrt(var + BN_EPS)
    bias = canonical[f"{layer}/beta"] - canonical[f"{layer}/mean"] * scale
    node = params
    for part in layer.split("/"):
      node = node.setdefault(part, {})
    node["kernel"] = (kernel.astype(np.float64) * scale).astype(np.float32)
    node["bias"] = bias.astype(np.float32)
  if "fc/kernel" in canonical:
    params["fc"] = canonical["fc/kernel"].astype(np.float32)
  return {"params": params}


def random_params(rng, with_logits=False, size=299):
  """Random weights (tests, speed benchmarks)."""
  x = jnp.zeros((1, size, size, 3), jnp.float32)
  return InceptionV3(with_logits=with_logits).init(rng, x)
