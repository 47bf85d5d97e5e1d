"""The StyleGAN study behind experiments/results/stylegan.md (CPU-sized; run under the CPU lock).

  python experiments/digit_quality.py --train --config=configs/stylegan_mnist.py \
      --workdir=/tmp/stylegan_study/mnist --name=stylegan_mnist
  python experiments/stylegan_study.py truncation --workdir=/tmp/stylegan_study/mnist --run=mnist \
      --digits --fid_samples=1000 --ref_samples=1000 [--psi=1,0.8,0.6,0.4,0]
  python experiments/stylegan_study.py cifar [--images=96000 --batch=64 --heldout=5000 \
      --fid_samples=5000 --models=dcgan,stylegan]
  python experiments/stylegan_study.py diversity --workdir=DIR --run=NAME [--digits]
  python experiments/stylegan_study.py checkpoints --workdir=DIR --run=NAME [--steps=2000,4000]

digit_quality.py trains configs/stylegan_mnist.py as configured (timed: the config's claim) and
scores its samples with the digit classifier (gan_jax.classifier, trained on real MNIST digits; the
centre 28x28 of the padded samples): the Inception-Score analogue and the % of confident samples.
`truncation`: for each psi, FID of G's average against the run's reference images (`--ref_samples`
of them; 0: all), the digit classifier's scores with `--digits`, and the grid of `python -m
gan_jax.explore truncation`. `cifar`: the seed's DCGAN (configs/dcgan_cifar10.py) and
StyleGAN2-lite (configs/stylegan_cifar10.py at CPU widths) each trained on the CIFAR-10 folder for
the same number of images at the same batch, `--heldout` images kept aside (never trained on) as
the FID reference; FID of each G's average. `diversity`: how much a run's images still depend on
the latent (the per-pixel standard deviation over 64 latents, averaged over pixels; about 1.0 at
initialisation, near 0 when every latent draws the same image; 0.28 for 64 real padded digits),
for G and G's average, at the run's latest checkpoint, with D's logits on batches that differ only
in diversity (`discriminator_probe`) and, with `--digits`, the digit classifier's scores.
`checkpoints`: the digit classifier's scores of G's average at each kept checkpoint (or `--steps`),
with the run's widths and batch: how soon a config draws digits. Results go to
experiments/results/stylegan_*.json and PNGs; the markdown is written by hand from them.
"""
import argparse
import os
import shutil
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from configs import dcgan_cifar10  # pylint: disable=g-import-not-at-top
from configs import stylegan_cifar10  # pylint: disable=g-import-not-at-top
import digit_quality  # pylint: disable=g-import-not-at-top
import study_runs  # pylint: disable=g-import-not-at-top
from gan_jax import checkpointing  # pylint: disable=g-import-not-at-top
from gan_jax import classifier  # pylint: disable=g-import-not-at-top
from gan_jax import loop  # pylint: disable=g-import-not-at-top
from gan_jax.data import feed  # pylint: disable=g-import-not-at-top

RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")
HELDOUT = 5000


