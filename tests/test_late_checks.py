"""Mistakes the new families used to find late: each is one UserError line before the run writes
anything (no config.json, checkpoints/, metrics), so the corrected command starts afresh; and the
machine's faults during a run (a full disk under the metrics) are one line that says what is kept."""
import builtins
import errno
import json
import os
import signal
import struct

import numpy as np
from PIL import Image
import pytest

from configs import gan_mlp
from configs import pix2pix_edges2digits
from configs import stylegan_mnist
from configs import text2image_digits
from gan_jax import checkpointing
from gan_jax import loop
from gan_jax import outputs
from gan_jax import signals
from gan_jax.errors import UserError
from test_cyclegan_family import tiny_config as tiny_cyclegan_config


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
  monkeypatch.setenv("GAN_JAX_CACHE", str(tmp_path / "cache"))


def shrink(config, steps=2):
  """A few steps of batch 2, every periodic action at the end."""
  config.num_train_steps = steps
  config.batch_size = 2
  config.steps_per_call = 1
  for key in ("log_every_steps", "sample_every_steps", "checkpoint_every_steps"):
    config[key] = steps
  config.eval_every_steps = 0
  config.num_grid_samples = 4
  return config


def refused(config, workdir, match):
  """The run's UserError (one line, matching `match`); the workdir holds nothing afterwards."""
  with pytest.raises(UserError, match=match) as e:
    loop.train_and_evaluate(config, str(workdir))
  assert "\n" not in str(e.value)
  assert not os.path.exists(workdir) or os.listdir(workdir) == [], os.listdir(workdir)
  return str(e.value)


def tiny_stylegan():
  config = shrink(stylegan_mnist.get_config())
  config.model.update(dict(z_dim=8, w_dim=8, mapping_layers=1, channel_base=64, channel_max=16))
  return config


def test_stylegan_minibatch_std_channels_must_divide_the_width(tmp_path):
  config = tiny_stylegan()
  config.model.mbstd_num_channels = 3  # D's 4x4 width: min(64 / 4, 16) = 16.
  message = refused(config, tmp_path / "run", r"model.mbstd_num_channels=3 must divide D's 4x4 "
                                              r"width 16")
  assert "allowed: 0 (off) or 1, 2, 4, 8, 16" in message


def captioned_squares(root):
  """16 tiny images of red or blue squares and a captions file (dataset.captions) for them."""
  folder = root / "squares"
  folder.mkdir(parents=True)
  records = []
  for i in range(16):
    colour = ("red", (220, 30, 30)) if i % 2 else ("blue", (30, 30, 220))
    image = np.full((8, 8, 3), 20, np.uint8)
    image[2:6, 2:6] = colour[1]
    Image.fromarray(image).save(folder / f"{i:02d}.png")
    records.append({"image": f"{i:02d}.png", "captions": [f"a {colour[0]} square"]})
  captions = root / "captions.jsonl"
  captions.write_text("\n".join(json.dumps(r) for r in records))
  return str(folder), str(captions)


def test_text2image_mode_seeking_needs_pairs_before_anything_is_written(tmp_path):
  config = shrink(text2image_digits.get_config())
  config.dataset.name = "image_folder"
  config.dataset.path, config.dataset.captions = captioned_squares(tmp_path)
  config.dataset.captions_per_image = 1
  config.model.update(dict(latent_dim=4, g_widths=(8, 8), d_widths=(8, 8)))
  config.batch_size = 1
  assert config.loss.mode_seeking_weight > 0
  refused(config, tmp_path / "run", r"mode_seeking_weight > 0 compares pairs of fakes: each "
                                    r"device needs a batch of 2 or more, not 1")


def test_cyclegan_evaluation_without_heldout_images_is_refused_before_writing(tmp_path):
  config = tiny_cyclegan_config(tmp_path / "data")
  config.dataset.heldout = 0
  config.eval_every_steps = 2
  refused(config, tmp_path / "run", r"in-loop evaluation needs held-out images: set "
                                    r"dataset.heldout > 0")


def tiny_pix2pix():
  config = shrink(pix2pix_edges2digits.get_config())
  config.dataset.update(dict(max_images=24, num_heldout=4))
  config.model.update(dict(g_width=4, d_width=4, d_layers=1))
  return config


@pytest.mark.parametrize("direction, match", [
    ("sideways", r"dataset.direction='sideways' is unknown; allowed: a2b, b2a"),
    ("b2a", r"dataset.direction='b2a': dataset.name=edges2digits makes its pairs one way"),
])
def test_pix2pix_direction_is_checked_for_every_task(tmp_path, direction, match):
  config = tiny_pix2pix()
  config.dataset.direction = direction
  refused(config, tmp_path / "run", match)


