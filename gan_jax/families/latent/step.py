"""The latent family's state and pure train step (z -> G -> x, D(x)): the API research code imports.

    state = init_state(config, generator, discriminator, rng, example_x)
    train_step = make_step(config, generator, discriminator)
    state, metrics = jax.jit(train_step, donate_argnums=0)(state, batch, rng)

One step is `config.n_critic` discriminator updates followed by one generator update, the loop of
WGAN's code and of the usual PyTorch GAN, in phases that are functions of their own (`train_step`
composes them):

  critic_updates  D updates 1 .. n_critic - 1, each on fakes of its own
  g_forward       G's forward pass on fresh latents, kept for its backward pass (one `jax.vjp`)
  d_update        the last D update, on those fakes (so n_critic=1 runs G forward once per step):
                  D's loss (d_loss) and penalties (d_penalties) on its inputs (d_inputs: replayed
                  fakes, instance noise), then weight clipping
  g_update        G's loss against the updated D, or against D unrolled `unrolled_steps` ahead
                  (unrolled_d_params), pulled back through the kept forward pass; then G's average

The batch holds `n_critic * batch_size` real examples ({'x': (n_critic*B, ...), 'label':
(n_critic*B,)}); critic update i uses rows i, i + n_critic, ... (real_slices) so each update sees
fresh real data and a batch sharded over devices stays sharded.

The state (gan_jax.state.TrainState) holds the networks 'g' and 'd', and `ema['g']` (G's averaged
weights and batch-norm statistics) when `ema.decay` > 0. Numeric hyper-parameters the step reads
(learning rates inside the optimizer states, loss weights in `state.hparams`) are arrays in the
state, so a stack of states with different values trains together under `jax.vmap`. Structural
switches (which penalties exist, unroll depth, buffer size) are read from the config once, into
`Options`, when the step is built.

Stability tricks (all off by default; docs/variants.md has the table):
  loss.label_smoothing / label_noise / label_flip_prob    D's targets (losses.discriminator_targets)
  loss.gp_weight / r1_gamma / dragan_weight               input-gradient penalties (regularizers)
  loss.clip_value                                         WGAN weight clipping after each D update
  loss.instance_noise / instance_noise_steps              noise on D's inputs, annealed to 0
  replay.size / replay.fraction                           fakes replayed from a ring buffer (replay)
  unrolled_steps                                          G's loss against D unrolled k steps ahead
  ema.decay / ema.start_step                              EMA of G for sampling and evaluation
  loss.drift_weight                                       ProGAN's drift term eps * E[D(x_real)^2]
  model.*                                                 SN, packing, minibatch features (models)

Progressive growing (model.name='progan' with model.progressive, gan_jax.progressive): the step of
`stage` trains at resolution 4 * 2**stage; the networks get `stage` and `alpha` (a function of the
step) and the real images are resized and faded in as G's output is.
"""
import dataclasses
import functools
from typing import Any

import jax
import jax.numpy as jnp
import optax

from gan_jax import key_streams
from gan_jax import losses
from gan_jax import parallel
from gan_jax import progressive
from gan_jax import regularizers
from gan_jax import resample
from gan_jax import replay
from gan_jax import state as state_lib
from gan_jax.errors import UserError


@dataclasses.dataclass(frozen=True)
class Options:
  """The step's structure, read from the config once: two configs with equal options compile to
  one program (a sweep trains their members together); the numbers live in the state."""
  loss: str
  n_critic: int = 1
  gradient_penalty: bool = False
  r1: bool = False
  dragan: bool = False
  drift: bool = False
  clip_weights: bool = False
  instance_noise: bool = False
  replay_size: int = 0
  unrolled_steps: int = 0
  # Minibatch features compare samples within a batch: real and fake must then go through D apart.
  separate_d_calls: bool = False
  ema: bool = False
  ema_start_step: int = 0

  @classmethod
  def from_config(cls, config):
    loss, model = config.loss, config.model
    losses.check_loss_name(loss.name)
    if config.n_critic < 1:
      raise UserError(f"n_critic={config.n_critic} must be >= 1")
    ema = config.get("ema", {})
    return cls(
        loss=loss.name, n_critic=config.n_critic,
        gradient_penalty=loss.get("gp_weight", 0.0) > 0, r1=loss.get("r1_gamma", 0.0) > 0,
        dragan=loss.get("dragan_weight", 0.0) > 0, clip_weights=loss.get("clip_value", 0.0) > 0,
        drift=loss.get("drift_weight", 0.0) > 0,
        instance_noise=loss.get("instance_noise", 0.0) > 0,
        replay_size=config.get("replay", {}).get("size", 0),
        unrolled_steps=config.get("unrolled_steps", 0),
        separate_d_calls=(model.get("minibatch_kernels", 0) > 0
                          or model.get("minibatch_std", False) or model.name == "progan"),
        ema=ema.get("decay", 0.0) > 0, ema_start_step=ema.get("start_step", 0))


