"""The workdir lock (two processes, a killed holder) and unusable workdirs."""
import errno
import os
import signal
import subprocess
import sys
import time

import pytest

from gan_jax import workdir
from gan_jax.errors import UserError

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HOLD = ("import sys, time\nfrom gan_jax import workdir\n"
        "with workdir.lock(sys.argv[1]):\n  print('locked', flush=True)\n  time.sleep(120)\n")


def _holder(path):
  proc = subprocess.Popen([sys.executable, "-c", HOLD, path], cwd=ROOT, stdout=subprocess.PIPE,
                          text=True, env=dict(os.environ, PYTHONPATH=ROOT))
  assert proc.stdout.readline().strip() == "locked"
  return proc


def _snapshot(path):
  return sorted(os.path.relpath(os.path.join(r, f), path) for r, ds, fs in os.walk(path)
                for f in fs + ds)


def test_a_second_process_is_refused_naming_the_holder_and_a_killed_holder_releases(tmp_path):
  path = str(tmp_path / "run")
  proc = _holder(path)
  try:
    for attempt in (workdir.check_usable, lambda p: workdir.lock(p).__enter__()):
      start = time.time()
      with pytest.raises(UserError) as e:
        attempt(path)
      assert time.time() - start < 5  # At once, not after a timeout.
      assert f"workdir {path} is in use by process {proc.pid} on " in str(e.value)
    assert _snapshot(path) == [".lock"]
  finally:
    proc.send_signal(signal.SIGKILL)  # No clean-up code runs: the kernel drops the lock.
    proc.wait()
  workdir.check_usable(path)
  with workdir.lock(path):
    with open(os.path.join(path, ".lock")) as f:
      assert f.read().startswith(f"{os.getpid()} on ")


def test_the_lock_is_released_when_the_block_exits(tmp_path):
  path = str(tmp_path / "run")
  with workdir.lock(path):
    pass
  proc = _holder(path)  # Would hang or fail if this process still held it.
  proc.kill()
  proc.wait()


def test_a_workdir_that_is_a_file_is_refused(tmp_path):
  path = tmp_path / "notes.txt"
  path.write_text("hello")
  for attempt in (workdir.check_usable, lambda p: workdir.lock(p).__enter__()):
    with pytest.raises(UserError, match=f"workdir {path} is a file, not a folder"):
      attempt(str(path))
  with pytest.raises(UserError, match=f"{path} is a file"):
    workdir.check_usable(str(path / "run"))
  assert path.read_text() == "hello"


def test_a_workdir_that_cannot_be_created_or_written_is_refused(tmp_path, monkeypatch):
  path = str(tmp_path / "sub" / "run")

  def denied(p, *unused_args, **unused_kwargs):
    raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), p)
  monkeypatch.setattr(os, "makedirs", denied)
  with pytest.raises(UserError, match=f"workdir {path} cannot be created: Permission denied"):
    workdir.lock(path).__enter__()
  monkeypatch.undo()
  monkeypatch.setattr(os, "access", lambda p, mode: False)
  with pytest.raises(UserError, match=f"folder {tmp_path} is not writable"):
    workdir.check_usable(path)
  assert os.listdir(tmp_path) == []


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_a_read_only_workdir_is_refused(tmp_path):
  path = tmp_path / "run"
  path.mkdir()
  path.chmod(0o500)
  try:
    for attempt in (workdir.check_usable, lambda p: workdir.lock(p).__enter__()):
      with pytest.raises(UserError, match="not writable"):
        attempt(str(path))
    assert os.listdir(path) == []
  finally:
    path.chmod(0o700)
