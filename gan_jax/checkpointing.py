"""Orbax checkpoints of the training state.

The state is everything a run needs to continue: the step RNG and the data order are functions of
(seed, step), so restoring the state restores the data position too. `checkpoints/` keeps the latest
few; `best_checkpoint/` keeps the one with the lowest value of the family's best metric (FID) when
in-loop evaluation runs.

Faults, and what they become:
- A damaged checkpoint (a truncated or missing array file, a missing manifest, unreadable metadata,
  an empty step folder left by a crash): `restore_latest` skips it with one warning line and
  restores the newest intact one; with none intact, one error line says the files are damaged.
  Nothing is deleted (`set_aside_damaged` renames a skipped folder to `<step>.damaged`, so that the
  resumed run can save that step again).
- A checkpoint of another model (other shapes or structure): one error line naming the config as
  the likely cause; older checkpoints are not tried (they are of the same run).
- An OSError while saving (permission denied, disk full): one error line naming the path and the
  OS error; the earlier checkpoints are untouched (orbax writes a step into a temporary folder and
  renames it when complete, so a failed save never looks like a checkpoint). Saving is synchronous
  so that the error surfaces at the save that failed, not at some later step.
"""
import contextlib
import errno
import logging as py_logging
import os
import re
import sys
import threading
import traceback

import jax
import orbax.checkpoint as ocp

from gan_jax.errors import UserError

DAMAGED_SUFFIX = ".damaged"


def make_manager(workdir, max_to_keep=3, best_metric=None, create=True):
  """checkpoints/ (the latest `max_to_keep`), or with `best_metric`, best_checkpoint/ (the one
  with the lowest value of that metric). `create=False` (tools that only read, e.g. sample): read
  only, and no folder is created when the run has no checkpoint yet."""
  folder = "best_checkpoint" if best_metric else "checkpoints"
  options = dict(enable_async_checkpointing=False)
  if create:
    options.update(create=True, max_to_keep=1 if best_metric else max_to_keep)
  else:
    options.update(create=False, read_only=True, save_interval_steps=0)
  if best_metric:
    options.update(best_fn=lambda m: m[best_metric], best_mode="min")
  path = os.path.join(os.path.abspath(workdir), folder)
  try:
    with _quiet_orbax():  # It reads every step's metadata; a damaged one is reported on restore.
      return ocp.CheckpointManager(path, options=ocp.CheckpointManagerOptions(**options))
  except Exception as e:  # pylint: disable=broad-except
    os_error = _os_error(e)
    if os_error is None:
      raise
    raise UserError(f"cannot use the checkpoint folder {os_error.filename or path}: "
                    f"{os_error.strerror}") from e


def save(manager, state, step, metrics=None):
  """Saves `state` as `step` and waits until it is on disk; a write error (permission denied,
  disk full) is one UserError naming the path and the OS error."""
  earlier = list(manager.all_steps())
  try:
    with _quiet_orbax():  # Orbax logs a failed write's traceback from each of its threads.
      manager.save(step, args=ocp.args.StandardSave(state), metrics=metrics)
      manager.wait_until_finished()
  except Exception as e:  # pylint: disable=broad-except  # Orbax may wrap the OSError.
    failure = _write_error(e)
    if failure is None:
      raise
    path, reason = failure
    # Orbax's other writers fail the same way later; this line says it once.
    _drop_unretrieved_asyncio_errors()
    raise UserError(f"cannot write checkpoint step {step} to "
                    f"{path or os.path.join(str(manager.directory), str(step))}: {reason}; "
                    f"{_intact(earlier, 'earlier ')}") from e


def failed_write(e, manager):
  """A failed write of the run's other outputs (metrics, sample grids: disk full, read-only file
  system) as the one line of a failed save: a UserError naming the file and the OS error, and the
  checkpoints that are intact; None when `e` is not a failed write (another OSError, such as a
  missing file, is not one: it keeps its traceback)."""
  if not _is_write_failure(e):
    return None
  path, reason = _write_error(e)
  return UserError(f"cannot write {path or 'the run outputs'}: {reason}; "
                   f"{_intact(list(manager.all_steps()))}")


