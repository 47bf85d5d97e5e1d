"""The training loop: data, state, compiled step, checkpoints, logs, samples, in-loop evaluation."""
import contextlib
import json
import os
import signal

from absl import logging
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from gan_jax import checkpointing
from gan_jax import config_checks
from gan_jax import distributed
from gan_jax import input_pipeline
from gan_jax import losses
from gan_jax import models
from gan_jax import outputs
from gan_jax import parallel
from gan_jax import train_step as train_step_lib
from gan_jax.errors import UserError

# Keys that may change when a run is resumed (more steps, other logging cadence).
RESUMABLE_KEYS = ("num_train_steps", "log_every_steps", "sample_every_steps",
                  "checkpoint_every_steps", "eval_every_steps", "keep_checkpoints")


class NonFiniteLossError(RuntimeError):
  """Training produced NaN/Inf; the last good checkpoint is kept."""


def validate_config(config):
  for key in ("batch_size", "num_train_steps", "n_critic", "steps_per_call", "log_every_steps",
              "keep_checkpoints"):
    value = config.get(key)
    low = 0 if key == "num_train_steps" else 1
    if not isinstance(value, int) or value < low:
      raise UserError(f"{key}={value!r} must be an integer >= {low}")
  for key in ("sample_every_steps", "checkpoint_every_steps", "eval_every_steps"):
    value = config.get(key, 0)
    if not isinstance(value, int) or value < 0:
      raise UserError(f"{key}={value!r} must be an integer >= 0 (0 = never)")
  losses.check_target_options(config.get("loss", {}))
  k = config.steps_per_call
  for key in ("num_train_steps", "log_every_steps", "sample_every_steps", "checkpoint_every_steps",
              "eval_every_steps"):
    if config.get(key, 0) % k:
      raise UserError(f"{key}={config.get(key)} must be a multiple of steps_per_call={k}")
  config_checks.check(config)


def write_config(workdir, config):
  """Writes the resolved config; refuses to reuse a workdir that holds another experiment."""
  path = os.path.join(workdir, "config.json")
  new = json.loads(config.to_json_best_effort())
  if os.path.exists(path):
    with open(path) as f:
      old = json.load(f)
    differing = sorted(k for k in set(old) | set(new)
                       if k not in RESUMABLE_KEYS and old.get(k) != new.get(k))
    if differing:
      raise UserError(f"workdir {workdir} holds a run with another config (differs in "
                      f"{', '.join(differing)}); use a new --workdir or the same config")
    if old == new:  # A plain resume writes nothing.
      return
  outputs.write_json(path, new)


def fixed_latents(config, num_classes, n):
  """The fixed latent batch of the sample grids; conditional grids show one class per row."""
  z = jax.random.normal(jax.random.key(config.seed + 1), (n, config.model.latent_dim))
  labels = (jnp.arange(n) // max(1, int(np.ceil(np.sqrt(n)))) % num_classes if num_classes
            else jnp.zeros((n,), jnp.int32))
  return z, labels.astype(jnp.int32)


def save_samples(path, samples, info, title=""):
  if info.kind == "points":
    outputs.save_scatter(path, samples, info.modes, title)
  else:
    outputs.save_image_grid(path, samples)


def _all_finite(tree):
  return jnp.all(jnp.stack([jnp.all(jnp.isfinite(x)) for x in jax.tree.leaves(tree)]))


def scan_steps(one_step, n, state, xs=None, unroll=False):
  """Applies `one_step(state, x) -> (state, metrics)` n times (x: xs[i], or None when xs is None);
  returns the state and the metrics summed over the steps. `unroll`: no loop in the compiled program
  (train_step.unroll_on_cpu says when that is faster)."""
  def body(carry, x):
    state, sums = carry
    state, metrics = one_step(state, x)
    return (state, metrics if sums is None else jax.tree.map(jnp.add, sums, metrics)), None
  # The first step outside the scan fixes the metrics' structure for the carry.
  (state, sums), _ = body((state, None), None if xs is None else jax.tree.map(lambda b: b[0], xs))
  if n > 1:
    rest = None if xs is None else jax.tree.map(lambda b: b[1:], xs)
    (state, sums), _ = jax.lax.scan(body, (state, sums), rest, length=n - 1, unroll=unroll)
  return state, sums


