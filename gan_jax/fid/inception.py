"""The FID Inception-v3 (TF graph "2015-12-05") as a flax.linen module.

Differs from torchvision's Inception-v3 exactly where the TF graph does:
batch-norm eps 1e-3 with no scale, average pools that exclude padding in the
A, C and first E block, a max pool in the last E block, and a 1008-way
classifier without bias (only used for the Inception Score). Batch norm is
folded into the convolutions when weights are loaded (`params_from_canonical`).

`fused=True` (the default) runs the 1x1 convolutions that read a block's input
as one convolution, and moves the average-pool branch's pool after its 1x1
convolution (both are linear and the pool's weights sum to one: exact up to
rounding), so there are fewer, larger kernels and that pool reads 32-192
channels instead of 192-1280. The parameters are the same either way.
"""

from typing import Any, NamedTuple

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

BN_EPS = 1e-3
# fp16: 3 more mantissa bits than bf16 at the same tensor-core speed; this
# network's activations stay far inside its range.
PRECISIONS = ("highest", "default", "bf16", "fp16")
_DTYPES = {"bf16": jnp.bfloat16, "fp16": jnp.float16}


class _Ops(NamedTuple):
  dtype: Any       # of activations and weights
  precision: Any   # jax.lax.Precision of the convolutions
  fused: bool      # see the module docstring


class _Weights(nn.Module):
  """A convolution's kernel (HWIO, batch norm folded in) and bias."""
  features: int
  kernel_size: tuple

  @nn.compact
  def __call__(self, in_features):
    kh, kw = self.kernel_size
    kernel = self.param("kernel", nn.initializers.lecun_normal(),
                        (kh, kw, in_features, self.features))
    return kernel, self.param("bias", nn.initializers.zeros, (self.features,))


