"""The text-to-image train step: one matching-aware D update, then one G update (DF-GAN).

    step = make_step(options, generator, discriminator)
    state, metrics = jax.jit(step)(state, batch, rng)

D's update and G's are phases of their own (`d_update`, `g_update`), composed by `train_step`.

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
import dataclasses
import functools
import math
from typing import Any, NamedTuple

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


@dataclasses.dataclass(frozen=True)
class Setup:
  """What the phases share besides the state: the options (family.Options), the networks and the
  device axis (`axis_name`, under pmap)."""
  opts: Any
  generator: Any
  discriminator: Any
  axis_name: str | None = None


class Pairs(NamedTuple):
  """A step's images and sentences: each image's caption, another class's caption (where the batch
  has one: `mismatch_valid`), the latents and the caption each fake is drawn for."""
  images: jax.Array
  sentence: jax.Array
  mismatched: jax.Array
  mismatch_valid: jax.Array
  z: jax.Array
  fake_sentence: jax.Array


def make_step(options, generator, discriminator, axis_name=None):
  """The pure step(state, batch, rng) -> (state, metrics) for a family.Options' switches."""
  return functools.partial(train_step, Setup(options, generator, discriminator, axis_name))


def train_step(s, state, batch, rng):
  """DF-GAN's step: the step's pairs, G's forward pass (kept for its backward pass), D's update on
  matched, fake and mismatched pairs, G's update against the updated D, then G's average."""
  if s.axis_name is not None:  # Independent draws on each device.
    rng = jax.random.fold_in(rng, jax.lax.axis_index(s.axis_name))
  pick_rng, z_rng, mismatch_rng, augment_rng = jax.random.split(rng, 4)
  pairs = draw_pairs(s, batch, pick_rng, z_rng, mismatch_rng)
  g_net = state.nets["g"]
  (fake, kl), g_vjp = jax.vjp(lambda p: generate(s, p, pairs, augment_rng),
                              parallel.per_device(s.axis_name, g_net.params))
  fake = jax.lax.stop_gradient(fake)
  state, metrics = d_update(s, state, pairs, fake)
  state, g_metrics = g_update(s, state, pairs, fake, kl, g_vjp)
  metrics.update(g_metrics, mismatch_rows=pairs.mismatch_valid.mean())
  return state.replace(step=state.step + 1), parallel.mean_over(s.axis_name, metrics)


def draw_pairs(s, batch, pick_rng, z_rng, mismatch_rng):
  """The step's Pairs: one caption per image, a mismatched partner, latents; with the mode-seeking
  term the fakes' second half is drawn for the first half's captions."""
  images, labels = batch["image"], batch["label"]
  sentence = pick_captions(batch["caption_embedding"], pick_rng)
  partners, mismatch_valid = losses.mismatch_partners(labels, mismatch_rng)
  mismatched = sentence[partners]
  z = jax.random.normal(z_rng, (images.shape[0], s.opts.latent_dim), images.dtype)
  half = images.shape[0] // 2
  check_batch_rows(s.opts, images.shape[0])
  # The caption each fake is drawn for: row i + half repeats row i's (mode seeking compares them).
  fake_sentence = (sentence[jnp.arange(images.shape[0]) % half] if s.opts.mode_seeking
                   else sentence)
  return Pairs(images, sentence, mismatched, mismatch_valid, z, fake_sentence)


def generate(s, g_params, pairs, augment_rng):
  """G's fakes for the pairs' latents and captions, and the conditioning augmentation's KL."""
  return s.generator.apply({"params": g_params}, pairs.z, pairs.fake_sentence, train=True,
                           rngs={"augment": augment_rng})


def d_update(s, state, pairs, fake):
  """D's hinge update on (real, its caption), (fake, its caption) and (real, a mismatched caption),
  with the matching-aware gradient penalty when on: (state, metrics)."""
  d_net = state.nets["d"]
  d_grads, metrics = jax.grad(d_objective, has_aux=True)(
      parallel.per_device(s.axis_name, d_net.params), s, state.hparams, pairs, fake)
  d_grads = parallel.mean_over(s.axis_name, d_grads)
  d_net = d_net.apply_gradients(d_grads)
  metrics["d_grad_norm"] = optax.tree.norm(d_grads)
  return state.replace(nets={**state.nets, "d": d_net}), metrics


