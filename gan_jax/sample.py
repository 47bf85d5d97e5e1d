"""Exports samples from a trained latent-family or StyleGAN run's latest checkpoint (the EMA
generator when the run has one).

  python -m gan_jax.sample --workdir=DIR --num_samples=N --output=FILE.npz [--label=K] [--grid=FILE.png]
      [--psi=0.7]   # StyleGAN: truncation towards the tracked w average

The .npz holds `samples` (uint8 NHWC images, or float32 (N, 2) points) and `labels` when the model is
conditional.
"""
import functools
import os

from absl import flags
from absl import logging
import jax
import numpy as np

from gan_jax import cli
from gan_jax import latent_tools
from gan_jax import loop
from gan_jax import outputs
from gan_jax.errors import UserError
from gan_jax.families.latent import family as latent
from gan_jax.families.latent import step as step_lib

FLAGS = flags.FLAGS


def define_flags(flag_values=flags.FLAGS):
  flags.DEFINE_string("workdir", None, "A training run's workdir.", flag_values=flag_values)
  flags.DEFINE_integer("num_samples", 64, "How many samples.", flag_values=flag_values)
  flags.DEFINE_string("output", None, "The .npz file to write.", flag_values=flag_values)
  flags.DEFINE_integer("label", None, "Class of every sample (conditional models); default: cycle.",
                       flag_values=flag_values)
  flags.DEFINE_string("grid", None, "Also write a PNG grid (or scatter plot for 2D data).",
                      flag_values=flag_values)
  flags.DEFINE_integer("seed", 0, "Seed of the latent vectors.", flag_values=flag_values)
  flags.DEFINE_integer("batch_size", 500, "Samples generated per device call.",
                       flag_values=flag_values)
  flags.DEFINE_float("psi", 1.0, "StyleGAN runs: truncation psi in [0, 1] (1 = none).",
                     flag_values=flag_values)
  flags.mark_flags_as_required(["workdir", "output"], flag_values=flag_values)


# What both the image grid (PIL) and the 2D scatter plot (matplotlib) can write.
GRID_EXTENSIONS = (".png", ".jpg", ".jpeg")


def generate(restored, num_samples, label=None, seed=0, batch_size=500, psi=1.0):
  """(samples, labels) from a restored latent or StyleGAN run (`loop.restore`); images as uint8.
  `psi` < 1 truncates a StyleGAN's w towards its tracked average."""
  family = restored.config.get("family", "latent")
  if family not in ("latent", "stylegan"):
    raise UserError(f"--workdir holds a {family} run; gan_jax.sample draws from latent-family and "
                    "StyleGAN runs (see the README for that family's tool)")
  latent_tools.check_psi(psi)
  if psi != 1.0 and family != "stylegan":
    raise UserError(f"--psi={psi:g}: truncation needs a StyleGAN run (w and its average); "
                    f"--workdir holds a {family} run")
  config, state = restored.config, restored.state
  generator = restored.trainer.info["generator"]
  num_classes = generator.num_classes
  if label is not None and not 0 <= label < num_classes:
    allowed = f"0..{num_classes - 1}" if num_classes else "none (the model is unconditional)"
    raise UserError(f"--label={label} is out of range; allowed: {allowed}")
  if family == "stylegan":  # Its family's sampler: G's average, fixed noise, the current stage.
    draw = lambda z, y: restored.trainer.info["sample"](state, z, y, psi)
    latents = lambda key, n: (jax.random.normal(key, (n, generator.z_dim)), None)
  else:
    draw = functools.partial(jax.jit(step_lib.make_sample_fn(generator)), state)
    latents = functools.partial(step_lib.latent_and_labels, config, num_classes)
  chunks, labels = [], []
  for i, start in enumerate(range(0, num_samples, batch_size)):
    n = min(batch_size, num_samples - start)
    z, y = latents(jax.random.fold_in(jax.random.key(seed), i), n)
    if num_classes:
      y = np.full((n,), label) if label is not None else (np.arange(start, start + n) % num_classes)
      y = y.astype(np.int32)
    chunks.append(np.asarray(draw(z, y)))
    labels.append(np.asarray(y))
  samples = np.concatenate(chunks)
  if restored.dataset.info.kind == "image":
    samples = outputs.to_uint8(samples)
  return samples, (np.concatenate(labels) if num_classes else None)


def main(argv):
  del argv
  logging.set_verbosity(logging.WARNING)  # Orbax logs every restore at INFO.
  for flag in ("num_samples", "batch_size"):
    if FLAGS[flag].value < 1:
      raise UserError(f"--{flag}={FLAGS[flag].value} must be >= 1")
  if not FLAGS.output.endswith(".npz"):
    raise UserError(f"--output={FLAGS.output} must end in .npz")
  if FLAGS.grid and os.path.splitext(FLAGS.grid)[1].lower() not in GRID_EXTENSIONS:
    raise UserError(f"--grid={FLAGS.grid}: unknown image extension "
                    f"{os.path.splitext(FLAGS.grid)[1]!r}; allowed: {', '.join(GRID_EXTENSIONS)}")
  for flag in ("output", "grid"):
    path = FLAGS[flag].value
    if path and os.path.isdir(path):
      raise UserError(f"--{flag}={path} is a directory; name a file in it")
    folder = os.path.dirname(os.path.abspath(path or "."))
    if not os.path.isdir(folder):
      raise UserError(f"--{flag}={path}: the folder {folder} does not exist")
  latent_tools.check_psi(FLAGS.psi)  # Before the restore: a bad number fails at once.
  restored = loop.restore(FLAGS.workdir)
  samples, labels = generate(restored, FLAGS.num_samples, FLAGS.label, FLAGS.seed,
                             FLAGS.batch_size, FLAGS.psi)
  arrays = {"samples": samples}
  if labels is not None:
    arrays["labels"] = labels
  tmp = FLAGS.output + ".tmp.npz"
  np.savez(tmp, **arrays)
  os.replace(tmp, FLAGS.output)
  if FLAGS.grid:
    info = restored.dataset.info
    latent.save_samples(FLAGS.grid, samples if info.kind == "points" else samples[:256], info)
  print(f"wrote {len(samples)} samples to {FLAGS.output}")


if __name__ == "__main__":
  define_flags()
  raise SystemExit(cli.run(main))
