"""Latent-space tools for a trained latent model (DCGAN, cGAN, StyleGAN): PNG grids and GIFs.

  python -m gan_jax.explore --workdir=DIR interpolate [--rows=6 --steps=10 --space=auto|z|w]
                                                      [--animate --keyframes=6 --frames=24]
  python -m gan_jax.explore --workdir=DIR truncation [--psi=1,0.8,0.6,0.4,0.2,0 --cutoff=N]
  python -m gan_jax.explore --workdir=DIR mix [--rows=5 --cols=6 --cutoff=4]
  python -m gan_jax.explore --workdir=DIR arithmetic --attribute=stroke_width|slant|brightness
                                         [--source_class=7 --target_class=1] [--exemplars=3]

Files go to the folder --output (default DIR/explore/, created if needed); a file of the same name
there is refused unless --overwrite, and every output is checked before the run is restored.
`interpolate`: rows from one latent to another,
spherical in z and linear in w (StyleGAN's w space is where its paper interpolates); `--animate`
adds a GIF of a closed loop through `--keyframes` latents. `truncation` (StyleGAN): one row per psi,
the same latents in every column. `mix` (StyleGAN): the top row's latents give the fine styles
(layer inputs from `--cutoff` on), the left column's the coarse ones. `arithmetic`: concept vectors
high-attribute(source) - low-attribute(source) + low-attribute(target), each the mean of
`--exemplars` latents (the DCGAN paper averages three) chosen by a measured attribute among
`--num_samples` samples, and how often the result shows the intended (high) attribute compared with
the target's exemplars alone and with random latents. Classes come from the label of a conditional
model or, for an unconditional digit model, from the digit classifier (gan_jax.classifier).
"""
import os
import shutil

from absl import flags
from absl import logging
import jax
import numpy as np
from PIL import Image, ImageDraw

from gan_jax import cli
from gan_jax import latent_tools
from gan_jax import output_paths
from gan_jax import outputs
from gan_jax.errors import UserError

TOOLS = ("interpolate", "truncation", "mix", "arithmetic")
POSITIONAL_ARGUMENTS = True  # The tool's name: `gan_jax.explore --workdir=DIR mix`.

FLAGS = flags.FLAGS


def define_flags(flag_values=flags.FLAGS):
  """The command line's flags, defined when it runs (importing the tools defines none, so other
  absl programs can import them)."""
  flags.DEFINE_string("workdir", None, "A training run's workdir (its latest checkpoint is used).",
                      flag_values=flag_values)
  flags.DEFINE_string("output", None, "Folder for the PNG/GIF/JSON files (default DIR/explore; "
                      "created if needed).", flag_values=flag_values)
  output_paths.define_overwrite_flag(flag_values)
  flags.DEFINE_integer("seed", 0, "Seed of the latents.", flag_values=flag_values)
  flags.DEFINE_integer("rows", 6, "Rows (interpolate, mix).", flag_values=flag_values)
  flags.DEFINE_integer("cols", 6, "Columns (truncation, mix).", flag_values=flag_values)
  flags.DEFINE_integer("steps", 10, "Points per interpolation row, ends included.",
                       flag_values=flag_values)
  flags.DEFINE_enum("space", "auto", ["auto", "z", "w"],
                    "Interpolation space (auto: w if the model has one).", flag_values=flag_values)
  flags.DEFINE_bool("animate", False, "interpolate: also write a looping GIF.",
                    flag_values=flag_values)
  flags.DEFINE_integer("keyframes", 6, "interpolate --animate: latents the loop passes through.",
                       flag_values=flag_values)
  flags.DEFINE_integer("frames", 24, "interpolate --animate: frames between two keyframes.",
                       flag_values=flag_values)
  flags.DEFINE_list("psi", ["1", "0.8", "0.6", "0.4", "0.2", "0"], "truncation: psi per row.",
                    flag_values=flag_values)
  flags.DEFINE_integer("cutoff", None,
                       "truncation: truncate layer inputs [0, cutoff) only; mix: the first layer "
                       "input taken from the column (default: half of them).",
                       flag_values=flag_values)
  flags.DEFINE_integer("label", None, "Class of every sample of a conditional model (default: "
                       "cycle through the classes).", flag_values=flag_values)
  flags.DEFINE_enum("attribute", "stroke_width", list(latent_tools.ATTRIBUTES),
                    "arithmetic: the measured attribute.", flag_values=flag_values)
  flags.DEFINE_integer("source_class", None, "arithmetic: class of the high/low exemplars.",
                       flag_values=flag_values)
  flags.DEFINE_integer("target_class", None, "arithmetic: class the vector is added to.",
                       flag_values=flag_values)
  flags.DEFINE_integer("exemplars", 3, "arithmetic: latents averaged per concept.",
                       flag_values=flag_values)
  flags.DEFINE_integer("trials", 32, "arithmetic: concept vectors drawn.", flag_values=flag_values)
  flags.DEFINE_integer("num_samples", 2000, "arithmetic: samples the exemplars are chosen from.",
                       flag_values=flag_values)
  flags.DEFINE_integer("batch_size", 250, "Samples generated per device call.",
                       flag_values=flag_values)
  flags.mark_flags_as_required(["workdir"], flag_values=flag_values)


