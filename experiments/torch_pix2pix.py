"""Pix2Pix in plain PyTorch, the usual way: the reference our JAX networks and step are checked
against (tests/test_pix2pix_models.py, test_pix2pix_step.py) and timed against
(experiments/bench_pix2pix.py).

The same U-Net and PatchGAN as gan_jax/families/pix2pix/models.py (the authors' architecture), an
eager training step as the authors' Pix2PixModel.optimize_parameters runs it (G forward once; D
update on the detached fake with its loss halved; G update on GAN + lambda * L1), and
`load_flax_weights` to copy a flax model's weights into these modules.
"""
import numpy as np
import torch
from torch import nn


def _norm(kind, channels):
  if kind == "batch":
    return nn.BatchNorm2d(channels)
  if kind == "instance":
    return nn.InstanceNorm2d(channels, affine=False)
  return nn.Identity()


class UNet(nn.Module):
  """Encoder convs down{i}, decoder transposed convs up{i}, as the flax module names them."""

  def __init__(self, in_channels, out_channels, size, width=64, norm="batch", dropout_blocks=3):
    super().__init__()
    self.depth = int(np.log2(size))
    widths = [width * min(2 ** i, 8) for i in range(self.depth)]
    bias = norm != "batch"
    self.down = nn.ModuleList()
    self.down_norm = nn.ModuleList()
    for i, w in enumerate(widths):
      self.down.append(nn.Conv2d(in_channels if i == 0 else widths[i - 1], w, 4, 2, 1, bias=bias))
      inner = 0 < i < self.depth - 1
      self.down_norm.append(_norm(norm, w) if inner else nn.Identity())
    self.up = nn.ModuleList()
    self.up_norm = nn.ModuleList()
    self.dropout = nn.ModuleList()
    for i in range(self.depth):
      cin = widths[i] * (1 if i == self.depth - 1 else 2)
      cout = out_channels if i == 0 else widths[i - 1]
      self.up.append(nn.ConvTranspose2d(cin, cout, 4, 2, 1, bias=bias or i == 0))
      self.up_norm.append(_norm(norm, cout) if i > 0 else nn.Identity())
      drop = self.depth - 1 - dropout_blocks <= i < self.depth - 1
      self.dropout.append(nn.Dropout(0.5) if drop else nn.Identity())
    for m in self.modules():
      _init(m)

  def forward(self, x):
    skips = []
    for i in range(self.depth):
      x = x if i == 0 else nn.functional.leaky_relu(x, 0.2)
      x = self.down_norm[i](self.down[i](x))
      skips.append(x)
    for i in reversed(range(self.depth)):
      if i < self.depth - 1:
        x = torch.cat([skips[i], x], 1)
      x = self.up[i](torch.relu(x))
      if i == 0:
        return torch.tanh(x)
      x = self.dropout[i](self.up_norm[i](x))


class PatchGAN(nn.Module):
  """Convs conv{i} and their norms (identity where there is none), as the flax module names them."""

  def __init__(self, in_channels, width=64, n_layers=3, norm="batch"):
    super().__init__()
    bias = norm != "batch"
    self.convs = nn.ModuleList([nn.Conv2d(in_channels, width, 4, 2, 1)])
    self.norms = nn.ModuleList([nn.Identity()])
    mult = 1
    for n in range(1, n_layers + 1):
      prev, mult = mult, min(2 ** n, 8)
      stride = 2 if n < n_layers else 1
      self.convs.append(nn.Conv2d(width * prev, width * mult, 4, stride, 1, bias=bias))
      self.norms.append(_norm(norm, width * mult))
    self.convs.append(nn.Conv2d(width * mult, 1, 4, 1, 1))
    for m in self.modules():
      _init(m)

  def forward(self, x):
    for conv, norm in zip(self.convs, self.norms):
      x = nn.functional.leaky_relu(norm(conv(x)), 0.2)
    return self.convs[-1](x)[:, 0]


def _init(m):
  if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
    nn.init.normal_(m.weight, 0.0, 0.02)
    if m.bias is not None:
      nn.init.zeros_(m.bias)
  elif isinstance(m, nn.BatchNorm2d):
    nn.init.normal_(m.weight, 1.0, 0.02)
    nn.init.zeros_(m.bias)


