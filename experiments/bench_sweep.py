"""Vmapped sweep vs the same members trained one after another (toy ring8 GAN, configs/gan_mlp.py).

  python experiments/bench_sweep.py [--members=64] [--steps=200] [--sequential_members=4]
      [--g_hidden=256,512 --d_hidden=512,256]

A learning-rate x seed sweep (8 x 8 for 64 members). Throughput is member-steps per second, after
compilation. The sequential side runs `--sequential_members` of the members one after another with
the single-run program (`loop.build`) and extrapolates: one after another, the aggregate rate is
the mean single-run rate. `speedup` compares steady-state throughput; `speedup_with_compile` the wall
time of all members for `num_train_steps` (5000) steps, counting one compile for the stack against one
per sequential run (derived from the measured rates and compile times).
"""
import argparse
import json
import os
import sys
import time

import jax
from jax.sharding import NamedSharding, PartitionSpec as P
import jax.numpy as jnp
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from configs import gan_mlp  # pylint: disable=g-import-not-at-top,wrong-import-position
from gan_jax import data  # pylint: disable=g-import-not-at-top,wrong-import-position
from gan_jax import parallel  # pylint: disable=g-import-not-at-top,wrong-import-position
from gan_jax import sweep  # pylint: disable=g-import-not-at-top,wrong-import-position
from gan_jax import sweep_spec as h  # pylint: disable=g-import-not-at-top,wrong-import-position
from gan_jax import loop  # pylint: disable=g-import-not-at-top,wrong-import-position


def timed_calls(program, calls, k):
  """Seconds of `calls` calls of k steps each, after one to compile."""
  state, _ = program.call(program.state, k)  # Compile and warm up.
  jax.block_until_ready(state)
  start = time.perf_counter()
  for _ in range(calls):
    state, sums = program.call(state, k)
  jax.block_until_ready((state, sums))
  return time.perf_counter() - start, state


def step_flops(config, dataset):
  """FLOPs of one train step (XLA's count for the one-step program)."""
  one = config.copy_and_resolve_references()
  one.steps_per_call = 1
  program = loop.build(one, dataset, devices=jax.devices()[:1])
  cost = program.train.lower(program.state, program.feeder(0)(1), 1, 0).compile().cost_analysis()
  return float((cost[0] if isinstance(cost, list) else cost)["flops"])


def matmul_flops_per_s(devices, n=2048, calls=20):
  """Dense f32 matmul rate of `devices` together (one n x n matmul per device per call)."""
  mesh = parallel.make_mesh(devices)
  sharding = NamedSharding(mesh, P(parallel.DATA_AXIS))
  a = jax.device_put(jnp.ones((len(devices), n, n), jnp.float32), sharding)
  f = jax.jit(lambda a: jnp.einsum("dij,djk->dik", a, a), out_shardings=sharding)
  jax.block_until_ready(f(a))
  start = time.perf_counter()
  for _ in range(calls):
    out = f(a)
  jax.block_until_ready(out)
  return calls * len(devices) * 2 * n**3 / (time.perf_counter() - start)


def main():
  parser = argparse.ArgumentParser()
  parser.add_argument("--members", type=int, default=64)
  parser.add_argument("--steps", type=int, default=200, help="timed steps (multiple of 50)")
  parser.add_argument("--sequential_members", type=int, default=4)
  parser.add_argument("--g_hidden", default="", help="MLP widths, e.g. 128,128 (default: config's)")
  parser.add_argument("--d_hidden", default="")
  parser.add_argument("--json", default="")
  args = parser.parse_args()
  parallel.one_cpu_device_per_core()
  config = gan_mlp.get_config("ring8")  # MLP 256/512, batch 100, 50 steps per call.
  for key in ("g_hidden", "d_hidden"):
    if getattr(args, key):
      config.model[key] = tuple(int(w) for w in getattr(args, key).split(","))
  k = config.steps_per_call
  calls = max(1, args.steps // k)
  n_seeds = int(np.sqrt(args.members))
  spec = h.product([h.zipit([h.sweep("g_optimizer.learning_rate",
                                     np.geomspace(1e-4, 3e-3, args.members // n_seeds).tolist()),
                             h.sweep("d_optimizer.learning_rate",
                                     np.geomspace(1e-4, 3e-3, args.members // n_seeds).tolist())]),
                    h.sweep("seed", list(range(n_seeds)))])
  dataset = data.load(config.dataset)
  (group,) = sweep.plan(config, spec)
  m = len(group.members)

  t0 = time.perf_counter()
  program = sweep.build_stack(group, dataset)
  seconds, _ = timed_calls(program, calls, k)
  sweep_total = time.perf_counter() - t0
  vmapped_rate = m * calls * k / seconds

  rates, compile_s = [], []
  for i in range(min(args.sequential_members, m)):
    t0 = time.perf_counter()
    single = loop.build(group.member_configs[i], dataset, devices=jax.devices()[:1])
    s, _ = timed_calls(single, calls, k)
    compile_s.append(time.perf_counter() - t0 - s)
    rates.append(calls * k / s)
  sequential_rate = float(np.mean(rates))
  sweep_devices = program.mesh.devices.size
  flops = step_flops(config, dataset)
  peak = matmul_flops_per_s(jax.devices()[:sweep_devices])
  result = dict(device=str(jax.devices()[0].device_kind), sweep_devices=sweep_devices,
                g_hidden=list(config.model.g_hidden), d_hidden=list(config.model.d_hidden),
                members=m, timed_steps=calls * k,
                vmapped_member_steps_per_s=round(vmapped_rate, 1),
                vmapped_steps_per_s=round(vmapped_rate / m, 2),
                vmapped_setup_and_compile_s=round(sweep_total - seconds, 2),
                sequential_member_steps_per_s=round(sequential_rate, 1),
                sequential_runs_measured=len(rates),
                sequential_compile_s_per_run=round(float(np.mean(compile_s)), 2),
                speedup=round(vmapped_rate / sequential_rate, 2),
                step_mflop=round(flops / 1e6, 2),
                single_gflop_per_s=round(sequential_rate * flops / 1e9, 1),
                vmapped_gflop_per_s=round(vmapped_rate * flops / 1e9, 1),
                matmul_peak_gflop_per_s=round(peak / 1e9, 1),
                speedup_bound=round(peak / (sequential_rate * flops), 2))
  # Derived from the numbers above: wall time of the whole sweep at the config's length, compiles
  # included (64 separate runs compile 64 times; the stack once).
  n = config.num_train_steps
  sweep_wall = (sweep_total - seconds) + m * n / vmapped_rate
  sequential_wall = m * (float(np.mean(compile_s)) + n / sequential_rate)
  result.update(num_train_steps=n, sweep_wall_s_with_compile=round(sweep_wall, 1),
                sequential_wall_s_with_compile=round(sequential_wall, 1),
                speedup_with_compile=round(sequential_wall / sweep_wall, 2))
  print(json.dumps(result, indent=2))
  if args.json:
    with open(args.json, "w") as f:
      json.dump(result, f, indent=2)


if __name__ == "__main__":
  main()
