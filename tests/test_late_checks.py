"""Mistakes the new families used to find late: each is one UserError line before the run writes
anything (no config.json, checkpoints/, metrics), so the corrected command starts afresh; and the
machine's faults during a run (a full disk under the metrics) are one line that says what is kept."""
import os

import pytest

from configs import stylegan_mnist
from gan_jax import loop
from gan_jax.errors import UserError


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
