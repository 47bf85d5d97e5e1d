"""Translate your own images with a trained image-to-image run (Pix2Pix, CycleGAN).

    python -m gan_jax.translate --workdir=DIR --input=FOLDER|FILE.npz|IMAGE --output=OUT.npz|FOLDER
        [--grid=before_after.png] [--direction=a2b|b2a] [--batch_size=64] [--seed=0]

`--input`: a folder of images (.png, .jpg, .jpeg, .bmp, .webp; any sizes, grey or colour), one image
file, or an .npz holding uint8 images (N, H, W[, C]) under `images` (or its only array). The family
prepares each image as its generator needs it (resized to the trained size; for colourisation the
lightness of a colour or grey image; for edges2digits an edge map as it is).

`--output`: an .npz (`images`: uint8 NHWC, `names`: the input names) or a folder of PNGs named after
the inputs. Nothing is written until every image is translated; the output appears whole (a
temporary file or folder renamed into place) or not at all. An existing output is an error.

`--grid`: a PNG of the first `--grid_rows` inputs, one row each: the columns the family chooses
(Pix2Pix: the generator's input | its output; CycleGAN: input | translation | reconstruction).

Bad input (no such path, no images, an undecodable file, a direction the run cannot translate)
prints one line and exits 2.

A family supports this tool with
    translate(restored, images, direction, rng) -> uint8 NHWC   # images: list of uint8 HWC arrays
    translation_columns(restored, images, outputs, direction, rng) -> [uint8 NHWC, ...]
where `restored` is `loop.restore(workdir)` and `rng` a key for any test-time randomness (each
batch its own: fold_in(key(--seed), batch index)).
"""
import os
import pathlib
import shutil
import sys
import tempfile
import time

from absl import flags
import numpy as np
from PIL import Image

from gan_jax import cli
from gan_jax import outputs as outputs_lib
from gan_jax.errors import UserError

FLAGS = flags.FLAGS
flags.DEFINE_string("workdir", None, "The training run's workdir.")
flags.DEFINE_string("input", None, "A folder of images, an image file or an .npz of images.")
flags.DEFINE_string("output", None, "An .npz file or a folder (PNGs), not existing yet.")
flags.DEFINE_string("grid", None, "Optional PNG: the family's before/after columns.")
flags.DEFINE_string("direction", "a2b", "a2b or b2a (Pix2Pix runs translate their own way only).")
flags.DEFINE_integer("batch_size", 64, "Images per generator call.")
flags.DEFINE_integer("grid_rows", 16, "Inputs shown in --grid.")
flags.DEFINE_integer("seed", 0, "Key of test-time randomness (e.g. Pix2Pix's test dropout).")

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".webp")
DIRECTIONS = ("a2b", "b2a")


def _decode(path):
  try:
    with Image.open(path) as img:
      if img.mode.startswith("I") or img.mode == "F":
        raise UserError(f"--input: {str(path)!r} is a {img.mode} image; 8-bit grey or colour "
                        "images are supported")
      img = img.convert("L" if img.mode in ("1", "L", "LA") else "RGB")
      array = np.asarray(img, np.uint8)
  except (OSError, ValueError) as e:
    raise UserError(f"--input: cannot decode {str(path)!r}: {e}") from e
  return array[..., None] if array.ndim == 2 else array


def read_images(path):
  """--input -> (list of uint8 HWC images, names)."""
  p = pathlib.Path(os.path.expanduser(path))
  if p.is_dir():
    files = sorted(f for f in p.iterdir() if f.is_file() and f.suffix.lower() in IMAGE_EXTENSIONS)
    if not files:
      raise UserError(f"--input={path!r} holds no images ({', '.join(IMAGE_EXTENSIONS)})")
    return [_decode(f) for f in files], [f.stem for f in files]
  if not p.is_file():
    raise UserError(f"--input={path!r} does not exist; give a folder of images, an image file or "
                    "an .npz of uint8 images")
  if p.suffix.lower() == ".npz":
    return _read_npz(p)
  if p.suffix.lower() not in IMAGE_EXTENSIONS:
    raise UserError(f"--input={path!r}: unknown file type {p.suffix!r}; allowed: a folder, .npz, "
                    f"{', '.join(IMAGE_EXTENSIONS)}")
  return [_decode(p)], [p.stem]


