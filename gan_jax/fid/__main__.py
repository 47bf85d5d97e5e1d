"""FID between two image sets, like pytorch-fid's CLI.

  python -m gan_jax.fid A B [--num N] [--batch-size B]
  python -m gan_jax.fid A --save-stats OUT.npz

A and B: a folder of images, an .npz of uint8 NHWC images, or an .npz of
statistics (`mu`, `sigma`, as pytorch-fid writes them).
"""

import argparse
import os
import sys

import numpy as np

from gan_jax.errors import UserError

_EXTS = (".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff", ".ppm")


def _folder_batches(path, batch_size, num):
  from PIL import Image  # pylint: disable=g-import-not-at-top
  files = sorted(os.path.join(r, f) for r, _, fs in os.walk(path) for f in fs
                 if f.lower().endswith(_EXTS))
  if not files:
    raise UserError(f'folder {path!r} holds no images ({", ".join(_EXTS)})')
  files = files[:num] if num else files
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


def _npz_images(path):
  with np.load(path, allow_pickle=False) as z:
    arrays = {k: z[k] for k in z.files}
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


def _stats(path, args):
  from gan_jax.fid import evaluator, statistics  # pylint: disable=g-import-not-at-top
  if not os.path.exists(path):
    raise UserError(f"path {path!r} does not exist")
  if os.path.isdir(path):
    images = _folder_batches(path, args.batch_size, args.num)
  elif path.endswith(".npz"):
    if statistics.is_stats_file(path):
      return statistics.load_stats(path)[:2]
    try:
      images = _npz_images(path)
    except (OSError, ValueError) as e:
      raise UserError(f"{path!r} cannot be read as .npz: {e}") from e
  else:
    raise UserError(f"{path!r} is neither a folder nor an .npz")
  mu, sigma, _ = evaluator.compute_stats(
      images, batch_size=args.batch_size, resize=args.resize, num=args.num,
      weights_path=args.weights, precision=args.precision)
  return mu, sigma


def main(argv=None):
  p = argparse.ArgumentParser(prog="python -m gan_jax.fid",
                              description=__doc__.split("\n")[0])
  p.add_argument("paths", nargs="+", help="folder, images .npz or stats .npz")
  p.add_argument("--save-stats", metavar="OUT.npz",
                 help="write the statistics of the single path and exit")
  p.add_argument("--num", type=int, default=0, help="use at most N images")
  p.add_argument("--batch-size", type=int, default=250)
  p.add_argument("--weights", default="", help="weights .pt/.pth/.npz")
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
    if args.save_stats:
      if len(args.paths) != 1:
        raise UserError("--save-stats takes exactly one input path, got "
                        f"{len(args.paths)}")
      from gan_jax.fid import statistics  # pylint: disable=g-import-not-at-top
      statistics.save_stats(args.save_stats, *_stats(args.paths[0], args))
      return 0
    if len(args.paths) != 2:
      raise UserError(f"expected two paths (A B), got {len(args.paths)}")
    from gan_jax.fid import distance  # pylint: disable=g-import-not-at-top
    a, b = (_stats(x, args) for x in args.paths)
    print(f"FID: {distance.frechet_distance(*a, *b):.6f}")
    return 0
  except UserError as e:
    print(f"error: {e}", file=sys.stderr)
    return 2


if __name__ == "__main__":
  sys.exit(main())
