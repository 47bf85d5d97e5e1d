"""The Pix2Pix train step (Isola et al. 2017, eq. 4): pure `step(state, batch, rng) -> (state,
metrics)` on a batch {'source', 'target'} of paired images in [-1, 1].

  G* = arg min_G max_D  L_cGAN(G, D) + lambda * L_L1(G)
  L_cGAN = E[log D(x, y)] + E[log(1 - D(x, G(x, z)))],  L_L1 = E ||y - G(x, z)||_1

One step is the authors' Pix2PixModel.optimize_parameters: G runs forward once (its noise z is
dropout); D is updated on (source, target) against (source, G(source)) with its loss halved ("we
divide the objective by 2 while optimizing D"); then G, against the updated D, on
gan_weight * L_GAN + l1_weight * L1, its gradient pulled back through the saved forward pass
(`jax.vjp`). `loss_name` picks the adversarial loss from gan_jax.losses: 'non_saturating' (the
paper's "vanilla" loss: G maximises log D) or 'least_squares' (LSGAN). gan_jax.losses' least
squares carries Mao et al.'s 1/2 on both sides, so its G term is half the authors' MSE: set
loss.gan_weight=2 to weigh it as their code does. Adam is invariant to a constant loss scale, so the
halving changes D's reported loss, not its updates (except through Adam's epsilon).

Both networks' learning rates follow the authors' 'linear' policy, per step instead of per epoch:
`lr_factor(step)` is 1 for `lr_constant_steps` steps, then falls by 1 / (lr_decay_steps + 1) per
step; it scales the optimizers' updates (`Net.apply_gradients(scale=...)`), so the base rates stay
in the optimizer states (sweepable).

Ablations (the paper's Table 1): `use_gan=False` trains G on L1 alone (D is kept but never
updated); l1_weight 0 is the cGAN alone; `conditional_d=False` scores the output without its source
(the paper's unconditional "GAN" rows).

With `Options.ema_start_step` set, `state.ema['g']` averages G's variables (weights and batch-norm
statistics) from that step on, at the rate `ema_decay`; tests and translations use the average.

Numbers read from `state.hparams`: l1_weight, gan_weight, lr_constant_steps, lr_decay_steps, and
ema_decay with an average.
"""
import dataclasses

import jax
import jax.numpy as jnp
import optax

from gan_jax import losses
from gan_jax import regularizers
from gan_jax.parallel import mean_over
from gan_jax.parallel import per_device

HPARAMS = ("l1_weight", "gan_weight", "lr_constant_steps", "lr_decay_steps")


def lr_factor(step, constant_steps, decay_steps):
  """The authors' 'linear' learning-rate policy as a factor of the base rate, per step:
  1 - max(0, step + 1 - constant_steps) / (decay_steps + 1), never below 0."""
  step = jnp.asarray(step, jnp.float32)
  decay = jnp.maximum(0.0, step + 1.0 - constant_steps) / (decay_steps + 1.0)
  return jnp.clip(1.0 - decay, 0.0, 1.0)


def l1_loss(output, target):
  return jnp.abs(output - target).mean()


@dataclasses.dataclass(frozen=True)
class Options:
  """The step's structure (equal options: one compiled program for a sweep's members)."""
  loss: str = "non_saturating"
  use_gan: bool = True                # False: G trains on L1 alone; D is kept, never updated.
  conditional_d: bool = True          # False: D scores the output without its source.
  ema_start_step: int | None = None   # From which step G's average follows it; None: no average.
  model: tuple = ()                   # The networks' fields, as sorted (key, value) pairs.

  @classmethod
  def from_config(cls, config):
    losses.check_loss_name(config.loss.name)
    return cls(loss=config.loss.name, use_gan=config.loss.gan_weight > 0,
               conditional_d=bool(config.model.d_conditional),
               ema_start_step=ema_start_step(config),
               model=tuple(sorted((k, v) for k, v in config.model.items())))


