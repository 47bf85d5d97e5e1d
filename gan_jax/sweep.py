"""Hyper-parameter sweeps trained together: members stacked on a leading axis, one vmapped step.

  python -m gan_jax.sweep --config=configs/gan_mlp.py --workdir=DIR [--config.dataset.name=ring8]

The config file's `get_sweep(h)` returns the members (see `gan_jax.sweep_spec`). Keys whose values
live in the train state as arrays are vmapped: `seed`, the loss hyper-parameters that
`train_step.default_hparams` puts in `state.hparams` (label smoothing, GP lambda, ...), and the
optimizers' `inject_hyperparams` values (learning_rate, b1, b2, ...). Every other key (model, dataset,
n_critic, batch_size, ...) is structural: its values fan out into separate runs, one after another, in
DIR/run_00, DIR/run_01, ... So does a vmapped value that is 0 in some members only, since 0 switches a
component (GP, clipping, EMA) off at trace time.

A run writes metrics.jsonl (a `member` column), tensorboard/member_<i>/, member_<i>/samples_*.png,
one checkpoint of the whole stack (resumable), and summary.{md,csv,png}: the final metrics per member.
The stack's member axis is sharded over the devices when the device count divides it.
"""
import csv
import dataclasses
import importlib.util
import json
import math
import os
import sys

from absl import flags
from absl import logging
import jax
from jax.sharding import NamedSharding, PartitionSpec as P
import jax.numpy as jnp
from ml_collections import config_flags
import numpy as np
import orbax.checkpoint as ocp

from gan_jax import checkpointing
from gan_jax import cli
from gan_jax import distributed
from gan_jax import input_pipeline
from gan_jax import models
from gan_jax import outputs
from gan_jax import parallel
from gan_jax import sweep_spec
from gan_jax import train
from gan_jax import train_step as train_step_lib
from gan_jax.errors import UserError

FLAGS = flags.FLAGS
flags.DEFINE_string("workdir", None, "Directory of the sweep (one run per structural group).")
flags.DEFINE_string("metric", "", "Metric of the summary plot (default: fid, else modes, "
                    "else g_loss).")
config_flags.DEFINE_config_file("config", None, "Config file with get_config() and get_sweep(h).",
                                lock_config=True)
flags.mark_flags_as_required(["config", "workdir"])

SUMMARY_PRIORITY = ("fid", "modes", "hq_percent", "kid", "g_loss")


@dataclasses.dataclass(frozen=True)
class Group:
  """Members that share one compiled program: their configs differ only in vmapped values."""
  config: object              # The first member's config (the structure of all).
  members: tuple              # Each member's overrides (dicts).
  member_configs: tuple
  structural: dict            # The structural overrides common to the group.


def _is_number(v):
  return isinstance(v, (int, float, np.number)) and not isinstance(v, bool)


def _optimizer_hyperparams(opt_config, which):
  return train_step_lib.make_optimizer(opt_config, which).init(jnp.zeros(())).hyperparams


def vmapped_keys(config, spec):
  """The swept keys whose values are arrays in the train state (the rest are structural)."""
  result = []
  for key in sweep_spec.keys(spec):
    values = [m[key] for m in spec if key in m]
    if not all(_is_number(v) for v in values) or not all(key in m for m in spec):
      continue
    if key == "seed":
      result.append(key)
      continue
    head, _, leaf = key.partition(".")
    if head in ("g_optimizer", "d_optimizer") and "." not in leaf:
      if leaf in _optimizer_hyperparams(config[head], head[0]):
        result.append(key)
      continue
    # A loss (or other) knob is in the state when its value shows in default_hparams.
    seen = {json.dumps(train_step_lib.default_hparams(sweep_spec.apply(config, {key: v})),
                       sort_keys=True, default=float) for v in set(values)}
    if len(seen) == len(set(values)):
      result.append(key)
  return result


def _step_program(config, info):
  """The train step's jaxpr as text: equal texts mean one compiled program serves both configs."""
  generator, discriminator = models.get_models(config.model, info.shape, info.num_classes)
  example_x = jnp.zeros((2,) + tuple(info.shape), jnp.float32)
  state = jax.eval_shape(lambda r: train_step_lib.create_train_state(
      config, generator, discriminator, r, example_x), jax.random.key(0))
  n = config.batch_size * config.n_critic
  batch = {"x": jax.ShapeDtypeStruct((n,) + tuple(info.shape), jnp.float32),
           "label": jax.ShapeDtypeStruct((n,), jnp.int32)}
  step = train_step_lib.make_train_step(config, generator, discriminator)
  return str(jax.make_jaxpr(step)(state, batch, jax.random.key(0)))


