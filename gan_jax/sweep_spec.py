"""Sweep specs: lists of {dotted config key: value} overrides, one dict per member.

A config file's `get_sweep(h)` receives this module and returns a spec:

  def get_sweep(h):
    return h.product([h.sweep("config.g_optimizer.learning_rate", [1e-4, 3e-4]),
                      h.sweep("config.seed", [0, 1])])

  sweep(key, values)  one member per value of `key`
  product(specs)      every combination (the last spec varies fastest)
  zipit(specs)        members side by side (equal lengths)
  fixed(key, value)   one member: the same override for all, inside a product

Keys are dotted paths into the config, with or without the leading 'config.'.
"""
import itertools

import ml_collections
import numpy as np

from gan_jax.errors import UserError

PREFIX = "config."


def _key(key):
  return key[len(PREFIX):] if key.startswith(PREFIX) else key


def sweep(key, values):
  if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__"):
    raise UserError(f"sweep({key!r}, {values!r}): values must be a list, e.g. [{values!r}]")
  values = [v.item() if isinstance(v, np.generic) else v for v in values]  # numpy -> Python.
  if not values:
    raise UserError(f"sweep({key!r}, ...) has no values")
  return [{_key(key): v} for v in values]


def fixed(key, value):
  return [{_key(key): value}]


def _merge(dicts):
  merged = {}
  for d in dicts:
    clash = set(merged) & set(d)
    if clash:
      raise UserError(f"sweep key(s) {', '.join(sorted(clash))} set twice in one member")
    merged.update(d)
  return merged


def product(specs):
  return [_merge(combo) for combo in itertools.product(*specs)]


def zipit(specs):
  lengths = sorted({len(s) for s in specs})
  if len(lengths) > 1:
    raise UserError(f"zipit needs specs of equal length, got lengths {lengths}")
  return [_merge(combo) for combo in zip(*specs)]


def keys(spec):
  """The swept keys, in first-seen order."""
  return list(dict.fromkeys(k for member in spec for k in member))


def apply(config, overrides):
  """A copy of `config` with the dotted-key `overrides`; unknown keys are a UserError."""
  config = config.copy_and_resolve_references()
  with config.unlocked():
    for key, value in overrides.items():
      *path, leaf = key.split(".")
      node = config
      for part in path:
        if not isinstance(node, ml_collections.ConfigDict) or part not in node:
          raise UserError(f"sweep key {key!r}: the config has no {part!r}")
        node = node[part]
      if not isinstance(node, ml_collections.ConfigDict) or leaf not in node:
        raise UserError(f"sweep key {key!r}: the config has no {leaf!r}")
      old = node[leaf]
      if isinstance(old, (int, float)) and not isinstance(old, bool) and isinstance(value, int):
        value = type(old)(value)  # 1 for a float field stays a float.
      try:
        node[leaf] = value
      except TypeError as e:
        raise UserError(f"sweep key {key!r}: value {value!r} is a {type(value).__name__}; the "
                        f"config holds a {type(old).__name__} ({old!r})") from e
  return config
