"""CycleGAN train-step throughput next to the same networks trained the usual PyTorch way, in one
run.

  python experiments/bench_cyclegan.py [--configs=cyclegan_digits,cyclegan_cifar]
      [--batch_size=0] [--steps_per_call=10] [--seconds=3]

For each config: the family's step (four networks, two pools, the authors' losses; as
`family.build` makes it for the loop) jitted and donated, one step per call on random images of the
config's domains, and `--steps_per_call` steps per call as the training loop compiles them
(unrolled on CPU: XLA:CPU computes convolution weight gradients slowly inside a loop, jax#12868);
then the same networks and step in PyTorch eager (experiments/torch_cyclegan.py: both generators'
update, then both discriminators' through a 50-image pool), same sizes and batch, on the GPU when
there is one.
"""
import argparse
import importlib
import os
import sys

import jax
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from experiments.bench_train_step import time_calls  # pylint: disable=g-import-not-at-top
from gan_jax import data  # pylint: disable=g-import-not-at-top
from gan_jax import loop  # pylint: disable=g-import-not-at-top
from gan_jax import parallel  # pylint: disable=g-import-not-at-top
from gan_jax.families.cyclegan import family  # pylint: disable=g-import-not-at-top


def load_config(config_name, batch_size):
  module, _, task = config_name.partition(":")
  config = importlib.import_module(f"configs.{module}").get_config(*([task] if task else []))
  if batch_size:
    config.batch_size = batch_size
  return config


def bench_jax(config, seconds, k):
  """(channels, JAX steps/s at one step per call, steps/s as the loop runs k per call)."""
  b, size = config.batch_size, config.dataset.image_size
  # digits2mnist is grey in both domains, the others RGB (grey matched to RGB).
  channels = 1 if config.dataset.name == "digits2mnist" else 3
  shape = (size, size, channels)
  rs = np.random.RandomState(0)
  arrays = {k_: rs.randint(0, 256, (64,) + shape).astype(np.uint8) for k_ in "ab"}
  info = data.DatasetInfo(name="random", kind="image", shape=shape, num_classes=0,
                          num_examples=128, shapes={"a": shape, "b": shape})
  trainer = family.build(config, data.Dataset(info, arrays, groups=(("a",), ("b",))))
  batch = {k_: jax.random.uniform(jax.random.key(i), (b,) + shape, minval=-1, maxval=1)
           for i, k_ in enumerate("ab")}
  new_state = lambda: jax.jit(trainer.init)(jax.random.key(0))
  one_step = lambda s_, x: trainer.step(s_, x, jax.random.fold_in(jax.random.key(0), s_.step))
  single = jax.jit(one_step, donate_argnums=0)
  t1 = time_calls(single, new_state(), 2, batch)
  calls = max(3, int(seconds / t1))
  t1 = time_calls(single, new_state(), calls, batch)
  state = new_state()
  unroll = parallel.unroll_on_cpu(state.params())
  k_steps = jax.jit(lambda s_, x: loop.scan_steps(lambda s_, _: one_step(s_, x), k, s_,
                                                  unroll=unroll), donate_argnums=0)
  t_loop = time_calls(k_steps, state, max(1, calls // k), batch) / k
  return channels, 1 / t1, 1 / t_loop


def main():
  parser = argparse.ArgumentParser()
  parser.add_argument("--configs", default="cyclegan_digits",
                      help="CycleGAN configs, comma-separated.")
  parser.add_argument("--batch_size", type=int, default=0, help="0 = each config's own")
  parser.add_argument("--steps_per_call", type=int, default=10)
  parser.add_argument("--seconds", type=float, default=3.0, help="Timed seconds per measurement.")
  args = parser.parse_args()
  try:
    from experiments import torch_cyclegan  # pylint: disable=g-import-not-at-top
  except ImportError:
    torch_cyclegan = None
    print("PyTorch is not installed: no reference column.")
  k = args.steps_per_call
  print(f"backend: {jax.default_backend()} ({jax.devices()[0].device_kind}), jax {jax.__version__}")
  print(f"steps/s: JAX one step per call | JAX {k} per call as the loop runs them | PyTorch eager")
  for name in args.configs.split(","):
    config = load_config(name, args.batch_size)
    c, ours, ours_loop = bench_jax(config, args.seconds, k)
    b, size, m = config.batch_size, config.dataset.image_size, config.model
    line = (f"CycleGAN {name} ({size}x{size}x{c}) at batch {b}: JAX {ours:.2f} "
            f"({ours_loop:.2f} as the loop runs it)")
    if torch_cyclegan is not None:
      theirs = torch_cyclegan.bench(b, size, c, m.g_width, m.g_blocks, m.d_width, m.d_layers,
                                    args.seconds)
      line += (f", PyTorch eager {theirs:.2f} -> {ours / theirs:.2f}x "
               f"({ours_loop / theirs:.2f}x as the loop runs it)")
    print(line, flush=True)


if __name__ == "__main__":
  main()
