"""The contract every GAN family passes (issue 32): the same properties, run over every family at
tiny widths (tests/contract_testing.py's FAMILIES). A family is done when it passes them:

- a run stopped by SIGTERM saves the state of the step it stopped at, and the same command resumes;
- the resumed run ends bit-identical to a straight run (every leaf: weights, optimizer states,
  averages, hparams, extras such as image pools);
- a bad config value is one `error:` line, exit status 2, and no workdir;
- every tool the family declares (its TOOLS) runs on the restored run and returns what it promises;
- 2 fake CPU devices train as 1 device does, in `jit` and in `pmap` mode (PMAP_DRAWS_PER_DEVICE:
  the families whose randomness is each device's own under pmap, and why);
- a 2-member sweep, one member on each device, trains its members as the two single runs.

Costs: tracing a family's step is most of the time, so every run is 2 steps of one call and each
family's straight run is trained once for all the properties (`Runs`). The 2-device runs and the
sweeps train in one subprocess (fake devices need XLA_FLAGS before JAX starts), started with the
module: it trains on one core while the in-process tests train on the other.
"""
import os
import pathlib
import pickle
import signal
import subprocess
import sys

import jax
import numpy as np
import pytest

from gan_jax import checkpointing
from gan_jax import families
from gan_jax import loop
from gan_jax import signals
from gan_jax import sweep
from gan_jax import sweep_spec
import contract_testing
from contract_testing import FAMILIES

# Every family trained several times through the loop, and a 2-device subprocess.
pytestmark = pytest.mark.slow

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NAMES = tuple(FAMILIES)
MODES = ("jit", "pmap")
# Two runs that should be equal but sum in another order (over devices, vmapped against plain
# products) differ by rounding, amplified through normalisations of a few values: up to 1.3e-4 of a
# leaf's largest value here (CycleGAN's instance norm of 4x4 maps, a vmapped sweep member; 1e-5 on
# 2 devices), 1e-6 elsewhere. A wrong reduction (a gradient summed over the devices, batch
# statistics of one device, a member's learning rate given to another) differs by the leaf's order.
RTOL, ATOL = 1e-3, 1e-6  # Of each leaf's largest magnitude.
# The families whose step draws its randomness on each device (the step's key folded with the
# device's index), so that under pmap 2 devices train another, equally valid run than 1 device does:
# there the contract asks that pmap runs and keeps one finite state on every device, and that it
# differs (strictly: a family that draws for the global batch and takes its device's rows, as the
# latent family's fakes_input and parallel.device_rows do, drops its entry and is held to equality).
PMAP_DRAWS_PER_DEVICE = {
    "progan": "WGAN-GP's interpolation points are drawn on each device (the latent step's "
              "device_rng) and the minibatch standard deviation groups each device's rows",
    "stylegan": "the latents, style mixing and noise inputs are drawn on each device",
    "pix2pix": "the dropout masks are drawn on each device (pix2pix step device_rng)",
    "text2image": "the captions picked, latents, mismatched pairs and conditioning augmentation "
                  "are drawn on each device",
}


def _family_module(config):
  return families.get(config.family)


@pytest.fixture(scope="session")
def contract_data(tmp_path_factory):
  """Every family's tiny config (data written once, in a session folder), pickled for the
  subprocess, so that both processes train the very same configs."""
  root = tmp_path_factory.mktemp("contract")
  configs = {name: family.make_config(root / "data") for name, family in FAMILIES.items()}
  with open(root / "configs.pkl", "wb") as f:
    pickle.dump(configs, f)
  return root


def _configs(root):
  """Fresh copies of the tiny configs (a test may change its copy)."""
  with open(root / "configs.pkl", "rb") as f:
    return pickle.load(f)


class Runs:
  """Each family's runs, trained on first use and shared by the tests that compare with them."""

  def __init__(self, root):
    self.root = root
    self._straight = {}
    self._interrupted = {}

  def config(self, name):
    return _configs(self.root)[name]

  def straight(self, name):
    """(workdir, every leaf of the final state) of the uninterrupted run."""
    if name not in self._straight:
      workdir = str(self.root / "runs" / name / "straight")
      state = loop.train_and_evaluate(self.config(name), workdir)
      self._straight[name] = workdir, contract_testing.leaves(state)
    return self._straight[name]

  def interrupted(self, name):
    """The same run stopped by a SIGTERM during its first call, then resumed with the same command:
    (the Stopped exception, its calls (start step, steps), the checkpoints it left, the resumed
    run's calls, every leaf of the resumed run's final state)."""
    if name not in self._interrupted:
      workdir = str(self.root / "runs" / name / "interrupted")
      config = self.config(name)
      config.checkpoint_every_steps = 0  # Resumable: the only checkpoint is the SIGTERM's.
      config.sample_every_steps = 0
      stopped_calls, resumed_calls = [], []
      with pytest.MonkeyPatch.context() as patch:
        _record_calls(patch, stopped_calls, sigterm_at_call=0)
        with pytest.raises(signals.Stopped) as stopped:
          loop.train_and_evaluate(config, workdir)
      checkpoints = sorted(checkpointing.make_manager(workdir, create=False).all_steps())
      with pytest.MonkeyPatch.context() as patch:
        _record_calls(patch, resumed_calls)
        state = loop.train_and_evaluate(config, workdir)
      self._interrupted[name] = (stopped.value, stopped_calls, checkpoints, resumed_calls,
                                 contract_testing.leaves(state))
    return self._interrupted[name]


