"""Attributes measured on images: what captions describe and what evaluation checks.

The same functions caption the real images and score generated ones (a prompt asking for a thick
digit is checked by the thickness measured here), so they take uint8 or [-1, 1] float images alike.

Digits (grey, dark background, ink bright):
  thickness  stroke width in pixels: 2 * ink mass / boundary length (a stroke of width w and length
             l has mass ~ w l and a boundary of ~ 2 l pixels). Correlates 0.95 with mass / skeleton
             length on MNIST, without a skeletoniser.
  slant      the ink's shear dx/dy from its second moments, positive leaning right (the top to the
             right of the bottom): -cov(x, y) / var(y), y pointing down.
  size       the area of the ink's bounding box in pixels (MNIST digits are scaled to a 20-pixel
             box, so this mostly measures width).
Colour images:
  colour     the shares of named colours (COLOUR_NAMES, from hue, saturation and value) among the
             central pixels (the object, usually), and the dominant one (dominant_colour).
  brightness the mean luma (BT.601) of the 4-pixel border (the background, usually), in [0, 1].
"""
import numpy as np

DIGIT_ATTRIBUTES = ("thickness", "slant", "size")
COLOUR_NAMES = ("red", "orange", "yellow", "green", "blue", "purple", "brown", "white", "grey",
                "black")
_INK_THRESHOLD = 0.5


def unit_range(images):
  """uint8 or [-1, 1] float NHWC images -> float32 in [0, 1]."""
  images = np.asarray(images)
  if images.dtype == np.uint8:
    return images.astype(np.float32) / 255.0
  return np.clip((images.astype(np.float32) + 1.0) / 2.0, 0.0, 1.0)


def digit_attributes(images):
  """{thickness, slant, size}: float32 (N,) each, for (N, H, W, 1) digit images."""
  x = unit_range(images)[..., 0]
  n, h, w = x.shape
  ink = x > _INK_THRESHOLD
  padded = np.pad(ink, ((0, 0), (1, 1), (1, 1)))
  interior = (padded[:, 1:-1, 1:-1] & padded[:, :-2, 1:-1] & padded[:, 2:, 1:-1]
              & padded[:, 1:-1, :-2] & padded[:, 1:-1, 2:])
  boundary = (ink & ~interior).sum((1, 2))
  mass = (x * ink).sum((1, 2))
  thickness = 2.0 * mass / np.maximum(boundary, 1)

  weights = x / np.maximum(x.sum((1, 2), keepdims=True), 1e-6)
  rows, cols = np.mgrid[0:h, 0:w].astype(np.float32)
  mean_y = (weights * rows).sum((1, 2))[:, None, None]
  mean_x = (weights * cols).sum((1, 2))[:, None, None]
  cov = (weights * (cols - mean_x) * (rows - mean_y)).sum((1, 2))
  var_y = (weights * (rows - mean_y) ** 2).sum((1, 2))
  slant = -cov / np.maximum(var_y, 1e-6)

  size = ink.any(2).sum(1) * ink.any(1).sum(1)
  return {"thickness": thickness.astype(np.float32), "slant": slant.astype(np.float32),
          "size": size.astype(np.float32)}


def _hsv(rgb):
  """Hue in degrees [0, 360), saturation and value in [0, 1], for float RGB in [0, 1]."""
  r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
  value = rgb.max(-1)
  chroma = value - rgb.min(-1)
  saturation = np.where(value > 0, chroma / np.maximum(value, 1e-6), 0.0)
  safe = np.maximum(chroma, 1e-6)
  hue = np.where(value == r, (g - b) / safe % 6,
                 np.where(value == g, (b - r) / safe + 2, (r - g) / safe + 4)) * 60.0
  return np.where(chroma > 0, hue, 0.0), saturation, value


def colour_name_ids(rgb):
  """Each pixel's index into COLOUR_NAMES, for float RGB in [0, 1] (..., 3): dark pixels are
  black, unsaturated ones white or grey, the rest named by hue (dark oranges are brown)."""
  hue, sat, val = _hsv(rgb)
  conditions = [
      ("black", val < 0.2),
      ("white", (sat < 0.2) & (val > 0.8)),
      ("grey", sat < 0.2),
      ("red", (hue < 15) | (hue >= 330)),
      ("brown", (hue < 45) & (val < 0.6)),
      ("orange", hue < 45),
      ("yellow", hue < 70),
      ("green", hue < 165),
      ("blue", hue < 260),
  ]
  return np.select([c for _, c in conditions], [COLOUR_NAMES.index(n) for n, _ in conditions],
                   COLOUR_NAMES.index("purple")).astype(np.int32)


def central(images, fraction=0.5):
  """The central `fraction` of each image's height and width."""
  h, w = images.shape[1:3]
  dh, dw = int(round(h * (1 - fraction) / 2)), int(round(w * (1 - fraction) / 2))
  return images[:, dh:h - dh, dw:w - dw]


def colour_shares(images):
  """(N, len(COLOUR_NAMES)) float32: the share of each named colour among the central pixels."""
  ids = colour_name_ids(central(unit_range(images)))
  ids = ids.reshape(len(ids), -1)
  return np.stack([(ids == k).mean(1) for k in range(len(COLOUR_NAMES))], 1).astype(np.float32)


def background_brightness(images, border=4):
  """(N,) float32: the mean luma of the `border`-pixel frame of each image, in [0, 1]."""
  x = unit_range(images)
  luma = x @ np.asarray([0.299, 0.587, 0.114], np.float32) if x.shape[-1] == 3 else x[..., 0]
  frame = np.ones(luma.shape[1:], bool)
  frame[border:-border, border:-border] = False
  return luma[:, frame].mean(1).astype(np.float32)


CHROMATIC = tuple(range(COLOUR_NAMES.index("white")))  # red .. brown.


def dominant_colour(shares, min_share=0.25):
  """The index of an image's colour name from its central colour shares: the most frequent hue
  when it covers at least `min_share` of the centre (CIFAR-10's photographs are pale: grey would
  win most of them), else the most frequent of white, grey and black."""
  shares = np.asarray(shares)
  chromatic = shares[:, CHROMATIC]
  achromatic = shares[:, len(CHROMATIC):]
  return np.where(chromatic.max(1) >= min_share, chromatic.argmax(1),
                  len(CHROMATIC) + achromatic.argmax(1)).astype(np.int32)


def colour_attributes(images, batch_size=4096):
  """{colour: int32 (N,) index into COLOUR_NAMES, colour_shares: float32 (N, len(COLOUR_NAMES)),
  brightness: float32 (N,)}: the central colours and the background's brightness."""
  shares = np.concatenate([colour_shares(images[i:i + batch_size])
                           for i in range(0, len(images), batch_size)])
  brightness = np.concatenate([background_brightness(images[i:i + batch_size])
                               for i in range(0, len(images), batch_size)])
  return {"colour": dominant_colour(shares), "colour_shares": shares, "brightness": brightness}


def levels(values, labels, low=1 / 3, high=2 / 3):
  """-1 / 0 / +1 for values in the lower third / middle / upper third of their class.

  Quantiles within each class keep an attribute's words independent of the class (a '1' is narrow
  but can still be a wide '1'); `labels` None ranks over the whole set.
  """
  values = np.asarray(values, np.float64)
  labels = np.zeros(len(values), np.int64) if labels is None else np.asarray(labels)
  out = np.zeros(len(values), np.int8)
  for c in np.unique(labels):
    rows = labels == c
    lo, hi = np.quantile(values[rows], [low, high])
    out[rows] = np.where(values[rows] <= lo, -1, np.where(values[rows] > hi, 1, 0))
  return out
