"""The StyleGAN family's fields (gan_jax/families/stylegan), on top of `default.base()`. The
variants are configs/stylegan_mnist.py and configs/stylegan_cifar10.py."""
import ml_collections

from configs import default


def stylegan():
  config = default.base()
  config.family = "stylegan"
  config.dataset.pad_to = 0             # Pad images onto a black square of this side (0 = no).
  config.dataset.heldout_examples = 0   # Kept aside as the FID reference (0 = FID vs training).

  config.model = ml_collections.ConfigDict(dict(
      z_dim=128, w_dim=128,
      mapping_layers=2,           # NVIDIA: 8 (FFHQ), 2 (the cifar config).
      mapping_lr_multiplier=0.01,
      w_avg_beta=0.995,           # Decay of the tracked w average (truncation).
      channel_base=4096,          # Width at resolution r: min(channel_base / r, channel_max).
      channel_max=256,
      noise=True,                 # Per-pixel noise inputs with learned strengths.
      d_architecture="orig",      # 'orig' (the cifar config) or 'resnet'.
      mbstd_group_size=4,
      mbstd_num_channels=1,
      conditional=False,          # Label embedding into G's mapping, projection D.
      progressive=False))         # Progressive growing (the `progressive` schedule).

  config.loss = ml_collections.ConfigDict(dict(
      r1_gamma=10.0,
      r1_interval=16,             # Lazy R1 every 16 minibatches (0 = every step, in D's loss).
      pl_weight=0.0,              # Path length regularisation (StyleGAN2: 2; 0 = off).
      pl_interval=4,
      pl_batch_shrink=2,
      pl_decay=0.01,
      style_mixing_prob=0.9))     # 0 = no style mixing regularisation.

  # G's average: half-life in images, ramped up over the first images (half-life <= images seen
  # * rampup; 0 = no ramp-up). NVIDIA: 10k images (0.5 ** (batch / 10k) per step).
  config.ema = ml_collections.ConfigDict(dict(half_life_images=10_000.0, rampup=0.05))

  # Progressive growing (model.progressive): stage 0 (4x4) trains `stable_images`, every later
  # stage fades in over `fade_images` and trains `stable_images`; the last runs to the end.
  config.progressive = ml_collections.ConfigDict(dict(fade_images=60_000, stable_images=60_000))

  # NVIDIA's Adam: lr 0.0025, betas (0, 0.99), eps 1e-8; the lazy-regularisation correction is
  # applied to it when the optimizers are built.
  config.g_optimizer = default.optimizer("adam", 0.0025, b1=0.0, b2=0.99, eps=1e-8)
  config.d_optimizer = default.optimizer("adam", 0.0025, b1=0.0, b2=0.99, eps=1e-8)
  config.fid.compute_is = False
  return config
