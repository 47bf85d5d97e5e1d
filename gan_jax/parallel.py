"""Placing the train step on devices.

One mesh with a 'data' axis over every device of every process. The state is replicated, the batch is
sharded over the axis. `config.parallel.mode` picks how the one pure step runs on it:

  jit:  the step sees the global batch; XLA (GSPMD) partitions it and inserts the reductions.
  pmap: the step runs per device on its shard with `axis_name='data'` and averages gradients, batch
        statistics and metrics itself (`lax.pmean`). It is placed with `jax.shard_map`, the per-device
        programming model `jax.pmap` is built on in current JAX, so both modes share the mesh, the
        global arrays, donation and checkpoints.
"""
import os

import jax
import jax.numpy as jnp
from jax.experimental import multihost_utils
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P
import numpy as np

from gan_jax.errors import UserError

DATA_AXIS = "data"
MODES = ("jit", "pmap")


def make_mesh(devices=None):
  # jax.devices() lists each process's devices contiguously, as make_array_from_process_local_data
  # expects of a 1D mesh.
  devices = jax.devices() if devices is None else devices
  return Mesh(np.asarray(devices), (DATA_AXIS,))


def one_cpu_device_per_core():
  """Splits the CPU backend into one device per core, unless a device count was set already.

  XLA runs a device's small matmuls on one core, so a vmapped sweep sharded over per-core devices
  keeps every core busy. Call before JAX initializes its backends; accelerators are not affected.
  """
  if (jax.config.jax_num_cpu_devices > 0
      or "xla_force_host_platform_device_count" in os.environ.get("XLA_FLAGS", "")):
    return
  try:
    jax.config.update("jax_num_cpu_devices", len(os.sched_getaffinity(0)))
  except RuntimeError:  # Backends already in use (e.g. called from a notebook): leave them.
    pass


def replicated(mesh):
  return NamedSharding(mesh, P())


def batch_sharded(mesh):
  return NamedSharding(mesh, P(DATA_AXIS))


def batch_sharded_steps(mesh):
  """For a stack of batches (steps, batch, ...): the batch axis is sharded."""
  return NamedSharding(mesh, P(None, DATA_AXIS))


def check_mode(mode):
  if mode not in MODES:
    raise UserError(f"parallel.mode={mode!r} is unknown; allowed: {', '.join(MODES)}")
  return mode


def check_batch_divides(batch_size, mesh):
  n = mesh.devices.size
  if batch_size % n:
    raise UserError(f"batch_size={batch_size} must be divisible by the number of devices ({n}); "
                    f"use a multiple of {n}")


def axis_name_for(mode):
  """The axis name the step and the models reduce over: set only in pmap mode."""
  return DATA_AXIS if check_mode(mode) == "pmap" else None


def mean_over(axis_name, tree):
  """The mean of `tree` over the pmap axis (gradients, batch statistics, metrics); as is under jit."""
  return tree if axis_name is None else jax.lax.pmean(tree, axis_name)


def per_device(axis_name, params):
  """`params` to differentiate per device. Under shard_map the gradient of a replicated input is
  already summed over devices, and the pmean after it would keep that sum (N times the mean
  gradient); the gradient of a device-varying copy is this device's own, which pmean averages."""
  return params if axis_name is None else jax.lax.pcast(params, axis_name, to="varying")


def all_rows(axis_name, rows):
  """Under pmap, every device's `rows` (its share of the global batch) as the global batch, in its
  order and the same on every device; as is under jit. For what the state keeps of a batch (e.g.
  CycleGAN's image pools), which must stay the same on every device and equal one device's."""
  if axis_name is None:
    return rows
  n, i, b = jax.lax.axis_size(axis_name), jax.lax.axis_index(axis_name), rows.shape[0]
  placed = jax.lax.dynamic_update_slice_in_dim(jnp.zeros((n * b,) + rows.shape[1:], rows.dtype),
                                               rows, i * b, 0)
  return jax.lax.psum(placed, axis_name)  # Each row plus zeros from the other devices: exact.


