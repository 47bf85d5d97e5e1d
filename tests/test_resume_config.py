"""What a resumed run may change in config.json: step counts and cadences, and the numbers that live
in the train state (learning rates, betas, loss weights) as long as the step's structure stays;
everything else is another experiment."""
import json
import os

import pytest

from configs import gan_mlp
from configs import wgan_gp
from gan_jax import loop
from gan_jax.errors import UserError


def _written(tmp_path, config):
  assert loop.write_config(str(tmp_path), config) == {}
  path = os.path.join(tmp_path, "config.json")
  return path, os.path.getmtime(path)


def test_a_plain_resume_writes_nothing(tmp_path):
  config = gan_mlp.get_config()
  path, mtime = _written(tmp_path, config)
  assert loop.write_config(str(tmp_path), config) == {}
  assert os.path.getmtime(path) == mtime
  config.num_train_steps *= 2  # More steps: allowed, recorded.
  assert loop.write_config(str(tmp_path), config) == {}
  with open(path) as f:
    assert json.load(f)["num_train_steps"] == config.num_train_steps


def test_learning_rates_and_loss_weights_may_change(tmp_path):
  config = wgan_gp.get_config()
  path, _ = _written(tmp_path, config)
  g_lr, d_lr = config.g_optimizer.learning_rate, config.d_optimizer.learning_rate
  config.g_optimizer.learning_rate = config.d_optimizer.learning_rate = 3e-5
  config.d_optimizer.b2 = 0.99
  config.loss.gp_weight = 5.0
  changed = loop.write_config(str(tmp_path), config)
  assert changed == {"g_optimizer.learning_rate": (g_lr, 3e-5),
                     "d_optimizer.learning_rate": (d_lr, 3e-5),
                     "d_optimizer.b2": (0.9, 0.99), "loss.gp_weight": (10.0, 5.0)}
  with open(path) as f:
    saved = json.load(f)
  assert saved["g_optimizer"]["learning_rate"] == 3e-5 and saved["loss"]["gp_weight"] == 5.0


@pytest.mark.parametrize("change, differs", [
    (lambda c: setattr(c.model, "g_hidden", (32,)), "model.g_hidden"),
    (lambda c: setattr(c, "seed", 1), "seed"),  # A number, but not one the state holds.
    (lambda c: setattr(c, "batch_size", 32), "batch_size"),
    (lambda c: setattr(c.g_optimizer, "name", "sgd"), "g_optimizer.name"),
    # 0 switches the penalty off when the step is built: a structural change.
    (lambda c: setattr(c.loss, "gp_weight", 10.0), "loss.gp_weight"),
])
def test_structural_changes_are_refused(change, differs, tmp_path):
  config = gan_mlp.get_config()
  path, mtime = _written(tmp_path, config)
  change(config)
  with pytest.raises(UserError, match=rf"holds a run with another config \(differs in "
                     rf"{differs}\)"):
    loop.write_config(str(tmp_path), config)
  assert os.path.getmtime(path) == mtime


def test_sweeps_keep_every_number(tmp_path):
  config = gan_mlp.get_config()
  _written(tmp_path, config)
  config.g_optimizer.learning_rate = 1e-3
  with pytest.raises(UserError, match="differs in g_optimizer.learning_rate"):
    loop.write_config(str(tmp_path), config, numbers_may_change=False)


def test_the_resumed_state_trains_with_the_new_numbers(tmp_path):
  config = gan_mlp.get_config()
  config.update(dict(num_train_steps=10, steps_per_call=10, log_every_steps=10,
                     checkpoint_every_steps=10, sample_every_steps=0))
  config.model.g_hidden = config.model.d_hidden = (16,)
  workdir = str(tmp_path / "run")
  state = loop.train_and_evaluate(config, workdir)
  assert float(state.nets["g"].opt_state.hyperparams["learning_rate"]) == pytest.approx(1e-4)
  config.num_train_steps = 20
  config.g_optimizer.learning_rate = 1e-3
  state = loop.train_and_evaluate(config, workdir)
  assert int(state.step) == 20
  assert float(state.nets["g"].opt_state.hyperparams["learning_rate"]) == pytest.approx(1e-3)
  assert float(state.nets["d"].opt_state.hyperparams["learning_rate"]) == pytest.approx(1e-4)
