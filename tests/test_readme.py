"""The README's research-code example runs as written and trains, as a script of its own: from a
folder outside the checkout, with only the installed package (`pip install -e .`) on the path."""
import json
import os
import re
import subprocess
import sys

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Appended to the example: what it trained, for the test to check.
REPORT = """
import json as _json
print(_json.dumps({"step": int(state.step), "d_loss": float(metrics["d_loss"]),
                   "gradient_penalty": float(metrics["gradient_penalty"])}))
"""


def test_readme_example_runs_as_a_script_from_any_folder(tmp_path):
  with open(os.path.join(ROOT, "README.md")) as f:
    blocks = re.findall(r"```python\n(.*?)```", f.read(), re.S)
  assert len(blocks) == 1
  script = tmp_path / "research.py"
  script.write_text(blocks[0] + REPORT)
  # conftest.py puts the checkout on PYTHONPATH for the tests' subprocesses; research code has only
  # the installed package.
  env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
  r = subprocess.run([sys.executable, str(script)], cwd=tmp_path, env=env, capture_output=True,
                     text=True, timeout=600)
  assert r.returncode == 0, r.stderr[-3000:]
  report = json.loads(r.stdout.strip().splitlines()[-1])
  assert report["step"] == 1
  assert np.isfinite(report["d_loss"]) and np.isfinite(report["gradient_penalty"])


def test_configs_and_every_family_import_from_any_folder(tmp_path):
  configs = sorted(f[:-3] for f in os.listdir(os.path.join(ROOT, "configs"))
                   if f.endswith(".py") and f != "__init__.py")
  from gan_jax import families  # pylint: disable=g-import-not-at-top
  modules = [f"configs.{name}" for name in configs] + [
      f"gan_jax.families.{name}.{part}" for name in families.NAMES
      for part in ("family", "models", "step")]
  env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
  r = subprocess.run([sys.executable, "-c", "import importlib, sys\n"
                      "for m in sys.argv[1:]: importlib.import_module(m)", *modules],
                     cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
  assert r.returncode == 0, r.stderr[-3000:]