def d_objective(d_params, s, h, pairs, fake):
  """D's loss in its parameters (DF-GAN's), and its terms by name."""
  variables = {"params": d_params}
  features = s.discriminator.apply(variables, jnp.concatenate([pairs.images, fake]),
                                   method="features")
  real_features, fake_features = jnp.split(features, 2)
  judge = lambda f, e: s.discriminator.apply(variables, f, e, method="judge")
  real_logits = judge(real_features, pairs.sentence)
  fake_logits = judge(fake_features, pairs.fake_sentence)
  mismatch_logits = judge(real_features, pairs.mismatched)
  loss, metrics = losses.discriminator_hinge(real_logits, fake_logits, mismatch_logits,
                                             pairs.mismatch_valid, h["mismatch_weight"])
  metrics.update(d_real=real_logits.mean(), d_fake=fake_logits.mean(),
                 d_mismatch=losses.masked_mean(mismatch_logits, pairs.mismatch_valid))
  if s.opts.ma_gp:
    # With respect to the sentence entries D's layers see (models.scale_sentence: unit scale),
    # not the unit-length embedding, whose gradient is sqrt(dim) times larger.
    scale = math.sqrt(pairs.sentence.shape[-1])
    penalty = losses.matching_aware_gradient_penalty(
        lambda x, e: s.discriminator.apply(variables, x, e / scale), pairs.images,
        pairs.sentence * scale, h["ma_gp_power"])
    loss = loss + h["ma_gp_weight"] * penalty
    metrics["ma_gp"] = penalty
  metrics["d_loss"] = loss
  return loss, metrics


def g_update(s, state, pairs, fake, kl, g_vjp):
  """G's update: its hinge loss against the updated D (plus the mode-seeking term and the KL of
  conditioning augmentation when on), pulled back through the kept forward pass `g_vjp`; then
  G's average: (state, metrics)."""
  h = state.hparams
  (g_image_loss, metrics), fake_cotangent = jax.value_and_grad(g_objective, has_aux=True)(
      fake, s, state.nets["d"], h, pairs)
  use_ca = s.opts.conditioning_augmentation > 0
  kl_weight = h["ca_kl_weight"] if use_ca else jnp.zeros(())
  # The cotangent of this device's KL term (under pmap, a per-device value as `kl` is).
  (g_grads,) = g_vjp((fake_cotangent,
                      parallel.per_device(s.axis_name, kl_weight.astype(kl.dtype))))
  g_grads = parallel.mean_over(s.axis_name, g_grads)
  g_net = state.nets["g"].apply_gradients(g_grads)
  ema = state.ema
  if s.opts.ema:
    decay = jnp.where(state.step >= s.opts.ema_start_step, h["ema_decay"], 0.0)
    ema = {"g": {"params": regularizers.ema_update(ema["g"]["params"], g_net.params, decay)}}
  metrics.update(g_loss=g_image_loss + kl_weight * kl, g_grad_norm=optax.tree.norm(g_grads))
  if use_ca:
    metrics["ca_kl"] = kl
  return state.replace(nets={**state.nets, "g": g_net}, ema=ema), metrics


def g_objective(fake_images, s, d_net, h, pairs):
  """G's loss on its fakes against D (the hinge; with mode seeking MSGAN's term on the fakes'
  halves), and its terms by name."""
  features = s.discriminator.apply({"params": d_net.params}, fake_images, method="features")
  logits = s.discriminator.apply({"params": d_net.params}, features, pairs.fake_sentence,
                                 method="judge")
  adversarial = losses.generator_hinge(logits)
  if not s.opts.mode_seeking:
    return adversarial, {"g_adversarial": adversarial}
  half = fake_images.shape[0] // 2
  ratio = regularizers.mode_seeking_ratio(fake_images[:half], fake_images[half:2 * half],
                                          pairs.z[:half], pairs.z[half:2 * half])
  loss = adversarial + h["mode_seeking_weight"] * regularizers.mode_seeking_loss(ratio)
  return loss, {"g_adversarial": adversarial, "mode_seeking_ratio": ratio}


def sample_params(state):
  """G's parameters for sampling: the EMA's when the state keeps one."""
  return state.ema["g"]["params"] if "g" in state.ema else state.nets["g"].params
