"""StyleGAN2-lite's train step (configs/stylegan_cifar10.py at the widths and batch given by
--channel_base/--channel_max/--batch; lazy R1 every 16 steps, so steps are timed over multiples of
16): steps/s with one step per call and with k per call as the training loop runs them (unrolled on
CPU), next to NVIDIA's networks and training phases (stylegan2-ada-pytorch's training/networks.py
and training/loss.py with its reference ops, no custom CUDA; Gmain, Dmain, Dreg every 16 steps with
the lazy Adam correction, G average) from a checkout given by --nvidia_repo, in the same run:

  flock /tmp/gan_jax_cpu.lock python experiments/bench_stylegan_step.py \
      --nvidia_repo=/path/to/stylegan2-ada-pytorch

Kept apart from experiments/bench_train_step.py (the latent family's rows); it reuses its timer.
"""
import argparse
import importlib
import os
import sys
import time

import jax

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_train_step import time_calls  # pylint: disable=g-import-not-at-top
from gan_jax import loop  # pylint: disable=g-import-not-at-top
from gan_jax import parallel  # pylint: disable=g-import-not-at-top


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
  parser.add_argument("--seconds", type=float, default=3.0, help="Timed seconds per measurement.")
  parser.add_argument("--channel_base", type=int, default=2048)
  parser.add_argument("--channel_max", type=int, default=64)
  parser.add_argument("--batch", type=int, default=32)
  parser.add_argument("--steps_per_call", type=int, default=4, help="A divisor of 16.")
  parser.add_argument("--nvidia_repo", default="", help="A stylegan2-ada-pytorch checkout: the "
                      "reference row.")
  args = parser.parse_args()
  print(f"backend: {jax.default_backend()} ({jax.devices()[0].device_kind}), jax {jax.__version__}")
  config = stylegan_config(args.channel_base, args.channel_max, args.batch)
  k = args.steps_per_call
  ours, ours_loop, params = bench_stylegan(config, args.seconds, k)
  m = config.model
  print(f"StyleGAN2-lite 32x32 (widths min({m.channel_base}/r, {m.channel_max}), z=w={m.z_dim}, "
        f"G {params:,} parameters), batch {config.batch_size}, lazy R1 every "
        f"{config.loss.r1_interval}: JAX {ours:.2f} steps/s one per call, {ours_loop:.2f} with "
        f"{k} per call as the loop runs them", flush=True)
  if args.nvidia_repo:
    theirs, their_params = bench_torch_stylegan(args.nvidia_repo, config, args.seconds)
    print(f"NVIDIA stylegan2-ada-pytorch (reference ops, eager; G {their_params:,} parameters): "
          f"{theirs:.2f} steps/s -> JAX {ours / theirs:.2f}x ({ours_loop / theirs:.2f}x as the "
          "loop runs it)", flush=True)
  else:
    print("no --nvidia_repo: no reference row")


if __name__ == "__main__":
  main()
