"""The test session, shared by every test and by every subprocess a test starts.

- `ROOT`, the repository, is importable (`configs.*`).
- One `GAN_JAX_CACHE` for the session (data, FID weights, classifiers: built once, by whichever test
  needs them first), never the user's `~/.cache/gan_jax`.
- A persistent XLA compilation cache (`.pytest_cache/xla` in the checkout, or
  $GAN_JAX_TEST_XLA_CACHE), passed to subprocesses through the environment: a program compiled once, by a test or a
  subprocess, is read back instead of compiled again. Its key holds the program, the compiler
  options and the jax version, so a stale entry cannot be read.
- XLA's cheapest compiler settings (`jax_disable_most_optimizations`): most tests compare a program
  with itself (resumed == uninterrupted, 2 devices == 1). Tests whose numbers are compared with
  numbers computed elsewhere (the regression digests, parity with reference implementations) take
  the `production_compiler` fixture.
- JAX on the CPU, nothing from the network.

Fixtures (tests/cli_testing.py): `run_cli(tool, *args)` runs a command line in this process
(`cli.run_in_process`: its own flags, its `main`, its exit status and output); `run_subprocess(tool,
*args)` starts a real Python, for the few tests that prove an entry point or need a process of their
own (signals, locks, resource limits, XLA_FLAGS).
"""
import os
import shutil
import sys
import tempfile

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
  sys.path.insert(0, ROOT)


def _session_environment():
  """Set once, before JAX is imported, in the process that starts pytest-xdist's workers too, so
  that every worker and subprocess shares the same caches."""
  if "GAN_JAX_TEST_SESSION" in os.environ:  # A worker, or a test's subprocess: inherited.
    return None
  session = tempfile.mkdtemp(prefix="gan_jax_tests_")
  xla_cache = os.environ.get("GAN_JAX_TEST_XLA_CACHE", os.path.join(ROOT, ".pytest_cache", "xla"))
  os.makedirs(xla_cache, exist_ok=True)
  os.environ.update({
      "GAN_JAX_TEST_SESSION": session,
      "GAN_JAX_CACHE": os.path.join(session, "cache"),
      "JAX_PLATFORMS": "cpu",
      "JAX_COMPILATION_CACHE_DIR": xla_cache,
      # Tiny programs compile in milliseconds: reading them back would cost more than it saves.
      "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "0.5",
      "JAX_DISABLE_MOST_OPTIMIZATIONS": "1",
      "PYTHONPATH": os.pathsep.join(filter(None, (ROOT, os.environ.get("PYTHONPATH")))),
      "TFDS_DATA_DIR": os.path.join(session, "tfds"),  # Empty: a test can never find a download.
  })
  return session


def pytest_unconfigure(config):
  del config
  if _CREATED_SESSION:  # The process that made the session's folder removes it.
    shutil.rmtree(_CREATED_SESSION, ignore_errors=True)


_CREATED_SESSION = _session_environment()

import cli_testing  # pylint: disable=g-import-not-at-top,wrong-import-position


@pytest.fixture
def production_compiler():
  """The compiler settings a user's run gets, for tests that compare numbers with recorded or
  independently computed ones (XLA's optimisations change the rounding)."""
  import jax  # pylint: disable=g-import-not-at-top
  jax.config.update("jax_disable_most_optimizations", False)
  yield
  jax.config.update("jax_disable_most_optimizations", True)


@pytest.fixture
def run_cli():
  """run_cli('gan_jax.main', '--config=...', ...) -> Result: the command line's `main` in this
  process (tests/cli_testing.py)."""
  return cli_testing.run_cli


@pytest.fixture
def run_subprocess():
  """run_subprocess('gan_jax.main', '--config=...', timeout=..., env=...) -> CompletedProcess of
  `python -m TOOL ARGS` in the repository."""
  return cli_testing.run_subprocess
