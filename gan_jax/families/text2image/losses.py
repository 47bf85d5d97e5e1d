"""The matching-aware objectives of text-to-image GANs, as pure functions.

Reed et al. 2016 (GAN-CLS) and StackGAN made D judge (image, sentence) pairs: real images with their
own captions are "real"; fakes and real images with captions of something else are "fake". DF-GAN
(Tao et al. 2022) uses the hinge loss,

  L_D = E[max(0, 1 - D(x, e))] + 1/2 E[max(0, 1 + D(G(z, e), e))] + 1/2 E[max(0, 1 + D(x, e'))]
  L_G = -E[D(G(z, e), e)]

and the matching-aware gradient penalty on real matched pairs (its eq. 4),

  MA-GP = k E[ ||(grad_x D(x, e), grad_e D(x, e))||_2 ^ p ],  k = 2, p = 6.

Optionally MSGAN's mode-seeking term (gan_jax/regularizers.py) is added to L_G, against a generator
that draws one image per sentence whatever z is.

The mismatched caption e' must describe something else: a rolled batch (DF-GAN pairs image i with
image i+1's features) often pairs two captions of the same class, which then trains D to reject a
correct pairing. Here each row's partner is drawn among the rows of another class.
"""
import jax
import jax.numpy as jnp


def mismatch_partners(labels, rng):
  """For each row i, a row j with labels[j] != labels[i], uniform over such rows, and whether row i
  has one (a batch of one class has none: those rows drop out of the mismatch term)."""
  differs = labels[:, None] != labels[None, :]
  scores = jax.random.uniform(rng, differs.shape)
  return jnp.argmax(jnp.where(differs, scores, -1.0), axis=1), differs.any(axis=1)


def masked_mean(values, mask):
  mask = mask.astype(values.dtype)
  return jnp.sum(values * mask) / jnp.maximum(jnp.sum(mask), 1.0)


def discriminator_hinge(real_logits, fake_logits, mismatch_logits, mismatch_valid,
                        mismatch_weight=0.5):
  """DF-GAN's D loss: real pairs towards >= 1; fakes and mismatched pairs towards <= -1, weighted
  (1 - mismatch_weight) and mismatch_weight (1/2 each in DF-GAN). Returns (loss, terms)."""
  real = jax.nn.relu(1.0 - real_logits).mean()
  fake = jax.nn.relu(1.0 + fake_logits).mean()
  mismatch = masked_mean(jax.nn.relu(1.0 + mismatch_logits), mismatch_valid)
  loss = real + (1.0 - mismatch_weight) * fake + mismatch_weight * mismatch
  return loss, {"d_loss_real": real, "d_loss_fake": fake, "d_loss_mismatch": mismatch}


def generator_hinge(fake_logits):
  return -fake_logits.mean()


def matching_aware_gradient_penalty(judge, images, sentences, power=6.0):
  """E[||(d judge / d image, d judge / d sentence)||_2 ^ power] over the batch (DF-GAN's MA-GP,
  without its weight k). `judge(images, sentences)` -> (B,) logits, each row depending on its own
  row only (so the gradient of the sum is per-example)."""
  grad_x, grad_e = jax.grad(lambda x, e: judge(x, e).sum(), argnums=(0, 1))(images, sentences)
  squared = (jnp.sum(jnp.square(grad_x), axis=tuple(range(1, grad_x.ndim)))
             + jnp.sum(jnp.square(grad_e), axis=tuple(range(1, grad_e.ndim))))
  # (|g|^2)^(p/2) = |g|^p, with no square root to differentiate at |g| = 0.
  return jnp.mean(squared ** (power / 2.0))
