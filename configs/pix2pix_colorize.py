"""Pix2Pix colourisation on CIFAR-10 (CPU-sized): grey -> colour in CIE Lab, the lightness L in, the
chrominance ab out, as the authors' colorization mode.

    python -m gan_jax.main --config=configs/pix2pix_colorize.py --workdir=/tmp/p2p_colorize

Trains on 49,000 images of the CIFAR-10 folder (../shared/data/cifar10-jpg/train; any colour image
folder with --config.dataset.path=...) and measures 1,000 held-out ones.

What to expect (experiments/results/pix2pix.md; 2,000 steps, about 7 min on 2 CPU cores): on the
1,000 held-out images, G's average (EMA 0.997 from step 500) paints colourfulness 25.3 (81 % of
the real images' 31.1; L1 alone 10.6) at PSNR 23.72 dB, 1.39 dB below the grey input's 25.11,
SSIM 0.932: plausible, slightly washed colours (seeds 0-2: 24.5-25.6 at 1.35-1.50 dB below).
Without the average (--config.ema.decay=0): about 27 at 1.6-1.9 dB below, colours noisier.

Then colourise your own photos (colour or grey, any size; taken to 32x32):

    python -m gan_jax.translate --workdir=/tmp/p2p_colorize --input=PHOTOS --output=colour \\
        --grid=before_after.png

GPU-sized: --config.model.g_width=64 --config.model.d_width=64 --config.batch_size=64
--config.num_train_steps=100000.
"""
from configs import pix2pix


def get_config():
  config = pix2pix.cpu_sized(pix2pix.get_config("colorize"))
  # Test with G's average: the cGAN term's colours swing from step to step, and averaging the
  # weights keeps the plausible ones (0.2-0.3 dB more PSNR at the same colourfulness).
  config.ema.update(decay=0.997, start_step=500)
  return config
