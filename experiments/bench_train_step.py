"""Train-step throughput per config on the current backend, next to PyTorch eager (when installed).

  python experiments/bench_train_step.py [--configs=dcgan_cifar10,gan_mlp] [--batch_size=256]
      [--steps_per_call=10]

For each config: the jitted, donated train step on a device-resident batch, one step per call;
`--steps_per_call` steps per call in a lax.scan; and the same steps compiled as the training loop
compiles them (unrolled on CPU for conv models: XLA:CPU computes convolution weight gradients
slowly inside a loop, jax#12868). Then the same seed-003 DCGAN-CIFAR (dcgan32: G 4x4x512 ->
32x32x3, D conv 64/128/256) trained the usual PyTorch way (eager, D step then G step with
BCE-with-logits and Adam), at the same batch size, in the same run.

`--stylegan`: StyleGAN2-lite's step (configs/stylegan_cifar10.py at the widths and batch given by
--stylegan_channel_base/--stylegan_channel_max/--stylegan_batch; lazy R1 every 16 steps, so steps
are timed over multiples of 16) next to NVIDIA's networks and training phases
(stylegan2-ada-pytorch's training/networks.py and training/loss.py with its reference ops, no custom
CUDA; Gmain, Dmain, Dreg every 16 steps with the lazy Adam correction, G average) from a checkout
given by --nvidia_repo:

  python experiments/bench_train_step.py --configs= --stylegan \
      --nvidia_repo=/path/to/stylegan2-ada-pytorch
"""
import argparse
import importlib
import os
import sys
import time

import jax
import jax.numpy as jnp

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from gan_jax import loop  # pylint: disable=g-import-not-at-top
from gan_jax import parallel  # pylint: disable=g-import-not-at-top
from gan_jax.families.latent import models  # pylint: disable=g-import-not-at-top
from gan_jax.families.latent import step as ts  # pylint: disable=g-import-not-at-top

SHAPES = {"mlp": (28, 28, 1), "dcgan28": (28, 28, 1), "dcgan32": (32, 32, 3)}


def time_calls(fn, state, n_calls, *args):
  state, m = fn(state, *args)  # Compile and warm up.
  jax.block_until_ready((state, m))
  start = time.perf_counter()
  for _ in range(n_calls):
    state, m = fn(state, *args)
  jax.block_until_ready((state, m))
  return (time.perf_counter() - start) / n_calls