def make_data(config, dataset, mesh):
  """Where the batches come from: (device_data, sample, host_batches).

  Device-resident data and toy streams: `sample(device_data, step, n)` draws global batches
  step .. step+n-1 inside the compiled program (`host_batches` is None). Otherwise
  `host_batches(start_step)` yields stacks of `steps_per_call` global batches, each process reading
  only its rows of them.
  """
  seed = config.seed
  examples_per_step = config.batch_size * config.n_critic
  if dataset.arrays is not None or dataset.info.kind == "points":
    device_data, sample = input_pipeline.make_device_sampler(dataset, examples_per_step, seed)
    # From host values, so that every process builds the same global array.
    return parallel.replicate_from_host(jax.device_get(device_data), mesh), sample, None

  def host_batches(start_step):
    it = input_pipeline.make_host_iterator(dataset, examples_per_step, seed, start_step,
                                           jax.process_index(), jax.process_count())
    while True:
      local = [next(it) for _ in range(config.steps_per_call)]
      stacked = jax.tree.map(lambda *b: np.stack(b), *local)
      yield jax.tree.map(lambda b: jax.make_array_from_process_local_data(
          parallel.batch_sharded_steps(mesh), b), stacked)
  return None, None, host_batches


def build(config, dataset, devices=None):
  """Models, initial state and the compiled `train(state, data) -> (state, metric sums)` that runs
  `steps_per_call` steps, placed on `devices` (default: all, of every process) as
  `config.parallel.mode` says. Shared by training and sampling."""
  info = dataset.info
  mode = parallel.check_mode(config.get("parallel", {}).get("mode", "jit"))
  axis_name = parallel.axis_name_for(mode)
  generator, discriminator = models.get_models(config.model, info.shape, info.num_classes,
                                               axis_name=axis_name)
  mesh = parallel.make_mesh(devices)
  parallel.check_batch_divides(config.batch_size, mesh)
  step_fn = parallel.distribute_step(
      train_step_lib.make_train_step(config, generator, discriminator, axis_name), mesh, mode)
  state = init_state(config, generator, discriminator, info.shape,
                     jax.random.key(config.seed), mesh)
  device_data, sample, batches_fn = make_data(config, dataset, mesh)
  base_key = jax.random.key(config.seed)
  batch_sharding = parallel.batch_sharded(mesh)
  replicated = parallel.replicated(mesh)

  def one_step(state, batch):
    batch = jax.lax.with_sharding_constraint(batch, batch_sharding)
    return step_fn(state, batch, jax.random.fold_in(base_key, state.step))

  steps_per_call = config.steps_per_call  # Read now: `run` is traced at its first call.

  def run(state, data):
    # `data`: the host pipeline's stack of batches, or the device-resident data to draw them from.
    batches = data if batches_fn else sample(data, state.step, steps_per_call)
    return scan_steps(one_step, jax.tree.leaves(batches)[0].shape[0], state, batches,
                      unroll=train_step_lib.unroll_on_cpu((state.g_params, state.d_params)))
  train = jax.jit(run, donate_argnums=0, out_shardings=(replicated, replicated))
  return dict(generator=generator, discriminator=discriminator, state=state, mesh=mesh,
              train=train, device_data=device_data, batches_fn=batches_fn)


def init_state(config, generator, discriminator, data_shape, rng, mesh):
  """The initial state, replicated over `mesh`."""
  example_x = jnp.zeros((2,) + tuple(data_shape), jnp.float32)
  return jax.jit(lambda r: train_step_lib.create_train_state(
      config, generator, discriminator, r, example_x), out_shardings=parallel.replicated(mesh))(rng)


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str):
  """Trains (or resumes) the GAN described by `config`, writing everything into `workdir`."""
  validate_config(config)
  distributed.initialize(config)
  dataset = input_pipeline.load_dataset(config.dataset)
  info = dataset.info
  parts = build(config, dataset)
  generator, state, train = parts["generator"], parts["state"], parts["train"]
  is_main = jax.process_index() == 0

  os.makedirs(workdir, exist_ok=True)
  if is_main:
    write_config(workdir, config)
  manager = checkpointing.make_manager(workdir, config.get("keep_checkpoints", 3))
  restored = checkpointing.restore_latest(manager, state)
  if restored is not None:
    state = restored
    print(f"Resumed from step {int(state.step)} in {workdir}", flush=True)
  start_step = int(jax.device_get(parallel.local_copy(state.step)))

  writer = outputs.MetricWriter(workdir, enabled=is_main, start_step=start_step)
  progress = outputs.Progress(start_step, config.num_train_steps)
  sample_fn = jax.jit(train_step_lib.make_sample_fn(generator, config,
                                                    use_ema=config.ema.decay > 0))
  grid_z, grid_labels = fixed_latents(config, generator.num_classes, config.num_grid_samples)
  evaluate = _make_in_loop_evaluator(config, dataset, generator, workdir)
  # The best-FID checkpoint (2D runs are scored by mode coverage, not FID).
  best_manager = (checkpointing.make_manager(workdir, best=True)
                  if evaluate and info.kind != "points" else None)

  batches = parts["batches_fn"](start_step) if parts["batches_fn"] else None
  sums, sum_steps = None, 0
  step = start_step
  with sigterm_flag() as stop:
    try:
      while step < config.num_train_steps and stop["signal"] is None:
        data = next(batches) if batches is not None else parts["device_data"]
        state, call_sums = train(state, data)
        step += config.steps_per_call
        sums = call_sums if sums is None else jax.tree.map(jnp.add, sums, call_sums)
        sum_steps += config.steps_per_call
        done = step >= config.num_train_steps

        if due(step, config.log_every_steps, done):
          scalars = {k: v / sum_steps
                     for k, v in jax.device_get(parallel.local_copy(sums)).items()}
          sums, sum_steps = None, 0
          if not all(np.isfinite(v) for v in scalars.values()):
            bad = ", ".join(f"{k}={v}" for k, v in scalars.items() if not np.isfinite(v))
            raise NonFiniteLossError(
                f"non-finite loss at step {step} ({bad}); stopped: {_last_good(manager)} in "
                f"{workdir}/checkpoints; try a lower learning rate")
          writer.write(step, scalars)
          if is_main:
            print(progress.line(step, scalars), flush=True)

        if is_main and due(step, config.sample_every_steps, done):
          samples = jax.device_get(sample_fn(parallel.local_copy(state), grid_z, grid_labels))
          save_samples(os.path.join(workdir, f"samples_{step:07d}.png"), samples, info,
                       f"step {step}")

        if evaluate and due(step, config.eval_every_steps, done):
          # Every process evaluates its local copy (the same numbers): all agree on the best step.
          eval_metrics = evaluate(parallel.local_copy(state), step)
          writer.write(step, eval_metrics)
          if is_main:
            shown = " ".join(f"{k}={v:.4g}" for k, v in eval_metrics.items())
            print(f"step {step} eval: {shown}", flush=True)
          if np.isfinite(eval_metrics.get("fid", np.nan)):  # A NaN would evict the best one.
            _save_if_finite(best_manager, state, step, eval_metrics)

        if done or due(step, config.checkpoint_every_steps, done):
          _save_if_finite(manager, state, step)
      if stop["signal"] is not None:
        logging.warning("Received signal %d: saving a checkpoint at step %d and exiting.",
                        stop["signal"], step)
        _save_if_finite(manager, state, step)
    finally:
      manager.wait_until_finished()
      if best_manager:
        best_manager.wait_until_finished()
      writer.close()
  return state


