"""text2image: captions, measured attributes, captioned data, matching-aware losses, networks."""
import json
import math
import re

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest
from PIL import Image

from gan_jax.errors import UserError
from gan_jax.families.text2image import attributes
from gan_jax.families.text2image import captions
from gan_jax.families.text2image import data
from gan_jax.families.text2image import losses
from gan_jax.families.text2image import models

# ------------------------------------------------------------------------ captions --


def test_captions_are_a_function_of_seed_and_index():
  levels = {"thickness": 1, "size": 0, "slant": 1}
  first = captions.image_captions(captions.DIGITS, 3, 17, 7, levels, 5)
  assert first == captions.image_captions(captions.DIGITS, 3, 17, 7, levels, 5)
  # The same image captioned inside a whole set, in any order, gets the same captions.
  labels = np.asarray([1, 7, 7, 2])
  rows = [{"thickness": 0, "size": 0, "slant": 0}, levels, levels, levels]
  whole = [captions.image_captions(captions.DIGITS, 3, i, labels[i], rows[i], 5)
           for i in (3, 2, 1, 0)]
  assert whole[2] == captions.image_captions(captions.DIGITS, 3, 1, 7, levels, 5)
  # Other seeds or indices give other draws (over 30 images, some caption differs).
  other_seed = [captions.image_captions(captions.DIGITS, 4, i, 7, levels, 5) for i in range(30)]
  same_seed = [captions.image_captions(captions.DIGITS, 3, i, 7, levels, 5) for i in range(30)]
  assert other_seed != same_seed
  assert len({tuple(c) for c in same_seed}) > 20


def test_captions_say_the_measured_attributes():
  rng = np.random.default_rng(0)
  thick_right = [captions.caption(captions.DIGITS, "train", rng, 7,
                                  {"thickness": 1, "size": 0, "slant": 1}) for _ in range(300)]
  words = " ".join(thick_right)
  assert re.search(r"\b(thick|bold|heavy)\b", words) and "right" in words
  for bad in ("thin", "fine", "delicate", "left", "upright", "small", "large", "big", "little"):
    assert not re.search(rf"\b{bad}\b", words), bad
  assert all(re.search(r"\bseven\b|\b7\b", c) for c in thick_right)
  # Some captions leave attributes out (the noise decides them then).
  assert any(not re.search(r"thick|bold|heavy", c) for c in thick_right)


@pytest.mark.parametrize("vocabulary", [captions.DIGITS, captions.OBJECTS])
def test_heldout_phrasings_never_in_training_captions(vocabulary):
  rng = np.random.default_rng(1)
  names = vocabulary.attributes
  markers = captions.heldout_markers(vocabulary)
  assert markers
  level_choices = {n: sorted(vocabulary.mention[n]) + [0] for n in names}
  train, heldout = set(), set()
  for _ in range(3000):
    label = int(rng.integers(10))
    levels = {n: rng.choice(level_choices[n]) for n in names}
    train.add(captions.caption(vocabulary, "train", rng, label, levels))
    heldout.add(captions.caption(vocabulary, "heldout", rng, label, levels))
  pattern = re.compile("|".join(rf"(?<![\w-]){re.escape(m)}(?![\w-])" for m in markers))
  assert not [c for c in train if pattern.search(c)]
  assert not [c for c in train if re.fullmatch(r"\d", c)]  # The bare numeral is held out.
  assert all(pattern.search(c) or re.fullmatch(r"\d", c) for c in heldout)
  assert not train & heldout


def test_articles():
  assert captions.fill("{a}{adjs}{noun}{post}", "eight", "8") == "an eight"
  assert captions.fill("{a}{adjs}{num}{post}", "eight", "8", ["thick"]) == "a thick 8"
  assert captions.fill("{a}{adjs}{num}{post}", "eight", "8") == "an 8"
  assert captions.fill("{a}{adjs}{noun}{post}", "one", "1", (), ["leaning left"]) == (
      "a one leaning left")
  assert captions.fill("an image of {a}{adjs}{noun}{post}", "automobile", "1") == (
      "an image of an automobile")


# ---------------------------------------------------------------------- attributes --


def _stroke(thickness, slant, size=28):
  """A vertical bar of `thickness` pixels, sheared by `slant` (dx per dy, right-leaning > 0)."""
  img = np.zeros((size, size), np.uint8)
  for row in range(4, 24):
    start = int(np.floor(14 + slant * (14 - row) - thickness / 2))
    img[row, start:start + thickness] = 255
  return img[..., None]


