"""Helpers of the Pix2Pix tests."""
import jax
import jax.numpy as jnp
import numpy as np


def random_variables(module, *inputs, seed=0):
  """Variables of `module` for `inputs`, drawn with numpy: N(0, 0.02) weights and biases, scales
  near 1, running means 0 and variances 1. Tests need some weights, not flax's initializers, each of
  which is a threefry call site that XLA:CPU takes about a second to compile."""
  shapes = jax.eval_shape(lambda: module.init(jax.random.key(0), *inputs, train=False))
  rng = np.random.default_rng(seed)

  def fill(path, leaf):
    collection, name = path[0].key, path[-1].key
    if collection == "batch_stats":
      value = np.ones(leaf.shape) if name == "var" else np.zeros(leaf.shape)
    else:
      value = rng.normal(1.0 if name == "scale" else 0.0, 0.02, leaf.shape)
    return jnp.asarray(value, leaf.dtype)
  return jax.tree_util.tree_map_with_path(fill, shapes)
