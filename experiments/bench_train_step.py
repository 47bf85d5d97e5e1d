"""Train-step throughput per config on the current backend, next to PyTorch eager (when installed).

  python experiments/bench_train_step.py [--configs=dcgan_cifar10,gan_mlp] [--batch_size=256]
      [--steps_per_call=10]

For each config: the jitted, donated train step on a device-resident batch, one step per call;
`--steps_per_call` steps per call in a lax.scan; and the same steps compiled as the training loop
compiles them (unrolled on CPU for conv models: XLA:CPU computes convolution weight gradients
slowly inside a loop, jax#12868). Then the same seed-003 DCGAN-CIFAR (dcgan32: G 4x4x512 ->
32x32x3, D conv 64/128/256) trained the usual PyTorch way (eager, D step then G step with
BCE-with-logits and Adam), at the same batch size, in the same run.

`--text2image=text2image_digits,...`: the text2image family's step (DF-GAN-lite, matching-aware D,
random data of the config's shapes) as the loop runs it, next to the same networks and step in
PyTorch eager as DF-GAN's own loop runs it (experiments/torch_dfgan.py).
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

SHAPES = {"mlp": (28, 28, 1), "dcgan28": (28, 28, 1), "dcgan32": (32, 32, 3),
          "progan": (32, 32, 3)}


def time_calls(fn, state, n_calls, *args):
  state, m = fn(state, *args)  # Compile and warm up.
  jax.block_until_ready((state, m))
  start = time.perf_counter()
  for _ in range(n_calls):
    state, m = fn(state, *args)
  jax.block_until_ready((state, m))
  return (time.perf_counter() - start) / n_calls


def bench_jax(name, batch_size, seconds, k):
  """bench_config of configs/<name>.py at `batch_size` (0: the config's own)."""
  config = importlib.import_module(f"configs.{name}").get_config()
  if batch_size:
    config.batch_size = batch_size
  return bench_config(config, seconds, k)


def bench_config(config, seconds, k):
  """(batch, steps/s) of a latent-family config: one step per call, k per call in a lax.scan, and k
  per call as the training loop runs them (unrolled where parallel.unroll_on_cpu says so; else the
  same program)."""
  shape = (2,) if config.dataset.name in ("ring8", "grid25") else SHAPES[config.model.name]
  num_classes = 10 if config.model.conditional else 0
  g, d = models.make_models(config.model, shape, num_classes)
  step = ts.make_step(config, g, d)
  n = config.batch_size * config.n_critic
  batch = {"x": jax.random.uniform(jax.random.key(1), (n,) + shape, minval=-1, maxval=1),
           "label": jnp.zeros((n,), jnp.int32)}
  new_state = lambda: ts.init_state(config, g, d, jax.random.key(0), batch["x"][:2])
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


def bench_text2image(config_name, batch_size, seconds, k):
  """(batch, ours 1/call, ours as the loop runs it, PyTorch eager) steps/s of a text2image config
  on random images and caption embeddings (no text encoder needed)."""
  import torch_dfgan  # pylint: disable=g-import-not-at-top
  config = importlib.import_module(f"configs.{config_name}").get_config()
  if batch_size:
    config.batch_size = batch_size
  size, channels = (28, 1) if "digits" in config_name else (32, 3)
  ours, ours_loop = bench_text2image_config(config, size, channels, seconds, k)
  m = config.model
  theirs = torch_dfgan.bench(config.batch_size, size, channels, m.latent_dim, m.g_widths,
                             m.d_widths, config.loss.ma_gp_weight > 0, seconds)
  return config.batch_size, ours, ours_loop, theirs


def bench_text2image_config(config, size, channels, seconds, k):
  """(ours 1/call, ours as the loop runs it) steps/s of a text2image config on random size x size
  x channels images and caption embeddings."""
  import numpy as np  # pylint: disable=g-import-not-at-top
  from gan_jax import data  # pylint: disable=g-import-not-at-top
  config.steps_per_call = k
  config.loss.mode_seeking_weight = 0.0  # The PyTorch step has none: the same work on both sides.
  n = 4 * config.batch_size
  rng = np.random.default_rng(0)
  captions = rng.normal(size=(n, 5, 384)).astype(np.float32)
  arrays = {"image": rng.integers(0, 256, (n, size, size, channels), dtype=np.uint8),
            "caption_embedding": captions / np.linalg.norm(captions, axis=-1, keepdims=True),
            "label": rng.integers(0, 10, n).astype(np.int32)}
  shapes = {f: a.shape[1:] for f, a in arrays.items()}
  dataset = data.Dataset(data.DatasetInfo("random", "image", shapes["image"], 10, n,
                                          shapes=shapes), arrays)
  program = loop.build(config, dataset, devices=jax.devices()[:1])
  step = jax.jit(program.trainer.step, donate_argnums=0)
  batch = {f: jnp.asarray(a[:config.batch_size], jnp.float32 if f != "label" else jnp.int32)
           for f, a in arrays.items()}
  batch["image"] = batch["image"] / 127.5 - 1
  one = lambda s, b: step(s, b, jax.random.fold_in(jax.random.key(0), s.step))
  new_state = lambda: jax.jit(program.trainer.init)(jax.random.key(0))
  t1 = time_calls(one, new_state(), 3, batch)
  t1 = time_calls(one, new_state(), max(3, int(seconds / t1)), batch)
  # The loop's initial state: placed as the program returns it, so no call after the first compiles.
  state = program.state
  call = lambda s: program.call(s, k, int(s.step))
  state, _ = call(state)  # Compile.
  jax.block_until_ready(state)
  calls = max(1, int(seconds / (t1 * k)))
  start = time.perf_counter()
  for _ in range(calls):
    state, m = call(state)
  jax.block_until_ready((state, m))
  t_loop = (time.perf_counter() - start) / (calls * k)
  return 1 / t1, 1 / t_loop


def main():
  parser = argparse.ArgumentParser()
  parser.add_argument("--configs", default="gan_mlp,dcgan_mnist,cgan_mnist,dcgan_cifar10,wgan_gp")
  parser.add_argument("--batch_size", type=int, default=0, help="0 = each config's own")
  parser.add_argument("--steps_per_call", type=int, default=10)
  parser.add_argument("--seconds", type=float, default=3.0, help="Timed seconds per measurement.")
  parser.add_argument("--text2image", default="text2image_digits",
                      help="text2image configs to time next to PyTorch eager ('' = none)")
  args = parser.parse_args()
  k = args.steps_per_call
  print(f"backend: {jax.default_backend()} ({jax.devices()[0].device_kind}), jax {jax.__version__}")
  print("steps/s: one step per call | k per call in a lax.scan | k per call as the training loop "
        f"runs them (unrolled on CPU for conv models); k = {k}")
  print(f"{'config':<16}{'batch':>7}{'1/call':>10}{'scan':>10}{'loop':>10}{'img/s (loop)':>14}")
  for name in args.configs.split(","):
    b, sps, sps_scan, sps_loop = bench_jax(name, args.batch_size, args.seconds, k)
    print(f"{name:<16}{b:>7}{sps:>10.2f}{sps_scan:>10.2f}{sps_loop:>10.2f}{sps_loop * b:>14.0f}",
          flush=True)
  try:
    import torch  # pylint: disable=g-import-not-at-top,unused-import
  except ImportError:
    print("PyTorch is not installed: no reference row.")
    return
  sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
  for name in filter(None, args.text2image.split(",")):
    b, ours, ours_loop, theirs = bench_text2image(name, args.batch_size, args.seconds, k)
    print(f"\n{name} at batch {b}: JAX {ours:.2f} steps/s ({ours_loop:.2f} as the loop runs it), "
          f"PyTorch eager (DF-GAN's loop) {theirs:.2f} steps/s -> {ours / theirs:.2f}x "
          f"({ours_loop / theirs:.2f}x as the loop runs it)", flush=True)
  b = args.batch_size or 256
  _, ours, _, ours_loop = bench_jax("dcgan_cifar10", b, args.seconds, k)
  theirs = bench_torch_dcgan32(b, args.seconds)
  print(f"\nDCGAN-CIFAR at batch {b}: JAX {ours:.1f} steps/s ({ours_loop:.1f} as the loop runs "
        f"it), PyTorch eager {theirs:.1f} steps/s -> {ours / theirs:.2f}x "
        f"({ours_loop / theirs:.2f}x as the loop runs it)")


if __name__ == "__main__":
  main()