def _switches_at_zero(config, spec, vmapped, info):
  """The vmapped keys whose value 0 changes the step's program (0 turns GP, clipping, EMA off)."""
  result = []
  for key in vmapped:
    values = {m[key] for m in spec}
    if key == "seed" or 0 not in values or len(values) < 2:
      continue
    nonzero = next(v for v in values if v != 0)
    if (_step_program(sweep_spec.apply(config, {key: 0}), info)
        != _step_program(sweep_spec.apply(config, {key: nonzero}), info)):
      result.append(key)
  return result


def plan(config, spec, info=None):
  """Splits the members of `spec` into groups trained one after another.

  `info` (the dataset's) lets values of 0 that do not change the step's program share a group.
  """
  vmapped = vmapped_keys(config, spec)
  at_zero = ([k for k in vmapped if k != "seed"] if info is None
             else _switches_at_zero(config, spec, vmapped, info))
  groups = {}
  for overrides in spec:
    structural = {k: v for k, v in overrides.items() if k not in vmapped}
    zeros = tuple((k, overrides[k] == 0) for k in at_zero)
    signature = json.dumps([sorted(structural.items()), zeros], default=str)
    groups.setdefault(signature, (structural, []))[1].append(overrides)
  result = []
  for structural, members in groups.values():
    member_configs = tuple(sweep_spec.apply(config, m) for m in members)
    for c in member_configs:
      train.validate_config(c)
    result.append(Group(member_configs[0], tuple(members), member_configs, structural))
  return result


def _stack(trees):
  return jax.tree.map(lambda *xs: np.stack([np.asarray(x) for x in xs]), *trees)


def member_devices(devices, num_members):
  """The most of `devices` that split the members evenly.

  A multi-host stack keeps every process's devices (each must hold part of the global arrays) and
  is replicated over them when they do not divide the members.
  """
  if jax.process_count() > 1:
    return devices
  return devices[:max(k for k in range(1, len(devices) + 1) if num_members % k == 0)]


