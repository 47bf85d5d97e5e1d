"""The GAN training state and the pure train step: the API research code imports.

    state = create_train_state(config, generator, discriminator, rng, example_batch)
    train_step = make_train_step(config, generator, discriminator)
    state, metrics = jax.jit(train_step, donate_argnums=0)(state, batch, rng)

One step is `config.n_critic` discriminator updates followed by one generator update. The batch holds
`n_critic * batch_size` real examples ({'x': (n_critic*B, ...), 'label': (n_critic*B,)}); critic update i
uses rows i, i + n_critic, ... so each update sees fresh real data and a batch sharded over devices
stays sharded. The generator forward pass of the generator update is reused as the fake batch of the
last critic update (one `jax.vjp`), so n_critic=1 runs G forward once per step, as the usual PyTorch
loop does.

Numeric hyper-parameters the step reads (learning rates inside the optimizer states, loss weights in
`state.hparams`) are arrays in the state, so a stack of states with different values can be trained
together under `jax.vmap`. Structural switches (which penalties exist, unroll depth, buffer size) are
read from the config when the step is built.

Stability tricks (all off by default; docs/variants.md has the table):
  loss.label_smoothing / label_noise / label_flip_prob    D's targets (losses.discriminator_targets)
  loss.gp_weight / r1_gamma / dragan_weight               input-gradient penalties (regularizers)
  loss.clip_value                                         WGAN weight clipping after each D update
  loss.instance_noise / instance_noise_steps              noise on D's inputs, annealed to 0
  replay.size / replay.fraction                           fakes replayed from a ring buffer (replay)
  unrolled_steps                                          G's loss against D unrolled k steps ahead
  ema.decay / ema.start_step                              EMA of G for sampling and evaluation
  model.*                                                 SN, packing, minibatch features (models)
"""
from typing import Any

import flax
import jax
import jax.numpy as jnp
import optax

from gan_jax import key_streams
from gan_jax import losses
from gan_jax import regularizers
from gan_jax import replay
from gan_jax.errors import UserError

PyTree = Any


@flax.struct.dataclass
class GANState:
  step: jax.Array
  g_params: PyTree
  d_params: PyTree
  g_collections: PyTree  # G's other variable collections (batch_stats, ...).
  d_collections: PyTree  # D's other variable collections (spectral-norm vectors, ...).
  g_opt_state: PyTree
  d_opt_state: PyTree
  ema_g_params: PyTree   # Exponential moving average of g_params (a copy of them when EMA is off).
  # The same average of G's batch-norm running statistics ({} without batch norm): the live
  # statistics would not match the averaged weights' activations (BigGAN's EMA averages both).
  ema_g_batch_stats: PyTree
  hparams: dict          # Numeric hyper-parameters of the losses, as arrays (vmappable for sweeps).
  extras: dict           # State of optional components (replay buffer, ...).


_OPTIMIZERS = {
    "adam": lambda c: optax.inject_hyperparams(optax.adam)(
        learning_rate=c.learning_rate, b1=c.get("b1", 0.9), b2=c.get("b2", 0.999),
        eps=c.get("eps", 1e-8), eps_root=c.get("eps_root", 0.0)),
    "rmsprop": lambda c: optax.inject_hyperparams(optax.rmsprop)(
        learning_rate=c.learning_rate, decay=c.get("decay", 0.99), eps=c.get("eps", 1e-8)),
    "sgd": lambda c: optax.inject_hyperparams(optax.sgd)(
        learning_rate=c.learning_rate, momentum=c.get("momentum", 0.0) or None),
}


def make_optimizer(opt_config, which):
  """An optax optimizer whose hyper-parameters live in its state (`inject_hyperparams`)."""
  if opt_config.name not in _OPTIMIZERS:
    raise UserError(f"{which}_optimizer.name={opt_config.name!r} is unknown; allowed: "
                    f"{', '.join(_OPTIMIZERS)}")
  return _OPTIMIZERS[opt_config.name](opt_config)