def _cadence(config, steps, k):
  config.num_train_steps = steps
  config.steps_per_call = k
  config.log_every_steps = max(k, steps // 10 // k * k)
  config.sample_every_steps = steps
  config.checkpoint_every_steps = steps
  config.eval_every_steps = 0
  return config


def cifar_configs(images, batch, heldout=HELDOUT):
  steps = images // batch
  dcgan = _cadence(dcgan_cifar10.get_config(), steps, 10)
  dcgan.batch_size = batch
  style = _cadence(stylegan_cifar10.get_config(), steps, 1)
  style.batch_size = batch
  style.model.update(dict(z_dim=64, w_dim=64, channel_base=2048, channel_max=64,
                          mbstd_group_size=min(32, batch)))
  style.g_optimizer.learning_rate = style.d_optimizer.learning_rate = 0.0025
  style.g_optimizer.b2 = 0.99
  for config in (dcgan, style):
    config.dataset.heldout_examples = heldout
    config.fid.compute_is = False
  return {"dcgan": dcgan, "stylegan": style}


def _copy_grid(workdir, name):
  grids = sorted(f for f in os.listdir(workdir) if f.startswith("samples_"))
  shutil.copy(os.path.join(workdir, grids[-1]), os.path.join(RESULTS, name))


def digit_scores(restored, num_samples, psi, batch=500):
  """The digit classifier's Inception-Score analogue and % of confident (p >= 0.9) samples of G's
  average at `psi`, on the centre 28x28 of the padded samples; `restored`: `loop.restore`'s run."""
  sampler = restored.trainer.sampler
  images = []
  for i in range(0, num_samples, batch):
    z = jax.random.normal(jax.random.fold_in(jax.random.key(0), i), (batch, sampler.z_dim))
    images.append(np.asarray(sampler.sample(restored.state, z, None, psi)))
  images = digit_quality.centre_crop(np.concatenate(images)[:num_samples])
  return digit_quality.scores(classifier.load_digit_classifier().probs(images))


def diversity(restored, num_latents=64):
  """Per-pixel std over `num_latents` latents (mean over pixels) of G and of G's average, and the
  same for w (whether the mapping still spreads the latents)."""
  generator = restored.trainer.networks["g"]
  z = jax.random.normal(jax.random.key(1), (num_latents, generator.z_dim))
  labels = (jnp.arange(num_latents) % generator.num_classes if generator.num_classes else None)
  out = {"step": int(jax.device_get(restored.state.step))}
  for name, variables in (("g", restored.state.nets["g"].variables()),
                          ("g_average", restored.state.ema["g"])):
    images = generator.apply(variables, z, labels, train=False)
    ws = generator.apply(variables, z, labels, method="map")
    out[f"{name}_image_std_over_z"] = round(float(images.std(0).mean()), 4)
    out[f"{name}_w_std_over_z"] = round(float(ws.std(0).mean()), 4)
  out["d_logits"] = discriminator_probe(restored, z[:32], None if labels is None else labels[:32])
  return out


def discriminator_probe(restored, z, labels):
  """D's logits on batches that differ only in diversity: for a batch of real training images and
  a batch of G's images, the mean logit, the logit of the first image scored in its batch, and
  the mean logit of 32 copies of that image. A D whose minibatch standard deviation sees collapse
  scores the copies below the same image scored among others."""
  generator = restored.trainer.networks["g"]
  discriminator = restored.trainer.networks["d"]
  d_vars = restored.state.nets["d"].variables()
  arrays = restored.dataset.arrays
  index = np.random.default_rng(0).permutation(len(arrays["x"]))[:z.shape[0]]
  real = feed.to_float(arrays["x"][index])  # As the step sees them.
  real_labels = jnp.asarray(arrays["label"][index]) if generator.num_classes else None
  fake = generator.apply(restored.state.nets["g"].variables(), z, labels, train=False)
  logits = lambda x, y: discriminator.apply(d_vars, x, y)
  copied = lambda a: None if a is None else jnp.broadcast_to(a[:1], a.shape)
  out = {}
  for name, batch, y in (("real", real, real_labels), ("fake", fake, labels)):
    scored = logits(batch, y)
    copies = logits(copied(batch), copied(y))
    out.update({name: round(float(scored.mean()), 4), f"{name}_first": round(float(scored[0]), 4),
                f"{name}_first_copies": round(float(copies.mean()), 4)})
  return out


def truncation_grid(workdir, psis, name):
  """`python -m gan_jax.explore truncation` (the users' command): one row per psi."""
  repo = os.path.dirname(os.path.dirname(RESULTS))
  subprocess.run([sys.executable, "-m", "gan_jax.explore", f"--workdir={workdir}", "truncation",
                  f"--psi={','.join(str(p) for p in psis)}"], check=True, cwd=repo,
                 env=dict(os.environ, PYTHONPATH=repo))
  explored = os.path.join(workdir, "explore")
  grid = sorted(f for f in os.listdir(explored) if f.startswith("truncation"))[-1]
  shutil.copy(os.path.join(explored, grid), os.path.join(RESULTS, name))


def truncation_curve(workdir, psis, args, out, run, digits):
  restored = loop.restore(workdir) if digits else None
  for psi in psis:
    record = dict(run=run, psi=psi, **study_runs.fid(workdir, args.fid_samples, psi=psi,
                                                     ref_samples=args.ref_samples),
                  fid_samples=args.fid_samples, ref_samples=args.ref_samples)
    if digits:
      record["digits"] = digit_scores(restored, 2000, psi)
    print(record, flush=True)
    study_runs.write(out, record)
  truncation_grid(workdir, psis, f"stylegan_{run}_truncation.png")


def checkpoint_scores(workdir, run, steps, out):
  """The digit classifier's scores of G's average at each of `steps` (default: every kept
  checkpoint), one record each."""
  if not steps:
    steps = sorted(checkpointing.make_manager(workdir, create=False).all_steps())
  for step in steps:
    restored = loop.restore(workdir, step)
    model = restored.config.model
    record = dict(run=run, workdir=workdir, step=step, batch_size=restored.config.batch_size,
                  channel_base=model.channel_base, channel_max=model.channel_max,
                  digits=digit_scores(restored, 1000, 1.0))
    print(record, flush=True)
    study_runs.write(out, record)


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("part", choices=["cifar", "truncation", "diversity", "checkpoints"])
  parser.add_argument("--workroot", default="/tmp/stylegan_study")
  parser.add_argument("--images", type=int, default=96_000)
  parser.add_argument("--batch", type=int, default=64)
  parser.add_argument("--fid_samples", type=int, default=5000)
  parser.add_argument("--ref_samples", type=int, default=0, help="0: all reference images")
  parser.add_argument("--psi", default="1,0.9,0.8,0.7,0.6,0.5,0")
  parser.add_argument("--workdir", default="", help="truncation: the run (default: cifar's)")
  parser.add_argument("--run", default="cifar", help="truncation: the run's name in the results")
  parser.add_argument("--digits", action="store_true",
                      help="truncation, diversity: the digit classifier's scores")
  parser.add_argument("--steps", default="", help="checkpoints: which (default: every kept one)")
  parser.add_argument("--heldout", type=int, default=HELDOUT, help="cifar: images kept aside")
  parser.add_argument("--models", default="dcgan,stylegan", help="cifar: which of the two to run")
  args = parser.parse_args()
  psis = [float(p) for p in args.psi.split(",")]
  os.makedirs(args.workroot, exist_ok=True)
  if args.part == "cifar":
    for name, config in cifar_configs(args.images, args.batch, args.heldout).items():
      if name not in args.models.split(","):
        continue
      workdir = os.path.join(args.workroot, f"cifar_{name}")
      timing = study_runs.train(config, workdir)
      score = study_runs.fid(workdir, args.fid_samples, ref_samples=args.ref_samples)
      _copy_grid(workdir, f"stylegan_cifar_{name}.png")
      record = dict(model=name, images=args.images, batch=args.batch, **timing, **score,
                    fid_samples=args.fid_samples,
                    reference=f"{args.ref_samples or args.heldout} of {args.heldout} held-out images")
      print(record, flush=True)
      study_runs.write(os.path.join(RESULTS, "stylegan_cifar.json"), record)
  elif args.part == "diversity":
    restored = loop.restore(args.workdir)
    record = dict(run=args.run, workdir=args.workdir, **diversity(restored))
    if args.digits:
      record["digits"] = digit_scores(restored, 1000, 1.0)
    print(record, flush=True)
    study_runs.write(os.path.join(RESULTS, "stylegan_diversity.json"), record)
  elif args.part == "checkpoints":
    checkpoint_scores(args.workdir, args.run, [int(s) for s in args.steps.split(",") if s],
                      os.path.join(RESULTS, "stylegan_mnist_checkpoints.json"))
  else:
    workdir = args.workdir or os.path.join(args.workroot, "cifar_stylegan")
    truncation_curve(workdir, psis, args,
                     os.path.join(RESULTS, f"stylegan_{args.run}_truncation.json"), args.run,
                     args.digits)

if __name__ == "__main__":
  main()