def test_digit_attributes_measure_what_they_say():
  images = np.stack([_stroke(2, 0), _stroke(5, 0), _stroke(3, 0.4), _stroke(3, -0.4)])
  measured = attributes.digit_attributes(images)
  # A w x 20 bar: mass 20 w over a boundary of 2 (20 + w) - 4 pixels (its ends shorten it).
  np.testing.assert_allclose(measured["thickness"][:2], [2 * 40 / 40, 2 * 100 / 46], rtol=1e-6)
  assert measured["slant"][2] == pytest.approx(0.4, abs=0.08)
  assert measured["slant"][3] == pytest.approx(-0.4, abs=0.08)
  assert abs(measured["slant"][0]) < 1e-5
  assert measured["size"][1] == 20 * 5
  # The same numbers from [-1, 1] floats.
  floats = attributes.digit_attributes(images.astype(np.float32) / 127.5 - 1.0)
  np.testing.assert_allclose(floats["thickness"], measured["thickness"], rtol=1e-5)


def test_colour_names_and_background():
  red_on_dark = np.zeros((1, 32, 32, 3), np.uint8)
  red_on_dark[:, 8:24, 8:24] = (200, 20, 30)
  blue_on_light = np.full((1, 32, 32, 3), 230, np.uint8)
  blue_on_light[:, 8:24, 8:24] = (30, 40, 200)
  measured = attributes.colour_attributes(np.concatenate([red_on_dark, blue_on_light]))
  names = [attributes.COLOUR_NAMES[i] for i in measured["colour"]]
  assert names == ["red", "blue"]
  assert measured["brightness"][0] == 0 and measured["brightness"][1] > 0.85


def test_levels_are_thirds_within_each_class():
  values = np.concatenate([np.arange(9.0), 100 + np.arange(9.0)])
  labels = np.repeat([0, 1], 9)
  lv = attributes.levels(values, labels)
  np.testing.assert_array_equal(lv[:9], [-1, -1, -1, 0, 0, 0, 1, 1, 1])
  np.testing.assert_array_equal(lv[9:], lv[:9])


# ------------------------------------------------------------- the user's captions --


def _folder(tmp_path, names=("a.png", "b.png", "c.png")):
  root = tmp_path / "images"
  root.mkdir()
  for i, name in enumerate(names):
    Image.fromarray(np.full((8, 8, 3), 40 * i, np.uint8)).save(root / name)
  return root


def _config(root, captions_file):
  return ml_collections.ConfigDict({"path": str(root), "captions": str(captions_file),
                                    "image_size": 0, "grayscale": False})


def test_captions_file_jsonl_and_csv(tmp_path, monkeypatch):
  monkeypatch.setenv("GAN_JAX_CACHE", str(tmp_path / "cache"))
  root = _folder(tmp_path)
  jsonl = tmp_path / "c.jsonl"
  jsonl.write_text("\n".join(json.dumps(r) for r in [
      {"image": "a.png", "caption": "a dark square"},
      {"image": "b.png", "captions": ["a grey square", "a dim  square"]},
      {"image": "c.png", "caption": "a dark square"}]) + "\n")
  images, labels, _, texts, ids = data.read_captioned_folder(_config(root, jsonl), jsonl)
  assert images.shape == (3, 8, 8, 3)
  assert [[texts[k] for k in row] for row in ids] == [
      ["a dark square"] * 2, ["a grey square", "a dim square"], ["a dark square"] * 2]
  assert labels[0] == labels[2] != labels[1]  # Equal caption sets describe the same thing.
  csv_file = tmp_path / "c.csv"
  csv_file.write_text('image,caption\na.png,one\nb.png,"two, with a comma"\nc.png,three\n')
  _, _, _, texts, ids = data.read_captioned_folder(_config(root, csv_file), csv_file)
  assert [texts[row[0]] for row in ids] == ["one", "two, with a comma", "three"]


@pytest.mark.parametrize("content, message", [
    ('{"image": "a.png", "caption": "x"}\n{"image": "b.png", "caption": "y"}\n',
     r"1 image\(s\) .* have no caption, e.g. 'c.png'"),
    ('{"image": "a.png", "caption": "x"}\n{"image": "zzz.png", "caption": "y"}\n',
     r"not in .*, e.g. 'zzz.png'"),
    ('{"image": "a.png", "caption": "x"}\nnot json\n', r"c.jsonl:2: not a JSON object"),
    ('{"image": "a.png", "caption": "   "}\n', r"c.jsonl:1: a caption of 'a.png' is empty"),
    ('{"image": "a.png"}\n', r'c.jsonl:1: each line needs "image" and "caption"'),
    ('\n\n', r"holds no captions"),
])
def test_bad_captions_file_is_one_clear_error(tmp_path, content, message):
  root = _folder(tmp_path)
  path = tmp_path / "c.jsonl"
  path.write_text(content)
  with pytest.raises(UserError, match=message):
    data.read_captioned_folder(_config(root, path), path)


