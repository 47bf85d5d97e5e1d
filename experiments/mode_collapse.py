"""Mode-collapse benchmark (PacGAN protocol): every variant of configs/mode_collapse.py on ring8 and
grid25, ten seeds trained together as one vmapped, scanned program per variant.

  python experiments/mode_collapse.py [--steps=N] [--variants=a,b] [--datasets=ring8,grid25]
      [--ema=0.999,0.9999]

Writes experiments/results/mode_collapse.md (mean +- standard error over seeds next to PacGAN's
Table 1), mode_collapse.json and mode_collapse.png (seed-0 samples of every run). Each seed has its
own 100k-point training set, initialisation and noise; batches are drawn uniformly with replacement
from it. Metrics are those of `gan_jax.families.latent.mode_metrics` on 2,500 samples.
"""
import argparse
import json
import os
import sys
import time

import jax
import jax.numpy as jnp
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from configs import mode_collapse  # pylint: disable=g-import-not-at-top
from gan_jax import key_streams
from gan_jax.families.latent import mode_metrics
from gan_jax.families.latent import models
from gan_jax import regularizers
from gan_jax import toy_data
from gan_jax.families.latent import step as train_step_lib

RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")
# PacGAN (Lin et al. 2018) Table 1: (modes, HQ %, reverse KL).
PUBLISHED = {
    "grid25": [("GAN", 17.3, 94.8, 0.70), ("ALI", 24.1, 95.7, 0.14), ("PacGAN4", 24.8, 93.6, 0.04)],
    "ring8": [("GAN", 6.3, 98.2, 0.45), ("PacGAN2", 7.9, 95.6, 0.07)],
}
GOAL = {"grid25": (24.8, 95.0, 0.04), "ring8": (8.0, 97.0, None)}


def get_config(dataset, variant, overrides):
  config = mode_collapse.get_config(f"{dataset},{variant}")
  for key, value in overrides.items():
    section, name = key.split(".")
    config[section][name] = value
  return config


def make_member_steps(config, step_fn, chunk):
  """member_steps(state, data, key) -> (state, mean d_loss) of `chunk` steps of one run, each on
  a batch drawn uniformly with replacement from its training set `data`."""
  per_step = config.batch_size * config.n_critic

  def member_steps(state, data, key):
    def one(state, _):
      step_key = jax.random.fold_in(key, state.step)
      idx = jax.random.randint(jax.random.fold_in(key_streams.data_key(key), state.step),
                               (per_step,), 0, len(data))
      batch = {"x": data[idx], "label": jnp.zeros((per_step,), jnp.int32)}
      state, metrics = step_fn(state, batch, step_key)
      return state, metrics["d_loss"]
    state, d_loss = jax.lax.scan(one, state, None, length=chunk)
    return state, d_loss.mean()
  return member_steps


def _live_g(state):
  g = state.nets["g"]
  return {"params": g.params, "batch_stats": g.collections.get("batch_stats", {})}


def with_more_emas(step_fn, decays):
  """`step_fn` that also averages G's weights and batch-norm statistics at each of `decays`, by the
  rule of the state's own EMA (ema.start_step 0), into state.extras["emas"]: several decays scored
  from one training run. Returns (init(state) -> state, step_fn)."""
  def init(state):
    return state.replace(extras=dict(state.extras, emas={
        str(d): jax.tree.map(jnp.copy, _live_g(state)) for d in decays}))

  def step(state, batch, rng):
    state, metrics = step_fn(state, batch, rng)
    emas = {d: regularizers.ema_update(ema, _live_g(state), float(d))
            for d, ema in state.extras["emas"].items()}
    return state.replace(extras=dict(state.extras, emas=emas)), metrics
  return init, step


def ema_states(state, decays):
  """[(decay, state whose EMA holds that decay's average)]: decays[0] is the state's own."""
  return [(decays[0], state)] + [(d, state.replace(ema={"g": state.extras["emas"][str(d)]}))
                                 for d in decays[1:]]


