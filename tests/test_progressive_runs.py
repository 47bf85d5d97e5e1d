"""Progressive growing through the loop: one program per stage, exact resume inside a fade-in, and
a schedule that does not fit the run as one error line."""
import json
import re
import shutil

import jax
import ml_collections
import numpy as np
import pytest

from configs import default
from configs import stylegan_defaults
from gan_jax import loop
from gan_jax.errors import UserError


def progan_digits(steps=8):
  """ProGAN's networks on scikit-learn's 8x8 digits: stages 4x4 and 8x8; stage 0 for 2 steps,
  the 8x8 fade-in over steps 2..5."""
  config = default.get_config()
  config.dataset.name = "digits"
  config.model.name = "progan"
  config.model.latent_dim = 8
  config.model.channel_base = 32
  config.model.channel_max = 8
  config.model.progressive = True
  config.progressive = ml_collections.ConfigDict(dict(fade_images=32, stable_images=16))
  config.batch_size = 8
  config.num_train_steps = steps
  config.steps_per_call = 1
  config.log_every_steps = 1
  config.sample_every_steps = 0
  config.checkpoint_every_steps = 1
  config.keep_checkpoints = steps
  config.ema.decay = 0.9
  return config


@pytest.mark.slow  # Runs through the loop, a program per stage: over 30 s.
def test_resume_inside_a_fade_in_is_exact_and_each_stage_compiles_once(tmp_path, capsys):
  straight = loop.train_and_evaluate(progan_digits(), str(tmp_path / "straight"))
  printed = capsys.readouterr().out
  assert len(re.findall(r"compiling the train step \(1 steps per call, stage 0\)", printed)) == 1
  assert len(re.findall(r"compiling the train step \(1 steps per call, stage 1\)", printed)) == 1
  # A run stopped after step 3 (alpha = 0.25 next): the straight run's folder without the later
  # checkpoints (a shorter num_train_steps would not fit the schedule, which is refused).
  shutil.copytree(tmp_path / "straight", tmp_path / "resumed")
  for folder in (tmp_path / "resumed" / "checkpoints").iterdir():
    if int(folder.name) > 3:
      shutil.rmtree(folder)
  resumed = loop.train_and_evaluate(progan_digits(), str(tmp_path / "resumed"))
  assert "Resumed from step 3" in capsys.readouterr().out
  assert int(resumed.step) == int(straight.step) == 8
  jax.tree.map(np.testing.assert_array_equal, jax.device_get(resumed.params()),
               jax.device_get(straight.params()))


@pytest.mark.slow  # Runs through the loop, a program per stage: over 30 s.
def test_stylegan_grows_through_the_loop(tmp_path):
  config = stylegan_defaults.stylegan()
  config.dataset.name = "digits"
  config.model.update(dict(z_dim=8, w_dim=8, channel_base=32, channel_max=8, progressive=True))
  config.progressive.update(dict(fade_images=16, stable_images=8))
  config.loss.update(dict(r1_interval=2, pl_weight=2.0, pl_interval=2))
  config.batch_size = 8
  config.num_train_steps = 4
  config.steps_per_call = 1
  config.log_every_steps = 1
  config.sample_every_steps = 4
  config.checkpoint_every_steps = 4
  state = loop.train_and_evaluate(config, str(tmp_path / "run"))
  assert int(state.step) == 4
  assert (tmp_path / "run" / "samples_0000004.png").exists()
  records = [json.loads(line) for line in
             (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
  np.testing.assert_allclose([r["alpha"] for r in records if "alpha" in r], [1.0, 0.0, 0.5, 1.0])


def test_a_schedule_that_does_not_fit_the_run_is_a_user_error(tmp_path):
  config = progan_digits(steps=4)
  with pytest.raises(UserError, match="needs 6 steps to fade in the last resolution; "
                                      "num_train_steps=4"):
    loop.train_and_evaluate(config, str(tmp_path / "run"))
  assert not (tmp_path / "run" / "checkpoints").exists()
