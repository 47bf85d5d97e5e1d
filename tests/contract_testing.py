"""The families' contract (tests/test_family_contract.py): each family's tiny config, the data they
read, and what the contract's checks share with the subprocess that trains on 2 fake devices.

A family's entry makes a config of seconds on a CPU: widths 4-8, batch 4, 8x8 images where the
family allows (Pix2Pix's colourisation: 16x16), data in memory (scikit-learn's digits) or in tiny
folders written under the given root; 2 steps of one call, a checkpoint and a sample grid at the
end.
"""
import dataclasses
import os
import pathlib
from typing import Callable

import jax
import numpy as np

from configs import default
from configs import stylegan_defaults
from configs import text2image_digits
from gan_jax import errors
from gan_jax import loop
import test_cyclegan_family
import test_late_checks
import test_pix2pix_family
import test_progressive_runs

# Two steps of one call each: a resumed run starts the second. (A call of several steps traces the
# step twice, and tracing is most of these tests' time; calls of several steps resume exactly by
# the loop's own tests, tests/test_train.py.)
NUM_STEPS = 2
STEPS_PER_CALL = 1


def _contract_cadence(config):
  """NUM_STEPS steps in calls of STEPS_PER_CALL, logged after every call, a checkpoint and a sample
  grid at the end, no in-loop evaluation (each family's own tests evaluate), and every optimizer
  Adam with eps = 1, far above these networks' gradients: its updates, lr * m / (sqrt(v) + eps),
  are then about proportional to the gradients, as SGD's are (which StyleGAN's lazy regularisation
  refuses). With Adam's eps of 1e-8 an update is lr * sign(g) whatever the gradient's size, so
  a gradient summed over the devices instead of averaged would not show, and a gradient that is
  zero but for rounding (a bias before a normalisation) would move its weight by +-lr on one device
  count and -+lr on another."""
  for key in config:
    if key.endswith("_optimizer"):
      config[key].update(name="adam", learning_rate=0.1, eps=1.0)
  config.num_train_steps = NUM_STEPS
  config.steps_per_call = STEPS_PER_CALL
  config.log_every_steps = STEPS_PER_CALL
  config.checkpoint_every_steps = config.sample_every_steps = NUM_STEPS
  config.eval_every_steps = 0
  config.keep_checkpoints = 3
  if "num_grid_samples" in config:
    config.num_grid_samples = 4
  return config


def latent(root):
  """A conditional MLP GAN on 8x8 digits, G averaged (EMA)."""
  del root
  config = default.get_config()
  config.dataset.name = "digits"
  config.model.update(name="mlp", latent_dim=8, conditional=True, g_hidden=(8,), d_hidden=(8,))
  config.ema.decay = 0.9
  config.batch_size = 4
  return _contract_cadence(config)


def progan(root):
  """ProGAN on 8x8 digits, growing: stage 0 (4x4) for step 0, the 8x8 fade-in at step 1, so a
  resumed run starts the second stage's program."""
  del root
  config = test_progressive_runs.progan_digits(NUM_STEPS)
  config.batch_size = 4
  config.model.mbstd_group_size = 2  # Divides each device's 2 rows on 2 devices.
  config.progressive.update(stable_images=4, fade_images=4)
  return _contract_cadence(config)


def stylegan(root):
  """A conditional StyleGAN2 on 8x8 digits, its lazy R1 and path-length regularisation every 2nd
  step (step 0 runs all four phases, step 1 the two main ones)."""
  del root
  config = stylegan_defaults.stylegan()
  config.dataset.name = "digits"
  config.model.update(z_dim=8, w_dim=8, mapping_layers=1, channel_base=32, channel_max=8,
                      conditional=True, mbstd_group_size=2)
  config.loss.update(r1_interval=2, pl_weight=2.0, pl_interval=2)
  config.batch_size = 4
  return _contract_cadence(config)


def pix2pix(root):
  """Colourisation of 16x16 images (tests/test_pix2pix_family.py's): batch norm, dropout in G's
  innermost block, G averaged from step 1."""
  folder = os.path.join(root, "pix2pix")
  os.makedirs(folder, exist_ok=True)
  config = test_pix2pix_family._tiny_colorize(folder)  # pylint: disable=protected-access
  config.batch_size = 4
  config.ema.start_step = 1  # G's average starts within the run.
  return _contract_cadence(config)


