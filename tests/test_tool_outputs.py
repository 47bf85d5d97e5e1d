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
from PIL import Image
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