def files_written(tool, attribute=None, animate=False):
  """The names of the files `tool` writes into the output folder, in the order it returns them."""
  if tool == "interpolate":
    return ["interpolate.png"] + (["interpolate_loop.gif"] if animate else [])
  if tool == "arithmetic":
    return [f"arithmetic_{attribute}.png", f"arithmetic_{attribute}.json"]
  return [f"{tool}.png"]


def _batched(fn, *arrays, batch_size=250):
  """fn over rows of `arrays` in chunks, concatenated (None entries pass through)."""
  n = len(next(a for a in arrays if a is not None))
  parts = []
  for start in range(0, n, batch_size):
    chunk = [None if a is None else a[start:start + batch_size] for a in arrays]
    parts.append(np.asarray(fn(*chunk)))
  return np.concatenate(parts)


def _labels(model, n, label=None):
  if not model.num_classes:
    if label is not None:
      raise UserError(f"--label={label}: this {model.name} is unconditional")
    return None
  if label is not None and not 0 <= label < model.num_classes:
    raise UserError(f"--label={label} is out of range; allowed: 0..{model.num_classes - 1}")
  return (np.full((n,), label) if label is not None else np.arange(n) % model.num_classes
          ).astype(np.int32)


def _latents(model, n, seed):
  return np.asarray(jax.random.normal(jax.random.key(seed), (n, model.z_dim)), np.float32)


def _need_w(model, tool):
  if not model.has_w:
    raise UserError(f"{tool} needs a model with an intermediate latent space w (StyleGAN); this "
                    f"checkpoint holds a {model.name}, which has none")