def _record_calls(patch, calls, sigterm_at_call=None):
  """Patches loop.build so that the loop's program records each call's (start step, steps) in
  `calls` and, at call number `sigterm_at_call`, sends this process a SIGTERM while the call runs
  (as a scheduler's preemption arrives)."""
  build = loop.build

  def recording_build(*args, **kwargs):
    program = build(*args, **kwargs)
    train = program.train

    def recorded_train(state, data, num_steps, stage):
      if len(calls) == sigterm_at_call:
        os.kill(os.getpid(), signal.SIGTERM)
      calls.append((int(jax.device_get(state.step)), num_steps))
      return train(state, data, num_steps, stage)
    program.train = recorded_train
    return program
  patch.setattr(loop, "build", recording_build)


@pytest.fixture(scope="session")
def runs(contract_data):
  return Runs(contract_data)


def _assert_same_leaves(want, got, exact=True, what=""):
  """Every leaf of `got` equals `want`'s: bit for bit, or within RTOL of the leaf's largest
  magnitude (plus ATOL)."""
  assert sorted(want) == sorted(got), what
  for path, expected in want.items():
    if exact:
      np.testing.assert_array_equal(got[path], expected, err_msg=f"{what}{path}")
    elif expected.size:
      bound = RTOL * float(np.abs(expected).max()) + ATOL
      difference = float(np.abs(got[path].astype(np.float64) - expected).max())
      assert difference <= bound, f"{what}{path}: differs by {difference:.3g} > {bound:.3g}"


def _differs(want, got):
  return any(float(np.abs(got[p].astype(np.float64) - want[p]).max(initial=0.0))
             > RTOL * float(np.abs(want[p]).max(initial=0.0)) + ATOL for p in want)


# --- SIGTERM and exact resume ---------------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_sigterm_saves_the_step_it_stopped_at_and_the_same_command_resumes(name, runs):
  stopped, stopped_calls, checkpoints, resumed_calls, _ = runs.interrupted(name)
  # The call in flight when the signal came finished; the loop saved its state and stopped.
  assert stopped_calls == [(0, 1)], stopped_calls
  assert stopped.exit_status == 0
  assert str(stopped).startswith("stopped by SIGTERM at step 1: checkpoint saved in "), stopped
  assert checkpoints == [1]
  # The resumed run trained the remaining step only.
  assert resumed_calls == [(1, 1)], resumed_calls


@pytest.mark.parametrize("name", NAMES)
def test_a_resumed_run_is_bit_identical_to_a_straight_run(name, runs):
  _, want = runs.straight(name)
  *_, got = runs.interrupted(name)
  _assert_same_leaves(want, got, exact=True, what=f"{name}: ")


# --- a bad value ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_a_bad_config_value_is_one_line(name, tmp_path, run_cli):
  family = FAMILIES[name]
  workdir = tmp_path / "run"
  result = run_cli("gan_jax.main", f"--config={family.config_file}", f"--workdir={workdir}",
                   family.bad_value)
  assert result.returncode == 2, result.stderr[-3000:]
  assert result.stderr.startswith(family.bad_message), result.stderr[-3000:]
  assert result.stderr.count("\n") == 1, result.stderr[-3000:]
  assert not workdir.exists()


# --- declared tools on the restored run -----------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_every_declared_tool_runs_on_the_restored_run(name, runs, tmp_path):
  workdir, want = runs.straight(name)
  assert os.path.exists(os.path.join(workdir, f"samples_{contract_testing.NUM_STEPS:07d}.png"))
  restored = loop.restore(workdir)
  _assert_same_leaves(want, contract_testing.leaves(restored.state), what=f"{name} restored: ")
  tools, trainer = restored.family.TOOLS, restored.trainer
  assert set(trainer.networks) == set(restored.state.nets)
  assert (trainer.sampler is not None) == (tools.sample or tools.text_generator is not None)
  assert contract_testing.check_tools(restored, tmp_path), f"{name} declares no tool"


# --- 2 devices: data parallel, and a sweep's members one per device -------------------------------


