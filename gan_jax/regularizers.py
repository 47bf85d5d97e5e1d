"""Regularisers and input/target perturbations, as pure functions.

Discriminator penalties take `d_apply(x) -> logits` (a closure over D's parameters) so they
differentiate with respect to D's input; the train step adds `weight * penalty` to D's loss.
The mode-seeking term is the generator's: `weight * mode_seeking_loss(ratio)` joins G's loss.
"""
import jax
import jax.numpy as jnp


def _per_sample_norm(grads):
  # The epsilon keeps the gradient of the norm finite where the input gradient is exactly zero.
  return jnp.sqrt(jnp.sum(jnp.square(grads), axis=tuple(range(1, grads.ndim))) + 1e-12)


def input_gradients(d_apply, x):
  """d D(x_i) / d x_i for every sample (D scores samples independently, so the sum's gradient)."""
  return jax.grad(lambda v: d_apply(v).sum())(x)


def gradient_penalty(d_apply, real, fake, rng):
  """WGAN-GP (Gulrajani et al.): E[(||grad_x D(x_hat)||_2 - 1)^2] at random interpolates x_hat."""
  eps = jax.random.uniform(rng, (real.shape[0],) + (1,) * (real.ndim - 1))
  x_hat = eps * real + (1.0 - eps) * fake
  return jnp.mean(jnp.square(_per_sample_norm(input_gradients(d_apply, x_hat)) - 1.0))


def r1_penalty(d_apply, real):
  """R1 (Mescheder et al. 2018): E_real[||grad_x D(x)||^2]; the step weights it by gamma / 2."""
  return jnp.mean(jnp.sum(jnp.square(input_gradients(d_apply, real)),
                          axis=tuple(range(1, real.ndim))))


def dragan_penalty(d_apply, real, rng, scale=0.5):
  """DRAGAN (Kodali et al. 2017): the GP at random points between each real x and its perturbation
  x + scale * std(real) * U(0, 1), as the authors' code samples them."""
  noise_rng, alpha_rng = jax.random.split(rng)
  noise = jax.random.uniform(noise_rng, real.shape) * scale * jnp.std(real)
  alpha = jax.random.uniform(alpha_rng, (real.shape[0],) + (1,) * (real.ndim - 1))
  x_hat = real + alpha * noise
  return jnp.mean(jnp.square(_per_sample_norm(input_gradients(d_apply, x_hat)) - 1.0))


def clip_weights(params, c):
  """WGAN's Lipschitz constraint (Arjovsky et al.): every weight clipped to [-c, c]."""
  return jax.tree.map(lambda p: jnp.clip(p, -c, c), params)


def instance_noise_std(step, std, anneal_steps):
  """Instance noise level (Sonderby et al. 2017): `std`, linearly annealed to 0 over `anneal_steps`
  (`anneal_steps` <= 0 keeps it constant)."""
  frac = jnp.where(anneal_steps > 0, 1.0 - step / jnp.maximum(anneal_steps, 1.0), 1.0)
  return std * jnp.clip(frac, 0.0, 1.0)


def add_instance_noise(x, std, rng):
  return x + std * jax.random.normal(rng, x.shape, x.dtype)


def mode_seeking_ratio(images_a, images_b, z_a, z_b):
  """MSGAN's ratio (Mao et al. 2019, eq. 2): mean |G(c, z1) - G(c, z2)| / mean |z1 - z2| over
  pairs of images drawn for the same condition. G maximises it through the loss 1 / (ratio + eps)
  (the authors' code), so two latents cannot give one image for a prompt."""
  return jnp.mean(jnp.abs(images_a - images_b)) / jnp.mean(jnp.abs(z_a - z_b))


def mode_seeking_loss(ratio, eps=1e-5):
  return 1.0 / (ratio + eps)


def ema_update(ema, params, decay):
  """ema <- decay * ema + (1 - decay) * params, leaf by leaf."""
  return jax.tree.map(lambda e, p: decay * e + (1.0 - decay) * p, ema, params)
