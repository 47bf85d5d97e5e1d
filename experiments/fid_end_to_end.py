"""End-to-end FID check: ours vs the reference pipeline on real CIFAR-10.

FID between two disjoint 2,500-image subsets (an .npz with uint8 arrays `a`
and `b`). The reference is NVIDIA's TorchScript Inception (run by torch, TF32
off) on images resized by an independent torch version of TF1's legacy
bilinear resize, with scipy's sqrtm for the distance. Too slow for CI on CPU.

  python experiments/fid_end_to_end.py --data .fiddata/cifar5k.npz \
      --ours highest,default,bf16 --reference PATH/TO/inception.pt
"""

import argparse
import json
import time

import numpy as np
import scipy.linalg


def fid_scipy(mu1, s1, mu2, s2):
  covmean = scipy.linalg.sqrtm(s1 @ s2)
  covmean = np.real(covmean)
  d = mu1 - mu2
  return float(d @ d + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean))


def tf1_resize_torch(x, size=299):
  """TF1 legacy bilinear (NCHW float) by explicit gathers, independent of ours."""
  import torch  # pylint: disable=g-import-not-at-top
  def axis(n_in):
    src = torch.arange(size, dtype=torch.float32) * (n_in / size)
    lo = src.floor().long()
    return lo.clamp(max=n_in - 1), (lo + 1).clamp(max=n_in - 1), src - lo
  y0, y1, fy = axis(x.shape[2])
  x0, x1, fx = axis(x.shape[3])
  top = x[:, :, y0][..., x0] * (1 - fx) + x[:, :, y0][..., x1] * fx
  bot = x[:, :, y1][..., x0] * (1 - fx) + x[:, :, y1][..., x1] * fx
  fy = fy[:, None]
  return top * (1 - fy) + bot * fy


def reference_stats(images, ts_path, batch=100):
  import torch  # pylint: disable=g-import-not-at-top
  torch.backends.cuda.matmul.allow_tf32 = False
  torch.backends.cudnn.allow_tf32 = False
  dev = 'cuda' if torch.cuda.is_available() else 'cpu'
  net = torch.jit.load(ts_path, map_location=dev).eval()
  feats = []
  with torch.no_grad():
    for i in range(0, len(images), batch):
      x = torch.from_numpy(images[i:i + batch]).permute(0, 3, 1, 2).float()
      x = (tf1_resize_torch(x) - 128) / 128
      feats.append(net(x.to(dev)).double().cpu().numpy())
  f = np.concatenate(feats)
  return f.mean(0), np.cov(f, rowvar=False)


def main():
  p = argparse.ArgumentParser()
  p.add_argument('--data', required=True)
  p.add_argument('--weights', default='')
  p.add_argument('--ours', default='highest', help='precision modes, or ""')
  p.add_argument('--reference', default='', help='TorchScript .pt path')
  p.add_argument('--out', default='')
  args = p.parse_args()
  z = np.load(args.data)
  a, b = z['a'], z['b']
  res = {'n_a': len(a), 'n_b': len(b)}
  if args.reference:
    t = time.time()
    sa, sb = reference_stats(a, args.reference), reference_stats(b,
                                                                 args.reference)
    res['reference_fid'] = fid_scipy(*sa, *sb)
    res['reference_seconds'] = time.time() - t
    print(json.dumps(res), flush=True)
  if args.ours:
    from gan_jax.fid import distance, evaluator  # pylint: disable=g-import-not-at-top
    for mode in args.ours.split(','):
      model, variables, _ = evaluator.load_model(args.weights, mode)
      t = time.time()
      sa = evaluator.compute_stats(a, model=model, variables=variables)[:2]
      sb = evaluator.compute_stats(b, model=model, variables=variables)[:2]
      res[f'ours_{mode}_fid'] = distance.frechet_distance(*sa, *sb)
      res[f'ours_{mode}_seconds'] = time.time() - t
      if mode == 'highest':
        res['ours_highest_fid_scipy_distance'] = fid_scipy(*sa, *sb)
      print(json.dumps(res), flush=True)
  if args.out:
    with open(args.out, 'w') as f:
      json.dump(res, f, indent=1)


if __name__ == '__main__':
  main()