def _conv(ops, x, kernel, strides=1, padding="SAME"):
  kh, kw = kernel.shape[:2]
  if padding == "SAME":  # symmetric, as torch's padding=(k-1)//2.
    padding = ((kh // 2, kh // 2), (kw // 2, kw // 2))
  return jax.lax.conv_general_dilated(
      x.astype(ops.dtype), kernel.astype(ops.dtype), (strides, strides),
      padding, dimension_numbers=("NHWC", "HWIO", "NHWC"),
      precision=ops.precision)


def _bias_relu(ops, y, bias):
  # Pools that exclude padding divide by an fp32 count: cast back.
  return nn.relu(y.astype(ops.dtype) + bias.astype(ops.dtype))


def _conv_relu(ops, name, features, kernel_size, x, strides=1,
               padding="SAME"):
  """Convolution, bias (the folded batch norm), ReLU. Called inside a module's
  compact method, which then holds the parameters under `name`."""
  kernel, bias = _Weights(features, kernel_size, name=name)(x.shape[-1])
  return _bias_relu(ops, _conv(ops, x, kernel, strides, padding), bias)


def _heads(ops, x, specs, pool=None):
  """A block's 1x1 convolutions of x, specs = [(name, features)], then, with
  pool = (name, features), its branch: 3x3 average pool, 1x1 convolution."""
  if not ops.fused:
    outs = [_conv_relu(ops, n, f, (1, 1), x) for n, f in specs]
    return outs + ([_conv_relu(ops, *pool, (1, 1), _avg3(x))] if pool else [])
  weights = [_Weights(f, (1, 1), name=n)(x.shape[-1])
             for n, f in specs + ([pool] if pool else [])]
  y = _conv(ops, x, jnp.concatenate([k for k, _ in weights], -1))
  parts = jnp.split(y, np.cumsum([b.shape[0] for _, b in weights])[:-1], -1)
  if pool:
    parts[-1] = _avg3(parts[-1])
  return [_bias_relu(ops, p, b) for p, (_, b) in zip(parts, weights)]


def _avg3(x):
  return nn.avg_pool(x, (3, 3), (1, 1), ((1, 1), (1, 1)),
                     count_include_pad=False)


def _max3s2(x):
  return nn.max_pool(x, (3, 3), (2, 2), "VALID")


class _BlockA(nn.Module):
  ops: _Ops
  pool_features: int

  @nn.compact
  def __call__(self, x):
    c = lambda *a: _conv_relu(self.ops, *a)
    b1, b5, b3, bp = _heads(
        self.ops, x,
        [("branch1x1", 64), ("branch5x5_1", 48), ("branch3x3dbl_1", 64)],
        ("branch_pool", self.pool_features))
    b5 = c("branch5x5_2", 64, (5, 5), b5)
    b3 = c("branch3x3dbl_2", 96, (3, 3), b3)
    b3 = c("branch3x3dbl_3", 96, (3, 3), b3)
    return jnp.concatenate([b1, b5, b3, bp], -1)


class _BlockB(nn.Module):
  ops: _Ops

  @nn.compact
  def __call__(self, x):
    c = lambda *a: _conv_relu(self.ops, *a)
    b3 = c("branch3x3", 384, (3, 3), x, 2, "VALID")
    bd = c("branch3x3dbl_1", 64, (1, 1), x)
    bd = c("branch3x3dbl_2", 96, (3, 3), bd)
    bd = c("branch3x3dbl_3", 96, (3, 3), bd, 2, "VALID")
    return jnp.concatenate([b3, bd, _max3s2(x)], -1)


class _BlockC(nn.Module):
  ops: _Ops
  c7: int

  @nn.compact
  def __call__(self, x):
    c, c7 = (lambda *a: _conv_relu(self.ops, *a)), self.c7
    b1, b7, bd, bp = _heads(
        self.ops, x,
        [("branch1x1", 192), ("branch7x7_1", c7), ("branch7x7dbl_1", c7)],
        ("branch_pool", 192))
    b7 = c("branch7x7_2", c7, (1, 7), b7)
    b7 = c("branch7x7_3", 192, (7, 1), b7)
    bd = c("branch7x7dbl_2", c7, (7, 1), bd)
    bd = c("branch7x7dbl_3", c7, (1, 7), bd)
    bd = c("branch7x7dbl_4", c7, (7, 1), bd)
    bd = c("branch7x7dbl_5", 192, (1, 7), bd)
    return jnp.concatenate([b1, b7, bd, bp], -1)


class _BlockD(nn.Module):
  ops: _Ops

  @nn.compact
  def __call__(self, x):
    c = lambda *a: _conv_relu(self.ops, *a)
    b3, b7 = _heads(self.ops, x,
                    [("branch3x3_1", 192), ("branch7x7x3_1", 192)])
    b3 = c("branch3x3_2", 320, (3, 3), b3, 2, "VALID")
    b7 = c("branch7x7x3_2", 192, (1, 7), b7)
    b7 = c("branch7x7x3_3", 192, (7, 1), b7)
    b7 = c("branch7x7x3_4", 192, (3, 3), b7, 2, "VALID")
    return jnp.concatenate([b3, b7, _max3s2(x)], -1)


class _BlockE(nn.Module):
  ops: _Ops
  max_pool: bool  # The TF graph's last block pools with max, not average.

  @nn.compact
  def __call__(self, x):
    c = lambda *a: _conv_relu(self.ops, *a)
    specs = [("branch1x1", 320), ("branch3x3_1", 384), ("branch3x3dbl_1", 448)]
    if self.max_pool:  # a max pool does not commute with the convolution.
      b1, b3, bd = _heads(self.ops, x, specs)
      bp = c("branch_pool", 192, (1, 1),
             nn.max_pool(x, (3, 3), (1, 1), ((1, 1), (1, 1))))
    else:
      b1, b3, bd, bp = _heads(self.ops, x, specs, ("branch_pool", 192))
    b3 = jnp.concatenate([c("branch3x3_2a", 384, (1, 3), b3),
                          c("branch3x3_2b", 384, (3, 1), b3)], -1)
    bd = c("branch3x3dbl_2", 384, (3, 3), bd)
    bd = jnp.concatenate([c("branch3x3dbl_3a", 384, (1, 3), bd),
                          c("branch3x3dbl_3b", 384, (3, 1), bd)], -1)
    return jnp.concatenate([b1, b3, bd, bp], -1)


class InceptionV3(nn.Module):
  """FID Inception-v3 on images already resized and scaled to [-1, 1].

  Attributes:
    precision: 'highest' (fp32, the reference), 'default' (TF32 on GPUs),
      'bf16' or 'fp16' (activations and weights in that type; the
      convolutions accumulate in fp32).
    with_logits: also return the 1008-way logits (no bias) for the IS.
    fused: merge each block's 1x1 convolutions (module docstring).
  Returns (pool features (N, 2048) float32, logits (N, 1008) or None).
  """
  precision: str = "highest"
  with_logits: bool = False
  fused: bool = True

  @nn.compact
  def __call__(self, x):
    if self.precision not in PRECISIONS:
      raise ValueError(f"precision {self.precision!r} not in {PRECISIONS}")
    ops = _Ops(_DTYPES.get(self.precision, jnp.float32),
               jax.lax.Precision.HIGHEST if self.precision == "highest"
               else jax.lax.Precision.DEFAULT, self.fused)
    c = lambda *a: _conv_relu(ops, *a)
    x = c("Conv2d_1a_3x3", 32, (3, 3), x, 2, "VALID")
    x = c("Conv2d_2a_3x3", 32, (3, 3), x, 1, "VALID")
    x = c("Conv2d_2b_3x3", 64, (3, 3), x)
    x = _max3s2(x)
    x = c("Conv2d_3b_1x1", 80, (1, 1), x)
    x = c("Conv2d_4a_3x3", 192, (3, 3), x, 1, "VALID")
    x = _max3s2(x)
    x = _BlockA(ops, 32, name="Mixed_5b")(x)
    x = _BlockA(ops, 64, name="Mixed_5c")(x)
    x = _BlockA(ops, 64, name="Mixed_5d")(x)
    x = _BlockB(ops, name="Mixed_6a")(x)
    x = _BlockC(ops, 128, name="Mixed_6b")(x)
    x = _BlockC(ops, 160, name="Mixed_6c")(x)
    x = _BlockC(ops, 160, name="Mixed_6d")(x)
    x = _BlockC(ops, 192, name="Mixed_6e")(x)
    x = _BlockD(ops, name="Mixed_7a")(x)
    x = _BlockE(ops, False, name="Mixed_7b")(x)
    x = _BlockE(ops, True, name="Mixed_7c")(x)
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
