"""What a run leaves in its workdir besides checkpoints: metrics (JSON lines and TensorBoard event
files), sample grids and scatter plots, progress lines."""
import contextlib
import json
import math
import os
import sys
import time

import numpy as np
from PIL import Image

from gan_jax import output_paths


def to_uint8(images):
  """[-1, 1] floats -> uint8, rounding as NVIDIA's metrics do (x * 127.5 + 128, clipped)."""
  return np.clip(np.asarray(images, np.float32) * 127.5 + 128.0, 0, 255).astype(np.uint8)


def image_grid(images, ncols=None):
  """Tiles uint8 NHWC images into one HWC grid with 1-pixel gaps."""
  n, h, w, c = images.shape
  ncols = ncols or int(math.ceil(math.sqrt(n)))
  nrows = int(math.ceil(n / ncols))
  grid = np.zeros((nrows * (h + 1) + 1, ncols * (w + 1) + 1, c), np.uint8)
  for i, img in enumerate(images):
    r, col = divmod(i, ncols)
    grid[1 + r * (h + 1):1 + r * (h + 1) + h, 1 + col * (w + 1):1 + col * (w + 1) + w] = img
  return grid


def save_image_grid(path, images, ncols=None, scale=None):
  """Writes float images in [-1, 1] (or uint8) as one PNG, upscaled so small images stay visible."""
  images = np.asarray(images)
  if images.dtype != np.uint8:
    images = to_uint8(images)
  grid = image_grid(images, ncols)
  if grid.shape[-1] == 1:
    grid = grid[..., 0]
  img = Image.fromarray(grid)
  scale = scale or max(1, 512 // max(img.size))
  if scale > 1:
    img = img.resize((img.size[0] * scale, img.size[1] * scale), Image.NEAREST)
  _atomic_save(img, path)


def save_scatter(path, points, modes=None, title=""):
  """Scatter plot of 2D samples over the true mixture means."""
  import matplotlib  # pylint: disable=g-import-not-at-top
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top
  points = np.asarray(points)
  fig, ax = plt.subplots(figsize=(5, 5), dpi=100)
  ax.scatter(points[:, 0], points[:, 1], s=2, alpha=0.5, label="samples")
  if modes is not None:
    ax.scatter(modes[:, 0], modes[:, 1], s=40, c="red", marker="x", label="modes")
    span = np.abs(modes).max() * 1.5
    ax.set_xlim(-span, span)
    ax.set_ylim(-span, span)
  ax.set_aspect("equal")
  ax.set_title(title)
  ax.legend(loc="upper right", fontsize=8)
  fig.tight_layout()
  try:
    with output_paths.written(path) as tmp:
      fig.savefig(tmp)
  finally:
    plt.close(fig)


def write_json(path, value):
  """Writes `value` as JSON through a temporary file, so a reader (another process of a
  multi-host run, a resumed run) never sees a partial file."""
  with output_paths.written(path) as tmp, open(tmp, "w") as f:
    json.dump(value, f, indent=2, sort_keys=True)


def _atomic_save(img, path):
  with output_paths.written(path) as tmp:
    img.save(tmp)


def _drop_records_after(path, step):
  """Removes the records past `step` from a metrics.jsonl (those a crashed run wrote after the
  checkpoint it resumes from), so the curves hold each step once."""
  if not os.path.exists(path):
    return
  with open(path) as f:
    lines = f.readlines()
  kept = [l for l in lines if l.strip() and json.loads(l)["step"] <= step]
  if len(kept) < len(lines):
    with open(path + ".tmp", "w") as f:
      f.writelines(kept)
    os.replace(path + ".tmp", path)


class MetricWriter:
  """Appends scalars to `metrics.jsonl` and a TensorBoard event file (no-op on non-zero processes).

  `start_step`: the step a run resumes from; what an earlier attempt logged after it is dropped.
  Both files are written and flushed in `write`, in this thread: a failed write (disk full,
  read-only) is an OSError naming its file, raised there for the loop to report in one line
  (tensorboardX's SummaryWriter writes from a thread of its own and flushes again at exit, so
  one full disk used to end in four tracebacks). After a failed write, `close` drops what could
  not be written instead of failing again.
  """

  def __init__(self, workdir, enabled=True, member=None, start_step=0):
    self._enabled = enabled
    self._jsonl = None
    self._tb = None
    self._member = member
    self._failed = False
    if enabled:
      tb_dir = os.path.join(workdir, "tensorboard")
      if member is not None:
        tb_dir = os.path.join(tb_dir, f"member_{member}")
      os.makedirs(tb_dir, exist_ok=True)
      self._tb = _EventFile(tb_dir, purge_step=start_step + 1 if start_step else None)
      path = os.path.join(workdir, "metrics.jsonl")
      _drop_records_after(path, start_step)
      self._jsonl = open(path, "a")

  def write(self, step, scalars):
    if not self._enabled:
      return
    scalars = {k: float(v) for k, v in scalars.items()}
    record = {"step": int(step), **scalars}
    if self._member is not None:
      record["member"] = self._member
    try:
      with _naming_the_file(self._jsonl.name):
        self._jsonl.write(json.dumps(record) + "\n")
        self._jsonl.flush()
      self._tb.write(int(step), scalars)
    except OSError:
      self._failed = True
      raise

  def close(self):
    if not self._enabled:
      return
    for f in (self._jsonl, self._tb):
      try:
        f.close()
      except OSError:
        if not self._failed:  # Reported already otherwise: the same failed write again.
          raise


class _EventFile:
  """A TensorBoard event file of scalars, written and flushed by the caller's thread (tensorboardX's
  record format). `purge_step`: TensorBoard hides the events an earlier attempt wrote from that
  step on (a SessionLog START, as SummaryWriter(purge_step=...) writes)."""

  def __init__(self, folder, purge_step=None):
    from tensorboardX import event_file_writer  # pylint: disable=g-import-not-at-top
    from tensorboardX.proto import event_pb2  # pylint: disable=g-import-not-at-top
    from tensorboardX import summary  # pylint: disable=g-import-not-at-top
    self._event_pb2, self._summary = event_pb2, summary
    # Writes the file's version record; names it events.out.tfevents.<time>.<host>.
    self._writer = event_file_writer.EventsWriter(os.path.join(folder, "events"))
    self.name = self._writer._file_name  # pylint: disable=protected-access
    if purge_step is not None:
      self._add(self._event_pb2.Event(step=purge_step, session_log=self._event_pb2.SessionLog(
          status=self._event_pb2.SessionLog.START)))

  def _add(self, event):
    event.wall_time = time.time()
    with _naming_the_file(self.name):
      self._writer.write_event(event)
      self._writer.flush()

  def write(self, step, scalars):
    with _naming_the_file(self.name):
      for k, v in scalars.items():
        self._writer.write_event(self._event_pb2.Event(
            wall_time=time.time(), step=step, summary=self._summary.scalar(k, v)))
      self._writer.flush()

  def close(self):
    with _naming_the_file(self.name):
      self._writer.close()


@contextlib.contextmanager
def _naming_the_file(path):
  """A failed write or flush raises an OSError without a file name: this one names `path`."""
  try:
    yield
  except OSError as e:
    if e.filename is not None:
      raise
    raise OSError(e.errno, e.strerror or str(e), path) from e


class Progress:
  """Step rate and ETA for progress lines."""

  def __init__(self, start_step, total_steps):
    self._total = total_steps
    self._last_step = start_step
    self._last_time = time.time()

  def restart(self, step):
    """Counts from `step`, now (after a compilation, whose time is not training speed)."""
    self._last_step, self._last_time = step, time.time()

  def line(self, step, scalars):
    """'step s/N metrics | steps/s, ETA' (the rate over the steps since the last line)."""
    shown = " ".join(f"{k}={v:.4g}" for k, v in sorted(scalars.items()))
    if step == self._last_step:  # Just compiled: no compiled steps timed yet.
      return f"step {step}/{self._total} {shown} | steps/s from the next line"
    now = time.time()
    rate = (step - self._last_step) / max(now - self._last_time, 1e-9)
    self._last_step, self._last_time = step, now
    eta = (self._total - step) / rate if rate > 0 else float("inf")
    return f"step {step}/{self._total} {shown} | {rate:.1f} steps/s, ETA {_fmt_seconds(eta)}"


class CountProgress:
  """'generated 1000/20000 samples (412.3/s, ETA 47 s)' for a tool's batch loop, on stderr (stdout
  holds the results): a line at most every `every` seconds, and a last one when a job of several
  batches ends, so a long request shows that it moves and a short one prints nothing."""

  def __init__(self, verb, noun, total, every=10.0):
    self._verb, self._noun, self._total, self._every = verb, noun, total, every
    self._start = self._last = time.perf_counter()
    self._updates = 0

  def update(self, done):
    self._updates += 1
    now = time.perf_counter()
    if now - self._last > self._every or (done >= self._total and self._updates > 1):
      rate = done / max(now - self._start, 1e-9)
      eta = (self._total - done) / max(rate, 1e-9)
      print(f"{self._verb} {done}/{self._total} {self._noun} ({rate:.1f}/s, ETA "
            f"{_fmt_seconds(eta)})", file=sys.stderr, flush=True)
      self._last = now


def _fmt_seconds(s):
  if not math.isfinite(s):
    return "?"
  m, s = divmod(int(s), 60)
  h, m = divmod(m, 60)
  return f"{h}h{m:02d}m{s:02d}s" if h else f"{m}m{s:02d}s"
