"""The families' code keeps the shape issue 35 gave it: each step is named phases composed in a few
lines (no function under gan_jax/families/ longer than MAX_LINES), and a role has one name in every
family (`make_step`, `Options`, `make_models`)."""
import ast
import os

import pytest

from gan_jax import families

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FAMILIES = os.path.join(ROOT, "gan_jax", "families")
MAX_LINES = 80


def _modules(folder):
  for dirpath, _, names in os.walk(folder):
    for name in sorted(names):
      if name.endswith(".py"):
        path = os.path.join(dirpath, name)
        with open(path) as f:
          yield os.path.relpath(path, ROOT), ast.parse(f.read())


def function_lengths(folder):
  """(lines, 'path:line name') of every function and method under `folder`, nested ones
  included, from its `def` (decorators aside) to its last line."""
  for path, tree in _modules(folder):
    for node in ast.walk(tree):
      if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
        yield node.end_lineno - node.lineno + 1, f"{path}:{node.lineno} {node.name}"


def test_no_function_under_families_is_longer_than_the_limit():
  lengths = list(function_lengths(FAMILIES))
  assert len(lengths) > 100  # The walk found the families' code.
  too_long = sorted((n, where) for n, where in lengths if n > MAX_LINES)
  assert not too_long, f"longer than {MAX_LINES} lines (split into named phases): {too_long}"


def _top_level_names(name):
  names = set()
  for _, tree in _modules(os.path.join(FAMILIES, name)):
    names |= {node.name for node in tree.body
              if isinstance(node, (ast.FunctionDef, ast.ClassDef))}
  return names


@pytest.mark.parametrize("name", families.NAMES)
def test_every_family_names_its_roles_alike(name):
  names = _top_level_names(name)
  assert {"make_step", "Options", "make_models"} <= names, sorted(names)
  # The other names these roles had.
  assert not names & {"make_train_step", "make_phases", "StepConfig", "get_models",
                      "options_from_config", "create_train_state"}
