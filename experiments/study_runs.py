"""Helpers of the studies: train a config into a workdir (timed), the step a workdir was found at,
and the FID of its latest checkpoint against the run's reference images."""
import json
import os
import time

import jax

from gan_jax import families
from gan_jax import loop


def train(config, workdir):
  """Trains (or resumes) `config` in `workdir`; returns the wall seconds of this call (compiles
  included) and the steps trained in it."""
  start_step = latest_step(workdir)
  started = time.time()
  loop.train_and_evaluate(config, workdir)
  return {"wall_s": time.time() - started, "steps": config.num_train_steps - start_step}


def latest_step(workdir):
  """The newest checkpoint's step in `workdir` (0: none): a run found finished has its
  num_train_steps."""
  path = os.path.join(workdir, "checkpoints")
  if not os.path.isdir(path):
    return 0
  steps = [int(d) for d in os.listdir(path) if d.isdigit()]
  return max(steps, default=0)


def fid(workdir, num_samples, psi=None, ref_samples=0):
  """FID (and the seconds it took) of the run's latest checkpoint with `num_samples` samples
  against the reference images of its data (the held-out ones when the config keeps some aside).
  `psi`: StyleGAN truncation; `ref_samples`: that many reference images (0: the run's setting)."""
  restored = loop.restore(workdir)
  config = restored.config
  config.fid.num_samples = num_samples
  config.fid.compute_is = False
  if ref_samples:
    config.fid.ref_num_samples = ref_samples
  family = families.get(config.family)
  started = time.time()
  if psi is None:
    evaluate = family.build(config, restored.dataset).make_evaluator(workdir)
  else:
    trainer = restored.trainer
    evaluate = family.make_evaluator(config, restored.dataset, trainer.networks["g"],
                                     trainer.sampler.sample, psi=psi)
  step = int(jax.device_get(restored.state.step))
  metrics = evaluate(restored.state, step)
  return {"fid": float(metrics["fid"]), "fid_s": time.time() - started, "step": step}


def write(path, record):
  """Adds `record` to the JSON list in `path`."""
  records = json.load(open(path)) if os.path.exists(path) else []
  records.append(record)
  with open(path + ".tmp", "w") as f:
    json.dump(records, f, indent=2)
  os.replace(path + ".tmp", path)
