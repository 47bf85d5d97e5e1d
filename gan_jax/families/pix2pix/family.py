"""The Pix2Pix family (Isola et al. 2017): paired image-to-image translation, source -> G -> target,
scored by a PatchGAN on (source, image) pairs.

Its data are the fields 'source' and 'target' (data.py: colourisation, edges -> digits, x4 super-
resolution, inpainting, or the user's A|B images or two folders); its networks are in models.py
(U-Net, PatchGAN), its step in step.py. In the loop it draws a grid of fixed held-out pairs (rows of
sources, outputs and targets) and measures the held-out pairs: L1, PSNR, SSIM, colourfulness
(colourisation), the digit classifier's accuracy (edges2digits) and, with `eval.fid`, the FID of the
outputs against the targets. `python -m gan_jax.translate` translates a user's own images
(`TOOLS.translator`).
"""
import functools

import jax
import jax.numpy as jnp
import numpy as np

from gan_jax import config_checks
from gan_jax import data as data_lib
from gan_jax import families
from gan_jax import image_metrics
from gan_jax import key_streams
from gan_jax import outputs
from gan_jax import state as state_lib
from gan_jax.errors import UserError
from gan_jax.families.pix2pix import data
from gan_jax.families.pix2pix import models
from gan_jax.families.pix2pix import step as step_lib

FIELDS = ("source", "target")
BEST_METRICS = ("l1", "fid", "neg_psnr")

# Value ranges of the family's own fields (the shared table covers the optimizers, the loss weights,
# dropout_rate and the loop's counts); what depends on the image size is checked in check_config.
CONFIG_CHECKS = (
    ("model.g_width", config_checks.count(1)),
    ("model.d_width", config_checks.count(1)),
    ("model.d_layers", config_checks.count(1)),
    ("model.dropout_blocks", config_checks.count(0, "0 = no dropout")),
    ("lr_schedule.constant_steps", config_checks.count(-1, "-1 = half of num_train_steps")),
    ("lr_schedule.decay_steps", config_checks.count(-1, "-1 = half of num_train_steps")),
    ("dataset.num_heldout", config_checks.count(0)),
    ("dataset.max_images", config_checks.count(0, "0 = all")),
    ("dataset.canny_sigma", config_checks.above(0.0)),
    ("dataset.scale", config_checks.count(1)),
    ("dataset.hole", config_checks.Range(low=0.0, high=1.0, low_open=True, high_open=True)),
    ("eval.num_images", config_checks.count(0, "0 = all")),
)


def load_data(config):
  pairs = data.load(config.dataset)
  arrays = pairs.arrays
  shapes = {name: tuple(a.shape[1:]) for name, a in arrays.items()}
  info = data_lib.DatasetInfo(name=pairs.name, kind="image", shape=shapes["target"], num_classes=0,
                              num_examples=len(arrays["source"]), shapes=shapes)
  return data_lib.Dataset(info, arrays, heldout=pairs.heldout)


def lr_schedule(config):
  """(constant steps, decay steps): -1 means half of num_train_steps (the paper's 100 + 100
  epochs on facades)."""
  total = int(config.num_train_steps)
  decay = int(config.lr_schedule.decay_steps)
  decay = total - total // 2 if decay < 0 else decay
  constant = int(config.lr_schedule.constant_steps)
  return (total - decay if constant < 0 else constant), decay


def hparams(config):
  constant, decay = lr_schedule(config)
  values = {"l1_weight": config.loss.l1_weight, "gan_weight": config.loss.gan_weight,
            "lr_constant_steps": constant, "lr_decay_steps": decay}
  if step_lib.ema_start_step(config) is not None:  # Only with an average: older runs still restore.
    values["ema_decay"] = config.ema.decay
  return values


def optimizers(config):
  return {"g": state_lib.make_optimizer(config.g_optimizer, "g"),
          "d": state_lib.make_optimizer(config.d_optimizer, "d")}


def options(config):
  """The step's structure: the loss, whether there is a GAN term, the networks and the EMA."""
  return step_lib.Options.from_config(config)


def g_variables(state):
  """G's variables at test time: its average (weights and batch-norm statistics) if the run keeps
  one, else its trained ones."""
  return state.ema["g"] if "g" in state.ema else state.nets["g"].variables()


def make_models(config, shapes, axis_name=None):
  m = config.model
  generator = models.UNetGenerator(
      out_channels=shapes["target"][-1], width=m.g_width, norm=models.check_norm(m.norm),
      dropout_blocks=m.dropout_blocks, dropout_rate=m.dropout_rate, axis_name=axis_name)
  discriminator = models.PatchDiscriminator(width=m.d_width, n_layers=m.d_layers, norm=m.norm,
                                            axis_name=axis_name)
  return generator, discriminator


