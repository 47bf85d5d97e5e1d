"""How long each variant's default run takes on this machine: the compile time of its training
call, the steps/s of compiled calls, and the default run's training time at that rate.

  python experiments/variant_times.py [--configs=wgan_gp,gan_mlp:ring8,...] [--calls=2]

Each config is built as `gan_jax.main` builds it (its own data, batch, steps per call) and its
first call (compilation included) and `--calls` further calls are timed. The estimate is
num_train_steps / (steps/s) plus the first call; evaluation, sample grids and checkpoints are not
counted, and a progressive config is timed in its first stage only. Prints a markdown table.
"""
import argparse
import importlib
import os
import sys
import time

import jax

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from gan_jax import families  # pylint: disable=g-import-not-at-top
from gan_jax import loop  # pylint: disable=g-import-not-at-top

DEFAULT_CONFIGS = ("wgan_gp,gan_mlp,gan_mlp:ring8,dcgan_mnist,cgan_mnist,wgan,dcgan_cifar10,"
                   "sngan_cifar10")


def load(spec):
  name, _, arg = spec.partition(":")
  module = importlib.import_module(f"configs.{name}")
  return module.get_config(arg) if arg else module.get_config()


def time_config(spec, calls):
  """(first call s, steps/s, estimated default run s, config) of one config."""
  config = load(spec)
  dataset = families.get(config.family).load_data(config)
  program = loop.build(config, dataset)
  k = min(config.steps_per_call, config.num_train_steps)
  start = time.perf_counter()
  state, _ = program.call(program.state, k, 0)
  jax.block_until_ready(state)
  first = time.perf_counter() - start
  start = time.perf_counter()
  for i in range(calls):
    state, _ = program.call(state, k, k * (i + 1))
    jax.block_until_ready(state)  # Each call blocked on, as the loop does.
  rate = calls * k / (time.perf_counter() - start)
  return first, rate, first + config.num_train_steps / rate, config


def main():
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--configs", default=DEFAULT_CONFIGS)
  parser.add_argument("--calls", type=int, default=2)
  args = parser.parse_args()
  device = jax.devices()[0]
  print(f"{device.platform}: {device.device_kind}, {os.cpu_count()} CPUs, jax {jax.__version__}")
  print("| config | batch | steps | first call (compile) s | steps/s | default run, est. |")
  print("| --- | --- | --- | --- | --- | --- |")
  for spec in args.configs.split(","):
    first, rate, total, config = time_config(spec, args.calls)
    print(f"| {spec} | {config.batch_size} | {config.num_train_steps:,} | {first:.1f} | "
          f"{rate:.2f} | {total / 60:.1f} min |", flush=True)


if __name__ == "__main__":
  main()
