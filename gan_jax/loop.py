"""The training loop of every family, for one run or a stack of vmapped sweep members.

    loop.train_and_evaluate(config, workdir)

`config.family` picks the family (gan_jax.families): its data, networks and pure step. The loop
owns what every family shares: devices and the compiled program (`build`, or
`gan_jax.sweep.build_stack` for sweeps), checkpoints and exact resume, SIGTERM and Ctrl-C, the
non-finite stop, progress lines, metrics.jsonl/TensorBoard, sample grids, in-loop evaluation and
the best checkpoint, multi-device and multi-host.

A call of the compiled program runs up to `steps_per_call` steps; calls end on multiples of
`steps_per_call` and at the stages' first steps (progressive growing), so a run of any length
resumes exactly: the step's key and the data order are functions of (seed, step).
"""
import contextlib
import dataclasses
import functools
import json
import numbers
import os
import time
from typing import Any, Callable

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from gan_jax import checkpointing
from gan_jax import config_checks
from gan_jax import data
from gan_jax import distributed
from gan_jax import families
from gan_jax import key_streams
from gan_jax import outputs
from gan_jax import parallel
from gan_jax import signals
from gan_jax import state as state_lib
from gan_jax import workdir as workdir_lib
from gan_jax.errors import NonFiniteLossError
from gan_jax.errors import UserError

# Keys that may change when a run is resumed (more steps, other logging cadence).
RESUMABLE_KEYS = ("num_train_steps", "log_every_steps", "sample_every_steps",
                  "checkpoint_every_steps", "eval_every_steps", "keep_checkpoints")


@dataclasses.dataclass
class Program:
  """A compiled training program and its initial state: one run, or a stack of sweep members."""
  trainer: families.Trainer
  state: Any            # The initial state (members stacked on a leading axis for sweeps).
  # train(state, data, num_steps, stage) -> (state, metric sums over the steps); jitted, with
  # num_steps and stage static.
  train: Callable
  feeder: Callable      # feeder(start_step) -> data_for_call(num_steps) -> `data` of a call.
  mesh: Any
  members: int = 0      # 0: one run; M: a stack of M sweep members.
  sharded: bool = False  # Sweeps: whether the member axis is split over the devices.

  def call(self, state, num_steps, start_step=0):
    """One compiled call of `num_steps` steps from `start_step` (tests, benchmarks, studies)."""
    stage = _stage_of(start_step, self.trainer.stage_starts)
    return self.train(state, self.feeder(start_step)(num_steps), num_steps, stage)


def validate_config(config):
  """The loop's own fields; each family checks its own when it builds."""
  for key in ("batch_size", "num_train_steps", "steps_per_call", "log_every_steps",
              "keep_checkpoints"):
    value = config.get(key)
    low = 0 if key == "num_train_steps" else 1
    if not isinstance(value, int) or value < low:
      raise UserError(f"{key}={value!r} must be an integer >= {low}")
  for key in ("sample_every_steps", "checkpoint_every_steps", "eval_every_steps"):
    value = config.get(key, 0)
    if not isinstance(value, int) or value < 0:
      raise UserError(f"{key}={value!r} must be an integer >= 0 (0 = never)")
  k = config.steps_per_call
  for key in ("log_every_steps", "sample_every_steps", "checkpoint_every_steps",
              "eval_every_steps"):
    if config.get(key, 0) % k:
      raise UserError(f"{key}={config.get(key)} must be a multiple of steps_per_call={k}")
  family = families.get(config.family)
  # Value ranges (learning rates, decays, rates, weights, sizes): the shared table and the family's.
  config_checks.check(config, extra=getattr(family, "CONFIG_CHECKS", ()))
  if "fid" in config:  # Names and paths; whether the weights exist is checked once data is known.
    from gan_jax.fid import evaluator as fid_evaluator  # pylint: disable=g-import-not-at-top
    fid_evaluator.check_config(config.fid, weights_needed=False)


def check_before_writing(config, dataset, trainer):
  """What needs the data or the family's trainer, checked before a run writes anything: when
  in-loop evaluation will run, the family's evaluator checks (Trainer.check_evaluation) and the FID
  weights if FID is its best metric. (The step's checks ran when it was placed: stage_steps.)"""
  if not eval_every(config, dataset, trainer):
    return
  if trainer.check_evaluation is not None:
    trainer.check_evaluation()
  fid_best = (trainer.best_metric or "").startswith("fid")  # fid, or a family's fid_a2b ...
  if fid_best and dataset.info.kind == "image" and "fid" in config:
    from gan_jax.fid import evaluator as fid_evaluator  # pylint: disable=g-import-not-at-top
    fid_evaluator.check_config(config.fid, weights_needed=True)