def build_group(group, dataset, devices=None):
  """Models, the stacked initial state and `train(states, data) -> (states, metric sums (M,))`."""
  config = group.config
  info = dataset.info
  if dataset.arrays is None and info.kind != "points":
    raise UserError(f"sweeps draw batches on the device; dataset {info.name!r} is read by the host "
                    f"pipeline (raise dataset.max_device_bytes or use a smaller dataset)")
  generator, discriminator = models.get_models(config.model, info.shape, info.num_classes)
  m = len(group.members)
  mesh = parallel.make_mesh(member_devices(jax.devices() if devices is None else devices, m))
  sharded = m % mesh.devices.size == 0
  sharding = NamedSharding(mesh, P(parallel.DATA_AXIS)) if sharded else parallel.replicated(mesh)
  seeds = np.asarray([c.seed for c in group.member_configs], np.int32)
  unique_seeds, seed_index = np.unique(seeds, return_inverse=True)
  example_x = jnp.zeros((2,) + tuple(info.shape), jnp.float32)

  # Per-member numbers that live in the state, from each member's own config.
  numbers = _stack([(train_step_lib.default_hparams(c),
                     _optimizer_hyperparams(c.g_optimizer, "g"),
                     _optimizer_hyperparams(c.d_optimizer, "d")) for c in group.member_configs])

  def init(seeds, numbers):
    def one(seed, nums):
      state = train_step_lib.create_train_state(config, generator, discriminator,
                                                jax.random.key(seed), example_x)
      hparams, g_hyper, d_hyper = jax.tree.map(
          lambda new, old: jnp.asarray(new, jnp.asarray(old).dtype), nums,
          (state.hparams, state.g_opt_state.hyperparams, state.d_opt_state.hyperparams))
      return state.replace(hparams=hparams,
                           g_opt_state=state.g_opt_state._replace(hyperparams=g_hyper),
                           d_opt_state=state.d_opt_state._replace(hyperparams=d_hyper))
    return jax.vmap(one)(seeds, numbers)

  # Inputs as global arrays, so that every process of a multi-host run enters the same program.
  state = jax.jit(init, out_shardings=sharding)(
      *parallel.replicate_from_host((seeds, numbers), mesh))

  examples_per_step = config.batch_size * config.n_critic
  samplers = [input_pipeline.make_device_sampler(dataset, examples_per_step, int(s))
              for s in unique_seeds]
  device_data = parallel.replicate_from_host(jax.device_get(samplers[0][0]), mesh)
  step_fn = train_step_lib.make_train_step(config, generator, discriminator)

  def run(states, data, seeds, seed_index):
    """`steps_per_call` steps of the members in `states` (with a sharded stack: this device's)."""
    n = config.steps_per_call
    # Members advance together; each device reads the step of its own first member, so the
    # devices of a sharded stack never wait for each other.
    first = states.step[0]
    # Per data order (seed): the call's batches, (n, B, ...), stacked on axis 1.
    orders = jax.tree.map(lambda *b: jnp.stack(b, 1),
                          *[sample(data, first, n) for _, sample in samplers])

    def one_step(states, xs):
      step, batches = xs
      rngs = jax.vmap(lambda s: jax.random.fold_in(jax.random.key(s), step))(seeds)
      if len(samplers) == 1:  # One data order for all: shared, not copied per member.
        batch = jax.tree.map(lambda b: b[0], batches)
        member_step = lambda args: step_fn(args[0], batch, args[2])
      else:
        member_step = lambda args: step_fn(args[0], jax.tree.map(lambda b: b[args[1]], batches),
                                           args[2])
      return jax.vmap(member_step)((states, seed_index, rngs))
    one_member = jax.tree.map(lambda x: x[0], (states.g_params, states.d_params))
    return train.scan_steps(one_step, n, states, (first + jnp.arange(n), orders),
                            unroll=train_step_lib.unroll_on_cpu(one_member))

  if sharded:
    run = jax.shard_map(run, mesh=mesh, out_specs=(P(parallel.DATA_AXIS),) * 2,
                        in_specs=(P(parallel.DATA_AXIS), P(), P(parallel.DATA_AXIS),
                                  P(parallel.DATA_AXIS)))
  train_fn = jax.jit(lambda states, data: run(states, data, seeds, seed_index.astype(np.int32)),
                     donate_argnums=0, out_shardings=(sharding, sharding))
  return dict(generator=generator, discriminator=discriminator, state=state, mesh=mesh,
              sharded=sharded, train=train_fn, device_data=device_data)


def _logged_metrics(workdir, num_members):
  """The latest value of every metric per member in metrics.jsonl."""
  final = [dict() for _ in range(num_members)]
  path = os.path.join(workdir, "metrics.jsonl")
  if os.path.exists(path):
    with open(path) as f:
      for line in f:
        record = json.loads(line)
        i = record.pop("member", None)
        record.pop("step", None)
        if i is not None and 0 <= i < num_members:
          final[i].update(record)
  return final


def _member(tree, i):
  return jax.tree.map(lambda x: x[i], tree)


def _check_workdir(workdir, group):
  path = os.path.join(workdir, "sweep.json")
  record = {"structural": group.structural, "members": list(group.members)}
  new = json.loads(json.dumps(record, default=str))
  if os.path.exists(path):
    with open(path) as f:
      if json.load(f) != new:
        raise UserError(f"workdir {workdir} holds another sweep (other members); use a new "
                        f"--workdir or the same sweep")
  elif jax.process_index() == 0:
    outputs.write_json(path, new)


