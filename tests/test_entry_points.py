"""Each command line as a user starts it, `python -m TOOL`: its `__main__` defines its flags and
turns a mistake into one `error:` line and exit 2. The tools' behaviour is tested in-process
(tests/cli_testing.py); this proves the entry points themselves."""
import pytest

import cli_testing

# gan_jax.main and gan_jax.sample also start as processes in test_train.py and test_faults.py.
MISTAKES = [
    ("gan_jax.main", ["--config=configs/gan_mlp.py", "--workdir={tmp}/run", "--config.batch_size=0"],
     "error: batch_size=0 must be an integer >= 1"),
    ("gan_jax.sweep", ["--config=configs/gan_mlp.py", "--workdir={tmp}/sweep",
                       "--config.model.name=nosuch"], "error: model.name='nosuch' is unknown"),
    ("gan_jax.sample", ["--workdir={tmp}/none", "--output={tmp}/s.txt"],
     "error: --output={tmp}/s.txt must end in .npz"),
    ("gan_jax.translate", ["--workdir={tmp}/none", "--input={tmp}/none", "--output={tmp}/o.npz"],
     "error: "),
    ("gan_jax.generate", ["--workdir={tmp}/none", "--prompt=a seven"],
     "error: nothing to write: give --grid=FILE.png and/or --output=FILE.npz"),
    ("gan_jax.explore", ["--workdir={tmp}/none", "warp"],
     "error: the tool is 'warp'; allowed: one of interpolate, truncation, mix, arithmetic"),
    ("gan_jax.fid", ["{tmp}/a.npz"], "error: expected two paths (A B), got 1"),
]


@pytest.mark.parametrize("tool, args, message", MISTAKES, ids=[m[0] for m in MISTAKES])
def test_a_mistake_through_the_entry_point_is_one_line_and_exit_2(tool, args, message, tmp_path):
  r = cli_testing.run_subprocess(tool, *(a.format(tmp=tmp_path) for a in args), timeout=120)
  assert r.returncode == 2, r.stderr[-3000:]
  lines = [l for l in r.stderr.splitlines() if l.strip()]
  assert len(lines) == 1 and lines[0].startswith(message.format(tmp=tmp_path)), r.stderr[-3000:]
  assert list(tmp_path.iterdir()) == []