def hparams_from_config(config):
  """The loss hyper-parameters the step reads from the state, from the config."""
  loss = config.loss
  return {
      "label_smoothing": loss.get("label_smoothing", 0.0),
      "label_noise": loss.get("label_noise", 0.0),
      "label_flip_prob": loss.get("label_flip_prob", 0.0),
      "gp_weight": loss.get("gp_weight", 0.0),
      "r1_gamma": loss.get("r1_gamma", 0.0),
      "dragan_weight": loss.get("dragan_weight", 0.0),
      "drift_weight": loss.get("drift_weight", 0.0),
      "clip_value": loss.get("clip_value", 0.0),
      "instance_noise": loss.get("instance_noise", 0.0),
      "instance_noise_steps": loss.get("instance_noise_steps", 0),
      "replay_fraction": config.get("replay", {}).get("fraction", 0.0),
      "ema_decay": config.get("ema", {}).get("decay", 0.0),
  }


def make_optimizers(config):
  """G's and D's optimizers ({'g', 'd'}), from `config.g_optimizer` / `config.d_optimizer`."""
  return {"g": state_lib.make_optimizer(config.g_optimizer, "g"),
          "d": state_lib.make_optimizer(config.d_optimizer, "d")}


def latent_and_labels(config, num_classes, rng, batch_size):
  """Latent vectors z ~ N(0, I) and uniform class labels for a batch of fakes."""
  return latents(config.model.latent_dim, num_classes, rng, batch_size)


def latents(latent_dim, num_classes, rng, batch_size):
  """`latent_and_labels` for latents of `latent_dim` entries."""
  z_rng, label_rng = jax.random.split(rng)
  z = jax.random.normal(z_rng, (batch_size, latent_dim))
  labels = (jax.random.randint(label_rng, (batch_size,), 0, num_classes) if num_classes
            else jnp.zeros((batch_size,), jnp.int32))
  return z, labels


def init_state(config, generator, discriminator, rng, example_x, num_stages=None):
  """Initial state. `example_x` is one real batch's 'x' (any batch size) giving the data shape.

  `rng`: the run's root key; the weights come from its init stream (gan_jax.key_streams).
  `num_stages`: progressive growing, with every stage's parameters from the start.
  """
  g_rng, d_rng, drop_rng = jax.random.split(key_streams.init_key(rng), 3)
  # A packing D (PacGAN) needs a multiple of `pack` examples.
  example_x = jnp.tile(example_x, (config.model.get("pack", 1),) + (1,) * (example_x.ndim - 1))
  n = example_x.shape[0]
  z, labels = latent_and_labels(config, generator.num_classes, g_rng, n)
  d_rngs = {"params": d_rng, "dropout": drop_rng}
  if num_stages is None:
    g_vars = generator.init(g_rng, z, labels, train=False)
    d_vars = discriminator.init(d_rngs, example_x, labels, train=False)
  else:
    g_vars = progressive.init_all_stages(generator, g_rng, z, labels, train=False,
                                         num_stages=num_stages)
    d_vars = progressive.init_all_stages(discriminator, d_rngs, example_x, labels, train=False,
                                         num_stages=num_stages)
  txs = make_optimizers(config)
  nets = {"g": state_lib.init_net(g_vars, txs["g"]), "d": state_lib.init_net(d_vars, txs["d"])}
  ema = {}
  if Options.from_config(config).ema:
    # G's batch-norm running statistics are averaged with its weights: the live statistics would
    # not match the averaged weights' activations (BigGAN's EMA averages both).
    ema = {"g": jax.tree.map(jnp.copy, {"params": nets["g"].params,
                                        "batch_stats": nets["g"].collections.get("batch_stats",
                                                                                 {})})}
  return state_lib.new_state(nets, hparams_from_config(config), ema=ema,
                             extras=init_extras(config, example_x.shape[1:]))


def init_extras(config, sample_shape):
  """State of the optional components: the replay buffer when `replay.size` > 0."""
  size = config.get("replay", {}).get("size", 0)
  return {"replay": replay.init(size, sample_shape)} if size > 0 else {}