def _read_npz(p):
  try:
    with np.load(p) as z:
      keys = list(z.keys())
      key = "images" if "images" in keys else (keys[0] if len(keys) == 1 else None)
      if key is None:
        raise UserError(f"--input={str(p)!r} holds {keys}; put the images under 'images'")
      images = z[key]
  except (OSError, ValueError) as e:
    raise UserError(f"--input={str(p)!r} is not a readable .npz: {e}") from e
  if images.dtype != np.uint8 or images.ndim not in (3, 4) or (
      images.ndim == 4 and images.shape[-1] not in (1, 3)):
    raise UserError(f"--input={str(p)!r}: '{key}' is {images.dtype} {images.shape}; expected uint8 "
                    "images (N, H, W) or (N, H, W, 1 or 3)")
  if not len(images):
    raise UserError(f"--input={str(p)!r}: '{key}' holds no images")
  images = images[..., None] if images.ndim == 3 else images
  return list(images), [f"{i:06d}" for i in range(len(images))]


def check_output(path):
  p = pathlib.Path(os.path.expanduser(path))
  if p.exists():
    raise UserError(f"--output={path!r} exists already; give a new .npz file or folder")
  if not p.parent.is_dir():
    raise UserError(f"--output={path!r}: its folder {str(p.parent)!r} does not exist")
  return p


def write_output(p, images, names):
  """Writes to a temporary sibling, then renames it into place."""
  if p.suffix.lower() == ".npz":
    fd, tmp = tempfile.mkstemp(dir=p.parent, suffix=".npz.tmp")
    try:
      with os.fdopen(fd, "wb") as f:
        np.savez(f, images=images, names=np.asarray(names))
      os.replace(tmp, p)
    except BaseException:
      os.unlink(tmp)
      raise
    return
  tmp = tempfile.mkdtemp(dir=p.parent, prefix=f".{p.name}.tmp")
  try:
    for image, name in zip(images, names):
      Image.fromarray(image[..., 0] if image.shape[-1] == 1 else image).save(
          os.path.join(tmp, f"{name}.png"))
    os.rename(tmp, p)
  except BaseException:
    shutil.rmtree(tmp, ignore_errors=True)
    raise


def _progress(done, total, start):
  elapsed = time.perf_counter() - start
  rate = done / max(elapsed, 1e-9)
  eta = (total - done) / max(rate, 1e-9)
  print(f"translated {done}/{total} images ({rate:.1f} img/s, ETA {eta:.0f} s)", flush=True)


def translate_all(family, restored, images, direction, batch_size, seed, progress=True):
  """All images through `family.translate`, batch by batch, with progress lines on long inputs."""
  import jax  # pylint: disable=g-import-not-at-top
  out, start, last = [], time.perf_counter(), time.perf_counter()
  for i in range(0, len(images), batch_size):
    rng = jax.random.fold_in(jax.random.key(seed), i // batch_size)
    out.append(np.asarray(family.translate(restored, images[i:i + batch_size], direction, rng)))
    done = min(i + batch_size, len(images))
    if progress and (time.perf_counter() - last > 10 or (done == len(images) and i)):
      _progress(done, len(images), start)
      last = time.perf_counter()
  return np.concatenate(out)


def main(argv):
  del argv
  for name in ("workdir", "input", "output"):
    if not getattr(FLAGS, name):
      raise UserError(f"--{name} is required")
  if FLAGS.direction not in DIRECTIONS:
    raise UserError(f"--direction={FLAGS.direction!r} is unknown; allowed: a2b, b2a")
  if FLAGS.batch_size < 1:
    raise UserError(f"--batch_size={FLAGS.batch_size} must be >= 1")
  output = check_output(FLAGS.output)
  if FLAGS.grid:
    check_output(FLAGS.grid)
  images, names = read_images(FLAGS.input)
  from gan_jax import loop  # pylint: disable=g-import-not-at-top
  restored = loop.restore(FLAGS.workdir)
  family = restored.family
  if not hasattr(family, "translate"):
    raise UserError(f"--workdir={FLAGS.workdir!r} holds a {restored.config.family!r} run, which "
                    "does not translate images")
  print(f"translating {len(images)} images ({FLAGS.direction}) with {FLAGS.workdir}", flush=True)
  outputs = translate_all(family, restored, images, FLAGS.direction, FLAGS.batch_size, FLAGS.seed)
  grid = None
  if FLAGS.grid:
    import jax  # pylint: disable=g-import-not-at-top
    rows = min(FLAGS.grid_rows, len(images))
    columns = family.translation_columns(restored, images[:rows], outputs[:rows],
                                         FLAGS.direction, jax.random.key(FLAGS.seed))
    grid = np.stack(columns, axis=1).reshape((-1,) + columns[0].shape[1:])
  write_output(output, outputs, names)
  if grid is not None:
    outputs_lib.save_image_grid(FLAGS.grid, grid, ncols=len(columns))
  print(f"wrote {len(outputs)} images to {FLAGS.output}" +
        (f" and the grid {FLAGS.grid}" if FLAGS.grid else ""), flush=True)


if __name__ == "__main__":
  sys.exit(cli.run(main))
