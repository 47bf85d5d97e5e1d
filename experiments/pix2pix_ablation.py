"""Pix2Pix's loss ablation (Isola et al. 2017, Table 1): L1 alone, cGAN alone, L1 + cGAN, on
colourisation (CIFAR-10) and edges -> digits (MNIST), each trained by the shared loop from its
config (configs/pix2pix_colorize.py, pix2pix_edges2digits.py) and measured on the held-out pairs.

    python experiments/pix2pix_ablation.py [--tasks=colorize,edges2digits] [--arms=l1,cgan,l1_cgan]
        [--workdir=/tmp/pix2pix_ablation] [--steps=0] [--fid] [--out=experiments/results]

Arms: `l1` (loss.gan_weight=0: no D), `cgan` (loss.l1_weight=0), `l1_cgan` (lambda = 100, the
paper's). A finished run in --workdir is measured again, not retrained. Writes pix2pix.json, one
before/after PNG per task (pix2pix_<task>.png: rows of sources, each arm's outputs and the real
targets) and the tables of pix2pix.md (between its 'generated' markers; text around them is kept).

Measured per arm on the held-out pairs (as RGB/grey images): L1, PSNR, SSIM; colourisation adds
colourfulness (Hasler & Suesstrunk) and, for reference, the real images' colourfulness and the grey
input's PSNR (its L with ab = 0); edges2digits adds the digit classifier's accuracy on the outputs
against the source digit's label and on the real digits; with --fid, the FID of the outputs
against the held-out targets (gan_jax.fid, 1,000 images: biased upwards, comparable between arms),
on the "real" row the FID of as many real training images against the same targets (edges2digits'
floor; colourised outputs keep the targets' own lightness, so they can score below it) and, for
colourisation, the grey inputs' FID (the colourless baseline with that same lightness).
"""
import argparse
import importlib
import json
import os
import sys
import time

import jax
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gan_jax import image_metrics  # pylint: disable=g-import-not-at-top
from gan_jax import loop  # pylint: disable=g-import-not-at-top
from gan_jax import outputs  # pylint: disable=g-import-not-at-top
from gan_jax import parallel  # pylint: disable=g-import-not-at-top
from gan_jax.families.pix2pix import data  # pylint: disable=g-import-not-at-top
from gan_jax.families.pix2pix import family  # pylint: disable=g-import-not-at-top
import study_runs  # pylint: disable=g-import-not-at-top

ARMS = {"l1": ("L1", dict(gan_weight=0.0)), "cgan": ("cGAN", dict(l1_weight=0.0)),
        "l1_cgan": ("L1 + cGAN", {})}
TASKS = ("colorize", "edges2digits")
GRID_EXAMPLES = 10
BEGIN, END = "<!-- generated: experiments/pix2pix_ablation.py -->", "<!-- end generated -->"


def arm_config(task, arm, steps):
  config = importlib.import_module(f"configs.pix2pix_{task}").get_config()
  config.loss.update(ARMS[arm][1])
  if steps:
    config.num_train_steps = steps
  return config


def train_and_measure(config, dataset, workdir, fid):
  """Trains (or resumes, or finds finished) the run in `workdir` through the shared loop; returns
  (wall seconds of this call, the step, the step it was found at, the held-out metrics, the
  held-out outputs as images)."""
  loop.validate_config(config)
  program = loop.build(config, dataset)
  found_step = study_runs.latest_step(workdir)
  start = time.time()
  state, _ = loop.run(config, workdir, program, dataset)
  wall = time.time() - start
  state = parallel.local_copy(state)
  step = int(state.step)
  metrics = program.trainer.make_evaluator(workdir)(state, step)
  heldout, task = dataset.heldout, config.dataset.name
  apply = family.make_apply(program.trainer.networks["g"], config.model.test_dropout)
  out = family.generate(apply, family.g_variables(state),
                        heldout["source"], jax.random.key(0))
  images = data.to_images(task, heldout["source"], out)
  if fid:
    metrics["fid"] = fid_of(images, heldout["image"])
  return wall, step, found_step, metrics, images


_REFERENCE_STATS = {}  # The held-out targets' Inception statistics, per task.


