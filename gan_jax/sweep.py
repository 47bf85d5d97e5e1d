"""Hyper-parameter sweeps trained together: members stacked on a leading axis, one vmapped step.

  python -m gan_jax.sweep --config=configs/gan_mlp.py:ring8 --workdir=DIR

The config file's `get_sweep(h)` returns the members (see `gan_jax.sweep_spec`). Keys whose values
live in the train state as arrays are vmapped: `seed`, the loss hyper-parameters the family keeps
in `state.hparams` (label smoothing, GP lambda, L1 weight, ...), and the optimizers'
`inject_hyperparams` values (learning_rate, b1, b2, ...). Every other key (model, dataset,
n_critic, batch_size, ...) is structural: its values fan out into separate runs, one after another,
in DIR/run_00, DIR/run_01, ... So do members whose values change the step's structure (the
family's `options`: a GP weight of 0 switches the penalty off when the step is built).

A run is trained by the one loop (gan_jax.loop) and writes metrics.jsonl (a `member` column),
tensorboard/member_<i>/, member_<i>/samples_*.png, one checkpoint of the whole stack (resumable),
and summary.{md,csv,png}: the final metrics per member. The stack's member axis is sharded over the
devices when the device count divides it.
"""
import contextlib
import csv
import dataclasses
import functools
import importlib.util
import json
import os
import sys

from absl import flags
from absl import logging
import jax
from jax.sharding import NamedSharding, PartitionSpec as P
import jax.numpy as jnp
from ml_collections import config_flags
import numpy as np

from gan_jax import cli
from gan_jax import data
from gan_jax import distributed
from gan_jax import families
from gan_jax import key_streams
from gan_jax import loop
from gan_jax import outputs
from gan_jax import parallel
from gan_jax import state as state_lib
from gan_jax import sweep_spec
from gan_jax import workdir as workdir_lib
from gan_jax.errors import UserError

FLAGS = flags.FLAGS


def define_flags(flag_values=flags.FLAGS):
  flags.DEFINE_string("workdir", None, "Directory of the sweep (one run per structural group).",
                      flag_values=flag_values)
  flags.DEFINE_string("metric", "", "Metric of the summary plot (default: fid, else modes, "
                      "else g_loss).", flag_values=flag_values)
  config_flags.DEFINE_config_file("config", None, "Config file with get_config() and get_sweep(h).",
                                  flag_values=flag_values, lock_config=True)
  flags.mark_flags_as_required(["config", "workdir"], flag_values=flag_values)

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


def _family(config):
  return families.get(config.family)


def numbers(config):
  """A member's numbers that live in the state: the family's hparams and each network's
  optimizer hyper-parameters."""
  return loop.state_numbers(config)


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
    # A knob is in the state when its value shows in the state's numbers.
    seen = {json.dumps(jax.tree.map(np.asarray, numbers(sweep_spec.apply(config, {key: v}))),
                       sort_keys=True, default=lambda a: np.asarray(a).tolist())
            for v in set(values)}
    if len(seen) == len(set(values)):
      result.append(key)
  return result


def plan(config, spec):
  """Splits the members of `spec` into groups trained one after another: members share a group
  when their structural overrides and their family's options (the step's structure) are equal."""
  vmapped = vmapped_keys(config, spec)
  groups = {}
  for overrides in spec:
    member_config = sweep_spec.apply(config, overrides)
    structural = {k: v for k, v in overrides.items() if k not in vmapped}
    signature = (json.dumps(sorted(structural.items()), default=str),
                 _family(member_config).options(member_config))
    groups.setdefault(signature, (structural, []))[1].append(overrides)
  result = []
  for structural, members in groups.values():
    member_configs = tuple(sweep_spec.apply(config, m) for m in members)
    for c in member_configs:
      loop.validate_config(c)
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


