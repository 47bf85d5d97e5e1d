"""StyleGAN2's training step: four phases per minibatch, as stylegan2-ada-pytorch's training loop
runs them (training/loss.py, `StyleGAN2Loss`), each a function of its own:

  g_main   non-saturating logistic loss of G on fresh latents (style mixing with a probability)
  g_reg    every `pl_interval` steps: path length regularisation, weighted by pl_weight * interval
  d_main   logistic loss of D on a real batch and a fake batch (D scores them in separate calls,
           since the minibatch standard deviation compares samples within a call)
  d_reg    every `r1_interval` steps: R1 on the real batch, weighted by r1_gamma / 2 * interval
  then the average of G (half-life in images with a ramp-up) and its tracked w average.

The regularisation phases are their own optimizer steps (lazy regularisation), which is why the
optimizers carry the correction of `regularizers.corrected_optimizer` (built by the family). An
interval of 0 adds the regulariser to the main loss every step instead (no correction). Which phase
runs is decided inside the program from `state.step` (`lax.cond`), so every step is one program.

Progressive growing: the step for `stage` trains at resolution 4 * 2**stage with alpha a function of
the step (`progressive.Schedule.alpha`); real images are resized and blended to match.
"""
import dataclasses
import functools
from typing import Any

import jax
import jax.numpy as jnp
import optax

from gan_jax import losses
from gan_jax import progressive
from gan_jax import regularizers as core_regularizers
from gan_jax import resample
from gan_jax import state as state_lib
from gan_jax.errors import UserError
from gan_jax.families.stylegan import models
from gan_jax.families.stylegan import regularizers


@dataclasses.dataclass(frozen=True)
class Options:
  """The step's structure: what is compiled in (hashable; numbers that may vary live in hparams)."""
  r1_interval: int = 16      # 0: R1 in every D step.
  pl_interval: int = 4       # 0: path length in every G step.
  use_r1: bool = True
  use_pl: bool = False
  use_mixing: bool = False
  pl_batch_shrink: int = 2
  pl_decay: float = 0.01

  @classmethod
  def from_config(cls, config):
    loss = config.loss
    for name in ("r1_interval", "pl_interval"):
      if not isinstance(loss[name], int) or loss[name] < 0:
        raise UserError(f"loss.{name}={loss[name]!r} must be an integer >= 0 (0 = every step, "
                        "in the main loss)")
    return cls(r1_interval=loss.r1_interval, pl_interval=loss.pl_interval,
               use_r1=loss.r1_gamma > 0, use_pl=loss.pl_weight > 0,
               use_mixing=loss.style_mixing_prob > 0, pl_batch_shrink=loss.pl_batch_shrink,
               pl_decay=loss.pl_decay)


HPARAMS = ("r1_gamma", "pl_weight", "style_mixing_prob", "ema_half_life_images", "ema_rampup")


def init_state(generator, discriminator, txs, hparams, rng, image_shape, num_stages=None):
  """The train state: G and D (every stage's parameters when `num_stages` is set), G's average,
  the path length mean and the last measured penalties."""
  g_rng, d_rng = jax.random.split(rng)
  z = jnp.zeros((2, generator.z_dim))
  labels = jnp.zeros((2,), jnp.int32) if generator.num_classes else None
  x = jnp.zeros((2,) + tuple(image_shape))
  if num_stages is None:
    g_vars = generator.init(g_rng, z, labels, train=False)
    d_vars = discriminator.init(d_rng, x, labels)
  else:
    g_vars = progressive.init_all_stages(generator, g_rng, z, labels, train=False,
                                         num_stages=num_stages)
    d_vars = progressive.init_all_stages(discriminator, d_rng, x, labels, num_stages=num_stages)
  nets = {"g": state_lib.init_net(g_vars, txs["g"]), "d": state_lib.init_net(d_vars, txs["d"])}
  zero = jnp.zeros((), jnp.float32)
  return state_lib.new_state(
      nets=nets, hparams={k: hparams[k] for k in HPARAMS},
      ema={"g": jax.tree.map(jnp.copy, dict(g_vars))},
      extras={"pl_mean": zero, "pl_penalty": zero, "r1_penalty": zero})