def due(step, every, done):
  """Whether a periodic action (logging, samples, evaluation, checkpoints) runs at `step`."""
  return bool(every) and (step % every == 0 or done)


@contextlib.contextmanager
def sigterm_flag():
  """Yields a dict whose 'signal' is set on SIGTERM (preemption): the loop then saves and exits."""
  stop = {"signal": None}
  previous = signal.signal(signal.SIGTERM, lambda signum, _: stop.update(signal=signum))
  try:
    yield stop
  finally:
    signal.signal(signal.SIGTERM, previous)


def _last_good(manager):
  last = manager.latest_step()
  return (f"the last good checkpoint (step {last}) is kept" if last is not None
          else "no checkpoint had been saved")


def _save_if_finite(manager, state, step, metrics=None):
  if manager.latest_step() == step:
    return
  if not bool(jax.device_get(parallel.local_copy(_all_finite((state.g_params, state.d_params))))):
    raise NonFiniteLossError(f"non-finite parameters at step {step}; stopped: {_last_good(manager)}")
  checkpointing.save(manager, state, metrics)


def reference_cache_key(dataset_config, info):
  """Names the real images the FID reference statistics are computed from: the data set, split
  and folder, and the shape and count after preprocessing (resize, grayscale, subset)."""
  path = dataset_config.get("path", "")
  shape = "x".join(map(str, info.shape))
  return (f"{info.name}-{dataset_config.get('split', 'train')}-"
          f"{os.path.abspath(path) if path else ''}-{shape}-n{info.num_examples}")


def _make_in_loop_evaluator(config, dataset, generator, workdir):
  """In-loop FID/IS/KID for images; mode coverage metrics for 2D data. None when off."""
  if not config.get("eval_every_steps", 0):
    return None
  if dataset.info.kind == "points":
    from gan_jax import mode_metrics  # pylint: disable=g-import-not-at-top
    return mode_metrics.make_in_loop_evaluator(config, dataset.info, generator)
  from gan_jax.fid import evaluator as fid_evaluator  # pylint: disable=g-import-not-at-top
  evaluate_fid = fid_evaluator.make_evaluator(
      config.fid, lambda: input_pipeline.to_uint8_batches(dataset, config.fid.batch_size),
      cache_key=reference_cache_key(config.dataset, dataset.info))
  sample = train_step_lib.make_sample_fn(generator, config, use_ema=config.ema.decay > 0)
  num_classes = generator.num_classes

  def evaluate(state, step):
    def sample_fn(rng, n):
      z, labels = train_step_lib.latent_and_labels(config, num_classes, rng, n)
      return sample(state, z, labels)
    return evaluate_fid(sample_fn, jax.random.fold_in(jax.random.key(config.seed + 2), step))
  return evaluate