def test_pix2pix_decay_longer_than_the_run_is_refused_as_cyclegan_refuses_it(tmp_path):
  config = tiny_pix2pix()
  config.lr_schedule.decay_steps = 999999
  refused(config, tmp_path / "run", r"lr_schedule.decay_steps=999999 must be between 0 and "
                                    r"num_train_steps=2 \(or -1: half of it\)")
  config = tiny_cyclegan_config(tmp_path / "data")
  config.decay_steps = 999999
  refused(config, tmp_path / "run", r"^decay_steps=999999 must be between 0 and "
                                    r"num_train_steps=4 \(or -1: half of it\)")


def tiny_mlp(steps=4):
  """gan_mlp on 2D points: every step logged, a checkpoint every 2 steps, no sample plots."""
  config = shrink(gan_mlp.get_config("ring8"), steps)
  config.log_every_steps = 1
  config.checkpoint_every_steps = 2
  config.sample_every_steps = 0
  return config


def full_disk():
  return OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def test_a_full_disk_under_metrics_jsonl_is_one_line_and_the_checkpoint_is_kept(
    tmp_path, monkeypatch, capfd):
  class FullAfterStep2:
    """metrics.jsonl on a disk that fills up after step 2's record."""

    def __init__(self, f):
      self._f = f
      self.name = f.name

    def write(self, text):
      if json.loads(text)["step"] > 2:
        raise full_disk()
      return self._f.write(text)

    def __getattr__(self, name):
      return getattr(self._f, name)

  def opening(path, *args, **kwargs):
    f = builtins.open(path, *args, **kwargs)
    return FullAfterStep2(f) if str(path).endswith("metrics.jsonl") and "a" in args else f
  monkeypatch.setattr(outputs, "open", opening, raising=False)
  workdir = str(tmp_path / "run")
  with pytest.raises(UserError) as e:
    loop.train_and_evaluate(tiny_mlp(), workdir)
  assert str(e.value) == (f"cannot write {workdir}/metrics.jsonl: No space left on device; the "
                          "checkpoints (steps 2) are intact")
  assert checkpointing.make_manager(workdir).latest_step() == 2
  assert "Traceback" not in capfd.readouterr().err


def test_a_full_disk_under_tensorboard_is_one_line_and_the_checkpoint_is_kept(
    tmp_path, monkeypatch, capfd):
  from tensorboardX import record_writer  # pylint: disable=g-import-not-at-top
  flushes = []
  real_flush = record_writer.RecordWriter.flush

  def flush(self):
    flushes.append(1)
    if len(flushes) > 2:  # Steps 1 and 2's events are on disk; then the disk is full.
      raise full_disk()
    real_flush(self)
  monkeypatch.setattr(record_writer.RecordWriter, "flush", flush)
  workdir = str(tmp_path / "run")
  with pytest.raises(UserError, match=r"^cannot write \S+/tensorboard/events.out.tfevents.\S+: No "
                                      r"space left on device; the checkpoints \(steps 2\) are "
                                      r"intact$"):
    loop.train_and_evaluate(tiny_mlp(), workdir)
  assert checkpointing.make_manager(workdir).latest_step() == 2
  assert "Traceback" not in capfd.readouterr().err


def read_events(folder):
  """(step, tag, value) of the scalars and (step, 'START') of the session starts in the event
  files under `folder` (TensorBoard's record format: length, its CRC, the Event, its CRC)."""
  from tensorboardX.proto import event_pb2  # pylint: disable=g-import-not-at-top
  found = []
  for name in sorted(os.listdir(folder)):
    with open(os.path.join(folder, name), "rb") as f:
      data = f.read()
    at = 0
    while at < len(data):
      length, = struct.unpack("Q", data[at:at + 8])
      event = event_pb2.Event.FromString(data[at + 12:at + 12 + length])
      at += 16 + length
      if event.HasField("session_log"):
        found.append((event.step, "START"))
      found += [(event.step, v.tag, v.simple_value) for v in event.summary.value]
  return found


def test_tensorboard_events_hold_each_write_and_a_resume_purges_the_later_steps(tmp_path):
  writer = outputs.MetricWriter(str(tmp_path))
  writer.write(10, {"d_loss": 1.5})
  writer.write(20, {"d_loss": 2.5})
  writer.close()
  assert read_events(tmp_path / "tensorboard") == [(10, "d_loss", 1.5), (20, "d_loss", 2.5)]
  writer = outputs.MetricWriter(str(tmp_path), start_step=10)
  writer.write(20, {"d_loss": -2.5})
  writer.close()
  events = read_events(tmp_path / "tensorboard")
  assert (11, "START") in events and events[-1] == (20, "d_loss", -2.5)