@dataclasses.dataclass(frozen=True)
class Setup:
  """What the phases share besides the state: the options, the networks, the latent size, the
  device axis (`axis_name`, under pmap) and, while ProGAN grows, the stage and its schedule."""
  opts: Options
  generator: Any
  discriminator: Any
  latent_dim: int
  axis_name: str | None = None
  stage: int | None = None
  schedule: Any = None


def make_step(config, generator, discriminator, axis_name=None, stage=None, schedule=None):
  """Returns the pure `train_step(state, batch, rng) -> (state, metrics)`.

  `axis_name`: set when the step runs under `jax.pmap` (or `shard_map`) to average gradients, batch
  statistics and metrics over that axis. Under `jax.jit` with sharded arrays leave it None.
  `schedule` (progressive.Schedule): the step of `stage` of progressive growing.
  """
  opts = Options.from_config(config)
  if schedule is not None and opts.replay_size:
    raise UserError("replay.size > 0 with progressive growing is not supported (the fakes' "
                    "resolution changes); set replay.size=0 or model.progressive=False")
  return functools.partial(train_step, Setup(opts, generator, discriminator,
                                            config.model.latent_dim, axis_name, stage, schedule))


def train_step(s, state, batch, rng):
  """n_critic - 1 critic updates on fakes of their own; G's forward pass, kept for its backward
  pass; the last critic update on those fakes; G's update against the updated D, and its average."""
  real_x, real_y = real_slices(s, batch, state.step)
  step_rngs = jax.random.split(rng, s.opts.n_critic + 1)
  state = critic_updates(s, state, real_x, real_y, step_rngs)
  z_rng, d_rng, g_drop_rng, g_noise_rng = jax.random.split(step_rngs[-1], 4)
  d_rng, g_drop_rng, g_noise_rng = (device_rng(s, k) for k in (d_rng, g_drop_rng, g_noise_rng))
  z, fake_y = fakes_input(s, z_rng, real_x.shape[0])
  fake, g_vjp, g_collections = g_forward(s, state, z, fake_y)
  real, real_labels = real_x[:, -1], real_y[:, -1]
  state, metrics = d_update(s, state, real, real_labels, jax.lax.stop_gradient(fake), fake_y,
                            d_rng)
  state, g_metrics = g_update(s, state, (fake, g_vjp, g_collections), fake_y, real, real_labels,
                              g_drop_rng, g_noise_rng)
  metrics.update(g_metrics)
  if s.schedule is not None:
    metrics["alpha"] = s.schedule.alpha(s.stage, state.step)
  return state.replace(step=state.step + 1), mean_over(s, metrics)


def real_slices(s, batch, step):
  """The real batch as (B, n_critic, ...): critic update i reads column i, rows i, i + n_critic,
  ... of the batch, so a batch sharded over devices stays sharded. While ProGAN grows, the images
  at the stage's resolution and fade-in."""
  real_x = batch["x"]
  if s.schedule is not None:
    real_x = progressive.real_images(real_x, s.stage, s.schedule.alpha(s.stage, step),
                                     resample.upsample_nearest)
  real_x = real_x.reshape((-1, s.opts.n_critic) + real_x.shape[1:])
  return real_x, batch["label"].reshape((-1, s.opts.n_critic))


def critic_updates(s, state, real_x, real_y, step_rngs):
  """Critic updates 1 .. n_critic - 1 (WGAN's inner loop), each on fresh fakes of the current G and
  column i of the real batch, with the key `step_rngs[i]`."""
  if s.opts.n_critic == 1:
    return state

  def one(state, i):
    z_rng, d_rng = jax.random.split(step_rngs[i])
    z, fake_y = fakes_input(s, z_rng, real_x.shape[0])
    g = state.nets["g"]
    fake, g_collections = generate(s, g, g.params, z, fake_y, state.step)
    state = with_g_collections(state, g_collections)
    return d_update(s, state, real_x[:, i], real_y[:, i], fake, fake_y, device_rng(s, d_rng))
  state, _ = parallel.scan(one, state, jnp.arange(s.opts.n_critic - 1),
                           unroll=parallel.unroll_on_cpu(state.nets["d"].params))
  return state