def eval_every(config, dataset, trainer, members=0):
  """How often the loop evaluates (0: never): `eval_every_steps` when the family has an evaluator;
  a sweep of 2D points is compared by mode coverage at the end even with it off."""
  if trainer.make_evaluator is None:
    return 0
  every = config.get("eval_every_steps", 0)
  if members and not every and dataset.info.kind == "points":
    every = config.num_train_steps
  return every


def state_numbers(config):
  """A config's numbers that live in the train state: the family's hparams and each network's
  optimizer hyper-parameters (learning rate, betas, ...)."""
  family = families.get(config.family)
  return family.hparams(config), state_lib.optimizer_numbers(family.optimizers(config))


def _leaves(tree, prefix=""):
  if isinstance(tree, dict):
    for k, v in tree.items():
      yield from _leaves(v, f"{prefix}{k}.")
  else:
    yield prefix[:-1], tree


def _set(config, key, value):
  *path, name = key.split(".")
  node = config
  for part in path:
    node = node[part]
  with node.ignore_type():
    node[name] = value


def _is_number(v):
  return isinstance(v, numbers.Real) and not isinstance(v, bool)


def _same_numbers(a, b):
  flat = lambda t: [np.asarray(x).tolist() for x in jax.tree.leaves(t)]
  return jax.tree.structure(a) == jax.tree.structure(b) and flat(a) == flat(b)


def _state_number_keys(config, old, keys):
  """The keys among `keys` (dotted, numbers in both configs) whose values live in the state and
  whose change leaves the step's structure (the family's options) as it is: a resumed run may
  change them (lower the learning rate after a non-finite stop)."""
  family = families.get(config.family)
  reverted = ml_collections.ConfigDict(config.to_dict())
  for key in keys:
    _set(reverted, key, old[key])
  if family.options(reverted) != family.options(config):
    return []
  now = state_numbers(config)
  result = []
  for key in keys:
    single = ml_collections.ConfigDict(config.to_dict())
    _set(single, key, old[key])
    if not _same_numbers(state_numbers(single), now):
      result.append(key)
  return result


def write_config(workdir, config, numbers_may_change=True):
  """Writes the resolved config; refuses to reuse a workdir that holds another experiment.

  Step counts and cadences may change on resume (RESUMABLE_KEYS), and so may the numbers that live
  in the train state (learning rates, loss weights) when `numbers_may_change` (single runs: the
  loop puts the new values into the restored state). Returns {key: (old, new)} of those numbers.
  """
  path = os.path.join(workdir, "config.json")
  new = json.loads(config.to_json_best_effort())
  if not os.path.exists(path):
    outputs.write_json(path, new)
    return {}
  with open(path) as f:
    old = json.load(f)
  old_leaves, new_leaves = dict(_leaves(old)), dict(_leaves(new))
  differing = sorted(k for k in set(old_leaves) | set(new_leaves)
                     if k.split(".")[0] not in RESUMABLE_KEYS
                     and old_leaves.get(k) != new_leaves.get(k))
  numeric = [k for k in differing if k in old_leaves and k in new_leaves
             and _is_number(old_leaves[k]) and _is_number(new_leaves[k])]
  changed = (_state_number_keys(config, old_leaves, numeric)
             if numbers_may_change and numeric else [])
  structural = [k for k in differing if k not in changed]
  if structural:
    raise UserError(f"workdir {workdir} holds a run with another config (differs in "
                    f"{', '.join(structural)}); use a new --workdir or the same config")
  if old != new:  # A plain resume writes nothing.
    outputs.write_json(path, new)
  return {k: (old_leaves[k], new_leaves[k]) for k in changed}


