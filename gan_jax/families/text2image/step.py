"""The text-to-image train step: one matching-aware D update, then one G update (DF-GAN).

    step = make_step(options, generator, discriminator)
    state, metrics = jax.jit(step)(state, batch, rng)

`batch` holds `image` (B, H, W, C) in [-1, 1], `caption_embedding` (B, K, D) (each image's K
caption embeddings) and `label` (B,) (which captions describe which images). Each row trains with
one of its K captions, drawn per step. D sees three kinds of pairs: (real, its caption), (G(z,
caption), caption) and (real, a caption of another class) (losses.py); G's forward pass is reused
for its update (one `jax.vjp`), so G runs forward once per step, as DF-GAN's loop does. With the
mode-seeking term, the fakes' second half is drawn for the first half's captions (new latents), so
each of those rows has a partner with the same caption.

state.hparams: mismatch_weight (1/2), ma_gp_weight (k = 2; 0 with the penalty off), ma_gp_power
(p = 6), ca_kl_weight (StackGAN's KL weight; with conditioning augmentation),
mode_seeking_weight (MSGAN's lambda; only with the term on) and ema_decay.
"""
import math

import jax
import jax.numpy as jnp
import optax

from gan_jax import parallel
from gan_jax import regularizers
from gan_jax.errors import UserError
from gan_jax.families.text2image import losses


def pick_captions(captions, rng):
  """One of each row's K caption embeddings (B, K, D) -> (B, D), uniformly."""
  k = jax.random.randint(rng, captions.shape[:1], 0, captions.shape[1])
  return jnp.take_along_axis(captions, k[:, None, None], axis=1)[:, 0]


def check_batch_rows(options, rows):
  """The mode-seeking term compares pairs of fakes: a step needs 2 rows or more (each device, under
  parallel.mode=pmap). The loop checks it before a run writes anything (Trainer.check_batch_rows);
  the step again when it is traced, for callers that build it themselves."""
  if options.mode_seeking and rows < 2:
    raise UserError(f"loss.mode_seeking_weight > 0 compares pairs of fakes: each device needs a "
                    f"batch of 2 or more, not {rows} (raise batch_size)")


