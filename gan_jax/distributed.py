"""Joining a multi-process (multi-host) run: `jax.distributed.initialize`, before any other JAX call.

Every process runs the same command. The processes find each other

  * automatically on Cloud TPU VM slices and under SLURM's `srun` (JAX detects both), or
  * explicitly: `config.parallel.coordinator_address` ('host:port' of process 0),
    `config.parallel.num_processes` and `config.parallel.process_id`, or the
    JAX_COORDINATOR_ADDRESS environment variable with those two keys.

A single process on one machine needs none of this and is left alone.
"""
import os

from absl import logging
import jax

from gan_jax.errors import UserError


def _cluster_detected():
  """A launcher JAX auto-configures from: SLURM's srun with several tasks, or a Cloud TPU VM."""
  if int(os.environ.get("SLURM_NTASKS", "1")) > 1 and "SLURM_STEP_NODELIST" in os.environ:
    return True
  # TPU VMs (one host or a slice): JAX reads the workers from the VM's metadata. Initializing also
  # gives orbax the coordination service it uses to checkpoint collectively.
  return os.path.exists("/dev/accel0") or os.path.exists("/dev/vfio/0")


def initialize(config=None):
  """Calls `jax.distributed.initialize` when this is a multi-process run; idempotent."""
  if jax.distributed.is_initialized():
    return
  parallel = (config.get("parallel", None) if config is not None else None) or {}
  address = parallel.get("coordinator_address", "") or os.environ.get("JAX_COORDINATOR_ADDRESS", "")
  num_processes = parallel.get("num_processes", 0) or None
  process_id = parallel.get("process_id", -1)
  process_id = None if process_id is None or process_id < 0 else process_id
  if address:
    if num_processes is None or process_id is None:
      raise UserError(f"coordinator_address={address} needs parallel.num_processes and "
                      f"parallel.process_id (this process's index, 0..num_processes-1)")
    if not 0 <= process_id < num_processes:
      raise UserError(f"parallel.process_id={process_id} must be in 0..{num_processes - 1}")
    jax.distributed.initialize(address, num_processes, process_id)
  elif _cluster_detected():
    try:
      jax.distributed.initialize()
    except RuntimeError as e:  # JAX already in use (a notebook on one TPU VM): stay one process.
      if "before" not in str(e):
        raise
      logging.warning("Not joining a multi-process run: %s", e)