def train_group(group, dataset, workdir, metric=""):
  """Trains (or resumes) one group's stack; returns the final metrics per member."""
  config = group.config
  info = dataset.info
  os.makedirs(workdir, exist_ok=True)
  is_main = jax.process_index() == 0
  _check_workdir(workdir, group)
  if is_main:
    train.write_config(workdir, config)
  parts = build_group(group, dataset)
  state, train_fn = parts["state"], parts["train"]
  if is_main:
    devices = parts["mesh"].devices.ravel()
    print(f"  members {'sharded' if parts['sharded'] else 'replicated'} over {len(devices)} "
          f"{devices[0].platform} device(s)", flush=True)
  manager = checkpointing.make_manager(workdir, config.get("keep_checkpoints", 3))
  restored = checkpointing.restore_latest(manager, state)
  if restored is not None:
    state = restored
    print(f"Resumed the {len(group.members)} members from step "
          f"{int(parallel.host_copy(state.step)[0])}", flush=True)
  step = int(parallel.host_copy(state.step)[0])
  m = len(group.members)
  names = _member_names(group)
  writers = [outputs.MetricWriter(workdir, enabled=is_main, member=i, start_step=step)
             for i in range(m)]
  progress = outputs.Progress(step, config.num_train_steps)
  generator = parts["generator"]
  use_ema = config.ema.decay > 0
  sample_fn = jax.jit(jax.vmap(train_step_lib.make_sample_fn(generator, config, use_ema)))
  grids = _stack([train.fixed_latents(c, generator.num_classes, config.num_grid_samples)
                  for c in group.member_configs])
  eval_every = config.get("eval_every_steps", 0)
  eval_config = config
  if not eval_every and info.kind == "points":
    # Toy members are compared by mode coverage at the end even with in-loop evaluation off.
    eval_every = config.num_train_steps
    eval_config = config.copy_and_resolve_references()
    with eval_config.unlocked():
      eval_config.eval_every_steps = eval_every
  # pylint: disable-next=protected-access
  evaluate = train._make_in_loop_evaluator(eval_config, dataset, generator, workdir)
  final = _logged_metrics(workdir, m)  # A resumed (or finished) sweep's earlier numbers.
  sums, sum_steps = None, 0
  with train.sigterm_flag() as stop:
    try:
      while step < config.num_train_steps and stop["signal"] is None:
        state, call_sums = train_fn(state, parts["device_data"])
        step += config.steps_per_call
        sums = call_sums if sums is None else jax.tree.map(jnp.add, sums, call_sums)
        sum_steps += config.steps_per_call
        done = step >= config.num_train_steps
        if train.due(step, config.log_every_steps, done):
          host = parallel.host_copy(sums)  # The member axis may span processes.
          sums, sum_steps, scalars = None, 0, {k: v / sum_steps for k, v in host.items()}
          for i in range(m):
            final[i].update({k: float(v[i]) for k, v in scalars.items()})
            writers[i].write(step, {k: v[i] for k, v in scalars.items()})
          if is_main:
            bad = [i for i in range(m) if not all(map(math.isfinite, final[i].values()))]
            shown = {k: float(np.nanmean(v)) for k, v in scalars.items()}
            print(f"[mean of {m}] " + progress.line(step, shown)
                  + (f" | diverged: {len(bad)}/{m}" if bad else ""), flush=True)
        if train.due(step, config.sample_every_steps, done):
          host_state = parallel.host_copy(state)  # A collective: on every process.
          samples = jax.device_get(sample_fn(host_state, *grids)) if is_main else ()
          for i in range(len(samples)):
            os.makedirs(os.path.join(workdir, f"member_{i}"), exist_ok=True)
            train.save_samples(os.path.join(workdir, f"member_{i}", f"samples_{step:07d}.png"),
                               samples[i], info, f"{names[i]} step {step}")
        if evaluate and train.due(step, eval_every, done):
          # Every process evaluates the same host copy, so they agree.
          local = parallel.host_copy(state)
          for i in range(m):
            eval_metrics = evaluate(_member(local, i), step)
            final[i].update(eval_metrics)
            writers[i].write(step, eval_metrics)
        if done or train.due(step, config.checkpoint_every_steps, done):
          # Diverged members are kept (and reported); the others are still worth resuming.
          _save(manager, state, step)
      if stop["signal"] is not None:
        logging.warning("Received signal %d: saving a checkpoint at step %d and exiting.",
                        stop["signal"], step)
        _save(manager, state, step)
    finally:
      manager.wait_until_finished()
      for w in writers:
        w.close()
  if is_main and all(final) and stop["signal"] is None:
    write_summary(workdir, names, final, metric)
  return state, final


def _save(manager, state, step):
  # The whole stack in one checkpoint, named by the step its members share.
  if manager.latest_step() != step:
    manager.save(step, args=ocp.args.StandardSave(state))


def _short_names(keys):
  """The shortest dotted suffix of each key that tells it from the others."""
  names = {}
  for key in keys:
    parts = key.split(".")
    for n in range(1, len(parts) + 1):
      suffix = ".".join(parts[-n:])
      if sum(k == suffix or k.endswith("." + suffix) for k in keys) == 1:
        break
    names[key] = suffix
  return names