@dataclasses.dataclass(frozen=True)
class Setup:
  """What the phases share besides the state: the options, the networks, the device axis
  (`axis_name`, under pmap) and, while the networks grow, the stage and its schedule."""
  opts: Options
  generator: Any
  discriminator: Any
  axis_name: str | None = None
  stage: int | None = None
  schedule: Any = None

  @property
  def used_ws(self):
    """The ws the synthesis network reads at this stage's resolution (style mixing's range)."""
    return models.num_ws(self.generator.resolution if self.stage is None
                         else progressive.resolution(self.stage))


def make_step(opts, generator, discriminator, axis_name=None, stage=None, schedule=None):
  """`step(state, batch, rng) -> (state, metrics)` for batch {"x": (B, H, W, C) in [-1, 1]
  (, "label": (B,))}. With `schedule` (progressive growing), the step of `stage`."""
  return functools.partial(train_step, Setup(opts, generator, discriminator, axis_name, stage,
                                             schedule))


def train_step(s, state, batch, rng):
  """G's main phase, its regularisation on its steps, D's main phase, its regularisation on its
  steps, then the average of G."""
  cfg = s.opts
  stage_now, alpha = stage_alpha(s, state.step)
  real = batch["x"]
  if s.schedule is not None:
    real = progressive.real_images(real, stage_now, alpha, resample.upsample2d)
  real_labels = batch.get("label") if s.generator.num_classes else None
  g_rng, g_reg_rng, d_rng = jax.random.split(rng, 3)
  if s.axis_name is not None:  # Fresh draws on every device.
    g_rng, g_reg_rng, d_rng = (jax.random.fold_in(k, jax.lax.axis_index(s.axis_name))
                               for k in (g_rng, g_reg_rng, d_rng))
  b = real.shape[0]  # This device's rows of the batch.
  state, metrics = g_main(s, state, g_rng, b)
  if cfg.use_pl and cfg.pl_interval > 0:
    state = every(cfg.pl_interval, functools.partial(g_reg, s), state, g_reg_rng, b)
  state, d_metrics = d_main(s, state, real, real_labels, d_rng)
  if cfg.use_r1 and cfg.r1_interval > 0:
    state = every(cfg.r1_interval, functools.partial(d_reg, s), state, real, real_labels)
  state, beta = ema_update(s, state, b)
  metrics.update(d_metrics, ema_beta=beta)
  if cfg.use_r1:
    metrics["r1_penalty"] = state.extras["r1_penalty"]
  if cfg.use_pl:
    metrics.update(pl_penalty=state.extras["pl_penalty"], pl_mean=state.extras["pl_mean"])
  if s.schedule is not None:
    metrics["alpha"] = jnp.asarray(alpha, jnp.float32)
  return state.replace(step=state.step + 1), _mean_over(s, metrics)


def g_main(s, state, rng, b):
  """G's non-saturating loss on `b` fresh latents (NVIDIA's Gmain; with `pl_interval` 0 plus the
  path length penalty): (state, metrics)."""
  stage, alpha = stage_alpha(s, state.step)
  # One split for every stream: fold_in(rng, i) is split(rng, n)[i] under threefry, so a path-
  # length key folded in beside it would be mix_rng again.
  z_rng, mix_rng, noise_rng, pl_rng = jax.random.split(rng, 4)
  z, labels = latents(s, z_rng, b)
  g, d = state.nets["g"], state.nets["d"]

  def loss_fn(params):
    g_vars = g.variables(params)
    ws, w_avg = mapped(s, g_vars, state.hparams, z, labels, mix_rng, update_w_avg=True)
    fake = synthesize(s, g_vars, ws, noise_rng, stage, alpha)
    loss = losses.generator_loss("non_saturating",
                                 discriminate(s, d.variables(), fake, labels, stage, alpha))
    pl = {}
    if s.opts.use_pl and s.opts.pl_interval == 0:
      pl = path_length(s, g_vars, state, pl_rng, b, stage, alpha)
      loss = loss + state.hparams["pl_weight"] * pl["pl_penalty"]
    return loss, (w_avg, pl)

  (loss, (w_avg, pl)), grads = jax.value_and_grad(loss_fn, has_aux=True)(
      _per_device(s, g.params))
  grads = _mean_over(s, grads)
  g = g.apply_gradients(grads).replace(collections={**g.collections, "w_avg": w_avg})
  extras = dict(state.extras, **_mean_over(s, pl))
  metrics = {"g_loss": loss, "g_grad_norm": optax.tree.norm(grads)}
  return state.replace(nets={**state.nets, "g": g}, extras=extras), metrics


