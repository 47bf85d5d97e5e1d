"""The StyleGAN study behind experiments/results/stylegan.md (CPU-sized; run under the CPU lock).

  python experiments/stylegan_study.py cifar [--images=96000 --batch=64 --fid_samples=5000]
  python experiments/stylegan_study.py truncation [--psi=1,0.9,0.8,0.7,0.6,0.5]
  python experiments/stylegan_study.py mnist

`cifar`: the seed's DCGAN (configs/dcgan_cifar10.py) and StyleGAN2-lite (configs/stylegan_cifar10.py
at CPU widths) each trained on the CIFAR-10 folder for the same number of images at the same batch,
5,000 images held out (never trained on) as the FID reference; FID of each G's average.
`truncation`: FID of the StyleGAN run against psi, with its grid. `mnist`: configs/stylegan_mnist.py
as configured (its wall time is the config's claim), its grid and the digit classifier's scores.
Results go to experiments/results/stylegan_*.json and PNGs; the markdown is written by hand from
them.
"""
import argparse
import os
import shutil
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from configs import dcgan_cifar10  # pylint: disable=g-import-not-at-top
from configs import stylegan_cifar10  # pylint: disable=g-import-not-at-top
from configs import stylegan_mnist  # pylint: disable=g-import-not-at-top
import study_runs  # pylint: disable=g-import-not-at-top

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


def cifar_configs(images, batch):
  steps = images // batch
  dcgan = _cadence(dcgan_cifar10.get_config(), steps, 10)
  dcgan.batch_size = batch
  style = _cadence(stylegan_cifar10.get_config(), steps, 2)
  style.batch_size = batch
  style.model.update(dict(z_dim=64, w_dim=64, channel_base=2048, channel_max=64,
                          mbstd_group_size=min(32, batch)))
  style.g_optimizer.learning_rate = style.d_optimizer.learning_rate = 0.0025
  style.g_optimizer.b2 = 0.99
  for config in (dcgan, style):
    config.dataset.heldout_examples = HELDOUT
    config.fid.compute_is = False
  return {"dcgan": dcgan, "stylegan": style}


def _copy_grid(workdir, name):
  grids = sorted(f for f in os.listdir(workdir) if f.startswith("samples_"))
  shutil.copy(os.path.join(workdir, grids[-1]), os.path.join(RESULTS, name))


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("part", choices=["cifar", "truncation", "mnist"])
  parser.add_argument("--workroot", default="/tmp/stylegan_study")
  parser.add_argument("--images", type=int, default=96_000)
  parser.add_argument("--batch", type=int, default=64)
  parser.add_argument("--fid_samples", type=int, default=5000)
  parser.add_argument("--psi", default="1,0.9,0.8,0.7,0.6,0.5")
  args = parser.parse_args()
  os.makedirs(args.workroot, exist_ok=True)
  out = os.path.join(RESULTS, f"stylegan_{args.part}.json")
  if args.part == "cifar":
    for name, config in cifar_configs(args.images, args.batch).items():
      workdir = os.path.join(args.workroot, f"cifar_{name}")
      timing = study_runs.train(config, workdir)
      score = study_runs.fid(workdir, args.fid_samples)
      _copy_grid(workdir, f"stylegan_cifar_{name}.png")
      record = dict(model=name, images=args.images, batch=args.batch, **timing, **score,
                    fid_samples=args.fid_samples, reference=f"{HELDOUT} held-out images")
      print(record, flush=True)
      study_runs.write(out, record)
  elif args.part == "truncation":
    workdir = os.path.join(args.workroot, "cifar_stylegan")
    for psi in [float(p) for p in args.psi.split(",")]:
      record = dict(psi=psi, **study_runs.fid(workdir, args.fid_samples, psi=psi),
                    fid_samples=args.fid_samples)
      print(record, flush=True)
      study_runs.write(out, record)
  else:
    config = stylegan_mnist.get_config()
    workdir = os.path.join(args.workroot, "mnist_stylegan")
    timing = study_runs.train(config, workdir)
    _copy_grid(workdir, "stylegan_mnist_samples.png")
    record = dict(config="stylegan_mnist", **timing)
    print(record, flush=True)
    study_runs.write(out, record)


if __name__ == "__main__":
  main()
