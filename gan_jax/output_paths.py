"""The output paths of the command-line tools (gan_jax.sample, translate, generate, explore): checked
when a tool starts, written whole or not at all.

One policy for every tool: an output that exists already is refused unless `--overwrite` is given
(`define_overwrite_flag`, the same help everywhere). `check_file` and `check_folder` run before the
tool restores or computes anything and refuse, as one UserError naming the flag, the value and what
is allowed: a folder that does not exist, a folder where a file goes or a file where a folder goes, a
wrong extension, an existing output without `--overwrite`, and a folder that cannot be written (a
real write probe, so that a read-only mount is caught where os.access, or root, would say yes).

`written(path)` and `written_folder(path)` then write through a temporary file or folder beside the
target, renamed onto it when complete and removed on any failure (an error, Ctrl-C): no half-written
output and no temporary file is ever left behind. `npz_rows` writes one array of an .npz batch by
batch, so that a large request never holds all of it in memory.
"""
import contextlib
import errno
import os
import secrets
import shutil

from absl import flags
import numpy as np

from gan_jax.errors import UserError

OVERWRITE_HELP = ("Replace outputs that exist already (files of the same names in an output "
                  "folder); without it an existing output is an error and nothing is written.")

_WHY_NOT_WRITABLE = {errno.EROFS: "read-only file system", errno.EACCES: "permission denied",
                     errno.EPERM: "permission denied", errno.ENOSPC: "no space left on the device",
                     errno.EDQUOT: "disk quota exceeded"}


def define_overwrite_flag(flag_values):
  flags.DEFINE_bool("overwrite", False, OVERWRITE_HELP, flag_values=flag_values)


def _either(extensions):
  return extensions[0] if len(extensions) == 1 else (
      ", ".join(extensions[:-1]) + " or " + extensions[-1])


def check_file(flag, path, extensions, overwrite=False):
  """Refuses an output file `path` given as `flag` that cannot be written as asked; returns its
  absolute path. `extensions`: the allowed endings (lower case, with the dot)."""
  full = os.path.abspath(os.path.expanduser(path))
  if os.path.isdir(full):
    raise UserError(f"{flag}={path} is a directory; name a file in it (ending in "
                    f"{_either(extensions)})")
  ext = os.path.splitext(full)[1].lower()
  if ext not in extensions:
    raise UserError(f"{flag}={path} must end in {_either(extensions)}" +
                    (f", not {ext!r}" if ext else ""))
  _check_new(flag, path, full, overwrite)
  _check_writable(flag, path, os.path.dirname(full))
  return full


def check_folder(flag, path, overwrite=False, files=None):
  """Refuses an output folder `path` given as `flag` that cannot be written as asked; returns its
  absolute path. With `files` (the names a tool writes into it), the folder may exist and those
  files in it are the outputs; without, the folder itself is the output."""
  full = os.path.abspath(os.path.expanduser(path))
  if os.path.exists(full) and not os.path.isdir(full):
    raise UserError(f"{flag}={path} is a file; name a folder")
  if files is None:
    _check_new(flag, path, full, overwrite)
  elif os.path.isdir(full) and not overwrite:
    existing = [f for f in files if os.path.lexists(os.path.join(full, f))]
    if existing:
      raise UserError(f"{flag}={path} holds {', '.join(existing)} already; pass --overwrite to "
                      "replace it, or name another folder")
  if os.path.isdir(full):
    _check_writable(flag, path, full)
  else:
    _check_writable(flag, path, os.path.dirname(full))
  return full


def _check_new(flag, path, full, overwrite):
  if os.path.lexists(full) and not overwrite:
    raise UserError(f"{flag}={path} exists already; pass --overwrite to replace it, or name a new "
                    "one")


def _check_writable(flag, path, folder):
  if not os.path.isdir(folder):
    raise UserError(f"{flag}={path}: the folder {folder} does not exist")
  try:
    _probe(folder)
  except OSError as e:
    why = _WHY_NOT_WRITABLE.get(e.errno, e.strerror or str(e))
    raise UserError(f"{flag}={path}: the folder {folder} is not writable ({why})") from e


def _probe(folder):
  """Creates and removes a file in `folder`: the one test of writability that a read-only mount,
  ACLs or a full quota cannot pass by mistake."""
  probe = _temporary_name(os.path.join(folder, "write_probe"))
  os.close(os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
  os.unlink(probe)


def _temporary_name(path, ext=""):
  """A hidden name beside `path` that no other process picks (pid and random bits)."""
  folder, name = os.path.split(os.path.abspath(path))
  return os.path.join(folder, f".{name}.{os.getpid()}-{secrets.token_hex(4)}.tmp{ext}")


@contextlib.contextmanager
def written(path):
  """Yields a temporary path beside `path` to write to, with its extension (PIL, matplotlib and
  np.savez choose the format by it); renamed onto `path` when the block ends, removed if it fails.
  An OSError names `path`, not the temporary file."""
  tmp = _temporary_name(path, os.path.splitext(path)[1].lower())  # np.savez appends '.npz' else.
  try:
    yield tmp
    os.replace(tmp, path)
  except BaseException as e:
    with contextlib.suppress(OSError):
      os.unlink(tmp)
    if isinstance(e, OSError) and e.filename in (tmp, None):
      raise OSError(e.errno, e.strerror or str(e), path) from e
    raise


@contextlib.contextmanager
def written_folder(path):
  """Yields a temporary folder beside `path` to fill; it becomes `path` when the block ends (into an
  existing `path`, allowed by --overwrite, its files move, replacing those of the same names), and
  is removed if the block fails."""
  tmp = _temporary_name(path)
  os.mkdir(tmp)
  try:
    yield tmp
    if os.path.isdir(path):
      for name in os.listdir(tmp):
        os.replace(os.path.join(tmp, name), os.path.join(path, name))
      os.rmdir(tmp)
    else:
      os.rename(tmp, path)
  except BaseException:
    shutil.rmtree(tmp, ignore_errors=True)
    raise


@contextlib.contextmanager
def failed_writes_in_one_line():
  """An OSError while a tool writes its outputs (a disk that filled up since the check) is one
  UserError naming the file; `written` has removed the temporary file already."""
  try:
    yield
  except OSError as e:
    raise UserError(f"cannot write {e.filename or 'the output'}: {e.strerror or e}; nothing of it "
                    "was kept") from e


@contextlib.contextmanager
def npz_rows(npz, name, shape, dtype):
  """Writes the array `name` of `shape` into the open zipfile.ZipFile `npz` rows first, a batch at
  a time (`put(rows)`), so that the whole array is never in memory; np.load reads it as it reads
  np.savez's arrays. The batches must add up to shape[0] rows."""
  dtype = np.dtype(dtype)
  header = {"descr": np.lib.format.dtype_to_descr(dtype), "fortran_order": False,
            "shape": tuple(shape)}
  rows = 0
  with npz.open(f"{name}.npy", "w", force_zip64=True) as f:
    np.lib.format.write_array_header_1_0(f, header)

    def put(batch):
      nonlocal rows
      batch = np.ascontiguousarray(batch, dtype)
      f.write(batch.tobytes())
      rows += len(batch)
    yield put
  if rows != shape[0]:
    raise ValueError(f"{name}: {rows} rows written, {shape[0]} declared")
