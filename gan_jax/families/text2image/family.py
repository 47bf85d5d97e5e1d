"""The text-to-image family: a sentence -> G -> an image that shows what it says.

A frozen pretrained sentence encoder (gan_jax/text_encoder.py: all-MiniLM-L6-v2 in Flax) embeds
captions once per data set (data.py, captions.py: captions written from labels and attributes
measured on each image); G is DF-GAN-lite (models.py), D judges (image, sentence) pairs with the
hinge loss, mismatched captions of another class and optionally the matching-aware gradient penalty
(losses.py, step.py). The sample grid shows one row per fixed prompt (`sample_prompts`), the same
latents in every row. `python -m gan_jax.generate` draws images for a user's prompts
(`TOOLS.text_generator`; `Trainer.sampler` draws from latents and sentence embeddings).

Fields: 'image' (uint8 images), 'caption_embedding' (float32 (K, D): each image's K caption
embeddings) and 'label' (which captions describe which images: another label is "something else").
"""
import dataclasses
import functools
import logging

import jax
import jax.numpy as jnp
import numpy as np
from PIL import Image
from PIL import ImageDraw

from gan_jax import config_checks
from gan_jax import data as data_lib
from gan_jax import families
from gan_jax import key_streams
from gan_jax import output_paths
from gan_jax import outputs
from gan_jax import state as state_lib
from gan_jax import text_encoder
from gan_jax.errors import UserError
from gan_jax.families.text2image import data
from gan_jax.families.text2image import models
from gan_jax.families.text2image import step as step_lib

FIELDS = ("image", "caption_embedding", "label")

# Ranges of the family's own values (the loop checks them, with the shared table, before a run
# writes anything; `loss.*_weight` >= 0 and `model.latent_dim` >= 1 are shared rules).
CONFIG_CHECKS = (
    ("model.g_widths", config_checks.count(1)),
    ("model.d_widths", config_checks.count(1)),
    ("model.conditioning_augmentation", config_checks.count(0, "StackGAN's CA width, 0 = off")),
    ("model.d_sentence_features", config_checks.count(0, "0 = the raw sentence, DF-GAN")),
    ("loss.mismatch_weight", config_checks.unit(high_open=False)),
    ("loss.ma_gp_power", config_checks.above(0.0)),
    ("dataset.captions_per_image", config_checks.count(1)),
    ("dataset.caption_seed", config_checks.count(0)),
    ("num_grid_columns", config_checks.count(1)),
)


def load_data(config):
  captioned = data.load(config.dataset, seed=config.dataset.get("caption_seed", 0))
  arrays = {"image": captioned.images,
            "caption_embedding": captioned.embeddings[captioned.caption_ids],
            "label": captioned.label}
  shapes = {name: tuple(a.shape[1:]) for name, a in arrays.items()}
  info = data_lib.DatasetInfo(
      name=f"{config.dataset.name}-{captioned.vocabulary}-captions", kind="image",
      shape=shapes["image"], num_classes=len(captioned.class_names),
      num_examples=len(captioned.images), class_names=captioned.class_names, shapes=shapes)
  heldout = {"texts": np.asarray(captioned.texts, dtype=str),
             "text_embeddings": captioned.embeddings, "caption_ids": captioned.caption_ids,
             **{f"level_{k}": v for k, v in captioned.levels.items()}}
  return data_lib.Dataset(info, arrays, heldout=heldout)


@dataclasses.dataclass(frozen=True)
class Options:
  """The step's structure (equal options: one program for a sweep's members)."""
  image_shape: tuple
  latent_dim: int
  g_widths: tuple
  d_widths: tuple
  conditioning_augmentation: int
  d_sentence_features: int
  ma_gp: bool
  mode_seeking: bool
  ema: bool
  ema_start_step: int

  @classmethod
  def from_config(cls, config, image_shape=None):
    m, loss = config.model, config.loss
    config_checks.check(config, extra=CONFIG_CHECKS)  # Also for tools that build without the loop.
    if not m.g_widths or not m.d_widths:
      raise UserError(f"model.g_widths={tuple(m.g_widths)} and model.d_widths="
                      f"{tuple(m.d_widths)} each need at least one block")
    return cls(image_shape=tuple(image_shape or ()), latent_dim=int(m.latent_dim),
               g_widths=tuple(m.g_widths), d_widths=tuple(m.d_widths),
               conditioning_augmentation=int(m.conditioning_augmentation),
               d_sentence_features=int(m.d_sentence_features), ma_gp=loss.ma_gp_weight > 0,
               mode_seeking=_mode_seeking(config), ema=config.ema.decay > 0,
               ema_start_step=int(config.ema.get("start_step", 0)))


