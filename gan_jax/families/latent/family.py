"""The latent family: z (and a class label) -> G -> x, scored by D(x). MLP GAN, DCGAN, cGAN, WGAN,
WGAN-GP, SNGAN and the stability toolbox; images or 2D points (`dataset.name` ring8 / grid25).

Its data are one source's fields 'x' and 'label' (gan_jax.data.load; `dataset.heldout_examples`
keeps some aside as the FID reference); its networks are in models.py (ProGAN's in progan.py), its
state and step in step.py, mode-coverage metrics for 2D data in mode_metrics.py;
`python -m gan_jax.sample` draws from a trained run (`Trainer.sampler`) and `python -m
gan_jax.explore` explores its latent space (`latent_model`). `model.progressive` grows ProGAN's networks (gan_jax.progressive):
one program per stage (`Trainer.stage_starts`).
"""
import jax
import jax.numpy as jnp
import numpy as np

from gan_jax import config_checks
from gan_jax import data
from gan_jax import families
from gan_jax import key_streams
from gan_jax import latent_tools
from gan_jax import layers
from gan_jax import losses
from gan_jax import outputs
from gan_jax import progressive
from gan_jax.errors import UserError
from gan_jax.families.latent import models
from gan_jax.families.latent import step as step_lib

# Ranges of ProGAN's config values (configs/progan_cifar10.py) and the progressive schedule's; the
# shared table (gan_jax.config_checks.RULES) covers the rest of the family's.
CONFIG_CHECKS = (
    ("model.channel_base", config_checks.count(1)),
    ("model.channel_max", config_checks.count(1)),
    ("model.mbstd_group_size", config_checks.count(1)),
    ("dataset.heldout_examples", config_checks.count(0, "0 = FID against the training images")),
) + progressive.CONFIG_CHECKS


def load_data(config):
  return data.sources.hold_out(data.load(config.dataset),
                               config.dataset.get("heldout_examples", 0))


def hparams(config):
  return step_lib.hparams_from_config(config)


def optimizers(config):
  return step_lib.make_optimizers(config)


def options(config):
  return step_lib.Options.from_config(config)


def check_config(config):
  losses.check_target_options(config.get("loss", {}))
  step_lib.Options.from_config(config)


def fixed_latents(config, num_classes, n):
  """The fixed latent batch of the sample grids; conditional grids show one class per row."""
  z = jax.random.normal(key_streams.grid_key(config.seed), (n, config.model.latent_dim))
  labels = (jnp.arange(n) // max(1, int(np.ceil(np.sqrt(n)))) % num_classes if num_classes
            else jnp.zeros((n,), jnp.int32))
  return z, labels.astype(jnp.int32)


def save_samples(path, samples, info, title=""):
  """A PNG of generated samples: an image grid, or a scatter plot over the modes for 2D data."""
  if info.kind == "points":
    outputs.save_scatter(path, samples, info.modes, title)
  else:
    outputs.save_image_grid(path, samples)


def make_schedule(config, generator):
  """The progressive-growing schedule of ProGAN's networks, or None."""
  if not config.model.get("progressive", False):
    return None
  p = config.progressive
  return progressive.make_schedule(
      layers.num_stages(generator.resolution), config.batch_size * config.n_critic,
      p.fade_images, p.stable_images, config.num_train_steps)


def make_sampler(config, generator, schedule):
  """The run's families.Sampler: G's average (when kept) in eval mode, at the state's stage while
  ProGAN grows. Latent GANs have no w: psi is 1."""
  sample = step_lib.make_sample_fn(generator, schedule=schedule)
  sample = sample if schedule else jax.jit(sample)

  def draw(state, z, condition=None, psi=1.0):
    if psi != 1.0:
      raise ValueError(f"psi={psi}: the latent family's generators have no w to truncate")
    if condition is None:
      condition = jnp.zeros((len(z),), jnp.int32)
    return sample(state, jnp.asarray(z), jnp.asarray(condition))
  return families.Sampler(sample=draw, z_dim=config.model.latent_dim,
                          num_classes=generator.num_classes)