@pytest.mark.parametrize("stage", ["load_data", "build"])
def test_sigterm_before_the_first_step_exits_0_at_once_and_writes_nothing(tmp_path, monkeypatch,
                                                                          stage):
  """A preempted job's SIGTERM while the data load or the program compiles: Stopped (cli.run prints
  its one line and returns its status, 0), raised at once, instead of death by SIGTERM (143)."""
  from gan_jax.families.latent import family  # pylint: disable=g-import-not-at-top
  where = family if stage == "load_data" else loop
  real = getattr(where, stage)
  reached = []

  def terminated_meanwhile(*args, **kwargs):
    os.kill(os.getpid(), signal.SIGTERM)
    reached.append(stage)  # The handler raises before the stage goes on.
    return real(*args, **kwargs)
  monkeypatch.setattr(where, stage, terminated_meanwhile)

  def killed(signum, frame):  # Python's default would end the test session (status 143).
    raise AssertionError("SIGTERM was not handled: the process would die with status 143")
  previous = signal.signal(signal.SIGTERM, killed)
  workdir = tmp_path / "run"
  try:
    with pytest.raises(signals.Stopped, match=r"^stopped by SIGTERM before training started: no "
                                              r"step was trained") as e:
      loop.train_and_evaluate(tiny_mlp(), str(workdir))
    assert signal.getsignal(signal.SIGTERM) is killed  # The handler before the run is restored.
  finally:
    signal.signal(signal.SIGTERM, previous)
  assert e.value.exit_status == 0 and "\n" not in str(e.value) and not reached
  assert not os.path.exists(workdir)


def test_pix2pix_unknown_norm_names_the_key(tmp_path):
  config = tiny_pix2pix()
  config.model.norm = "group"
  refused(config, tmp_path / "run", r"^model\.norm='group' is unknown; allowed: batch, instance, "
                                    r"none$")


def test_a_workdir_on_a_read_only_file_system_says_so(tmp_path, monkeypatch):
  class ReadOnly:
    f_flag = os.ST_RDONLY
  monkeypatch.setattr(os, "access", lambda path, mode: False)
  monkeypatch.setattr(os, "statvfs", lambda path: ReadOnly())
  refused(tiny_mlp(), tmp_path / "run", rf"^workdir {tmp_path}/run cannot be created: folder "
                                        rf"{tmp_path} is not writable \(read-only file system\)")


def png_claiming(path, width, height):
  """A 1x1 PNG whose header (IHDR) claims `width` x `height` pixels, its CRC fixed: PIL opens it
  as that size without decoding a pixel."""
  import zlib  # pylint: disable=g-import-not-at-top
  Image.new("L", (1, 1)).save(path)
  data = bytearray(path.read_bytes())
  ihdr = data.index(b"IHDR")
  data[ihdr + 4:ihdr + 12] = struct.pack(">II", width, height)
  data[ihdr + 17:ihdr + 21] = struct.pack(">I", zlib.crc32(bytes(data[ihdr:ihdr + 17])))
  path.write_bytes(bytes(data))
  return path


def test_a_decompression_bomb_given_to_translate_is_one_line_naming_the_file_and_the_limit(
    tmp_path):
  from gan_jax import image_files  # pylint: disable=g-import-not-at-top
  bomb = png_claiming(tmp_path / "bomb.png", 20_000, 20_000)
  with pytest.raises(UserError, match=(
      rf"^--input: '{bomb}' claims 400,000,000 pixels, more than the 178,956,970 that PIL decodes "
      r"\(its limit against decompression bombs\); use a smaller image$")):
    image_files.read_images(str(bomb), "--input")
  with pytest.raises(UserError, match="bomb.png' claims 400,000,000 pixels"):
    image_files.read_images(str(tmp_path), "--input")  # In a folder of inputs too.
  from gan_jax.families.pix2pix import data as pix2pix_data  # pylint: disable=g-import-not-at-top
  with pytest.raises(UserError, match="bomb.png' claims 400,000,000 pixels"):  # Training pairs.
    pix2pix_data.load({"name": "aligned", "path": str(tmp_path)})
  large = tmp_path / "large" / "photo.png"  # A large legitimate image still reads.
  large.parent.mkdir()
  Image.new("RGB", (4000, 3000), (10, 20, 30)).save(large)
  (image,), _ = image_files.read_images(str(large.parent), "--input")
  assert image.shape == (3000, 4000, 3)