def device_rows(axis_name, rows):
  """This device's share of the global batch's `rows` (all_rows' inverse; as is under jit): draws
  made for the global batch, so that a run gives the same result on any number of devices."""
  if axis_name is None:
    return rows
  b = rows.shape[0] // jax.lax.axis_size(axis_name)
  return jax.lax.dynamic_slice_in_dim(rows, jax.lax.axis_index(axis_name) * b, b)


def unroll_on_cpu(params):
  """Whether a loop whose body trains `params` should be unrolled: on the CPU backend, when they
  hold a 2D convolution's kernel (rank 4). XLA:CPU runs convolution weight gradients many times
  slower inside a while loop (jax#12868): DCGAN-28 trained at 0.07 steps/s in a `lax.scan` and
  0.46 unrolled on 2 cores (experiments/bench_train_step.py). Dense models keep their loops:
  unrolled, gan_mlp's 50 steps per call compiled in 100 s instead of 9 s."""
  return jax.default_backend() == "cpu" and any(
      jnp.ndim(p) >= 4 for p in jax.tree.leaves(params))


def scan(f, init, xs=None, length=None, unroll=False):
  """`jax.lax.scan`, where `unroll=True` leaves no loop in the compiled program. XLA compiles a
  fully unrolled scan of length 1 into a while loop all the same, and on the CPU that loop ran the
  second step of a 2-step call 7x slower for dcgan_mnist (0.03 against 0.21 steps/s,
  experiments/bench_train_step.py) and ~10x for StyleGAN-lite (jax#12868), so a length-1 scan to
  unroll is a plain call of `f`."""
  n = length if xs is None else len(jax.tree.leaves(xs)[0])
  if unroll and n == 1:
    carry, y = f(init, None if xs is None else jax.tree.map(lambda x: x[0], xs))
    return carry, jax.tree.map(lambda v: v[None], y)
  return jax.lax.scan(f, init, xs, length=length, unroll=unroll)


def distribute_step(step_fn, mesh, mode):
  """`step_fn(state, batch, rng)` placed on `mesh`: as is under jit, per device under pmap."""
  if check_mode(mode) == "jit":
    return step_fn
  # The state and rng are replicated; the step's pmeans keep the state identical on every device,
  # which check_vma verifies when the step is traced.
  mapped = jax.shard_map(step_fn, mesh=mesh, in_specs=(P(), P(DATA_AXIS), P()),
                         out_specs=(P(), P()), check_vma=True)

  def step(state, batch, rng):
    try:
      return mapped(state, batch, rng)
    except ValueError as e:
      if "out_specs which require replication" not in str(e):
        raise
      raise UserError("parallel.mode=pmap: this config keeps state that differs between devices "
                      "(e.g. a replay buffer of each device's fakes), which the replicated train "
                      "state cannot hold; use parallel.mode=jit") from e
  return step


def local_copy(tree):
  """A replicated global pytree as arrays on this process's first device.

  For host-side work of one process (sample grids, evaluation): a jit over the global arrays would be
  a collective program every process must enter.
  """
  def one(x):
    if isinstance(x, jax.Array) and not x.is_fully_addressable:
      if not x.is_fully_replicated:
        raise ValueError(f"local_copy needs replicated arrays, got sharding {x.sharding}")
      return x.addressable_data(0)
    return x
  return jax.tree.map(one, tree)


def host_copy(tree):
  """Any global pytree (sharded or not) as numpy arrays on every process.

  A collective when the arrays span processes: every process must call it.
  """
  if all(not isinstance(x, jax.Array) or x.is_fully_addressable for x in jax.tree.leaves(tree)):
    return jax.device_get(tree)
  return multihost_utils.process_allgather(tree, tiled=True)


def replicate_from_host(tree, mesh):
  """Host values (identical on every process) -> global arrays replicated over `mesh`."""
  sharding = replicated(mesh)
  def one(x):
    x = np.asarray(x)
    return jax.make_array_from_callback(x.shape, sharding, lambda index: x[index])
  return jax.tree.map(one, tree)
