"""Checkpoint faults on a small state: damaged checkpoints are skipped (one warning, nothing
deleted), another model's checkpoint is refused as such, write errors are one line and keep the
earlier checkpoints."""
import contextlib
import errno
import gc
import glob
import logging
import os
import re
import resource
import shutil
import signal
import sys
import time

import flax
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gan_jax import checkpointing
from gan_jax.errors import UserError


@flax.struct.dataclass
class State:
  step: jax.Array
  params: dict


def _state(step, width=3):
  return State(step=jnp.array(step, jnp.int32),
               params={"w": jnp.full((4, width), float(step)), "b": jnp.arange(5.0) * step})


def _saved(tmp_path, steps=(10, 20, 30)):
  workdir = str(tmp_path / "run")
  manager = checkpointing.make_manager(workdir)
  for step in steps:
    checkpointing.save(manager, _state(step), step)
  return workdir


def _files(workdir):
  return sorted(os.path.relpath(p, workdir) for p in glob.glob(
      os.path.join(workdir, "**"), recursive=True) if os.path.isfile(p))


def _step_files(workdir, step, pattern):
  return glob.glob(os.path.join(workdir, "checkpoints", str(step), "default", "**", pattern),
                   recursive=True)


def _truncate_arrays(workdir, step):
  for path in _step_files(workdir, step, "d/*"):
    with open(path, "r+b") as f:
      f.truncate(os.path.getsize(path) // 2)


def _remove_arrays(workdir, step):
  for path in _step_files(workdir, step, "d/*"):
    os.remove(path)


def _remove_manifest(workdir, step):
  for path in _step_files(workdir, step, "manifest.ocdbt"):
    os.remove(path)


def _garbage_metadata(workdir, step):
  with open(os.path.join(workdir, "checkpoints", str(step), "default", "_METADATA"), "w") as f:
    f.write("{garbage")


def _remove_state(workdir, step):
  shutil.rmtree(os.path.join(workdir, "checkpoints", str(step), "default"))


@contextlib.contextmanager
def _logged(name=None):
  """Yields the list of records that reach logger `name` (the root logger by default) inside."""
  records, handler = [], logging.Handler()
  handler.emit = records.append
  logger = logging.getLogger(name)
  logger.addHandler(handler)
  try:
    yield records
  finally:
    logger.removeHandler(handler)


# The reason each damage is reported with (a regular expression): the file, when the error names it.
DAMAGES = {"truncated array file": (_truncate_arrays, r"30/default/d/[0-9a-f]+ is truncated"),
           "missing array file": (_remove_arrays, r"30/default/d/[0-9a-f]+ is missing"),
           "missing manifest": (_remove_manifest, r"an array file or the manifest is missing"),
           "garbage metadata": (_garbage_metadata, r"its metadata file is not valid JSON"),
           "half-written step folder": (_remove_state, r"the step folder holds no saved state")}


@pytest.mark.parametrize("damage", sorted(DAMAGES))
def test_a_damaged_latest_checkpoint_is_skipped_with_one_warning(damage, tmp_path):
  workdir = _saved(tmp_path)
  corrupt, reason = DAMAGES[damage]
  corrupt(workdir, 30)
  before = _files(workdir)
  warnings = []
  # A tool (sample): reads, changes nothing.
  restored = checkpointing.restore_latest(checkpointing.make_manager(workdir), _state(0),
                                          warn=warnings.append)
  assert int(restored.step) == 20
  np.testing.assert_array_equal(restored.params["w"], np.full((4, 3), 20.0))
  assert len(warnings) == 1 and re.fullmatch(
      re.escape(f"warning: skipped damaged checkpoint step 30 in {workdir}/checkpoints (") + reason
      + re.escape("); restored step 20"), warnings[0]), warnings
  assert _files(workdir) == before
  # The training loop: the damaged folder is renamed, so that step 30 can be written again.
  manager = checkpointing.make_manager(workdir)
  restored = checkpointing.restore_latest(manager, _state(0), set_aside_damaged=True,
                                          warn=warnings.append)
  assert int(restored.step) == 20 and warnings[-1].endswith("kept as 30.damaged; restored step 20")
  assert sorted(p.replace("checkpoints/30/", "checkpoints/30.damaged/")
                for p in before) == _files(workdir)  # Nothing deleted.
  checkpointing.save(manager, _state(30), 30)
  assert checkpointing.make_manager(workdir).all_steps() == [10, 20, 30]
  restored = checkpointing.restore_latest(checkpointing.make_manager(workdir), _state(0))
  assert int(restored.step) == 30


def test_a_damaged_file_of_a_large_array_is_named_in_one_readable_line(tmp_path):
  """Orbax wraps the read error of a large array's own file ('Encountered error while reading array
  index: ... <bound method ...>'): the warning still says which array's file of which step."""
  workdir = str(tmp_path / "run")
  manager = checkpointing.make_manager(workdir)
  for step in (10, 20):
    rng = np.random.default_rng(step)
    checkpointing.save(manager, State(step=jnp.array(step, jnp.int32), params={
        "w": jnp.asarray(rng.normal(size=(200, 300)), jnp.float32)}), step)
  largest = max(_step_files(workdir, 20, "d/*"), key=os.path.getsize)
  os.truncate(largest, os.path.getsize(largest) // 2)
  warnings = []
  target = State(step=jnp.array(0, jnp.int32), params={"w": jnp.zeros((200, 300))})
  restored = checkpointing.restore_latest(checkpointing.make_manager(workdir), target,
                                          warn=warnings.append)
  assert int(restored.step) == 10
  assert warnings == [f"warning: skipped damaged checkpoint step 20 in {workdir}/checkpoints (the "
                      "file of array params.w is truncated); restored step 10"]


def test_a_stray_empty_step_folder_is_skipped(tmp_path):
  workdir = _saved(tmp_path, (10,))
  os.makedirs(os.path.join(workdir, "checkpoints", "40"))
  warnings = []
  restored = checkpointing.restore_latest(checkpointing.make_manager(workdir), _state(0),
                                          warn=warnings.append)
  assert int(restored.step) == 10
  assert warnings == [f"warning: skipped damaged checkpoint step 40 in {workdir}/checkpoints "
                      "(the step folder holds no saved state); restored step 10"]


def test_no_intact_checkpoint_is_one_error_that_blames_the_files(tmp_path):
  workdir = _saved(tmp_path, (10, 20))
  _remove_manifest(workdir, 10)
  _truncate_arrays(workdir, 20)
  before = _files(workdir)
  with pytest.raises(UserError) as e:
    checkpointing.restore_latest(checkpointing.make_manager(workdir), _state(0),
                                 set_aside_damaged=True)
  message = str(e.value)
  assert re.match(re.escape(f"the checkpoint files in {workdir}/checkpoints are damaged and none "
                            "can be restored (step 20: 20/default/d/") + r"[0-9a-f]+ is truncated; "
                  r"step 10: ", message), message
  assert "config" not in message and "\n" not in message
  assert _files(workdir) == before


def test_a_failed_restore_leaves_no_asyncio_tracebacks_for_later(tmp_path):
  """Orbax's other reads of a damaged step fail too; asyncio logs each failed task ('Task
  exception was never retrieved', a traceback) whenever it is collected, which can be after the
  one error line (this broke test_faults once in CI)."""
  with _logged() as records:
    for run in range(3):
      workdir = _saved(tmp_path / str(run), (10, 20))
      _remove_manifest(workdir, 10)
      _remove_manifest(workdir, 20)
      with pytest.raises(UserError):
        checkpointing.restore_latest(checkpointing.make_manager(workdir), _state(0))
      time.sleep(0.5)  # Orbax's event loop thread finishes the other reads.
      gc.collect()
  assert not [r.getMessage()[:200] for r in records if r.name == "asyncio"]


def test_unretrieved_task_records_are_dropped_while_orbax_works():
  """A failed read's sibling tasks can be collected, and logged, before the failure reaches
  restore_latest (a CI flake: the record came before the one error line)."""
  logger = logging.getLogger("asyncio")
  saved_filters, logger.filters = logger.filters, []  # Without an earlier test's lasting filter.

  def log(message):
    logger.handle(logger.makeRecord("asyncio", logging.ERROR, __file__, 1, message, (), None))

  try:
    with _logged("asyncio") as seen:
      with checkpointing._quiet_orbax():
        log("Task exception was never retrieved")
        log("Executing <Task> took 0.2 seconds")
    assert [r.getMessage() for r in seen] == ["Executing <Task> took 0.2 seconds"]
    assert not logger.filters  # Lasting only while orbax works (no failure was reported).
  finally:
    logger.filters = saved_filters


def test_another_models_checkpoint_is_refused_as_another_config(tmp_path):
  workdir = _saved(tmp_path)
  before = _files(workdir)
  with pytest.raises(UserError, match=r"checkpoint .*/checkpoints/30 cannot be restored into this "
                     r"config's model \(params/w has shape \(4, 3\) in the checkpoint, \(4, 5\) "
                     r"in the model\); use another --workdir or the config that wrote it"):
    checkpointing.restore_latest(checkpointing.make_manager(workdir), _state(0, width=5),
                                 set_aside_damaged=True)
  other = State(step=jnp.array(0), params={"w": jnp.zeros((4, 3))})
  with pytest.raises(UserError, match=r"the checkpoint has 3 arrays, the model 2; e.g. "
                     r"'params/b' is only in the checkpoint"):
    checkpointing.restore_latest(checkpointing.make_manager(workdir), other)
  assert _files(workdir) == before
  assert checkpointing.restore_latest(checkpointing.make_manager(str(tmp_path / "new")),
                                      _state(0)) is None


def test_disk_full_while_saving_is_one_error_and_keeps_the_earlier_checkpoints(tmp_path,
                                                                             monkeypatch):
  workdir = _saved(tmp_path, (10,))
  manager = checkpointing.make_manager(workdir)
  real_mkdir = os.mkdir

  def full(path, *args, **kwargs):
    if "20" in os.path.basename(str(path)):
      raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
    return real_mkdir(path, *args, **kwargs)
  monkeypatch.setattr(os, "mkdir", full)
  with pytest.raises(UserError, match=rf"cannot write checkpoint step 20 to {workdir}/checkpoints/"
                     r"20\S*: No space left on device; the earlier checkpoints \(steps 10\) are "
                     r"intact"):
    checkpointing.save(manager, _state(20), 20)
  monkeypatch.undo()
  assert checkpointing.make_manager(workdir).all_steps() == [10]
  assert int(checkpointing.restore_latest(checkpointing.make_manager(workdir),
                                          _state(0)).step) == 10


def test_an_array_write_that_fails_is_one_error_and_keeps_the_earlier_checkpoints(tmp_path):
  # The array files are written by tensorstore (C++), out of reach of a monkeypatch: a file size
  # limit makes its write() fail with EFBIG, as a full disk fails it with ENOSPC.
  workdir = _saved(tmp_path, (10,))
  manager = checkpointing.make_manager(workdir)
  big = State(step=jnp.array(20), params={"w": jax.random.normal(jax.random.key(0), (64, 64)),
                                          "b": jnp.zeros(5)})
  previous = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # Else the kernel kills the process.
  soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
  resource.setrlimit(resource.RLIMIT_FSIZE, (4096, hard))
  try:
    with pytest.raises(UserError) as e:
      checkpointing.save(manager, big, 20)
  finally:
    resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
    signal.signal(signal.SIGXFSZ, previous)
  message = str(e.value)
  assert message.startswith(f"cannot write checkpoint step 20 to {workdir}/checkpoints/20")
  assert message.endswith(": File too large; the earlier checkpoints (steps 10) are intact")
  assert "\n" not in message
  manager = checkpointing.make_manager(workdir)
  assert manager.all_steps() == [10]  # The half-written step does not look like a checkpoint.
  checkpointing.save(manager, big, 20)  # Once there is room again, the same step saves.
  assert checkpointing.make_manager(workdir).all_steps() == [10, 20]


def test_a_checkpoint_folder_that_cannot_be_created_is_one_error(tmp_path, monkeypatch):
  def denied(path, *unused_args, **unused_kwargs):
    raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(path))
  monkeypatch.setattr(os, "mkdir", denied)
  with pytest.raises(UserError, match=r"cannot use the checkpoint folder .*: Permission denied"):
    checkpointing.make_manager(str(tmp_path / "run"))


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_a_read_only_checkpoint_folder_is_one_error(tmp_path):
  workdir = _saved(tmp_path, (10,))
  folder = os.path.join(workdir, "checkpoints")
  os.chmod(folder, 0o500)
  try:
    with pytest.raises(UserError, match=r"cannot write checkpoint step 20 to .*: Permission "
                       r"denied; the earlier checkpoints \(steps 10\) are intact"):
      checkpointing.save(checkpointing.make_manager(workdir), _state(20), 20)
  finally:
    os.chmod(folder, 0o700)


def test_a_reading_tool_creates_nothing(tmp_path):
  workdir = str(tmp_path / "run")
  os.makedirs(workdir)
  manager = checkpointing.make_manager(workdir, create=False)
  assert checkpointing.restore_latest(manager, _state(0)) is None
  assert os.listdir(workdir) == []
  _saved(tmp_path)
  restored = checkpointing.restore_latest(checkpointing.make_manager(workdir, create=False),
                                          _state(0))
  assert int(restored.step) == 30


def test_write_failures_that_orbax_threads_raise_are_recognised():
  """Orbax's writer threads raise the write error `save` reports, as an OSError or as
  tensorstore's ValueError with the OS error code in its text; their tracebacks are dropped
  (the second kind once slipped through after the one error line)."""
  assert checkpointing._is_write_failure(OSError(errno.ENOSPC, "No space left on device"))
  assert checkpointing._is_write_failure(ValueError(
      'OUT_OF_RANGE: Error writing "a/0": Failed writing: "/x/d/1": [os_error_code=27] '
      "File too large"))
  assert checkpointing._is_write_failure(ValueError("... [os_error_code='28'] ..."))
  assert not checkpointing._is_write_failure(OSError(errno.ENOENT, "No such file"))
  assert not checkpointing._is_write_failure(ValueError("NOT_FOUND: [os_error_code=2]"))
  assert not checkpointing._is_write_failure(ValueError("some other failure"))


def test_an_orbax_threads_logged_write_failure_is_dropped_and_other_logs_are_kept():
  """Orbax's writer thread may log the write error `save` reported through absl, after the one
  error line (a CI flake); only such records are dropped."""
  logger = logging.getLogger("absl")
  orbax_file = "/venv/site-packages/orbax/checkpoint/_src/futures/future.py"

  def log(pathname, exc):
    try:
      raise exc
    except ValueError:
      record = logger.makeRecord("absl", logging.ERROR, pathname, 1, "raised: %s", (exc,),
                                 sys.exc_info())
    logger.handle(record)

  full = ValueError("OUT_OF_RANGE: Failed writing: \"/x/d/1\" [os_error_code='27']")
  with _logged("absl") as seen:
    log(orbax_file, full)
    assert not seen
    log(orbax_file, ValueError("INVALID_ARGUMENT: something else"))
    log("/work/gan_jax/loop.py", full)
    assert len(seen) == 2


def test_a_chosen_step_is_restored_and_a_step_not_kept_is_refused(tmp_path):
  workdir = _saved(tmp_path)
  manager = checkpointing.make_manager(workdir, create=False)
  restored = checkpointing.restore_latest(manager, _state(0), only_step=20)
  assert int(restored.step) == 20
  np.testing.assert_array_equal(restored.params["b"], np.arange(5.0) * 20)
  before = _files(workdir)
  with pytest.raises(UserError) as e:
    checkpointing.restore_latest(manager, _state(0), only_step=25)
  assert str(e.value) == (f"step 25 has no checkpoint in {workdir}/checkpoints "
                          "(kept: 10, 20, 30)")
  assert _files(workdir) == before