def build_stack(group, dataset, devices=None):
  """The loop's Program for a group: the stacked initial state and the vmapped `train`."""
  config = group.config
  info = dataset.info
  if dataset.arrays is None and info.kind != "points":
    raise UserError(f"sweeps draw batches on the device; dataset {info.name!r} is read by the host "
                    f"pipeline (raise dataset.max_device_bytes or use a smaller dataset)")
  trainer = _family(config).build(config, dataset)
  m = len(group.members)
  mesh = parallel.make_mesh(member_devices(jax.devices() if devices is None else devices, m))
  sharded = m % mesh.devices.size == 0
  sharding = NamedSharding(mesh, P(parallel.DATA_AXIS)) if sharded else parallel.replicated(mesh)
  seeds = np.asarray([c.seed for c in group.member_configs], np.int32)
  unique_seeds, seed_index = np.unique(seeds, return_inverse=True)
  seed_index = seed_index.astype(np.int32)
  # Per-member numbers that live in the state, from each member's own config.
  member_numbers = _stack([numbers(c) for c in group.member_configs])

  def init(seeds, nums):
    return jax.vmap(lambda seed, n: state_lib.with_numbers(trainer.init(jax.random.key(seed)),
                                                           *n))(seeds, nums)

  # Inputs as global arrays, so that every process of a multi-host run enters the same program.
  state = jax.jit(init, out_shardings=sharding)(
      *parallel.replicate_from_host((seeds, member_numbers), mesh))

  samplers = [data.feed.make_device_sampler(dataset, trainer.batch_rows, int(s), trainer.fields)
              for s in unique_seeds]
  device_data = parallel.replicate_from_host(jax.device_get(samplers[0][0]), mesh)
  step_of_stage = loop.stage_steps(trainer)

  def run(states, device_data, seeds, seed_index, num_steps, stage):
    """`num_steps` steps of the members in `states` (with a sharded stack: this device's)."""
    step_fn = step_of_stage(stage)
    # Members advance together; each device reads the step of its own first member, so the
    # devices of a sharded stack never wait for each other.
    first = states.step[0]
    # Per data order (seed): the call's batches, (n, B, ...), stacked on axis 1.
    orders = jax.tree.map(lambda *b: jnp.stack(b, 1),
                          *[sample(device_data, first, num_steps) for _, sample in samplers])

    def one_step(states, xs):
      step, batches = xs
      rngs = jax.vmap(lambda s: key_streams.step_key(jax.random.key(s), step))(seeds)
      if len(samplers) == 1:  # One data order for all: shared, not copied per member.
        batch = jax.tree.map(lambda b: b[0], batches)
        member_step = lambda args: step_fn(args[0], batch, args[2])
      else:
        member_step = lambda args: step_fn(args[0], jax.tree.map(lambda b: b[args[1]], batches),
                                           args[2])
      return jax.vmap(member_step)((states, seed_index, rngs))
    one_member = jax.tree.map(lambda x: x[0], states.params())
    return loop.scan_steps(one_step, num_steps, states, (first + jnp.arange(num_steps), orders),
                           unroll=parallel.unroll_on_cpu(one_member))

  def call(states, device_data, num_steps, stage):
    fn = functools.partial(run, num_steps=num_steps, stage=stage)
    if sharded:
      fn = jax.shard_map(fn, mesh=mesh, out_specs=(P(parallel.DATA_AXIS),) * 2,
                         in_specs=(P(parallel.DATA_AXIS), P(), P(parallel.DATA_AXIS),
                                   P(parallel.DATA_AXIS)))
    return fn(states, device_data, seeds, seed_index)
  train = jax.jit(call, static_argnums=(2, 3), donate_argnums=0,
                  out_shardings=(sharding, sharding))
  return loop.Program(trainer=trainer, state=state, train=train,
                      feeder=lambda start_step: lambda num_steps: device_data, mesh=mesh,
                      members=m, sharded=sharded)


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


def train_group(group, dataset, workdir, metric="", program=None):
  """Trains (or resumes) one group's stack with the loop; returns (state, final metrics per
  member)."""
  if program is None:
    program = build_stack(group, dataset)
    loop.check_before_writing(group.config, dataset, program.trainer)
  os.makedirs(workdir, exist_ok=True)
  _check_workdir(workdir, group)
  if jax.process_index() == 0:
    devices = program.mesh.devices.ravel()
    print(f"  members {'sharded' if program.sharded else 'replicated'} over {len(devices)} "
          f"{devices[0].platform} device(s)", flush=True)
  names = _member_names(group)
  state, final = loop.run(group.config, workdir, program, dataset, names)
  finished = int(parallel.host_copy(state.step)[0]) >= group.config.num_train_steps
  if jax.process_index() == 0 and all(final) and finished:  # Not after a SIGTERM.
    write_summary(workdir, names, final, metric)
  return state, final


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
  groups = plan(config, spec)  # Every member's config is checked here.
  if jax.process_index() == 0:  # The lock's holder: another run on this workdir stops here.
    workdir_lib.check_usable(workdir)
  results = []
  with contextlib.ExitStack() as held:
    for k, group in enumerate(groups):
      run_dir = workdir if len(groups) == 1 else os.path.join(workdir, f"run_{k:02d}")
      what = " ".join(f"{key}={v}" for key, v in group.structural.items()) or "(none)"
      print(f"Run {k + 1}/{len(groups)}: {len(group.members)} members vmapped, structural "
            f"{what}, into {run_dir}", flush=True)
      dataset = _family(group.config).load_data(group.config)
      program = build_stack(group, dataset)
      loop.check_before_writing(group.config, dataset, program.trainer)
      if k == 0:  # Refused before this point, a sweep writes nothing.
        held.enter_context(loop.lock(workdir))
      _, final = train_group(group, dataset, run_dir, metric, program)
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
  config = cli.config_from_flag(FLAGS["config"])
  distributed.initialize(config)
  spec = load_spec(config_flags.get_config_filename(FLAGS["config"]))
  run_sweep(config, spec, FLAGS.workdir, FLAGS.metric)


if __name__ == "__main__":
  define_flags()
  sys.exit(cli.run(main))
