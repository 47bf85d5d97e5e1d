"""Mistakes the new families used to find late: each is one UserError line before the run writes
anything (no config.json, checkpoints/, metrics), so the corrected command starts afresh; and the
machine's faults during a run (a full disk under the metrics) are one line that says what is kept."""
import json
import os

import numpy as np
from PIL import Image
import pytest

from configs import pix2pix_edges2digits
from configs import stylegan_mnist
from configs import text2image_digits
from gan_jax import loop
from gan_jax.errors import UserError
from test_cyclegan_family import tiny_config as tiny_cyclegan_config


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
  monkeypatch.setenv("GAN_JAX_CACHE", str(tmp_path / "cache"))


def shrink(config, steps=2):
  """A few steps of batch 2, every periodic action at the end."""
  config.num_train_steps = steps
  config.batch_size = 2
  config.steps_per_call = 1
  for key in ("log_every_steps", "sample_every_steps", "checkpoint_every_steps"):
    config[key] = steps
  config.eval_every_steps = 0
  config.num_grid_samples = 4
  return config


def refused(config, workdir, match):
  """The run's UserError (one line, matching `match`); the workdir holds nothing afterwards."""
  with pytest.raises(UserError, match=match) as e:
    loop.train_and_evaluate(config, str(workdir))
  assert "\n" not in str(e.value)
  assert not os.path.exists(workdir) or os.listdir(workdir) == [], os.listdir(workdir)
  return str(e.value)


def tiny_stylegan():
  config = shrink(stylegan_mnist.get_config())
  config.model.update(dict(z_dim=8, w_dim=8, mapping_layers=1, channel_base=64, channel_max=16))
  return config


def test_stylegan_minibatch_std_channels_must_divide_the_width(tmp_path):
  config = tiny_stylegan()
  config.model.mbstd_num_channels = 3  # D's 4x4 width: min(64 / 4, 16) = 16.
  message = refused(config, tmp_path / "run", r"model.mbstd_num_channels=3 must divide D's 4x4 "
                                              r"width 16")
  assert "allowed: 0 (off) or 1, 2, 4, 8, 16" in message


def captioned_squares(root):
  """16 tiny images of red or blue squares and a captions file (dataset.captions) for them."""
  folder = root / "squares"
  folder.mkdir(parents=True)
  records = []
  for i in range(16):
    colour = ("red", (220, 30, 30)) if i % 2 else ("blue", (30, 30, 220))
    image = np.full((8, 8, 3), 20, np.uint8)
    image[2:6, 2:6] = colour[1]
    Image.fromarray(image).save(folder / f"{i:02d}.png")
    records.append({"image": f"{i:02d}.png", "captions": [f"a {colour[0]} square"]})
  captions = root / "captions.jsonl"
  captions.write_text("\n".join(json.dumps(r) for r in records))
  return str(folder), str(captions)


def test_text2image_mode_seeking_needs_pairs_before_anything_is_written(tmp_path):
  config = shrink(text2image_digits.get_config())
  config.dataset.name = "image_folder"
  config.dataset.path, config.dataset.captions = captioned_squares(tmp_path)
  config.dataset.captions_per_image = 1
  config.model.update(dict(latent_dim=4, g_widths=(8, 8), d_widths=(8, 8)))
  config.batch_size = 1
  assert config.loss.mode_seeking_weight > 0
  refused(config, tmp_path / "run", r"mode_seeking_weight > 0 compares pairs of fakes: each "
                                    r"device needs a batch of 2 or more, not 1")


def test_cyclegan_evaluation_without_heldout_images_is_refused_before_writing(tmp_path):
  config = tiny_cyclegan_config(tmp_path / "data")
  config.dataset.heldout = 0
  config.eval_every_steps = 2
  refused(config, tmp_path / "run", r"in-loop evaluation needs held-out images: set "
                                    r"dataset.heldout > 0")


def tiny_pix2pix():
  config = shrink(pix2pix_edges2digits.get_config())
  config.dataset.update(dict(max_images=24, num_heldout=4))
  config.model.update(dict(g_width=4, d_width=4, d_layers=1))
  return config


@pytest.mark.parametrize("direction, match", [
    ("sideways", r"dataset.direction='sideways' is unknown; allowed: a2b, b2a"),
    ("b2a", r"dataset.direction='b2a': dataset.name=edges2digits makes its pairs one way"),
])
def test_pix2pix_direction_is_checked_for_every_task(tmp_path, direction, match):
  config = tiny_pix2pix()
  config.dataset.direction = direction
  refused(config, tmp_path / "run", match)


def test_pix2pix_decay_longer_than_the_run_is_refused_as_cyclegan_refuses_it(tmp_path):
  config = tiny_pix2pix()
  config.lr_schedule.decay_steps = 999999
  refused(config, tmp_path / "run", r"lr_schedule.decay_steps=999999 must be between 0 and "
                                    r"num_train_steps=2 \(or -1: half of it\)")
  config = tiny_cyclegan_config(tmp_path / "data")
  config.decay_steps = 999999
  refused(config, tmp_path / "run", r"^decay_steps=999999 must be between 0 and "
                                    r"num_train_steps=4 \(or -1: half of it\)")
