"""Running the command lines from tests: in this process (their real `main`, flags defined afresh),
or, where a test needs a process of its own, as `python -m TOOL`."""
import contextlib
import dataclasses
import importlib
import io
import os
import subprocess
import sys

from gan_jax import cli

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@dataclasses.dataclass
class Result:
  returncode: int
  stdout: str
  stderr: str


def run_cli(tool, *args):
  """`python -m TOOL ARGS` run in this process, from the repository (as the README's commands
  run): its exit status and what it printed."""
  module = importlib.import_module(tool)
  out, err = io.StringIO(), io.StringIO()
  cwd = os.getcwd()
  os.chdir(ROOT)
  try:
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
      if hasattr(module, "define_flags"):  # The absl command lines.
        code = cli.run_in_process(module, list(args))
      else:  # argparse's (gan_jax.fid): main(argv) returns or exits with the status.
        code = _status(module.main, list(args))
  finally:
    os.chdir(cwd)
  return Result(code, out.getvalue(), err.getvalue())


def _status(main, argv):
  try:
    code = main(argv)
  except SystemExit as e:
    code = e.code
  return cli.exit_status(code)


def run_subprocess(tool, *args, timeout=300, env=None, **kwargs):
  """`python -m TOOL ARGS` in a new process, from the repository: a CompletedProcess."""
  return subprocess.run([sys.executable, "-m", tool, *args], cwd=ROOT, capture_output=True,
                        text=True, timeout=timeout, env=dict(os.environ, **(env or {})), **kwargs)