def fid_of(images, reference):
  """FID of `images` against `reference`, whose Inception statistics are computed once per task
  (the arms share their held-out targets)."""
  from gan_jax.fid import evaluator as fid_evaluator  # pylint: disable=g-import-not-at-top
  rgb = lambda x: np.repeat(x, 3, -1) if x.shape[-1] == 1 else x
  key = (reference.shape, hash(reference.tobytes()))
  if key not in _REFERENCE_STATS:
    _REFERENCE_STATS[key] = fid_evaluator.compute_stats(rgb(reference), batch_size=100)[:2]
  return float(fid_evaluator.compute_fid(rgb(images), _REFERENCE_STATS[key], batch_size=100))


def real_fid(task, dataset):
  """FID of real training images (a seeded choice, as many as the held-out pairs) against the
  held-out targets: what the measure gives real images of the same task."""
  n = len(dataset.heldout["image"])
  pick = np.sort(np.random.default_rng(0).choice(len(dataset.arrays["source"]), n, replace=False))
  real = data.to_images(task, dataset.arrays["source"][pick], dataset.arrays["target"][pick])
  return fid_of(real, dataset.heldout["image"])


def grey_fid(dataset):
  """FID of the grey inputs (L, ab = 0) against the held-out targets: the colourless baseline
  that shares the targets' lightness, as every arm's output does."""
  heldout = dataset.heldout
  grey = data.to_images("colorize", heldout["source"],
                         np.zeros(heldout["target"].shape, np.float32))
  return fid_of(grey, heldout["image"])


def save_task_grid(path, task, heldout, arm_images):
  """Rows: the sources, each arm's outputs, the real targets; one column per held-out example."""
  pick = np.linspace(0, len(heldout["source"]) - 1, GRID_EXAMPLES).astype(int)
  colour = max(im.shape[-1] for im in [heldout["image"], *arm_images.values()])
  as_shown = lambda x: np.repeat(x, 3, -1) if x.shape[-1] == 1 and colour == 3 else x
  rows = [as_shown(data.source_images(task, heldout["source"][pick]))]
  rows += [as_shown(images[pick]) for images in arm_images.values()]
  rows.append(as_shown(heldout["image"][pick]))
  family.save_enlarged(path, np.concatenate(rows), GRID_EXAMPLES)


def _fmt(value, digits=3):
  return "-" if value is None else f"{value:.{digits}f}"


def tables(results):
  """Markdown tables of the results."""
  lines = []
  for task, task_results in results.items():
    arms = task_results["arms"]
    lines += [f"### {task}", ""]
    if task == "colorize":
      ref = _in_order(arms)[0][1]["metrics"]
      lines += ["| | steps | wall (s) | L1 | PSNR (dB) | SSIM | colourfulness | FID |",
                "|---|---|---|---|---|---|---|---|",
                f"| grey input (L, ab = 0) | | | | {_fmt(ref['grey_psnr'], 2)} | | 0 "
                f"| {_fmt(task_results.get('grey_fid'), 1)} |",
                f"| real images | | | 0 | inf | 1 | {_fmt(ref['real_colourfulness'], 1)} "
                f"| {_fmt(task_results.get('real_fid'), 1)} |"]
      for arm, r in _in_order(arms):
        m = r["metrics"]
        lines.append(f"| {ARMS[arm][0]} | {r['step']} | {_fmt(r['wall_s'], 0)} | {_fmt(m['l1'])} "
                     f"| {_fmt(m['psnr'], 2)} | {_fmt(m['ssim'])} | {_fmt(m['colourfulness'], 1)} "
                     f"| {_fmt(m.get('fid'), 1)} |")
    else:
      ref = _in_order(arms)[0][1]["metrics"]
      lines += ["| | steps | wall (s) | L1 | PSNR (dB) | SSIM | digit accuracy | FID |",
                "|---|---|---|---|---|---|---|---|",
                f"| real digits | | | 0 | inf | 1 | {_fmt(100 * ref['real_digit_accuracy'], 1)} % "
                f"| {_fmt(task_results.get('real_fid'), 1)} |"]
      for arm, r in _in_order(arms):
        m = r["metrics"]
        lines.append(f"| {ARMS[arm][0]} | {r['step']} | {_fmt(r['wall_s'], 0)} | {_fmt(m['l1'])} "
                     f"| {_fmt(m['psnr'], 2)} | {_fmt(m['ssim'])} "
                     f"| {_fmt(100 * m['digit_accuracy'], 1)} % | {_fmt(m.get('fid'), 1)} |")
    lines += ["", f"![{task}](pix2pix_{task}.png)", ""]
  return "\n".join(lines)


