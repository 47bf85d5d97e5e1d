"""The tools' one interface to the families: every family declares the tools its runs offer
(families.Tools), a tool that a run does not offer is refused in one line naming those it does, and
no code outside gan_jax/families/ asks a family by its name."""
import glob
import json
import os
import re

import ml_collections
import numpy as np
from PIL import Image
import pytest

from gan_jax import families
from gan_jax.errors import UserError

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.mark.parametrize("name", families.NAMES)
def test_every_family_declares_its_tools(name):
  tools = families.get(name).TOOLS
  assert isinstance(tools, families.Tools)
  assert isinstance(tools.sample, bool) and isinstance(tools.truncation, bool)
  assert tools.sample or not tools.truncation  # Truncation is an option of sampling.
  assert tools.latent_model is None or callable(tools.latent_model)
  assert tools.translator is None or isinstance(tools.translator, families.Translator)
  assert tools.text_generator is None or isinstance(tools.text_generator, families.TextGenerator)
  assert any((tools.sample, tools.latent_model, tools.translator, tools.text_generator)), (
      f"{name}'s runs offer no command-line tool")


def test_a_tool_the_run_does_not_offer_is_one_line_naming_those_it_does():
  config = ml_collections.ConfigDict({"family": "pix2pix"})
  assert families.offered(config, "translator", "RUN") is families.get("pix2pix").TOOLS.translator
  with pytest.raises(UserError) as e:
    families.offered(config, "sample", "RUN")
  assert str(e.value) == (
      "--workdir=RUN holds a pix2pix run, which does not offer sampling from latent vectors and "
      "class labels (gan_jax.sample); its runs offer gan_jax.translate")


def test_no_code_outside_the_families_names_a_family():
  names = "|".join(families.NAMES)
  family_literal = re.compile(rf"""["']({names})["']|families\.({names})\b""")
  found = []
  for path in sorted(glob.glob(os.path.join(ROOT, "gan_jax", "*.py"))):
    with open(path) as f:
      for number, line in enumerate(f, 1):
        if family_literal.search(line) or ".info[" in line:
          found.append(f"{os.path.relpath(path, ROOT)}:{number}: {line.strip()}")
  assert not found, "\n".join(found)


@pytest.mark.parametrize("family, tool, args, offers", [
    ("pix2pix", "gan_jax.sample", ["--output=OUT/samples.npz"],
     "sampling from latent vectors and class labels (gan_jax.sample); its runs offer "
     "gan_jax.translate"),
    ("latent", "gan_jax.translate", ["--input=OUT/in.png", "--output=OUT/translated"],
     "translating images (gan_jax.translate); its runs offer gan_jax.sample, gan_jax.explore"),
    ("cyclegan", "gan_jax.generate", ["--prompt=a seven", "--grid=OUT/grid.png"],
     "generating images from text (gan_jax.generate); its runs offer gan_jax.translate"),
    ("text2image", "gan_jax.explore", ["--output=OUT/explore", "interpolate"],
     "a latent space to explore (gan_jax.explore); its runs offer gan_jax.generate"),
])
def test_each_tool_refuses_a_run_it_cannot_use_before_restoring(tmp_path, family, tool, args,
                                                               offers, run_cli):
  workdir, out = tmp_path / "run", tmp_path / "out"
  workdir.mkdir()
  out.mkdir()
  (workdir / "config.json").write_text(json.dumps({"family": family}))
  Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(out / "in.png")
  r = run_cli(tool, f"--workdir={workdir}", *[a.replace("OUT", str(out)) for a in args])
  assert r.returncode == 2
  assert r.stderr.strip().splitlines() == [
      f"error: --workdir={workdir} holds a {family} run, which does not offer {offers}"]
  assert sorted(os.listdir(out)) == ["in.png"] and os.listdir(workdir) == ["config.json"]