def d_update(s, state, real, real_labels, fake, fake_labels, rng):
  """One critic update on a real and a (constant) fake batch: replayed fakes and instance noise
  on its inputs, D's loss and penalties, weight clipping after the update."""
  drop_rng, gp_rng, target_rng, noise_rng, replay_rng = jax.random.split(rng, 5)
  real, fake, fake_labels, extras = d_inputs(s, state, real, fake, fake_labels, noise_rng,
                                             replay_rng)
  d = state.nets["d"]

  def loss_fn(params):
    return d_objective(s, state, params, real, real_labels, fake, fake_labels,
                       (drop_rng, gp_rng, target_rng))

  grads, (d_collections, real_logits, fake_logits, aux) = jax.grad(loss_fn, has_aux=True)(
      per_device(s, d.params))
  grads = mean_over(s, grads)
  d = d.apply_gradients(grads)
  if s.opts.clip_weights:  # WGAN's Lipschitz constraint by weight clipping (Arjovsky et al.).
    d = d.replace(params=regularizers.clip_weights(d.params, state.hparams["clip_value"]))
  if s.opts.instance_noise:
    aux["instance_noise"] = noise_std(state)
  metrics = d_metrics(s, aux, real_logits, fake_logits, grads)
  state = state.replace(nets={**state.nets, "d": d.replace(collections=d_collections)},
                        extras=extras)
  return state, metrics


def d_inputs(s, state, real, fake, fake_labels, noise_rng, replay_rng):
  """D's inputs: the fakes mixed with replayed past ones (whose buffer takes the new ones), and
  instance noise on both batches. Returns (real, fake, fake_labels, extras)."""
  extras = state.extras
  if s.opts.replay_size:
    buffer = extras["replay"]
    extras = dict(extras, replay=replay.push(buffer, fake, fake_labels))
    fake, fake_labels = replay.mix(buffer, fake, fake_labels, replay_rng,
                                   state.hparams["replay_fraction"])
  if s.opts.instance_noise:
    real_noise_rng, fake_noise_rng = jax.random.split(noise_rng)
    std = noise_std(state)
    real = regularizers.add_instance_noise(real, std, real_noise_rng)
    fake = regularizers.add_instance_noise(fake, std, fake_noise_rng)
  return real, fake, fake_labels, extras


def d_objective(s, state, params, real, real_labels, fake, fake_labels, rngs):
  """D's loss with its penalties, in D's parameters: (loss, (collections, real logits, fake
  logits, the terms by name))."""
  drop_rng, gp_rng, target_rng = rngs
  d = state.nets["d"]
  loss, (d_collections, real_logits, fake_logits) = d_loss(
      s, d, params, state.hparams, real, real_labels, fake, fake_labels, drop_rng, target_rng,
      state.step)
  d_fn = lambda x: discriminate(s, d, params, x, real_labels, drop_rng, state.step)[0]
  total, terms = d_penalties(s, state.hparams, d_fn, loss, real, fake, real_logits, gp_rng)
  return total, (d_collections, real_logits, fake_logits, {"d_loss": loss, **terms})


def d_loss(s, d, params, hparams, real, real_labels, fake, fake_labels, drop_rng, target_rng,
           step):
  """D's loss (without penalties) on a real and a fake batch: (loss, (collections, real logits,
  fake logits))."""
  if s.opts.separate_d_calls:
    real_logits, _ = discriminate(s, d, params, real, real_labels, drop_rng, step)
    fake_logits, d_collections = discriminate(s, d, params, fake, fake_labels,
                                              jax.random.fold_in(drop_rng, 1), step)
  else:
    # Real and fake go through D in one call, so dropout and BN (if any) see both.
    logits, d_collections = discriminate(
        s, d, params, jnp.concatenate([real, fake]), jnp.concatenate([real_labels, fake_labels]),
        drop_rng, step)
    real_logits, fake_logits = jnp.split(logits, 2)
  real_target, fake_target = losses.discriminator_targets(
      target_rng, real_logits.shape, hparams["label_smoothing"], hparams["label_noise"],
      hparams["label_flip_prob"])
  loss = losses.discriminator_loss(s.opts.loss, real_logits, fake_logits, real_target,
                                   fake_target)
  return loss, (d_collections, real_logits, fake_logits)


