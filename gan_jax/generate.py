"""Images from sentences with a trained run whose family generates from text (its
`TOOLS.text_generator`; the EMA generator when the run has one).

  python -m gan_jax.generate --workdir=DIR --prompt "a thick seven leaning right" \
      [--prompt "the number three" ...] [--prompts_file=FILE] --num=10 --grid=out.png \
      [--output=out.npz] [--seed=0]

Each prompt gets one row of `--num` images (the same `--num` latent vectors in every row, so the
rows differ by their prompt only). Prompts go through the run's frozen sentence encoder; one longer
than the encoder's 256 tokens is cut there, with a note. `--prompts_file`: UTF-8 text, one prompt a
line (blank lines and lines starting with '#' skipped). The .npz holds `images` (uint8, (P * num, H,
W, C), row-major: prompt 0's images first), `prompts` (P,) and `prompt_index` (P * num,).

Every output is checked before the prompts are encoded and the run restored: an existing one is an
error unless --overwrite; each appears whole or not at all. The images are drawn `--batch_size` at a
time, with a progress line on stderr for large requests.
"""
import pathlib

from absl import flags
from absl import logging
import numpy as np

from gan_jax import cli
from gan_jax import families
from gan_jax import loop
from gan_jax import output_paths
from gan_jax import outputs
from gan_jax import text_encoder
from gan_jax.errors import UserError

FLAGS = flags.FLAGS


def define_flags(flag_values=flags.FLAGS):
  """The command line's flags, defined when it runs (importing the tool defines none, so other
  absl programs and tests can import it)."""
  flags.DEFINE_string("workdir", None, "A text-to-image training run's workdir.",
                      flag_values=flag_values)
  flags.DEFINE_multi_string("prompt", [], "A sentence to draw (repeatable: one grid row each).",
                            flag_values=flag_values)
  flags.DEFINE_string("prompts_file", None, "A UTF-8 text file of prompts, one a line.",
                      flag_values=flag_values)
  flags.DEFINE_integer("num", 10, "Images per prompt.", flag_values=flag_values)
  flags.DEFINE_string("grid", None,
                      "A PNG grid to write: one row per prompt, the prompt beside it.",
                      flag_values=flag_values)
  flags.DEFINE_string("output", None, "An .npz file to write (images, prompts, prompt_index).",
                      flag_values=flag_values)
  flags.DEFINE_integer("seed", 0, "Seed of the latent vectors.", flag_values=flag_values)
  flags.DEFINE_integer("batch_size", 500, "Images generated per device call.",
                       flag_values=flag_values)
  output_paths.define_overwrite_flag(flag_values)
  flags.mark_flags_as_required(["workdir"], flag_values=flag_values)


def read_prompts(prompts=(), prompts_file=None):
  """The `--prompt` values, then the lines of `--prompts_file`. An empty prompt, an unreadable or
  non-UTF-8 file, or no prompt at all is a UserError. Runs of whitespace become one space."""
  result = []
  for i, prompt in enumerate(prompts or (), 1):
    if not prompt.strip():
      raise UserError(f"--prompt number {i} is empty: give a sentence, e.g. --prompt \"a seven\"")
    result.append(" ".join(prompt.split()))
  if prompts_file:
    path = pathlib.Path(prompts_file).expanduser()
    try:
      raw = path.read_bytes()
    except OSError as e:
      raise UserError(f"--prompts_file={prompts_file!r} cannot be read: {e.strerror or e}") from e
    try:
      text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
      line = raw[:e.start].count(b"\n") + 1
      raise UserError(f"--prompts_file={prompts_file!r} is not UTF-8 text (line {line}, byte "
                      f"{e.start}); save it as UTF-8") from e
    lines = [" ".join(line.split()) for line in text.splitlines()]
    found = [line for line in lines if line and not line.startswith("#")]
    if not found:
      raise UserError(f"--prompts_file={prompts_file!r} holds no prompts (one per line)")
    result.extend(found)
  if not result:
    raise UserError("no prompts: give --prompt \"a sentence\" (repeatable) or --prompts_file")
  return result


def encode_prompts(prompts, encoder=None, note=print):
  """Sentence embeddings of the prompts; each prompt cut at the encoder's length gets a note."""
  encoder = encoder or text_encoder.load()
  sentences, truncated = encoder.encode(prompts, return_truncated=True)
  for i in np.flatnonzero(truncated):
    note(f"note: prompt {i + 1} ({prompts[i][:40]!r}...) is longer than the text encoder's "
         f"{encoder.max_length} tokens; only its first {encoder.max_length} are used")
  return sentences


def main(argv):
  del argv
  logging.set_verbosity(logging.WARNING)  # Orbax logs every restore at INFO.
  for flag in ("num", "batch_size"):
    if FLAGS[flag].value < 1:
      raise UserError(f"--{flag}={FLAGS[flag].value} must be >= 1")
  if not FLAGS.grid and not FLAGS.output:
    raise UserError("nothing to write: give --grid=FILE.png and/or --output=FILE.npz")
  for flag, extension in (("grid", ".png"), ("output", ".npz")):
    if FLAGS[flag].value:
      output_paths.check_file(f"--{flag}", FLAGS[flag].value, (extension,), FLAGS.overwrite)
  prompts = read_prompts(FLAGS.prompt, FLAGS.prompts_file)
  config = loop.load_config(FLAGS.workdir)
  text_generator = families.offered(config, "text_generator", FLAGS.workdir)
  step = loop.latest_checkpoint_step(FLAGS.workdir)  # Before the encoder is loaded.
  cli.note(f"encoding {len(prompts)} prompts, restoring {FLAGS.workdir} (step {step}) and "
           "compiling...")
  sentences = encode_prompts(prompts, note=cli.note)
  restored = loop.restore(FLAGS.workdir)
  progress = outputs.CountProgress("generated", "images", len(prompts) * FLAGS.num)
  images = text_generator.generate(restored, sentences, FLAGS.num, FLAGS.seed, FLAGS.batch_size,
                                   progress=progress.update)
  with output_paths.failed_writes_in_one_line():
    if FLAGS.output:
      with output_paths.written(FLAGS.output) as tmp:
        np.savez(tmp, images=images.reshape((-1,) + images.shape[2:]),
                 prompts=np.asarray(prompts, dtype=str),
                 prompt_index=np.repeat(np.arange(len(prompts)), FLAGS.num))
      print(f"wrote {images.shape[0] * images.shape[1]} images ({len(prompts)} prompts x "
            f"{FLAGS.num}) to {FLAGS.output}")
    if FLAGS.grid:
      text_generator.save_prompt_grid(FLAGS.grid, images, prompts)
      print(f"wrote the grid to {FLAGS.grid}")


if __name__ == "__main__":
  define_flags()
  raise SystemExit(cli.run(main))
