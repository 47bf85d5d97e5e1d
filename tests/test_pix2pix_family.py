"""Pix2Pix through the shared loop: configs, a tiny run (grids, held-out metrics, best checkpoint)
and the translate CLI round trip with its bad-input answers."""
import glob
import importlib
import json
import os

import jax
import numpy as np
from PIL import Image
import pytest

from gan_jax import loop
from gan_jax import image_files
from gan_jax.errors import UserError
from gan_jax.families.pix2pix import data
from gan_jax.families.pix2pix import family



def _config(name, arg=None):
  module = importlib.import_module(f"configs.{name}")
  return module.get_config(arg) if arg else module.get_config()


@pytest.mark.parametrize("name,arg", [("pix2pix", "aligned"), ("pix2pix", "folders"),
                                      ("pix2pix_colorize", None),
                                      ("pix2pix_edges2digits", None)])
def test_configs_are_complete(name, arg):
  config = _config(name, arg)
  assert config.family == "pix2pix" and config.dataset.name in data.TASKS
  loop.validate_config(config)
  averaged = {"ema_decay"} if config.ema.decay > 0 else set()
  assert set(family.hparams(config)) == {"l1_weight", "gan_weight", "lr_constant_steps",
                                         "lr_decay_steps"} | averaged
  constant, decay = family.lr_schedule(config)
  assert constant + decay == config.num_train_steps
  assert set(family.optimizers(config)) == {"g", "d"}
  hash(family.options(config))


def _tiny_colorize(root):
  rng = np.random.default_rng(0)
  for i in range(40):
    low = rng.integers(0, 256, (4, 4, 3)).astype(np.uint8)
    Image.fromarray(low).resize((16, 16), Image.BILINEAR).save(os.path.join(root, f"{i:02d}.png"))
  config = _config("pix2pix_colorize")
  config.dataset.path = root
  config.dataset.num_heldout = 8
  config.model.update(g_width=4, d_width=4, d_layers=1, dropout_blocks=1)
  config.update(num_train_steps=4, batch_size=4, steps_per_call=2, log_every_steps=2,
                sample_every_steps=4, checkpoint_every_steps=4, eval_every_steps=2,
                num_grid_samples=12)
  config.ema.update(decay=0.9, start_step=2)
  return config


@pytest.mark.slow
def test_tiny_run_and_translate_round_trip(tmp_path, run_cli):
  os.makedirs(tmp_path / "images")
  config = _tiny_colorize(str(tmp_path / "images"))
  workdir = str(tmp_path / "run")
  state = loop.train_and_evaluate(config, workdir)
  assert int(state.step) == 4
  with open(os.path.join(workdir, "metrics.jsonl")) as f:
    records = [json.loads(line) for line in f]
  losses = [r for r in records if "g_l1" in r]
  assert [r["step"] for r in losses] == [2, 4]
  assert all(np.isfinite(r["d_loss"]) and 0 < r["lr_factor"] <= 1 for r in losses)
  evals = [r for r in records if "psnr" in r]
  assert [r["step"] for r in evals] == [2, 4]
  assert {"l1", "psnr", "ssim", "colourfulness", "grey_psnr", "real_colourfulness"} <= set(evals[0])
  assert os.path.isdir(os.path.join(workdir, "best_checkpoint"))
  grid = Image.open(os.path.join(workdir, "samples_0000004.png"))
  # 4 held-out pairs: one block of rows of sources, outputs and targets, 8 columns of 16+1 px,
  # enlarged to about 1,024 px.
  width, height = 8 * 17 + 1, 3 * 17 + 1
  assert grid.size == (width * (1024 // width), height * (1024 // width))

  # The run kept G's average, and translations are made with it: given an average far from G's
  # weights, the translation is the average's.
  restored = loop.restore(workdir)
  ema, trained = restored.state.ema["g"], restored.state.nets["g"].variables()
  assert not np.allclose(ema["params"]["up0"]["kernel"], trained["params"]["up0"]["kernel"])
  far = {"params": jax.tree.map(lambda w: 3.0 * w, trained["params"]),
         "batch_stats": trained["batch_stats"]}
  restored.state = restored.state.replace(ema={"g": far})
  photo = list(np.random.default_rng(1).integers(0, 256, (4, 16, 16, 3), dtype=np.uint8))
  sources = family.prepare_sources(restored, photo)
  apply = family.make_apply(restored.trainer.networks["g"], restored.config.model.test_dropout)
  key = jax.random.key(0)
  translate = lambda variables: data.to_images("colorize", sources,
                                               family.generate(apply, variables, sources, key))
  translated = family.translate(restored, photo, "a2b", key)
  np.testing.assert_array_equal(translated, translate(far))
  assert not np.array_equal(translated, translate(trained))

  # Translate a folder of the user's images: colour and grey, other sizes.
  inputs = tmp_path / "mine"
  os.makedirs(inputs)
  Image.fromarray(np.full((20, 30, 3), (200, 30, 30), np.uint8)).save(inputs / "red.png")
  Image.fromarray(np.full((40, 40), 90, np.uint8)).save(inputs / "grey.jpg")
  Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(inputs / "black.png")
  out, out_npz, grid_png = tmp_path / "colour", tmp_path / "colour.npz", tmp_path / "grid.png"
  r = run_cli("gan_jax.translate", f"--workdir={workdir}", f"--input={inputs}",
               f"--output={out}", f"--grid={grid_png}", "--batch_size=2")
  assert r.returncode == 0, r.stderr[-2000:]
  assert sorted(os.listdir(out)) == ["black.png", "grey.png", "red.png"]
  assert np.asarray(Image.open(out / "red.png")).shape == (16, 16, 3)
  assert Image.open(grid_png).size[0] > 0
  # The other direction: one line, exit 2, nothing written (refused before the run is restored).
  r = run_cli("gan_jax.translate", f"--workdir={workdir}", f"--input={inputs}",
               f"--output={tmp_path / 'b2a'}", "--direction=b2a")
  assert r.returncode == 2 and "translates one way" in r.stderr
  assert r.stderr.strip().count("\n") == 0, r.stderr
  assert not glob.glob(str(tmp_path / "*b2a*"))


def test_translate_reads_and_writes_every_format(tmp_path):
  images = [np.full((6, 6, 3), 9, np.uint8), np.full((4, 5, 1), 200, np.uint8)]
  for name, image in zip(("b", "a"), images):
    Image.fromarray(image if image.shape[-1] == 3 else image[..., 0]).save(tmp_path / f"{name}.png")
  read, names = image_files.read_images(str(tmp_path))
  assert names == ["a", "b"] and read[0].shape == (4, 5, 1) and read[1].shape == (6, 6, 3)
  np.savez(tmp_path / "in.npz", images=np.zeros((3, 4, 4), np.uint8))
  read, names = image_files.read_images(str(tmp_path / "in.npz"))
  assert len(read) == 3 and read[0].shape == (4, 4, 1) and names[2] == "000002"
  out = np.arange(2 * 4 * 4 * 3, dtype=np.uint8).reshape(2, 4, 4, 3)
  image_files.write_output(image_files.check_output(str(tmp_path / "out.npz")), out, ["x", "y"])
  with np.load(tmp_path / "out.npz") as z:
    np.testing.assert_array_equal(z["images"], out)
    assert list(z["names"]) == ["x", "y"]
  image_files.write_output(image_files.check_output(str(tmp_path / "out")), out, ["x", "y"])
  np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "out" / "y.png")), out[1])
  assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


