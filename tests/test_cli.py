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

def main(argv):
  if flags.FLAGS.then == "stop":
    import signal
    raise signals.Stopped(signal.SIGINT, "stopped by SIGINT at step 7: checkpoint saved")
  if flags.FLAGS.then == "ctrl-c":
    raise KeyboardInterrupt
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
