"""The latent-space tools on tiny trained runs: a StyleGAN (w space) and a latent-family MLP GAN
(z only), in process; bad input through the command line; gan_jax.sample on both."""
import os

import numpy as np
from PIL import Image
import pytest

from configs import default
from configs import stylegan_defaults
from gan_jax import explore
from gan_jax import loop
from gan_jax.errors import UserError


# The module's runs (a StyleGAN and an MLP GAN through the loop) take over 30 s to compile.
pytestmark = pytest.mark.slow


def _tiny(config):
  config.dataset.name = "digits"   # 8x8 digits with labels.
  config.batch_size = 8
  config.num_train_steps = 1
  config.steps_per_call = 1
  config.log_every_steps = 1
  config.sample_every_steps = 0
  config.checkpoint_every_steps = 1
  return config


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
  root = tmp_path_factory.mktemp("explore")
  style = _tiny(stylegan_defaults.stylegan())
  style.model.update(dict(z_dim=8, w_dim=8, channel_base=32, channel_max=8, conditional=True))
  loop.train_and_evaluate(style, str(root / "stylegan"))
  mlp = _tiny(default.get_config())
  mlp.model.name = "mlp"
  mlp.model.latent_dim = 8
  mlp.model.g_hidden = mlp.model.d_hidden = (16,)
  loop.train_and_evaluate(mlp, str(root / "mlp"))
  return {"stylegan": explore.load_latent_model(str(root / "stylegan")),
          "mlp": explore.load_latent_model(str(root / "mlp")), "root": root}


def test_stylegan_tools_write_their_grids(runs, tmp_path):
  model = runs["stylegan"]
  assert model.has_w and model.num_ws == 4 and model.num_classes == 10
  written, _ = explore.interpolate(model, str(tmp_path), rows=2, steps=3, space="auto", seed=0,
                                   animate=True, keyframes=2, frames=3)
  gif = Image.open(written[1])
  assert gif.n_frames == 6 and Image.open(written[0]).size[0] > 0
  written, summary = explore.truncation(model, str(tmp_path), [1.0, 0.5, 0.0], cols=3, cutoff=None,
                                        seed=0)
  assert "3 rows" in summary and os.path.exists(written[0])
  written, summary = explore.mix(model, str(tmp_path), rows=2, cols=3, cutoff=2, seed=0)
  assert "[0, 2) from the row" in summary and os.path.exists(written[0])


def test_truncation_rows_go_from_the_samples_to_the_average_image(runs, tmp_path):
  """psi = 0 renders w_avg for every latent, psi = 1 the latents' own images."""
  model = runs["stylegan"]
  z = np.random.default_rng(0).normal(size=(3, 8)).astype(np.float32)
  ws = np.asarray(model.map(z, np.zeros(3, np.int32)))
  plain = np.asarray(model.synthesize(ws))
  average = np.asarray(model.synthesize(np.broadcast_to(model.w_avg, ws.shape).copy()))
  np.testing.assert_allclose(average[0], average[2], atol=1e-6)
  assert not np.allclose(plain[0], plain[2])


def test_arithmetic_reports_rates(runs, tmp_path):
  written, summary = explore.arithmetic(runs["stylegan"], str(tmp_path), "brightness", 3, 5,
                                        exemplars=2, trials=4, num_samples=80, seed=0)
  assert "random latents" in summary
  report = __import__("json").load(open(written[1]))
  for key in ("high_rate_result", "high_rate_target_exemplars", "high_rate_random"):
    assert 0.0 <= report[key] <= 1.0
  written, _ = explore.arithmetic(runs["mlp"], str(tmp_path), "stroke_width", None, None,
                                  exemplars=2, trials=3, num_samples=60, seed=0)
  assert os.path.exists(written[0])


def test_tools_without_the_needed_part_say_so(runs, tmp_path):
  mlp = runs["mlp"]
  assert not mlp.has_w and mlp.num_classes == 0
  for tool in (explore.truncation, explore.mix):
    with pytest.raises(UserError, match="needs a model with an intermediate latent space w"):
      tool(mlp, str(tmp_path), *(([1.0],) if tool is explore.truncation else (2,)), 2, None,
           seed=0)
  with pytest.raises(UserError, match="--space=w needs a model with an intermediate latent"):
    explore.interpolate(mlp, str(tmp_path), 2, 3, "w", seed=0)
  with pytest.raises(UserError, match="--label=3: this MLP GAN is unconditional"):
    explore.interpolate(mlp, str(tmp_path), 2, 3, "z", seed=0, label=3)
  with pytest.raises(UserError, match="is unconditional and no classifier is available"):
    explore.arithmetic(mlp, str(tmp_path), "slant", 1, 7, 2, 2, 40, seed=0, classify=None)
  written, _ = explore.interpolate(mlp, str(tmp_path), 2, 3, "auto", seed=0)
  assert os.path.exists(written[0])


@pytest.mark.parametrize("args, message", [
    (["truncation", "--psi=1,1.5"], "error: --psi=1.5 is outside [0, 1]"),
    (["warp"], "error: the tool is 'warp'; allowed: one of interpolate, truncation, mix, "
               "arithmetic"),
])
def test_bad_input_is_one_line_and_exit_2(runs, args, message, run_cli):
  out = run_cli("gan_jax.explore", f"--workdir={runs['root'] / 'mlp'}", *args)
  assert out.returncode == 2
  assert out.stderr.strip().splitlines() == [out.stderr.strip()] and out.stderr.startswith(message)
  assert not os.path.exists(runs["root"] / "mlp" / "explore")


def test_sample_draws_from_a_stylegan_run_and_truncates_it(runs, tmp_path, run_cli):
  style = runs["root"] / "stylegan"
  out = tmp_path / "samples.npz"
  r = run_cli("gan_jax.sample", f"--workdir={style}", f"--output={out}", "--num_samples=5",
              "--batch_size=2")
  assert r.returncode == 0, r.stderr
  with np.load(out) as f:
    samples, labels = f["samples"], f["labels"]
  assert samples.shape == (5, 8, 8, 1) and samples.dtype == np.uint8
  np.testing.assert_array_equal(labels, np.arange(5) % 10)  # Conditional: labels cycle.
  assert len({s.tobytes() for s in samples}) == 5
  # psi 0: every latent maps to the tracked w average, so every sample is one image.
  r = run_cli("gan_jax.sample", f"--workdir={style}", f"--output={out}", "--num_samples=3",
              "--label=4", "--psi=0", "--overwrite")
  assert r.returncode == 0, r.stderr
  with np.load(out) as f:
    np.testing.assert_array_equal(f["labels"], [4, 4, 4])
    assert (f["samples"] == f["samples"][:1]).all()


@pytest.mark.parametrize("run, psi, message", [
    ("stylegan", "1.5", "error: --psi=1.5 is outside [0, 1]"),
    ("mlp", "0.5", "error: --psi=0.5: truncation needs a generator with a w space and its "
                   "tracked average; --workdir holds a latent run, which has none"),
    ("no_such_run", "-0.5", "error: --psi=-0.5 is outside [0, 1]"),  # Checked before the restore.
])
def test_sample_refuses_a_bad_psi_in_one_line(runs, tmp_path, run, psi, message, run_cli):
  out = tmp_path / "samples.npz"
  r = run_cli("gan_jax.sample", f"--workdir={runs['root'] / run}", f"--output={out}",
              f"--psi={psi}")
  assert r.returncode == 2
  assert r.stderr.strip().splitlines() == [r.stderr.strip()] and r.stderr.startswith(message)
  assert not out.exists()
