"""Command-line mistakes end as one `error:` line and exit 2 (a small absl program through
`cli.run`, as gan_jax.main parses its flags); signals end as one line and their status."""
import os
import subprocess
import sys
import types

from absl import flags
from ml_collections import config_flags
import pytest

from gan_jax import cli
from gan_jax import signals

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _program():
  """A command line as gan_jax.main is one: a config file, a workdir, and what `main` then does."""
  program = types.SimpleNamespace(__name__="program", FLAGS=None)

  def define_flags(flag_values):
    config_flags.DEFINE_config_file("config", None, "config", flag_values=flag_values,
                                    lock_config=True)
    flags.DEFINE_string("workdir", None, "workdir", flag_values=flag_values)
    flags.DEFINE_string("then", "", "what main does", flag_values=flag_values)

  def main(argv):
    del argv
    then = program.FLAGS.then
    if then == "stop":
      import signal  # pylint: disable=g-import-not-at-top
      raise signals.Stopped(signal.SIGINT, "stopped by SIGINT at step 7: checkpoint saved")
    if then == "ctrl-c":
      raise KeyboardInterrupt
    config = program.FLAGS.config
    print("ran", config.model.g_hidden, config.batch_size)

  program.define_flags, program.main = define_flags, main
  return program


def run(*args, capsys=None):
  code = cli.run_in_process(_program(), list(args))
  out = capsys.readouterr()
  return types.SimpleNamespace(returncode=code, stdout=out.out, stderr=out.err)


@pytest.fixture(autouse=True)
def _in_repository(monkeypatch):
  monkeypatch.chdir(ROOT)


def test_valid_overrides_run(capsys):
  r = run("--config=configs/gan_mlp.py", "--config.model.g_hidden=(64, 32)",
          "--config.batch_size=8", capsys=capsys)
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
def test_bad_overrides_and_arguments_are_one_line(args, message, capsys):
  r = run("--config=configs/gan_mlp.py", *args, capsys=capsys)
  assert r.returncode == 2, r.stderr
  assert r.stderr.startswith(message), r.stderr
  assert r.stderr.count("\n") == 1 and r.stdout == ""


@pytest.mark.parametrize("path, message", [
    ("configs/nope.py", "error: --config=configs/nope.py: 'configs/nope.py' does not exist"),
    ("configs/gan_mpl.py:ring8", "error: --config=configs/gan_mpl.py:ring8: 'configs/gan_mpl.py' "
     "does not exist; did you mean 'configs/gan_mlp.py'?"),
    ("configs", "error: --config=configs: 'configs' is a directory, not a config file"),
])
def test_a_mistyped_config_path_is_one_line(path, message, capsys):
  r = run(f"--config={path}", capsys=capsys)
  assert r.returncode == 2
  assert r.stderr == message + "\n"


def test_a_stopped_run_and_ctrl_c_are_one_line_and_status_130(capsys):
  r = run("--config=configs/gan_mlp.py", "--then=stop", capsys=capsys)
  assert (r.returncode, r.stderr) == (130, "stopped by SIGINT at step 7: checkpoint saved\n")
  r = run("--config=configs/gan_mlp.py", "--then=ctrl-c", capsys=capsys)
  assert r.returncode == 130 and r.stderr.count("\n") == 1 and "interrupted" in r.stderr


def test_an_error_is_the_only_line_even_with_a_coroutine_left_at_exit():
  """In a real process: the coroutine (as a restore that orbax abandoned leaves one) is collected
  at exit, after `main` has returned."""
  program = (
      "import sys\n"
      "from gan_jax import cli\n"
      "async def pending():\n"
      "  pass\n"
      "KEPT = []\n"
      "def main(argv):\n"
      "  KEPT.append(pending())\n"
      "  raise cli.UserError('no checkpoint can be restored')\n"
      "sys.exit(cli.run(main))\n")
  r = subprocess.run([sys.executable, "-c", program], cwd=ROOT, capture_output=True, text=True,
                     timeout=60)
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
