"""The README's research-code example runs as written and trains."""
import os
import re

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_readme_example_runs():
  with open(os.path.join(ROOT, "README.md")) as f:
    blocks = re.findall(r"```python\n(.*?)```", f.read(), re.S)
  assert len(blocks) == 1
  namespace = {}
  exec(compile(blocks[0], "README.md", "exec"), namespace)  # pylint: disable=exec-used
  metrics = namespace["metrics"]
  assert int(namespace["state"].step) == 1
  assert np.isfinite(float(metrics["d_loss"])) and np.isfinite(float(metrics["gradient_penalty"]))
