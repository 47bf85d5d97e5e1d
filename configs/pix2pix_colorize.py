"""Pix2Pix colourisation on CIFAR-10 (CPU-sized): grey -> colour in CIE Lab, the lightness L in, the
chrominance ab out, as the authors' colorization mode.

    python -m gan_jax.main --config=configs/pix2pix_colorize.py --workdir=/tmp/p2p_colorize

Trains on 49,000 images of the CIFAR-10 folder (../shared/data/cifar10-jpg/train; any colour image
folder with --config.dataset.path=...) and measures 1,000 held-out ones.

What to expect: not measured at the default length yet (experiments/pix2pix_ablation.py measures
it). A 20-step check on 2 shared CPU cores ran at 4.8 steps/s (first call compiled in 47 s); its
200 held-out images: PSNR 23.61 (the grey input: 26.72), SSIM 0.923, colourfulness 11.62 (real
images 32.06), i.e. an untrained model, which is what 20 steps give.

Then colourise your own photos (colour or grey, any size; taken to 32x32):

    python -m gan_jax.translate --workdir=/tmp/p2p_colorize --input=PHOTOS --output=colour \\
        --grid=before_after.png

GPU-sized: --config.model.g_width=64 --config.model.d_width=64 --config.batch_size=64
--config.num_train_steps=100000.
"""
from configs import pix2pix


def get_config():
  return pix2pix.cpu_sized(pix2pix.get_config("colorize"))
