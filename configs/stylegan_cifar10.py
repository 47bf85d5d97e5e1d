"""StyleGAN2 on 32x32 CIFAR-10: stylegan2-ada-pytorch's `cifar` configuration (without ADA),
scaled to our widths. Sized for a GPU.

  python -m gan_jax.main --config=configs/stylegan_cifar10.py --workdir=/tmp/stylegan_cifar10

NVIDIA's `cifar`: batch 64, minibatch-std groups of 32, Adam 0.0025 (0, 0.99), R1 gamma 0.01 every
16 steps, no path length, no style mixing, a 2-layer mapping, 'orig' D, G average half-life 500k
images with ramp-up 0.05, widths 512; here widths 256 (channel_base 8192) and w 256. NVIDIA also
builds G's Adam with the lazy correction for its (empty) path-length phase every 4 steps, so its G
trains with lr 0.002 and beta2 0.99 ** 0.8: set here directly. Default data: the image folder at
`dataset.path` (../shared/data/cifar10-jpg/train); `:cifar10` reads TFDS. A CPU cannot train this;
experiments/stylegan_study.py runs CPU-sized versions of it.
"""
from configs import default
from configs import stylegan_defaults


def get_config(dataset="image_folder"):
  config = stylegan_defaults.stylegan()
  config.dataset.name = dataset
  if dataset == "image_folder":
    config.dataset.path = default.CIFAR10_FOLDER
  config.model.update(dict(z_dim=256, w_dim=256, channel_base=8192, channel_max=256,
                           mapping_layers=2, mbstd_group_size=32, d_architecture="orig"))
  config.loss.update(dict(r1_gamma=0.01, r1_interval=16, pl_weight=0.0, style_mixing_prob=0.0))
  config.ema.update(dict(half_life_images=500_000.0, rampup=0.05))
  config.g_optimizer = default.optimizer("adam", 0.0025 * 0.8, b1=0.0, b2=0.99**0.8, eps=1e-8)
  config.batch_size = 64
  config.num_train_steps = 400_000    # 25.6M images (NVIDIA trains 100M).
  config.steps_per_call = 100
  config.log_every_steps = 1_000
  config.sample_every_steps = 10_000
  config.checkpoint_every_steps = 10_000
  config.eval_every_steps = 50_000
  config.fid.num_samples = 50_000
  return config
