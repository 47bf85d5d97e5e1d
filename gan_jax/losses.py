"""GAN objectives as pairs of pure functions of discriminator logits.

`discriminator_loss(name, real_logits, fake_logits, real_target, fake_target)` and
`generator_loss(name, fake_logits)` return scalars (means over the batch). The targets are the labels
the discriminator is trained towards (1 for real, 0 for fake); one-sided label smoothing sets
real_target=0.9, label noise makes them per-example arrays. Logit-space forms (softplus) keep the
cross-entropies finite for any logit.
"""
import jax
import jax.numpy as jnp

from gan_jax.errors import UserError


def binary_cross_entropy(logits, target):
  """-[t log sigmoid(x) + (1 - t) log(1 - sigmoid(x))], stable for large |x|."""
  return target * jax.nn.softplus(-logits) + (1.0 - target) * jax.nn.softplus(logits)


def _bce_d(real, fake, real_target, fake_target):
  return (binary_cross_entropy(real, real_target).mean()
          + binary_cross_entropy(fake, fake_target).mean())


def _minimax_g(fake):
  # Goodfellow et al.'s original objective: G minimises log(1 - D(G(z))) = -softplus(logit).
  return -jax.nn.softplus(fake).mean()


def _non_saturating_g(fake):
  # Maximise log D(G(z)) instead: strong gradients while D rejects the samples.
  return jax.nn.softplus(-fake).mean()


def _wasserstein_d(real, fake, real_target, fake_target):
  del real_target, fake_target  # A critic has no labels.
  return fake.mean() - real.mean()


def _hinge_d(real, fake, real_target, fake_target):
  del real_target, fake_target
  return jax.nn.relu(1.0 - real).mean() + jax.nn.relu(1.0 + fake).mean()


def _critic_g(fake):
  return -fake.mean()


def _least_squares_d(real, fake, real_target, fake_target):
  # Mao et al. (LSGAN), a-b-c = 0-1-1 coding, with the 1/2 of the paper.
  return 0.5 * (jnp.square(real - real_target).mean() + jnp.square(fake - fake_target).mean())


def _least_squares_g(fake):
  return 0.5 * jnp.square(fake - 1.0).mean()


# name -> (discriminator loss, generator loss, whether the discriminator is a classifier whose logits
# mean probabilities, so D(x) and accuracy are reported through a sigmoid).
LOSSES = {
    "minimax": (_bce_d, _minimax_g, True),
    "non_saturating": (_bce_d, _non_saturating_g, True),
    "wasserstein": (_wasserstein_d, _critic_g, False),
    "hinge": (_hinge_d, _critic_g, False),
    "least_squares": (_least_squares_d, _least_squares_g, False),
}


def discriminator_targets(rng, shape, label_smoothing=0.0, label_noise=0.0, flip_prob=0.0):
  """(real_target, fake_target) arrays of `shape` for the classifier losses.

  One-sided smoothing: real = 1 - label_smoothing. Label noise (the seed's `labels += 0.05 *
  uniform`): each target moves towards the other class by label_noise * U(0, 1). Label flipping:
  with probability flip_prob an example's real and fake targets are swapped.
  """
  noise_rng, flip_rng = jax.random.split(rng)
  u_real, u_fake = jax.random.uniform(noise_rng, (2,) + tuple(shape))
  real = 1.0 - label_smoothing - label_noise * u_real
  fake = label_noise * u_fake
  flip = jax.random.bernoulli(flip_rng, flip_prob, (2,) + tuple(shape))
  return jnp.where(flip[0], fake, real), jnp.where(flip[1], real, fake)


def check_loss_name(name):
  if name not in LOSSES:
    raise UserError(f"loss.name={name!r} is unknown; allowed: {', '.join(LOSSES)}")


def check_target_options(loss_config):
  """Label smoothing, noise and flipping act on D's targets; the critic losses have none."""
  name = loss_config.get("name", "")
  if name not in ("wasserstein", "hinge"):
    return
  for key in ("label_smoothing", "label_noise", "label_flip_prob"):
    if loss_config.get(key, 0.0):
      raise UserError(f"loss.{key}={loss_config.get(key)} has no effect with loss.name={name!r} "
                      "(no D targets); use it with minimax, non_saturating or least_squares, or "
                      "set it to 0")


def discriminator_loss(name, real_logits, fake_logits, real_target=1.0, fake_target=0.0):
  return LOSSES[name][0](real_logits, fake_logits, real_target, fake_target)


def generator_loss(name, fake_logits):
  return LOSSES[name][1](fake_logits)


def is_probabilistic(name):
  return LOSSES[name][2]