def d_penalties(s, hparams, d_fn, loss, real, fake, real_logits, gp_rng):
  """`loss` plus the input-gradient penalties the options switch on and ProGAN's drift term, each
  weighted from `hparams`: (total, the terms by name)."""
  aux = {}
  if s.opts.gradient_penalty:
    penalty = regularizers.gradient_penalty(d_fn, real, fake, gp_rng)
    loss = loss + hparams["gp_weight"] * penalty
    aux["gradient_penalty"] = penalty
  if s.opts.r1:
    penalty = regularizers.r1_penalty(d_fn, real)
    loss = loss + 0.5 * hparams["r1_gamma"] * penalty
    aux["r1_penalty"] = penalty
  if s.opts.dragan:
    penalty = regularizers.dragan_penalty(d_fn, real, jax.random.fold_in(gp_rng, 1))
    loss = loss + hparams["dragan_weight"] * penalty
    aux["dragan_penalty"] = penalty
  if s.opts.drift:  # ProGAN (sec. A.1): keeps the critic's outputs near 0.
    drift = jnp.mean(jnp.square(real_logits))
    loss = loss + hparams["drift_weight"] * drift
    aux["drift"] = drift
  return loss, aux


def d_metrics(s, aux, real_logits, fake_logits, grads):
  """The critic update's metrics: its loss terms, D's mean scores (probabilities for the
  probabilistic losses), its accuracies and gradient norm."""
  probabilistic = losses.is_probabilistic(s.opts.loss)
  threshold = 0.5 if s.opts.loss == "least_squares" else 0.0
  score = jax.nn.sigmoid if probabilistic else (lambda v: v)
  return dict(aux,
              d_real=score(real_logits).mean(), d_fake=score(fake_logits).mean(),
              d_acc_real=(real_logits > threshold).mean(),
              d_acc_fake=(fake_logits < threshold).mean(),
              d_grad_norm=optax.tree.norm(grads))


def g_forward(s, state, z, labels):
  """G's forward pass on (z, labels), kept for its backward pass: (fakes, vjp, G's collections)."""
  g = state.nets["g"]
  return jax.vjp(lambda p: generate(s, g, p, z, labels, state.step), per_device(s, g.params),
                 has_aux=True)


def g_update(s, state, forward, fake_labels, real, real_labels, drop_rng, noise_rng):
  """G's update: its loss against the (just updated) D, or against D unrolled `unrolled_steps`
  ahead, pulled back through the kept forward pass `forward` = (fakes, vjp, collections); then
  G's average."""
  fake, g_vjp, g_collections = forward

  def loss_fn(fake_x):
    params = state.nets["d"].params
    if s.opts.unrolled_steps:
      params = unrolled_d_params(s, state, real, real_labels, fake_x, fake_labels,
                                 jax.random.fold_in(drop_rng, 1))
    if s.opts.instance_noise:  # G is scored by the D it fools: one that sees noisy inputs.
      fake_x = regularizers.add_instance_noise(fake_x, noise_std(state), noise_rng)
    logits, _ = discriminate(s, state.nets["d"], params, fake_x, fake_labels, drop_rng,
                             state.step)
    return losses.generator_loss(s.opts.loss, logits)

  g_loss, fake_grad = jax.value_and_grad(loss_fn)(fake)
  (grads,) = g_vjp(fake_grad)
  grads = mean_over(s, grads)
  g = state.nets["g"].apply_gradients(grads).replace(collections=g_collections)
  state = state.replace(nets={**state.nets, "g": g}, ema=ema_update(s, state, g))
  return state, {"g_loss": g_loss, "g_grad_norm": optax.tree.norm(grads)}


def unrolled_d_params(s, state, real, real_labels, fake, fake_labels, rng):
  """D's parameters after `unrolled_steps` plain updates on (real, fake), differentiable in fake
  (Metz et al. 2017): the same real batch and D's own optimizer, no penalties or clipping."""
  d = state.nets["d"]

  def one(carry, i):
    params, opt_state = carry
    drop_rng, target_rng = jax.random.split(jax.random.fold_in(rng, i))
    grads = jax.grad(lambda p: d_loss(
        s, d, p, state.hparams, real, real_labels, fake, fake_labels, drop_rng, target_rng,
        state.step)[0])(per_device(s, params))
    updates, opt_state = d.tx.update(mean_over(s, grads), opt_state, params)
    return (optax.apply_updates(params, updates), opt_state), None
  opt_state = d.opt_state
  if "eps_root" in opt_state.hyperparams:
    # Adam's sqrt(v) has an infinite derivative where a gradient is exactly 0 (ReLU, maxout);
    # optax's eps_root keeps the differentiated updates finite.
    opt_state = opt_state._replace(hyperparams=dict(
        opt_state.hyperparams, eps_root=jnp.maximum(opt_state.hyperparams["eps_root"], 1e-16)))
  (params, _), _ = parallel.scan(one, (d.params, opt_state), jnp.arange(s.opts.unrolled_steps),
                                 unroll=parallel.unroll_on_cpu(d.params))
  return params


