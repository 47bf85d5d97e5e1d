"""CycleGAN's losses and its pure train step (Zhu et al. 2017, eq. 1-3 and sec. 4 and 5.2).

Domains A and B; G_AB: A -> B and G_BA: B -> A; D_A tells real A images from G_BA's, D_B real B
images from G_AB's. One step updates all four networks once, as the authors' `optimize_parameters`:

  G_AB, G_BA minimise   L_GAN(G_AB, D_B) + L_GAN(G_BA, D_A)
                        + cycle_weight_a * |G_BA(G_AB(a) + n) - a|_1
                        + cycle_weight_b * |G_AB(G_BA(b) + n) - b|_1
                        + identity_weight * (cycle_weight_a * |G_BA(a) - a|_1
                                             + cycle_weight_b * |G_AB(b) - b|_1)
  D_A, D_B minimise     d_loss_weight * (crit(D(real), real) + crit(D(pool(fake)), fake))

with the weights of the paper (10, 10, 0.5, 0.5) in `state.hparams`, so each is an array a sweep can
vary. n is Gaussian noise of std `cycle_noise_std` (0, the paper's, by default) added to the
translation on its way back only, a defence against steganography (Bashkirova et al. 2019,
"Adversarial self-defense for cycle-consistent GANs"): a generator can pass the cycle by hiding its
input in low-amplitude patterns of the translation instead of drawing it, and noise drowns such
patterns. (On digits2mnist it changed nothing measurable: experiments/results/cyclegan.md.)

The generators' update scores their fakes with the discriminators of before this step; the
discriminators' update scores the same fakes (made by the generators of before this step), mixed
with past ones by the image pool. That is the authors' order exactly (G step, then D step on the
detached fakes of the same forward pass), so each generator runs forward once on the real images and
its fakes serve both updates. Each generator and discriminator runs on the images of a pass in one
batch (instance norm keeps examples independent): 4 generator and 4 discriminator calls per step.

`crit` is the authors' GANLoss: the plain MSE against 1 / 0 for LSGAN (their default), the binary
cross-entropy otherwise. gan_jax.losses writes least squares with Mao et al.'s factor 1/2; it is
undone here (`criterion_scale`) so that the adversarial terms keep the authors' balance with the
cycle weights.

One optimizer per network. The authors chain G_AB and G_BA's parameters into one Adam (and D_A and
D_B's into another); Adam's update is elementwise with one step count, so that is the same update.
The learning rate is constant, then decays linearly towards 0 over the last `decay_steps` steps (the
authors' 'linear' policy, per step instead of per epoch), as a factor of the update.

Structural switches (`Options`, read from the config once): the loss, which cycle terms exist
(the paper's ablation: both, forward A->B->A only, backward B->A->B only, none = GAN alone), whether
the identity terms exist, and the pool size. The step reads only the fields 'a' and 'b' of its
batch.
"""
import dataclasses
import functools
from typing import Any, Mapping

import jax
import jax.numpy as jnp

from gan_jax import config_checks
from gan_jax import key_streams
from gan_jax import losses
from gan_jax import parallel
from gan_jax import replay
from gan_jax import state as state_lib
from gan_jax.errors import UserError

CYCLE_MODES = ("both", "forward", "backward", "none")
FIELDS = ("a", "b")
GENERATORS = ("g_ab", "g_ba")
DISCRIMINATORS = ("d_a", "d_b")


@dataclasses.dataclass(frozen=True)
class Options:
  """What changes the step's program (equal options: one compiled program for a sweep)."""
  loss: str = "least_squares"
  cycle: str = "both"      # Which cycle terms: both, forward (A->B->A), backward (B->A->B), none.
  identity: bool = True    # The identity terms (sec. 5.2); off: not even computed.
  pool_size: int = 50      # Past fakes per discriminator; 0: the current fakes only.
  num_steps: int = 1       # The run's length and the last `decay_steps` of it, for the lr factor.
  decay_steps: int = 0

  @property
  def forward_cycle(self):
    return self.cycle in ("both", "forward")

  @property
  def backward_cycle(self):
    return self.cycle in ("both", "backward")

  @classmethod
  def from_config(cls, config):
    loss = config.loss
    losses.check_loss_name(loss.name)
    cycle = loss.get("cycle", "both")
    if cycle not in CYCLE_MODES:
      raise UserError(f"loss.cycle={cycle!r} is unknown; allowed: {', '.join(CYCLE_MODES)}")
    pool_size = int(config.get("pool_size", 50))
    if pool_size < 0:
      raise UserError(f"pool_size={pool_size} must be >= 0 (0: no image pool)")
    num_steps = int(config.num_train_steps)
    decay_steps = int(config.get("decay_steps", -1))
    decay_steps = num_steps // 2 if decay_steps < 0 else decay_steps  # -1: the second half.
    config_checks.check_decay_steps("decay_steps", decay_steps, num_steps)
    return cls(loss=loss.name, cycle=cycle, identity=bool(loss.get("identity", True)),
               pool_size=pool_size, num_steps=num_steps, decay_steps=decay_steps)