def _intact(steps, which=""):
  """What a failed write leaves: 'the [earlier ]checkpoints (steps 2, 4) are intact'."""
  if not steps:
    return f"no {which}checkpoint exists"
  return f"the {which}checkpoints (steps {', '.join(map(str, sorted(steps)))}) are intact"


def _os_error(e):
  """The OSError in an exception's cause/context chain, or None."""
  return next((x for x in _chain(e) if isinstance(x, OSError) and x.errno is not None), None)


def _write_error(e):
  """(path, OS error text) of a failed write, or None when `e` is not one. Python writes raise
  OSError; tensorstore's (the array files) raise ValueError('... Failed writing: "PATH" ...
  [os_error_code='28']')."""
  os_error = _os_error(e)
  if os_error is not None:
    return os_error.filename, os_error.strerror or str(os_error)
  code = _tensorstore_errno(e)
  if code is None:
    return None
  path = re.search(r'Failed (?:writing|to create|to open)[^"]*"([^"]+)"', str(e))
  return (path.group(1) if path else None), os.strerror(code)


def _tensorstore_errno(e):
  """The OS error code in a tensorstore error's text ('... [os_error_code='28']'), or None."""
  code = re.search(r"os_error_code='?(\d+)", str(e))
  return int(code.group(1)) if code else None


def restore_latest(manager, target_state, set_aside_damaged=False, warn=None, only_step=None):
  """Restores the newest intact checkpoint into the structure (and shardings) of `target_state`,
  or with `only_step` that step's (a UserError naming the kept steps when it is not kept).

  Returns None when there is none. Damaged checkpoints are skipped with one warning line (`warn`,
  default: stderr); with `set_aside_damaged` (the training loop) their folders are renamed to
  `<step>.damaged` so that the run can write those steps again. A checkpoint of another model, or
  no intact checkpoint at all, is a UserError; nothing in the workdir is touched then.
  """
  abstract = jax.tree.map(ocp.utils.to_shape_dtype_struct, target_state)
  damaged = []
  restored = restored_step = None
  with _quiet_orbax():
    steps = sorted(manager.all_steps(), reverse=True)
    if only_step is not None:
      if only_step not in steps:
        kept = ", ".join(str(s) for s in sorted(steps)) or "none"
        raise UserError(f"step {only_step} has no checkpoint in {manager.directory} (kept: "
                        f"{kept})")
      steps = [only_step]
    for step in steps:
      problem = _other_model(manager, step, abstract)
      if problem is not None:
        raise UserError(f"checkpoint {manager.directory}/{step} cannot be restored into this "
                        f"config's model ({problem}); use another --workdir or the config that "
                        "wrote it")
      item = os.path.join(str(manager.directory), str(step), "default")
      if not os.path.isdir(item) or not os.listdir(item):
        # Restoring a step without its item also confuses the manager about later steps.
        damaged.append((step, "the step folder holds no saved state"))
        continue
      try:
        restored = manager.restore(step, args=ocp.args.StandardRestore(abstract))
        restored_step = step
        break
      except Exception as e:  # pylint: disable=broad-except  # Each file error has its own type.
        damaged.append((step, _reason(e, str(manager.directory))))
        # The other reads of that step fail too, and asyncio logs each when it is collected.
        _drop_unretrieved_asyncio_errors()
  if restored_step is None and damaged:
    detail = "; ".join(f"step {s}: {why}" for s, why in damaged)
    raise UserError(f"the checkpoint files in {manager.directory} are damaged and none can be "
                    f"restored ({detail[:400]}); nothing was changed: move that folder aside to "
                    "start over, or restore it from a copy")
  if restored_step is None:  # No checkpoint at all.
    return None
  if damaged:
    names = ", ".join(str(s) for s, _ in damaged)
    note = ""
    if set_aside_damaged:
      moved = [_set_aside(manager, s) for s, _ in damaged]
      manager.reload()
      note = f"; kept as {', '.join(os.path.basename(m) for m in moved)}"
    (warn or _stderr)(f"warning: skipped damaged checkpoint step {names} in {manager.directory} "
                      f"({damaged[0][1]}){note}; restored step {restored_step}")
  return restored


