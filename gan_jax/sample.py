"""Exports samples from the latest checkpoint of a trained run whose family draws from latent
vectors and class labels (its `TOOLS.sample`; the EMA generator when the run has one).

  python -m gan_jax.sample --workdir=DIR --num_samples=N --output=FILE.npz [--label=K] [--grid=FILE.png]
      [--psi=0.7]   # a w space (TOOLS.truncation): truncation towards the tracked w average
      [--batch_size=500] [--overwrite]

The .npz holds `samples` (uint8 NHWC images, or float32 (N, 2) points) and `labels` when the model is
conditional. The samples are drawn `--batch_size` at a time and written as they come (memory stays
flat in N), with a progress line on stderr for long requests; a request larger than the free space
of --output's folder is refused. Every output is checked before the run is restored: an existing
one is refused unless --overwrite; each appears whole or not at all.
"""
import contextlib
import os
import shutil
import zipfile

from absl import flags
from absl import logging
import jax
import numpy as np

from gan_jax import cli
from gan_jax import families
from gan_jax import latent_tools
from gan_jax import loop
from gan_jax import output_paths
from gan_jax import outputs
from gan_jax.errors import UserError

FLAGS = flags.FLAGS


def define_flags(flag_values=flags.FLAGS):
  flags.DEFINE_string("workdir", None, "A training run's workdir.", flag_values=flag_values)
  flags.DEFINE_integer("num_samples", 64, "How many samples.", flag_values=flag_values)
  flags.DEFINE_string("output", None, "The .npz file to write.", flag_values=flag_values)
  flags.DEFINE_integer("label", None, "Class of every sample (conditional models); default: cycle.",
                       flag_values=flag_values)
  flags.DEFINE_string("grid", None, f"Also write a PNG grid of the first {GRID_IMAGES} samples (or "
                      f"a scatter plot of the first {GRID_POINTS} for 2D data).",
                      flag_values=flag_values)
  flags.DEFINE_integer("seed", 0, "Seed of the latent vectors.", flag_values=flag_values)
  flags.DEFINE_integer("batch_size", 500, "Samples generated per device call.",
                       flag_values=flag_values)
  flags.DEFINE_float("psi", 1.0, "Runs with a w space: truncation psi in [0, 1] (1 = none).",
                     flag_values=flag_values)
  output_paths.define_overwrite_flag(flag_values)
  flags.mark_flags_as_required(["workdir", "output"], flag_values=flag_values)


# What both the image grid (PIL) and the 2D scatter plot (matplotlib) can write.
GRID_EXTENSIONS = (".png", ".jpg", ".jpeg")
GRID_IMAGES, GRID_POINTS = 256, 10000  # More would not be seen (or, as points, not be plotted).


def check_request(config, psi=1.0, workdir=None):
  """What the run's config alone refuses (a family whose runs this tool does not draw from,
  truncation of a model without w), so that the tool refuses it before restoring anything."""
  families.offered(config, "sample", workdir)
  latent_tools.check_psi(psi)
  if psi != 1.0 and not families.get(config.family).TOOLS.truncation:
    raise UserError(f"--psi={psi:g}: truncation needs a generator with a w space and its tracked "
                    f"average; --workdir holds a {config.family} run, which has none")


def generate(restored, num_samples, label=None, seed=0, batch_size=500, psi=1.0):
  """(samples, labels) from a restored run (`loop.restore`) through its Trainer.sampler; images as
  uint8. `psi` < 1 truncates w towards its tracked average."""
  batches = list(sample_batches(restored, num_samples, label, seed, batch_size, psi))
  labels = [y for _, y in batches]
  return (np.concatenate([s for s, _ in batches]),
          None if labels[0] is None else np.concatenate(labels))


