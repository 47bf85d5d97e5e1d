"""The StyleGAN family: StyleGAN2-lite (Karras et al. 2020) with its own step (lazy regularisation,
the tracked w average, path length, style mixing), optionally grown progressively (Karras et al.
2018).

Its data are one image source's fields 'x' and 'label' (gan_jax.data.load), optionally padded
(`dataset.pad_to`: MNIST's 28x28 to 32x32) and with `dataset.heldout_examples` kept aside as the
FID reference. The image size must be a power of two. Networks: models.py; step: step.py;
`python -m gan_jax.sample` draws from a trained run (`Trainer.sampler`, truncated at --psi) and
`python -m gan_jax.explore` explores its z and w spaces (`latent_model`).
"""
import dataclasses

import jax
import jax.numpy as jnp
import numpy as np

from gan_jax import config_checks
from gan_jax import data
from gan_jax import families
from gan_jax import key_streams
from gan_jax import latent_tools
from gan_jax import layers
from gan_jax import outputs
from gan_jax import progressive
from gan_jax import resample
from gan_jax import state as state_lib
from gan_jax.errors import UserError
from gan_jax.families.stylegan import models
from gan_jax.families.stylegan import regularizers
from gan_jax.families.stylegan import step as step_lib

FIELDS = ("x", "label")

_count, _unit = config_checks.count, config_checks.unit
# Ranges of the family's config values (configs/stylegan_defaults.py), checked before a run starts;
# the shared table covers the optimizers, loss.r1_gamma, loss.pl_weight and the loop's counts.
CONFIG_CHECKS = (
    ("dataset.pad_to", _count(0, "0 = no padding")),
    ("dataset.heldout_examples", _count(0, "0 = FID against the training images")),
    ("model.z_dim", _count(1)),
    ("model.w_dim", _count(1)),
    ("model.mapping_layers", _count(1)),
    ("model.mapping_lr_multiplier", config_checks.above(0.0)),
    ("model.w_avg_beta", _unit(high_open=False, note="1 = the average never moves")),
    ("model.channel_base", _count(1)),
    ("model.channel_max", _count(1)),
    ("model.mbstd_group_size", _count(1)),
    ("model.mbstd_num_channels", _count(0, "0 = no minibatch standard deviation")),
    ("loss.r1_interval", _count(0, "0 = every step, in D's loss")),
    ("loss.pl_interval", _count(0, "0 = every step, in G's loss")),
    ("loss.pl_batch_shrink", _count(1)),
    ("loss.pl_decay", _unit(high_open=False)),
    ("loss.style_mixing_prob", _unit(high_open=False, note="0 = no style mixing")),
    ("ema.half_life_images", config_checks.at_least(0.0, "0 = no average")),
    ("ema.rampup", config_checks.at_least(0.0, "0 = no ramp-up")),
) + progressive.CONFIG_CHECKS


def load_data(config):
  dataset = data.load(config.dataset)
  if dataset.info.kind != "image":
    raise UserError(f"family=stylegan trains on images; dataset.name={config.dataset.name!r} "
                    "holds 2D points")
  pad_to = config.dataset.get("pad_to", 0)
  if pad_to:
    dataset = pad(dataset, pad_to)
  return data.sources.hold_out(dataset, config.dataset.get("heldout_examples", 0))


def pad(dataset, size):
  """Images centred on a `size` x `size` black (0) canvas: MNIST's 28x28 digits -> 32x32."""
  h, w, c = dataset.info.shape
  if dataset.arrays is None:
    raise UserError(f"dataset.pad_to needs a data set held in memory ({dataset.info.name} streams)")
  if size < max(h, w):
    raise UserError(f"dataset.pad_to={size} is smaller than the images ({h}x{w})")
  top, left = (size - h) // 2, (size - w) // 2
  x = np.zeros((len(dataset.arrays["x"]), size, size, c), np.uint8)
  x[:, top:top + h, left:left + w] = dataset.arrays["x"]
  return dataclasses.replace(dataset, arrays={**dataset.arrays, "x": x},
                             info=dataclasses.replace(dataset.info, shape=(size, size, c)))


def hparams(config):
  loss, ema = config.loss, config.ema
  return {"r1_gamma": loss.r1_gamma, "pl_weight": loss.pl_weight,
          "style_mixing_prob": loss.style_mixing_prob,
          "ema_half_life_images": ema.half_life_images, "ema_rampup": ema.rampup}


def options(config):
  return step_lib.Options.from_config(config)