@pytest.mark.parametrize("args,message", [
    (["--input=MISSING", "--output=OUT"], "does not exist; give a folder of images"),
    (["--input=EMPTY", "--output=OUT"], "holds no images"),
    (["--input=BAD_NPZ", "--output=OUT"], "expected uint8 images"),
    (["--input=IMAGES", "--output=EXISTING"], "exists already"),
    (["--input=IMAGES", "--output=OUT", "--direction=up"], "--direction='up' is unknown"),
    (["--input=IMAGES", "--output=OUT", "--batch_size=0"], "--batch_size=0 must be >= 1"),
    (["--input=IMAGES", "--output=OUT"], "holds no config.json"),
])
def test_translate_bad_input_is_one_line(tmp_path, args, message, run_cli):
  paths = {"MISSING": tmp_path / "missing", "EMPTY": tmp_path / "empty",
           "BAD_NPZ": tmp_path / "bad.npz", "IMAGES": tmp_path / "images",
           "EXISTING": tmp_path / "existing.npz", "OUT": tmp_path / "out"}
  os.makedirs(paths["EMPTY"])
  os.makedirs(paths["IMAGES"])
  Image.fromarray(np.zeros((8, 8), np.uint8)).save(paths["IMAGES"] / "a.png")
  np.savez(paths["BAD_NPZ"], images=np.zeros((2, 8, 8), np.float32))
  paths["EXISTING"].write_bytes(b"keep")
  for key, value in paths.items():
    args = [a.replace(key, str(value)) for a in args]
    message = message.replace(key, str(value))
  r = run_cli("gan_jax.translate", f"--workdir={tmp_path / 'no_run'}", *args)
  assert r.returncode == 2, r.stderr[-2000:]
  assert r.stderr.strip().count("\n") == 0 and message in r.stderr, r.stderr
  assert not os.path.exists(paths["OUT"]) and paths["EXISTING"].read_bytes() == b"keep"


@pytest.mark.parametrize("change,message", [
    (lambda c: c.loss.update(l1_weight=0.0, gan_weight=0.0), "nothing to train"),
    (lambda c: c.loss.update(l1_weight=-1.0), "must be >= 0"),
    (lambda c: c.model.update(dropout_blocks=4), "dropout_blocks=4"),
    (lambda c: c.model.update(d_layers=4), "too deep"),
    (lambda c: c.model.update(norm="layer"), "norm='layer' is unknown"),
    (lambda c: c.update(best_metric="fid"), "needs eval.fid=True"),
    (lambda c: c.update(best_metric="ssim"), "best_metric='ssim' is unknown"),
])
def test_bad_settings_are_user_errors(change, message):
  config = _config("pix2pix_colorize")
  change(config)
  with pytest.raises(UserError, match=message):
    family.check_config(config, {"source": (32, 32, 1), "target": (32, 32, 2)})


@pytest.mark.parametrize("key,value,message", [
    ("model.dropout_blocks", -1, "model.dropout_blocks=-1 is out of range; allowed: an integer >= 0"),
    ("model.dropout_rate", 1.0, "model.dropout_rate=1.0 is out of range; allowed: a number in [0, 1)"),
    ("model.g_width", 0, "model.g_width=0 is out of range"),
    ("dataset.hole", 1.0, "dataset.hole=1.0 is out of range; allowed: a number in (0, 1)"),
    ("lr_schedule.decay_steps", -2, "lr_schedule.decay_steps=-2 is out of range"),
    ("loss.l1_weight", -1.0, "loss.l1_weight=-1.0 is out of range"),
])
def test_value_ranges_are_checked_before_anything_runs(key, value, message):
  """The family's CONFIG_CHECKS and the shared table, as the loop applies them (a count named
  dropout_blocks is not taken for a dropout rate)."""
  config = _config("pix2pix_colorize")
  section, name = key.split(".")
  config[section][name] = value
  with pytest.raises(UserError) as error:
    loop.validate_config(config)
  assert str(error.value).startswith(message), str(error.value)
