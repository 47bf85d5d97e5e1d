"""Pix2Pix colourisation on CIFAR-10 (CPU-sized): grey -> colour in CIE Lab, the lightness L in, the
chrominance ab out, as the authors' colorization mode.

    python -m gan_jax.main --config=configs/pix2pix_colorize.py --workdir=/tmp/p2p_colorize

Trains on 49,000 images of the CIFAR-10 folder (../shared/data/cifar10-jpg/train; any colour image
folder with --config.dataset.path=...) and measures 1,000 held-out ones.

What to expect (experiments/results/pix2pix.md, 2,000 steps in 778 s on 2 CPU cores shared with
another job): on the 1,000 held-out images, colourfulness 27.2 (real images 31.1, L1 alone 10.8)
at PSNR 23.47 dB (the grey input: 25.11) and SSIM 0.929: plausible, slightly washed colours.

Then colourise your own photos (colour or grey, any size; taken to 32x32):

    python -m gan_jax.translate --workdir=/tmp/p2p_colorize --input=PHOTOS --output=colour \\
        --grid=before_after.png

GPU-sized: --config.model.g_width=64 --config.model.d_width=64 --config.batch_size=64
--config.num_train_steps=100000.
"""
from configs import pix2pix


def get_config():
  return pix2pix.cpu_sized(pix2pix.get_config("colorize"))
