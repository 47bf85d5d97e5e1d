"""The stop-request context manager: SIGTERM and SIGINT are recorded (not raised), a second Ctrl-C
quits at once, the previous handlers come back, and the exit statuses."""
import os
import signal
import time

import pytest

from gan_jax import signals


def _deliver(signum):
  os.kill(os.getpid(), signum)
  time.sleep(0.05)  # Python runs the handler between bytecodes of the main thread.


@pytest.mark.parametrize("signum, status", [(signal.SIGINT, 130), (signal.SIGTERM, 0)])
def test_a_signal_is_recorded_and_becomes_the_exit_status(signum, status, capsys):
  before = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
  with signals.stop_requests() as stop:
    assert not stop
    stop.exit()  # Nothing arrived: returns.
    _deliver(signum)
    assert stop and stop.signum == signum
    _deliver(signal.SIGTERM)  # Later SIGTERMs change nothing.
    assert stop.signum == signum
    with pytest.raises(signals.Stopped) as e:
      stop.exit(f"stopped by {stop.name} at step 3")
  assert e.value.exit_status == status and str(e.value) == f"stopped by {stop.name} at step 3"
  assert {s: signal.getsignal(s) for s in before} == before
  out = capsys.readouterr().out
  assert out.startswith(f"received {stop.name}: saving a checkpoint") and out.count("\n") == 1


def test_a_second_ctrl_c_quits_at_once():
  with signals.stop_requests(announce=False) as stop:
    _deliver(signal.SIGINT)
    assert stop.signum == signal.SIGINT
    with pytest.raises(KeyboardInterrupt):
      _deliver(signal.SIGINT)
