"""The tools' output paths (gan_jax.sample, translate, generate, explore) and their large requests
(issue 36): every output checked before anything is restored or computed (one `error:` line, exit
2, nothing written), an existing output refused unless --overwrite, files written whole or not at
all, requests generated in batches with a progress line. gan_jax/output_paths.py does the checks and
the writing for every tool."""
import errno
import json
import os
import zipfile

import numpy as np
import pytest

from gan_jax import output_paths
from gan_jax.errors import UserError


def read_only(monkeypatch, error=errno.EROFS):
  """Every write probe fails as on a read-only mount (tests run as root, whom chmod does not stop)."""
  def probe(folder):
    raise OSError(error, os.strerror(error), folder)
  monkeypatch.setattr(output_paths, "_probe", probe)


def one_error_line(result, *, loading=False):
  """The one `error:` line of a refused command (after the loading line when it was refused after
  the restore); exit status 2."""
  assert result.returncode == 2, (result.stdout, result.stderr[-3000:])
  lines = [l for l in result.stderr.splitlines() if l.strip()]
  if loading:
    assert len(lines) == 2 and lines[0].startswith("restoring "), lines
    lines = lines[1:]
  assert len(lines) == 1 and lines[0].startswith("error: "), lines
  return lines[0]


# --- output_paths ---------------------------------------------------------------------------------

def test_check_file_refuses_what_cannot_be_written(tmp_path, monkeypatch):
  (tmp_path / "dir.npz").mkdir()
  (tmp_path / "old.npz").write_bytes(b"keep")
  check = lambda path, **kw: output_paths.check_file("--output", str(path), (".npz",), **kw)
  with pytest.raises(UserError, match=r"^--output=.*dir\.npz is a directory; name a file in it"):
    check(tmp_path / "dir.npz")
  with pytest.raises(UserError, match=r"^--output=.*x\.txt must end in \.npz, not '\.txt'$"):
    check(tmp_path / "x.txt")
  with pytest.raises(UserError, match=r"exists already; pass --overwrite to replace it"):
    check(tmp_path / "old.npz")
  assert check(tmp_path / "old.npz", overwrite=True) == str(tmp_path / "old.npz")
  with pytest.raises(UserError, match=rf"the folder {tmp_path}/no does not exist$"):
    check(tmp_path / "no" / "x.npz")
  read_only(monkeypatch)
  with pytest.raises(UserError, match=rf"^--output=.*new\.npz: the folder {tmp_path} is not "
                                      r"writable \(read-only file system\)$"):
    check(tmp_path / "new.npz")
  read_only(monkeypatch, errno.EACCES)
  with pytest.raises(UserError, match=r"is not writable \(permission denied\)$"):
    check(tmp_path / "new.npz")
  assert sorted(os.listdir(tmp_path)) == ["dir.npz", "old.npz"]


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into a folder without write permission")
def test_check_file_refuses_a_folder_without_write_permission(tmp_path):
  folder = tmp_path / "locked"
  folder.mkdir(mode=0o500)
  with pytest.raises(UserError, match=r"is not writable \(permission denied\)$"):
    output_paths.check_file("--grid", str(folder / "g.png"), (".png",))


def test_check_folder_as_the_output_and_as_a_container(tmp_path, monkeypatch):
  (tmp_path / "file").write_text("x")
  (tmp_path / "full").mkdir()
  (tmp_path / "full" / "mix.png").write_text("x")
  check = lambda path, **kw: output_paths.check_folder("--output", str(path), **kw)
  with pytest.raises(UserError, match=r"^--output=.*file is a file; name a folder$"):
    check(tmp_path / "file", files=["mix.png"])
  with pytest.raises(UserError, match=r"full exists already; pass --overwrite"):
    check(tmp_path / "full")  # The folder is the output (translate's PNGs).
  check(tmp_path / "full", overwrite=True)
  with pytest.raises(UserError, match=r"full holds mix\.png already; pass --overwrite"):
    check(tmp_path / "full", files=["mix.png", "mix.json"])  # A container (explore's files).
  check(tmp_path / "full", files=["truncation.png"])
  check(tmp_path / "full", files=["mix.png"], overwrite=True)
  read_only(monkeypatch)
  with pytest.raises(UserError, match=rf"the folder {tmp_path} is not writable \(read-only"):
    check(tmp_path / "new", files=["mix.png"])
  with pytest.raises(UserError, match=rf"the folder {tmp_path}/full is not writable \(read-only"):
    check(tmp_path / "full", files=["truncation.png"])