def make_step(options, generator, discriminator, axis_name=None):
  """The pure step(state, batch, rng) -> (state, metrics) for a family.Options' switches."""
  latent_dim = options.latent_dim
  use_ma_gp = options.ma_gp
  use_ca = options.conditioning_augmentation > 0
  use_mode_seeking = options.mode_seeking
  use_ema = options.ema
  ema_start = options.ema_start_step

  def step(state, batch, rng):
    if axis_name is not None:  # Independent draws on each device.
      rng = jax.random.fold_in(rng, jax.lax.axis_index(axis_name))
    pick_rng, z_rng, mismatch_rng, augment_rng = jax.random.split(rng, 4)
    images, labels = batch["image"], batch["label"]
    sentence = pick_captions(batch["caption_embedding"], pick_rng)
    partners, mismatch_valid = losses.mismatch_partners(labels, mismatch_rng)
    mismatched = sentence[partners]
    z = jax.random.normal(z_rng, (images.shape[0], latent_dim), images.dtype)
    half = images.shape[0] // 2
    check_batch_rows(options, images.shape[0])
    # The caption each fake is drawn for: row i + half repeats row i's (mode seeking compares them).
    fake_sentence = (sentence[jnp.arange(images.shape[0]) % half] if use_mode_seeking
                     else sentence)
    h = state.hparams
    g_net, d_net = state.nets["g"], state.nets["d"]

    def generate(g_params):
      return generator.apply({"params": g_params}, z, fake_sentence, train=True,
                             rngs={"augment": augment_rng})

    (fake, kl), g_vjp = jax.vjp(generate, parallel.per_device(axis_name, g_net.params))

    def d_loss_fn(d_params):
      variables = {"params": d_params}
      features = discriminator.apply(variables, jnp.concatenate([images, fake]),
                                     method="features")
      real_features, fake_features = jnp.split(features, 2)
      judge = lambda f, e: discriminator.apply(variables, f, e, method="judge")
      real_logits = judge(real_features, sentence)
      fake_logits = judge(fake_features, fake_sentence)
      mismatch_logits = judge(real_features, mismatched)
      loss, metrics = losses.discriminator_hinge(real_logits, fake_logits, mismatch_logits,
                                                 mismatch_valid, h["mismatch_weight"])
      metrics.update(d_real=real_logits.mean(), d_fake=fake_logits.mean(),
                     d_mismatch=losses.masked_mean(mismatch_logits, mismatch_valid))
      if use_ma_gp:
        # With respect to the sentence entries D's layers see (models.scale_sentence: unit scale),
        # not the unit-length embedding, whose gradient is sqrt(dim) times larger.
        scale = math.sqrt(sentence.shape[-1])
        penalty = losses.matching_aware_gradient_penalty(
            lambda x, e: discriminator.apply(variables, x, e / scale), images, sentence * scale,
            h["ma_gp_power"])
        loss = loss + h["ma_gp_weight"] * penalty
        metrics["ma_gp"] = penalty
      metrics["d_loss"] = loss
      return loss, metrics

    fake = jax.lax.stop_gradient(fake)
    d_grads, metrics = jax.grad(d_loss_fn, has_aux=True)(
        parallel.per_device(axis_name, d_net.params))
    d_grads = parallel.mean_over(axis_name, d_grads)
    d_net = d_net.apply_gradients(d_grads)

    def g_loss_fn(fake_images):
      features = discriminator.apply({"params": d_net.params}, fake_images, method="features")
      logits = discriminator.apply({"params": d_net.params}, features, fake_sentence,
                                   method="judge")
      adversarial = losses.generator_hinge(logits)
      if not use_mode_seeking:
        return adversarial, {"g_adversarial": adversarial}
      ratio = regularizers.mode_seeking_ratio(fake_images[:half], fake_images[half:2 * half],
                                              z[:half], z[half:2 * half])
      loss = adversarial + h["mode_seeking_weight"] * regularizers.mode_seeking_loss(ratio)
      return loss, {"g_adversarial": adversarial, "mode_seeking_ratio": ratio}

    (g_image_loss, g_metrics), fake_cotangent = jax.value_and_grad(g_loss_fn, has_aux=True)(fake)
    metrics.update(g_metrics)
    kl_weight = h["ca_kl_weight"] if use_ca else jnp.zeros(())
    # The KL term's cotangent: under pmap a per-device value, as the device's `kl` is.
    kl_cotangent = parallel.per_device(axis_name, kl_weight.astype(kl.dtype))
    (g_grads,) = g_vjp((fake_cotangent, kl_cotangent))
    g_grads = parallel.mean_over(axis_name, g_grads)
    g_net = g_net.apply_gradients(g_grads)

    ema = state.ema
    if use_ema:
      decay = jnp.where(state.step >= ema_start, h["ema_decay"], 0.0)
      ema = {"g": {"params": regularizers.ema_update(ema["g"]["params"], g_net.params, decay)}}
    metrics.update(g_loss=g_image_loss + kl_weight * kl, d_grad_norm=optax.tree.norm(
        d_grads), g_grad_norm=optax.tree.norm(g_grads), mismatch_rows=mismatch_valid.mean())
    if use_ca:
      metrics["ca_kl"] = kl
    state = state.replace(step=state.step + 1, nets={**state.nets, "g": g_net, "d": d_net},
                          ema=ema)
    return state, parallel.mean_over(axis_name, metrics)

  return step


def sample_params(state):
  """G's parameters for sampling: the EMA's when the state keeps one."""
  return state.ema["g"]["params"] if "g" in state.ema else state.nets["g"].params
