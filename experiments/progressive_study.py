"""Progressive growing vs fixed-resolution training of the same networks, the same number of images
each; FID of G's average against held-out images, wall time, grids per stage. Results behind
experiments/results/progressive.md (CPU-sized; run under the CPU lock).

  python experiments/progressive_study.py --networks=stylegan_mnist \
      --phase_images=4800 --total_images=38400 --heldout=1000 --fid_samples=1000
  python experiments/progressive_study.py --networks=progan_cifar10 \
      [--phase_images=8000 --total_images=96000 --batch=32]

`stylegan_mnist`: configs/stylegan_mnist.py (StyleGAN2-lite, MNIST padded to 32), `--heldout`
digits kept aside as the FID reference, and the digit classifier's scores beside FID.
`progan_cifar10`: ProGAN's networks and recipe (WGAN-GP with the drift term) at CPU widths on the
CIFAR-10 folder. Each stage fades in over `--phase_images` and then trains `--phase_images`.
"""
import argparse
import os
import sys

from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from configs import progan_cifar10  # pylint: disable=g-import-not-at-top
from configs import stylegan_mnist  # pylint: disable=g-import-not-at-top
from gan_jax import loop  # pylint: disable=g-import-not-at-top
from gan_jax import progressive  # pylint: disable=g-import-not-at-top
import study_runs  # pylint: disable=g-import-not-at-top
import stylegan_study  # pylint: disable=g-import-not-at-top

RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")


def config_for(networks, grow, phase_images, total_images, batch, heldout):
  if networks == "stylegan_mnist":
    config = stylegan_mnist.get_config()
    config.model.progressive = grow
  else:
    config = progan_cifar10.get_config()
    config.model.update(dict(latent_dim=64, channel_base=1024, channel_max=64, progressive=grow))
  config.progressive.update(dict(fade_images=phase_images, stable_images=phase_images))
  config.batch_size = batch
  config.num_train_steps = total_images // batch
  phase_steps = phase_images // batch
  config.steps_per_call = 1
  config.log_every_steps = phase_steps
  config.sample_every_steps = phase_steps   # A grid at every stage's start and end.
  config.checkpoint_every_steps = phase_steps * 2
  config.eval_every_steps = 0
  config.dataset.heldout_examples = heldout
  config.fid.compute_is = False
  return config


def stage_grids(workdir, config, path):
  """The grids at the end of each stage (and of the run) side by side."""
  schedule = progressive.make_schedule(4, config.batch_size, config.progressive.fade_images,
                                       config.progressive.stable_images, config.num_train_steps)
  ends = list(schedule.starts[1:]) + [config.num_train_steps]
  images = [Image.open(os.path.join(workdir, f"samples_{step:07d}.png")).convert("RGB")
            for step in ends]
  height = max(i.size[1] for i in images)
  canvas = Image.new("RGB", (sum(i.size[0] + 8 for i in images), height), "white")
  x = 0
  for image in images:
    canvas.paste(image, (x, 0))
    x += image.size[0] + 8
  canvas.save(path)
  return ends


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--networks", default="progan_cifar10",
                      choices=["progan_cifar10", "stylegan_mnist"])
  parser.add_argument("--workroot", default="/tmp/progressive_study")
  parser.add_argument("--phase_images", type=int, default=8000)
  parser.add_argument("--total_images", type=int, default=96_000)
  parser.add_argument("--batch", type=int, default=32)
  parser.add_argument("--heldout", type=int, default=5000, help="images kept aside for FID")
  parser.add_argument("--fid_samples", type=int, default=5000)
  parser.add_argument("--ref_samples", type=int, default=0,
                      help="FID's reference: that many of the held-out images (0: all)")
  args = parser.parse_args()
  out = os.path.join(RESULTS, "progressive.json")
  for grow in (True, False):
    name = "progressive" if grow else "fixed"
    config = config_for(args.networks, grow, args.phase_images, args.total_images, args.batch,
                        args.heldout)
    workdir = os.path.join(args.workroot, f"{args.networks}_{name}")
    timing = study_runs.train(config, workdir)
    score = study_runs.fid(workdir, args.fid_samples, ref_samples=args.ref_samples)
    record = dict(networks=args.networks, run=name, images=args.total_images,
                  phase_images=args.phase_images, batch=args.batch, heldout=args.heldout,
                  **timing, **score, fid_samples=args.fid_samples,
                  ref_samples=args.ref_samples or args.heldout, load_average=os.getloadavg())
    if args.networks == "stylegan_mnist":
      record["digits"] = stylegan_study.digit_scores(loop.restore(workdir), 2000, psi=1.0)
    prefix = os.path.join(RESULTS, f"progressive_{args.networks}")
    if grow:
      record["stage_ends"] = stage_grids(workdir, config, f"{prefix}_stages.png")
    else:
      last = f"samples_{config.num_train_steps:07d}.png"
      Image.open(os.path.join(workdir, last)).save(f"{prefix}_fixed.png")
    print(record, flush=True)
    study_runs.write(out, record)


if __name__ == "__main__":
  main()
