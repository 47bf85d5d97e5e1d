"""StyleGAN2's regularisation schedule: lazy regularisation with its optimizer correction, the path
length regulariser, and the generator average's half-life in images.

Lazy regularisation (Karras et al. 2020, sec. 3.1 and appendix B): a regulariser is applied as its
own optimizer step every `interval` minibatches, its loss multiplied by `interval`. A network then
takes interval + 1 optimizer steps per `interval` minibatches, so its Adam is built with

    learning rate * c,  beta1 ** c,  beta2 ** c,    c = interval / (interval + 1)

to keep the step size and the moments' time constants per minibatch what they were
(stylegan2-ada-pytorch, training_loop.py, `mb_ratio`). flaxmodels' JAX training code omits this.
"""
import math

import jax
import jax.numpy as jnp

from gan_jax.errors import UserError


def lazy_ratio(interval):
  """c = interval / (interval + 1) for a lazily regularised network; 1 when not lazy
  (interval 0)."""
  return interval / (interval + 1) if interval > 0 else 1.0


def corrected_optimizer(opt_config, interval, key="optimizer"):
  """A copy of an optimizer config (an ml_collections ConfigDict with learning_rate, b1, b2) with
  the lazy-regularisation correction applied; unchanged when `interval` is 0. `key`: the config
  entry's name, for the error when the optimizer is not Adam."""
  c = lazy_ratio(interval)
  config = opt_config.copy_and_resolve_references()
  if c == 1.0:
    return config
  if config.name != "adam":
    raise UserError(f"{key}.name={config.name!r} with a lazy regulariser (every {interval} "
                    "steps): the learning-rate and beta correction is defined for 'adam'; use "
                    "adam or set loss.r1_interval / loss.pl_interval to 0")
  with config.unlocked():
    config.learning_rate = opt_config.learning_rate * c
    config.b1 = opt_config.get("b1", 0.9) ** c
    config.b2 = opt_config.get("b2", 0.999) ** c
  return config


def path_lengths(synthesize, ws, rng):
  """||J_w^T y||_2 per sample (StyleGAN2 eq. 4) for y ~ N(0, I) / sqrt(H W), with the Jacobian of
  `synthesize` (ws -> images) at ws (B, num_ws, w_dim): the norm over w_dim, the mean of squares
  over the layer inputs (NVIDIA's `pl_grads.square().sum(2).mean(1).sqrt()`)."""
  images, vjp = jax.vjp(synthesize, ws)
  noise = jax.random.normal(rng, images.shape, images.dtype) / math.sqrt(
      images.shape[1] * images.shape[2])
  (grads,) = vjp(noise)
  return jnp.sqrt(jnp.mean(jnp.sum(jnp.square(grads), axis=2), axis=1))


def path_length_penalty(lengths, pl_mean, decay=0.01):
  """(mean((lengths - a)^2), a) with a = the running mean of the lengths, updated by `decay`. The
  gradient flows through the batch's share of a as in NVIDIA's loss (only the stored mean is
  detached)."""
  new_mean = pl_mean + decay * (jnp.mean(lengths) - pl_mean)
  return jnp.mean(jnp.square(lengths - new_mean)), jax.lax.stop_gradient(new_mean)


def ema_beta(step, batch_size, half_life_images, rampup=0.0):
  """The G average's decay per step: 0.5 ** (batch / half-life), the half-life in images, ramped up
  over the first images as min(half-life, images seen * rampup) when `rampup` > 0
  (stylegan2-ada-pytorch's ema_kimg and ema_rampup). The first step (0 images seen) copies G."""
  images_seen = jnp.asarray(step, jnp.float32) * batch_size
  half_life = jnp.asarray(half_life_images, jnp.float32)
  half_life = jnp.where(rampup > 0, jnp.minimum(half_life, images_seen * rampup), half_life)
  return 0.5 ** (batch_size / jnp.maximum(half_life, 1e-8))
