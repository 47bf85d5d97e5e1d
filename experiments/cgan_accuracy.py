"""Conditioning accuracy of a conditional GAN: trains configs/cgan_mnist.py, then reports how often
the shared digit classifier (gan_jax.classifier: a small CNN trained on the MNIST test set, which the
GAN never sees) assigns each generated sample the label it was generated for.

  python experiments/cgan_accuracy.py --workdir=/tmp/cgan [--conditioning=concat|projection]
      [--config_arg=cpu] [--steps=4000] [--samples_per_class=500] [--out=experiments/results]

Writes cgan_accuracy_<model>_<conditioning>.json and a PNG of ten samples per class (one class per
row), with the classifier's own accuracy on held-out real digits so the number can be trusted.
experiments/digit_quality.py --per_class scores a trained run the same way through `gan_jax.sample`.
"""
import argparse
import json
import os
import sys
import time

import jax
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from configs import cgan_mnist  # pylint: disable=g-import-not-at-top
from gan_jax import classifier  # pylint: disable=g-import-not-at-top
from gan_jax import outputs
from gan_jax import sample as sample_lib
from gan_jax import loop


def main():
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--workdir", required=True)
  parser.add_argument("--conditioning", default="concat", choices=("concat", "projection"))
  parser.add_argument("--steps", type=int, default=0, help="Generator steps (0: the config's).")
  parser.add_argument("--model", default="", help="Override model.name (e.g. mlp on a CPU).")
  parser.add_argument("--samples_per_class", type=int, default=500)
  parser.add_argument("--config_arg", default="", help="The config's argument, e.g. 'cpu'.")
  parser.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "results"))
  args = parser.parse_args()
  config = cgan_mnist.get_config(*([args.config_arg] if args.config_arg else []))
  config.model.d_conditioning = args.conditioning
  if args.steps:
    config.num_train_steps = args.steps
  if args.model:
    config.model.name = args.model
  start = time.time()
  loop.train_and_evaluate(config, args.workdir)
  gan_seconds = time.time() - start

  clf = classifier.load_digit_classifier()

  per_class, rows = [], []
  restored = loop.restore(args.workdir)
  for label in range(10):
    samples, _ = sample_lib.generate(restored, args.samples_per_class, label, seed=label)
    per_class.append(classifier.accuracy(clf.probs(samples), label))
    rows.append(samples[:10])
  result = {
      "config": "configs/cgan_mnist.py", "model": config.model.name,
      "d_conditioning": args.conditioning,
      "generator_steps": config.num_train_steps, "dataset": config.dataset.name,
      "conditioning_accuracy": float(np.mean(per_class)),
      "per_class_accuracy": per_class, "classifier_heldout_accuracy": clf.heldout_accuracy,
      "classifier_trained_on": clf.trained_on, "samples_per_class": args.samples_per_class,
      "gan_train_seconds": round(gan_seconds, 1),
      "device": jax.devices()[0].device_kind,
  }
  os.makedirs(args.out, exist_ok=True)
  tag = f"{config.model.name}_{args.conditioning}"
  with open(os.path.join(args.out, f"cgan_accuracy_{tag}.json"), "w") as f:
    json.dump(result, f, indent=2)
  outputs.save_image_grid(os.path.join(args.out, f"cgan_samples_{tag}.png"),
                          np.concatenate(rows), ncols=10)
  print(json.dumps(result, indent=2))


if __name__ == "__main__":
  main()
