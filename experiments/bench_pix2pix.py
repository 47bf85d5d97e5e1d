"""Pix2Pix train-step throughput next to the same networks trained the usual PyTorch way, in one
run.

  python experiments/bench_pix2pix.py [--presets=colorize32,facades256,facades256b16]
      [--steps_per_call=10] [--seconds=3]

For each preset: the family's step (as `family.build` makes it for the loop) jitted and donated, one
step per call on a device-resident batch, and `--steps_per_call` steps per call as the training
loop compiles them (unrolled on CPU: XLA:CPU computes convolution weight gradients slowly inside a
loop, jax#12868); then the same U-Net + PatchGAN and step in PyTorch eager
(experiments/torch_pix2pix.py: G forward once, D then G with Adam), same sizes and batch, on the GPU
when there is one. colorize32 is configs/pix2pix_colorize.py (32 px, L -> ab, U-Net width 32,
2-layer PatchGAN, batch 32); facades256 the paper's networks (256 px, RGB -> RGB, unet_256 width
64, 70x70 PatchGAN, batch 1); facades256b16 the same at batch 16.
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
from gan_jax.families.pix2pix import family  # pylint: disable=g-import-not-at-top

# preset -> (config module, config argument, image size, source / target channels, batch size)
PRESETS = {
    "colorize32": ("pix2pix_colorize", None, 32, 1, 2, 32),
    "facades256": ("pix2pix", "aligned", 256, 3, 3, 1),
    "facades256b16": ("pix2pix", "aligned", 256, 3, 3, 16),
}


def bench_jax(preset, seconds, k):
  """(config, batch, JAX steps/s at one step per call, steps/s as the loop runs k per call)."""
  name, arg, size, cin, cout, batch_size = PRESETS[preset]
  module = importlib.import_module(f"configs.{name}")
  config = module.get_config(arg) if arg else module.get_config()
  config.batch_size = batch_size
  return (config, batch_size) + bench_config(config, size, cin, cout, seconds, k)


def bench_config(config, size, cin, cout, seconds, k):
  """(JAX steps/s at one step per call, steps/s as the loop runs k per call) of a Pix2Pix config
  on random size x size pairs of cin -> cout channels."""
  batch_size = config.batch_size
  config.ema.decay = 0.0  # The PyTorch step keeps no average of G: the same work on both sides.
  shapes = {"source": (size, size, cin), "target": (size, size, cout)}
  rng = np.random.default_rng(0)
  fields = {k_: rng.integers(0, 256, (8,) + s_, np.uint8) for k_, s_ in shapes.items()}
  heldout = dict(fields, image=fields["target"] if cout != 2 else
                 rng.integers(0, 256, (8, size, size, 3), np.uint8))
  info = data.DatasetInfo(name="random", kind="image", shape=shapes["target"], num_classes=0,
                          num_examples=8, shapes=shapes)
  trainer = family.build(config, data.Dataset(info, fields, heldout=heldout))
  batch = {k_: jax.random.uniform(jax.random.key(i), (batch_size,) + s_, minval=-1, maxval=1)
           for i, (k_, s_) in enumerate(shapes.items())}
  new_state = lambda: jax.jit(trainer.init)(jax.random.key(0))
  one_step = lambda s_, b: trainer.step(s_, b, jax.random.fold_in(jax.random.key(0), s_.step))
  single = jax.jit(one_step, donate_argnums=0)
  t1 = time_calls(single, new_state(), 2, batch)
  calls = max(3, int(seconds / t1))
  t1 = time_calls(single, new_state(), calls, batch)
  state = new_state()
  unroll = parallel.unroll_on_cpu(state.params())
  k_steps = jax.jit(lambda s_, b: loop.scan_steps(lambda s_, _: one_step(s_, b), k, s_,
                                                  unroll=unroll), donate_argnums=0)
  t_loop = time_calls(k_steps, state, max(1, calls // k), batch) / k
  return 1 / t1, 1 / t_loop


def main():
  parser = argparse.ArgumentParser()
  parser.add_argument("--presets", default="colorize32", help=f"Any of {', '.join(PRESETS)}.")
  parser.add_argument("--steps_per_call", type=int, default=10)
  parser.add_argument("--seconds", type=float, default=3.0, help="Timed seconds per measurement.")
  args = parser.parse_args()
  for preset in args.presets.split(","):
    if preset not in PRESETS:
      parser.error(f"--presets: {preset!r} is unknown; allowed: {', '.join(PRESETS)}")
  try:
    from experiments import torch_pix2pix  # pylint: disable=g-import-not-at-top
  except ImportError:
    torch_pix2pix = None
    print("PyTorch is not installed: no reference column.")
  k = args.steps_per_call
  print(f"backend: {jax.default_backend()} ({jax.devices()[0].device_kind}), jax {jax.__version__}")
  print(f"steps/s: JAX one step per call | JAX {k} per call as the loop runs them | PyTorch eager")
  for preset in args.presets.split(","):
    config, b, ours, ours_loop = bench_jax(preset, args.seconds, k)
    line = f"Pix2Pix {preset} at batch {b}: JAX {ours:.2f} ({ours_loop:.2f} as the loop runs it)"
    if torch_pix2pix is not None:
      _, _, size, cin, cout, _ = PRESETS[preset]
      m = config.model
      theirs = torch_pix2pix.steps_per_second(size, cin, cout, b, m.g_width, m.d_width,
                                              m.d_layers, m.norm, m.dropout_blocks, args.seconds)
      line += (f", PyTorch eager {theirs:.2f} -> {ours / theirs:.2f}x "
               f"({ours_loop / theirs:.2f}x as the loop runs it)")
    print(line, flush=True)


if __name__ == "__main__":
  main()
