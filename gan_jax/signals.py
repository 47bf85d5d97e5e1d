"""Stopping a run cleanly on SIGTERM (preemption) and SIGINT (Ctrl-C).

    with signals.stop_requests() as stop:
      while step < total and not stop:
        ...                         # one compiled call
      if stop:
        save_checkpoint()
        stop.exit()                 # raises Stopped: `cli.run` prints one line and exits

The handler only records the signal, so the step in flight finishes and the loop saves a consistent
checkpoint. A second Ctrl-C while the first is being handled quits at once (KeyboardInterrupt,
which `cli.run` also turns into one line): the last periodic checkpoint is kept.

Before the loop can save anything (loading the data, building and compiling, restoring), there is
no state worth waiting for: `stop_at_once` makes SIGTERM end the run at once, with one line and the
same status.

Exit statuses: SIGINT 130 (128 + 2, what shells report for Ctrl-C, so scripts see an interrupted
run); SIGTERM 0, as before: a preempted run that saved its state and will resume with the same
command has done what was asked (a scheduler that restarts jobs only on failure would need 143).
"""
import contextlib
import signal
import threading

EXIT_STATUS = {signal.SIGINT: 130, signal.SIGTERM: 0}


class Stopped(Exception):
  """A run stopped by a signal after saving its state; `exit_status` is what the process returns."""

  def __init__(self, signum, message):
    super().__init__(message)
    self.signum = signum
    self.exit_status = EXIT_STATUS.get(signum, 128 + signum)


class StopRequest:
  """Truthy once a handled signal has arrived; `signum` says which (the first one)."""

  def __init__(self):
    self.signum = None

  def __bool__(self):
    return self.signum is not None

  @property
  def name(self):
    return signal.Signals(self.signum).name if self.signum else ""

  def exit(self, message=""):
    """Raises Stopped when a signal arrived (call after saving); returns otherwise."""
    if self.signum is not None:
      raise Stopped(self.signum, message or f"stopped by {self.name}")


@contextlib.contextmanager
def stop_requests(signums=(signal.SIGTERM, signal.SIGINT), announce=True):
  """Yields a StopRequest that becomes true on any of `signums`; restores the previous handlers
  on exit. Outside the main thread (where Python cannot set handlers) it never becomes true."""
  request = StopRequest()
  if threading.current_thread() is not threading.main_thread():
    yield request
    return
  previous = {}

  def handler(signum, _):
    if request.signum is not None:
      if signum == signal.SIGINT:  # A second Ctrl-C: the user does not want to wait.
        raise KeyboardInterrupt
      return
    request.signum = signum
    if signum == signal.SIGINT:
      signal.signal(signal.SIGINT, signal.default_int_handler)
    if announce:  # On stdout with the progress lines; the final line (Stopped) goes to stderr.
      print(f"received {signal.Signals(signum).name}: saving a checkpoint after the current "
            "steps, then exiting" + (" (Ctrl-C again to quit without saving)"
                                     if signum == signal.SIGINT else ""), flush=True)

  for signum in signums:
    previous[signum] = signal.signal(signum, handler)
  try:
    yield request
  finally:
    for signum, old in previous.items():
      signal.signal(signum, old)


@contextlib.contextmanager
def stop_at_once(message, signums=(signal.SIGTERM,)):
  """Until `stop_requests` takes over (it restores this on exit): any of `signums` raises Stopped
  with `message` at once, instead of Python's default for SIGTERM (death, status 143). For the
  stretch before a run has anything to save, which may be long (data, classifiers, compilation);
  Ctrl-C keeps its KeyboardInterrupt. Outside the main thread it does nothing."""
  if threading.current_thread() is not threading.main_thread():
    yield
    return

  def handler(signum, _):
    raise Stopped(signum, message)
  previous = {signum: signal.signal(signum, handler) for signum in signums}
  try:
    yield
  finally:
    for signum, old in previous.items():
      signal.signal(signum, old)