def test_bad_captions_file_formats(tmp_path):
  root = _folder(tmp_path)
  latin1 = tmp_path / "c.csv"
  latin1.write_bytes("image,caption\na.png,caf\xe9\n".encode("latin-1"))
  with pytest.raises(UserError, match="is not UTF-8"):
    data.read_captioned_folder(_config(root, latin1), latin1)
  no_column = tmp_path / "d.csv"
  no_column.write_text("file,text\na.png,x\n")
  with pytest.raises(UserError, match="must name the columns 'image' and 'caption'"):
    data.read_captioned_folder(_config(root, no_column), no_column)
  with pytest.raises(UserError, match="is not a file"):
    data.read_captioned_folder(_config(root, tmp_path / "nope.jsonl"), tmp_path / "nope.jsonl")


# ----------------------------------------------------------------- losses and nets --


def test_mismatched_pairs_never_share_the_caption_class():
  rng = np.random.default_rng(0)
  partners_fn = jax.jit(losses.mismatch_partners)
  for trial in range(200):
    num_classes = 1 + trial % 5
    labels = jnp.asarray(rng.integers(num_classes, size=16))
    partners, valid = partners_fn(labels, jax.random.key(trial))
    partners, valid, labels = map(np.asarray, (partners, valid, labels))
    has_other = np.asarray([(labels != y).any() for y in labels])
    np.testing.assert_array_equal(valid, has_other)
    assert (labels[partners][valid] != labels[valid]).all()


def test_mismatch_partners_are_uniform_over_other_classes():
  labels = jnp.asarray([0, 0, 1, 2, 2, 2])
  partners, _ = jax.jit(jax.vmap(lambda k: losses.mismatch_partners(labels, k)))(
      jax.random.split(jax.random.key(0), 3000))
  counts = np.bincount(np.asarray(partners[:, 0]), minlength=6)
  assert counts[:2].sum() == 0
  np.testing.assert_allclose(counts[2:] / 3000, 0.25, atol=0.03)


def test_rolled_batch_would_pair_same_class_captions():
  """Why not DF-GAN's roll: in a 10-class batch of 64 it pairs same-class captions often."""
  labels = np.random.default_rng(0).integers(10, size=64)
  assert (np.roll(labels, 1) == labels).sum() > 0


def test_ma_gp_known_value_on_an_analytic_discriminator():
  # D(x, e) = <w, x> <v, e>: grad_x = w <v, e>, grad_e = v <w, x>.
  key_w, key_v, key_x, key_e = jax.random.split(jax.random.key(0), 4)
  w = jax.random.normal(key_w, (4, 4, 1))
  v = jax.random.normal(key_v, (6,))
  x = jax.random.normal(key_x, (5, 4, 4, 1))
  e = jax.random.normal(key_e, (5, 6))
  judge = lambda x, e: jnp.sum(x * w, axis=(1, 2, 3)) * (e @ v)
  wx, ve = np.asarray(jnp.sum(x * w, axis=(1, 2, 3))), np.asarray(e @ v)
  norm_squared = float(jnp.sum(w ** 2)) * ve ** 2 + float(jnp.sum(v ** 2)) * wx ** 2
  for power in (2.0, 6.0):
    expected = np.mean(norm_squared ** (power / 2))
    got = losses.matching_aware_gradient_penalty(judge, x, e, power)
    np.testing.assert_allclose(got, expected, rtol=1e-5)


def test_hinge_terms():
  real = jnp.asarray([2.0, 0.5])
  fake = jnp.asarray([-2.0, 0.0])
  mismatch = jnp.asarray([1.0, 100.0])
  loss, terms = losses.discriminator_hinge(real, fake, mismatch, jnp.asarray([True, False]))
  assert terms["d_loss_real"] == pytest.approx(0.25)   # mean(0, 0.5)
  assert terms["d_loss_fake"] == pytest.approx(0.5)    # mean(0, 1)
  assert terms["d_loss_mismatch"] == pytest.approx(2.0)  # The masked row is left out.
  assert loss == pytest.approx(0.25 + 0.5 * 0.5 + 0.5 * 2.0)
  assert losses.generator_hinge(fake) == pytest.approx(1.0)


