"""FID speed, side by side in one run (meant for a GPU machine).

1. Inception features, images/s: ours (highest / default=TF32 / bf16 / fp16;
   fp16 also with the blocks unfused) vs pytorch-fid's InceptionV3 in eager
   PyTorch (random weights), at each batch size of --batches.
2. Frechet distance on 2048-d statistics: ours (eigh, fp64, device) vs scipy.
3. FID-50k end to end for a DCGAN-CIFAR generator: generate + preprocess +
   features + distance in one compiled scan (reference stats cached).
4. With real weights and data: each precision mode's FID deviation from fp32.

  python experiments/bench_fid.py [--weights W.npz] [--data cifar5k.npz]

--data: an .npz with uint8 NHWC arrays `a` and `b` (two disjoint real sets).
"""

import argparse
import json
import os
import sys
import tempfile
import time

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

def timeit(fn, reps):
  fn()  # compile / warm up
  t = time.perf_counter()
  for _ in range(reps):
    fn()
  return (time.perf_counter() - t) / reps


def bench_ours(batches, modes, reps, res, size=299):
  from gan_jax.fid import inception  # pylint: disable=g-import-not-at-top
  variables = inception.random_params(jax.random.PRNGKey(0))
  for batch in batches:
    x = jax.random.uniform(jax.random.PRNGKey(1), (batch, size, size, 3),
                           minval=-1, maxval=1)
    runs = [(m, True) for m in modes]
    if 'fp16' in modes and batch == batches[0]:
      runs.append(('fp16', False))
    for mode, fused in runs:
      f = jax.jit(inception.InceptionV3(mode, fused=fused).apply)
      dt = timeit(lambda: f(variables, x)[0].block_until_ready(), reps)
      name = mode if fused else f'{mode}_unfused'
      res[f'ours_{name}_b{batch}_img_per_s'] = batch / dt
      print(json.dumps(res), flush=True)


def bench_torch(batches, reps, res):
  import torch  # pylint: disable=g-import-not-at-top
  import torchvision  # pylint: disable=g-import-not-at-top
  from pytorch_fid import inception as pfi  # pylint: disable=g-import-not-at-top

  def random_fid_inception():  # fid_inception_v3 without the download.
    net = torchvision.models.inception_v3(num_classes=1008, aux_logits=False,
                                          weights=None, init_weights=False)
    net.Mixed_5b = pfi.FIDInceptionA(192, pool_features=32)
    net.Mixed_5c = pfi.FIDInceptionA(256, pool_features=64)
    net.Mixed_5d = pfi.FIDInceptionA(288, pool_features=64)
    net.Mixed_6b = pfi.FIDInceptionC(768, channels_7x7=128)
    net.Mixed_6c = pfi.FIDInceptionC(768, channels_7x7=160)
    net.Mixed_6d = pfi.FIDInceptionC(768, channels_7x7=160)
    net.Mixed_6e = pfi.FIDInceptionC(768, channels_7x7=192)
    net.Mixed_7b = pfi.FIDInceptionE_1(1280)
    net.Mixed_7c = pfi.FIDInceptionE_2(2048)
    return net

  pfi.fid_inception_v3 = random_fid_inception
  net = pfi.InceptionV3([3], resize_input=False, normalize_input=False)
  net = net.cuda().eval()
  for batch in batches:
    x = torch.rand(batch, 3, 299, 299, device='cuda') * 2 - 1
    # PyTorch's default runs convolutions in TF32: that is the reference.
    for tf32 in (True, False) if batch == batches[0] else (True,):
      torch.backends.cudnn.allow_tf32 = tf32
      torch.backends.cuda.matmul.allow_tf32 = tf32

      def run():
        with torch.no_grad():
          net(x)  # pylint: disable=cell-var-from-loop
        torch.cuda.synchronize()
      res[f'pytorch_fid_eager_tf32_{tf32}_b{batch}_img_per_s'] = (
          batch / timeit(run, reps))
      print(json.dumps(res), flush=True)
  torch.backends.cudnn.allow_tf32 = True


def bench_distance(res):
  import scipy.linalg  # pylint: disable=g-import-not-at-top
  from gan_jax.fid import distance  # pylint: disable=g-import-not-at-top
  rs = np.random.RandomState(0)
  stats = []
  for _ in range(2):
    a = rs.rand(2048, 2048) / 40
    f = np.maximum(rs.randn(6000, 2048) @ a, 0)
    stats += [f.mean(0), np.cov(f, rowvar=False)]
  t = time.perf_counter()
  covmean = np.real(scipy.linalg.sqrtm(stats[1] @ stats[3]))
  d = stats[0] - stats[2]
  ref = d @ d + np.trace(stats[1]) + np.trace(stats[3]) - 2 * np.trace(covmean)
  res['scipy_sqrtm_seconds'] = time.perf_counter() - t
  ours = distance.frechet_distance(*stats)
  res['ours_distance_seconds_incl_transfer'] = timeit(
      lambda: distance.frechet_distance(*stats), 5)
  from gan_jax.fid.statistics import x64  # pylint: disable=g-import-not-at-top
  with x64():
    dev = [jnp.asarray(s, jnp.float64) for s in stats]
    res['ours_distance_seconds_on_device'] = timeit(
        lambda: distance._frechet(*dev).block_until_ready(), 5)  # pylint: disable=protected-access
  res['distance_abs_diff_vs_scipy'] = abs(ours - ref)
  print(json.dumps(res), flush=True)