def train_variant(datasets, variant, seeds, num_steps, chunk, eval_every, overrides, deadline,
                  decays=(0.0,)):
  """Trains len(datasets) * len(seeds) runs together (one compiled program; the datasets differ
  only in their data), stopping at an evaluation when the next one would end after `deadline`
  (time.time()). The runs' samples come from the generator EMA at each of `decays` (0: the live
  generator). Returns {dataset: {decay: ({step: metrics (S,)}, samples (S, 2500, 2))}}."""
  config = get_config(datasets[0], variant, dict(overrides, **{"ema.decay": decays[0]}))
  generator, discriminator = models.make_models(config.model, (2,), 0)
  init_emas, step_fn = with_more_emas(
      train_step_lib.make_step(config, generator, discriminator), decays[1:])
  sample_fn = train_step_lib.make_sample_fn(generator)
  n_data = config.dataset.num_examples
  data = jnp.asarray(np.stack([toy_data.make_training_set(d, n_data, s)[0]
                               for d in datasets for s in seeds]))
  keys = jnp.stack([jax.random.key(s) for _ in datasets for s in seeds])
  states = jax.jit(jax.vmap(lambda k: init_emas(train_step_lib.init_state(
      config, generator, discriminator, k, jnp.zeros((2, 2))))))(keys)
  train = jax.jit(jax.vmap(make_member_steps(config, step_fn, chunk)), donate_argnums=0)

  @jax.jit
  def generate(states, keys):
    """{decay: samples of every run (R, 2500, 2)}."""
    def one(state, key):
      z, labels = train_step_lib.latent_and_labels(config, 0, jax.random.fold_in(key, 7), 2_500)
      return {d: sample_fn(view, z, labels) for d, view in ema_states(state, decays)}
    return jax.vmap(one)(states, keys)

  score = jax.jit(jax.vmap(mode_metrics.mode_coverage, in_axes=(0, None, None)))
  out = {d: {decay: ({}, None) for decay in decays} for d in datasets}
  last_eval, last_step = time.time(), 0
  for step in range(chunk, num_steps + 1, chunk):
    states, d_loss = train(states, data, keys)
    if step % eval_every == 0 or step == num_steps:
      for decay, samples in generate(states, keys).items():
        samples = samples.reshape((len(datasets), len(seeds), -1, 2))
        for i, d in enumerate(datasets):
          metrics = jax.device_get(score(samples[i], toy_data.modes(d), toy_data.mode_std(d)))
          hist = out[d][decay][0]
          hist[step] = {k: np.asarray(v) for k, v in metrics.items()}
          out[d][decay] = (hist, np.asarray(samples[i]))
          print(f"  {d}/{variant}{f' EMA {decay:g}' if decay else ''} step {step}: modes "
                f"{metrics['modes'].mean():.2f} hq {100 * metrics['hq'].mean():.1f}% rkl "
                f"{metrics['reverse_kl'].mean():.3f} d_loss "
                f"{float(np.mean(d_loss[i * len(seeds):(i + 1) * len(seeds)])):.3f}", flush=True)
      now = time.time()
      rate = (step - last_step) / (now - last_eval)
      print(f"  {rate:.0f} steps/s ({len(datasets) * len(seeds)} runs)", flush=True)
      last_eval, last_step = now, step
      if step < num_steps and now + min(eval_every, num_steps - step) / rate > deadline:
        print(f"  {variant}: stopped at step {step} (--max_minutes)", flush=True)
        break
  return out


def mean_se(values):
  values = np.asarray(values, np.float64)
  return values.mean(), values.std(ddof=1) / np.sqrt(len(values)) if len(values) > 1 else 0.0


def write_markdown(results, args, path, seconds):
  lines = [
      "# Mode-collapse benchmark (PacGAN protocol)", "",
      "Generated by `python experiments/mode_collapse.py " + " ".join(sys.argv[1:]) + "`, "
      f"{len(args.seeds)} seeds per variant (mean +- standard error), {seconds / 60:.1f} min on "
      f"{jax.devices()[0].platform}. Protocol: configs/mode_collapse.py (G 4 x 400 BN-ReLU, D 3 "
      "maxout layers of 200 x 5 pieces, Adam 1e-4 b1 0.8, batch 100, 100k training points)"
      + (f" with these overrides: {args.overrides}" if args.overrides else "")
      + (f"; samples of the generator EMA (decay {', '.join(f'{d:g}' for d in args.decays)}, "
         "each from the same runs)" if args.decays[0] else "") + "; "
      "the generator steps of each run are in the table (PacGAN: 400,000); 2,500 samples "
      "scored by `gan_jax.families.latent.mode_metrics` (HQ = within 3 sigma of the nearest mode).", ""]
  for dataset in args.datasets:
    lines += [f"## {dataset}", "", "| variant | steps | modes | HQ % | reverse KL |",
              "|---|---|---|---|---|"]
    for name, m, hq, kl in PUBLISHED[dataset]:
      lines.append(f"| {name} (PacGAN Table 1) | 400,000 | {m} | {hq} | {kl} |")
    for label, hist in results[dataset].items():
      final = hist[max(hist)]
      cells = []
      for key, scale, fmt in (("modes", 1, ".1f"), ("hq", 100, ".1f"), ("reverse_kl", 1, ".3f")):
        mu, se = mean_se(final[key] * scale)
        cells.append(f"{mu:{fmt}} +- {se:{fmt}}")
      lines.append(f"| {label} (ours) | {max(hist):,} | " + " | ".join(cells) + " |")
    lines.append("")
  best = best_variant(results, "grid25") if "grid25" in results else None
  if best:
    lines += ["Goal (grid: >= 24.8 modes, >= 95 % HQ, reverse KL <= 0.04; ring: 8 modes, >= 97 % "
              "HQ): " + goal_text(results), ""]
    variant, decay = args.runs[best]
    overrides = dict(args.overrides, **({"ema.decay": decay} if decay else {}))
    extra = "".join(f" --config.{k}={','.join(map(str, v)) if isinstance(v, tuple) else v}"
                    for k, v in overrides.items())
    lines.append(f"best-grid25: python -m gan_jax.main --config=configs/mode_collapse.py:grid25,"
                 f"{variant} --config.num_train_steps={max(results['grid25'][best])}{extra}")
  with open(path, "w") as f:
    f.write("\n".join(lines) + "\n")


