"""Reading a user's images (a folder, one image file or an .npz) and writing images (an .npz or a
folder of PNGs) whole or not at all: the input and output side of command-line tools such as
`gan_jax.translate`. `what` names the flag in error messages; gan_jax/output_paths.py checks and
writes the outputs as it does for every tool."""
import contextlib
import os
import pathlib
import re

import numpy as np
from PIL import Image

from gan_jax import output_paths
from gan_jax.errors import UserError

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".webp")


@contextlib.contextmanager
def open_image(path, what=""):
  """PIL's Image.open, where an image whose header claims more pixels than PIL decodes (twice
  Image.MAX_IMAGE_PIXELS: a decompression bomb) is one UserError naming the file and the limit.
  PIL's limit is kept, so a large legitimate image still opens (with PIL's warning above half of
  it)."""
  try:
    img = Image.open(path)
  except Image.DecompressionBombError as e:
    claimed = re.search(r"\((\d+) pixels\)", str(e))
    size = f"{int(claimed.group(1)):,} pixels" if claimed else "more pixels than that"
    raise UserError(f"{what + ': ' if what else ''}{str(path)!r} claims {size}, more than the "
                    f"{2 * Image.MAX_IMAGE_PIXELS:,} that PIL decodes (its limit against "
                    "decompression bombs); use a smaller image") from e
  with img:
    yield img


def _decode(path, what):
  try:
    with open_image(path, what) as img:
      if img.mode.startswith("I") or img.mode == "F":
        raise UserError(f"{what}: {str(path)!r} is a {img.mode} image; 8-bit grey or colour "
                        "images are supported")
      img = img.convert("L" if img.mode in ("1", "L", "LA") else "RGB")
      array = np.asarray(img, np.uint8)
  except (OSError, ValueError) as e:
    raise UserError(f"{what}: cannot decode {str(path)!r}: {e}") from e
  return array[..., None] if array.ndim == 2 else array


def read_images(path, what="--input"):
  """A folder of images, an image file or an .npz -> (list of uint8 HWC images, names)."""
  p = pathlib.Path(os.path.expanduser(path))
  if p.is_dir():
    files = sorted(f for f in p.iterdir() if f.is_file() and f.suffix.lower() in IMAGE_EXTENSIONS)
    if not files:
      raise UserError(f"{what}={path!r} holds no images ({', '.join(IMAGE_EXTENSIONS)})")
    stems = [f.stem for f in files]
    twins = sorted({s for s in stems if stems.count(s) > 1})
    if twins:
      raise UserError(f"{what}={path!r} holds several images named {twins[0]!r} (other "
                      "extensions); outputs are named after their inputs: rename one")
    return [_decode(f, what) for f in files], [f.stem for f in files]
  if not p.is_file():
    raise UserError(f"{what}={path!r} does not exist; give a folder of images, an image file or "
                    "an .npz of uint8 images")
  if p.suffix.lower() == ".npz":
    return _read_npz(p, what)
  if p.suffix.lower() not in IMAGE_EXTENSIONS:
    raise UserError(f"{what}={path!r}: unknown file type {p.suffix!r}; allowed: a folder, .npz, "
                    f"{', '.join(IMAGE_EXTENSIONS)}")
  return [_decode(p, what)], [p.stem]


def _read_npz(p, what):
  try:
    with np.load(p) as z:
      keys = list(z.keys())
      key = "images" if "images" in keys else (keys[0] if len(keys) == 1 else None)
      if key is None:
        raise UserError(f"{what}={str(p)!r} holds {keys}; put the images under 'images'")
      images = z[key]
  except (OSError, ValueError) as e:
    raise UserError(f"{what}={str(p)!r} is not a readable .npz: {e}") from e
  if images.dtype != np.uint8 or images.ndim not in (3, 4) or (
      images.ndim == 4 and images.shape[-1] not in (1, 3)):
    raise UserError(f"{what}={str(p)!r}: '{key}' is {images.dtype} {images.shape}; expected uint8 "
                    "images (N, H, W) or (N, H, W, 1 or 3)")
  if not len(images):
    raise UserError(f"{what}={str(p)!r}: '{key}' holds no images")
  images = images[..., None] if images.ndim == 3 else images
  return list(images), [f"{i:06d}" for i in range(len(images))]


def check_output(path, what="--output", overwrite=False):
  """The output `write_output` writes to `path` (an .npz, else a folder of PNGs), checked by
  output_paths before anything is computed; its absolute path."""
  if path.lower().endswith(".npz"):
    return pathlib.Path(output_paths.check_file(what, path, (".npz",), overwrite))
  return pathlib.Path(output_paths.check_folder(what, path, overwrite))


def write_output(p, images, names):
  """uint8 NHWC `images` as an .npz (`images`, `names`) or a folder of PNGs named after `names`,
  through a temporary file or folder renamed into place."""
  p = pathlib.Path(p)
  if p.suffix.lower() == ".npz":
    with output_paths.written(str(p)) as tmp:
      np.savez(tmp, images=images, names=np.asarray(names))
    return
  with output_paths.written_folder(str(p)) as tmp:
    for image, name in zip(images, names):
      Image.fromarray(image[..., 0] if image.shape[-1] == 1 else image).save(
          os.path.join(tmp, f"{name}.png"))
