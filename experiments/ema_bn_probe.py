"""Which batch-norm statistics, and which decay, should the EMA generator sample with? One run,
every scoring.

  python experiments/ema_bn_probe.py --dataset=ring8 --variant=pack2 --ema=0.999,0.9999 --steps=20000

Trains one seed of configs/mode_collapse.py and, every --every steps, scores 2,500 samples
(`gan_jax.families.latent.mode_metrics`: modes / HQ % / reverse KL) of the live generator and, for every decay in
--ema, of the averaged weights with (a) the live generator's running statistics, (b) the averaged
statistics (what sampling uses) and (c) the statistics of the 2,500 samples' own batch. The first
decay is the run's own EMA (`state.ema["g"]["params"]`, `state.ema["g"]["batch_stats"]`); the others are
averaged alongside it by the same rule (`mode_collapse.with_more_emas`), so every decay scores the
same training run. Results in experiments/results/mode_collapse.md.
"""
import argparse
import os
import sys
import time

import jax
import jax.numpy as jnp

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from configs import mode_collapse  # pylint: disable=g-import-not-at-top
from experiments import mode_collapse as mode_collapse_bench
from gan_jax.families.latent import mode_metrics
from gan_jax.families.latent import models
from gan_jax import toy_data
from gan_jax.families.latent import step as train_step_lib


def main():
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--dataset", default="ring8")
  parser.add_argument("--variant", default="pack2")
  parser.add_argument("--ema", default="0.999", help="Comma-separated EMA decays.")
  parser.add_argument("--steps", type=int, default=20_000)
  parser.add_argument("--every", type=int, default=5_000)
  parser.add_argument("--seed", type=int, default=0)
  args = parser.parse_args()
  decays = [float(d) for d in args.ema.split(",")]
  config = mode_collapse.get_config(f"{args.dataset},{args.variant}")
  config.ema.decay = decays[0]
  generator, discriminator = models.make_models(config.model, (2,), 0)
  init_emas, step_fn = mode_collapse_bench.with_more_emas(
      train_step_lib.make_step(config, generator, discriminator), decays[1:])
  data = jnp.asarray(toy_data.make_training_set(args.dataset, config.dataset.num_examples,
                                                args.seed)[0])
  key = jax.random.key(args.seed)
  state = init_emas(train_step_lib.init_state(config, generator, discriminator, key,
                                              jnp.zeros((2, 2))))
  member_steps = mode_collapse_bench.make_member_steps(config, step_fn, args.every)
  train = jax.jit(lambda state: member_steps(state, data, key)[0])

  z = jax.random.normal(jax.random.key(123), (2_500, 2))
  labels = jnp.zeros((2_500,), jnp.int32)

  def score(params, stats, train_mode=False):
    out = generator.apply({"params": params, "batch_stats": stats}, z, labels, train=train_mode,
                          mutable=["batch_stats"] if train_mode else False)
    m = mode_metrics.mode_coverage(out[0] if train_mode else out, toy_data.modes(args.dataset),
                                   toy_data.mode_std(args.dataset))
    return f"{float(m['modes']):.0f} / {100 * float(m['hq']):.1f} / {float(m['reverse_kl']):.3f}"

  start = time.time()
  print("step | EMA decay | live G | EMA, live stats | EMA, averaged stats | EMA, batch stats")
  for step in range(args.every, args.steps + 1, args.every):
    state = train(state)
    live = state.nets["g"].collections["batch_stats"]
    live_score = score(state.nets["g"].params, live)
    for decay, view in mode_collapse_bench.ema_states(state, decays):
      params, stats = view.ema["g"]["params"], view.ema["g"]["batch_stats"]
      print(f"{step} | {decay:g} | {live_score} | {score(params, live)} | {score(params, stats)} | "
            f"{score(params, live, train_mode=True)}", flush=True)
    print(f"  ({time.time() - start:.0f} s)", flush=True)


if __name__ == "__main__":
  main()
