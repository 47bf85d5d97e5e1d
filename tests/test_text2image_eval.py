"""The evaluation's diversity measure on known values (experiments/text2image_eval.py)."""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "experiments"))
import text2image_eval  # pylint: disable=g-import-not-at-top


def test_within_class_spread_is_the_mean_distance_within_each_class():
  black, white = np.zeros((2, 2, 1), np.uint8), np.full((2, 2, 1), 255, np.uint8)
  # Class 0: black and white, 2 apart (4 pixels of 1.0); class 1: one image repeated, 0 apart.
  images = np.stack([black, white, white, white, white])
  labels = np.array([0, 0, 1, 1, 1])
  np.testing.assert_allclose(text2image_eval.within_class_spread(images, labels), 1.0, atol=1e-6)
  # Three distinct images of one class: the mean of the three pairwise distances.
  grey = np.full((2, 2, 1), 51, np.uint8)  # 0.2 per pixel.
  three = np.stack([black, grey, white])
  expected = np.mean([2 * 0.2, 2 * 1.0, 2 * 0.8])
  np.testing.assert_allclose(text2image_eval.within_class_spread(three, np.zeros(3)), expected,
                             atol=1e-5)
