"""End to end, one test per fault of issue 13: each ends as one clear line (or a one-line warning
and a correct resume), never a traceback, a hang, or a workdir the corrected command refuses.

The runs are the command-line tools on a tiny MLP GAN (scikit-learn's 8x8 digits, 10 steps per
compiled call). A workdir trained once per module (checkpoints at steps 10 and 20) is copied by
the tests that need one.
"""
import glob
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

import cli_testing

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY = ("--config=configs/gan_mlp.py", "--config.steps_per_call=10", "--config.log_every_steps=10",
        "--config.sample_every_steps=0", "--config.checkpoint_every_steps=10",
        "--config.model.g_hidden=(32,)", "--config.model.d_hidden=(32,)")


def _env():
  return dict(os.environ, JAX_PLATFORMS="cpu", PYTHONPATH=ROOT)


def run(tool, *args, **process_options):
  """The command line in this process; given process options (a timeout, a preexec_fn), in a new
  Python, for faults that need a process of their own (resource limits, signals, a second run)."""
  if process_options:
    return cli_testing.run_subprocess(tool, *args, **process_options)
  return cli_testing.run_cli(tool, *args)


def train(workdir, steps, *args, **kwargs):
  return run("gan_jax.main", *TINY, f"--workdir={workdir}", f"--config.num_train_steps={steps}",
             *args, **kwargs)


def one_error_line(r, status=2):
  """The process failed with `status` and said so in exactly one `error:` line."""
  assert r.returncode == status, (r.returncode, r.stderr[-3000:])
  lines = [l for l in r.stderr.splitlines() if l.strip()]
  assert len(lines) == 1 and lines[0].startswith("error: "), r.stderr[-3000:]
  return lines[0]


def files(path):
  return sorted(os.path.relpath(p, path) for p in glob.glob(os.path.join(path, "**"),
                                                               recursive=True))


def steps_of(workdir):
  return sorted(int(n) for n in os.listdir(os.path.join(workdir, "checkpoints")) if n.isdigit())


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
  workdir = str(tmp_path_factory.mktemp("trained") / "run")
  r = train(workdir, 20)
  assert r.returncode == 0, r.stderr[-3000:]
  assert steps_of(workdir) == [10, 20]
  return workdir


def copy_of(trained, tmp_path):
  workdir = str(tmp_path / "run")
  shutil.copytree(trained, workdir)
  return workdir


# --- Checkpoints ----------------------------------------------------------------------------------

def test_a_damaged_latest_checkpoint_resumes_from_the_newest_intact_one(trained, tmp_path):
  workdir = copy_of(trained, tmp_path)
  for path in glob.glob(os.path.join(workdir, "checkpoints", "20", "**", "d", "*"),
                        recursive=True):
    with open(path, "r+b") as f:  # A crash while the array files were written.
      f.truncate(os.path.getsize(path) // 2)
  os.makedirs(os.path.join(workdir, "checkpoints", "30"))  # A stray empty step folder.
  r = train(workdir, 30)
  assert r.returncode == 0, r.stderr[-3000:]
  warnings = [l for l in r.stderr.splitlines() if l.startswith("warning:")]
  assert len(warnings) == 1 and "Traceback" not in r.stderr, r.stderr[-3000:]
  assert warnings[0].startswith(f"warning: skipped damaged checkpoint step 30, 20 in {workdir}/")
  assert "Resumed from step 10" in r.stdout
  assert steps_of(workdir) == [10, 20, 30]
  # Nothing deleted: the damaged folders are kept beside the new checkpoints.
  assert {"20.damaged", "30.damaged"} <= set(os.listdir(os.path.join(workdir, "checkpoints")))
  with open(os.path.join(workdir, "metrics.jsonl")) as f:
    assert [json.loads(l)["step"] for l in f] == [10, 20, 30]


def test_no_intact_checkpoint_is_one_error_that_blames_the_files(trained, tmp_path):
  workdir = copy_of(trained, tmp_path)
  for path in glob.glob(os.path.join(workdir, "checkpoints", "*", "**", "manifest.ocdbt"),
                        recursive=True):
    os.remove(path)
  before = files(workdir)
  line = one_error_line(train(workdir, 30))
  assert line.startswith(f"error: the checkpoint files in {workdir}/checkpoints are damaged and "
                         "none can be restored")
  assert "config" not in line
  assert files(workdir) == before


@pytest.mark.slow
def test_a_full_disk_while_saving_is_one_error_and_keeps_the_earlier_checkpoints(trained,
                                                                                tmp_path):
  workdir = copy_of(trained, tmp_path)

  def small_files():  # Every file write past 8 KiB fails (EFBIG), as a full disk fails (ENOSPC).
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (8192, resource.RLIM_INFINITY))
  r = train(workdir, 30, preexec_fn=small_files)
  line = one_error_line(r)
  assert line.startswith(f"error: cannot write checkpoint step 30 to {workdir}/checkpoints/30")
  assert line.endswith(": File too large; the earlier checkpoints (steps 10, 20) are intact")
  assert steps_of(workdir) == [10, 20]
  r = train(workdir, 30)  # With room again, the same command resumes.
  assert r.returncode == 0 and "Resumed from step 20" in r.stdout, r.stderr[-3000:]


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_permission_denied_while_saving_is_one_error(trained, tmp_path):
  workdir = copy_of(trained, tmp_path)
  folder = os.path.join(workdir, "checkpoints")
  os.chmod(folder, 0o500)
  try:
    line = one_error_line(train(workdir, 30))
  finally:
    os.chmod(folder, 0o700)
  assert "Permission denied" in line and "the earlier checkpoints (steps 10, 20) are intact" in line