def ema_start_step(config):
  """The step from which G's average follows its weights, or None without an average."""
  return int(config.ema.get("start_step", 0)) if config.ema.decay > 0 else None


def make_step(options, generator, discriminator, axis_name=None):
  """The pure step for one structure (`Options`). `axis_name`: set when it runs per device (pmap
  mode), to average gradients, batch statistics and metrics over that axis."""
  loss_name, use_gan, conditional_d = options.loss, options.use_gan, options.conditional_d
  ema_start = options.ema_start_step
  losses.check_loss_name(loss_name)
  probabilistic = losses.is_probabilistic(loss_name)

  def device_rng(key):
    return key if axis_name is None else jax.random.fold_in(key, jax.lax.axis_index(axis_name))

  def discriminate(params, collections, image, source):
    logits, updates = discriminator.apply(
        {"params": params, **collections}, image, source if conditional_d else None,
        train=True, mutable=list(collections))
    return logits, mean_over(axis_name, dict(updates))

  def step(state, batch, rng):
    source, target = batch["source"], batch["target"]
    g, d, h = state.nets["g"], state.nets["d"], state.hparams
    scale = lr_factor(state.step, h["lr_constant_steps"], h["lr_decay_steps"])
    dropout_rng = device_rng(rng)

    def generate(params):
      output, updates = generator.apply(g.variables(params), source, train=True,
                                        rngs={"dropout": dropout_rng}, mutable=list(g.collections))
      return output, mean_over(axis_name, dict(updates))

    fake, g_vjp, g_collections = jax.vjp(generate, per_device(axis_name, g.params), has_aux=True)
    metrics = {"lr_factor": scale}

    if use_gan:
      def d_loss_fn(params):
        # Fake then real, in two calls: batch norm sees each batch on its own, as in the authors'
        # backward_D.
        fake_logits, collections = discriminate(params, d.collections,
                                                jax.lax.stop_gradient(fake), source)
        real_logits, collections = discriminate(params, collections, target, source)
        loss = 0.5 * losses.discriminator_loss(loss_name, real_logits, fake_logits)
        return loss, (collections, real_logits, fake_logits)

      (d_loss, (d_collections, real_logits, fake_logits)), d_grads = jax.value_and_grad(
          d_loss_fn, has_aux=True)(per_device(axis_name, d.params))
      d_grads = mean_over(axis_name, d_grads)
      d = d.apply_gradients(d_grads, scale=scale).replace(collections=d_collections)
      score = jax.nn.sigmoid if probabilistic else (lambda v: v)
      metrics.update(d_loss=d_loss, d_real=score(real_logits).mean(),
                     d_fake=score(fake_logits).mean(), d_grad_norm=optax.tree.norm(d_grads))

    def g_loss_fn(output):
      l1 = l1_loss(output, target)
      terms = {"g_l1": l1}
      loss = h["l1_weight"] * l1
      if use_gan:  # The updated D scores the same forward pass; its statistics updates dropped.
        logits, _ = discriminate(d.params, d.collections, output, source)
        terms["g_gan"] = losses.generator_loss(loss_name, logits)
        loss = loss + h["gan_weight"] * terms["g_gan"]
      return loss, terms

    (g_loss, terms), fake_grad = jax.value_and_grad(g_loss_fn, has_aux=True)(fake)
    (g_grads,) = g_vjp(fake_grad)
    g_grads = mean_over(axis_name, g_grads)
    g = g.apply_gradients(g_grads, scale=scale).replace(collections=g_collections)
    metrics.update(terms, g_loss=g_loss, g_grad_norm=optax.tree.norm(g_grads))
    ema = state.ema
    if ema_start is not None:  # Before the start, the average is a copy of G.
      decay = jnp.where(state.step >= ema_start, h["ema_decay"], 0.0)
      ema = {"g": regularizers.ema_update(ema["g"], g.variables(), decay)}
    state = state.replace(step=state.step + 1, nets={**state.nets, "g": g, "d": d}, ema=ema)
    return state, mean_over(axis_name, metrics)

  return step