def _member_names(group):
  keys = [k for k in sweep_spec.keys(group.members) if k not in group.structural]
  short = _short_names(keys)
  return [" ".join(f"{short[k]}={o[k]:g}" if _is_number(o[k]) else f"{short[k]}={o[k]}"
                   for k in keys) or "member" for o in group.members]


def write_summary(workdir, names, final, metric=""):
  """summary.csv, summary.md and summary.png: the final metrics of every member."""
  keys = sorted({k for f in final for k in f})
  metric = metric or next((k for k in SUMMARY_PRIORITY if k in keys), keys[0])
  if metric not in keys:
    raise UserError(f"--metric={metric} was not logged; logged: {', '.join(keys)}")
  with open(os.path.join(workdir, "summary.csv"), "w", newline="") as f:
    w = csv.writer(f)
    w.writerow(["member", "name"] + keys)
    for i, (name, vals) in enumerate(zip(names, final)):
      w.writerow([i, name] + [vals.get(k, "") for k in keys])
  lines = ["| member | " + " | ".join(["values"] + keys) + " |",
           "|---" * (len(keys) + 2) + "|"]
  for i, (name, vals) in enumerate(zip(names, final)):
    lines.append(f"| {i} | {name} | " + " | ".join(f"{vals.get(k, float('nan')):.4g}" for k in keys)
                 + " |")
  table = "\n".join(lines) + "\n"
  with open(os.path.join(workdir, "summary.md"), "w") as f:
    f.write(table)
  import matplotlib  # pylint: disable=g-import-not-at-top
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top
  values = [vals.get(metric, float("nan")) for vals in final]
  # Horizontal bars: member names can be long.
  fig, ax = plt.subplots(figsize=(8, 0.25 * len(names) + 1.5), dpi=100)
  ax.barh(range(len(names)), values)
  ax.set_yticks(range(len(names)), [f"{i}: {n}" for i, n in enumerate(names)], fontsize=7)
  ax.invert_yaxis()
  ax.set_xlabel(f"final {metric}")
  fig.tight_layout()
  fig.savefig(os.path.join(workdir, "summary.png"))
  plt.close(fig)
  print(f"Final metrics per member ({workdir}/summary.md):\n{table}", flush=True)


def load_spec(config_path):
  """The config file's get_sweep(h) with h = gan_jax.sweep_spec."""
  path = config_path.split(":", 1)[0]
  spec_module = importlib.util.spec_from_file_location("_sweep_config", path)
  module = importlib.util.module_from_spec(spec_module)
  spec_module.loader.exec_module(module)
  if not hasattr(module, "get_sweep"):
    raise UserError(f"{path} has no get_sweep(h); see gan_jax/sweep_spec.py")
  spec = module.get_sweep(sweep_spec)
  if not spec:
    raise UserError(f"{path}: get_sweep returned no members")
  return spec


def run_sweep(config, spec, workdir, metric=""):
  """Trains every group of the sweep; returns [(group, workdir, final metrics per member)]."""
  groups = plan(config, spec, input_pipeline.load_dataset(config.dataset).info)
  results = []
  for k, group in enumerate(groups):
    run_dir = workdir if len(groups) == 1 else os.path.join(workdir, f"run_{k:02d}")
    what = " ".join(f"{key}={v}" for key, v in group.structural.items()) or "(none)"
    print(f"Run {k + 1}/{len(groups)}: {len(group.members)} members vmapped, structural {what}, "
          f"into {run_dir}", flush=True)
    dataset = input_pipeline.load_dataset(group.config.dataset)
    _, final = train_group(group, dataset, run_dir, metric)
    results.append((group, run_dir, final))
  if len(groups) > 1 and jax.process_index() == 0:
    with open(os.path.join(workdir, "runs.md"), "w") as f:
      for k, (group, run_dir, _) in enumerate(results):
        f.write(f"- run_{k:02d}: {len(group.members)} members, structural "
                f"{json.dumps(group.structural, default=str)}\n")
  return results


def main(argv):
  del argv
  logging.set_verbosity(logging.WARNING)
  parallel.one_cpu_device_per_core()
  distributed.initialize(FLAGS.config)
  spec = load_spec(config_flags.get_config_filename(FLAGS["config"]))
  run_sweep(FLAGS.config, spec, FLAGS.workdir, FLAGS.metric)


if __name__ == "__main__":
  sys.exit(cli.run(main))