def test_written_leaves_the_file_whole_or_untouched(tmp_path):
  target = tmp_path / "out.npz"
  target.write_bytes(b"old")
  with pytest.raises(RuntimeError):
    with output_paths.written(str(target)) as tmp:
      assert tmp.endswith(".npz") and os.path.dirname(tmp) == str(tmp_path)
      np.savez(tmp, x=np.zeros(3))
      raise RuntimeError("failed half way")
  assert os.listdir(tmp_path) == ["out.npz"] and target.read_bytes() == b"old"
  with pytest.raises(OSError) as failure:  # The writer's OSError names the output, not the tmp.
    with output_paths.written(str(target)) as tmp:
      raise OSError(errno.ENOSPC, "No space left on device", tmp)
  assert failure.value.filename == str(target) and os.listdir(tmp_path) == ["out.npz"]
  with output_paths.written(str(target)) as tmp:
    np.savez(tmp, x=np.arange(3))
  with np.load(target) as z:
    np.testing.assert_array_equal(z["x"], [0, 1, 2])
  assert os.listdir(tmp_path) == ["out.npz"]


def test_written_folder_replaces_only_files_of_the_same_names(tmp_path):
  out = tmp_path / "pngs"
  with pytest.raises(RuntimeError):
    with output_paths.written_folder(str(out)) as tmp:
      (tmp_path / os.path.basename(tmp) / "a.png").write_text("new")
      raise RuntimeError("failed half way")
  assert os.listdir(tmp_path) == []
  with output_paths.written_folder(str(out)) as tmp:
    open(os.path.join(tmp, "a.png"), "w").write("first")
    open(os.path.join(tmp, "b.png"), "w").write("first")
  with output_paths.written_folder(str(out)) as tmp:  # Into the existing folder (--overwrite).
    open(os.path.join(tmp, "a.png"), "w").write("second")
  assert os.listdir(tmp_path) == ["pngs"]
  assert (out / "a.png").read_text() == "second" and (out / "b.png").read_text() == "first"


def test_npz_rows_writes_an_array_batch_by_batch(tmp_path):
  rows = np.arange(7 * 2 * 3, dtype=np.uint8).reshape(7, 2, 3)
  with zipfile.ZipFile(tmp_path / "a.npz", "w") as npz:
    with output_paths.npz_rows(npz, "samples", rows.shape, np.uint8) as put:
      for start in range(0, 7, 3):
        put(rows[start:start + 3])
    with output_paths.npz_rows(npz, "labels", (7,), np.int32) as put:
      put(np.arange(7))
  with np.load(tmp_path / "a.npz") as z:
    np.testing.assert_array_equal(z["samples"], rows)
    assert z["labels"].dtype == np.int32 and z["labels"].tolist() == list(range(7))


# --- Every tool refuses a bad output before it restores anything ----------------------------------

