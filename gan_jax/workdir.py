"""One run per workdir: an exclusive OS lock, and one clear line when the workdir cannot be used.

    workdir.check_usable(path)          # early, writes nothing: a file, an unwritable folder or a
                                        # held lock is a UserError
    with workdir.lock(path):            # after every check: creates the folder, takes the lock
      ...                               # (released on exit, or by the kernel when the process dies)

The lock is `fcntl.flock` on `DIR/.lock`, which holds the holder's pid and host. The kernel drops
it when its holder exits for any reason (kill -9 included), so a crashed run never leaves a stale
lock: the file stays, the lock does not. A second process exits at once naming the holder,
instead of two runs writing one metrics.jsonl and racing on the checkpoints.

Remote paths (`gs://...`) cannot be locked this way and are not; on a network file system flock
works where the server supports it (NFSv4 does).
"""
import contextlib
import errno
import fcntl
import os
import socket

from gan_jax.errors import UserError

LOCK_NAME = ".lock"


def _is_remote(path):
  return "://" in str(path)


def _holder(lock_path):
  try:
    with open(lock_path) as f:
      text = f.read().strip()
  except OSError:
    return "another process"
  return f"process {text}" if text else "another process"


def _held_by_other(lock_path):
  """Whether another process holds the lock (probed without writing)."""
  try:
    fd = os.open(lock_path, os.O_RDONLY)
  except OSError:
    return False
  try:
    fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
  except BlockingIOError:
    return True
  except OSError:
    return False
  finally:
    os.close(fd)
  return False


def _in_use(path, lock_path):
  return UserError(f"workdir {path} is in use by {_holder(lock_path)} (it holds {lock_path}); "
                   "wait for it to finish or stop it, or use another --workdir")


def check_usable(path):
  """Refuses, without writing anything, a workdir that is a file, cannot be created or written, or
  is locked by another run."""
  if _is_remote(path):
    return
  path = os.path.abspath(path)
  if os.path.exists(path) and not os.path.isdir(path):
    raise UserError(f"workdir {path} is a file, not a folder; use another --workdir")
  existing = path
  while not os.path.exists(existing):  # The nearest existing folder is where it gets created.
    parent = os.path.dirname(existing)
    if parent == existing:
      break
    existing = parent
  if not os.path.isdir(existing):
    raise UserError(f"workdir {path} cannot be created: {existing} is a file")
  if not os.access(existing, os.W_OK | os.X_OK):
    what = "workdir" if existing == path else f"workdir {path} cannot be created: folder"
    raise UserError(f"{what} {existing} is not writable ({_why_not_writable(existing)}); use "
                    "another --workdir")
  lock_path = os.path.join(path, LOCK_NAME)
  if _held_by_other(lock_path):
    raise _in_use(path, lock_path)


def _why_not_writable(folder):
  """os.access says no without saying why: a read-only mount, or the folder's permissions."""
  try:
    read_only = bool(os.statvfs(folder).f_flag & os.ST_RDONLY)
  except OSError:
    read_only = False
  return "read-only file system" if read_only else "permission denied"


@contextlib.contextmanager
def lock(path):
  """Creates the workdir if needed and holds its lock until the block exits; UserError when the
  folder cannot be created or written, or another process holds the lock."""
  if _is_remote(path):
    yield path
    return
  path = os.path.abspath(path)
  if os.path.exists(path) and not os.path.isdir(path):
    raise UserError(f"workdir {path} is a file, not a folder; use another --workdir")
  try:
    os.makedirs(path, exist_ok=True)
  except OSError as e:
    raise UserError(f"workdir {path} cannot be created: {e.strerror} ({e.filename or path})") from e
  lock_path = os.path.join(path, LOCK_NAME)
  try:
    # O_RDWR without O_TRUNC: the holder's pid stays readable until we own the lock.
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
  except OSError as e:
    raise UserError(f"workdir {path} is not writable: {e.strerror} ({lock_path})") from e
  try:
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
  except OSError as e:
    os.close(fd)
    if e.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
      raise _in_use(path, lock_path) from e
    raise UserError(f"workdir {path} cannot be locked: {e.strerror} ({lock_path})") from e
  try:
    try:
      os.ftruncate(fd, 0)
      os.write(fd, f"{os.getpid()} on {socket.gethostname()}\n".encode())
    except OSError as e:
      raise UserError(f"workdir {path} is not writable: {e.strerror} ({lock_path})") from e
    yield path
  finally:
    fcntl.flock(fd, fcntl.LOCK_UN)
    os.close(fd)
