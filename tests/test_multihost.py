"""Two processes x 2 CPU devices train to the same parameters as one process x 4 devices: a single
run, and a sweep whose members are sharded over the 4 devices (checkpointed collectively).

Each side runs in subprocesses (XLA_FLAGS and jax.distributed must be set up before JAX starts); the
processes find each other through `config.parallel.coordinator_address` on 127.0.0.1.
"""
import os
import socket
import subprocess
import sys

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NUM_STEPS = 3


def _worker(process_id, num_processes, port, out):
  sys.path.insert(0, ROOT)
  import jax  # pylint: disable=g-import-not-at-top
  from configs import gan_mlp  # pylint: disable=g-import-not-at-top
  # pylint: disable=g-import-not-at-top
  from gan_jax import checkpointing, data, distributed, loop, parallel, sweep
  from gan_jax import sweep_spec as h
  # pylint: enable=g-import-not-at-top
  config = gan_mlp.get_config("ring8")
  config.batch_size = 32
  config.steps_per_call = 1
  config.model.g_hidden = config.model.d_hidden = (32, 32)
  config.g_optimizer.learning_rate = config.d_optimizer.learning_rate = 1e-2
  if num_processes > 1:
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    config.parallel.coordinator_address = f"127.0.0.1:{port}"
    config.parallel.num_processes = num_processes
    config.parallel.process_id = process_id
    distributed.initialize(config)
  assert jax.process_count() == num_processes and jax.device_count() == 4, jax.devices()
  parts = loop.build(config, data.load(config.dataset))
  state = parts.state
  for _ in range(NUM_STEPS):
    state, _ = parts.call(state, config.steps_per_call)
    jax.block_until_ready(state)
  params = jax.device_get(parallel.local_copy((state.nets["g"].params, state.nets["d"].params)))
  # A sweep of 4 members, one per device (two on each process), written collectively.
  config.num_train_steps = NUM_STEPS
  config.log_every_steps = config.sample_every_steps = config.checkpoint_every_steps = 1
  config.num_grid_samples = 16
  spec = h.product([h.sweep("g_optimizer.learning_rate", [1e-3, 1e-2]), h.sweep("seed", [0, 1])])
  ((_, _, final),) = sweep.run_sweep(config, spec, out + ".sweep")
  assert all("modes" in f for f in final), final
  states = checkpointing.restore_latest(
      checkpointing.make_manager(out + ".sweep"),
      sweep.build_stack(sweep.plan(config, spec)[0], data.load(config.dataset)).state)
  params = (params, parallel.host_copy((states.nets["g"].params, states.nets["d"].params)))
  if jax.process_index() == 0:
    np.savez(out, *jax.tree.leaves(params))


def _free_port():
  with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    return s.getsockname()[1]


def _launch(num_processes, out):
  env = dict(os.environ, JAX_PLATFORMS="cpu",
             XLA_FLAGS=f"--xla_force_host_platform_device_count={4 // num_processes}")
  port = _free_port()
  procs = [subprocess.Popen([sys.executable, __file__, str(i), str(num_processes), str(port), out],
                            env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True) for i in range(num_processes)]
  logs = [p.communicate(timeout=300)[0] for p in procs]
  assert all(p.returncode == 0 for p in procs), "\n".join(l[-3000:] for l in logs)
  with np.load(out) as f:
    return [f[k] for k in sorted(f.files, key=lambda k: int(k.split("_")[1]))]


def test_two_processes_match_one(tmp_path):
  one = _launch(1, str(tmp_path / "one.npz"))
  two = _launch(2, str(tmp_path / "two.npz"))
  assert len(one) == len(two) > 0
  for a, b in zip(one, two):
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


if __name__ == "__main__":
  _worker(int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4])
