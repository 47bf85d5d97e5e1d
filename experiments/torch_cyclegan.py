"""CycleGAN trained the usual PyTorch way (eager): the reference next to our step in
experiments/bench_cyclegan.py.

The same networks as gan_jax.families.cyclegan (ResNet generators with reflection padding and
instance norm, PatchGAN discriminators with instance norm), the authors' training step (both
generators' update, then both discriminators' on the detached fakes through a 50-image pool, D
losses halved, LSGAN, Adam 2e-4 / 0.5, one optimizer over both generators and one over both
discriminators), on the GPU when there is one.
"""
import random
import time

import torch
from torch import nn


def resnet_generator(c_in, c_out, width, blocks):
  norm = lambda c: nn.InstanceNorm2d(c, affine=False, track_running_stats=False)

  class Block(nn.Module):
    def __init__(self, c):
      super().__init__()
      self.body = nn.Sequential(nn.ReflectionPad2d(1), nn.Conv2d(c, c, 3), norm(c), nn.ReLU(True),
                                nn.ReflectionPad2d(1), nn.Conv2d(c, c, 3), norm(c))

    def forward(self, x):
      return x + self.body(x)

  layers = [nn.ReflectionPad2d(3), nn.Conv2d(c_in, width, 7), norm(width), nn.ReLU(True)]
  for m in (1, 2):
    layers += [nn.Conv2d(width * m, width * m * 2, 3, 2, 1), norm(width * m * 2), nn.ReLU(True)]
  layers += [Block(width * 4) for _ in range(blocks)]
  for m in (4, 2):
    layers += [nn.ConvTranspose2d(width * m, width * m // 2, 3, 2, 1, output_padding=1),
               norm(width * m // 2), nn.ReLU(True)]
  layers += [nn.ReflectionPad2d(3), nn.Conv2d(width, c_out, 7), nn.Tanh()]
  return nn.Sequential(*layers)


def patch_discriminator(c_in, width, n_layers):
  layers = [nn.Conv2d(c_in, width, 4, 2, 1), nn.LeakyReLU(0.2, True)]
  mult = 1
  for n in range(1, n_layers + 1):
    prev, mult = mult, min(2 ** n, 8)
    stride = 2 if n < n_layers else 1
    layers += [nn.Conv2d(width * prev, width * mult, 4, stride, 1), nn.InstanceNorm2d(width * mult),
               nn.LeakyReLU(0.2, True)]
  return nn.Sequential(*layers, nn.Conv2d(width * mult, 1, 4, 1, 1))


class ImagePool:
  """Past fakes: once full, each new one replaces a random stored one half the time, which is
  returned in its place (the authors' pool)."""

  def __init__(self, size):
    self.size, self.images = size, []

  def query(self, images):
    out = []
    for image in images.detach():
      if len(self.images) < self.size:
        self.images.append(image)
        out.append(image)
      elif random.random() < 0.5:
        j = random.randrange(self.size)
        out.append(self.images[j])
        self.images[j] = image
      else:
        out.append(image)
    return torch.stack(out)


def bench(batch_size, size, channels, width, blocks, d_width, d_layers, seconds=3.0):
  """Steps/s of the eager step on random images."""
  dev = "cuda" if torch.cuda.is_available() else "cpu"
  g_ab, g_ba = (resnet_generator(channels, channels, width, blocks).to(dev) for _ in range(2))
  d_a, d_b = (patch_discriminator(channels, d_width, d_layers).to(dev) for _ in range(2))
  opt_g = torch.optim.Adam([*g_ab.parameters(), *g_ba.parameters()], 2e-4, betas=(0.5, 0.999))
  opt_d = torch.optim.Adam([*d_a.parameters(), *d_b.parameters()], 2e-4, betas=(0.5, 0.999))
  pool_a, pool_b = ImagePool(50), ImagePool(50)
  l1, mse = nn.L1Loss(), nn.MSELoss()
  gan = lambda logits, real: mse(logits, torch.full_like(logits, float(real)))
  real_a = torch.rand(batch_size, channels, size, size, device=dev) * 2 - 1
  real_b = torch.rand(batch_size, channels, size, size, device=dev) * 2 - 1

  def step():
    fake_b, fake_a = g_ab(real_a), g_ba(real_b)
    rec_a, rec_b = g_ba(fake_b), g_ab(fake_a)
    for d in (d_a, d_b):
      d.requires_grad_(False)
    opt_g.zero_grad()
    loss_g = (gan(d_b(fake_b), 1) + gan(d_a(fake_a), 1)
              + 10 * l1(rec_a, real_a) + 10 * l1(rec_b, real_b)
              + 5 * l1(g_ab(real_b), real_b) + 5 * l1(g_ba(real_a), real_a))
    loss_g.backward()
    opt_g.step()
    for d in (d_a, d_b):
      d.requires_grad_(True)
    opt_d.zero_grad()
    pooled_a, pooled_b = pool_a.query(fake_a), pool_b.query(fake_b)
    loss_d = (0.5 * (gan(d_a(real_a), 1) + gan(d_a(pooled_a), 0))
              + 0.5 * (gan(d_b(real_b), 1) + gan(d_b(pooled_b), 0)))
    loss_d.backward()
    opt_d.step()

  def sync():
    if dev == "cuda":
      torch.cuda.synchronize()

  for _ in range(3):
    step()
  sync()
  start = time.perf_counter()
  step()
  sync()
  n = max(3, int(seconds / (time.perf_counter() - start)))
  start = time.perf_counter()
  for _ in range(n):
    step()
  sync()
  return n / (time.perf_counter() - start)