def scan_steps(one_step, n, state, xs=None, unroll=False):
  """Applies `one_step(state, x) -> (state, metrics)` n times (x: xs[i], or None when xs is None);
  returns the state and the metrics summed over the steps. `unroll`: no loop in the compiled program
  (parallel.unroll_on_cpu says when that is faster)."""
  def body(carry, x):
    state, sums = carry
    state, metrics = one_step(state, x)
    return (state, metrics if sums is None else jax.tree.map(jnp.add, sums, metrics)), None
  # The first step outside the scan fixes the metrics' structure for the carry.
  (state, sums), _ = body((state, None), None if xs is None else jax.tree.map(lambda b: b[0], xs))
  if n > 1:
    rest = None if xs is None else jax.tree.map(lambda b: b[1:], xs)
    (state, sums), _ = parallel.scan(body, (state, sums), rest, length=n - 1, unroll=unroll)
  return state, sums


def stage_steps(trainer, axis_name=None, mesh=None, mode="jit"):
  """stage -> the step of that stage (placed on `mesh` as `mode` says when a mesh is given).

  The family's check of the rows a step sees (Trainer.check_batch_rows) runs here, where they are
  known and before a run writes anything: each device's share under pmap, else the whole batch."""
  if trainer.check_batch_rows is not None:
    per_device = mesh is not None and parallel.check_mode(mode) == "pmap"
    trainer.check_batch_rows(trainer.batch_rows // mesh.devices.size if per_device
                             else trainer.batch_rows)
  place = (lambda f: parallel.distribute_step(f, mesh, mode)) if mesh is not None else (lambda f: f)
  if not trainer.stage_starts:
    step = place(trainer.step)
    return lambda stage: step
  return functools.lru_cache()(lambda stage: place(trainer.step_for_stage(stage)))


def feeder_for(config, dataset, trainer, mesh):
  """feeder(start_step) -> data_for_call(num_steps), and `sample(data, step, num_steps)` for data
  drawn on the device (None for the host pipeline, whose calls get stacks of global batches)."""
  seed, rows = config.seed, trainer.batch_rows
  if dataset.arrays is not None or dataset.info.kind == "points":
    device_data, sample = data.feed.make_device_sampler(dataset, rows, seed, trainer.fields)
    # From host values, so that every process builds the same global array.
    device_data = parallel.replicate_from_host(jax.device_get(device_data), mesh)
    return (lambda start_step: lambda num_steps: device_data), sample

  def feeder(start_step):
    it = data.feed.make_host_iterator(dataset, rows, seed, start_step, jax.process_index(),
                                      jax.process_count(), trainer.fields)

    def data_for_call(num_steps):
      stacked = jax.tree.map(lambda *b: np.stack(b), *[next(it) for _ in range(num_steps)])
      return jax.tree.map(lambda b: jax.make_array_from_process_local_data(
          parallel.batch_sharded_steps(mesh), b), stacked)
    return data_for_call
  return feeder, None


def build(config, dataset, devices=None):
  """The family's trainer, the initial state and the compiled `train`, placed on `devices`
  (default: all, of every process) as `config.parallel.mode` says. Shared by training and the
  command-line tools."""
  family = families.get(config.family)
  mode = parallel.check_mode(config.get("parallel", {}).get("mode", "jit"))
  axis_name = parallel.axis_name_for(mode)
  trainer = family.build(config, dataset, axis_name)
  mesh = parallel.make_mesh(devices)
  parallel.check_batch_divides(config.batch_size, mesh)
  step_of_stage = stage_steps(trainer, axis_name, mesh, mode)  # Checks the rows before compiling.
  replicated = parallel.replicated(mesh)
  state = jax.jit(trainer.init, out_shardings=replicated)(jax.random.key(config.seed))
  feeder, sample = feeder_for(config, dataset, trainer, mesh)
  base_key = jax.random.key(config.seed)
  batch_sharding = parallel.batch_sharded(mesh)

  def run(state, data_, num_steps, stage):
    # `data_`: the host pipeline's stack of batches, or the device-resident data to draw them from.
    step_fn = step_of_stage(stage)

    def one_step(state, batch):
      batch = jax.lax.with_sharding_constraint(batch, batch_sharding)
      return step_fn(state, batch, key_streams.step_key(base_key, state.step))
    batches = data_ if sample is None else sample(data_, state.step, num_steps)
    return scan_steps(one_step, num_steps, state, batches,
                      unroll=parallel.unroll_on_cpu(state.params()))
  train = jax.jit(run, static_argnums=(2, 3), donate_argnums=0,
                  out_shardings=(replicated, replicated))
  return Program(trainer=trainer, state=state, train=train, feeder=feeder, mesh=mesh)


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str):
  """Trains (or resumes) the run described by `config`, writing everything into `workdir`.

  A SIGTERM before the loop starts (while the data load, the program compiles, the checkpoint is
  restored) ends the run at once, status 0 (signals.stop_at_once); from then on it saves a
  checkpoint first (signals.stop_requests)."""
  with signals.stop_at_once(
      "stopped by SIGTERM before training started: no step was trained; the same command "
      "starts (or resumes) the run"):
    validate_config(config)
    distributed.initialize(config)
    if jax.process_index() == 0:  # The lock's holder: a second run on this workdir stops here.
      workdir_lib.check_usable(workdir)
    family = families.get(config.family)
    dataset = family.load_data(config)
    program = build(config, dataset)
    check_before_writing(config, dataset, program.trainer)
    with lock(workdir):
      state, _ = run(config, workdir, program, dataset)
  return state


