"""Latent-space operations: interpolation paths, the attribute measures on drawn images, and the
concept-vector arithmetic's exemplar choice."""
import numpy as np
import pytest

from gan_jax import latent_tools


def test_slerp_stays_on_the_sphere_and_hits_the_ends():
  rng = np.random.default_rng(0)
  a, b = rng.normal(size=(2, 64))
  a, b = a / np.linalg.norm(a) * 8, b / np.linalg.norm(b) * 8
  path = latent_tools.slerp(np.broadcast_to(a, (5, 64)), np.broadcast_to(b, (5, 64)),
                            np.linspace(0, 1, 5))
  np.testing.assert_allclose(path[0], a, rtol=1e-5, atol=1e-5)
  np.testing.assert_allclose(path[-1], b, rtol=1e-5, atol=1e-5)
  np.testing.assert_allclose(np.linalg.norm(path, axis=1), 8.0, rtol=1e-5)
  # Equal angles between consecutive points.
  angles = [np.arccos(np.dot(p, q) / 64) for p, q in zip(path[:-1], path[1:])]
  np.testing.assert_allclose(angles, angles[0], rtol=1e-4)
  # Parallel inputs: the straight line, no division by zero.
  np.testing.assert_allclose(latent_tools.slerp(a, 2 * a, 0.5), 1.5 * a, rtol=1e-5)


def test_loop_path_is_closed_and_passes_the_keyframes():
  keys = np.eye(3, dtype=np.float32)
  path = latent_tools.loop_path(keys, 4, spherical=False)
  assert path.shape == (12, 3)
  np.testing.assert_allclose(path[::4], keys, atol=1e-6)
  rows = latent_tools.interpolation_rows(keys[:2], keys[1:], 3, spherical=False)
  np.testing.assert_allclose(rows, [[1, 0, 0], [.5, .5, 0], [0, 1, 0],
                                    [0, 1, 0], [0, .5, .5], [0, 0, 1]], atol=1e-6)


def test_rows_of_per_layer_w_interpolate_every_layer():
  """StyleGAN's w is (num_ws, d) per latent: the fractions broadcast over both axes."""
  rng = np.random.default_rng(0)
  starts, ends = rng.normal(size=(2, 2, 4, 3)).astype(np.float32)  # 2 rows, 4 layers, d = 3.
  rows = latent_tools.interpolation_rows(starts, ends, 3, spherical=False)
  assert rows.shape == (6, 4, 3)
  np.testing.assert_allclose(rows[1], (starts[0] + ends[0]) / 2, rtol=1e-6)
  np.testing.assert_allclose(rows[5], ends[1], rtol=1e-6)
  path = latent_tools.slerp(starts, ends, np.array([0.0, 1.0]))
  np.testing.assert_allclose(path, np.stack([starts[0], ends[1]]), rtol=1e-5, atol=1e-6)


def _image(draw):
  """A 28x28 light-on-dark image in [-1, 1] from a boolean mask function of (row, col)."""
  r, c = np.mgrid[:28, :28]
  return np.where(draw(r, c), 1.0, -1.0)[..., None].astype(np.float32)


def test_stroke_width_of_bars():
  thin = _image(lambda r, c: (abs(c - 14) < 1) & (r > 4) & (r < 24))    # 1 pixel wide
  thick = _image(lambda r, c: (abs(c - 14) < 3) & (r > 4) & (r < 24))   # 5 pixels wide
  widths = latent_tools.stroke_width(np.stack([thin, thick]))
  assert widths[0] == pytest.approx(1.0, abs=0.2)
  assert widths[1] == pytest.approx(5.0, rel=0.3)
  assert latent_tools.stroke_width(np.full((1, 28, 28, 1), -1.0))[0] == 0.0


def test_slant_sign_and_angle():
  upright = _image(lambda r, c: (abs(c - 14) < 2) & (r > 4) & (r < 24))
  right = _image(lambda r, c: (abs((c - 14) + (r - 14) * 0.5) < 2) & (r > 4) & (r < 24))  # '/'
  left = _image(lambda r, c: (abs((c - 14) - (r - 14) * 0.5) < 2) & (r > 4) & (r < 24))   # '\'
  s = latent_tools.slant(np.stack([upright, right, left]))
  assert abs(s[0]) < 0.02
  assert s[1] == pytest.approx(np.arctan(0.5), abs=0.05)
  assert s[2] == pytest.approx(-np.arctan(0.5), abs=0.05)


def test_brightness():
  images = np.stack([np.full((4, 4, 3), -1.0), np.full((4, 4, 3), 0.0), np.full((4, 4, 3), 1.0)])
  np.testing.assert_allclose(latent_tools.brightness(images), [0.0, 0.5, 1.0])


def test_concept_arithmetic_picks_exemplars_by_class_and_attribute():
  """With latents whose first coordinate is the attribute and second the class, the concept
  vector high(A) - low(A) + low(C) lands at a high attribute in class C."""
  rng = np.random.default_rng(0)
  n = 400
  classes = rng.integers(0, 2, n)
  values = rng.normal(size=n)
  latents = np.stack([values, classes.astype(float), rng.normal(size=n) * 0.01], 1)
  results, means = latent_tools.concept_arithmetic(
      latents, values, classes, source_class=0, target_class=1, exemplars=3, trials=20,
      rng=np.random.default_rng(1))
  assert results.shape == (20, 3) and means.shape == (20, 3, 3)
  bases = means[:, 2]
  np.testing.assert_allclose(results, means[:, 0] - means[:, 1] + bases, rtol=1e-6)
  high = np.quantile(values, 0.75)
  assert (results[:, 0] > np.quantile(values, 0.5)).all()   # the intended attribute
  assert (bases[:, 0] < -high / 2).all()                      # the control: low attribute
  np.testing.assert_allclose(results[:, 1], 1.0)              # class C kept
  with pytest.raises(ValueError, match="candidate exemplars"):
    latent_tools.concept_arithmetic(latents[:8], values[:8], classes[:8], 0, 1, exemplars=3,
                                    trials=1, rng=np.random.default_rng(0))