class DCGAN(nn.Module):
  """DCGAN-CIFAR generator (z 128 -> 4x4x512 -> 32x32x3, tanh)."""

  @nn.compact
  def __call__(self, z):
    x = nn.Dense(4 * 4 * 512)(z).reshape(-1, 4, 4, 512)
    x = nn.relu(nn.BatchNorm(use_running_average=True)(x))
    for ch in (256, 128, 64):
      x = nn.ConvTranspose(ch, (4, 4), (2, 2))(x)
      x = nn.relu(nn.BatchNorm(use_running_average=True)(x))
    x = nn.Conv(3, (3, 3))(x)
    return jnp.tanh(x)


def bench_fid50k(res, weights, data, modes, batches, num_samples=50000, input_size=299):
  from gan_jax.fid import evaluator  # pylint: disable=g-import-not-at-top
  gen = DCGAN()
  gvars = gen.init(jax.random.PRNGKey(0), jnp.zeros((1, 128)))
  sample_fn = lambda rng, bs: gen.apply(gvars, jax.random.normal(rng, (bs, 128)))
  real = np.load(data)['a'] if data else np.random.RandomState(0).randint(
      0, 256, (1000, 32, 32, 3)).astype(np.uint8)
  cache = tempfile.mkdtemp()
  for mode, bs in [(m, b) for m in modes for b in batches]:
    cfg = {'num_samples': num_samples, 'batch_size': bs, 'weights_path': weights,
           'precision': mode, 'compute_is': False, 'input_size': input_size}
    ev = evaluator.make_evaluator(cfg, real, cache_key='bench', cache_dir=cache)
    t = time.perf_counter()
    out = ev(sample_fn, jax.random.PRNGKey(1))
    key = f'fid50k_{mode}_b{bs}'
    res[f'{key}_first_call_seconds'] = time.perf_counter() - t
    ts = []
    for i in range(2):
      t = time.perf_counter()
      out = ev(sample_fn, jax.random.PRNGKey(2 + i))
      ts.append(time.perf_counter() - t)
    res[f'{key}_seconds'] = min(ts)
    res[f'{key}_value'] = out['fid']
    print(json.dumps(res), flush=True)


def accuracy(res, weights, data, batch):
  from gan_jax.fid import distance, evaluator  # pylint: disable=g-import-not-at-top
  z = np.load(data)
  fids = {}
  from gan_jax.fid import inception  # pylint: disable=g-import-not-at-top
  for mode in inception.PRECISIONS:  # 'highest' first: the reference.
    model, variables, _ = evaluator.load_model(weights, mode)
    sa = evaluator.compute_stats(z['a'], model=model, variables=variables,
                                 batch_size=batch)[:2]
    sb = evaluator.compute_stats(z['b'], model=model, variables=variables,
                                 batch_size=batch)[:2]
    fids[mode] = distance.frechet_distance(*sa, *sb)
    res[f'cifar2500_fid_{mode}'] = fids[mode]
    res[f'cifar2500_dfid_{mode}'] = fids[mode] - fids['highest']
    print(json.dumps(res), flush=True)


def main():
  p = argparse.ArgumentParser()
  p.add_argument('--weights', default='')
  p.add_argument('--data', default='')
  p.add_argument('--batches', default='500,1000')
  p.add_argument('--modes', default=','.join(('highest', 'default', 'bf16',
                                              'fp16')))
  p.add_argument('--reps', type=int, default=5)
  p.add_argument('--skip', default='')
  p.add_argument('--fid50k_modes', default='default,fp16')
  p.add_argument('--out', default='')
  args = p.parse_args()
  batches = [int(b) for b in args.batches.split(',')]
  res = {'device': str(jax.devices()[0].device_kind), 'jax': jax.__version__}
  steps = {
      'ours': lambda: bench_ours(batches, args.modes.split(','), args.reps,
                                 res),
      'torch': lambda: bench_torch(batches, args.reps, res),
      'distance': lambda: bench_distance(res),
      'accuracy': lambda: accuracy(res, args.weights, args.data, batches[0]),
      'fid50k': lambda: bench_fid50k(res, args.weights, args.data,
                                     args.fid50k_modes.split(','), batches),
  }
  for name, fn in steps.items():
    if name in args.skip.split(','):
      continue
    try:
      fn()
    except Exception as e:  # pylint: disable=broad-except
      res[f'{name}_error'] = repr(e)[:300]
      print(json.dumps(res), flush=True)
    add_ratios(res)
    if args.out:
      with open(args.out, 'w') as f:
        json.dump(res, f, indent=1)
  print('\n'.join(f'{k}: {v}' for k, v in res.items()
                  if k.startswith(('speedup', 'cifar2500_dfid', 'fid50k'))))


def add_ratios(res):
  """Ours / pytorch-fid eager (TF32, PyTorch's default) at the same batch."""
  for key, value in list(res.items()):
    if key.startswith('ours_') and key.endswith('_img_per_s'):
      batch = key.split('_')[-3]
      ref = res.get(f'pytorch_fid_eager_tf32_True_{batch}_img_per_s')
      if ref:
        res['speedup_' + key[len('ours_'):-len('_img_per_s')]] = value / ref


if __name__ == '__main__':
  main()