def build(config, dataset, axis_name=None):
  check_config(config)
  info = dataset.info
  generator, discriminator = models.make_models(config.model, info.shape, info.num_classes,
                                                axis_name=axis_name)
  example_x = jnp.zeros((2,) + tuple(info.shape), jnp.float32)
  schedule = make_schedule(config, generator)
  sampler = make_sampler(config, generator, schedule)
  grid_z, grid_labels = fixed_latents(config, generator.num_classes, config.num_grid_samples)

  def visualize(state, path, title):
    save_samples(path, jax.device_get(sampler.sample(state, grid_z, grid_labels)), info, title)

  def step_for_stage(stage):
    return step_lib.make_step(config, generator, discriminator, axis_name, stage, schedule)

  return families.Trainer(
      init=lambda rng: step_lib.init_state(
          config, generator, discriminator, rng, example_x,
          schedule.num_stages if schedule else None),
      step=step_for_stage(schedule.num_stages - 1 if schedule else None),
      fields=("x", "label"),
      batch_rows=config.batch_size * config.n_critic,
      visualize=visualize,
      make_evaluator=lambda workdir: make_evaluator(config, dataset, generator, sampler.sample),
      best_metric="fid" if info.kind == "image" else None,
      stage_starts=schedule.starts[1:] if schedule else (),
      step_for_stage=step_for_stage if schedule else None,
      networks={"g": generator, "d": discriminator},
      sampler=sampler)


def reference_images(config, dataset):
  """The FID reference: the held-out images when the data set keeps some aside (never trained on),
  else the training images; and the cache key naming them."""
  key = data.sources.reference_key(config.dataset, dataset.info)
  if dataset.heldout is not None:
    x, size = dataset.heldout["x"], config.fid.batch_size
    return (lambda: (x[i:i + size] for i in range(0, len(x), size))), f"{key}-heldout{len(x)}"
  return (lambda: data.feed.to_uint8_batches(dataset, config.fid.batch_size)), key


def make_evaluator(config, dataset, generator, sample):
  """In-loop FID/IS/KID for images; mode coverage metrics for 2D data."""
  if dataset.info.kind == "points":
    from gan_jax.families.latent import mode_metrics  # pylint: disable=g-import-not-at-top
    return mode_metrics.make_in_loop_evaluator(config, dataset.info, generator)
  from gan_jax.fid import evaluator as fid_evaluator  # pylint: disable=g-import-not-at-top
  batches, key = reference_images(config, dataset)
  evaluate_fid = fid_evaluator.make_evaluator(config.fid, batches, cache_key=key)
  num_classes = generator.num_classes

  def evaluate(state, step):
    def sample_fn(rng, n):
      z, labels = step_lib.latent_and_labels(config, num_classes, rng, n)
      return sample(state, z, labels)
    return evaluate_fid(sample_fn, key_streams.eval_key(config.seed, step))
  return evaluate


def latent_model(restored):
  """The explore tools' view of a trained latent GAN (DCGAN, cGAN, ...): z (and a label) -> images
  from G's average when there is one. Latent GANs have no intermediate w."""
  info = restored.dataset.info
  if info.kind != "image":
    raise UserError(f"--workdir holds a model of 2D points ({info.name}); the latent-space tools "
                    "draw images")
  sampler, state = restored.trainer.sampler, restored.state
  name = {"dcgan28": "DCGAN", "dcgan32": "DCGAN", "sngan32": "SNGAN", "mlp": "MLP GAN",
          "progan": "ProGAN"}.get(restored.config.model.name, restored.config.model.name)
  if sampler.num_classes:
    name = f"conditional {name}"
  return latent_tools.LatentModel(name=name, z_dim=sampler.z_dim, num_classes=sampler.num_classes,
                                  generate=lambda z, labels: sampler.sample(state, z, labels))


TOOLS = families.Tools(sample=True, latent_model=latent_model)
