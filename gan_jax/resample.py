"""Image resampling for the growing and style-based networks (NHWC).

`upfirdn2d` is StyleGAN2's upsample -> pad -> FIR filter -> downsample (stylegan2-ada-pytorch,
torch_utils/ops/upfirdn2d.py, its reference path `_upfirdn2d_ref`), with the same padding and gain
conventions. The filter is applied as a sum of shifted (strided) slices rather than a depthwise
convolution: on XLA:CPU a depthwise convolution and its gradient ran 20-100x slower (a 32x32
upsampling of 32 x 64-channel maps: 358 ms forward with the convolution, 6 ms with slices).
`upsample2d` / `downsample2d` are its 2x resamplers with the [1, 3, 3, 1] binomial filter (Zhang
2019's anti-aliasing, used by StyleGAN2), separable. ProGAN resamples with nearest-neighbour
upsampling and 2x2 average pooling (`upsample_nearest`, `avg_pool`).
"""
import jax
import jax.numpy as jnp
import numpy as np

# The separable low-pass filter: [1, 3, 3, 1] / 8 along each axis (outer product: NVIDIA's 2D one).
FILTER = np.array([1.0, 3.0, 3.0, 1.0], np.float32) / 8.0


def make_filter(taps=(1, 3, 3, 1)):
  """The 2D filter outer(taps, taps), normalised to sum 1 (what the separable FILTER applies)."""
  f = np.asarray(taps, np.float32)
  f = np.outer(f, f)
  return f / f.sum()


def _correlate(x, weights, axes, down):
  """sum_k weights[k] * x[i * down + k] along `axes` (a VALID strided correlation), as slices."""
  out_shape = [(x.shape[a] - weights.shape[i]) // down + 1 for i, a in enumerate(axes)]
  out = None
  for index in np.ndindex(*weights.shape):
    c = float(weights[index])
    if c == 0.0:
      continue
    part = x
    for i, a in enumerate(axes):
      part = jax.lax.slice_in_dim(part, index[i], index[i] + (out_shape[i] - 1) * down + 1,
                                  stride=down, axis=a)
    out = c * part if out is None else out + c * part
  return out


def upfirdn2d(x, f, up=1, down=1, padding=(0, 0, 0, 0), gain=1.0):
  """Upsample by zero insertion, pad, convolve with the FIR filter `f` (times `gain`), keep every
  `down`-th pixel. `f`: 1D taps (separable, applied along H and W) or a 2D filter. `padding` =
  (x_before, x_after, y_before, y_after), negative values crop (NVIDIA's order and semantics)."""
  x0, x1, y0, y1 = padding
  zero = jnp.zeros((), x.dtype)
  # Zero insertion leaves up - 1 zeros after every pixel, the last one included.
  x = jax.lax.pad(x, zero, [(0, 0, 0), (y0, y1 + up - 1, up - 1), (x0, x1 + up - 1, up - 1),
                            (0, 0, 0)])
  # A convolution (not a correlation): the filter flipped, as NVIDIA's flip_filter=False.
  f = np.asarray(f, np.float32)
  if f.ndim == 1:
    x = _correlate(x, f[::-1] * gain, (1,), down)
    return _correlate(x, f[::-1], (2,), down)
  return _correlate(x, f[::-1, ::-1] * gain, (1, 2), down)


def upsample2d(x, f=FILTER, up=2):
  """2x (or `up`x) upsampling with the FIR filter, gain up^2 so a constant image stays constant."""
  fh = f.shape[0]
  p0, p1 = (fh + up - 1) // 2, (fh - up) // 2
  return upfirdn2d(x, f, up=up, padding=(p0, p1, p0, p1), gain=up * up)


def downsample2d(x, f=FILTER, down=2):
  """2x (or `down`x) downsampling: the FIR low-pass filter, then every `down`-th pixel."""
  fh = f.shape[0]
  p0, p1 = (fh - down + 1) // 2, (fh - down) // 2
  return upfirdn2d(x, f, down=down, padding=(p0, p1, p0, p1))


def upsample_nearest(x, factor=2):
  return jnp.repeat(jnp.repeat(x, factor, axis=1), factor, axis=2)


def avg_pool(x, factor=2):
  """Mean over `factor` x `factor` blocks (ProGAN's downscale, NVIDIA's box resize of datasets)."""
  b, h, w, c = x.shape
  return x.reshape(b, h // factor, factor, w // factor, factor, c).mean(axis=(2, 4))


def resize_to(x, resolution):
  """Real images at a lower resolution (a power-of-two fraction): repeated 2x2 average pooling."""
  factor = x.shape[1] // resolution
  return x if factor == 1 else avg_pool(x, factor)
