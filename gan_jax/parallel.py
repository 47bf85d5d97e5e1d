"""Placing the train step on devices: one mesh with a 'data' axis, the batch sharded over it, the
state replicated."""
import jax
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P
import numpy as np

from gan_jax.errors import UserError

DATA_AXIS = "data"


def make_mesh(devices=None):
  devices = jax.devices() if devices is None else devices
  return Mesh(np.asarray(devices), (DATA_AXIS,))


def replicated(mesh):
  return NamedSharding(mesh, P())


def batch_sharded(mesh):
  return NamedSharding(mesh, P(DATA_AXIS))


def check_batch_divides(batch_size, mesh):
  n = mesh.devices.size
  if batch_size % n:
    raise UserError(f"batch_size={batch_size} must be divisible by the number of devices ({n})")


def batch_sharded_steps(mesh):
  """For a stack of batches (steps, batch, ...): the batch axis is sharded."""
  return NamedSharding(mesh, P(None, DATA_AXIS))