def lock(workdir):
  """The workdir's lock (gan_jax.workdir), held by process 0 for the whole run."""
  return workdir_lib.lock(workdir) if jax.process_index() == 0 else contextlib.nullcontext()


def _stage_of(step, stage_starts):
  return sum(start <= step for start in stage_starts)


def _steps_in_call(step, total, steps_per_call, stage_starts):
  """Steps of the call starting at `step`: up to the next multiple of steps_per_call, the next
  stage's first step or the end, whichever comes first."""
  n = min(steps_per_call - step % steps_per_call, total - step)
  later = [start - step for start in stage_starts if start > step]
  return min([n] + later)


def run(config, workdir, program, dataset, member_names=()):
  """The loop: trains `program` (resuming from `workdir`) to `config.num_train_steps`.

  Returns (state, final metrics per member) — for one run, one member.
  """
  trainer, members = program.trainer, program.members
  is_main = jax.process_index() == 0
  os.makedirs(workdir, exist_ok=True)
  changed = write_config(workdir, config, numbers_may_change=not members) if is_main else {}
  manager = checkpointing.make_manager(workdir, config.get("keep_checkpoints", 3))
  state = program.state
  restored = checkpointing.restore_latest(manager, state, set_aside_damaged=True)
  if restored is not None:
    state = restored
    if not members:  # This config's learning rates and loss weights, not the checkpoint's.
      hparams, opt_numbers = state_numbers(config)
      state = jax.device_put(state_lib.with_numbers(state, hparams, opt_numbers),
                             parallel.replicated(program.mesh))
  # Each process's view of the state: the replicated copy of one run, the whole stack of members.
  host_view = parallel.host_copy if members else (lambda t: parallel.local_copy(t))
  start_step = int(np.ravel(jax.device_get(host_view(state.step)))[0])
  if restored is not None:
    what = f" the {members} members" if members else ""
    print(f"Resumed{what} from step {start_step} in {workdir}", flush=True)
  if changed and is_main:
    print("With changed hyper-parameters: " + ", ".join(
        f"{k} {old} -> {new}" for k, (old, new) in changed.items()), flush=True)

  n_members = members or 1
  with _failed_writes_in_one_line(manager):
    writers = [outputs.MetricWriter(workdir, enabled=is_main, start_step=start_step,
                                    member=i if members else None) for i in range(n_members)]
  final = _logged_metrics(workdir, n_members, members)  # A resumed run's earlier numbers.
  progress = outputs.Progress(start_step, config.num_train_steps)
  evaluate, eval_every = _evaluator(config, dataset, trainer, workdir, members)
  best_manager = (checkpointing.make_manager(workdir, best_metric=trainer.best_metric)
                  if evaluate and trainer.best_metric and not members else None)
  data_for_call = program.feeder(start_step)
  compiled = set()
  sums, sum_steps = None, 0
  step = start_step

  def log_window():
    """One line (metrics.jsonl, TensorBoard, stdout) of the mean metrics since the last one."""
    nonlocal sums, sum_steps
    host = jax.device_get(host_view(sums))
    scalars = {k: np.asarray(v) / sum_steps for k, v in host.items()}
    sums, sum_steps = None, 0
    _log(step, scalars, writers, final, progress, members, is_main, workdir, manager)

  with signals.stop_requests(announce=is_main) as stop, _failed_writes_in_one_line(manager):
    try:
      while step < config.num_train_steps and not stop:
        n = _steps_in_call(step, config.num_train_steps, config.steps_per_call,
                           trainer.stage_starts)
        stage = _stage_of(step, trainer.stage_starts)
        call_data = data_for_call(n)
        if (n, stage) not in compiled and is_main:
          print(f"step {step}: compiling the train step ({n} steps per call"
                + (f", stage {stage}" if trainer.stage_starts else "") + ")...", flush=True)
        started = time.time()
        state, call_sums = program.train(state, call_data, n, stage)
        if (n, stage) not in compiled:
          compiled.add((n, stage))
          jax.block_until_ready(call_sums)
          if is_main:
            print(f"step {step + n}: compiled and ran the first call in "
                  f"{time.time() - started:.1f} s", flush=True)
          progress.restart(step + n)  # Steps/s and the ETA count compiled steps only.
        step += n
        sums = call_sums if sums is None else jax.tree.map(jnp.add, sums, call_sums)
        sum_steps += n
        done = step >= config.num_train_steps

        if due(step, config.log_every_steps, done):
          log_window()

        if due(step, config.sample_every_steps, done):
          _write_grids(trainer, host_view(state), workdir, step, members, member_names, is_main)

        if evaluate and due(step, eval_every, done):
          metrics = _evaluate(evaluate, host_view(state), step, writers, final, members, is_main)
          value = metrics.get(trainer.best_metric, np.nan)
          if best_manager is not None and np.isfinite(value):  # A NaN would evict the best one.
            _save(best_manager, state, step, metrics=metrics)

        if done or due(step, config.checkpoint_every_steps, done):
          _save(manager, state, step, check_finite=not members)
      if stop:
        if sum_steps and config.log_every_steps:  # Else no line would ever hold these steps (the
          log_window()                            # resumed run's first averages its own only).
        _save(manager, state, step, check_finite=not members)
        stop.exit(f"stopped by {stop.name} at step {step}: checkpoint saved in {workdir}/"
                  "checkpoints; the same command resumes")
    finally:
      manager.wait_until_finished()
      if best_manager:
        best_manager.wait_until_finished()
      for w in writers:
        w.close()
  return state, final