def _other_model(manager, step, abstract):
  """What differs between a checkpoint's saved tree and the model's, or None (same model, or the
  saved tree is unreadable: then the files, not the config, are at fault)."""
  try:
    path = os.path.join(str(manager.directory), str(step), "default")
    with ocp.StandardCheckpointer() as checkpointer:
      tree = checkpointer.metadata(path).item_metadata
    tree = getattr(tree, "tree", tree)
  except Exception:  # pylint: disable=broad-except
    return None
  if tree is None:
    return None
  saved = _shapes(tree)
  wanted = _shapes(abstract)
  if saved == wanted:
    return None
  only_saved = sorted(set(saved) - set(wanted))
  only_wanted = sorted(set(wanted) - set(saved))
  if only_saved or only_wanted:
    return (f"the checkpoint has {len(saved)} arrays, the model {len(wanted)}; e.g. "
            f"{(only_saved or only_wanted)[0]!r} is only in the "
            f"{'checkpoint' if only_saved else 'model'}")
  key = next(k for k in wanted if saved[k] != wanted[k])
  return f"{key} has shape {saved[key]} in the checkpoint, {wanted[key]} in the model"


def _shapes(tree):
  """{'a/b/c': shape} of a pytree (checkpoint metadata or abstract arrays)."""
  out = {}
  for path, leaf in jax.tree_util.tree_flatten_with_path(tree)[0]:
    names = []
    for k in path:
      for attr in ("key", "name", "idx"):
        if hasattr(k, attr):
          names.append(str(getattr(k, attr)))
          break
    out["/".join(names)] = tuple(getattr(leaf, "shape", ()) or ())
  return out


def _set_aside(manager, step):
  """Renames a damaged step folder to `<step>.damaged` (or .damaged2, ...); orbax ignores it."""
  src = os.path.join(str(manager.directory), str(step))
  dst, n = src + DAMAGED_SUFFIX, 1
  while os.path.exists(dst):
    n += 1
    dst = f"{src}{DAMAGED_SUFFIX}{n}"
  try:
    os.rename(src, dst)
  except FileNotFoundError:  # Another process of a multi-host run moved it first.
    pass
  except OSError as e:
    raise UserError(f"cannot set the damaged checkpoint {src} aside ({e.strerror}); move it "
                    "out of the way by hand") from e
  return dst


def _reason(e, folder):
  """A short reason for a failed restore: which file (relative to `folder`, the checkpoints:
  '30/default/d/84210b...'), or the file of which array, is truncated, corrupt or missing, when the
  error says; else what is wrong with the step's files. Orbax may wrap tensorstore's error
  ('Encountered error while reading array index ... <bound method ...>'), so its causes are read
  too: tensorstore's status code says what is wrong. Otherwise: the error's first clause, without
  tensorstore's spec."""
  chain = _chain(e)
  chain_text = [" ".join(str(x).split()) for x in chain]
  text = " ".join(chain_text)
  state = next((state for marker, state in (
      ("OUT_OF_RANGE", "truncated"), ("DATA_LOSS", "corrupt"), ("NOT_FOUND", "missing"),
      ("FAILED_PRECONDITION", "corrupt"), ("Data corruption", "corrupt")) if marker in text), None)
  if state is None:
    if any(type(x).__name__ == "JSONDecodeError" for x in chain):
      return "its metadata file is not valid JSON"
    first = re.split(r" See full TensorStore details| \[tensorstore_spec", chain_text[0])[0]
    return f"{type(e).__name__}: {first[:120] or 'no message'}"
  files = [f for f in re.findall(r'local file "([^"\\]+)"', text) if not f.endswith("/")]
  if files:
    return f"{os.path.relpath(files[-1], folder)} is {state}"
  array = re.search(r'Error reading "([^"\\/]+)/[^"\\]*" in OCDBT', text)
  if array:
    return f"the file of array {array.group(1)} is {state}"
  return ("an array file or the manifest is missing" if state == "missing"
          else f"an array file is {state}")