def bench_jax(name, batch_size, seconds, k):
  """Steps/s of one step per call, of k per call in a lax.scan, and of k per call as the training
  loop runs them (unrolled where parallel.unroll_on_cpu says so; else the same program)."""
  config = importlib.import_module(f"configs.{name}").get_config()
  if batch_size:
    config.batch_size = batch_size
  shape = (2,) if config.dataset.name in ("ring8", "grid25") else SHAPES[config.model.name]
  num_classes = 10 if config.model.conditional else 0
  g, d = models.get_models(config.model, shape, num_classes)
  step = ts.make_train_step(config, g, d)
  n = config.batch_size * config.n_critic
  batch = {"x": jax.random.uniform(jax.random.key(1), (n,) + shape, minval=-1, maxval=1),
           "label": jnp.zeros((n,), jnp.int32)}
  new_state = lambda: ts.create_train_state(config, g, d, jax.random.key(0), batch["x"][:2])
  one_step = lambda s, b: step(s, b, jax.random.fold_in(jax.random.key(0), s.step))
  single = jax.jit(one_step, donate_argnums=0)
  t1 = time_calls(single, new_state(), 3, batch)
  calls = max(3, int(seconds / t1))
  t1 = time_calls(single, new_state(), calls, batch)

  def k_steps(unroll):
    return jax.jit(lambda s, b: loop.scan_steps(lambda s, _: one_step(s, b), k, s,
                                                 unroll=unroll), donate_argnums=0)
  t_scan = time_calls(k_steps(False), new_state(), max(1, calls // k), batch) / k
  state = new_state()
  unroll = parallel.unroll_on_cpu(state.params())
  t_loop = time_calls(k_steps(True), state, max(1, calls // k), batch) / k if unroll else t_scan
  return config.batch_size, 1 / t1, 1 / t_scan, 1 / t_loop


def bench_torch_dcgan32(batch_size, seconds):
  """The seed's DCGAN-CIFAR trained the usual PyTorch way."""
  import torch  # pylint: disable=g-import-not-at-top
  from torch import nn  # pylint: disable=g-import-not-at-top
  dev = "cuda" if torch.cuda.is_available() else "cpu"

  def up(cin, cout, k, s):
    pad = 1
    return [nn.ConvTranspose2d(cin, cout, k, s, pad, output_padding=0, bias=False),
            nn.BatchNorm2d(cout, eps=1e-3, momentum=0.01), nn.LeakyReLU(0.2)]

  class G(nn.Module):
    def __init__(self):
      super().__init__()
      self.fc = nn.Sequential(nn.Linear(128, 4 * 4 * 512, bias=False),
                              nn.BatchNorm1d(4 * 4 * 512, eps=1e-3, momentum=0.01),
                              nn.LeakyReLU(0.2))
      self.net = nn.Sequential(*up(512, 256, 4, 2), *up(256, 128, 4, 2), *up(128, 128, 3, 1),
                               *up(128, 64, 4, 2), *up(64, 64, 3, 1),
                               nn.ConvTranspose2d(64, 3, 3, 1, 1), nn.Tanh())

    def forward(self, z):
      return self.net(self.fc(z).view(-1, 512, 4, 4))

  d_net = nn.Sequential(
      nn.Conv2d(3, 64, 4, 2, 1), nn.LeakyReLU(0.2), nn.Dropout(0.3),
      nn.Conv2d(64, 128, 4, 2, 1), nn.LeakyReLU(0.2), nn.Dropout(0.3),
      nn.Conv2d(128, 256, 4, 2, 1), nn.LeakyReLU(0.2), nn.Dropout(0.3),
      nn.Flatten(), nn.Linear(4 * 4 * 256, 1)).to(dev)
  g_net = G().to(dev)
  opt_g = torch.optim.Adam(g_net.parameters(), 2e-4, betas=(0.5, 0.999))
  opt_d = torch.optim.Adam(d_net.parameters(), 2e-4, betas=(0.5, 0.999))
  bce = nn.BCEWithLogitsLoss()
  real = torch.rand(batch_size, 3, 32, 32, device=dev) * 2 - 1
  ones = torch.ones(batch_size, device=dev)
  zeros = torch.zeros(batch_size, device=dev)
  assert g_net(torch.zeros(2, 128, device=dev)).shape == (2, 3, 32, 32)

  def step():
    z = torch.randn(batch_size, 128, device=dev)
    fake = g_net(z)
    opt_d.zero_grad()
    d_loss = bce(d_net(real).view(-1), ones) + bce(d_net(fake.detach()).view(-1), zeros)
    d_loss.backward()
    opt_d.step()
    opt_g.zero_grad()
    g_loss = bce(d_net(fake).view(-1), ones)
    g_loss.backward()
    opt_g.step()

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
  return 1 / ((time.perf_counter() - start) / n)


def stylegan_config(channel_base, channel_max, batch_size):
  config = importlib.import_module("configs.stylegan_cifar10").get_config()
  config.model.update(dict(channel_base=channel_base, channel_max=channel_max,
                           z_dim=min(config.model.z_dim, channel_max),
                           w_dim=min(config.model.w_dim, channel_max),
                           mbstd_group_size=min(config.model.mbstd_group_size, batch_size)))
  config.batch_size = batch_size
  return config


def bench_stylegan(config, seconds, k):
  """Steps/s of StyleGAN's step: one step per call from step 0 (the lazy R1 step every 16 calls),
  and k steps per call as the training loop runs them (unrolled on CPU)."""
  from gan_jax import data  # pylint: disable=g-import-not-at-top
  from gan_jax import families  # pylint: disable=g-import-not-at-top
  shape = (32, 32, 3)
  info = data.DatasetInfo(name="bench", kind="image", shape=shape, num_classes=0,
                          num_examples=config.batch_size)
  trainer = families.get("stylegan").build(config, data.Dataset(info, arrays=None))
  batch = {"x": jax.random.uniform(jax.random.key(1), (config.batch_size,) + shape, minval=-1,
                                   maxval=1)}
  new_state = lambda: jax.jit(trainer.init)(jax.random.key(0))
  one_step = lambda s, b: trainer.step(s, b, jax.random.fold_in(jax.random.key(0), s.step))
  single = jax.jit(one_step, donate_argnums=0)
  time_calls(single, new_state(), 16, batch)  # Compiles; an estimate of the speed.
  t1 = time_calls(single, new_state(), 16, batch)
  calls = max(16, int(seconds / t1) // 16 * 16)
  t1 = time_calls(single, new_state(), calls, batch)
  state = new_state()
  k_steps = jax.jit(lambda s, b: loop.scan_steps(lambda s, _: one_step(s, b), k, s,
                                                  unroll=parallel.unroll_on_cpu(s.params())),
                    donate_argnums=0)
  t_loop = time_calls(k_steps, state, max(16 // k, calls // k // (16 // k) * (16 // k)), batch) / k
  params = sum(x.size for x in jax.tree.leaves(state.params()["g"]))
  return 1 / t1, 1 / t_loop, params


def bench_torch_stylegan(nvidia_repo, config, seconds):
  """NVIDIA's StyleGAN2 networks and training phases (Gmain, Dmain, Dreg every r1_interval with
  the lazy Adam correction, G average), eager, at our config's sizes."""
  import copy  # pylint: disable=g-import-not-at-top
  import torch  # pylint: disable=g-import-not-at-top
  sys.path.insert(0, nvidia_repo)
  from training import loss as loss_lib  # pylint: disable=g-import-not-at-top
  from training import networks  # pylint: disable=g-import-not-at-top
  dev = "cuda" if torch.cuda.is_available() else "cpu"
  m, b, interval = config.model, config.batch_size, config.loss.r1_interval
  size = dict(channel_base=m.channel_base, channel_max=m.channel_max)
  g = networks.Generator(z_dim=m.z_dim, c_dim=0, w_dim=m.w_dim, img_resolution=32, img_channels=3,
                         mapping_kwargs=dict(num_layers=m.mapping_layers),
                         synthesis_kwargs=size).to(dev)
  d = networks.Discriminator(c_dim=0, img_resolution=32, img_channels=3,
                             architecture=m.d_architecture,
                             epilogue_kwargs=dict(mbstd_group_size=m.mbstd_group_size),
                             **size).to(dev)
  g_ema = copy.deepcopy(g).eval()
  loss = loss_lib.StyleGAN2Loss(dev, g.mapping, g.synthesis, d, r1_gamma=config.loss.r1_gamma,
                                style_mixing_prob=0, pl_weight=0)
  c = interval / (interval + 1)
  g_opt, d_opt = config.g_optimizer, config.d_optimizer
  opt_g = torch.optim.Adam(g.parameters(), lr=g_opt.learning_rate, betas=(g_opt.b1, g_opt.b2),
                           eps=1e-8)
  opt_d = torch.optim.Adam(d.parameters(), lr=d_opt.learning_rate * c,
                           betas=(d_opt.b1**c, d_opt.b2**c), eps=1e-8)
  phases = [("Gmain", g, opt_g, 1), ("Dmain", d, opt_d, 1), ("Dreg", d, opt_d, interval)]
  real = torch.rand(b, 3, 32, 32, device=dev) * 2 - 1
  labels = torch.zeros(b, 0, device=dev)
  for module in (g, d):
    module.requires_grad_(False)

  def step(batch_idx):
    for name, module, opt, every in phases:
      if batch_idx % every:
        continue
      opt.zero_grad(set_to_none=True)
      module.requires_grad_(True)
      z = torch.randn(b, m.z_dim, device=dev)
      loss.accumulate_gradients(name, real, labels, z, labels, sync=True, gain=every)
      module.requires_grad_(False)
      opt.step()
    beta = 0.5 ** (b / config.ema.half_life_images)
    with torch.no_grad():
      for p_ema, p in zip(g_ema.parameters(), g.parameters()):
        p_ema.copy_(p.lerp(p_ema, beta))

  def timed(n):
    if dev == "cuda":
      torch.cuda.synchronize()
    start = time.perf_counter()
    for i in range(n):
      step(i)
    if dev == "cuda":
      torch.cuda.synchronize()
    return (time.perf_counter() - start) / n
  timed(2)
  per_step = timed(interval)
  n = max(interval, int(seconds / per_step) // interval * interval)
  return 1 / timed(n), sum(p.numel() for p in g.parameters())


def main():
  parser = argparse.ArgumentParser()
  parser.add_argument("--configs", default="gan_mlp,dcgan_mnist,cgan_mnist,dcgan_cifar10,wgan_gp")
  parser.add_argument("--batch_size", type=int, default=0, help="0 = each config's own")
  parser.add_argument("--steps_per_call", type=int, default=10)
  parser.add_argument("--seconds", type=float, default=3.0, help="Timed seconds per measurement.")
  parser.add_argument("--stylegan", action="store_true", help="Also the StyleGAN step.")
  parser.add_argument("--stylegan_channel_base", type=int, default=2048)
  parser.add_argument("--stylegan_channel_max", type=int, default=64)
  parser.add_argument("--stylegan_batch", type=int, default=32)
  parser.add_argument("--nvidia_repo", default="", help="A stylegan2-ada-pytorch checkout: the "
                      "reference row of --stylegan.")
  args = parser.parse_args()
  k = args.steps_per_call
  print(f"backend: {jax.default_backend()} ({jax.devices()[0].device_kind}), jax {jax.__version__}")
  print("steps/s: one step per call | k per call in a lax.scan | k per call as the training loop "
        f"runs them (unrolled on CPU for conv models); k = {k}")
  print(f"{'config':<16}{'batch':>7}{'1/call':>10}{'scan':>10}{'loop':>10}{'img/s (loop)':>14}")
  for name in filter(None, args.configs.split(",")):
    b, sps, sps_scan, sps_loop = bench_jax(name, args.batch_size, args.seconds, k)
    print(f"{name:<16}{b:>7}{sps:>10.2f}{sps_scan:>10.2f}{sps_loop:>10.2f}{sps_loop * b:>14.0f}",
          flush=True)
  if args.stylegan:
    config = stylegan_config(args.stylegan_channel_base, args.stylegan_channel_max,
                             args.stylegan_batch)
    k_style = 4
    ours, ours_loop, params = bench_stylegan(config, args.seconds, k_style)
    m = config.model
    print(f"\nStyleGAN2-lite 32x32 (widths min({m.channel_base}/r, {m.channel_max}), "
          f"z=w={m.z_dim}, "
          f"G {params:,} parameters), batch {config.batch_size}, lazy R1 every "
          f"{config.loss.r1_interval}: JAX {ours:.2f} steps/s one per call, {ours_loop:.2f} with "
          f"{k_style} per call as the loop runs them", flush=True)
    if args.nvidia_repo:
      theirs, their_params = bench_torch_stylegan(args.nvidia_repo, config, args.seconds)
      print(f"NVIDIA stylegan2-ada-pytorch (reference ops, eager; G {their_params:,} parameters): "
            f"{theirs:.2f} steps/s -> JAX {ours / theirs:.2f}x ({ours_loop / theirs:.2f}x as the "
            "loop runs it)", flush=True)
    else:
      print("no --nvidia_repo: no StyleGAN reference row")
  if not args.configs:  # --configs= : the StyleGAN rows only.
    return
  try:
    import torch  # pylint: disable=g-import-not-at-top,unused-import
  except ImportError:
    print("PyTorch is not installed: no reference row.")
    return
  b = args.batch_size or 256
  _, ours, _, ours_loop = bench_jax("dcgan_cifar10", b, args.seconds, k)
  theirs = bench_torch_dcgan32(b, args.seconds)
  print(f"\nDCGAN-CIFAR at batch {b}: JAX {ours:.1f} steps/s ({ours_loop:.1f} as the loop runs "
        f"it), PyTorch eager {theirs:.1f} steps/s -> {ours / theirs:.2f}x "
        f"({ours_loop / theirs:.2f}x as the loop runs it)")


if __name__ == "__main__":
  main()