REFUSED = [
    # The folder of --output on a read-only mount, for each tool.
    ("gan_jax.sample", ["--output={ro}/s.npz"],
     "--output={ro}/s.npz: the folder {ro} is not writable (read-only file system)"),
    ("gan_jax.translate", ["--input={tmp}/in", "--output={ro}/t.npz"],
     "--output={ro}/t.npz: the folder {ro} is not writable (read-only file system)"),
    ("gan_jax.translate", ["--input={tmp}/in", "--output={ro}/pngs"],
     "--output={ro}/pngs: the folder {ro} is not writable (read-only file system)"),
    ("gan_jax.generate", ["--prompt=a seven", "--output={ro}/g.npz"],
     "--output={ro}/g.npz: the folder {ro} is not writable (read-only file system)"),
    ("gan_jax.explore", ["--output={ro}/e", "mix"],
     "--output={ro}/e: the folder {ro} is not writable (read-only file system)"),
    # explore's default folder inside a read-only workdir.
    ("gan_jax.explore", ["--workdir={ro}", "interpolate"],
     "the default --output={ro}/explore: the folder {ro} is not writable (read-only file system)"),
    # A directory where a file goes, a file where a folder goes.
    ("gan_jax.generate", ["--prompt=a seven", "--output={tmp}/dir.npz"],
     "--output={tmp}/dir.npz is a directory; name a file in it (ending in .npz)"),
    ("gan_jax.generate", ["--prompt=a seven", "--output={tmp}/g.npz", "--grid={tmp}/dir"],
     "--grid={tmp}/dir is a directory; name a file in it (ending in .png)"),
    ("gan_jax.explore", ["--output={tmp}/old.npz", "mix"],
     "--output={tmp}/old.npz is a file; name a folder"),
    # An existing output, without --overwrite.
    ("gan_jax.sample", ["--output={tmp}/old.npz"],
     "--output={tmp}/old.npz exists already; pass --overwrite to replace it, or name a new one"),
    ("gan_jax.generate", ["--prompt=a seven", "--output={tmp}/old.npz"],
     "--output={tmp}/old.npz exists already; pass --overwrite"),
    ("gan_jax.generate", ["--prompt=a seven", "--grid={tmp}/old.png"],
     "--grid={tmp}/old.png exists already; pass --overwrite"),
    ("gan_jax.translate", ["--input={tmp}/in", "--output={tmp}/old.npz"],
     "--output={tmp}/old.npz exists already; pass --overwrite"),
    ("gan_jax.explore", ["--output={tmp}/full", "mix"],
     "--output={tmp}/full holds mix.png already; pass --overwrite to replace it"),
    # What translate and explore wrote anyway or failed on after the restore.
    ("gan_jax.translate", ["--input={tmp}/in", "--output={tmp}/t.npz", "--grid={tmp}/x.txt"],
     "--grid={tmp}/x.txt must end in .png, not '.txt'"),
    ("gan_jax.translate", ["--input={tmp}/in", "--output={tmp}/t.npz", "--grid_rows=0"],
     "--grid_rows=0 must be >= 1"),
    ("gan_jax.explore", ["--output={tmp}/e", "truncation", "--psi="],
     "--psi is empty; allowed: numbers in [0, 1]"),
]


@pytest.mark.parametrize("tool, args, message", REFUSED,
                         ids=[f"{t[0][8:]}-{i}" for i, t in enumerate(REFUSED)])
def test_a_bad_output_is_refused_before_the_run_is_restored(tool, args, message, tmp_path,
                                                           monkeypatch, run_cli):
  """--workdir names no run (unless the case gives one), so the output's check must come first."""
  ro = tmp_path / "ro"
  ro.mkdir()
  (ro / "config.json").write_text(json.dumps({"family": "latent"}))
  (tmp_path / "dir.npz").mkdir()
  (tmp_path / "dir").mkdir()
  (tmp_path / "old.npz").write_bytes(b"keep")
  (tmp_path / "old.png").write_bytes(b"keep")
  (tmp_path / "full").mkdir()
  (tmp_path / "full" / "mix.png").write_bytes(b"keep")
  before = sorted(str(p) for p in tmp_path.rglob("*"))
  real_probe = output_paths._probe  # pylint: disable=protected-access

  def probe(folder):  # `ro` is on a read-only mount.
    if folder == str(ro):
      raise OSError(errno.EROFS, os.strerror(errno.EROFS), folder)
    real_probe(folder)
  monkeypatch.setattr(output_paths, "_probe", probe)
  fill = lambda text: text.format(tmp=tmp_path, ro=ro)
  workdir = [] if any(a.startswith("--workdir") for a in args) else [f"--workdir={tmp_path}/none"]
  line = one_error_line(run_cli(tool, *workdir, *map(fill, args)))
  assert line.startswith("error: " + fill(message)), line
  assert sorted(str(p) for p in tmp_path.rglob("*")) == before
  assert (tmp_path / "old.npz").read_bytes() == b"keep"


# --- Runs restored by the tools --------------------------------------------------------------------

