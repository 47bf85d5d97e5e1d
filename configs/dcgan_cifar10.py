"""DCGAN on 32x32 CIFAR-10 (the seed's CIFAR notebook architecture), non-saturating loss.

  python -m gan_jax.main --config=configs/dcgan_cifar10.py --workdir=/tmp/dcgan_cifar10
  python -m gan_jax.main --config=configs/dcgan_cifar10.py:cifar10 --workdir=... --config.dataset.data_dir=...

Default data: the image folder at `dataset.path` (../shared/data/cifar10-jpg/train beside this repo;
point it at any folder of 32x32 images, one sub-folder per class). `:cifar10` reads TFDS instead.
Expect colourful blobs with object-like structure after ~5k steps, and an in-loop FID (enable with
`eval_every_steps`) falling below ~60 by 50k steps.
"""
from configs import default


def get_config(dataset="image_folder"):
  config = default.get_config()
  config.dataset.name = dataset
  if dataset == "image_folder":
    config.dataset.path = default.CIFAR10_FOLDER
  config.model.name = "dcgan32"
  config.model.latent_dim = 128
  config.batch_size = 256
  config.num_train_steps = 50_000
  config.g_optimizer.learning_rate = config.d_optimizer.learning_rate = 2e-4
  config.g_optimizer.b1 = config.d_optimizer.b1 = 0.5
  config.steps_per_call = 10
  config.log_every_steps = 500
  config.sample_every_steps = 2_500
  config.checkpoint_every_steps = 5_000
  config.fid.num_samples = 10_000
  return config