def cyclegan(root):
  """Grey 8x8 domain A, colour domain B (tests/test_cyclegan_family.py's), image pools of 3 (full
  after the first step's 4 fakes)."""
  config = test_cyclegan_family.tiny_config(pathlib.Path(root) / "cyclegan")
  config.batch_size = 4
  # 4x4 maps at the generators' bottom, not 2x2: instance norm over 4 values amplifies rounding
  # (a 1e-7 difference in a sum) into 1e-4 of the weights' scale within 2 steps.
  config.model.g_downsamplings = 1
  return _contract_cadence(config)


def text2image(root):
  """Captioned red and blue 8x8 squares (tests/test_late_checks.py's), DF-GAN-lite of width 8 with
  conditioning augmentation, MA-GP and mode seeking on, G averaged."""
  config = text2image_digits.get_config()
  config.dataset.name = "image_folder"
  config.dataset.path, config.dataset.captions = test_late_checks.captioned_squares(
      pathlib.Path(root) / "text2image")
  config.dataset.captions_per_image = 1
  config.model.update(latent_dim=4, g_widths=(8, 8), d_widths=(8, 8), conditioning_augmentation=4)
  config.loss.update(ma_gp_weight=2.0, mode_seeking_weight=1.0)
  config.sample_prompts = ("a red square", "a blue square")
  config.num_grid_columns = 2
  config.batch_size = 4
  return _contract_cadence(config)


@dataclasses.dataclass(frozen=True)
class Family:
  """One row of the contract's table."""
  make_config: Callable   # make_config(data_root) -> the tiny config
  config_file: str        # The shipped config of the family, for the command line.
  bad_value: str          # A value out of range for the command line...
  bad_message: str        # ...and the start of its one error line.
  swept_key: str          # A number that lives in the state (a sweep vmaps it).


FAMILIES = {
    "latent": Family(latent, "configs/gan_mlp.py", "--config.model.d_dropout=1.5",
                     "error: model.d_dropout=1.5", "g_optimizer.learning_rate"),
    "progan": Family(progan, "configs/progan_cifar10.py",
                     "--config.progressive.stable_images=0",
                     "error: progressive.stable_images=0", "d_optimizer.learning_rate"),
    "stylegan": Family(stylegan, "configs/stylegan_mnist.py",
                       "--config.loss.style_mixing_prob=1.5",
                       "error: loss.style_mixing_prob=1.5", "g_optimizer.learning_rate"),
    "pix2pix": Family(pix2pix, "configs/pix2pix_colorize.py", "--config.model.dropout_blocks=-1",
                      "error: model.dropout_blocks=-1", "loss.l1_weight"),
    "cyclegan": Family(cyclegan, "configs/cyclegan_digits.py", "--config.pool_size=-1",
                       "error: pool_size=-1", "loss.cycle_weight_a"),
    "text2image": Family(text2image, "configs/text2image_digits.py",
                         "--config.loss.mismatch_weight=1.5", "error: loss.mismatch_weight=1.5",
                         "g_optimizer.learning_rate"),
}


def leaves(state):
  """Every leaf of a train state (step, each network's variables and optimizer state, averages,
  hparams, extras) by its path, as numpy arrays."""
  def value(x):
    if jax.dtypes.issubdtype(getattr(x, "dtype", np.float32), jax.dtypes.prng_key):
      x = jax.random.key_data(x)
    return np.asarray(jax.device_get(x))
  return {jax.tree_util.keystr(path): value(x)
          for path, x in jax.tree_util.tree_leaves_with_path(state)}


def train_in_calls(program, config):
  """`program` trained to config.num_train_steps in the loop's calls (they end on multiples of
  steps_per_call and at each stage's first step), blocking on each: XLA's CPU collectives over fake
  devices can deadlock when calls are queued."""
  steps_in_call = loop._steps_in_call  # pylint: disable=protected-access
  state, step = program.state, 0
  while step < config.num_train_steps:
    n = steps_in_call(step, config.num_train_steps, config.steps_per_call,
                      program.trainer.stage_starts)
    state, _ = program.call(state, n, step)
    jax.block_until_ready(state)
    step += n
  return state