def hparams_from_config(config):
  loss = config.loss
  return {"cycle_weight_a": loss.get("cycle_weight_a", 10.0),
          "cycle_weight_b": loss.get("cycle_weight_b", 10.0),
          "cycle_noise_std": loss.get("cycle_noise_std", 0.0),
          "identity_weight": loss.get("identity_weight", 0.5),
          "d_loss_weight": loss.get("d_loss_weight", 0.5),
          "pool_swap_prob": config.get("pool_swap_prob", 0.5)}


def l1(x, target):
  """Mean absolute error (PyTorch's L1Loss): the cycle and identity losses."""
  return jnp.mean(jnp.abs(x - target))


def criterion_scale(loss_name):
  """The factor turning gan_jax.losses' terms into the authors' GANLoss: 2 for least squares (whose
  1/2 the authors do not have), 1 for the others."""
  return 2.0 if loss_name == "least_squares" else 1.0


def generator_adversarial_loss(loss_name, fake_logits):
  """crit(D(G(x)), real), as the authors: mean((D - 1)^2) for LSGAN."""
  return criterion_scale(loss_name) * losses.generator_loss(loss_name, fake_logits)


def discriminator_adversarial_loss(loss_name, real_logits, fake_logits):
  """crit(D(real), real) + crit(D(fake), fake), before the halving (d_loss_weight)."""
  return criterion_scale(loss_name) * losses.discriminator_loss(loss_name, real_logits, fake_logits)


def linear_decay(step, num_steps, decay_steps):
  """The learning rate's factor at `step`: 1, then over the last `decay_steps` steps 1 - k / (D + 1)
  at the k-th of them (k = 1 .. D), as the authors' 'linear' policy does per epoch."""
  if decay_steps <= 0:
    return jnp.ones((), jnp.float32)
  k = jnp.maximum(0, step - (num_steps - decay_steps) + 1)
  return 1.0 - k.astype(jnp.float32) / (decay_steps + 1)


def init_state(root_key, models, optimizers, hparams, options, shapes):
  """The initial TrainState: four networks (weights from the init key stream) and two pools.

  `models` / `optimizers`: {'g_ab', 'g_ba', 'd_a', 'd_b'} -> flax module / optax transformation;
  `shapes`: {'a': (H, W, C), 'b': (H, W, C)}.
  """
  keys = dict(zip(GENERATORS + DISCRIMINATORS, jax.random.split(key_streams.init_key(root_key), 4)))
  source = {"g_ab": "a", "g_ba": "b", "d_a": "a", "d_b": "b"}  # The domain each network reads.
  nets = {}
  for name, key in keys.items():
    x = jnp.zeros((1,) + tuple(shapes[source[name]]), jnp.float32)
    nets[name] = state_lib.init_net(models[name].init(key, x, train=False), optimizers[name])
  pool_shapes = {"pool_a": shapes["a"], "pool_b": shapes["b"]}  # Fakes of each domain.
  extras = {name: replay.init(options.pool_size, shape) for name, shape in pool_shapes.items()}
  return state_lib.new_state(nets=nets, hparams=hparams, extras=extras)


@dataclasses.dataclass(frozen=True)
class Setup:
  """What the objectives share besides the state: the options, the four networks by name and the
  device axis (`axis_name`, under pmap)."""
  opts: Options
  models: Mapping[str, Any]
  axis_name: str | None = None


def make_step(options, models, axis_name=None):
  """The pure `step(state, batch, rng) -> (state, metrics)` for `models` (see `init_state`).

  `batch`: {'a': (B, H, W, C_a), 'b': (B, H, W, C_b)} floats in [-1, 1]. `axis_name`: set when the
  step runs per device (shard_map), to average gradients and metrics over it.
  """
  return functools.partial(train_step, Setup(options, models, axis_name))


def train_step(s, state, batch, rng):
  """The authors' optimize_parameters: the generators' objective (backward_G), the discriminators'
  on the pooled fakes of the same pass (backward_D_A, backward_D_B), then every network's update
  at the step's learning-rate factor."""
  real_a, real_b = batch["a"], batch["b"]
  # Every stream of the step from one split: under threefry fold_in(rng, i) is split(rng, n)[i],
  # so a key folded in beside a split would repeat another stream's bits.
  rng_a, rng_b, noise_rng = jax.random.split(rng, 3)
  params = lambda names: {n: parallel.per_device(s.axis_name, state.nets[n].params) for n in names}
  g_params = params(GENERATORS)
  (g_total, (g_terms, fake_a, fake_b)), g_grads = jax.value_and_grad(
      generator_objective, has_aux=True)(g_params, s, state, real_a, real_b, noise_rng)

  # The discriminators see these fakes as fixed inputs, mixed with past ones (sec. 4).
  swap = state.hparams["pool_swap_prob"]
  pooled_a, pool_a = pooled(s, state.extras["pool_a"], fake_a, rng_a, swap)
  pooled_b, pool_b = pooled(s, state.extras["pool_b"], fake_b, rng_b, swap)
  d_params = params(DISCRIMINATORS)
  (_, d_terms), d_grads = jax.value_and_grad(discriminator_objective, has_aux=True)(
      d_params, s, state, real_a, real_b, pooled_a, pooled_b)

  grads = parallel.mean_over(s.axis_name, {**g_grads, **d_grads})
  lr_factor = linear_decay(state.step, s.opts.num_steps, s.opts.decay_steps)
  nets = {name: net.apply_gradients(grads[name], scale=lr_factor)
          for name, net in state.nets.items()}
  metrics = parallel.mean_over(s.axis_name, {"g_loss": g_total, **g_terms, **d_terms,
                                             "lr_factor": lr_factor})
  state = state.replace(step=state.step + 1, nets=nets,
                        extras={**state.extras, "pool_a": pool_a, "pool_b": pool_b})
  return state, metrics


