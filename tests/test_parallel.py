"""One device, 8 devices under jit and 8 under pmap train to the same parameters.

The multi-device checks run in a subprocess with 8 fake CPU devices (XLA_FLAGS must be set before JAX
starts), blocking on every step: XLA's CPU collectives can deadlock otherwise.
"""
import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NUM_STEPS = 3


def _config(mode, batch_size=32, sgd=False):
  from configs import default, gan_mlp  # pylint: disable=g-import-not-at-top
  config = gan_mlp.get_config("ring8")
  config.parallel.mode = mode
  config.batch_size = batch_size
  config.steps_per_call = 1
  config.model.g_hidden = (32, 32)
  config.model.d_hidden = (32, 32)
  # Large steps, so that a wrong reduction shows clearly in the parameters.
  config.g_optimizer.learning_rate = config.d_optimizer.learning_rate = 1e-2
  if sgd:
    # SGD's step is proportional to the gradient (Adam's is not): a gradient N times too large
    # shows. Every place the step takes gradients: critic loop, unrolled D, G.
    config.g_optimizer = default.optimizer("sgd", 0.1)
    config.d_optimizer = default.optimizer("sgd", 0.1)
    config.n_critic = 2
    config.unrolled_steps = 2
  return config


def _train(mode, devices, sgd=False):
  import jax  # pylint: disable=g-import-not-at-top
  from gan_jax import data, loop  # pylint: disable=g-import-not-at-top
  config = _config(mode, sgd=sgd)
  parts = loop.build(config, data.load(config.dataset), devices=devices)
  state = parts.state
  for _ in range(NUM_STEPS):
    state, _ = parts.call(state, config.steps_per_call)
    jax.block_until_ready(state)
  return jax.device_get((state.nets["g"].params, state.nets["d"].params))


def _sweep(devices):
  """8 members (learning rate x seed): sharded one per device, or all on one device."""
  import jax  # pylint: disable=g-import-not-at-top
  from gan_jax import data, sweep, sweep_spec as h  # pylint: disable=g-import-not-at-top
  config = _config("jit")
  spec = h.product([h.sweep("g_optimizer.learning_rate", [1e-3, 3e-3, 1e-2, 3e-2]),
                    h.sweep("seed", [0, 1])])
  dataset = data.load(config.dataset)
  (group,) = sweep.plan(config, spec)
  parts = sweep.build_stack(group, dataset, devices=devices)
  states = parts.state
  assert len(states.nets["g"].params["Dense_0"]["kernel"].sharding.device_set) == len(devices or
                                                                              jax.devices())
  for _ in range(NUM_STEPS):
    states, _ = parts.call(states, config.steps_per_call)
    jax.block_until_ready(states)
  return jax.device_get((states.nets["g"].params, states.nets["d"].params))


def _max_diff(a, b):
  import jax  # pylint: disable=g-import-not-at-top
  import numpy as np  # pylint: disable=g-import-not-at-top
  return max(float(np.abs(x - y).max()) for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)))


def _worker():
  import jax  # pylint: disable=g-import-not-at-top
  from gan_jax import data, loop  # pylint: disable=g-import-not-at-top
  from gan_jax.errors import UserError  # pylint: disable=g-import-not-at-top
  assert jax.device_count() == 8, jax.devices()
  one = _train("jit", jax.devices()[:1])
  result = {"jit8": _max_diff(one, _train("jit", None)),
            "pmap8": _max_diff(one, _train("pmap", None)),
            "pmap8_sgd": _max_diff(_train("jit", jax.devices()[:1], sgd=True),
                                   _train("pmap", None, sgd=True))}
  result["sweep8"] = _max_diff(_sweep(jax.devices()[:1]), _sweep(None))
  config = _config("jit", batch_size=36)
  try:
    loop.build(config, data.load(config.dataset))
  except UserError as e:
    result["error"] = str(e)
  # Per-device state (each device's fakes in a replay buffer) cannot stay replicated under pmap.
  import ml_collections  # pylint: disable=g-import-not-at-top
  config = _config("pmap")
  config.replay = ml_collections.ConfigDict(dict(size=64, fraction=0.5))
  parts = loop.build(config, data.load(config.dataset))
  try:
    parts.call(parts.state, config.steps_per_call)
  except UserError as e:
    result["replay_error"] = str(e)
  print("RESULT " + json.dumps(result), flush=True)


@pytest.fixture(scope="module")
def eight_devices():
  env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=8",
             JAX_PLATFORMS="cpu")
  out = subprocess.run([sys.executable, __file__], env=env, cwd=ROOT, capture_output=True,
                       text=True, timeout=600, check=False)
  lines = [l for l in out.stdout.splitlines() if l.startswith("RESULT ")]
  assert out.returncode == 0 and lines, out.stdout[-2000:] + out.stderr[-4000:]
  return json.loads(lines[-1][len("RESULT "):])


def test_jit_on_8_devices_matches_one_device(eight_devices):
  assert eight_devices["jit8"] < 1e-5


def test_pmap_on_8_devices_matches_one_device(eight_devices):
  # Each device takes its rows of the global batch's latents, so the noise matches too; the
  # gradients differ only in summation order (pmean of 8 partial means).
  assert eight_devices["pmap8"] < 1e-5


def test_pmap_averages_gradients_over_devices(eight_devices):
  # SGD, 2 critic steps, D unrolled 2 steps: summed gradients would be off by a factor of 8.
  assert eight_devices["pmap8_sgd"] < 1e-5


def test_sweep_sharded_over_8_devices_matches_one_device(eight_devices):
  assert eight_devices["sweep8"] < 1e-5


def test_pmap_refuses_state_that_differs_between_devices(eight_devices):
  assert "parallel.mode=jit" in eight_devices.get("replay_error", "")


def test_batch_must_divide_device_count(eight_devices):
  assert "batch_size=36" in eight_devices["error"] and "(8)" in eight_devices["error"]


if __name__ == "__main__":
  sys.path.insert(0, ROOT)
  _worker()