@pytest.fixture(scope="module")
def latent_run(tmp_path_factory):
  """A conditional MLP GAN on 8x8 digits after one step: what sample and explore restore."""
  from configs import default  # pylint: disable=g-import-not-at-top
  from gan_jax import loop  # pylint: disable=g-import-not-at-top
  config = default.get_config()
  config.dataset.name = "digits"
  config.model.update(name="mlp", latent_dim=8, g_hidden=(16,), d_hidden=(16,), conditional=True)
  config.update(batch_size=8, num_train_steps=1, steps_per_call=1, log_every_steps=1,
                sample_every_steps=0, checkpoint_every_steps=1)
  workdir = str(tmp_path_factory.mktemp("latent") / "run")
  loop.train_and_evaluate(config, workdir)
  return workdir


def test_sample_goes_in_batches_says_so_and_overwrites_only_when_asked(latent_run, tmp_path,
                                                                      run_cli):
  from gan_jax import loop  # pylint: disable=g-import-not-at-top
  from gan_jax import sample  # pylint: disable=g-import-not-at-top
  out, grid = tmp_path / "s.npz", tmp_path / "g.png"
  args = [f"--workdir={latent_run}", f"--output={out}", f"--grid={grid}", "--num_samples=5",
          "--batch_size=2"]
  r = run_cli("gan_jax.sample", *args)
  assert r.returncode == 0, r.stderr[-3000:]
  lines = r.stderr.splitlines()
  assert lines[0] == f"restoring {latent_run} (step 1) and compiling..."
  assert lines[-1].startswith("generated 5/5 samples (") and len(lines) == 2, lines
  assert r.stdout == f"wrote 5 samples to {out}\n"
  samples, labels = sample.generate(loop.restore(latent_run), 5, batch_size=2)
  with np.load(out) as z:  # Written batch by batch: the same arrays.
    np.testing.assert_array_equal(z["samples"], samples)
    np.testing.assert_array_equal(z["labels"], labels)
    assert z["labels"].tolist() == [0, 1, 2, 3, 4]
  first, first_grid = out.read_bytes(), grid.read_bytes()
  r = run_cli("gan_jax.sample", *args, "--seed=1")
  assert "--output" in one_error_line(r) and "exists already; pass --overwrite" in r.stderr
  assert out.read_bytes() == first and grid.read_bytes() == first_grid
  r = run_cli("gan_jax.sample", *args, "--seed=1", "--overwrite")
  assert r.returncode == 0, r.stderr[-3000:]
  assert out.read_bytes() != first and grid.read_bytes() != first_grid
  assert sorted(os.listdir(tmp_path)) == ["g.png", "s.npz"]


def test_sample_refuses_more_than_its_folder_holds(latent_run, tmp_path, monkeypatch, run_cli):
  import shutil  # pylint: disable=g-import-not-at-top
  usage = shutil.disk_usage(tmp_path)
  monkeypatch.setattr(shutil, "disk_usage", lambda path: usage._replace(free=10000))
  r = run_cli("gan_jax.sample", f"--workdir={latent_run}", f"--output={tmp_path / 's.npz'}",
              "--num_samples=1000", "--batch_size=100")
  line = one_error_line(r, loading=True)
  assert line == (f"error: --num_samples=1000 needs 68.0 kB for --output, more than the 10.0 kB "
                  f"free in {tmp_path}; ask for fewer samples or write them elsewhere")
  assert os.listdir(tmp_path) == []


def test_explore_refuses_existing_files_and_leaves_nothing_of_a_failed_run(latent_run, tmp_path,
                                                                          run_cli):
  out = tmp_path / "explore"
  args = [f"--workdir={latent_run}", f"--output={out}", "interpolate", "--rows=2", "--steps=3"]
  r = run_cli("gan_jax.explore", *args)
  assert r.returncode == 0, r.stderr[-3000:]
  assert r.stderr == f"restoring {latent_run} (step 1) and compiling...\n"
  assert "exists" not in r.stderr and os.listdir(out) == ["interpolate.png"]
  first = (out / "interpolate.png").read_bytes()
  assert "holds interpolate.png already" in one_error_line(run_cli("gan_jax.explore", *args,
                                                                   "--seed=1"))
  assert (out / "interpolate.png").read_bytes() == first
  r = run_cli("gan_jax.explore", *args, "--seed=1", "--overwrite")
  assert r.returncode == 0 and (out / "interpolate.png").read_bytes() != first
  # Too few samples for the exemplars: refused after the restore, and the new folder is gone.
  r = run_cli("gan_jax.explore", f"--workdir={latent_run}", f"--output={tmp_path / 'new'}",
              "arithmetic", "--source_class=1", "--target_class=7", "--num_samples=4")
  assert "candidate exemplars" in one_error_line(r, loading=True)
  assert sorted(os.listdir(tmp_path)) == ["explore"]