def _mode_seeking(config):
  return config.loss.get("mode_seeking_weight", 0.0) > 0


def options(config):
  return Options.from_config(config)


def hparams(config):
  loss = config.loss
  values = {"mismatch_weight": loss.mismatch_weight, "ma_gp_weight": loss.ma_gp_weight,
            "ma_gp_power": loss.ma_gp_power, "ca_kl_weight": loss.ca_kl_weight,
            "ema_decay": config.ema.decay}
  if _mode_seeking(config):  # Only with the term on: older checkpoints restore.
    values["mode_seeking_weight"] = loss.mode_seeking_weight
  return values


def optimizers(config):
  return {"g": state_lib.make_optimizer(config.g_optimizer, "g"),
          "d": state_lib.make_optimizer(config.d_optimizer, "d")}


def make_models(opts):
  height, width = opts.image_shape[:2]
  blocks = len(opts.g_widths)
  base = height // 2 ** (blocks - 1)
  if height != width or base < 1 or base * 2 ** (blocks - 1) != height:
    raise UserError(f"model.g_widths has {blocks} blocks: G makes square images of base * "
                    f"2^{blocks - 1} pixels, not {height}x{width}; use as many blocks as the "
                    f"image size allows (e.g. 3 for 28 px, 4 for 32 px)")
  if height % 2 ** (len(opts.d_widths) - 1):
    raise UserError(f"model.d_widths has {len(opts.d_widths) - 1} down-sampling blocks, too many "
                    f"for {height} px images")
  generator = models.Generator(opts.image_shape, opts.g_widths, opts.conditioning_augmentation)
  discriminator = models.Discriminator(opts.d_widths, opts.d_sentence_features)
  return generator, discriminator


def build(config, dataset, axis_name=None):
  info = dataset.info
  opts = Options.from_config(config, info.shapes["image"])
  generator, discriminator = make_models(opts)
  txs = optimizers(config)
  width = info.shapes["caption_embedding"][-1]

  def init(root_key):
    g_key, d_key, augment_key = jax.random.split(key_streams.init_key(root_key), 3)
    z = jnp.zeros((2, opts.latent_dim))
    sentence = jnp.zeros((2, width))
    g_vars = generator.init({"params": g_key, "augment": augment_key}, z, sentence, train=False)
    d_vars = discriminator.init(d_key, jnp.zeros((2,) + opts.image_shape), sentence)
    nets = {"g": state_lib.init_net(g_vars, txs["g"]), "d": state_lib.init_net(d_vars, txs["d"])}
    ema = {"g": {"params": jax.tree.map(jnp.copy, nets["g"].params)}} if opts.ema else {}
    return state_lib.new_state(nets, hparams(config), ema=ema)

  sampler = families.Sampler(sample=make_sample_fn(generator), z_dim=opts.latent_dim,
                             sentence_dim=width)
  prompts = [str(p) for p in config.sample_prompts]
  if not prompts or not all(p.strip() for p in prompts):
    raise UserError(f"sample_prompts={tuple(prompts)}: give one or more non-empty sentences (one "
                    "grid row each)")
  columns = int(config.get("num_grid_columns", 8))
  grid_state = {}

  def visualize(state, path, title):
    del title
    if "sentences" not in grid_state:  # Encoded once, on first use.
      grid_state["sentences"] = jnp.asarray(text_encoder.load().encode(prompts))
      grid_state["z"] = jax.random.normal(key_streams.grid_key(config.seed),
                                          (columns, opts.latent_dim))
    images = generate_rows(sampler, state, grid_state["sentences"], grid_state["z"])
    save_prompt_grid(path, outputs.to_uint8(images), prompts)

  return families.Trainer(
      init=init, step=step_lib.make_step(opts, generator, discriminator, axis_name),
      fields=FIELDS, batch_rows=config.batch_size, visualize=visualize,
      make_evaluator=lambda workdir: make_evaluator(config, dataset, generator, opts),
      check_batch_rows=functools.partial(step_lib.check_batch_rows, opts),
      best_metric="fid",
      networks={"g": generator, "d": discriminator},
      sampler=sampler)


def make_sample_fn(generator):
  """sample(state, z, sentences, psi=1.0) -> images in [-1, 1] from the EMA generator (if kept), in
  eval mode (conditioning augmentation returns its mean). DF-GAN has no w: psi is 1."""
  @jax.jit
  def apply(state, z, sentences):
    return generator.apply({"params": step_lib.sample_params(state)}, z, sentences,
                           train=False)[0]

  def sample(state, z, sentences, psi=1.0):
    if psi != 1.0:
      raise ValueError(f"psi={psi}: the text-to-image generator has no w to truncate")
    return apply(state, z, sentences)
  return sample


