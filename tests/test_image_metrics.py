"""Image-quality metrics on images whose scores are known."""
import numpy as np
import pytest

from gan_jax import image_metrics


def _solid(rgb, n=1, size=8):
  return np.tile(np.asarray(rgb, np.uint8), (n, size, size, 1))


def test_colourfulness_known_values():
  grey = np.random.default_rng(0).integers(0, 256, (3, 8, 8, 1)).repeat(3, -1).astype(np.uint8)
  assert image_metrics.colourfulness(grey) == 0.0
  assert image_metrics.colourfulness(grey[..., :1]) == 0.0
  # One colour: no spread, M = 0.3 * |(mean rg, mean yb)|; red: rg = 255, yb = 127.5.
  np.testing.assert_allclose(image_metrics.colourfulness(_solid((255, 0, 0))),
                             0.3 * np.hypot(255, 127.5))
  # Half red, half green: rg = +-255 (std 255, mean 0), yb = 127.5 everywhere.
  image = _solid((255, 0, 0))
  image[:, :, 4:] = (0, 255, 0)
  np.testing.assert_allclose(image_metrics.colourfulness(image), 255 + 0.3 * 127.5)
  # The mean over images.
  both = np.concatenate([image, _solid((255, 0, 0))])
  np.testing.assert_allclose(image_metrics.colourfulness(both),
                             (255 + 0.3 * 127.5 + 0.3 * np.hypot(255, 127.5)) / 2)


def test_psnr_l1_and_ssim_known_values():
  a = _solid((100, 100, 100), n=2)
  b = a + np.uint8(10)
  np.testing.assert_allclose(image_metrics.psnr(a, b), 10 * np.log10(255 ** 2 / 100))
  np.testing.assert_allclose(image_metrics.l1(a, b), 10 / 127.5)
  assert image_metrics.psnr(a, a) == np.inf
  # Two flat images: SSIM's contrast-structure term is 1, its luminance term
  # (2 mx my + C1) / (mx^2 + my^2 + C1) with C1 = (0.01 * 255)^2.
  c1 = (0.01 * 255) ** 2
  np.testing.assert_allclose(image_metrics.ssim(a, b), (2 * 100 * 110 + c1) /
                             (100 ** 2 + 110 ** 2 + c1), rtol=1e-6)
  noise = np.random.default_rng(0).integers(0, 256, (2, 16, 16, 3)).astype(np.uint8)
  assert image_metrics.ssim(noise, noise) == pytest.approx(1.0)
  assert image_metrics.ssim(noise, 255 - noise) < 0
  assert set(image_metrics.paired_metrics(a, b)) == {"l1", "psnr", "ssim"}


def test_small_images_and_mismatched_shapes():
  tiny = np.random.default_rng(0).integers(0, 256, (2, 5, 5, 1)).astype(np.uint8)
  assert image_metrics.ssim(tiny, tiny) == pytest.approx(1.0)  # A 5x5 window.
  with pytest.raises(ValueError, match="one shape"):
    image_metrics.psnr(tiny, tiny[:1])
