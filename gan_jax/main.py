"""Trains a GAN of any family from an ml-collections config.

  python -m gan_jax.main --config=configs/wgan_gp.py --workdir=/tmp/wgan_gp [--config.batch_size=128]
"""
import sys

from absl import flags
from absl import logging
from ml_collections import config_flags

from gan_jax import cli
from gan_jax import loop

FLAGS = flags.FLAGS


def define_flags(flag_values=flags.FLAGS):
  flags.DEFINE_string("workdir", None, "Directory for checkpoints, metrics and samples.",
                      flag_values=flag_values)
  config_flags.DEFINE_config_file("config", None, "Training configuration file.",
                                  flag_values=flag_values, lock_config=True)
  flags.mark_flags_as_required(["config", "workdir"], flag_values=flag_values)


def main(argv):
  del argv  # cli.run refuses positional arguments.
  # Orbax and JAX log every checkpoint step at INFO; the progress lines are printed instead.
  logging.set_verbosity(logging.WARNING)
  config = cli.config_from_flag(FLAGS["config"])
  what = " ".join(filter(None, (config.family, "GAN",
                                 config.model.get("name", ""))))  # Not every family names its model.
  print(f"Training {what} on {config.dataset.name} into {FLAGS.workdir}", flush=True)
  loop.train_and_evaluate(config, FLAGS.workdir)


if __name__ == "__main__":
  define_flags()
  sys.exit(cli.run(main))
