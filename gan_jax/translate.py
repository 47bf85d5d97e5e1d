"""Translate your own images with a trained image-to-image run (Pix2Pix, CycleGAN).

    python -m gan_jax.translate --workdir=DIR --input=FOLDER|FILE.npz|IMAGE --output=OUT.npz|FOLDER
        [--grid=before_after.png] [--direction=a2b|b2a] [--batch_size=64] [--seed=0]

`--input`: a folder of images (.png, .jpg, .jpeg, .bmp, .webp; any sizes, grey or colour), one image
file, or an .npz holding uint8 images (N, H, W[, C]) under `images` (or its only array). The family
prepares each image as its generator needs it (resized to the trained size; for colourisation the
lightness of a colour or grey image; for edges2digits an edge map as it is).

`--output`: an .npz (`images`: uint8 NHWC, `names`: the input names) or a folder of PNGs named after
the inputs. Nothing is written until every image is translated; the output appears whole (a
temporary file or folder renamed into place) or not at all. Every output is checked before the run
is restored; an existing one is an error unless --overwrite (which, into an existing folder,
replaces the PNGs of the same names only).

`--grid`: a PNG of the first `--grid_rows` inputs, one row each: the columns the family chooses
(Pix2Pix: the generator's input | its output; CycleGAN: input | translation | reconstruction).

Bad input (no such path, no images, an undecodable file, a direction the run cannot translate, an
output that cannot be written) prints one line and exits 2. While the run is restored and compiled,
and on long inputs, lines on stderr say what it does; stdout holds the result.

A family offers this tool through its `TOOLS.translator` (a families.Translator: `check`, before
the run is restored, `translate` and the grid's `columns`); each batch's key for test-time
randomness is fold_in(key(--seed), batch index).
"""
import sys

from absl import flags
from absl import logging
import numpy as np

from gan_jax import cli
from gan_jax import image_files
from gan_jax import output_paths
from gan_jax import outputs as outputs_lib
from gan_jax.errors import UserError

FLAGS = flags.FLAGS


def define_flags(flag_values=flags.FLAGS):
  """The command line's flags, defined when it runs (importing the tool defines none, so other
  absl programs and tests can import it)."""
  flags.DEFINE_string("workdir", None, "The training run's workdir.", flag_values=flag_values)
  flags.DEFINE_string("input", None, "A folder of images, an image file or an .npz of images.",
                      flag_values=flag_values)
  flags.DEFINE_string("output", None, "An .npz file or a folder (PNGs).", flag_values=flag_values)
  flags.DEFINE_string("grid", None, "Optional PNG: the family's before/after columns.",
                      flag_values=flag_values)
  flags.DEFINE_string("direction", "a2b", "a2b or b2a (Pix2Pix runs translate their own way only).",
                      flag_values=flag_values)
  flags.DEFINE_integer("batch_size", 64, "Images per generator call.", flag_values=flag_values)
  flags.DEFINE_integer("grid_rows", 16, "Inputs shown in --grid.", flag_values=flag_values)
  flags.DEFINE_integer("seed", 0, "Key of test-time randomness (e.g. Pix2Pix's test dropout).",
                       flag_values=flag_values)
  output_paths.define_overwrite_flag(flag_values)


DIRECTIONS = ("a2b", "b2a")


def translate_all(translator, restored, images, direction, batch_size, seed, progress=True):
  """All images through `translator.translate` (a families.Translator), batch by batch, with
  progress lines (stderr) on long inputs."""
  import jax  # pylint: disable=g-import-not-at-top
  out, lines = [], outputs_lib.CountProgress("translated", "images", len(images))
  for i in range(0, len(images), batch_size):
    rng = jax.random.fold_in(jax.random.key(seed), i // batch_size)
    out.append(np.asarray(translator.translate(restored, images[i:i + batch_size], direction,
                                               rng)))
    if progress:
      lines.update(min(i + batch_size, len(images)))
  return np.concatenate(out)


def main(argv):
  del argv
  for name in ("workdir", "input", "output"):
    if not getattr(FLAGS, name):
      raise UserError(f"--{name} is required")
  if FLAGS.direction not in DIRECTIONS:
    raise UserError(f"--direction={FLAGS.direction!r} is unknown; allowed: a2b, b2a")
  for name in ("batch_size", "grid_rows"):
    if FLAGS[name].value < 1:
      raise UserError(f"--{name}={FLAGS[name].value} must be >= 1")
  output = image_files.check_output(FLAGS.output, "--output", FLAGS.overwrite)
  if FLAGS.grid:
    output_paths.check_file("--grid", FLAGS.grid, (".png",), FLAGS.overwrite)
  images, names = image_files.read_images(FLAGS.input, "--input")
  logging.set_verbosity(logging.WARNING)  # Orbax logs every restore at INFO.
  from gan_jax import families  # pylint: disable=g-import-not-at-top
  from gan_jax import loop  # pylint: disable=g-import-not-at-top
  config = loop.load_config(FLAGS.workdir)
  translator = families.offered(config, "translator", FLAGS.workdir)
  translator.check(config, FLAGS.direction)
  restored = loop.restore(FLAGS.workdir, announce=cli.note)
  cli.note(f"translating {len(images)} images ({FLAGS.direction})")
  outputs = translate_all(translator, restored, images, FLAGS.direction, FLAGS.batch_size,
                          FLAGS.seed)
  grid = None
  if FLAGS.grid:
    import jax  # pylint: disable=g-import-not-at-top
    rows = min(FLAGS.grid_rows, len(images))
    columns = translator.columns(restored, images[:rows], outputs[:rows], FLAGS.direction,
                                 jax.random.key(FLAGS.seed))
    grid = np.stack(columns, axis=1).reshape((-1,) + columns[0].shape[1:])
  with output_paths.failed_writes_in_one_line():
    image_files.write_output(output, outputs, names)
    if grid is not None:
      outputs_lib.save_image_grid(FLAGS.grid, grid, ncols=len(columns))
  print(f"wrote {len(outputs)} images to {FLAGS.output}" +
        (f" and the grid {FLAGS.grid}" if FLAGS.grid else ""), flush=True)


if __name__ == "__main__":
  define_flags()
  sys.exit(cli.run(main))
