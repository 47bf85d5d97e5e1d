"""Range checks of config values: every shipped config passes, each bad value is refused with its
key, its value and the allowed range, and a family can add its own rules."""
import glob
import importlib
import os

import ml_collections
import pytest

from gan_jax import config_checks
from gan_jax.errors import UserError

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _configs():
  for path in sorted(glob.glob(os.path.join(ROOT, "configs", "*.py"))):
    name = os.path.basename(path)[:-3]
    if "def get_config(" not in open(path).read():
      continue
    module = importlib.import_module(f"configs.{name}")
    yield name, module.get_config()


def test_every_shipped_config_passes():
  names = []
  for name, config in _configs():
    config_checks.check(config)
    names.append(name)
  assert "wgan_gp" in names and "gan_mlp" in names


def _default():
  from configs import default  # pylint: disable=g-import-not-at-top
  return default.get_config()


@pytest.mark.parametrize("key, value, message", [
    ("g_optimizer.learning_rate", 0.0,
     "g_optimizer.learning_rate=0.0 is out of range; allowed: a number > 0"),
    ("d_optimizer.learning_rate", -1e-4, "d_optimizer.learning_rate=-0.0001 is out of range"),
    ("g_optimizer.b1", 1.0, "allowed: a number in [0, 1)"),
    ("ema.decay", 1.0, "ema.decay=1.0 is out of range; allowed: a number in [0, 1) (0 = no EMA)"),
    ("ema.decay", -0.1, "ema.decay=-0.1 is out of range"),
    ("model.d_dropout", 1.0, "model.d_dropout=1.0 is out of range; allowed: a number in [0, 1)"),
    ("model.d_dropout", -0.5, "model.d_dropout=-0.5"),
    ("loss.label_smoothing", 1.0, "loss.label_smoothing=1.0 is out of range; allowed: a number in "
     "[0, 1)"),
    ("loss.gp_weight", -10.0, "loss.gp_weight=-10.0 is out of range; allowed: a number >= 0 (0 = "
     "off)"),
    ("loss.r1_gamma", -1.0, "loss.r1_gamma=-1.0"),
    ("loss.dragan_weight", -1.0, "loss.dragan_weight=-1.0"),
    ("loss.clip_value", -0.01, "loss.clip_value=-0.01"),
    ("loss.instance_noise", -0.1, "loss.instance_noise=-0.1"),
    ("loss.label_flip_prob", 1.5, "allowed: a number in [0, 1]"),
    ("dataset.num_examples", -1, "dataset.num_examples=-1 is out of range; allowed: an integer >= "
     "0 (0 = fresh samples every step, for 2D mixtures)"),
    ("model.latent_dim", 0, "model.latent_dim=0 is out of range; allowed: an integer >= 1"),
    ("model.latent_dim", -3, "model.latent_dim=-3"),
    ("model.g_hidden", (64, 0), "model.g_hidden=(64,0): entry 1 (0) is out of range; allowed: an "
     "integer >= 1 each"),
    ("model.d_hidden", (64, "abc"), "entry 1 ('abc') is out of range"),
    ("batch_size", 0, "batch_size=0 is out of range; allowed: an integer >= 1"),
    ("n_critic", 0, "n_critic=0"),
    ("steps_per_call", 0, "steps_per_call=0"),
    ("fid.num_samples", 1, "fid.num_samples=1 is out of range; allowed: an integer >= 2"),
])
def test_values_out_of_range_are_refused_with_the_range(key, value, message):
  config = _default()
  section, _, name = key.rpartition(".")
  target = config[section] if section else config
  with target.ignore_type():
    target[name] = value
  with pytest.raises(UserError) as e:
    config_checks.check(config)
  assert message in str(e.value)
  assert "\n" not in str(e.value)


def test_boundaries_are_allowed():
  config = _default()
  config.ema.decay = 0.0
  config.model.d_dropout = 0.0
  config.loss.label_smoothing = 0.0
  config.loss.gp_weight = 0.0
  config.loss.label_flip_prob = 1.0
  config.dataset.num_examples = 0
  config.model.latent_dim = 1
  config.model.g_hidden = ()  # No hidden layer: a linear generator.
  config.g_optimizer.learning_rate = 1e-12
  config_checks.check(config)


def test_any_optimizer_and_penalty_weight_of_a_family_is_covered():
  config = ml_collections.ConfigDict(dict(
      e_optimizer=dict(name="adam", learning_rate=-1.0),
      loss=dict(l1_weight=100.0, lambda_cycle=10.0)))
  with pytest.raises(UserError, match="e_optimizer.learning_rate=-1.0"):
    config_checks.check(config)
  config.e_optimizer.learning_rate = 2e-4
  config_checks.check(config)
  config.loss.lambda_cycle = -10.0
  with pytest.raises(UserError, match=r"loss.lambda_cycle=-10.0 is out of range; allowed: a "
                     r"number >= 0 \(0 = off\)"):
    config_checks.check(config)
  config.loss.lambda_cycle = 10.0
  config.loss.l1_weight = -1.0
  with pytest.raises(UserError, match="loss.l1_weight=-1.0"):
    config_checks.check(config)


def test_a_family_adds_its_own_rules():
  config = ml_collections.ConfigDict(dict(pool_size=-1, model=dict(ngf=64)))
  config_checks.check(config)  # The shared rules know neither key.
  rules = (("pool_size", config_checks.count(0, "0 = no image pool")),
           ("model.ngf", config_checks.count(1)))
  with pytest.raises(UserError, match=r"pool_size=-1 is out of range; allowed: an integer >= 0 "
                     r"\(0 = no image pool\)"):
    config_checks.check(config, extra=rules)
  config.pool_size = 50
  config_checks.check(config, extra=rules)


def test_switches_and_unset_values_are_not_numbers_to_check():
  config = ml_collections.ConfigDict(dict(model=dict(use_dropout=True, d_dropout=None)))
  config_checks.check(config)
  config = ml_collections.ConfigDict(dict(model=dict(latent_dim="64")))
  with pytest.raises(UserError, match="model.latent_dim='64' is out of range; allowed: an "
                     "integer >= 1"):
    config_checks.check(config)


def test_range_text():
  assert config_checks.unit().describe() == "a number in [0, 1)"
  assert config_checks.unit(high_open=False).describe() == "a number in [0, 1]"
  assert config_checks.above(0.0).describe() == "a number > 0"
  assert config_checks.count(2).describe() == "an integer >= 2"
  assert config_checks.Range(high=5.5).describe() == "a number <= 5.5"
  assert not config_checks.above(0.0).contains(float("nan"))
  assert not config_checks.count(1).contains(2.0)  # A float where an integer is needed.
  assert config_checks.at_least(0.0).contains(3)  # An int where a float is allowed.
