"""A run's random streams, all derived from its seed: one module names them all.

Step s draws from fold_in(key(seed), s). Under threefry (partitionable) fold_in(k, i) == split(k, n)[i],
so a stream taken as split(root) or fold_in(root, small i) would reuse the random bits of some
step's noise, dropout and penalties. The other streams fold in tags that no int32 step reaches.
The sample grid's and the evaluations' keys come from the seeds after the run's (seed + 1, + 2, + 3).
"""
import jax
import numpy as np

_INIT_TAG = 2**32 - 2
_DATA_TAG = 2**32 - 1


def step_key(root, step):
  """Step `step`'s key: its noise, dropout, penalties."""
  return jax.random.fold_in(root, step)


def init_key(root):
  """The initial weights' stream."""
  return jax.random.fold_in(root, _INIT_TAG)


def data_key(root, group=0):
  """The data stream of field group `group` (0: the only one of most data sets): toy-mixture draws,
  epoch permutations, sampled batch indices. Group g > 0 (a second unpaired domain) folds in a tag
  of its own, below the init tag."""
  return jax.random.fold_in(root, _DATA_TAG if group == 0 else _INIT_TAG - group)


def host_data_seed(seed, group=0):
  """grain's shuffle seed for field group `group` of the host pipeline."""
  if group == 0:
    return seed
  return int(np.random.SeedSequence([seed, group]).generate_state(1)[0] % 2**31)


def grid_key(seed):
  """The sample grid's fixed inputs (latents, labels)."""
  return jax.random.key(seed + 1)


def mode_eval_key(seed):
  """The fixed latents whose samples score mode coverage (2D data) at every evaluation."""
  return jax.random.key(seed + 3)


def eval_key(seed, step):
  """The in-loop evaluation at `step` (the latents of its samples)."""
  return jax.random.fold_in(jax.random.key(seed + 2), step)
