"""Orbax checkpoints of the GAN state.

The state is everything a run needs to continue: the step RNG and the data order are functions of
(seed, step), so restoring the state restores the data position too. `checkpoints/` keeps the latest
few; `best_checkpoint/` keeps the one with the lowest FID when in-loop evaluation runs.
"""
import os

import jax
import orbax.checkpoint as ocp

from gan_jax.errors import UserError


def make_manager(workdir, max_to_keep=3, best_metric=None):
  """checkpoints/ (the latest `max_to_keep`), or with `best_metric`, best_checkpoint/ (the one
  with the lowest value of that metric)."""
  if best_metric:
    options = ocp.CheckpointManagerOptions(max_to_keep=1, best_fn=lambda m: m[best_metric],
                                           best_mode="min", create=True)
    return ocp.CheckpointManager(os.path.join(os.path.abspath(workdir), "best_checkpoint"),
                                 options=options)
  options = ocp.CheckpointManagerOptions(max_to_keep=max_to_keep, create=True)
  return ocp.CheckpointManager(os.path.join(os.path.abspath(workdir), "checkpoints"),
                               options=options)


def save(manager, state, step, metrics=None):
  manager.save(step, args=ocp.args.StandardSave(state), metrics=metrics)


def restore_latest(manager, target_state):
  """Restores the newest checkpoint into the structure (and shardings) of `target_state`.

  Returns None when there is none. A checkpoint that does not match the model (another config) or
  cannot be read is a UserError, and nothing in the workdir is touched.
  """
  step = manager.latest_step()
  if step is None:
    return None
  abstract = jax.tree.map(ocp.utils.to_shape_dtype_struct, target_state)
  try:
    return manager.restore(step, args=ocp.args.StandardRestore(abstract))
  except Exception as e:  # pylint: disable=broad-except
    first_line = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
    raise UserError(f"checkpoint {manager.directory}/{step} cannot be restored into this "
                    f"config's model ({type(e).__name__}: {first_line[:300]}); use another "
                    f"--workdir or the config that wrote it") from e
