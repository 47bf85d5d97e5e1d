"""Exports samples from a trained run's latest checkpoint (the EMA generator when the run has one).

  python -m gan_jax.sample --workdir=DIR --num_samples=N --output=FILE.npz [--label=K] [--grid=FILE.png]

The .npz holds `samples` (uint8 NHWC images, or float32 (N, 2) points) and `labels` when the model is
conditional.
"""
import json
import os

from absl import flags
import jax
import ml_collections
import numpy as np

from gan_jax import checkpointing
from gan_jax import cli
from gan_jax import input_pipeline
from gan_jax import outputs
from gan_jax import train
from gan_jax import train_step as train_step_lib
from gan_jax.errors import UserError

FLAGS = flags.FLAGS
flags.DEFINE_string("workdir", None, "A training run's workdir.")
flags.DEFINE_integer("num_samples", 64, "How many samples.")
flags.DEFINE_string("output", None, "The .npz file to write.")
flags.DEFINE_integer("label", None, "Class of every sample (conditional models); default: cycle.")
flags.DEFINE_string("grid", None, "Also write a PNG grid (or scatter plot for 2D data).")
flags.DEFINE_integer("seed", 0, "Seed of the latent vectors.")
flags.DEFINE_integer("batch_size", 500, "Samples generated per device call.")
flags.mark_flags_as_required(["workdir", "output"])


def load_config(workdir):
  path = os.path.join(workdir, "config.json")
  if not os.path.exists(path):
    raise UserError(f"--workdir={workdir} holds no config.json; is it a gan_jax training workdir?")
  with open(path) as f:
    return ml_collections.ConfigDict(json.load(f))


def generate(config, workdir, num_samples, label=None, seed=0, batch_size=500):
  """(samples, labels) from the latest checkpoint in `workdir`; samples as the data's dtype range."""
  dataset = input_pipeline.load_dataset(config.dataset)
  # One device: sampling needs no data parallelism, and the training batch need not divide the
  # device count of the machine that samples.
  parts = train.build(config, dataset, devices=jax.devices()[:1])
  manager = checkpointing.make_manager(workdir, config.get("keep_checkpoints", 3))
  state = checkpointing.restore_latest(manager, parts["state"])
  if state is None:
    raise UserError(f"--workdir={workdir} has no checkpoint yet")
  generator = parts["generator"]
  num_classes = generator.num_classes
  if label is not None and not 0 <= label < num_classes:
    allowed = f"0..{num_classes - 1}" if num_classes else "none (the model is unconditional)"
    raise UserError(f"--label={label} is out of range; allowed: {allowed}")
  sample = jax.jit(train_step_lib.make_sample_fn(generator, config, config.ema.decay > 0))
  chunks, labels = [], []
  for i, start in enumerate(range(0, num_samples, batch_size)):
    n = min(batch_size, num_samples - start)
    z, y = train_step_lib.latent_and_labels(config, num_classes,
                                            jax.random.fold_in(jax.random.key(seed), i), n)
    if num_classes:
      y = np.full((n,), label) if label is not None else (np.arange(start, start + n) % num_classes)
      y = y.astype(np.int32)
    chunks.append(np.asarray(sample(state, z, y)))
    labels.append(np.asarray(y))
  samples = np.concatenate(chunks)
  if dataset.info.kind == "image":
    samples = outputs.to_uint8(samples)
  return samples, (np.concatenate(labels) if num_classes else None), dataset.info


def main(argv):
  del argv
  for flag in ("num_samples", "batch_size"):
    if FLAGS[flag].value < 1:
      raise UserError(f"--{flag}={FLAGS[flag].value} must be >= 1")
  if not FLAGS.output.endswith(".npz"):
    raise UserError(f"--output={FLAGS.output} must end in .npz")
  for flag in ("output", "grid"):
    folder = os.path.dirname(os.path.abspath(FLAGS[flag].value or "."))
    if not os.path.isdir(folder):
      raise UserError(f"--{flag}={FLAGS[flag].value}: the folder {folder} does not exist")
  config = load_config(FLAGS.workdir)
  samples, labels, info = generate(config, FLAGS.workdir, FLAGS.num_samples, FLAGS.label,
                                   FLAGS.seed, FLAGS.batch_size)
  arrays = {"samples": samples}
  if labels is not None:
    arrays["labels"] = labels
  tmp = FLAGS.output + ".tmp.npz"
  np.savez(tmp, **arrays)
  os.replace(tmp, FLAGS.output)
  if FLAGS.grid:
    train.save_samples(FLAGS.grid, samples if info.kind == "points" else samples[:256], info)
  print(f"wrote {len(samples)} samples to {FLAGS.output}")


if __name__ == "__main__":
  raise SystemExit(cli.run(main))
