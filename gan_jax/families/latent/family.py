"""The latent family: z (and a class label) -> G -> x, scored by D(x). MLP GAN, DCGAN, cGAN, WGAN,
WGAN-GP, SNGAN and the stability toolbox; images or 2D points (`dataset.name` ring8 / grid25).

Its data are one source's fields 'x' and 'label' (gan_jax.data.load); its networks are in
models.py, its state and step in step.py, mode-coverage metrics for 2D data in mode_metrics.py,
and `python -m gan_jax.sample` draws from a trained run.
"""
import jax
import jax.numpy as jnp
import numpy as np

from gan_jax import data
from gan_jax import families
from gan_jax import key_streams
from gan_jax import losses
from gan_jax import outputs
from gan_jax import state as state_lib
from gan_jax.families.latent import models
from gan_jax.families.latent import step as step_lib


def load_data(config):
  return data.load(config.dataset)


def hparams(config):
  return step_lib.default_hparams(config)


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


def build(config, dataset, axis_name=None):
  check_config(config)
  info = dataset.info
  generator, discriminator = models.get_models(config.model, info.shape, info.num_classes,
                                               axis_name=axis_name)
  example_x = jnp.zeros((2,) + tuple(info.shape), jnp.float32)
  sample = jax.jit(step_lib.make_sample_fn(generator))
  grid_z, grid_labels = fixed_latents(config, generator.num_classes, config.num_grid_samples)

  def visualize(state, path, title):
    save_samples(path, jax.device_get(sample(state, grid_z, grid_labels)), info, title)

  return families.Trainer(
      init=lambda rng: step_lib.create_train_state(config, generator, discriminator, rng,
                                                   example_x),
      step=step_lib.make_train_step(config, generator, discriminator, axis_name),
      fields=("x", "label"),
      batch_rows=config.batch_size * config.n_critic,
      visualize=visualize,
      make_evaluator=lambda workdir: make_evaluator(config, dataset, generator),
      best_metric="fid" if info.kind == "image" else None,
      info={"generator": generator, "discriminator": discriminator})


def make_evaluator(config, dataset, generator):
  """In-loop FID/IS/KID for images; mode coverage metrics for 2D data."""
  if dataset.info.kind == "points":
    from gan_jax.families.latent import mode_metrics  # pylint: disable=g-import-not-at-top
    return mode_metrics.make_in_loop_evaluator(config, dataset.info, generator)
  from gan_jax.fid import evaluator as fid_evaluator  # pylint: disable=g-import-not-at-top
  evaluate_fid = fid_evaluator.make_evaluator(
      config.fid, lambda: data.feed.to_uint8_batches(dataset, config.fid.batch_size),
      cache_key=data.sources.reference_key(config.dataset, dataset.info))
  sample = step_lib.make_sample_fn(generator)
  num_classes = generator.num_classes

  def evaluate(state, step):
    def sample_fn(rng, n):
      z, labels = step_lib.latent_and_labels(config, num_classes, rng, n)
      return sample(state, z, labels)
    return evaluate_fid(sample_fn, key_streams.eval_key(config.seed, step))
  return evaluate