def default_hparams(config):
  """The loss hyper-parameters the step reads from the state, from the config."""
  loss = config.loss
  return {
      "label_smoothing": loss.get("label_smoothing", 0.0),
      "label_noise": loss.get("label_noise", 0.0),
      "label_flip_prob": loss.get("label_flip_prob", 0.0),
      "gp_weight": loss.get("gp_weight", 0.0),
      "r1_gamma": loss.get("r1_gamma", 0.0),
      "dragan_weight": loss.get("dragan_weight", 0.0),
      "clip_value": loss.get("clip_value", 0.0),
      "instance_noise": loss.get("instance_noise", 0.0),
      "instance_noise_steps": loss.get("instance_noise_steps", 0),
      "replay_fraction": config.get("replay", {}).get("fraction", 0.0),
      "ema_decay": config.get("ema", {}).get("decay", 0.0),
  }


def latent_and_labels(config, num_classes, rng, batch_size):
  """Latent vectors z ~ N(0, I) and uniform class labels for a batch of fakes."""
  z_rng, label_rng = jax.random.split(rng)
  z = jax.random.normal(z_rng, (batch_size, config.model.latent_dim))
  labels = (jax.random.randint(label_rng, (batch_size,), 0, num_classes) if num_classes
            else jnp.zeros((batch_size,), jnp.int32))
  return z, labels


def create_train_state(config, generator, discriminator, rng, example_x):
  """Initial state. `example_x` is one real batch's 'x' (any batch size) giving the data shape.

  `rng`: the run's root key; the weights come from its init stream (gan_jax.key_streams).
  """
  g_rng, d_rng, drop_rng = jax.random.split(key_streams.init_key(rng), 3)
  # A packing D (PacGAN) needs a multiple of `pack` examples.
  example_x = jnp.tile(example_x, (config.model.get("pack", 1),) + (1,) * (example_x.ndim - 1))
  n = example_x.shape[0]
  z, labels = latent_and_labels(config, generator.num_classes, g_rng, n)
  g_vars = generator.init(g_rng, z, labels, train=False)
  d_vars = discriminator.init({"params": d_rng, "dropout": drop_rng}, example_x, labels,
                              train=False)
  g_collections, d_collections = dict(g_vars), dict(d_vars)
  g_params, d_params = g_collections.pop("params"), d_collections.pop("params")
  g_tx = make_optimizer(config.g_optimizer, "g")
  d_tx = make_optimizer(config.d_optimizer, "d")
  hparams = jax.tree.map(lambda v: jnp.asarray(v, jnp.float32), default_hparams(config))
  return GANState(
      step=jnp.zeros((), jnp.int32),
      g_params=g_params, d_params=d_params,
      g_collections=g_collections, d_collections=d_collections,
      g_opt_state=g_tx.init(g_params), d_opt_state=d_tx.init(d_params),
      ema_g_params=jax.tree.map(jnp.copy, g_params),
      ema_g_batch_stats=jax.tree.map(jnp.copy, g_collections.get("batch_stats", {})),
      hparams=hparams,
      extras=init_extras(config, example_x.shape[1:]))


def init_extras(config, sample_shape):
  """State of the optional components: the replay buffer when `replay.size` > 0."""
  size = config.get("replay", {}).get("size", 0)
  return {"replay": replay.init(size, sample_shape)} if size > 0 else {}


def unroll_on_cpu(params):
  """Whether a loop whose body trains `params` should be unrolled: on the CPU backend, when they
  hold a 2D convolution's kernel (rank 4). XLA:CPU runs convolution weight gradients many times
  slower inside a while loop (jax#12868): DCGAN-28 trained at 0.07 steps/s in a `lax.scan` and
  0.46 unrolled on 2 cores (experiments/bench_train_step.py). Dense models keep their loops:
  unrolled, gan_mlp's 50 steps per call compiled in 100 s instead of 9 s."""
  return jax.default_backend() == "cpu" and any(
      jnp.ndim(p) >= 4 for p in jax.tree.leaves(params))


def _mean_over(axis_name, tree):
  return tree if axis_name is None else jax.lax.pmean(tree, axis_name)


def _per_device(axis_name, params):
  """`params` to differentiate per device. Under shard_map the gradient of a replicated input is
  already summed over devices, and the pmean after it would keep that sum (N times the mean
  gradient); the gradient of a device-varying copy is this device's own, which pmean averages."""
  return params if axis_name is None else jax.lax.pcast(params, axis_name, to="varying")