# --- The workdir ----------------------------------------------------------------------------------

@pytest.mark.slow
def test_two_runs_on_one_workdir_and_ctrl_c(tmp_path):
  workdir = str(tmp_path / "run")
  first = subprocess.Popen(
      [sys.executable, "-m", "gan_jax.main", *TINY, f"--workdir={workdir}",
       "--config.num_train_steps=1000000", "--config.checkpoint_every_steps=0"],
      cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env())
  try:
    metrics = os.path.join(workdir, "metrics.jsonl")
    deadline = time.time() + 240
    while time.time() < deadline and not (os.path.exists(metrics) and os.path.getsize(metrics)):
      time.sleep(0.2)
    second = train(workdir, 20, timeout=120)  # Exits at once instead of waiting or training.
    line = one_error_line(second)
    assert line.startswith(f"error: workdir {workdir} is in use by process {first.pid} on ")
  finally:
    first.send_signal(signal.SIGINT)  # Ctrl-C: saves a checkpoint, exits 130.
    out, err = first.communicate(timeout=240)
  assert first.returncode == 130, err[-3000:]
  lines = [l for l in err.splitlines() if l.strip()]
  step = steps_of(workdir)[-1]
  assert lines == [f"stopped by SIGINT at step {step}: checkpoint saved in {workdir}/checkpoints; "
                   "the same command resumes"], err
  assert "received SIGINT: saving a checkpoint" in out
  with open(metrics) as f:
    logged = [json.loads(l)["step"] for l in f]
  assert logged == sorted(set(logged)) and logged[-1] <= step  # One writer: no duplicated lines.
  r = train(workdir, step + 10)  # The lock died with its holder.
  assert r.returncode == 0 and f"Resumed from step {step}" in r.stdout, r.stderr[-3000:]


def test_a_workdir_that_is_a_file_is_one_error(tmp_path):
  path = tmp_path / "notes.txt"
  path.write_text("mine")
  line = one_error_line(train(str(path), 10))
  assert line == f"error: workdir {path} is a file, not a folder; use another --workdir"
  assert path.read_text() == "mine"


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_a_read_only_workdir_is_one_error(tmp_path):
  os.chmod(tmp_path, 0o500)
  try:
    line = one_error_line(train(str(tmp_path / "run"), 10))
  finally:
    os.chmod(tmp_path, 0o700)
  assert "not writable" in line and os.listdir(tmp_path) == []


# --- Refused runs write nothing; numbers may change on resume ------------------------------------

@pytest.mark.parametrize("override, message", [
    ("--config.fid.precision=bogus", "fid.precision='bogus' is unknown; allowed: auto, highest"),
    ("--config.fid.resize=bogus", "fid.resize='bogus' is unknown; allowed: tf1, pytorch"),
    ("--config.fid.weights_path=/no/such/weights.pt", "fid.weights_path='/no/such/weights.pt' is "
     "not a file"),
    ("--config.model.latent_dim=0", "model.latent_dim=0 is out of range; allowed: an integer >= 1"),
    ("--config.model.latent_dim=-3", "model.latent_dim=-3 is out of range"),
    ("--config.model.g_hidden=abc", "--config.model.g_hidden=abc: not a tuple of integers"),
    ("--config.model.g_hidden=(64,abc)", "not a tuple of integers"),
    ("--config.g_optimizer.learning_rate=0", "g_optimizer.learning_rate=0.0 is out of range; "
     "allowed: a number > 0"),
    ("--config.ema.decay=1.0", "ema.decay=1.0 is out of range; allowed: a number in [0, 1)"),
    ("--config.model.d_dropout=1.5", "model.d_dropout=1.5 is out of range; allowed: a number in "
     "[0, 1)"),
    ("--config.loss.label_smoothing=1.0", "loss.label_smoothing=1.0 is out of range"),
    ("--config.loss.gp_weight=-10", "loss.gp_weight=-10.0 is out of range; allowed: a number >= 0"),
    ("--config.batchsize=8", "--config.batchsize: no field 'batchsize'; did you mean "
     "'batch_size'?"),
    ("extra_argument", "unexpected argument 'extra_argument'"),
])
def test_a_refused_run_writes_nothing(override, message, tmp_path):
  workdir = tmp_path / "run"
  line = one_error_line(train(str(workdir), 10, override))
  assert message in line
  assert not workdir.exists()