def ema_update(s, state, g):
  """G's average after G's update to `g` (weights and batch-norm statistics); before
  `ema.start_step` it tracks G (decay 0)."""
  if not s.opts.ema:
    return state.ema
  decay = jnp.where(state.step >= s.opts.ema_start_step, state.hparams["ema_decay"], 0.0)
  return {"g": regularizers.ema_update(
      state.ema["g"], {"params": g.params, "batch_stats": g.collections.get("batch_stats", {})},
      decay)}


def generate(s, g, params, z, labels, step):
  """G's output in training mode and its updated collections (batch statistics averaged over
  devices)."""
  out, updates = s.generator.apply(g.variables(params), z, labels, train=True,
                                   mutable=list(g.collections), **growth(s, step))
  return out, mean_over(s, dict(updates))


def discriminate(s, d, params, x, labels, rng, step):
  """D's logits in training mode (dropout from `rng`) and its updated collections."""
  logits, updates = s.discriminator.apply(d.variables(params), x, labels, train=True,
                                          rngs={"dropout": rng}, mutable=list(d.collections),
                                          **growth(s, step))
  return logits, mean_over(s, dict(updates))


def growth(s, step):
  """The networks' stage and fade-in at `step` (nothing without progressive growing)."""
  if s.schedule is None:
    return {}
  return {"stage": s.stage, "alpha": s.schedule.alpha(s.stage, step)}


def fakes_input(s, z_rng, b):
  """Latents and labels for `b` fakes. Per device (pmap) they are this device's rows of the global
  batch's, so a run gives the same result on any number of devices."""
  num_classes = s.generator.num_classes
  if s.axis_name is None:
    return latents(s.latent_dim, num_classes, z_rng, b)
  n, i = jax.lax.axis_size(s.axis_name), jax.lax.axis_index(s.axis_name)
  z, y = latents(s.latent_dim, num_classes, z_rng, b * n)
  return jax.lax.dynamic_slice_in_dim(z, i * b, b), jax.lax.dynamic_slice_in_dim(y, i * b, b)


def device_rng(s, key):
  """Dropout, penalties and label noise: independent draws on each device."""
  return key if s.axis_name is None else jax.random.fold_in(key, jax.lax.axis_index(s.axis_name))


def with_g_collections(state, g_collections):
  return state.replace(nets={**state.nets,
                             "g": state.nets["g"].replace(collections=g_collections)})


def noise_std(state):
  """The instance noise's standard deviation at the state's step (annealed to 0)."""
  h = state.hparams
  return regularizers.instance_noise_std(state.step, h["instance_noise"],
                                         h["instance_noise_steps"])


def mean_over(s, tree):
  return parallel.mean_over(s.axis_name, tree)


def per_device(s, params):
  return parallel.per_device(s.axis_name, params)


def sample_variables(state, use_ema=True):
  """G's variables for sampling: with use_ema (and an average in the state), the averaged weights
  and their averaged batch-norm statistics."""
  g = state.nets["g"]
  variables = g.variables()
  if use_ema and "g" in state.ema:
    variables["params"] = state.ema["g"]["params"]
    if "batch_stats" in variables:
      variables["batch_stats"] = state.ema["g"]["batch_stats"]
  return variables


def make_sample_fn(generator, use_ema=True, schedule=None):
  """sample(state, z, labels) -> generated data in eval mode (running BN statistics); with
  use_ema, from the averaged weights and their averaged statistics.

  With a progressive `schedule`: at the stage and fade-in of the state's step, upsampled (nearest)
  to the full resolution; the returned function is then compiled per stage, not to be jitted."""
  def sample(state, z, labels, stage=None, alpha=1.0):
    kwargs = {} if stage is None else {"stage": stage, "alpha": alpha}
    return generator.apply(sample_variables(state, use_ema), z, labels, train=False, **kwargs)
  if schedule is None:
    return lambda state, z, labels: sample(state, z, labels)
  compiled = jax.jit(sample, static_argnums=3)

  def sample_at_stage(state, z, labels):
    step = int(jax.device_get(state.step))
    stage = schedule.stage_at(step)
    images = compiled(state, z, labels, stage, schedule.alpha(stage, step))
    return resample.upsample_nearest(images, generator.resolution // images.shape[1])
  return sample_at_stage