def load_flax_weights(module, variables):
  """Copies flax variables ({'params', 'batch_stats'?}) into `module` (a UNet or PatchGAN)."""
  params, stats = variables["params"], variables.get("batch_stats", {})
  t = lambda a: torch.from_numpy(np.array(a, np.float32))
  if isinstance(module, UNet):
    convs = [(module.down[i], f"down{i}", False) for i in range(module.depth)]
    convs += [(module.up[i], f"up{i}", True) for i in range(module.depth)]
    norms = [(module.down_norm[i], f"down{i}_norm") for i in range(module.depth)]
    norms += [(module.up_norm[i], f"up{i}_norm") for i in range(module.depth)]
  else:
    convs = [(m, f"conv{i}", False) for i, m in enumerate(module.convs)]
    norms = [(m, f"norm{i}") for i, m in enumerate(module.norms)]
  with torch.no_grad():
    for m, name, transposed in convs:
      kernel = params[name]["kernel"]  # (kh, kw, in, out)
      if transposed:
        # flax's ConvTranspose correlates the dilated input with the kernel as is; torch's
        # ConvTranspose2d weight (in, out, kh, kw) is the spatially flipped kernel.
        m.weight.copy_(t(np.asarray(kernel)[::-1, ::-1].transpose(2, 3, 0, 1)))
      else:
        m.weight.copy_(t(np.asarray(kernel).transpose(3, 2, 0, 1)))
      if m.bias is not None:
        m.bias.copy_(t(params[name]["bias"]))
    for m, name in norms:
      if isinstance(m, nn.BatchNorm2d):
        m.weight.copy_(t(params[name]["scale"]))
        m.bias.copy_(t(params[name]["bias"]))
        m.running_mean.copy_(t(stats[name]["mean"]))
        m.running_var.copy_(t(stats[name]["var"]))


def make_train_step(g, d, lambda_l1=100.0, lr=2e-4, optimizer="adam"):
  """The authors' Pix2PixModel.optimize_parameters with the vanilla (BCE) GAN loss; Adam (0.5,
  0.999) as theirs, or plain SGD (for tests: its updates keep the losses' scale)."""
  if optimizer == "adam":
    make = lambda params: torch.optim.Adam(params, lr, betas=(0.5, 0.999))
  else:
    make = lambda params: torch.optim.SGD(params, lr)
  opt_g, opt_d = make(g.parameters()), make(d.parameters())
  bce = nn.BCEWithLogitsLoss()

  def step(source, target):
    fake = g(source)
    for p in d.parameters():
      p.requires_grad_(True)
    opt_d.zero_grad()
    pred_fake = d(torch.cat([source, fake.detach()], 1))
    pred_real = d(torch.cat([source, target], 1))
    d_loss = 0.5 * (bce(pred_fake, torch.zeros_like(pred_fake))
                    + bce(pred_real, torch.ones_like(pred_real)))
    d_loss.backward()
    opt_d.step()
    for p in d.parameters():
      p.requires_grad_(False)
    opt_g.zero_grad()
    pred_fake = d(torch.cat([source, fake], 1))
    l1 = (fake - target).abs().mean()
    g_loss = bce(pred_fake, torch.ones_like(pred_fake)) + lambda_l1 * l1
    g_loss.backward()
    opt_g.step()
    # Detached tensors, not .item(): no device sync per step.
    return {"d_loss": d_loss.detach(), "g_loss": g_loss.detach(), "g_l1": l1.detach()}

  return step


def steps_per_second(size, in_channels, out_channels, batch_size, width=64, d_width=64,
                     n_layers=3, norm="batch", dropout_blocks=3, seconds=3.0):
  """Train steps per second of the authors' step (dropout on), on random pairs in [-1, 1]."""
  import time  # pylint: disable=g-import-not-at-top
  dev = "cuda" if torch.cuda.is_available() else "cpu"
  g = UNet(in_channels, out_channels, size, width, norm, dropout_blocks).to(dev).train()
  d = PatchGAN(in_channels + out_channels, d_width, n_layers, norm).to(dev).train()
  step = make_train_step(g, d)
  source = torch.rand(batch_size, in_channels, size, size, device=dev) * 2 - 1
  target = torch.rand(batch_size, out_channels, size, size, device=dev) * 2 - 1

  def sync():
    if dev == "cuda":
      torch.cuda.synchronize()
  for _ in range(3):
    step(source, target)
  sync()
  start = time.perf_counter()
  step(source, target)
  sync()
  n = max(3, int(seconds / (time.perf_counter() - start)))
  start = time.perf_counter()
  for _ in range(n):
    step(source, target)
  sync()
  return n / (time.perf_counter() - start)
