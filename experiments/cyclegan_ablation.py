"""CycleGAN's ablation (Zhu et al. 2017, sec. 5.1.4 and 5.2) on the digit tasks, measured by what the
translation preserves.

  python experiments/cyclegan_ablation.py [--tasks=digits2mnist,mnist2mnist_on_cifar]
      [--variants=full,no_identity,gan_only,forward_cycle,backward_cycle] [--steps=3000]
      [--root=/tmp/cyclegan_ablation] [--out=experiments/results] [--fid]

Variants (configs/cyclegan_digits.py with these switches):
  full            both cycle terms and the identity terms (the paper's CycleGAN with sec. 5.2's
                  identity loss)
  no_identity     both cycle terms
  gan_only        the adversarial terms alone (the paper's "GAN alone")
  forward_cycle   adversarial + the forward cycle A -> B -> A only ("GAN + forward cycle")
  backward_cycle  adversarial + the backward cycle B -> A -> B only
  cycle_noise_S   full, with Gaussian noise of std S added to each translation before the reverse
                  generator in the cycle terms (loss.cycle_noise_std; S = 0.1, 0.3)
  identity_x4     full, identity_weight 2 instead of 0.5
  cycle_x3        full, both cycle weights 30 instead of 10
  downsample_D    full, generators with D stride-2 steps instead of 2 (model.g_downsamplings; D =
                  0, 1): residual blocks at a higher resolution, a smaller receptive field

Each run trains in <root>/<task>/<variant> (resuming what is there), then is measured on the held-out
images of both directions (gan_jax/families/cyclegan/metrics.py): label preservation by a classifier
of the target domain (trained with writer augmentation; plain_* keys: the same measurements by
classifiers trained without it), the classifier on reconstructions, the hidden-label rate (wrong
translation, right reconstruction), the cycle error, FID/KID against the target domain (--fid),
and the fraction of translations whose background is brighter than their digit (colour
inversion) next to the real target images' fraction. Writes cyclegan_ablation.json and
cyclegan_<task>_<variant>.png (rows: held-out A | A->B | A->B->A | B | B->A | B->A->B) into --out;
prints a markdown table.
"""
import argparse
import json
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from configs import cyclegan_digits  # pylint: disable=g-import-not-at-top
from gan_jax import loop  # pylint: disable=g-import-not-at-top
from gan_jax import outputs  # pylint: disable=g-import-not-at-top
from gan_jax.families.cyclegan import family  # pylint: disable=g-import-not-at-top
from gan_jax.families.cyclegan import metrics  # pylint: disable=g-import-not-at-top
import study_runs  # pylint: disable=g-import-not-at-top

VARIANTS = {
    "full": dict(cycle="both", identity=True),
    "no_identity": dict(cycle="both", identity=False),
    "gan_only": dict(cycle="none", identity=False),
    "forward_cycle": dict(cycle="forward", identity=False),
    "backward_cycle": dict(cycle="backward", identity=False),
    # Beyond the paper: Gaussian noise on the translation before the way back (Bashkirova et al.
    # 2019), against labels hidden in low-amplitude patterns; std in [-1, 1] image units.
    "cycle_noise_0.1": dict(cycle="both", identity=True, cycle_noise_std=0.1),
    "cycle_noise_0.3": dict(cycle="both", identity=True, cycle_noise_std=0.3),
    # Stronger pulls towards the input: the identity terms x4, or both cycle weights x3.
    "identity_x4": dict(cycle="both", identity=True, identity_weight=2.0),
    "cycle_x3": dict(cycle="both", identity=True, cycle_weight_a=30.0, cycle_weight_b=30.0),
    # Generators biased towards changing appearance, not shape: fewer downsamplings.
    "downsample_0": dict(cycle="both", identity=True, model=dict(g_downsamplings=0)),
    "downsample_1": dict(cycle="both", identity=True, model=dict(g_downsamplings=1)),
}
GRID = 8


def variant_config(task, variant, steps, seed=0):
  """The config's run with the variant's switches ('full' is the config itself: a run of
  configs/cyclegan_digits.py in the same workdir is reused)."""
  config = cyclegan_digits.get_config(task)
  switches = dict(VARIANTS[variant])
  config.model.update(switches.pop("model", {}))
  config.loss.update(switches)
  config.seed = seed
  if steps:
    config.num_train_steps = steps
    config.checkpoint_every_steps = min(config.checkpoint_every_steps, steps)
    config.sample_every_steps = min(config.sample_every_steps, steps)
    config.eval_every_steps = steps
  return config