@contextlib.contextmanager
def _failed_writes_in_one_line(manager):
  """A failed write of the metrics or a sample grid (disk full, read-only) ends the run as a failed
  checkpoint save does: one line naming the file, and the checkpoints that are intact."""
  try:
    yield
  except OSError as e:
    failure = checkpointing.failed_write(e, manager)
    if failure is None:
      raise
    raise failure from e


def due(step, every, done):
  """Whether a periodic action (logging, samples, evaluation, checkpoints) runs at `step`."""
  return bool(every) and (step % every == 0 or done)


def _log(step, scalars, writers, final, progress, members, is_main, workdir, manager):
  """Writes a logging period's mean metrics; a non-finite one stops a single run."""
  if not members:
    scalars = {k: float(v) for k, v in scalars.items()}
    if not all(np.isfinite(v) for v in scalars.values()):
      bad = ", ".join(f"{k}={v}" for k, v in scalars.items() if not np.isfinite(v))
      raise NonFiniteLossError(
          f"non-finite loss at step {step} ({bad}); stopped: {_last_good(manager)} in "
          f"{workdir}/checkpoints; try a lower learning rate")
    final[0].update(scalars)
    writers[0].write(step, scalars)
    if is_main:
      print(progress.line(step, scalars), flush=True)
    return
  # Diverged members are kept (and reported); the others are still worth training.
  for i, writer in enumerate(writers):
    final[i].update({k: float(v[i]) for k, v in scalars.items()})
    writer.write(step, {k: v[i] for k, v in scalars.items()})
  if is_main:
    bad = sum(not all(map(np.isfinite, f.values())) for f in final)
    shown = {k: float(np.nanmean(v)) for k, v in scalars.items()}
    print(f"[mean of {members}] " + progress.line(step, shown)
          + (f" | diverged: {bad}/{members}" if bad else ""), flush=True)


def _member(tree, i):
  return jax.tree.map(lambda x: x[i], tree)


def _write_grids(trainer, state, workdir, step, members, names, is_main):
  """samples_<step>.png (per member folder for sweeps), on process 0."""
  if not is_main:
    return
  if not members:
    trainer.visualize(state, os.path.join(workdir, f"samples_{step:07d}.png"), f"step {step}")
    return
  for i in range(members):
    folder = os.path.join(workdir, f"member_{i}")
    os.makedirs(folder, exist_ok=True)
    name = names[i] if i < len(names) else f"member {i}"
    trainer.visualize(_member(state, i), os.path.join(folder, f"samples_{step:07d}.png"),
                      f"{name} step {step}")