def optimizers(config):
  """Adam for G and D, each with the lazy-regularisation correction when its regulariser runs
  lazily (regularizers.corrected_optimizer)."""
  opts = options(config)
  make = lambda which, interval: state_lib.make_optimizer(
      regularizers.corrected_optimizer(config[f"{which}_optimizer"], interval,
                                       f"{which}_optimizer"), which)
  return {"g": make("g", opts.pl_interval if opts.use_pl else 0),
          "d": make("d", opts.r1_interval if opts.use_r1 else 0)}


def make_models(config, info):
  """(generator, discriminator) for images of `info.shape`."""
  h, w, c = info.shape
  if h != w or h < 4 or h & (h - 1):
    raise UserError(f"the images are {h}x{w} ({info.name}); StyleGAN needs square images whose "
                    "side is a power of two >= 4 (4, 8, 16, 32, 64, 128, 256, ...): set "
                    "dataset.image_size or dataset.pad_to")
  m = config.model
  classes = info.num_classes if m.conditional else 0
  if m.conditional and not info.num_classes:
    raise UserError("model.conditional=True needs a labelled dataset; this dataset has no classes")
  if m.d_architecture not in models.D_ARCHITECTURES:
    raise UserError(f"model.d_architecture={m.d_architecture!r} is unknown; allowed: "
                    f"{', '.join(models.D_ARCHITECTURES)}")
  size = dict(channel_base=m.channel_base, channel_max=m.channel_max)
  check_minibatch_std(m)
  generator = models.Generator(
      resolution=h, channels=c, z_dim=m.z_dim, w_dim=m.w_dim, num_classes=classes,
      mapping_layers=m.mapping_layers, mapping_lr_multiplier=m.mapping_lr_multiplier,
      w_avg_beta=m.w_avg_beta, use_noise=m.noise, **size)
  discriminator = models.Discriminator(
      resolution=h, architecture=m.d_architecture, mbstd_group_size=m.mbstd_group_size,
      mbstd_num_channels=m.mbstd_num_channels, num_classes=classes,
      mapping_layers=m.mapping_layers, **size)
  return generator, discriminator


def check_minibatch_std(model_config):
  """D's minibatch standard deviation splits its 4x4 features into `mbstd_num_channels` groups
  (layers.minibatch_stddev_maps): the count must divide that width. The group size needs no check:
  the layer uses the largest divisor of the batch up to it."""
  n = model_config.mbstd_num_channels
  width = layers.channels_at(4, model_config.channel_base, model_config.channel_max)
  if n and width % n:
    divisors = ", ".join(str(d) for d in range(1, width + 1) if width % d == 0)
    raise UserError(f"model.mbstd_num_channels={n} must divide D's 4x4 width {width} (min("
                    f"model.channel_base={model_config.channel_base} / 4, model.channel_max="
                    f"{model_config.channel_max})); allowed: 0 (off) or {divisors}")


def make_schedule(config, resolution):
  """The progressive-growing schedule, or None when `model.progressive` is off."""
  if not config.model.get("progressive", False):
    return None
  p = config.progressive
  return progressive.make_schedule(layers.num_stages(resolution), config.batch_size,
                                   p.fade_images, p.stable_images, config.num_train_steps)


