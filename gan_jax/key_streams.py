"""A run's random streams, all derived from its root key, key(seed).

Step s draws from fold_in(root, s). Under threefry (partitionable) fold_in(k, i) == split(k, n)[i],
so a stream taken as split(root) or fold_in(root, small i) would reuse the random bits of some
step's noise, dropout and penalties. The other streams fold in tags that no int32 step reaches.
"""
import jax

_INIT_TAG = 2**32 - 2
_DATA_TAG = 2**32 - 1


def init_key(root):
  """The initial weights' stream."""
  return jax.random.fold_in(root, _INIT_TAG)


def data_key(root):
  """The data stream: toy-mixture draws, epoch permutations, sampled batch indices."""
  return jax.random.fold_in(root, _DATA_TAG)
