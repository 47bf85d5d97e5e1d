"""Command-line mistakes end as one `error:` line and exit 2 (a small absl program through
`cli.run`, as gan_jax.main parses its flags); signals end as one line and their status."""
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PROGRAM = """
import sys
from absl import flags
from ml_collections import config_flags
from gan_jax import cli, signals
config_flags.DEFINE_config_file("config", None, "config", lock_config=True)
flags.DEFINE_string("workdir", None, "workdir")
flags.DEFINE_string("then", "", "what main does")
KEPT = []

def main(argv):
  if flags.FLAGS.then == "stop":
    import signal
    raise signals.Stopped(signal.SIGINT, "stopped by SIGINT at step 7: checkpoint saved")
  if flags.FLAGS.then == "ctrl-c":
    raise KeyboardInterrupt
  if flags.FLAGS.then == "error-leaving-a-coroutine":
    async def pending():
      pass
    KEPT.append(pending())  # Collected at exit, as a restore that orbax abandoned leaves one.
    raise cli.UserError("no checkpoint can be restored")
  print("ran", flags.FLAGS.config.model.g_hidden, flags.FLAGS.config.batch_size)

sys.exit(cli.run(main))
"""


def run(*args):
  return subprocess.run([sys.executable, "-c", PROGRAM, *args], cwd=ROOT, capture_output=True,
                        text=True, timeout=60, env=dict(os.environ, PYTHONPATH=ROOT))


def test_valid_overrides_run():
  r = run("--config=configs/gan_mlp.py", "--config.model.g_hidden=(64, 32)",
          "--config.batch_size=8")
  assert r.returncode == 0 and r.stdout == "ran (64, 32) 8\n", r.stderr


@pytest.mark.parametrize("args, message", [
    (["--config.batchsize=3"],
     "error: --config.batchsize: no field 'batchsize'; did you mean 'batch_size'?"),
    (["--config.model.g_hiden=(3,)"],
     "error: --config.model.g_hiden: no field 'g_hiden'; did you mean 'g_hidden'?"),
    (["--config.nosuch.x=3"], "error: --config.nosuch.x: no field 'nosuch'"),
    (["--config.model.g_hidden=abc"],
     "error: --config.model.g_hidden=abc: not a tuple of integers; expected e.g. (256, 512)"),
    (["--config.model.g_hidden=(64,abc)"],
     "error: --config.model.g_hidden=(64,abc): not a tuple of integers; expected e.g. (256, 512)"),
    (["--config.model.g_hidden=(64,2.5)"],
     "error: --config.model.g_hidden=(64,2.5): 2.5 is not an integer; expected a tuple of "
     "integers, e.g. (256, 512)"),
    (["--config.batch_size=abc"], "error: flag --config.batch_size=abc: invalid literal for int()"),
    (["extra"], "error: unexpected argument 'extra': every option is a --flag=value"),
    (["extra", "more"], "error: unexpected argument 'extra' 'more'"),
])
def test_bad_overrides_and_arguments_are_one_line(args, message):
  r = run("--config=configs/gan_mlp.py", *args)
  assert r.returncode == 2, r.stderr
  assert r.stderr.startswith(message), r.stderr
  assert r.stderr.count("\n") == 1 and r.stdout == ""


@pytest.mark.parametrize("path, message", [
    ("configs/nope.py", "error: --config=configs/nope.py: 'configs/nope.py' does not exist"),
    ("configs/gan_mpl.py:ring8", "error: --config=configs/gan_mpl.py:ring8: 'configs/gan_mpl.py' "
     "does not exist; did you mean 'configs/gan_mlp.py'?"),
    ("configs", "error: --config=configs: 'configs' is a directory, not a config file"),
])
def test_a_mistyped_config_path_is_one_line(path, message):
  r = run(f"--config={path}")
  assert r.returncode == 2
  assert r.stderr == message + "\n"


def test_a_stopped_run_and_ctrl_c_are_one_line_and_status_130():
  r = run("--config=configs/gan_mlp.py", "--then=stop")
  assert (r.returncode, r.stderr) == (130, "stopped by SIGINT at step 7: checkpoint saved\n")
  r = run("--config=configs/gan_mlp.py", "--then=ctrl-c")
  assert r.returncode == 130 and r.stderr.count("\n") == 1 and "interrupted" in r.stderr


def test_an_error_is_the_only_line_even_with_a_coroutine_left_at_exit():
  r = run("--config=configs/gan_mlp.py", "--then=error-leaving-a-coroutine")
  assert (r.returncode, r.stderr) == (2, "error: no checkpoint can be restored\n")


def parsed_config(monkeypatch, *args):
  monkeypatch.setattr(sys, "argv", ["prog", *args])  # The config flag reads overrides from it.
  from absl import flags  # pylint: disable=g-import-not-at-top
  from ml_collections import config_flags  # pylint: disable=g-import-not-at-top
  from gan_jax import cli  # pylint: disable=g-import-not-at-top
  flag_values = flags.FlagValues()
  config_flags.DEFINE_config_file("config", None, "config", flag_values=flag_values,
                                  lock_config=True)
  flag_values(["prog", *args])
  return cli.config_from_flag(flag_values["config"])


def test_a_data_set_override_means_the_same_model_as_the_config_argument(monkeypatch):
  monkeypatch.chdir(ROOT)
  monkeypatch.syspath_prepend(ROOT)
  from configs import cgan_mnist, gan_mlp, mode_collapse  # pylint: disable=g-import-not-at-top
  by_name = parsed_config(monkeypatch, "--config=configs/gan_mlp.py", "--config.dataset.name=ring8",
                          "--config.batch_size=7")
  by_argument = gan_mlp.get_config("ring8")
  by_argument.batch_size = 7
  assert by_name.to_dict() == by_argument.to_dict()
  assert by_name.model.latent_dim == 2  # Not the digits' 64.
  # The data set inside a multi-part argument is replaced, the rest kept.
  collapse = parsed_config(monkeypatch, "--config=configs/mode_collapse.py:grid25,nonsat",
                           "--config.dataset.name=ring8")
  assert collapse.to_dict() == mode_collapse.get_config("ring8,nonsat").to_dict()
  # A variant argument is kept beside the data set.
  cpu_idx = parsed_config(monkeypatch, "--config=configs/cgan_mnist.py:cpu",
                          "--config.dataset.name=mnist_idx")
  assert cpu_idx.to_dict() == cgan_mnist.get_config("mnist_idx,cpu").to_dict()
  assert cpu_idx.model.name == "mlp" and cpu_idx.dataset.name == "mnist_idx"
  # Without a data set override, the config is the file's.
  plain = parsed_config(monkeypatch, "--config=configs/gan_mlp.py", "--config.batch_size=7")
  assert plain.dataset.name == "digits" and plain.batch_size == 7
