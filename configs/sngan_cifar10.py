"""SNGAN (Miyato et al. 2018) on 32x32 CIFAR-10: the paper's standard CNN, spectral normalisation on
every discriminator layer, hinge loss, Adam(2e-4, b1 0.5, b2 0.999), one D step per G step (the
paper's setting C).

  python -m gan_jax.main --config=configs/sngan_cifar10.py --workdir=/tmp/sngan_cifar10
  python -m gan_jax.main --config=configs/sngan_cifar10.py:cifar10 --workdir=... \
      --config.dataset.data_dir=...

The power-iteration vectors live in D's "spectral_norm" collection (`state.d_collections`) and are
updated only by training steps. `--config.model.g_spectral_norm=True` normalises G's layers too;
`--config.n_critic=5 --config.d_optimizer.b2=0.9 --config.g_optimizer.b2=0.9` is the paper's
setting with 5 D steps. Use a GPU.
"""
from configs import default


def get_config(dataset="image_folder"):
  config = default.get_config()
  config.dataset.name = dataset
  if dataset == "image_folder":
    config.dataset.path = default.CIFAR10_FOLDER
  config.model.name = "sngan32"
  config.model.latent_dim = 128
  config.model.spectral_norm = True
  config.model.d_dropout = 0.0
  config.loss.name = "hinge"
  config.batch_size = 64
  config.num_train_steps = 100_000
  config.g_optimizer = default.optimizer("adam", 2e-4, b1=0.5, b2=0.999)
  config.d_optimizer = default.optimizer("adam", 2e-4, b1=0.5, b2=0.999)
  config.steps_per_call = 10
  config.log_every_steps = 500
  config.sample_every_steps = 2_500
  config.checkpoint_every_steps = 5_000
  config.fid.num_samples = 10_000
  return config