def generator_objective(g_params, s, state, real_a, real_b, noise_key):
  """The generators' loss in their parameters (eq. 3 with the identity terms of sec. 5.2):
  (total, (terms by name, fake A, fake B))."""
  opts, hp = s.opts, state.hparams
  gen = lambda name, x: apply(s, state, name, g_params[name], x)
  disc = lambda name, x: apply(s, state, name, None, x)
  # Instance norm makes every example independent, so each generator takes the images of one
  # pass as one batch: its domain's translations and (identity terms) its own domain's images.
  both = lambda x, y: jnp.concatenate([x, y]) if opts.identity else x
  out_ab, out_ba = gen("g_ab", both(real_a, real_b)), gen("g_ba", both(real_b, real_a))
  fake_b, fake_a = out_ab[:len(real_a)], out_ba[:len(real_b)]
  terms = {"g_adv_ab": generator_adversarial_loss(opts.loss, disc("d_b", fake_b)),
           "g_adv_ba": generator_adversarial_loss(opts.loss, disc("d_a", fake_a))}
  total = terms["g_adv_ab"] + terms["g_adv_ba"]
  key_a, key_b = jax.random.split(noise_key)
  noisy = lambda x, key: x + hp["cycle_noise_std"] * cycle_noise(s, x, key)
  if opts.forward_cycle:
    terms["cycle_a"] = l1(gen("g_ba", noisy(fake_b, key_b)), real_a)
    total += hp["cycle_weight_a"] * terms["cycle_a"]
  if opts.backward_cycle:
    terms["cycle_b"] = l1(gen("g_ab", noisy(fake_a, key_a)), real_b)
    total += hp["cycle_weight_b"] * terms["cycle_b"]
  if opts.identity:
    # A generator given an image of its own output domain should leave it as it is.
    terms["identity_a"] = l1(out_ba[len(real_b):], real_a)
    terms["identity_b"] = l1(out_ab[len(real_a):], real_b)
    total += hp["identity_weight"] * (hp["cycle_weight_a"] * terms["identity_a"]
                                      + hp["cycle_weight_b"] * terms["identity_b"])
  return total, (terms, fake_a, fake_b)


def discriminator_objective(d_params, s, state, real_a, real_b, fake_a, fake_b):
  """The discriminators' loss in their parameters (the authors' backward_D): (total, terms)."""
  terms = {}
  for name, real, fake in (("d_a", real_a, fake_a), ("d_b", real_b, fake_b)):
    # One pass over real and fake images (instance norm: the same as two).
    logits = apply(s, state, name, d_params[name], jnp.concatenate([real, fake]))
    real_logits, fake_logits = logits[:len(real)], logits[len(real):]
    terms[f"{name}_loss"] = state.hparams["d_loss_weight"] * discriminator_adversarial_loss(
        s.opts.loss, real_logits, fake_logits)
    terms[f"{name}_real"] = jnp.mean(real_logits)
    terms[f"{name}_fake"] = jnp.mean(fake_logits)
  return terms["d_a_loss"] + terms["d_b_loss"], terms


def pooled(s, pool, fakes, key, swap):
  """The fakes a discriminator sees, mixed with past ones by the image pool, and the pool after
  them. Under pmap the pool takes the global batch's fakes, so that it stays the same on every
  device (and equal to one device's), and each device's D sees its rows of what it returns."""
  fakes = parallel.all_rows(s.axis_name, jax.lax.stop_gradient(fakes))
  images, pool = replay.pool_query(pool, fakes, key, swap)
  return parallel.device_rows(s.axis_name, images), pool


def cycle_noise(s, x, key):
  """Unit Gaussian noise the shape of `x`; under pmap, this device's rows of the global batch's."""
  rows = x.shape[0] * (1 if s.axis_name is None else jax.lax.axis_size(s.axis_name))
  noise = jax.random.normal(key, (rows,) + x.shape[1:], x.dtype)
  return parallel.device_rows(s.axis_name, noise)


def apply(s, state, name, params, x):
  """Network `name` in training mode, with `params` in place of its own if given."""
  return s.models[name].apply(state.nets[name].variables(params), x, train=True)
