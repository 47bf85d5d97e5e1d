"""What a label-faithful MNIST -> scikit-learn-digits translation can score on issue 15's protocol.

  python experiments/cyclegan_style_ceiling.py [--out=experiments/results]

digits2mnist's B->A label accuracy is the classifier of domain A (trained on scikit-learn's 8x8
digits, as framed by the task) reading G_BA's translations of held-out MNIST digits. Here, in place
of G_BA, each held-out MNIST digit is rendered the way the 8x8 digits were made, so its writer and
shape stay MNIST's and only the acquisition changes:
  uci_keep_aspect  the UCI optdigits recipe (sklearn's load_digits().DESCR): the digit's bitmap
                   (threshold 127) cropped to its box, scaled into 32x32 keeping its aspect
                   ratio, 4x4 blocks' on-pixels counted (0..16) into 8x8
  uci_stretch      the same with the box stretched to fill 32x32
  area             the 20 px box MNIST centres its digits in, averaged into 8x8 (PIL's box
                   filter) and rounded to 17 levels
then framed as the task frames the 8x8 digits (resized to 20 px, a 4 px margin). Domain A's
classifier reads these renderings; domain B's (MNIST's) reads them too, to show the digit is still
legible in them. Both as the evaluation trains them (with writer augmentation) and without it.
Writes cyclegan_style_ceiling.json and .png (rows: held-out MNIST, then each rendering, then
held-out scikit-learn digits).
"""
import argparse
import os
import sys

import numpy as np
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from configs import cyclegan_digits  # pylint: disable=g-import-not-at-top
from gan_jax import outputs  # pylint: disable=g-import-not-at-top
from gan_jax.data import sources  # pylint: disable=g-import-not-at-top
from gan_jax.families.cyclegan import family  # pylint: disable=g-import-not-at-top
from gan_jax.families.cyclegan import metrics  # pylint: disable=g-import-not-at-top

MARGIN, INNER = 4, 20  # digits2mnist's framing of the 8x8 digits (cyclegan/data.py TASKS).


def framed(eight):
  """uint8 (8, 8) -> the task's (28, 28, 1): resized as the loader resizes, then padded."""
  image = sources._process_image(eight[..., None], INNER, False)  # pylint: disable=protected-access
  return np.pad(image, ((MARGIN, MARGIN), (MARGIN, MARGIN), (0, 0)))


def uci(image, keep_aspect):
  """The UCI optdigits acquisition: a 32x32 binary bitmap counted in 4x4 blocks, as 0..255."""
  ink = image[..., 0] > 127
  rows, cols = np.nonzero(ink)
  if not len(rows):
    return np.zeros((8, 8), np.uint8)
  ink = ink[rows.min():rows.max() + 1, cols.min():cols.max() + 1]
  box = Image.fromarray(ink.astype(np.uint8) * 255)
  bitmap = np.zeros((32, 32), bool)
  if keep_aspect:
    scale = 32 / max(box.size)
    w, h = max(1, round(box.size[0] * scale)), max(1, round(box.size[1] * scale))
    top, left = (32 - h) // 2, (32 - w) // 2
    bitmap[top:top + h, left:left + w] = np.asarray(box.resize((w, h), Image.BILINEAR)) > 127
  else:
    bitmap = np.asarray(box.resize((32, 32), Image.BILINEAR)) > 127
  counts = bitmap.reshape(8, 4, 8, 4).sum((1, 3))
  return np.round(counts * 255.0 / 16).astype(np.uint8)


def area(image):
  """MNIST's 20 px centre box averaged into 8x8, at the 8x8 digits' 17 grey levels."""
  centre = Image.fromarray(image[MARGIN:MARGIN + INNER, MARGIN:MARGIN + INNER, 0])
  eight = np.asarray(centre.resize((8, 8), Image.BOX), np.float64)
  return np.round(np.round(eight / 255 * 16) * 255 / 16).astype(np.uint8)


RENDERINGS = {
    "uci_keep_aspect": lambda image: uci(image, True),
    "uci_stretch": lambda image: uci(image, False),
    "area": area,
}


def main():
  parser = argparse.ArgumentParser()
  parser.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "results"))
  args = parser.parse_args()
  dataset = family.load_data(cyclegan_digits.get_config("digits2mnist"))
  held = dataset.heldout
  mnist, labels = held["b"], held["b_label"]
  rendered = {name: np.stack([framed(render(image)) for image in mnist])
              for name, render in RENDERINGS.items()}
  result = {"heldout": len(mnist)}
  # The classifiers as the evaluation trains them (writer augmentation) and without it.
  for kind, augment in (("augmented", True), ("plain", False)):
    classifiers = {w: family.domain_classifier(dataset, w, augment) for w in "ab"}

    def accuracy(which, images, truth=labels, classifiers=classifiers):
      return round(metrics.label_accuracy(classifiers[which], images, truth), 4)
    result[kind] = {"a_classifier_on_real_a": accuracy("a", held["a"], held["a_label"]),
                    "a_classifier_on_mnist_untranslated": accuracy("a", mnist)}
    for name, images in rendered.items():
      result[kind][name] = {"a_classifier": accuracy("a", images),
                            "b_classifier": accuracy("b", images)}
  print(result, flush=True)
  outputs.write_json(os.path.join(args.out, "cyclegan_style_ceiling.json"), result)
  rows = [mnist[:8], *(images[:8] for images in rendered.values()), held["a"][:8]]
  outputs.save_image_grid(os.path.join(args.out, "cyclegan_style_ceiling.png"),
                          np.concatenate(rows), ncols=8)


if __name__ == "__main__":
  main()