def save_labeled_grid(path, images, ncols, row_labels=()):
  """A PNG grid of images in [-1, 1], with a text label left of each row."""
  images = outputs.to_uint8(images)
  grid = outputs.image_grid(images, ncols)
  if grid.shape[-1] == 1:
    grid = np.repeat(grid, 3, axis=-1)
  img = Image.fromarray(grid)
  scale = max(1, 512 // max(img.size))
  img = img.resize((img.size[0] * scale, img.size[1] * scale), Image.NEAREST)
  if row_labels:
    margin = 8 * max(len(s) for s in row_labels) + 8
    canvas = Image.new("RGB", (img.size[0] + margin, img.size[1]), "white")
    canvas.paste(img, (margin, 0))
    draw = ImageDraw.Draw(canvas)
    row_height = img.size[1] / len(row_labels)
    for i, text in enumerate(row_labels):
      draw.text((4, int((i + 0.5) * row_height) - 5), text, fill="black")
    img = canvas
  with output_paths.written(path) as tmp:
    img.save(tmp)


def save_gif(path, frames, fps=24):
  """An endlessly looping GIF of images in [-1, 1] (N, H, W, C), upscaled to ~256 pixels."""
  frames = outputs.to_uint8(frames)
  if frames.shape[-1] == 1:
    frames = frames[..., 0]
  scale = max(1, 256 // frames.shape[1])
  pil = [Image.fromarray(f).resize((f.shape[1] * scale, f.shape[0] * scale), Image.NEAREST)
         for f in frames]
  with output_paths.written(path) as tmp:
    pil[0].save(tmp, save_all=True, append_images=pil[1:], duration=int(1000 / fps), loop=0)


def interpolate(model, out_dir, rows, steps, space, seed, label=None, animate=False, keyframes=6,
                frames=24, batch_size=250):
  if space == "w":
    _need_w(model, "--space=w")
  use_w = model.has_w and space != "z"
  ends = _latents(model, 2 * rows, seed)
  labels = _labels(model, rows, label)
  row_labels = None if labels is None else np.repeat(labels, steps)
  if use_w:
    ws = model.map(ends, None if labels is None else np.tile(labels, 2))
    path = latent_tools.interpolation_rows(np.asarray(ws[:rows]), np.asarray(ws[rows:]), steps,
                                           spherical=False)
    images = _batched(model.synthesize, path, batch_size=batch_size)
  else:
    path = latent_tools.interpolation_rows(ends[:rows], ends[rows:], steps, spherical=True)
    images = _batched(model.generate, path, row_labels, batch_size=batch_size)
  written = [os.path.join(out_dir, f) for f in files_written("interpolate", animate=animate)]
  save_labeled_grid(written[0], images, steps)
  if animate:
    keys = _latents(model, keyframes, seed + 1)
    label_all = lambda n: None if labels is None else np.full((n,), labels[0], np.int32)
    if use_w:
      keys = np.asarray(model.map(keys, label_all(keyframes)))
      loop = latent_tools.loop_path(keys, frames, spherical=False)
      movie = _batched(model.synthesize, loop, batch_size=batch_size)
    else:
      loop = latent_tools.loop_path(keys, frames, spherical=True)
      movie = _batched(model.generate, loop, label_all(len(loop)), batch_size=batch_size)
    save_gif(written[1], movie)
  return written, f"{rows} rows of {steps} points in {'w (linear)' if use_w else 'z (slerp)'}"


def parse_psis(values):
  if not values:
    raise UserError("--psi is empty; allowed: numbers in [0, 1], one row each, e.g. "
                    "--psi=1,0.7,0.4,0")
  psis = []
  for v in values:
    try:
      psi = float(v)
    except ValueError:
      raise UserError(f"--psi={v} is not a number; allowed: numbers in [0, 1]") from None
    latent_tools.check_psi(psi, v)
    psis.append(psi)
  return psis


def _check_cutoff(model, cutoff, default):
  if cutoff is None:
    return default
  if not 0 < cutoff <= model.num_ws:
    raise UserError(f"--cutoff={cutoff} is out of range; allowed: 1..{model.num_ws} (this model's "
                    "layer inputs)")
  return cutoff


def truncation(model, out_dir, psis, cols, cutoff, seed, label=None, batch_size=250):
  _need_w(model, "truncation")
  cutoff = _check_cutoff(model, cutoff, None)
  z = _latents(model, cols, seed)
  ws = np.asarray(model.map(z, _labels(model, cols, label)))
  layer = np.arange(model.num_ws)[None, :, None]
  rows = []
  for psi in psis:
    truncated = model.w_avg + psi * (ws - model.w_avg)
    if cutoff is not None:
      truncated = np.where(layer < cutoff, truncated, ws)
    rows.append(truncated)
  images = _batched(model.synthesize, np.concatenate(rows).astype(np.float32),
                    batch_size=batch_size)
  path = os.path.join(out_dir, files_written("truncation")[0])
  save_labeled_grid(path, images, cols, [f"psi={p:g}" for p in psis])
  return [path], f"{len(psis)} rows (psi {', '.join(f'{p:g}' for p in psis)}) x {cols} latents"


def mix(model, out_dir, rows, cols, cutoff, seed, label=None, batch_size=250):
  _need_w(model, "mix")
  cutoff = _check_cutoff(model, cutoff, model.num_ws // 2)
  ws_rows = np.asarray(model.map(_latents(model, rows, seed), _labels(model, rows, label)))
  ws_cols = np.asarray(model.map(_latents(model, cols, seed + 1), _labels(model, cols, label)))
  layer = np.arange(model.num_ws)[None, None, :, None]
  mixed = np.where(layer < cutoff, ws_rows[:, None], ws_cols[None, :])   # (rows, cols, L, w)
  mixed = mixed.reshape((rows * cols,) + ws_rows.shape[1:])
  sources = _batched(model.synthesize, np.concatenate([ws_rows, ws_cols]), batch_size=batch_size)
  cells = _batched(model.synthesize, mixed.astype(np.float32), batch_size=batch_size)
  blank = np.full((1,) + cells.shape[1:], -1.0, np.float32)
  grid = [blank, sources[rows:]]
  for i in range(rows):
    grid += [sources[i:i + 1], cells[i * cols:(i + 1) * cols]]
  path = os.path.join(out_dir, files_written("mix")[0])
  save_labeled_grid(path, np.concatenate(grid), cols + 1)
  return [path], (f"{rows} x {cols}: layer inputs [0, {cutoff}) from the row's latent (left "
                  f"column), [{cutoff}, {model.num_ws}) from the column's (top row)")


def arithmetic(model, out_dir, attribute, source_class, target_class, exemplars, trials,
               num_samples, seed, classify=None, batch_size=250):
  """Concept vectors in w (StyleGAN) or z, and how often their images show the intended attribute.

  `classify(images) -> classes` picks class exemplars for an unconditional model."""
  if (source_class is None) != (target_class is None):
    raise UserError("--source_class and --target_class go together (or neither: exemplars by "
                    "the attribute alone)")
  use_classes = source_class is not None
  if model.num_classes and not use_classes:
    raise UserError(f"this {model.name} is conditional: give --source_class and --target_class")
  num_classes = model.num_classes or 10
  for flag, value in (("source_class", source_class), ("target_class", target_class)):
    if use_classes and not 0 <= value < num_classes:
      raise UserError(f"--{flag}={value} is out of range; allowed: 0..{num_classes - 1}")
  if use_classes and not model.num_classes and classify is None:
    raise UserError("class exemplars need a conditional model or the digit classifier; this "
                    f"{model.name} is unconditional and no classifier is available")
  rng = np.random.default_rng(seed)
  z = _latents(model, num_samples, seed)
  classes = None
  if model.num_classes:  # Half the latents with the source label, half with the target's.
    classes = np.where(np.arange(num_samples) % 2, target_class, source_class).astype(np.int32)
  labels_of = lambda cls, n: None if not model.num_classes else np.full((n,), cls, np.int32)
  if model.has_w:
    latents = _batched(model.map, z, classes, batch_size=batch_size)
    render = lambda lat, y: _batched(model.synthesize, lat, batch_size=batch_size)
  else:
    latents = z
    render = lambda lat, y: _batched(model.generate, lat, y, batch_size=batch_size)
  images = render(latents, classes)
  if use_classes and not model.num_classes:
    classes = np.asarray(classify(images))
  values = latent_tools.measure(attribute, images)
  try:
    results, means = latent_tools.concept_arithmetic(
        latents, values, classes, source_class, target_class, exemplars, trials, rng)
  except ValueError as e:
    raise UserError(f"{e} (--num_samples={num_samples})") from None
  target = labels_of(target_class, trials)
  result_images = render(results, target)
  base_images = render(means[:, 2], target)
  pool = np.arange(num_samples) if not use_classes else np.flatnonzero(classes == target_class)
  threshold = float(np.median(values[pool]))
  random_pick = rng.choice(pool, min(len(pool), 4 * trials), replace=False)
  high = lambda imgs: float(np.mean(latent_tools.measure(attribute, imgs) > threshold))
  report = {"attribute": attribute, "space": "w" if model.has_w else "z", "exemplars": exemplars,
            "trials": trials, "num_samples": num_samples, "source_class": source_class,
            "target_class": target_class, "threshold_target_median": threshold,
            "high_rate_result": high(result_images),
            "high_rate_target_exemplars": high(base_images),
            "high_rate_random": high(images[random_pick])}
  if classify is not None:
    report["target_class_rate_result"] = float(np.mean(
        np.asarray(classify(result_images)) == target_class))
    report["target_class_rate_target_exemplars"] = float(np.mean(
        np.asarray(classify(base_images)) == target_class))
  # Grid: per trial, the images of the three concept means and of the result.
  rows = min(trials, 8)
  source = labels_of(source_class, rows)
  columns = [render(means[:rows, 0], source), render(means[:rows, 1], source),
             base_images[:rows], result_images[:rows]]
  png, report_path = (os.path.join(out_dir, f) for f in files_written("arithmetic", attribute))
  save_labeled_grid(png, np.stack(columns, 1).reshape((-1,) + images.shape[1:]), 4)
  outputs.write_json(report_path, report)
  src = "" if source_class is None else f" {source_class}s"
  tgt = "" if target_class is None else f" {target_class}s"
  summary = (f"columns: high-{attribute}{src} - low-{attribute}{src} + low-{attribute}{tgt} = "
             f"result. {attribute} above the target's median: result "
             f"{report['high_rate_result']:.0%} of {trials} trials, the target exemplars alone "
             f"{report['high_rate_target_exemplars']:.0%}, random latents "
             f"{report['high_rate_random']:.0%}")
  if "target_class_rate_result" in report:
    summary += f"; result classified as {target_class}: {report['target_class_rate_result']:.0%}"
  return [png, report_path], summary


def load_latent_model(workdir, announce=None):
  """The LatentModel of a trained run, through its family's `TOOLS.latent_model(restored)`; a
  family without one is refused before the run is restored. `announce`: as loop.restore's."""
  from gan_jax import families  # pylint: disable=g-import-not-at-top
  from gan_jax import loop  # pylint: disable=g-import-not-at-top
  latent_model = families.offered(loop.load_config(workdir), "latent_model", workdir)
  return latent_model(loop.restore(workdir, announce=announce))


def main(argv):
  if len(argv) != 2 or argv[1] not in TOOLS:
    given = " ".join(argv[1:]) or "nothing"
    raise UserError(f"the tool is {given!r}; allowed: one of {', '.join(TOOLS)}")
  tool = argv[1]
  # Before JAX starts its backends: absl's INFO lines (JAX's 'Unable to initialize backend',
  # orbax's restore) would come before the tool's one line.
  logging.set_verbosity(logging.WARNING)
  psis = parse_psis(FLAGS.psi) if tool == "truncation" else None
  for name in ("rows", "cols", "steps", "keyframes", "frames", "exemplars", "trials",
               "num_samples", "batch_size"):
    if FLAGS[name].value < 1:
      raise UserError(f"--{name}={FLAGS[name].value} must be >= 1")
  if not FLAGS.output:  # The default folder is in the workdir: a mistyped one is named as such.
    from gan_jax import loop  # pylint: disable=g-import-not-at-top
    loop.load_config(FLAGS.workdir)
  out_dir = output_paths.check_folder(
      "--output" if FLAGS.output else "the default --output",
      FLAGS.output or os.path.join(FLAGS.workdir, "explore"), FLAGS.overwrite,
      files=files_written(tool, FLAGS.attribute, FLAGS.animate))
  model = load_latent_model(FLAGS.workdir, announce=cli.note)
  if tool in ("truncation", "mix"):
    _need_w(model, tool)
  created = not os.path.isdir(out_dir)
  os.makedirs(out_dir, exist_ok=True)
  try:
    with output_paths.failed_writes_in_one_line():
      written, summary = _run(tool, model, out_dir, psis)
  except BaseException:
    if created:  # Only this run's files are in it: nothing is left of a failed run.
      shutil.rmtree(out_dir, ignore_errors=True)
    raise
  print(summary)
  for path in written:
    print(f"wrote {path}")


def _run(tool, model, out_dir, psis):
  """`tool` with the command line's flags: (the files written, a summary line)."""
  common = dict(seed=FLAGS.seed, batch_size=FLAGS.batch_size)
  if tool == "interpolate":
    return interpolate(model, out_dir, FLAGS.rows, FLAGS.steps, FLAGS.space, label=FLAGS.label,
                       animate=FLAGS.animate, keyframes=FLAGS.keyframes, frames=FLAGS.frames,
                       **common)
  if tool == "truncation":
    return truncation(model, out_dir, psis, FLAGS.cols, FLAGS.cutoff, label=FLAGS.label, **common)
  if tool == "mix":
    return mix(model, out_dir, FLAGS.rows, FLAGS.cols, FLAGS.cutoff, label=FLAGS.label, **common)
  classify = None
  if FLAGS.source_class is not None and not model.num_classes:
    classify = _digit_classifier()
  return arithmetic(model, out_dir, FLAGS.attribute, FLAGS.source_class, FLAGS.target_class,
                    FLAGS.exemplars, FLAGS.trials, FLAGS.num_samples, classify=classify, **common)


def _digit_classifier():
  """classify(images in [-1, 1]) -> digit classes, from the shared classifier (None if absent)."""
  try:
    from gan_jax import classifier  # pylint: disable=g-import-not-at-top
  except ImportError:
    return None
  return classifier.classify


if __name__ == "__main__":
  define_flags()
  raise SystemExit(cli.run(main, positional=POSITIONAL_ARGUMENTS))
