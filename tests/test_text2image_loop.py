"""text2image end to end: a tiny captioned folder through the loop, then the generate CLI."""
import json

import numpy as np
import pytest
from PIL import Image

from gan_jax import loop
from gan_jax.errors import UserError
from gan_jax import generate


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
  return _train(tmp_path_factory.mktemp("t2i"))


def _train(tmp):
  folder = tmp / "squares"
  folder.mkdir()
  records = []
  rng = np.random.default_rng(0)
  for i in range(16):
    colour = ("red", (220, 30, 30)) if i % 2 else ("blue", (30, 30, 220))
    image = np.full((8, 8, 3), 20, np.uint8)
    image[2:6, 2:6] = colour[1]
    image = np.clip(image + rng.integers(0, 20, image.shape), 0, 255).astype(np.uint8)
    Image.fromarray(image).save(folder / f"{i:02d}.png")
    records.append({"image": f"{i:02d}.png",
                    "captions": [f"a {colour[0]} square", f"a small {colour[0]} square"]})
  captions = tmp / "captions.jsonl"
  captions.write_text("\n".join(json.dumps(r) for r in records))

  from configs import text2image_digits  # pylint: disable=g-import-not-at-top
  config = text2image_digits.get_config()
  config.dataset.name = "image_folder"
  config.dataset.path = str(folder)
  config.dataset.captions = str(captions)
  config.model.latent_dim = 4
  config.model.g_widths = (8, 8)
  config.model.d_widths = (8, 8)
  config.model.conditioning_augmentation = 4
  config.loss.ma_gp_weight = 2.0
  config.loss.mode_seeking_weight = 1.0
  config.batch_size = 8
  config.num_train_steps = 4
  config.steps_per_call = 2
  config.log_every_steps = 2
  config.sample_every_steps = 4
  config.checkpoint_every_steps = 4
  config.sample_prompts = ("a red square", "a blue square")
  config.num_grid_columns = 3
  workdir = tmp / "run"
  state = loop.train_and_evaluate(config, str(workdir))
  return config, workdir, state, tmp


@pytest.mark.slow
def test_trains_and_writes_prompt_grid(trained):
  _, workdir, state, _ = trained
  assert int(state.step) == 4
  with Image.open(workdir / "samples_0000004.png") as grid:
    assert grid.size[0] > grid.size[1]  # Two rows of three, the prompts written on the left.
  metrics = [json.loads(l) for l in (workdir / "metrics.jsonl").read_text().splitlines()]
  last = metrics[-1]
  for key in ("d_loss", "g_loss", "ma_gp", "ca_kl", "d_loss_mismatch", "mode_seeking_ratio"):
    assert np.isfinite(last[key]), key
  assert last["mismatch_rows"] == 1.0  # Every row had a partner of the other colour.


@pytest.mark.slow
def test_generate_cli_shapes(trained, run_cli):
  _, workdir, _, tmp = trained
  prompts_file = tmp / "prompts.txt"
  prompts_file.write_text("# a comment\n\na blue square\n", encoding="utf-8")
  out, grid = tmp / "out.npz", tmp / "out.png"
  result = run_cli("gan_jax.generate", f"--workdir={workdir}", "--prompt", "a red square",
                   "--prompt", "the " * 300, f"--prompts_file={prompts_file}", "--num=3",
                   f"--output={out}", f"--grid={grid}")
  assert result.returncode == 0, result.stderr
  assert "note: prompt 2" in result.stderr and "256 tokens" in result.stderr
  with np.load(out) as z:
    assert z["images"].shape == (9, 8, 8, 3) and z["images"].dtype == np.uint8
    assert z["prompts"].tolist() == ["a red square", " ".join(["the"] * 300), "a blue square"]
    assert z["prompt_index"].tolist() == [0, 0, 0, 1, 1, 1, 2, 2, 2]
  with Image.open(grid) as img:
    assert img.size[1] > 3 * 8  # Three rows, upscaled.
  # The same seed draws the same images; rows share latents, so equal prompts give equal rows.
  again = tmp / "again.npz"
  result = run_cli("gan_jax.generate", f"--workdir={workdir}", "--prompt", "a red square",
                   "--prompt", "a red square", "--num=3", f"--output={again}")
  assert result.returncode == 0, result.stderr
  with np.load(again) as z, np.load(out) as first:
    np.testing.assert_array_equal(z["images"][:3], first["images"][:3])
    np.testing.assert_array_equal(z["images"][:3], z["images"][3:])


@pytest.mark.slow
@pytest.mark.parametrize("args, message", [
    (["--prompt", "  "], "--prompt number 1 is empty"),
    (["--prompts_file={bad}"], "is not UTF-8 text (line 2"),
    (["--prompts_file={empty}"], "holds no prompts"),
    ([], "no prompts"),
    (["--prompt", "a cat", "--num=0"], "--num=0 must be >= 1"),
    (["--prompt", "a cat", "--grid=out.jpg"], "must end in .png"),
])
def test_generate_cli_bad_prompts(trained, args, message, run_cli):
  _, workdir, _, tmp = trained
  bad = tmp / "latin1.txt"
  bad.write_bytes("a cat\nun caf\xe9\n".encode("latin-1"))
  empty = tmp / "empty.txt"
  empty.write_text("\n# only a comment\n")
  args = [a.format(bad=bad, empty=empty) for a in args]
  grid = [] if any(a.startswith("--grid") for a in args) else [f"--grid={tmp / 'g.png'}"]
  result = run_cli("gan_jax.generate", f"--workdir={workdir}", *args, *grid)
  assert result.returncode == 2
  lines = result.stderr.strip().splitlines()
  assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], lines


def test_read_prompts():
  assert generate.read_prompts(["  a   thick seven "]) == ["a thick seven"]
  with pytest.raises(UserError, match="--prompt number 2 is empty"):
    generate.read_prompts(["a one", ""])
  with pytest.raises(UserError, match="cannot be read"):
    generate.read_prompts([], "/nonexistent/prompts.txt")


def test_long_prompt_note():
  notes = []
  sentences = generate.encode_prompts(["a seven", "the " * 300], note=notes.append)
  assert sentences.shape == (2, 384)
  assert len(notes) == 1 and notes[0].startswith("note: prompt 2")