def check_tools(restored, folder):
  """Runs every tool the run's family declares (TOOLS) on `restored` with tiny inputs and checks
  what comes back; returns the names of the tools checked."""
  tools, info = restored.family.TOOLS, restored.dataset.info
  sampler, state = restored.trainer.sampler, restored.state
  checked = []
  rng = np.random.default_rng(0)
  z = rng.standard_normal((3, sampler.z_dim)).astype(np.float32) if sampler else None
  condition = None
  if sampler is not None and sampler.num_classes:
    condition = np.arange(3, dtype=np.int32) % sampler.num_classes
  elif sampler is not None and sampler.sentence_dim:
    condition = _unit_rows(rng, 3, sampler.sentence_dim)

  if tools.sample:
    images = np.asarray(sampler.sample(state, z, condition))
    _check_images(images, (3,) + tuple(info.shape), "sample")
    if tools.truncation:
      average = np.asarray(sampler.sample(state, z, condition, psi=0.0))
      _check_images(average, images.shape, "sample psi=0")
      assert not np.array_equal(average, images), "psi=0 drew the untruncated images"
    checked.append("sample")
  if sampler is not None and not tools.truncation:
    try:
      sampler.sample(state, z, condition, psi=0.5)
    except ValueError:
      pass
    else:
      raise AssertionError("a sampler without TOOLS.truncation accepted psi=0.5")

  if tools.latent_model is not None:
    model = tools.latent_model(restored)
    assert (model.z_dim, model.num_classes) == (sampler.z_dim, sampler.num_classes)
    labels = condition if model.num_classes else None
    images = np.asarray(model.generate(z, labels))
    _check_images(images, (3,) + tuple(info.shape), "latent_model.generate")
    if model.has_w:
      ws = np.asarray(model.map(z, labels))
      assert ws.shape[:2] == (3, model.num_ws) and model.w_avg.shape == ws.shape[2:]
      _check_images(np.asarray(model.synthesize(ws)), images.shape, "latent_model.synthesize")
    checked.append("latent_model")

  if tools.translator is not None:
    translator = tools.translator
    # Colour images of another size than the run's, and a grey one.
    images = [rng.integers(0, 256, (10, 12, 3), dtype=np.uint8) for _ in range(2)]
    images.append(rng.integers(0, 256, (9, 9), dtype=np.uint8))
    sizes = {tuple(shape[:2]) for shape in (info.shapes or {"x": info.shape}).values()}
    for direction in ("a2b", "b2a"):
      try:
        translator.check(restored.config, direction)
      except errors.UserError:
        continue  # A direction the run does not translate is refused before restoring.
      key = jax.random.key(0)
      out = translator.translate(restored, images, direction, key)
      assert out.dtype == np.uint8 and out.ndim == 4 and len(out) == 3, (out.dtype, out.shape)
      assert out.shape[1:3] in sizes and out.shape[3] in (1, 3), out.shape
      columns = translator.columns(restored, images, out, direction, key)
      assert columns and all(c.dtype == np.uint8 and len(c) == 3 and c.shape[1:3] == out.shape[1:3]
                             for c in columns), [(c.dtype, c.shape) for c in columns]
      checked.append(f"translator {direction}")
    assert checked and checked[-1].startswith("translator"), "no direction translates"

  if tools.text_generator is not None:
    generator = tools.text_generator
    sentences = _unit_rows(rng, 2, sampler.sentence_dim)
    done = []
    images = generator.generate(restored, sentences, 3, seed=0, batch_size=4, progress=done.append)
    height, width, channels = info.shapes.get("image", info.shape)
    assert images.dtype == np.uint8 and images.shape == (2, 3, height, width, channels), (
        images.dtype, images.shape)
    assert done and done[-1] == 6 and all(b - a <= 4 for a, b in zip([0] + done, done)), done
    grid = os.path.join(folder, "prompts.png")
    generator.save_prompt_grid(grid, images, ["a red square", "a blue square"])
    assert os.path.getsize(grid) > 0
    checked.append("text_generator")
  return checked


def _unit_rows(rng, n, width):
  """Sentence embeddings as the encoder gives them: rows of unit length."""
  rows = rng.standard_normal((n, width)).astype(np.float32)
  return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def _check_images(images, shape, what):
  assert images.shape == tuple(shape) and images.dtype == np.float32, (what, images.shape,
                                                                       images.dtype)
  # On the data's scale: [-1, 1], which linear output layers (ProGAN's, StyleGAN's) may pass.
  assert np.all(np.isfinite(images)) and np.abs(images).max() < 10.0, what