def check_config(config, shapes):
  """Bad settings as one line before anything compiles."""
  models.check_norm(config.model.norm)
  config_checks.check_decay_steps("lr_schedule.decay_steps", lr_schedule(config)[1],
                                  int(config.num_train_steps))
  if config.loss.l1_weight < 0 or config.loss.gan_weight < 0:
    raise UserError(f"loss.l1_weight={config.loss.l1_weight} and loss.gan_weight="
                    f"{config.loss.gan_weight} must be >= 0")
  if config.loss.l1_weight == 0 and config.loss.gan_weight == 0:
    raise UserError("loss.l1_weight and loss.gan_weight are both 0: nothing to train")
  depth = models.unet_depth(*shapes["source"][:2])
  if not 0 <= config.model.dropout_blocks <= depth - 2:
    raise UserError(f"model.dropout_blocks={config.model.dropout_blocks}: a {shapes['source'][0]} "
                    f"px U-Net has {depth - 2} decoder levels between its bottleneck and output")
  models.patch_layers(config.model.d_layers)  # At least one layer.
  if models.patch_grid(shapes["source"][0], config.model.d_layers) < 1:
    raise UserError(f"model.d_layers={config.model.d_layers} is too deep for "
                    f"{shapes['source'][0]} px images (no patch left); use fewer layers")
  if config.get("best_metric", "l1") not in BEST_METRICS:
    raise UserError(f"best_metric={config.best_metric!r} is unknown; allowed: "
                    f"{', '.join(BEST_METRICS)}")
  if config.best_metric == "fid" and not config.eval.fid:
    raise UserError("best_metric='fid' needs eval.fid=True")


def build(config, dataset, axis_name=None):
  shapes = dataset.info.shapes
  check_config(config, shapes)
  generator, discriminator = make_models(config, shapes, axis_name)
  conditional = config.model.d_conditional
  txs = optimizers(config)
  example = {name: jnp.zeros((2,) + tuple(shape), jnp.float32) for name, shape in shapes.items()}

  def init(root_key):
    g_key, d_key = jax.random.split(key_streams.init_key(root_key))
    g_vars = generator.init(g_key, example["source"], train=False)
    d_vars = discriminator.init(d_key, example["target"],
                                example["source"] if conditional else None, train=False)
    nets = {"g": state_lib.init_net(g_vars, txs["g"]), "d": state_lib.init_net(d_vars, txs["d"])}
    averaged = step_lib.ema_start_step(config) is not None
    ema = {"g": jax.tree.map(jnp.copy, g_vars)} if averaged else {}
    return state_lib.new_state(nets=nets, hparams=hparams(config), ema=ema)

  step = step_lib.make_step(options(config), generator, discriminator, axis_name)
  task = config.dataset.name
  apply = make_apply(generator, config.model.test_dropout)
  grid_pairs = _grid_pairs(config, dataset.heldout)

  def visualize(state, path, title):
    del title
    out = np.asarray(apply(g_variables(state), data.fed(grid_pairs["source"]),
                           key_streams.grid_key(config.seed)))
    save_grid(path, task, grid_pairs["source"], out, grid_pairs["image"])

  return families.Trainer(
      init=init, step=step, fields=FIELDS, batch_rows=config.batch_size, visualize=visualize,
      make_evaluator=lambda workdir: make_evaluator(config, dataset, apply),
      best_metric=config.get("best_metric", "l1"),
      networks={"g": generator, "d": discriminator})


@functools.cache  # One compiled function per generator: the translate tool asks once per batch.
def make_apply(generator, test_dropout):
  """apply(variables, sources in [-1, 1], rng) -> G's outputs at test time (running batch-norm
  statistics; dropout only with `test_dropout`, the paper's test-time noise)."""
  @jax.jit
  def apply(variables, source, rng):
    return generator.apply(variables, source, train=False, dropout=test_dropout,
                           rngs={"dropout": rng})
  return apply


def generate(apply, variables, sources_uint8, rng, batch_size=250):
  """G's outputs for uint8 sources, batch by batch (each batch's dropout key folded from `rng`)."""
  out = [np.asarray(apply(variables, data.fed(sources_uint8[i:i + batch_size]),
                          jax.random.fold_in(rng, i)))
         for i in range(0, len(sources_uint8), batch_size)]
  return np.concatenate(out)