def test_explore_errors_are_one_line_without_absl_info(latent_run, run_subprocess):
  """JAX logs 'Unable to initialize backend' at INFO when it looks for a TPU (JAX_PLATFORMS unset):
  absl printed it before explore's error until the tool set its verbosity."""
  r = run_subprocess("gan_jax.explore", f"--workdir={latent_run}", "mix",
                     env={"JAX_PLATFORMS": ""})
  line = one_error_line(r, loading=True)
  assert line.startswith("error: mix needs a model with an intermediate latent space w"), line


def test_explore_refuses_a_family_without_latents_before_restoring(tmp_path, run_cli):
  (tmp_path / "config.json").write_text(json.dumps({"family": "pix2pix"}))
  line = one_error_line(run_cli("gan_jax.explore", f"--workdir={tmp_path}",
                                f"--output={tmp_path / 'e'}", "interpolate"))
  assert line == (f"error: --workdir={tmp_path} holds a pix2pix run, which does not offer a latent "
                  "space to explore (gan_jax.explore); its runs offer gan_jax.translate")
  assert os.listdir(tmp_path) == ["config.json"]


def test_generate_refuses_a_run_without_checkpoint_before_loading_the_encoder(tmp_path,
                                                                             monkeypatch, run_cli):
  from gan_jax import generate  # pylint: disable=g-import-not-at-top
  (tmp_path / "config.json").write_text(json.dumps({"family": "text2image"}))

  def encode(*args, **kwargs):
    raise AssertionError("the prompts were encoded before the checkpoint was looked for")
  monkeypatch.setattr(generate, "encode_prompts", encode)
  line = one_error_line(run_cli("gan_jax.generate", f"--workdir={tmp_path}", "--prompt=a seven",
                                f"--grid={tmp_path / 'g.png'}"))
  assert line == f"error: --workdir={tmp_path} has no checkpoint yet"
  assert os.listdir(tmp_path) == ["config.json"]


def test_text2image_generate_draws_at_most_batch_size_images_per_call():
  """gan_jax.generate --num=20000 drew each prompt's row in one call (2.12 GB at its peak)."""
  from types import SimpleNamespace  # pylint: disable=g-import-not-at-top
  from gan_jax.families.text2image import family  # pylint: disable=g-import-not-at-top
  calls = []

  def sample(state, z, sentences, psi=1.0):
    del state, psi
    calls.append(len(z))
    value = np.tanh(np.asarray(z).sum(-1) + np.asarray(sentences).sum(-1))
    return np.broadcast_to(value[:, None, None, None], (len(z), 2, 2, 1))
  restored = SimpleNamespace(state=None, trainer=SimpleNamespace(
      sampler=SimpleNamespace(sample=sample, z_dim=3)))
  sentences = np.random.default_rng(0).normal(size=(3, 5)).astype(np.float32)
  whole = family.generate(restored, sentences, num=7, batch_size=1000)
  assert calls == [21] and whole.shape == (3, 7, 2, 2, 1) and whole.dtype == np.uint8
  calls.clear()
  done = []
  parts = family.generate(restored, sentences, num=7, batch_size=4, progress=done.append)
  assert calls == [4, 3] * 3 and done == [4, 7, 11, 14, 18, 21]
  np.testing.assert_array_equal(parts, whole)  # The same latents in every row, batched or not.
  calls.clear()
  family.generate(restored, sentences, num=2, batch_size=4)
  assert calls == [4, 2]  # Whole rows when they fit: two prompts a call.