def _final_means(hist):
  final = hist[max(hist)]
  return final["modes"].mean(), 100 * final["hq"].mean(), final["reverse_kl"].mean()


def best_variant(results, dataset):
  # Most modes, then lowest reverse KL.
  return min(results[dataset], key=lambda v: (-round(_final_means(results[dataset][v])[0], 1),
                                              _final_means(results[dataset][v])[2]))


def goal_text(results):
  parts = []
  for dataset, (modes, hq, kl) in GOAL.items():
    if dataset not in results:
      continue
    hits = [v for v, h in results[dataset].items()
            if _final_means(h)[0] >= modes and _final_means(h)[1] >= hq
            and (kl is None or _final_means(h)[2] <= kl)]
    parts.append(f"{dataset}: {', '.join(hits) if hits else 'not reached by any variant'}")
  return "; ".join(parts) + "."


def plot(samples, path):
  datasets = list(samples)
  variants = list(samples[datasets[0]])
  fig, axes = plt.subplots(len(datasets), len(variants), figsize=(2.2 * len(variants),
                                                                   2.3 * len(datasets)),
                           squeeze=False)
  for i, dataset in enumerate(datasets):
    modes = toy_data.modes(dataset)
    for j, variant in enumerate(variants):
      ax = axes[i, j]
      ax.scatter(*samples[dataset][variant].T, s=1, alpha=0.4)
      ax.scatter(*modes.T, s=8, c="red", marker="x")
      lim = 1.5 if dataset == "ring8" else 5.5
      ax.set_xlim(-lim, lim), ax.set_ylim(-lim, lim), ax.set_xticks([]), ax.set_yticks([])
      ax.set_title(f"{dataset} {variant}", fontsize=8)
  fig.tight_layout()
  fig.savefig(path, dpi=80)


def main():
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--steps", type=int, default=10_000)
  parser.add_argument("--chunk", type=int, default=500, help="Steps per compiled call.")
  parser.add_argument("--eval_every", type=int, default=2_500)
  parser.add_argument("--num_seeds", type=int, default=10)
  parser.add_argument("--variants", default=",".join(mode_collapse.VARIANTS))
  parser.add_argument("--datasets", default="ring8,grid25")
  parser.add_argument("--g_hidden", default="", help="Override G's widths, e.g. 128,128,128,128.")
  parser.add_argument("--d_hidden", default="", help="Override D's maxout widths, e.g. 128,128.")
  parser.add_argument("--ema", default="0", help="Generator EMA decays, comma-separated (0 = "
                      "off): samples are then scored from the EMA weights (and statistics) at "
                      "each decay, all averaged over the same training runs.")
  parser.add_argument("--max_minutes", type=float, default=0,
                      help="Stop every variant at the last evaluation that fits in this many "
                      "minutes (0 = no limit); the table gives the steps each reached.")
  parser.add_argument("--out", default=RESULTS)
  args = parser.parse_args()
  args.seeds = list(range(args.num_seeds))
  args.datasets = args.datasets.split(",")
  os.makedirs(args.out, exist_ok=True)
  start = time.time()
  overrides = {}
  if args.g_hidden:
    overrides["model.g_hidden"] = tuple(int(w) for w in args.g_hidden.split(","))
  if args.d_hidden:
    overrides["model.d_hidden"] = tuple(int(w) for w in args.d_hidden.split(","))
  args.overrides = overrides
  args.decays = [float(d) for d in args.ema.split(",")]
  args.runs = {}  # Results label -> (variant, EMA decay).
  results = {d: {} for d in args.datasets}
  samples = {d: {} for d in args.datasets}
  variants = args.variants.split(",")
  for i, variant in enumerate(variants):
    t = time.time()
    # Each variant gets an equal share of the time that is left.
    deadline = (t + (start + 60 * args.max_minutes - t) / (len(variants) - i)
                if args.max_minutes else float("inf"))
    out = train_variant(args.datasets, variant, args.seeds, args.steps, args.chunk,
                        args.eval_every, overrides, deadline, args.decays)
    print(f"{variant}: {time.time() - t:.0f} s", flush=True)
    for decay in args.decays:
      label = variant if len(args.decays) == 1 else f"{variant}, EMA {decay:g}"
      args.runs[label] = (variant, decay)
      for d in args.datasets:
        hist, s = out[d][decay]
        results[d][label], samples[d][label] = hist, s[0]
    # After every variant, so a stopped run leaves its partial results.
    write_outputs(results, samples, args, time.time() - start)
  print(open(os.path.join(args.out, "mode_collapse.md")).read())


def write_outputs(results, samples, args, seconds):
  with open(os.path.join(args.out, "mode_collapse.json"), "w") as f:
    json.dump({d: {v: {str(step): {k: a.tolist() for k, a in m.items()} for step, m in h.items()}
                   for v, h in r.items()} for d, r in results.items()}, f)
  write_markdown(results, args, os.path.join(args.out, "mode_collapse.md"), seconds)
  plot(samples, os.path.join(args.out, "mode_collapse.png"))


if __name__ == "__main__":
  main()