def make_train_step(config, generator, discriminator, axis_name=None):
  """Returns the pure `train_step(state, batch, rng) -> (state, metrics)`.

  `axis_name`: set when the step runs under `jax.pmap` (or `shard_map`) to average gradients, batch
  statistics and metrics over that axis. Under `jax.jit` with sharded arrays leave it None.
  """
  loss_name = config.loss.name
  losses.check_loss_name(loss_name)
  n_critic = config.n_critic
  if n_critic < 1:
    raise UserError(f"n_critic={n_critic} must be >= 1")
  use_gp = config.loss.get("gp_weight", 0.0) > 0
  use_r1 = config.loss.get("r1_gamma", 0.0) > 0
  use_dragan = config.loss.get("dragan_weight", 0.0) > 0
  use_clip = config.loss.get("clip_value", 0.0) > 0
  use_instance_noise = config.loss.get("instance_noise", 0.0) > 0
  use_replay = config.get("replay", {}).get("size", 0) > 0
  unrolled_steps = config.get("unrolled_steps", 0)
  # Minibatch features compare samples within a batch: real and fake must then go through D apart.
  separate_d_calls = (config.model.get("minibatch_kernels", 0) > 0
                      or config.model.get("minibatch_std", False))
  use_ema = config.get("ema", {}).get("decay", 0.0) > 0
  ema_start = config.get("ema", {}).get("start_step", 0)
  probabilistic = losses.is_probabilistic(loss_name)
  accuracy_threshold = 0.5 if loss_name == "least_squares" else 0.0
  num_classes = generator.num_classes
  g_tx = make_optimizer(config.g_optimizer, "g")
  d_tx = make_optimizer(config.d_optimizer, "d")

  def generate(g_params, g_collections, z, labels):
    out, updates = generator.apply({"params": g_params, **g_collections}, z, labels, train=True,
                                   mutable=list(g_collections))
    return out, _mean_over(axis_name, dict(updates))

  def discriminate(d_params, d_collections, x, labels, rng):
    logits, updates = discriminator.apply({"params": d_params, **d_collections}, x, labels,
                                          train=True, rngs={"dropout": rng},
                                          mutable=list(d_collections))
    return logits, _mean_over(axis_name, dict(updates))

  def noise_std(state):
    h = state.hparams
    return regularizers.instance_noise_std(state.step, h["instance_noise"],
                                           h["instance_noise_steps"])

  def d_loss_and_logits(d_params, d_collections, hparams, real, real_labels, fake, fake_labels,
                        drop_rng, target_rng):
    """D's loss (without penalties) on a real and a fake batch, its collections and logits."""
    if separate_d_calls:
      real_logits, _ = discriminate(d_params, d_collections, real, real_labels, drop_rng)
      fake_logits, d_collections = discriminate(d_params, d_collections, fake, fake_labels,
                                                jax.random.fold_in(drop_rng, 1))
    else:
      # Real and fake go through D in one call, so dropout and BN (if any) see both.
      logits, d_collections = discriminate(
          d_params, d_collections, jnp.concatenate([real, fake]),
          jnp.concatenate([real_labels, fake_labels]), drop_rng)
      real_logits, fake_logits = jnp.split(logits, 2)
    real_target, fake_target = losses.discriminator_targets(
        target_rng, real_logits.shape, hparams["label_smoothing"], hparams["label_noise"],
        hparams["label_flip_prob"])
    loss = losses.discriminator_loss(loss_name, real_logits, fake_logits, real_target,
                                     fake_target)
    return loss, (d_collections, real_logits, fake_logits)

  def d_update(state, real, real_labels, fake, fake_labels, rng):
    """One critic update on a real and a (constant) fake batch."""
    drop_rng, gp_rng, target_rng, noise_rng, replay_rng = jax.random.split(rng, 5)
    extras = state.extras
    if use_replay:
      buffer = extras["replay"]
      extras = dict(extras, replay=replay.push(buffer, fake, fake_labels))
      fake, fake_labels = replay.mix(buffer, fake, fake_labels, replay_rng,
                                     state.hparams["replay_fraction"])
    if use_instance_noise:
      real_noise_rng, fake_noise_rng = jax.random.split(noise_rng)
      std = noise_std(state)
      real = regularizers.add_instance_noise(real, std, real_noise_rng)
      fake = regularizers.add_instance_noise(fake, std, fake_noise_rng)

    def loss_fn(d_params):
      loss, (d_collections, real_logits, fake_logits) = d_loss_and_logits(
          d_params, state.d_collections, state.hparams, real, real_labels, fake, fake_labels,
          drop_rng, target_rng)
      aux = {"d_loss": loss}
      d_fn = lambda x: discriminate(d_params, state.d_collections, x, real_labels, drop_rng)[0]
      if use_gp:
        penalty = regularizers.gradient_penalty(d_fn, real, fake, gp_rng)
        loss = loss + state.hparams["gp_weight"] * penalty
        aux["gradient_penalty"] = penalty
      if use_r1:
        penalty = regularizers.r1_penalty(d_fn, real)
        loss = loss + 0.5 * state.hparams["r1_gamma"] * penalty
        aux["r1_penalty"] = penalty
      if use_dragan:
        penalty = regularizers.dragan_penalty(d_fn, real, jax.random.fold_in(gp_rng, 1))
        loss = loss + state.hparams["dragan_weight"] * penalty
        aux["dragan_penalty"] = penalty
      return loss, (d_collections, real_logits, fake_logits, aux)

    grads, (d_collections, real_logits, fake_logits, aux) = jax.grad(loss_fn, has_aux=True)(
        _per_device(axis_name, state.d_params))
    grads = _mean_over(axis_name, grads)
    updates, d_opt_state = d_tx.update(grads, state.d_opt_state, state.d_params)
    d_params = optax.apply_updates(state.d_params, updates)
    if use_clip:  # WGAN's Lipschitz constraint by weight clipping (Arjovsky et al.).
      d_params = regularizers.clip_weights(d_params, state.hparams["clip_value"])
    if use_instance_noise:
      aux["instance_noise"] = noise_std(state)
    score = jax.nn.sigmoid if probabilistic else (lambda v: v)
    metrics = dict(aux,
                   d_real=score(real_logits).mean(), d_fake=score(fake_logits).mean(),
                   d_acc_real=(real_logits > accuracy_threshold).mean(),
                   d_acc_fake=(fake_logits < accuracy_threshold).mean(),
                   d_grad_norm=optax.tree.norm(grads))
    state = state.replace(d_params=d_params, d_opt_state=d_opt_state, d_collections=d_collections,
                          extras=extras)
    return state, metrics

  def unrolled_d_params(state, real, real_labels, fake, fake_labels, rng):
    """D's parameters after `unrolled_steps` plain updates on (real, fake), differentiable in fake
    (Metz et al. 2017): the same real batch and D's own optimizer, no penalties or clipping."""
    def one(carry, i):
      d_params, d_opt_state = carry
      drop_rng, target_rng = jax.random.split(jax.random.fold_in(rng, i))
      grads = jax.grad(lambda p: d_loss_and_logits(
          p, state.d_collections, state.hparams, real, real_labels, fake, fake_labels, drop_rng,
          target_rng)[0])(_per_device(axis_name, d_params))
      updates, d_opt_state = d_tx.update(_mean_over(axis_name, grads), d_opt_state, d_params)
      return (optax.apply_updates(d_params, updates), d_opt_state), None
    d_opt_state = state.d_opt_state
    if "eps_root" in d_opt_state.hyperparams:
      # Adam's sqrt(v) has an infinite derivative where a gradient is exactly 0 (ReLU, maxout);
      # optax's eps_root keeps the differentiated updates finite.
      d_opt_state = d_opt_state._replace(hyperparams=dict(
          d_opt_state.hyperparams,
          eps_root=jnp.maximum(d_opt_state.hyperparams["eps_root"], 1e-16)))
    (d_params, _), _ = jax.lax.scan(one, (state.d_params, d_opt_state), jnp.arange(unrolled_steps),
                                    unroll=unroll_on_cpu(state.d_params))
    return d_params

  def train_step(state, batch, rng):
    real_x = batch["x"].reshape((-1, n_critic) + batch["x"].shape[1:])
    real_y = batch["label"].reshape((-1, n_critic))
    b = real_x.shape[0]
    step_rngs = jax.random.split(rng, n_critic + 1)

    def fakes_input(z_rng):
      """Latents and labels. Per device (pmap) they are this device's rows of the global batch's,
      so a run gives the same result on any number of devices."""
      if axis_name is None:
        return latent_and_labels(config, num_classes, z_rng, b)
      n, i = jax.lax.axis_size(axis_name), jax.lax.axis_index(axis_name)
      z, y = latent_and_labels(config, num_classes, z_rng, b * n)
      return jax.lax.dynamic_slice_in_dim(z, i * b, b), jax.lax.dynamic_slice_in_dim(y, i * b, b)

    def device_rng(key):
      """Dropout, penalties and label noise: independent draws on each device."""
      return key if axis_name is None else jax.random.fold_in(key, jax.lax.axis_index(axis_name))

    # Critic updates 1..n_critic-1 on their own fakes.
    def critic_iteration(state, i):
      z_rng, d_rng = jax.random.split(step_rngs[i])
      z, fake_y = fakes_input(z_rng)
      fake, g_collections = generate(state.g_params, state.g_collections, z, fake_y)
      state = state.replace(g_collections=g_collections)
      return d_update(state, real_x[:, i], real_y[:, i], fake, fake_y, device_rng(d_rng))

    if n_critic > 1:
      state, _ = jax.lax.scan(critic_iteration, state, jnp.arange(n_critic - 1),
                              unroll=unroll_on_cpu(state.d_params))

    # The generator's forward pass, kept for its backward pass after the last critic update.
    z_rng, d_rng, g_drop_rng, g_noise_rng = jax.random.split(step_rngs[-1], 4)
    d_rng, g_drop_rng, g_noise_rng = map(device_rng, (d_rng, g_drop_rng, g_noise_rng))
    z, fake_y = fakes_input(z_rng)
    fake, g_vjp, g_collections = jax.vjp(lambda p: generate(p, state.g_collections, z, fake_y),
                                         _per_device(axis_name, state.g_params), has_aux=True)
    state, metrics = d_update(state, real_x[:, -1], real_y[:, -1],
                              jax.lax.stop_gradient(fake), fake_y, d_rng)

    def g_loss_fn(fake_x):
      d_params = state.d_params
      if unrolled_steps:
        d_params = unrolled_d_params(state, real_x[:, -1], real_y[:, -1], fake_x, fake_y,
                                     jax.random.fold_in(g_drop_rng, 1))
      if use_instance_noise:  # G is scored by the D it fools: one that sees noisy inputs.
        fake_x = regularizers.add_instance_noise(fake_x, noise_std(state), g_noise_rng)
      logits, _ = discriminate(d_params, state.d_collections, fake_x, fake_y, g_drop_rng)
      return losses.generator_loss(loss_name, logits)

    g_loss, fake_grad = jax.value_and_grad(g_loss_fn)(fake)
    (g_grads,) = g_vjp(fake_grad)
    g_grads = _mean_over(axis_name, g_grads)
    updates, g_opt_state = g_tx.update(g_grads, state.g_opt_state, state.g_params)
    g_params = optax.apply_updates(state.g_params, updates)

    live_g = (g_params, g_collections.get("batch_stats", {}))
    if use_ema:
      # Before start_step the average just tracks G (decay 0).
      decay = jnp.where(state.step >= ema_start, state.hparams["ema_decay"], 0.0)
      ema, ema_stats = regularizers.ema_update((state.ema_g_params, state.ema_g_batch_stats),
                                               live_g, decay)
    else:
      ema, ema_stats = live_g
    metrics.update(g_loss=g_loss, g_grad_norm=optax.tree.norm(g_grads))
    state = state.replace(step=state.step + 1, g_params=g_params, g_opt_state=g_opt_state,
                          g_collections=g_collections, ema_g_params=ema,
                          ema_g_batch_stats=ema_stats)
    return state, _mean_over(axis_name, metrics)

  return train_step


def make_sample_fn(generator, config, use_ema=True):
  """sample(state, z, labels) -> generated data in eval mode (running BN statistics); with
  use_ema, from the averaged weights and their averaged statistics."""
  def sample(state, z, labels):
    params, collections = state.g_params, dict(state.g_collections)
    if use_ema:
      params = state.ema_g_params
      if "batch_stats" in collections:
        collections["batch_stats"] = state.ema_g_batch_stats
    return generator.apply({"params": params, **collections}, z, labels, train=False)
  return sample