def _evaluator(config, dataset, trainer, workdir, members):
  """(evaluate, every): the family's in-loop evaluation, or (None, 0) when off."""
  every = eval_every(config, dataset, trainer, members)
  if not every:
    return None, 0
  return trainer.make_evaluator(workdir), every


def _evaluate(evaluate, state, step, writers, final, members, is_main):
  """Evaluates every member; returns a single run's metrics. Every process evaluates the same
  copy (the same numbers), so all agree on the best step."""
  for i in range(members or 1):
    metrics = evaluate(_member(state, i) if members else state, step)
    final[i].update(metrics)
    writers[i].write(step, metrics)
    if is_main and not members:
      print(f"step {step} eval: " + " ".join(f"{k}={v:.4g}" for k, v in metrics.items()),
            flush=True)
  return metrics


def _logged_metrics(workdir, n, members):
  """The latest value of every metric per member in metrics.jsonl."""
  final = [dict() for _ in range(n)]
  path = os.path.join(workdir, "metrics.jsonl")
  if members and os.path.exists(path):
    with open(path) as f:
      for line in f:
        record = json.loads(line)
        i = record.pop("member", None)
        record.pop("step", None)
        if i is not None and 0 <= i < n:
          final[i].update(record)
  return final


def _last_good(manager):
  last = manager.latest_step()
  return (f"the last good checkpoint (step {last}) is kept" if last is not None
          else "no checkpoint had been saved")


def _all_finite(tree):
  return jnp.all(jnp.stack([jnp.all(jnp.isfinite(x)) for x in jax.tree.leaves(tree)]))


def _save(manager, state, step, metrics=None, check_finite=True):
  """Saves `state` as step `step` (once); a single run's non-finite parameters stop the run."""
  if manager.latest_step() == step:
    return
  if check_finite and not bool(jax.device_get(parallel.local_copy(_all_finite(state.params())))):
    raise NonFiniteLossError(f"non-finite parameters at step {step}; stopped: "
                             f"{_last_good(manager)}")
  checkpointing.save(manager, state, step, metrics)


@dataclasses.dataclass
class Restored:
  """A trained run, for the command-line tools: its config, family module, data, trainer and the
  latest checkpoint's state on one device."""
  config: ml_collections.ConfigDict
  family: Any
  dataset: data.Dataset
  trainer: families.Trainer
  state: Any


def load_config(workdir):
  path = os.path.join(workdir, "config.json")
  if not os.path.exists(path):
    raise UserError(f"--workdir={workdir} holds no config.json; is it a gan_jax training workdir?")
  with open(path) as f:
    return ml_collections.ConfigDict(json.load(f))


def latest_checkpoint_step(workdir):
  """The newest step kept in the run's checkpoints/, read without loading data, compiling or
  restoring anything, so that a tool refuses a run without a checkpoint at once; a UserError when
  there is none."""
  return _latest_step(workdir, checkpointing.make_manager(workdir, create=False))


def _latest_step(workdir, manager):
  steps = manager.all_steps()
  if not steps:
    raise UserError(f"--workdir={workdir} has no checkpoint yet")
  return max(steps)


def restore(workdir, step=None, announce=None):
  """The latest checkpoint of the run in `workdir` (or the one of `step`), on one device (a tool
  needs no data parallelism, and the training batch need not divide the device count of the
  machine it runs on). A run without a checkpoint is refused before anything is built.
  `announce(line)` hears 'restoring DIR (step N) and compiling...' before the seconds that takes:
  the tools print it, so that their silence has a reason."""
  config = load_config(workdir)
  manager = checkpointing.make_manager(workdir, create=False)  # A tool writes nothing here.
  latest = _latest_step(workdir, manager)
  if announce is not None:
    announce(f"restoring {workdir} (step {latest if step is None else step}) and compiling...")
  family = families.get(config.family)
  dataset = family.load_data(config)
  program = build(config, dataset, devices=jax.devices()[:1])
  state = checkpointing.restore_latest(manager, program.state, only_step=step)
  if state is None:
    raise UserError(f"--workdir={workdir} has no checkpoint yet")
  return Restored(config, family, dataset, program.trainer, state)