def generate_rows(sampler, state, sentences, z):
  """(P, n, H, W, C) images in [-1, 1]: row p shows sentence p with each of the n latents z."""
  p, n = len(sentences), len(z)
  images = sampler.sample(state, jnp.tile(z, (p, 1)), jnp.repeat(sentences, n, axis=0))
  return np.asarray(images).reshape((p, n) + images.shape[1:])


def generate(restored, sentences, num, seed=0, batch_size=500, progress=None):
  """uint8 (P, num, H, W, C): `num` images for each of P sentence embeddings, latents drawn from
  key(seed) (the same `num` latents in every row, so rows differ by their prompt only). At most
  `batch_size` images per generator call (whole rows when they fit, else parts of one), filled into
  one uint8 array, so the memory beyond the result stays flat in P and num; `progress(done)` hears
  the images drawn so far after each call."""
  sampler = restored.trainer.sampler
  z = jax.random.normal(jax.random.key(seed), (num, sampler.z_dim))
  sentences = jnp.asarray(sentences, jnp.float32)
  rows, columns = max(1, batch_size // num), min(num, batch_size)
  images, done = None, 0
  for p in range(0, len(sentences), rows):
    for n in range(0, num, columns):
      part = outputs.to_uint8(generate_rows(sampler, restored.state, sentences[p:p + rows],
                                            z[n:n + columns]))
      if images is None:
        images = np.empty((len(sentences), num) + part.shape[2:], np.uint8)
      images[p:p + part.shape[0], n:n + part.shape[1]] = part
      done += part.shape[0] * part.shape[1]
      if progress is not None:
        progress(done)
  return images


def save_prompt_grid(path, images, prompts, label_width=None):
  """One row of uint8 images (P, n, H, W, C) per prompt, the prompt written on its left."""
  p, n = images.shape[:2]
  grid = outputs.image_grid(images.reshape((p * n,) + images.shape[2:]), n)
  img = Image.fromarray(grid[..., 0] if grid.shape[-1] == 1 else grid).convert("RGB")
  scale = max(1, 512 // max(img.size))
  if scale > 1:
    img = img.resize((img.size[0] * scale, img.size[1] * scale), Image.NEAREST)
  row_height = img.size[1] / p
  chars = max(len(t) for t in prompts)
  label_width = label_width or min(6 * chars + 10, 420)
  canvas = Image.new("RGB", (img.size[0] + label_width, img.size[1]), "white")
  canvas.paste(img, (label_width, 0))
  draw = ImageDraw.Draw(canvas)
  for i, prompt in enumerate(prompts):
    fits = (label_width - 10) // 6
    text = prompt if len(prompt) <= fits else prompt[:fits - 3] + "..."
    draw.text((4, int((i + 0.5) * row_height) - 5), text, fill="black")
  with output_paths.written(path) as tmp:  # Readers never see a half-written grid.
    canvas.save(tmp)


def make_evaluator(config, dataset, generator, opts):
  """In-loop FID of images drawn for random training captions, against the training images."""
  from gan_jax.fid import evaluator as fid_evaluator  # pylint: disable=g-import-not-at-top
  evaluate_fid = fid_evaluator.make_evaluator(
      config.fid, lambda: data_lib.feed.to_uint8_batches(dataset, config.fid.batch_size,
                                                         field="image"),
      cache_key=data_lib.sources.reference_key(config.dataset, dataset.info))
  captions = jnp.asarray(dataset.arrays["caption_embedding"])

  def evaluate(state, step):
    def sample_fn(rng, n):
      rows_rng, pick_rng, z_rng = jax.random.split(rng, 3)
      rows = jax.random.randint(rows_rng, (n,), 0, len(captions))
      sentences = step_lib.pick_captions(captions[rows], pick_rng)
      z = jax.random.normal(z_rng, (n, opts.latent_dim))
      return generator.apply({"params": step_lib.sample_params(state)}, z, sentences,
                             train=False)[0]
    return evaluate_fid(sample_fn, key_streams.eval_key(config.seed, step))
  logging.info("text2image: in-loop FID of %d samples", config.fid.num_samples)
  return evaluate


TOOLS = families.Tools(text_generator=families.TextGenerator(
    generate=generate, save_prompt_grid=save_prompt_grid))