def _chain(e):
  """`e` and the exceptions it was raised from or during, outermost first."""
  chain = []
  while e is not None and all(e is not x for x in chain):
    chain.append(e)
    e = e.__cause__ or e.__context__
  return chain


def _stderr(message):
  print(message, file=sys.stderr, flush=True)


@contextlib.contextmanager
def _quiet_orbax():
  """Orbax logs each failed read or write at WARNING/ERROR through absl: we say what happened in
  one line instead. A failed read's sibling tasks may be collected, and logged by asyncio as
  'exception was never retrieved', before the failure reaches us: those are dropped here too
  (and for good once a failure is reported: `_drop_unretrieved_asyncio_errors`)."""
  logger = py_logging.getLogger("absl")
  level = logger.level
  logger.setLevel(py_logging.CRITICAL)
  asyncio_logger = py_logging.getLogger("asyncio")
  unretrieved_while_quiet = lambda record: _unretrieved(record)  # A filter of its own to remove.
  asyncio_logger.addFilter(unretrieved_while_quiet)
  try:
    yield
  finally:
    logger.setLevel(level)
    asyncio_logger.removeFilter(unretrieved_while_quiet)


def _unretrieved(record):
  return "exception was never retrieved" not in str(record.msg)


def _drop_unretrieved_asyncio_errors():
  """After a failed read or write has been reported, orbax's other tasks for the same files fail
  the same way; asyncio logs each one ('Task/Future exception was never retrieved', a traceback)
  whenever it is garbage-collected, maybe after our one error line. Only those records are
  dropped, for the rest of the process; asyncio's other messages still show."""
  logger = py_logging.getLogger("asyncio")
  if _unretrieved not in logger.filters:
    logger.addFilter(_unretrieved)


def _drop_closed_loop_noise(previous_hook=sys.unraisablehook):
  """A failed tensorstore read leaves callbacks that fire later, even while the interpreter exits,
  on an asyncio loop orbax has closed ('Event loop is closed', printed as a traceback by Python's
  unraisable-exception hook). They carry no information once the failure has been reported, so
  that one exception is dropped for the whole process; every other one is printed as before."""

  def hook(unraisable):
    if not (isinstance(unraisable.exc_value, RuntimeError)
            and "Event loop is closed" in str(unraisable.exc_value)):
      previous_hook(unraisable)
  sys.unraisablehook = hook


_WRITE_ERRNOS = {errno.ENOSPC, errno.EFBIG, errno.EDQUOT, errno.EACCES, errno.EPERM, errno.EROFS}


def _drop_reported_write_errors(previous_hook=threading.excepthook):
  """Orbax's writer threads also raise the write error that `save` reports as one line (disk
  full, permission denied), and either die with it (a traceback from Python's thread hook) or log
  it through absl ('_SignalingThread.run() raised an exception', a traceback), sometimes after
  that line, when `_quiet_orbax` is over. They say nothing more, so only those are dropped: an
  orbax thread's failed write (`_is_write_failure`)."""

  def hook(args):
    frames = traceback.extract_tb(args.exc_traceback) if args.exc_traceback else []
    if not (_is_write_failure(args.exc_value)
            and any("orbax" in frame.filename for frame in frames)):
      previous_hook(args)
  threading.excepthook = hook
  py_logging.getLogger("absl").addFilter(_not_an_orbax_write_failure)


def _not_an_orbax_write_failure(record):
  exc = record.exc_info[1] if record.exc_info else None
  return not (exc is not None and "orbax" in record.pathname and _is_write_failure(exc))


def _is_write_failure(e):
  """Whether `e` is a failed write of the kinds `save` reports: an OSError of a write errno, or
  tensorstore's ValueError carrying one ('... [os_error_code=27]')."""
  os_error = _os_error(e)
  return (os_error.errno if os_error is not None else _tensorstore_errno(e)) in _WRITE_ERRNOS


_drop_closed_loop_noise()
_drop_reported_write_errors()
