"""Pix2Pix on several devices: jit over a 2-device mesh and pmap mode (the step per device, its
gradients and batch-norm statistics averaged over the axis) train as one device does.

Runs itself in a subprocess with 2 fake CPU devices (XLA_FLAGS must be set before JAX starts).
"""
import json
import os
import subprocess
import sys
import tempfile

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _compare():
  sys.path.insert(0, ROOT)
  import jax  # pylint: disable=g-import-not-at-top
  import ml_collections  # pylint: disable=g-import-not-at-top
  import numpy as np  # pylint: disable=g-import-not-at-top
  from PIL import Image  # pylint: disable=g-import-not-at-top
  from configs import pix2pix_colorize  # pylint: disable=g-import-not-at-top
  from gan_jax import loop  # pylint: disable=g-import-not-at-top
  from gan_jax import parallel  # pylint: disable=g-import-not-at-top
  from gan_jax.families.pix2pix import family  # pylint: disable=g-import-not-at-top

  assert jax.device_count() == 2
  folder = tempfile.mkdtemp()
  os.environ["GAN_JAX_CACHE"] = os.path.join(folder, "cache")
  rng = np.random.default_rng(0)
  for i in range(24):
    Image.fromarray(rng.integers(0, 256, (16, 16, 3)).astype(np.uint8)).save(
        os.path.join(folder, f"{i}.png"))
  config = pix2pix_colorize.get_config()
  config.dataset.path = folder
  config.dataset.num_heldout = 4
  # Batch norm (its statistics are averaged over devices); no dropout (its draws differ by design:
  # each device its own); SGD (its updates keep the gradients' scale: a sum over devices would show).
  config.model.update(g_width=4, d_width=4, d_layers=1, dropout_blocks=0, norm="batch")
  sgd = ml_collections.ConfigDict(dict(name="sgd", learning_rate=0.5))
  config.update(batch_size=4, steps_per_call=2, g_optimizer=sgd, d_optimizer=sgd)
  dataset = family.load_data(config)

  def variables(state):
    return jax.device_get(parallel.local_copy((state.params(), state.nets["g"].collections)))

  def params(mode, devices, steps=2):
    config.parallel.mode = mode
    program = loop.build(config, dataset, devices=devices)
    state, _ = program.call(program.state, steps) if steps else (program.state, None)
    return variables(state)

  one = params("jit", jax.devices()[:1])
  diff = lambda a_tree, b_tree: max(float(np.abs(a - b).max()) for a, b in
                                    zip(jax.tree.leaves(a_tree), jax.tree.leaves(b_tree)))
  # How far two steps move the variables: agreement is only meaningful well below it.
  moved = diff(one, params("jit", jax.devices()[:1], steps=0))
  print("RESULT " + json.dumps({"jit2": diff(one, params("jit", jax.devices())),
                                "pmap2": diff(one, params("pmap", jax.devices())),
                                "scale": moved}), flush=True)


@pytest.mark.slow
def test_two_devices_train_as_one():
  env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=2",
             JAX_PLATFORMS="cpu")
  out = subprocess.run([sys.executable, __file__], env=env, cwd=ROOT, capture_output=True,
                       text=True, timeout=600, check=False)
  lines = [l for l in out.stdout.splitlines() if l.startswith("RESULT ")]
  assert out.returncode == 0 and lines, out.stdout[-2000:] + out.stderr[-4000:]
  result = json.loads(lines[-1][len("RESULT "):])
  assert result["scale"] > 1e-2, result  # The steps trained: equal results are not trivial.
  assert result["jit2"] < 1e-5 and result["pmap2"] < 1e-5, result


if __name__ == "__main__":
  _compare()