def inverted(images):
  """The fraction of grey-looking images whose 3 px border is brighter than the image on
  average: a dark-background digit turned into a light-background one."""
  x = np.asarray(images, np.float32).mean(-1)
  border = np.concatenate([x[:, :3].reshape(len(x), -1), x[:, -3:].reshape(len(x), -1),
                           x[:, 3:-3, :3].reshape(len(x), -1), x[:, 3:-3, -3:].reshape(len(x), -1)],
                          axis=1).mean(1)
  return float(np.mean(border > x.reshape(len(x), -1).mean(1)))


def is_grey(images):
  return images.shape[-1] == 1 or not (images[..., :1] != images[..., 1:]).any()


def measure(workdir, fid):
  restored = loop.restore(workdir)
  dataset, state, config = restored.dataset, restored.state, restored.config
  config.eval.update(classifier=True, classifier_augment=True, fid=fid)
  translate = metrics.make_translate(restored.trainer.networks)
  result = family.make_evaluator(config, dataset, translate)(state, int(state.step))
  # The same translations read by the classifiers trained without augmentation (the figures
  # before stop 29), prefixed plain_.
  config.eval.update(classifier_augment=False, fid=False)
  plain = family.make_evaluator(config, dataset, translate)(state, int(state.step))
  result.update({f"plain_{k}": v for k, v in plain.items() if not k.startswith("cycle_l1")})
  held = dataset.heldout
  rows = []
  for direction, (source, target, _, _) in metrics.DIRECTIONS.items():
    y, r = metrics.translate_all(translate, state.nets, held[source], direction)
    if is_grey(dataset.arrays[target]):
      result[f"inverted_{direction}"] = inverted(y)
      result[f"real_inverted_{target}"] = inverted(held[target])
    rows.append(metrics.translation_grid(held[source][:GRID], y[:GRID], r[:GRID], GRID))
  return result, np.concatenate(rows)


def main():
  parser = argparse.ArgumentParser()
  parser.add_argument("--tasks", default="digits2mnist,mnist2mnist_on_cifar")
  parser.add_argument("--variants", default=",".join(VARIANTS))
  parser.add_argument("--steps", type=int, default=0, help="0: the config's own")
  parser.add_argument("--root", default="/tmp/cyclegan_ablation")
  parser.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "results"))
  parser.add_argument("--fid", action="store_true", help="FID/KID too (~3 min per run on CPU)")
  parser.add_argument("--seed", type=int, default=0,
                      help="other than 0: runs named <variant>_seed<N>")
  args = parser.parse_args()
  os.makedirs(args.out, exist_ok=True)
  path = os.path.join(args.out, "cyclegan_ablation.json")
  for task in args.tasks.split(","):
    for variant in args.variants.split(","):
      if variant not in VARIANTS:
        parser.error(f"--variants: {variant!r} is unknown; allowed: {', '.join(VARIANTS)}")
      config = variant_config(task, variant, args.steps, args.seed)
      name = f"{variant}_seed{args.seed}" if args.seed else variant
      workdir = os.path.join(args.root, task, name)
      print(f"== {task} / {name}: {workdir}", flush=True)
      found_step = study_runs.latest_step(workdir)
      start = time.time()
      loop.train_and_evaluate(config, workdir)
      trained = time.time() - start
      start = time.time()
      result, grid = measure(workdir, args.fid)
      results = load_results(path)  # Read again just before the write: runs side by side.
      previous = results.get(task, {}).get(name, {})
      if found_step == config.num_train_steps == previous.get("steps"):
        trained = previous.get("train_seconds", trained)  # Found finished: keep its training time.
      result.update(train_seconds=round(trained), measure_seconds=round(time.time() - start),
                    steps=config.num_train_steps, batch_size=config.batch_size)
      results.setdefault(task, {})[name] = result
      outputs.save_image_grid(os.path.join(args.out, f"cyclegan_{task}_{name}.png"), grid,
                              ncols=GRID)
      print(json.dumps(result, indent=1), flush=True)
      outputs.write_json(path, results)
  print_table(load_results(path))


def load_results(path):
  if not os.path.exists(path):
    return {}
  with open(path) as f:
    return json.load(f)


def print_table(results):
  keys = ["untranslated_acc_a2b", "untranslated_acc_b2a", "label_acc_a2b", "label_acc_b2a",
          "plain_label_acc_a2b", "plain_label_acc_b2a",
          "hidden_a2b", "hidden_b2a", "cycle_l1_a", "cycle_l1_b", "inverted_a2b", "inverted_b2a",
          "fid_a2b", "fid_b2a", "kid_a2b", "kid_b2a"]
  for task, runs in results.items():
    print(f"\n{task}\n\n| variant | " + " | ".join(keys) + " |")
    print("| --- " * (len(keys) + 1) + "|")
    for variant, r in runs.items():
      cells = [f"{r[k]:.3g}" if k in r else "" for k in keys]
      print(f"| {variant} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
  main()