def test_a_refused_sweep_writes_nothing(tmp_path):
  workdir = tmp_path / "sweep"
  line = one_error_line(run("gan_jax.sweep", "--config=configs/gan_mlp.py", f"--workdir={workdir}",
                            "--config.model.name=nosuch", "--config.num_train_steps=10"))
  assert "model.name='nosuch' is unknown" in line
  assert not workdir.exists()


@pytest.mark.slow
def test_lower_the_learning_rate_and_rerun_in_the_same_workdir(tmp_path):
  workdir = str(tmp_path / "run")
  huge = ("--config.g_optimizer.name=sgd", "--config.d_optimizer.name=sgd",
          "--config.g_optimizer.learning_rate=1e30", "--config.d_optimizer.learning_rate=1e30")
  r = train(workdir, 20, *huge)
  assert r.returncode == 3 and "non-finite" in r.stderr, r.stderr[-3000:]
  lower = huge[:2] + ("--config.g_optimizer.learning_rate=1e-3",
                      "--config.d_optimizer.learning_rate=1e-3")
  r = train(workdir, 20, *lower)
  assert r.returncode == 0, r.stderr[-3000:]
  with open(os.path.join(workdir, "config.json")) as f:
    assert json.load(f)["g_optimizer"]["learning_rate"] == 1e-3
  line = one_error_line(train(workdir, 30, *lower, "--config.model.g_hidden=(16,)"))
  assert "holds a run with another config" in line and "model" in line


# --- Tools ----------------------------------------------------------------------------------------

def test_sample_refuses_a_directory_an_unknown_extension_and_a_run_without_checkpoint(trained,
                                                                                      tmp_path):
  out_dir = tmp_path / "out.npz"
  out_dir.mkdir()
  line = one_error_line(run("gan_jax.sample", f"--workdir={trained}", f"--output={out_dir}"))
  assert f"--output={out_dir} is a directory" in line
  line = one_error_line(run("gan_jax.sample", f"--workdir={trained}",
                            f"--output={tmp_path / 's.npz'}", f"--grid={tmp_path / 'x.xyz'}"))
  assert "--grid" in line and "'.xyz'" in line and ".png" in line
  assert sorted(os.listdir(tmp_path)) == ["out.npz"]  # Refused before generating anything.
  # A workdir with a config but no checkpoint: nothing is created in it.
  empty = tmp_path / "empty"
  empty.mkdir()
  shutil.copy(os.path.join(trained, "config.json"), empty)
  line = one_error_line(run("gan_jax.sample", f"--workdir={empty}",
                            f"--output={tmp_path / 's.npz'}"))
  assert "has no checkpoint" in line
  assert os.listdir(empty) == ["config.json"] and not (tmp_path / "s.npz").exists()


def test_sample_prints_its_result_without_logging_noise(trained, tmp_path):
  out = tmp_path / "s.npz"
  r = run("gan_jax.sample", f"--workdir={trained}", f"--output={out}", "--num_samples=8",
          timeout=300)  # A new process: absl and orbax log to the process's own stderr.
  assert r.returncode == 0, r.stderr[-3000:]
  assert r.stdout == f"wrote 8 samples to {out}\n"
  noise = [l for l in r.stderr.splitlines() if l.strip()]  # What the tool says it does, only.
  assert noise == [f"restoring {trained} (step 20) and compiling..."], r.stderr[-3000:]


def _stats(path, mu, sigma):
  np.savez(path, mu=mu, sigma=sigma)
  return str(path)


def test_fid_cli_faults(tmp_path):
  rs = np.random.RandomState(0)
  features = rs.rand(400, 2048) ** 2  # 400 images: a covariance of rank 399 in 2048 dimensions.
  mu, sigma = features.mean(0), np.cov(features, rowvar=False)
  a = _stats(tmp_path / "a.npz", mu, sigma)
  r = run("gan_jax.fid.__main__", a, a)
  assert r.returncode == 0, r.stderr[-3000:]
  assert abs(float(r.stdout.split(":")[1])) < 1e-6  # It was -0.00047.
  bad_sigma = sigma.copy()
  bad_sigma[5, 7] = np.nan
  nan = _stats(tmp_path / "nan.npz", mu, bad_sigma)
  line = one_error_line(run("gan_jax.fid.__main__", a, nan))
  assert "are not finite (sigma has 1 NaN/Inf entries)" in line
  garbage = tmp_path / "garbage.npz"
  garbage.write_bytes(b"\x80\x04\x95 not an npz")
  line = one_error_line(run("gan_jax.fid.__main__", a, str(garbage)))
  assert "cannot be decoded as .npz: not a zip archive" in line
  (tmp_path / "dir.npz").mkdir()
  line = one_error_line(run("gan_jax.fid.__main__", a, "--save-stats", str(tmp_path / "dir.npz")))
  assert "is a directory" in line
  r = run("gan_jax.fid.__main__", a, "--save-stats", str(tmp_path / "copy.npz"))
  assert r.returncode == 0 and r.stdout.startswith("wrote the statistics of ")
  assert str(tmp_path / "copy.npz") in r.stdout