def sample_batches(restored, num_samples, label=None, seed=0, batch_size=500, psi=1.0):
  """`generate`'s (samples, labels) `batch_size` at a time: batch i from fold_in(key(seed), i)."""
  check_request(restored.config, psi)
  sampler, state = restored.trainer.sampler, restored.state
  num_classes = sampler.num_classes
  if label is not None and not 0 <= label < num_classes:
    allowed = f"0..{num_classes - 1}" if num_classes else "none (the model is unconditional)"
    raise UserError(f"--label={label} is out of range; allowed: {allowed}")
  images = restored.dataset.info.kind == "image"
  for i, start in enumerate(range(0, num_samples, batch_size)):
    n = min(batch_size, num_samples - start)
    z = jax.random.normal(jax.random.fold_in(jax.random.key(seed), i), (n, sampler.z_dim))
    y = None
    if num_classes:
      y = np.full((n,), label) if label is not None else (np.arange(start, start + n) % num_classes)
      y = y.astype(np.int32)
    samples = np.asarray(sampler.sample(state, z, y, psi))
    yield (outputs.to_uint8(samples) if images else samples), y


def _check_space(path, num_samples, samples, labels):
  """Refuses a request whose .npz would not fit in the free space of its folder (known from the
  first batch), before it is generated."""
  per_sample = (samples.nbytes + (0 if labels is None else labels.nbytes)) / len(samples)
  folder = os.path.dirname(path)
  need, free = num_samples * per_sample, shutil.disk_usage(folder).free
  if need > free:
    raise UserError(f"--num_samples={num_samples} needs {_size(need)} for --output, more than "
                    f"the {_size(free)} free in {folder}; ask for fewer samples or write them "
                    "elsewhere")


def _size(n):
  for unit in ("bytes", "kB", "MB", "GB"):
    if n < 1000:
      break
    n /= 1000
  return f"{n:.0f} bytes" if unit == "bytes" else f"{n:.1f} {unit}"


def save_grid(path, samples, info):
  """The --grid: an image grid, or for 2D points a scatter plot over the data's modes."""
  if info.kind == "points":
    outputs.save_scatter(path, samples, info.modes)
  else:
    outputs.save_image_grid(path, samples)


def main(argv):
  del argv
  logging.set_verbosity(logging.WARNING)  # Orbax logs every restore at INFO.
  for flag in ("num_samples", "batch_size"):
    if FLAGS[flag].value < 1:
      raise UserError(f"--{flag}={FLAGS[flag].value} must be >= 1")
  output = output_paths.check_file("--output", FLAGS.output, (".npz",), FLAGS.overwrite)
  if FLAGS.grid:
    output_paths.check_file("--grid", FLAGS.grid, GRID_EXTENSIONS, FLAGS.overwrite)
  latent_tools.check_psi(FLAGS.psi)  # Before the restore: a bad number fails at once.
  check_request(loop.load_config(FLAGS.workdir), FLAGS.psi, FLAGS.workdir)
  restored = loop.restore(FLAGS.workdir, announce=cli.note)
  num = FLAGS.num_samples
  progress = outputs.CountProgress("generated", "samples", num)
  info = restored.dataset.info
  grid_size = GRID_POINTS if info.kind == "points" else GRID_IMAGES
  shown, labels, done = [], [], 0
  with output_paths.failed_writes_in_one_line(), output_paths.written(output) as tmp, \
      zipfile.ZipFile(tmp, "w", allowZip64=True) as npz:
    with contextlib.ExitStack() as entry:
      for samples, y in sample_batches(restored, num, FLAGS.label, FLAGS.seed, FLAGS.batch_size,
                                       FLAGS.psi):
        if not done:
          _check_space(output, num, samples, y)
          put = entry.enter_context(output_paths.npz_rows(npz, "samples",
                                                          (num,) + samples.shape[1:],
                                                          samples.dtype))
        put(samples)
        labels += [] if y is None else [y]
        if FLAGS.grid and done < grid_size:
          shown.append(samples[:grid_size - done])
        done += len(samples)
        progress.update(done)
    if labels:
      with output_paths.npz_rows(npz, "labels", (num,), np.int32) as put:
        for y in labels:
          put(y)
    if FLAGS.grid:  # Before the .npz is in place: a failure here leaves neither.
      save_grid(FLAGS.grid, np.concatenate(shown), info)
  print(f"wrote {num} samples to {FLAGS.output}")


if __name__ == "__main__":
  define_flags()
  raise SystemExit(cli.run(main))