def _grid_pairs(config, heldout):
  """The sample grid's held-out pairs: a fixed, seeded choice."""
  n = min(len(heldout["source"]), max(1, config.num_grid_samples // 3))
  pick = np.sort(np.random.default_rng(config.seed + 1).choice(len(heldout["source"]), n, False))
  return {name: array[pick] for name, array in heldout.items() if name != "train_label"}


def _rgb_like(images, channels):
  images = np.asarray(images, np.uint8)
  return np.repeat(images, 3, axis=-1) if images.shape[-1] == 1 and channels == 3 else images


def save_grid(path, task, sources, outputs_, targets, ncols=8):
  """Rows of `ncols` sources, their outputs and their targets (images), block after block."""
  out_images = data.to_images(task, sources, outputs_)
  channels = max(out_images.shape[-1], np.asarray(targets).shape[-1], sources.shape[-1])
  if channels == 2 or sources.shape[-1] not in (1, 3):
    channels = 3
  rows = [_rgb_like(data.source_images(task, sources), channels),
          _rgb_like(out_images, channels), _rgb_like(targets, channels)]
  n = len(sources)
  blocks = []
  for start in range(0, n, ncols):
    block = [r[start:start + ncols] for r in rows]
    pad = ncols - len(block[0])
    if pad:
      block = [np.concatenate([b, np.zeros((pad,) + b.shape[1:], np.uint8)]) for b in block]
    blocks.extend(block)
  save_enlarged(path, np.concatenate(blocks), ncols)


def save_enlarged(path, images, ncols):
  """An image grid enlarged (nearest neighbour) to about 1,024 px wide: small images stay legible."""
  width = ncols * (images.shape[2] + 1) + 1
  outputs.save_image_grid(path, images, ncols=ncols, scale=max(1, 1024 // width))


def make_evaluator(config, dataset, apply):
  """evaluate(state, step) -> metrics of G's outputs on the held-out pairs (as images): l1, psnr,
  ssim, neg_psnr; colourfulness (and the grey input's psnr) for colorize; digit_accuracy for
  edges2digits; fid with eval.fid."""
  heldout = dataset.heldout
  n = min(len(heldout["source"]), int(config.eval.num_images) or len(heldout["source"]))
  sources, images = heldout["source"][:n], heldout["image"][:n]
  task = config.dataset.name
  constant = {}
  if task == "colorize":
    grey = data.to_images(task, sources, np.zeros(heldout["target"][:n].shape, np.float32))
    constant["grey_psnr"] = image_metrics.psnr(grey, images)
    constant["real_colourfulness"] = image_metrics.colourfulness(images)
  classifier = None
  if task == "edges2digits":
    from gan_jax import classifier as classifier_lib  # pylint: disable=g-import-not-at-top
    # Trained on the training pairs' digits, as they are framed here (32x32): it never saw the
    # held-out digits, and it sees generated and real ones at the scale it learned.
    train_digits = data.to_images(task, dataset.arrays["source"], dataset.arrays["target"])
    classifier = classifier_lib.load_or_train(
        train_digits, heldout["train_label"], f"the training digits of {dataset.info.name}")
    labels = heldout["label"][:n]
    constant["real_digit_accuracy"] = classifier_lib.accuracy(classifier.probs(images), labels)
  fid_stats = {}

  def evaluate(state, step):
    out = generate(apply, g_variables(state), sources,
                   key_streams.eval_key(config.seed, step))
    out_images = data.to_images(task, sources, out)
    metrics = dict(constant, **image_metrics.paired_metrics(out_images, images))
    metrics["neg_psnr"] = -metrics["psnr"]
    if task == "colorize":
      metrics["colourfulness"] = image_metrics.colourfulness(out_images)
    if classifier is not None:
      from gan_jax import classifier as classifier_lib  # pylint: disable=g-import-not-at-top
      metrics["digit_accuracy"] = classifier_lib.accuracy(classifier.probs(out_images), labels)
    if config.eval.fid:
      from gan_jax.fid import evaluator as fid_evaluator  # pylint: disable=g-import-not-at-top
      kwargs = dict(batch_size=config.fid.batch_size, resize=config.fid.resize,
                    precision=config.fid.precision, weights_path=config.fid.weights_path)
      if "targets" not in fid_stats:
        fid_stats["targets"] = fid_evaluator.compute_stats(_rgb_like(images, 3), **kwargs)[:2]
      metrics["fid"] = float(fid_evaluator.compute_fid(_rgb_like(out_images, 3),
                                                       fid_stats["targets"], **kwargs))
    return metrics
  return evaluate


# --------------------------------------------------------------------- gan_jax.translate --

def check_translation(config, direction):
  del config
  if direction != "a2b":
    raise UserError(f"--direction={direction}: a Pix2Pix run translates one way, source -> target "
                    "(a2b); train with dataset.direction=b2a for the other way")


def prepare_sources(restored, images):
  """A user's images (uint8 HWC, any sizes) -> the source field the generator was trained on."""
  config = restored.config
  shape = restored.dataset.info.shapes["source"]
  return data.prepare_sources(config.dataset.name, images, shape, config.dataset)


def translate(restored, images, direction, rng):
  """uint8 HWC images -> G's translations as images (uint8 NHWC)."""
  check_translation(restored.config, direction)
  sources = prepare_sources(restored, images)
  apply = make_apply(restored.trainer.networks["g"], restored.config.model.test_dropout)
  out = generate(apply, g_variables(restored.state), sources, rng)
  return data.to_images(restored.config.dataset.name, sources, out)


def translation_columns(restored, images, translations, direction, rng):
  """The before/after grid's columns: what G sees (e.g. the lightness, the edge map) | its output."""
  del rng
  check_translation(restored.config, direction)
  task = restored.config.dataset.name
  sources = data.source_images(task, prepare_sources(restored, images))
  channels = max(sources.shape[-1], translations.shape[-1])
  return [_rgb_like(sources, channels), _rgb_like(translations, channels)]


TOOLS = families.Tools(translator=families.Translator(
    check=check_translation, translate=translate, columns=translation_columns))