def make_sampler(generator, schedule):
  """The run's families.Sampler: G's average with the fixed noise images, truncated at psi; during
  progressive growing, at the state's stage (nearest-upsampled to full resolution)."""
  synthesize = jax.jit(
      lambda variables, z, labels, psi, stage, alpha: generator.apply(
          variables, z, labels, train=False, psi=psi, stage=stage, alpha=alpha),
      static_argnums=(4,))

  def sample(state, z, condition=None, psi=1.0):
    variables = state.ema["g"]
    if schedule is None:
      return synthesize(variables, z, condition, psi, None, 1.0)
    step = int(jax.device_get(state.step))
    stage = schedule.stage_at(step)
    images = synthesize(variables, z, condition, psi, stage, schedule.alpha(stage, step))
    return resample.upsample_nearest(images, generator.resolution // images.shape[1])
  return families.Sampler(sample=sample, z_dim=generator.z_dim, num_classes=generator.num_classes)


def fixed_latents(config, generator, n):
  z = jax.random.normal(key_streams.grid_key(config.seed), (n, generator.z_dim))
  rows = max(1, int(np.ceil(np.sqrt(n))))
  labels = (jnp.arange(n) // rows % generator.num_classes).astype(jnp.int32) if (
      generator.num_classes) else None
  return z, labels


def build(config, dataset, axis_name=None):
  info = dataset.info
  generator, discriminator = make_models(config, info)
  schedule = make_schedule(config, generator.resolution)
  opts = options(config)
  txs = optimizers(config)
  numbers = hparams(config)

  def init(rng):
    return step_lib.init_state(generator, discriminator, txs, numbers,
                               key_streams.init_key(rng), info.shape,
                               schedule.num_stages if schedule else None)

  def step_for_stage(stage):
    return step_lib.make_step(opts, generator, discriminator, axis_name, stage, schedule)

  sampler = make_sampler(generator, schedule)
  grid_z, grid_labels = fixed_latents(config, generator, config.num_grid_samples)

  def visualize(state, path, title):
    del title
    outputs.save_image_grid(path, np.asarray(sampler.sample(state, grid_z, grid_labels)))

  return families.Trainer(
      init=init,
      step=step_for_stage(schedule.num_stages - 1 if schedule else None),
      fields=FIELDS,
      batch_rows=config.batch_size,
      visualize=visualize,
      make_evaluator=lambda workdir: make_evaluator(config, dataset, generator, sampler.sample),
      best_metric="fid",
      stage_starts=schedule.starts[1:] if schedule else (),
      step_for_stage=step_for_stage if schedule else None,
      networks={"g": generator, "d": discriminator},
      sampler=sampler)


def real_batches(dataset, batch_size):
  """The FID reference: the held-out images when the data set keeps some aside, else the training
  images; and the cache key that names them."""
  if dataset.heldout is not None:
    x = dataset.heldout["x"]
    return lambda: (x[i:i + batch_size] for i in range(0, len(x), batch_size)), f"heldout{len(x)}"
  return lambda: data.feed.to_uint8_batches(dataset, batch_size), "train"


def make_evaluator(config, dataset, generator, sample, psi=1.0):
  """In-loop FID/IS/KID of G's average (at `psi`) against the reference images."""
  from gan_jax.fid import evaluator as fid_evaluator  # pylint: disable=g-import-not-at-top
  batches, which = real_batches(dataset, config.fid.batch_size)
  pad_to = config.dataset.get("pad_to", 0)
  key = (data.sources.reference_key(config.dataset, dataset.info)
         + (f"-pad{pad_to}" if pad_to else "") + f"-{which}")
  evaluate_fid = fid_evaluator.make_evaluator(config.fid, batches, cache_key=key)

  def evaluate(state, step):
    def sample_fn(rng, n):
      z_rng, label_rng = jax.random.split(rng)
      z = jax.random.normal(z_rng, (n, generator.z_dim))
      labels = (jax.random.randint(label_rng, (n,), 0, generator.num_classes)
                if generator.num_classes else None)
      return sample(state, z, labels, psi)
    return evaluate_fid(sample_fn, key_streams.eval_key(config.seed, step))
  return evaluate


def latent_model(restored):
  """The explore tools' view of a trained StyleGAN: z -> w -> images, from G's average, at full
  resolution (or the stage the run reached), with the fixed noise images."""
  generator = restored.trainer.networks["g"]
  schedule = make_schedule(restored.config, generator.resolution)
  variables = restored.state.ema["g"]
  stage, alpha = None, 1.0
  if schedule is not None:
    step = int(jax.device_get(restored.state.step))
    stage = schedule.stage_at(step)
    alpha = schedule.alpha(stage, step)
  factor = lambda images: generator.resolution // images.shape[1]
  to_full = lambda images: resample.upsample_nearest(images, factor(images))
  generate = jax.jit(lambda z, labels: to_full(generator.apply(
      variables, z, labels, train=False, stage=stage, alpha=alpha)))
  map_fn = jax.jit(lambda z, labels: generator.apply(variables, z, labels, method="map"))
  synthesize = jax.jit(lambda ws: to_full(generator.apply(
      variables, ws, stage=stage, alpha=alpha, noise_mode="const", method="synthesize")))
  return latent_tools.LatentModel(
      name="StyleGAN", z_dim=generator.z_dim, num_classes=generator.num_classes,
      generate=generate, map=map_fn, synthesize=synthesize, num_ws=models.num_ws(
          generator.resolution),
      w_avg=np.asarray(variables["w_avg"]["mapping"]["w_avg"]))


TOOLS = families.Tools(sample=True, truncation=True, latent_model=latent_model)
