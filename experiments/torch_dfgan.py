"""DF-GAN-lite in PyTorch eager, the way tobran/DF-GAN's train loop runs it: the reference that
experiments/bench_train_step.py times our text2image step against.

The same networks as gan_jax/families/text2image/models.py (G: dense stem, residual blocks with
two deep-fusion blocks of text-conditioned affine transforms; D: residual down-sampling blocks and
a joint conv head on features + broadcast sentence), the same step: D on (real, caption), (fake,
caption) and (real, another class's caption) with the hinge loss and optionally MA-GP (k = 2, p =
6), then G's hinge loss through the updated D, Adam on both.
"""
import time

import torch
from torch import nn
import torch.nn.functional as F


class Affine(nn.Module):
  def __init__(self, cond_dim, features):
    super().__init__()
    self.gamma = nn.Sequential(nn.Linear(cond_dim, features), nn.ReLU(),
                               nn.Linear(features, features))
    self.beta = nn.Sequential(nn.Linear(cond_dim, features), nn.ReLU(),
                              nn.Linear(features, features))
    nn.init.zeros_(self.gamma[2].weight)
    nn.init.ones_(self.gamma[2].bias)
    nn.init.zeros_(self.beta[2].weight)
    nn.init.zeros_(self.beta[2].bias)

  def forward(self, x, c):
    return x * self.gamma(c)[:, :, None, None] + self.beta(c)[:, :, None, None]


class Fusion(nn.Module):
  def __init__(self, cond_dim, features):
    super().__init__()
    self.a0, self.a1 = Affine(cond_dim, features), Affine(cond_dim, features)

  def forward(self, x, c):
    return F.leaky_relu(self.a1(F.leaky_relu(self.a0(x, c), 0.2), c), 0.2)


class GBlock(nn.Module):
  def __init__(self, cond_dim, cin, cout, upsample):
    super().__init__()
    self.upsample = upsample
    self.f1, self.c1 = Fusion(cond_dim, cin), nn.Conv2d(cin, cout, 3, 1, 1)
    self.f2, self.c2 = Fusion(cond_dim, cout), nn.Conv2d(cout, cout, 3, 1, 1)
    self.sc = nn.Conv2d(cin, cout, 1) if cin != cout else None

  def forward(self, x, c):
    if self.upsample:
      x = F.interpolate(x, scale_factor=2)
    h = self.c2(self.f2(self.c1(self.f1(x, c)), c))
    return (self.sc(x) if self.sc is not None else x) + h


class Generator(nn.Module):
  def __init__(self, latent_dim, text_dim, widths, size, channels):
    super().__init__()
    self.base = size // 2 ** (len(widths) - 1)
    self.widths = widths
    self.fc = nn.Linear(latent_dim, self.base * self.base * widths[0])
    cond = latent_dim + text_dim
    ins = (widths[0],) + tuple(widths[:-1])
    self.blocks = nn.ModuleList(GBlock(cond, i, o, k > 0)
                                for k, (i, o) in enumerate(zip(ins, widths)))
    self.out = nn.Conv2d(widths[-1], channels, 3, 1, 1)

  def forward(self, z, e):
    c = torch.cat([z, e * e.shape[1] ** 0.5], 1)
    h = self.fc(z).view(len(z), self.widths[0], self.base, self.base)
    for block in self.blocks:
      h = block(h, c)
    return torch.tanh(self.out(F.leaky_relu(h, 0.2)))


class DBlock(nn.Module):
  def __init__(self, cin, cout):
    super().__init__()
    self.r = nn.Sequential(nn.Conv2d(cin, cout, 4, 2, 1, bias=False), nn.LeakyReLU(0.2),
                           nn.Conv2d(cout, cout, 3, 1, 1, bias=False), nn.LeakyReLU(0.2))
    self.sc = nn.Conv2d(cin, cout, 1) if cin != cout else None
    self.gamma = nn.Parameter(torch.zeros(1))

  def forward(self, x):
    s = self.sc(x) if self.sc is not None else x
    return F.avg_pool2d(s, 2) + self.gamma * self.r(x)


class Discriminator(nn.Module):
  def __init__(self, widths, text_dim, channels, final):
    super().__init__()
    self.stem = nn.Conv2d(channels, widths[0], 3, 1, 1)
    self.blocks = nn.Sequential(*[DBlock(i, o) for i, o in zip(widths[:-1], widths[1:])])
    self.joint = nn.Conv2d(widths[-1] + text_dim, 2 * widths[0], 3, 1, 1, bias=False)
    self.out = nn.Conv2d(2 * widths[0], 1, final, 1, 0, bias=False)

  def features(self, x):
    return self.blocks(self.stem(x))

  def judge(self, f, e):
    e = (e * e.shape[1] ** 0.5)[:, :, None, None].expand(-1, -1, f.shape[2], f.shape[3])
    return self.out(F.leaky_relu(self.joint(torch.cat([f, e], 1)), 0.2)).view(-1)


def bench(batch_size, size, channels, latent_dim, g_widths, d_widths, ma_gp, seconds,
          text_dim=384, threads=None):
  """Steps/s of the PyTorch eager step (CPU, or CUDA when available)."""
  if threads:
    torch.set_num_threads(threads)
  dev = "cuda" if torch.cuda.is_available() else "cpu"
  g = Generator(latent_dim, text_dim, tuple(g_widths), size, channels).to(dev)
  final = size // 2 ** (len(d_widths) - 1)
  d = Discriminator(tuple(d_widths), text_dim, channels, final).to(dev)
  opt_g = torch.optim.Adam(g.parameters(), 2e-4, betas=(0.5, 0.9))
  opt_d = torch.optim.Adam(d.parameters(), 2e-4, betas=(0.5, 0.9))
  real = torch.rand(batch_size, channels, size, size, device=dev) * 2 - 1
  captions = F.normalize(torch.randn(batch_size, 5, text_dim, device=dev), dim=-1)
  labels = torch.randint(0, 10, (batch_size,), device=dev)

  def step():
    e = captions[torch.arange(batch_size), torch.randint(0, 5, (batch_size,), device=dev)]
    differs = labels[:, None] != labels[None, :]
    partners = torch.where(differs, torch.rand(batch_size, batch_size, device=dev), -1.0).argmax(1)
    valid = differs.any(1).float()
    mismatched = e[partners]
    fake = g(torch.randn(batch_size, latent_dim, device=dev), e)
    x = real.requires_grad_(ma_gp)
    e_in = e.clone().requires_grad_(ma_gp)
    features = d.features(torch.cat([x, fake.detach()]))
    real_f, fake_f = features[:batch_size], features[batch_size:]
    real_logits = d.judge(real_f, e_in)
    loss = (F.relu(1 - real_logits).mean() + 0.5 * F.relu(1 + d.judge(fake_f, e)).mean()
            + 0.5 * (F.relu(1 + d.judge(real_f, mismatched)) * valid).sum() / valid.sum())
    if ma_gp:
      gx, ge = torch.autograd.grad(real_logits.sum(), (x, e_in), create_graph=True)
      norm = torch.sqrt(gx.flatten(1).pow(2).sum(1) + ge.pow(2).sum(1))
      loss = loss + 2.0 * norm.pow(6).mean()
    opt_d.zero_grad()
    loss.backward()
    opt_d.step()
    opt_g.zero_grad()
    g_loss = -d.judge(d.features(fake), e).mean()
    g_loss.backward()
    opt_g.step()

  def sync():
    if dev == "cuda":
      torch.cuda.synchronize()
  for _ in range(2):
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
