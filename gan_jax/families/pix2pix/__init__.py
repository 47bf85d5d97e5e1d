"""Pix2Pix (Isola et al. 2017): paired image-to-image translation with a U-Net G and a PatchGAN D."""
