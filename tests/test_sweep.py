"""Sweeps: spec helpers, the split into vmapped groups, and member i == a single run of member i."""
import json
import os
import subprocess
import sys

import jax
import numpy as np
import pytest

from configs import gan_mlp
from gan_jax import data
from gan_jax import sweep
from gan_jax import sweep_spec as h
from gan_jax import loop
from gan_jax.errors import UserError


def _config():
  config = gan_mlp.get_config("ring8")
  config.batch_size = 32
  config.steps_per_call = 1  # A scan would compile the step twice (first step and body).
  config.model.g_hidden = (32, 32)
  config.model.d_hidden = (32, 32)
  return config


def test_spec_helpers():
  spec = h.product([h.sweep("config.a", [1, 2]), h.zipit([h.sweep("b", [3, 4]),
                                                         h.sweep("c", [5, 6])])])
  assert spec == [{"a": 1, "b": 3, "c": 5}, {"a": 1, "b": 4, "c": 6},
                  {"a": 2, "b": 3, "c": 5}, {"a": 2, "b": 4, "c": 6}]
  with pytest.raises(UserError, match="equal length"):
    h.zipit([h.sweep("a", [1]), h.sweep("b", [1, 2])])
  with pytest.raises(UserError, match="set twice"):
    h.product([h.sweep("a", [1]), h.fixed("a", 2)])
  with pytest.raises(UserError, match="no 'nope'"):
    h.apply(_config(), {"loss.nope": 1.0})
  assert h.apply(_config(), {"loss.gp_weight": 1}).loss.gp_weight == 1.0
  # Values a user may plausibly write: a bare string or number, numpy scalars, a wrong type.
  with pytest.raises(UserError, match=r"values must be a list, e.g. \['ring8'\]"):
    h.sweep("dataset.name", "ring8")
  with pytest.raises(UserError, match="values must be a list"):
    h.sweep("seed", 3)
  spec = h.sweep("g_optimizer.learning_rate", np.float32([1e-3]))
  assert type(spec[0]["g_optimizer.learning_rate"]) is float
  assert h.apply(_config(), h.sweep("seed", np.arange(2))[1]).seed == 1
  with pytest.raises(UserError, match=r"'g_optimizer.learning_rate': value '1e-3' is a str; "
                     "the config holds a float"):
    h.apply(_config(), {"g_optimizer.learning_rate": "1e-3"})
  with pytest.raises(UserError, match="no 'x'"):
    h.apply(_config(), {"seed.x": 1})


def test_example_sweep_is_one_group():
  config = gan_mlp.get_config("ring8")
  groups = sweep.plan(config, sweep.load_spec("configs/gan_mlp.py"))
  assert len(groups) == 1 and len(groups[0].members) >= 4


def test_structural_keys_fan_out():
  config, info = _config(), data.load(_config().dataset).info
  spec = h.product([h.sweep("n_critic", [1, 2]), h.sweep("g_optimizer.learning_rate", [1e-4, 1e-3]),
                    h.sweep("loss.label_smoothing", [0.0, 0.1])])
  groups = sweep.plan(config, spec)
  # n_critic is structural; a label smoothing of 0 runs the same program as 0.1.
  assert [g.structural for g in groups] == [{"n_critic": 1}, {"n_critic": 2}]
  assert [len(g.members) for g in groups] == [4, 4]
  # gp_weight=0 turns the penalty off at trace time: its own group.
  groups = sweep.plan(config, h.sweep("loss.gp_weight", [0.0, 1.0, 10.0]))
  assert [len(g.members) for g in groups] == [1, 2]


def test_member_devices_divide_the_members():
  devices = list("abcd")
  assert [len(sweep.member_devices(devices, m)) for m in (8, 6, 7, 2)] == [4, 3, 1, 2]


@pytest.mark.parametrize("xla_flags,expected", [
    ("", len(os.sched_getaffinity(0))),
    ("--xla_force_host_platform_device_count=3", 3)])
def test_sweep_splits_the_cpu_into_one_device_per_core(xla_flags, expected):
  code = ("import jax; from gan_jax import parallel; parallel.one_cpu_device_per_core(); "
          "print(jax.device_count())")
  env = dict(os.environ, XLA_FLAGS=xla_flags, JAX_PLATFORMS="cpu")
  out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                       check=True, cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
  assert int(out.stdout.strip()) == expected


def test_member_equals_single_run():
  config = _config()
  config.loss.gp_weight = 1.0  # Sweep a loss weight in state.hparams too.
  spec = h.product([h.zipit([h.sweep("g_optimizer.learning_rate", [1e-3, 3e-3]),
                             h.sweep("d_optimizer.b1", [0.5, 0.0])]),
                    h.sweep("seed", [0, 3]),
                    h.sweep("loss.gp_weight", [1.0, 5.0])])
  dataset = data.load(config.dataset)
  (group,) = sweep.plan(config, spec)
  parts = sweep.build_stack(group, dataset)
  states = parts.state
  for _ in range(3):
    states, sums = parts.call(states, config.steps_per_call)
  assert sums["g_loss"].shape == (len(spec),)
  for i in (0, 7):  # Every swept value differs between these two.
    single = loop.build(group.member_configs[i], dataset)
    state = single.state
    for _ in range(3):
      state, _ = single.call(state, config.steps_per_call)
    expected = jax.device_get((state.nets["g"].params, state.nets["d"].params, state.nets["d"].opt_state))
    got = jax.device_get(jax.tree.map(lambda x: x[i], (states.nets["g"].params, states.nets["d"].params,
                                                      states.nets["d"].opt_state)))
    for a, b in zip(jax.tree.leaves(expected), jax.tree.leaves(got)):
      np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_cli_run_writes_members_and_resumes(tmp_path):
  config = _config()
  config.num_train_steps = 2
  config.log_every_steps = config.sample_every_steps = config.checkpoint_every_steps = 1
  config.num_grid_samples = 16
  spec = h.product([h.sweep("g_optimizer.learning_rate", [1e-4, 1e-3]), h.sweep("seed", [0, 1])])
  run = str(tmp_path)
  (result,) = sweep.run_sweep(config, spec, run)
  assert len(result[2]) == 4 and {"g_loss", "modes"} <= set(result[2][3])
  lines = [json.loads(l) for l in open(os.path.join(run, "metrics.jsonl"))]
  assert sorted({l["member"] for l in lines}) == [0, 1, 2, 3]
  assert os.path.exists(os.path.join(run, "member_3", "samples_0000002.png"))
  assert os.path.exists(os.path.join(run, "tensorboard", "member_2"))
  for name in ("summary.md", "summary.csv", "summary.png"):
    assert os.path.exists(os.path.join(run, name))
  # Resuming continues from the stack's checkpoint.
  config.num_train_steps = 3
  sweep.run_sweep(config, spec, run)
  records = [json.loads(l) for l in open(os.path.join(run, "metrics.jsonl"))]
  steps = [r["step"] for r in records if "g_loss" in r]
  assert steps.count(3) == 4 and steps.count(2) == 4
  # 2D data: every member's mode coverage at the end, with in-loop evaluation off.
  assert sorted(r["member"] for r in records if "modes" in r and r["step"] == 3) == [0, 1, 2, 3]
  with pytest.raises(UserError, match="another sweep"):
    sweep.run_sweep(config, h.sweep("seed", [5]), run)
