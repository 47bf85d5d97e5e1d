"""experiments/gpu_check.py on the CPU before any GPU minute is spent on it: the dry run times,
trains and scores every family with tiny networks; a tiny budget still leaves results, with what
it skipped; bad flags are one line, exit status 2 and nothing written."""
import json
import math
import os
import sys

import pytest

from gan_jax import families

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "experiments"))
import gpu_check  # pylint: disable=g-import-not-at-top,wrong-import-position


def _results(out):
  with open(out / "gpu_check.json") as f:
    return json.load(f)


def _positive(value):
  return isinstance(value, float) and math.isfinite(value) and value > 0


def _check_row(results, name):
  """A config's row: positive steps/s of its step and its training, a PyTorch ratio or why there
  is none, and a finite FID (or the note that there are no weights)."""
  row = results["configs"][name]
  steps, train = row["steps"], row["train"]
  assert all(_positive(steps[k]) for k in ("steps_per_s_1", "steps_per_s_k", "images_per_s")), \
      (name, steps)
  assert _positive(steps["ratio"]) if "ratio" in steps else steps["torch_note"], (name, steps)
  assert _positive(train["steps_per_s"]) and train["steps"] > 0, (name, train)
  if results["fid_weights"].startswith("absent"):
    assert train["fid_note"] == "skipped: no FID weights", (name, train)
  else:
    assert math.isfinite(train["fid"]) and train["fid_samples"] > 0, (name, train)


def test_dry_run_of_one_config_writes_its_row(tmp_path):
  """The driver, both per-config parts and the results on the cheapest config (a minute at most
  on 2 busy cores); every family is the slow test's."""
  out = tmp_path / "out"
  assert gpu_check.main(["--dry_run", f"--out={out}", "--configs=dcgan_cifar10",
                         "--parts=steps,train", "--hard_stop_s=0"]) == 0
  results = _results(out)
  assert results["status"] == "done" and results["dry_run"]
  _check_row(results, "dcgan_cifar10")
  assert _positive(results["configs"]["dcgan_cifar10"]["steps"]["ratio"])
  table = (out / "gpu_check.md").read_text()
  assert "| config | family | batch |" in table and "| dcgan_cifar10 | latent |" in table


@pytest.mark.slow
def test_dry_run_times_trains_and_scores_every_family(tmp_path):
  """What a GPU call runs, at tiny sizes: every config and part (~7 min on 2 busy cores, nearly
  all of it compiling: a few compilations per config, their FID's Inception included)."""
  out = tmp_path / "out"
  assert gpu_check.main(["--dry_run", f"--out={out}", "--hard_stop_s=0"]) == 0
  results = _results(out)
  assert results["status"] == "done" and results["dry_run"]
  assert {row["family"] for row in results["configs"].values()} == set(families.NAMES)
  for name in results["configs"]:
    _check_row(results, name)
  assert _positive(results["fid"][f"ours_highest_b{gpu_check.DRY_SIZES.fid_batch}_img_per_s"])
  table = (out / "gpu_check.md").read_text()
  assert all(f"| {name} |" in table for name in gpu_check.CHECKS)


def test_a_tiny_budget_leaves_partial_results_with_skipped_notes(tmp_path):
  out = tmp_path / "out"
  assert gpu_check.main(["--dry_run", f"--out={out}", "--budget_s=0.01", "--hard_stop_s=0"]) == 0
  results = _results(out)
  assert results["versions"]["platform"] == "cpu"  # What ran before the budget was spent.
  for part in ("steps", "train"):
    assert all(row[part]["note"].startswith("skipped: budget")
               for row in results["configs"].values())
  assert results["fid"]["note"].startswith("skipped: budget")
  table = (out / "gpu_check.md").read_text()
  assert table.count("skipped: budget") >= 2 * len(gpu_check.CHECKS)


@pytest.mark.parametrize("flag, named", [
    ("--configs=stylegan_cifar10,nope", "'nope' is unknown; allowed: stylegan_cifar10"),
    ("--parts=steps,tune", "'tune' is unknown; allowed: steps, fid, train"),
    ("--budget_s=0", "--budget_s=0 must be"),
    ("--budget_s=soon", "--budget_s: invalid float value: 'soon'"),
    ("--out={file}", "is a file"),
    ("--out={file}/results", "is not writable"),
])
def test_bad_flags_are_one_line_and_write_nothing(tmp_path, capsys, flag, named):
  a_file = tmp_path / "a_file"
  a_file.write_text("")
  out = tmp_path / "out"
  args = ["--dry_run", f"--out={out}", flag.format(file=a_file)]
  assert gpu_check.main(args) == 2
  err = capsys.readouterr().err
  assert err.startswith("error: ") and err.count("\n") == 1 and named in err, err
  assert sorted(os.listdir(tmp_path)) == ["a_file"]


def test_missing_modules_are_named_in_one_line(tmp_path, capsys, monkeypatch):
  monkeypatch.setattr(gpu_check, "EXPECTED_MODULES", gpu_check.EXPECTED_MODULES + ("no_such_mod",))
  out = tmp_path / "out"
  assert gpu_check.main(["--dry_run", f"--out={out}"]) == 2
  err = capsys.readouterr().err
  assert err.startswith("error: missing modules no_such_mod;") and err.count("\n") == 1, err
  assert not out.exists()