def _two_device_worker(root, out):
  """In a process with 2 fake CPU devices, for every family's tiny config: the run on both devices
  in each mode, and a 2-member sweep of its FAMILIES' swept_key (the config's value and twice it)
  with the members sharded one per device, beside member 1's single run on one device. Writes
  OUT/<family>_<mode>.pkl (the final state's leaves) and OUT/<family>_sweep.pkl ({'sharded',
  'members': the stack's leaves, 'single'}), or the error as a string in their place."""
  assert jax.device_count() == 2, jax.devices()

  def attempt(path, work):
    try:
      result = work()
    except Exception as e:  # pylint: disable=broad-except
      result = f"{type(e).__name__}: {e}"
    with open(path, "wb") as f:
      pickle.dump(result, f)
    print(f"{os.path.basename(path)} written", flush=True)

  def trained(program, config):
    return contract_testing.leaves(contract_testing.train_in_calls(program, config))

  def swept(config, dataset, key):
    first = _get(config, key)
    (group,) = sweep.plan(config, sweep_spec.sweep(key, [first, 2 * first]))  # One program.
    stack = sweep.build_stack(group, dataset)
    return {"sharded": stack.sharded, "members": trained(stack, config),
            "single": trained(loop.build(group.member_configs[1], dataset, jax.devices()[:1]),
                              config)}

  for name, config in _configs(pathlib.Path(root)).items():
    dataset = _family_module(config).load_data(config)
    for mode in MODES:
      config.parallel.mode = mode
      attempt(os.path.join(out, f"{name}_{mode}.pkl"),
              lambda: trained(loop.build(config, dataset), config))
    config.parallel.mode = "jit"
    attempt(os.path.join(out, f"{name}_sweep.pkl"),
            lambda: swept(config, dataset, FAMILIES[name].swept_key))


def _get(config, key):
  node = config
  for part in key.split("."):
    node = node[part]
  return node


@pytest.fixture(scope="module", autouse=True)
def _two_device_process(request, contract_data):
  """Starts the 2-device subprocess when the module starts, if a selected test needs it: it trains
  on one core while the in-process tests train on the other."""
  if not any("two_device_runs" in item.fixturenames for item in request.session.items):
    yield None
    return
  out = contract_data / "two_devices"
  out.mkdir(exist_ok=True)
  env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=2",
             JAX_PLATFORMS="cpu")
  with open(out / "log.txt", "w") as log:
    process = subprocess.Popen([sys.executable, __file__, str(contract_data), str(out)],
                               env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    yield process, out
    if process.poll() is None:
      process.kill()
      process.wait()


@pytest.fixture(scope="module")
def two_device_runs(_two_device_process):
  """The folder of the 2-device process's results, once it has finished."""
  process, out = _two_device_process
  try:
    process.wait(timeout=900)
  except subprocess.TimeoutExpired:
    process.kill()
    process.wait()
  log = (out / "log.txt").read_text()
  assert process.returncode == 0, log[-4000:]
  return out


def _result(folder, name, what):
  with open(folder / f"{name}_{what}.pkl", "rb") as f:
    result = pickle.load(f)
  assert not isinstance(result, str), f"{name} on 2 devices, {what}: {result}"
  return result


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", NAMES)
def test_two_devices_train_as_one(name, mode, runs, two_device_runs):
  _, want = runs.straight(name)
  got = _result(two_device_runs, name, mode)
  if mode == "pmap" and name in PMAP_DRAWS_PER_DEVICE:
    assert sorted(got) == sorted(want)
    assert all(np.all(np.isfinite(leaf)) for leaf in got.values() if leaf.dtype.kind == "f")
    assert _differs(want, got), (f"{name} under pmap trains as 1 device does: remove its entry "
                                 f"from PMAP_DRAWS_PER_DEVICE ({PMAP_DRAWS_PER_DEVICE[name]})")
    return
  _assert_same_leaves(want, got, exact=False, what=f"{name} on 2 devices, {mode}: ")


@pytest.mark.parametrize("name", NAMES)
def test_a_two_member_sweep_trains_as_the_two_single_runs(name, runs, two_device_runs):
  result = _result(two_device_runs, name, "sweep")
  assert result["sharded"]  # One member on each device.
  member = lambda i: {path: leaf[i] for path, leaf in result["members"].items()}
  # Member 0 has the straight run's config, member 1 twice its swept value.
  _, want = runs.straight(name)
  _assert_same_leaves(want, member(0), exact=False, what=f"{name} member 0: ")
  _assert_same_leaves(result["single"], member(1), exact=False, what=f"{name} member 1: ")
  assert _differs(member(0), member(1))  # Not the same run twice.


if __name__ == "__main__":
  sys.path.insert(0, ROOT)
  _two_device_worker(sys.argv[1], sys.argv[2])