def g_reg(s, state, rng, b):
  """G's lazy regularisation (NVIDIA's Greg): the path length penalty, weighted by pl_weight *
  pl_interval, as its own optimizer step."""
  stage, alpha = stage_alpha(s, state.step)
  g = state.nets["g"]

  def loss_fn(params):
    pl = path_length(s, g.variables(params), state, rng, b, stage, alpha)
    return pl["pl_penalty"] * state.hparams["pl_weight"] * s.opts.pl_interval, pl

  grads, pl = jax.grad(loss_fn, has_aux=True)(_per_device(s, g.params))
  g = g.apply_gradients(_mean_over(s, grads))
  return state.replace(nets={**state.nets, "g": g},
                       extras=dict(state.extras, **_mean_over(s, jax.lax.stop_gradient(pl))))


def path_length(s, g_vars, state, rng, b, stage, alpha):
  """The path length penalty of a batch of batch_size / pl_batch_shrink latents, and the updated
  running mean of the path lengths."""
  z_rng, mix_rng, noise_rng, pl_rng = jax.random.split(rng, 4)
  z, labels = latents(s, z_rng, max(b // s.opts.pl_batch_shrink, 1))
  ws, _ = mapped(s, g_vars, state.hparams, z, labels, mix_rng, update_w_avg=False)
  lengths = regularizers.path_lengths(
      lambda w: synthesize(s, g_vars, w, noise_rng, stage, alpha), ws, pl_rng)
  penalty, pl_mean = regularizers.path_length_penalty(lengths, state.extras["pl_mean"],
                                                      s.opts.pl_decay)
  return {"pl_penalty": penalty, "pl_mean": _mean_over(s, pl_mean)}


def d_main(s, state, real, real_labels, rng):
  """D's logistic loss on the real batch and as many fakes, scored in separate calls (NVIDIA's
  Dmain; with `r1_interval` 0 plus R1): (state, metrics)."""
  stage, alpha = stage_alpha(s, state.step)
  z_rng, mix_rng, noise_rng = jax.random.split(rng, 3)
  z, fake_labels = latents(s, z_rng, real.shape[0])
  g, d = state.nets["g"], state.nets["d"]
  ws, w_avg = mapped(s, g.variables(), state.hparams, z, fake_labels, mix_rng, update_w_avg=True)
  fake = jax.lax.stop_gradient(synthesize(s, g.variables(), ws, noise_rng, stage, alpha))

  def loss_fn(params):
    d_vars = d.variables(params)
    fake_logits = discriminate(s, d_vars, fake, fake_labels, stage, alpha)
    real_logits = discriminate(s, d_vars, real, real_labels, stage, alpha)
    loss = losses.discriminator_loss("non_saturating", real_logits, fake_logits)
    total, r1 = loss, {}
    if s.opts.use_r1 and s.opts.r1_interval == 0:
      penalty = core_regularizers.r1_penalty(
          lambda x: discriminate(s, d_vars, x, real_labels, stage, alpha), real)
      total = loss + 0.5 * state.hparams["r1_gamma"] * penalty
      r1 = {"r1_penalty": penalty}
    return total, (loss, real_logits, fake_logits, r1)

  grads, (loss, real_logits, fake_logits, r1) = jax.grad(loss_fn, has_aux=True)(
      _per_device(s, d.params))
  grads = _mean_over(s, grads)
  g = g.replace(collections={**g.collections, "w_avg": w_avg})
  d = d.apply_gradients(grads)
  metrics = {"d_loss": loss, "d_real": jax.nn.sigmoid(real_logits).mean(),
             "d_fake": jax.nn.sigmoid(fake_logits).mean(),
             "d_grad_norm": optax.tree.norm(grads)}
  state = state.replace(nets={**state.nets, "g": g, "d": d},
                        extras=dict(state.extras, **_mean_over(s, jax.lax.stop_gradient(r1))))
  return state, metrics


def d_reg(s, state, real, real_labels):
  """D's lazy regularisation (NVIDIA's Dreg): R1 on the real batch, weighted by r1_gamma / 2 *
  r1_interval, as its own optimizer step."""
  stage, alpha = stage_alpha(s, state.step)
  d = state.nets["d"]

  def loss_fn(params):
    penalty = core_regularizers.r1_penalty(
        lambda x: discriminate(s, d.variables(params), x, real_labels, stage, alpha), real)
    return penalty * 0.5 * state.hparams["r1_gamma"] * s.opts.r1_interval, penalty

  grads, penalty = jax.grad(loss_fn, has_aux=True)(_per_device(s, d.params))
  d = d.apply_gradients(_mean_over(s, grads))
  return state.replace(nets={**state.nets, "d": d},
                       extras=dict(state.extras,
                                   r1_penalty=_mean_over(s, jax.lax.stop_gradient(penalty))))


def every(interval, phase, state, *args):
  """`phase` on the steps divisible by `interval` (NVIDIA's batch_idx % interval == 0)."""
  return jax.lax.cond(state.step % interval == 0, lambda st: phase(st, *args), lambda st: st,
                      state)


def ema_update(s, state, b):
  """G's average with a half-life in images and its ramp-up (NVIDIA's G_ema), and the w average
  G tracks: (state, beta)."""
  g = state.nets["g"]
  beta = regularizers.ema_beta(state.step, b * _num_devices(s),
                               state.hparams["ema_half_life_images"],
                               state.hparams["ema_rampup"])
  ema = state.ema["g"]
  params = jax.tree.map(lambda e, p: p + beta * (e - p), ema["params"], g.params)
  return state.replace(ema={"g": {**ema, **g.collections, "params": params}}), beta


def stage_alpha(s, step):
  """The networks' stage and fade-in at `step`: (None, 1) without progressive growing."""
  return (None, 1.0) if s.schedule is None else (s.stage, s.schedule.alpha(s.stage, step))


def latents(s, rng, n):
  """`n` latents z ~ N(0, I) and, for a conditional G, uniform class labels (else None)."""
  z_rng, y_rng = jax.random.split(rng)
  z = jax.random.normal(z_rng, (n, s.generator.z_dim))
  num_classes = s.generator.num_classes
  labels = jax.random.randint(y_rng, (n,), 0, num_classes) if num_classes else None
  return z, labels


def mapped(s, g_vars, hparams, z, labels, rng, update_w_avg):
  """ws (B, num_ws, w_dim) with style mixing (one cutoff per batch, NVIDIA's), and the w average
  after this batch."""
  ws, updates = s.generator.apply(g_vars, z, labels, update_w_avg=update_w_avg, method="map",
                                  mutable=["w_avg"])
  if s.opts.use_mixing:
    z_rng, cut_rng, coin_rng = jax.random.split(rng, 3)
    other = s.generator.apply(g_vars, jax.random.normal(z_rng, z.shape), labels, method="map")
    cutoff = jax.random.randint(cut_rng, (), 1, s.used_ws)
    mixing = jax.random.uniform(coin_rng) < hparams["style_mixing_prob"]
    ws = models.mix_styles(ws, other, jnp.where(mixing, cutoff, s.used_ws))
  return ws, _mean_over(s, updates["w_avg"])


def synthesize(s, g_vars, ws, rng, stage, alpha):
  return s.generator.apply(g_vars, ws, stage=stage, alpha=alpha, noise_mode="random",
                           method="synthesize", rngs={"noise": rng})


def discriminate(s, d_vars, images, labels, stage, alpha):
  return s.discriminator.apply(d_vars, images, labels, stage=stage, alpha=alpha)


def _mean_over(s, tree):
  """The mean over the devices under pmap: gradients, metrics, and every value the state keeps,
  which must be the same on every device (the penalties kept in `extras` are each device's until
  averaged)."""
  return tree if s.axis_name is None else jax.lax.pmean(tree, s.axis_name)


def _per_device(s, params):
  return params if s.axis_name is None else jax.lax.pcast(params, s.axis_name, to="varying")


def _num_devices(s):
  return 1 if s.axis_name is None else jax.lax.axis_size(s.axis_name)
