"""Image-quality metrics of translations (Pix2Pix, CycleGAN), on uint8 NHWC image batches.

  l1(a, b)              mean |a - b| with pixels scaled to [-1, 1] (the scale G's L1 loss uses)
  psnr(a, b)            mean over images of the peak signal-to-noise ratio, dB (peak 255)
  ssim(a, b)            mean over images of the structural similarity (Wang et al. 2004)
  colourfulness(a)      mean over images of Hasler & Suesstrunk's colourfulness M
  paired_metrics(a, b)  {'l1', 'psnr', 'ssim'}

PSNR and SSIM are scikit-image's (skimage.metrics) with data_range 255: SSIM with its default 7x7
uniform window (smaller images: the largest odd window that fits), colour images channel by channel.
FID of a set of outputs against a set of targets is gan_jax.fid.evaluator.compute_fid.
"""
import numpy as np
from skimage import metrics as sk_metrics


def _pairs(a, b):
  a, b = np.asarray(a), np.asarray(b)
  if a.shape != b.shape or a.ndim != 4:
    raise ValueError(f"expected two NHWC batches of one shape, got {a.shape} and {b.shape}")
  return a, b


def l1(a, b):
  a, b = _pairs(a, b)
  return float(np.abs(a.astype(np.float64) - b.astype(np.float64)).mean() / 127.5)


def psnr(a, b):
  """Mean per-image PSNR; an image identical to its reference scores inf."""
  a, b = _pairs(a, b)
  mse = np.square(a.astype(np.float64) - b.astype(np.float64)).mean(axis=(1, 2, 3))
  with np.errstate(divide="ignore"):
    return float(np.mean(10.0 * np.log10(255.0 ** 2 / mse)))


def ssim(a, b):
  a, b = _pairs(a, b)
  win = min(7, min(a.shape[1:3]) - (1 - min(a.shape[1:3]) % 2))
  return float(np.mean([
      sk_metrics.structural_similarity(x, y, data_range=255, channel_axis=-1, win_size=win)
      for x, y in zip(a, b)]))


def colourfulness_per_image(images):
  """Hasler & Suesstrunk (2003), eq. 3 (their metric M^(3)): with rg = R - G and
  yb = (R + G) / 2 - B over an image's pixels (0..255),
  M = sqrt(std(rg)^2 + std(yb)^2) + 0.3 * sqrt(mean(rg)^2 + mean(yb)^2). Grey images score 0."""
  x = np.asarray(images, np.float64)
  if x.ndim != 4 or x.shape[-1] not in (1, 3):
    raise ValueError(f"expected NHWC images with 1 or 3 channels, got shape {x.shape}")
  if x.shape[-1] == 1:
    return np.zeros(len(x))
  r, g, b = x[..., 0], x[..., 1], x[..., 2]
  rg, yb = (r - g).reshape(len(x), -1), (0.5 * (r + g) - b).reshape(len(x), -1)
  spread = np.sqrt(rg.std(1) ** 2 + yb.std(1) ** 2)
  centre = np.sqrt(rg.mean(1) ** 2 + yb.mean(1) ** 2)
  return spread + 0.3 * centre


def colourfulness(images):
  return float(np.mean(colourfulness_per_image(images)))


def paired_metrics(outputs, targets):
  return {"l1": l1(outputs, targets), "psnr": psnr(outputs, targets),
          "ssim": ssim(outputs, targets)}