def _in_order(arms):
  """[(arm, result)] in the paper's order (L1, cGAN, L1 + cGAN)."""
  return [(arm, arms[arm]) for arm in ARMS if arm in arms]


def goals(results):
  lines = []
  colorize = results.get("colorize", {}).get("arms", {}).get("l1_cgan")
  if colorize:
    m = colorize["metrics"]
    share = m["colourfulness"] / m["real_colourfulness"]
    gap = m["grey_psnr"] - m["psnr"]
    lines.append(f"- colorize, L1 + cGAN: colourfulness {m['colourfulness']:.1f} = "
                 f"{100 * share:.0f} % of the real images' {m['real_colourfulness']:.1f} (goal >= "
                 f"80 %: {'met' if share >= 0.8 else 'not met'}); PSNR {m['psnr']:.2f} dB, "
                 f"{gap:.2f} dB below the grey input's {m['grey_psnr']:.2f} (goal within 1.5 dB: "
                 f"{'met' if gap <= 1.5 else 'not met'}).")
  edges = results.get("edges2digits", {}).get("arms", {}).get("l1_cgan")
  if edges:
    acc = edges["metrics"]["digit_accuracy"]
    lines.append(f"- edges2digits, L1 + cGAN: digit accuracy {100 * acc:.1f} % (goal >= 97 %: "
                 f"{'met' if acc >= 0.97 else 'not met'}).")
  return "\n".join(lines)


def write_markdown(path, results, command):
  generated = "\n".join([BEGIN, "", f"    {command}", "", goals(results), "", tables(results), END])
  text = f"# Pix2Pix loss ablation\n\n{generated}\n"
  if os.path.exists(path):
    with open(path) as f:
      old = f.read()
    if BEGIN in old and END in old:
      text = old[:old.index(BEGIN)] + generated + old[old.index(END) + len(END):]
  with open(path, "w") as f:
    f.write(text)


def main():
  parser = argparse.ArgumentParser()
  parser.add_argument("--tasks", default=",".join(TASKS))
  parser.add_argument("--arms", default=",".join(ARMS))
  parser.add_argument("--workdir", default="/tmp/pix2pix_ablation")
  parser.add_argument("--steps", type=int, default=0, help="0 = each config's num_train_steps")
  parser.add_argument("--fid", action="store_true", help="FID of outputs vs targets (slow on CPU)")
  parser.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "results"))
  args = parser.parse_args()
  print(f"backend: {jax.default_backend()} ({jax.devices()[0].device_kind}), jax {jax.__version__}",
        flush=True)
  json_path = os.path.join(args.out, "pix2pix.json")
  results = {}
  if os.path.exists(json_path):
    with open(json_path) as f:
      results = json.load(f)
  for task in args.tasks.split(","):
    arm_images, dataset = {}, None
    task_results = results.setdefault(task, {"arms": {}})
    for arm in args.arms.split(","):
      workdir = os.path.join(args.workdir, f"{task}_{arm}")
      print(f"== {task}: {ARMS[arm][0]} in {workdir}", flush=True)
      config = arm_config(task, arm, args.steps)
      dataset = dataset or family.load_data(config)  # The arms differ in their losses only.
      wall, step, found_step, metrics, images = train_and_measure(config, dataset, workdir,
                                                                  args.fid)
      previous = task_results["arms"].get(arm, {})
      if found_step == step == previous.get("step"):  # Found finished: keep the training time.
        wall = previous.get("wall_s", wall)
      task_results["arms"][arm] = {"step": step, "wall_s": wall, "metrics": metrics}
      arm_images[arm] = images
      print(f"{task} {arm}: " + " ".join(f"{k}={v:.4g}" for k, v in metrics.items()), flush=True)
    if args.fid:  # As many real training images as held-out ones (and the grey inputs).
      task_results["real_fid"] = real_fid(task, dataset)
      if task == "colorize":
        task_results["grey_fid"] = grey_fid(dataset)
    save_task_grid(os.path.join(args.out, f"pix2pix_{task}.png"), task, dataset.heldout,
                   arm_images)
    outputs.write_json(json_path, results)
  command = "python experiments/pix2pix_ablation.py " + " ".join(sys.argv[1:])
  write_markdown(os.path.join(args.out, "pix2pix.md"), results, command.strip())
  print(open(os.path.join(args.out, "pix2pix.md")).read())


if __name__ == "__main__":
  main()