@pytest.mark.slow  # 39 s on 2 shared cores: seven compiled programs of G and D.
def test_networks():
  """Shapes, the unconditioned start, D's features/judge split. (Conditioning augmentation and
  32 px colour images run in tests/test_text2image_loop.py.)"""
  shape, ca = (28, 28, 1), 0
  g = models.Generator(shape, (16, 8, 8), conditioning_augmentation=ca)
  d = models.Discriminator((8, 8, 16), sentence_features=8)
  z = jax.random.normal(jax.random.key(0), (3, 10))
  sentence = jax.random.normal(jax.random.key(1), (3, 384))
  sentence = sentence / jnp.linalg.norm(sentence, axis=1, keepdims=True)
  rngs = {"params": jax.random.key(2), "augment": jax.random.key(3)}
  g_vars = jax.jit(g.init)(rngs, z, sentence)
  generate = jax.jit(lambda e, train: g.apply(g_vars, z, e, train=train,
                                              rngs={"augment": jax.random.key(4)}),
                     static_argnums=1)
  images, kl = generate(sentence, True)
  assert images.shape == (3,) + shape and float(jnp.abs(images).max()) <= 1.0
  assert (kl > 0) if ca else (kl == 0)
  if not ca:
    # DF-GAN's affine transforms start as the identity (gamma 1, beta 0): at initialisation the
    # sentence does not change the images yet.
    np.testing.assert_allclose(generate(jnp.roll(sentence, 1, axis=0), False)[0],
                               generate(sentence, False)[0], atol=1e-6)
  d_vars = jax.jit(d.init)(jax.random.key(5), images, sentence)
  apply_d = jax.jit(lambda x, e: d.apply(d_vars, x, e))
  logits = apply_d(images, sentence)
  assert logits.shape == (3,)
  judged = jax.jit(lambda x, e: d.apply(d_vars, d.apply(d_vars, x, method="features"), e,
                                        method="judge"))(images, sentence)
  np.testing.assert_allclose(judged, logits, atol=1e-6)
  # Rows are independent (what the penalty's per-example gradient relies on).
  np.testing.assert_allclose(apply_d(images[:1], sentence[:1]), logits[:1], atol=1e-5)
  assert math.isfinite(float(kl))


# ------------------------------------------------------------------ R-precision --


class _FixedMatcher:
  """Image vectors given as the 'images' themselves; text vectors the sentences."""

  def image_vectors(self, images):
    return np.asarray(images, np.float32)

  def text_vectors(self, sentences):
    return np.asarray(sentences, np.float32)


def test_r_precision_known_values():
  from gan_jax.families.text2image import matching  # pylint: disable=g-import-not-at-top
  eye = np.eye(10, dtype=np.float32)
  labels = np.arange(10)
  pool, pool_labels = np.repeat(eye, 20, 0), np.repeat(labels, 20)
  # Images equal to their own sentences: always first.
  assert matching.r_precision(_FixedMatcher(), eye, eye, labels, pool, pool_labels,
                              np.random.default_rng(0), num_candidates=50) == 1.0
  # Images pointing at the next class's sentence: their own never ranks first.
  wrong = np.roll(eye, 1, axis=0)
  assert matching.r_precision(_FixedMatcher(), wrong, eye, labels, pool, pool_labels,
                              np.random.default_rng(0), num_candidates=50) == 0.0


def test_contrastive_loss_ignores_duplicate_captions():
  from gan_jax.families.text2image import matching  # pylint: disable=g-import-not-at-top
  v = jnp.asarray([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
  # Rows 0 and 1 share a caption: matching each other's text is not an error.
  same = matching.contrastive_loss(v, v, jnp.asarray([5, 5, 7]), temperature=0.1)
  apart = matching.contrastive_loss(v, v, jnp.asarray([5, 6, 7]), temperature=0.1)
  assert float(same) < 1e-3 < float(apart)


# ------------------------------------------------------------------ config checks --


@pytest.mark.parametrize("key, value, message", [
    ("loss.mismatch_weight", 1.5, r"loss.mismatch_weight=1.5 is out of range; allowed: a number "
                                  r"in \[0, 1\]"),
    ("loss.ma_gp_power", 0.0, r"loss.ma_gp_power=0.0 .* > 0"),
    ("model.g_widths", (64, 0, 16), r"model.g_widths=\(64,0,16\): entry 1"),
    ("model.conditioning_augmentation", -1, r"model.conditioning_augmentation=-1 .* >= 0"),
    ("dataset.captions_per_image", 0, r"dataset.captions_per_image=0 .* >= 1"),
])
def test_bad_config_values_are_refused_before_the_run(key, value, message):
  from configs import text2image_digits  # pylint: disable=g-import-not-at-top
  from gan_jax import loop  # pylint: disable=g-import-not-at-top
  config = text2image_digits.get_config()
  loop.validate_config(config)  # The shipped config passes.
  section, name = key.split(".")
  config[section][name] = value
  with pytest.raises(UserError, match=message):
    loop.validate_config(config)
