"""CycleGAN's measurements on held-out images, per direction (a2b: A -> B -> A, b2a: B -> A -> B):

  label_acc_<d>    label preservation, CyCADA's protocol (Hoffman et al. 2018, sec. 5.1): a
                   classifier trained on the target domain's labelled training images classifies the
                   translations of held-out source images; the fraction given the source's label
  real_acc_<t>     the same classifier on held-out real images of its domain <t>: the ceiling
  untranslated_acc_<d>  the same classifier on the held-out source images untranslated: the floor
                   that a translation must beat to have helped (domains of one image shape)
  recon_acc_<d>    the source domain's classifier on the reconstructions
  hidden_<d>       translations given a wrong class whose reconstructions get the right one back:
                   the class is hidden in the translation (Chu et al. 2017), which the cycle loss
                   rewards
  cycle_l1_<s>     |G_back(G(x)) - x| on held-out source images, in [-1, 1] units (the cycle loss)
  fid_<d>, kid_<d> the translations against the target domain's training images (Inception features,
                   gan_jax.fid), with KID's unbiased estimate for the small held-out sets

The step never sees labels: they are read here, from `dataset.heldout`, only.
"""
import jax
import jax.numpy as jnp
import numpy as np

from gan_jax import outputs
from gan_jax.errors import UserError

# direction -> (source domain, target domain, forward generator, backward generator)
DIRECTIONS = {"a2b": ("a", "b", "g_ab", "g_ba"), "b2a": ("b", "a", "g_ba", "g_ab")}


def check_direction(direction):
  if direction not in DIRECTIONS:
    raise UserError(f"--direction={direction!r} is unknown; allowed: {', '.join(DIRECTIONS)}")
  return DIRECTIONS[direction]


def to_float(images_uint8):
  """uint8 -> float32 in [-1, 1], as the training batches."""
  return (jnp.asarray(images_uint8, jnp.float32) - 127.5) / 127.5


def make_translate(models):
  """translate(nets, x_uint8, direction) -> (translation, reconstruction) floats in [-1, 1];
  jitted per direction and image shape."""
  def run(variables, x, direction):
    _, _, forward, backward = DIRECTIONS[direction]
    y = models[forward].apply(variables[forward], to_float(x), train=False)
    return y, models[backward].apply(variables[backward], y, train=False)
  jitted = jax.jit(run, static_argnums=2)

  def translate(nets, x_uint8, direction):
    check_direction(direction)
    variables = {name: nets[name].variables() for name in ("g_ab", "g_ba")}
    return jitted(variables, x_uint8, direction)
  return translate


def translate_all(translate, nets, images_uint8, direction, batch_size=250):
  """Every image translated and reconstructed, in batches of one compiled shape: two uint8
  arrays."""
  images_uint8 = np.asarray(images_uint8)
  n = len(images_uint8)
  out_y, out_r = [], []
  for i in range(0, n, batch_size):
    x = images_uint8[i:i + batch_size]
    pad = batch_size - len(x) if n > batch_size else 0  # One shape for every batch of a long input.
    if pad:
      x = np.concatenate([x, np.zeros((pad,) + x.shape[1:], x.dtype)])
    y, r = translate(nets, x, direction)
    out_y.append(outputs.to_uint8(y)[:len(x) - pad])
    out_r.append(outputs.to_uint8(r)[:len(x) - pad])
  return np.concatenate(out_y), np.concatenate(out_r)


def cycle_l1(images_uint8, reconstructions_uint8):
  """Mean |reconstruction - image| in [-1, 1] units (of the uint8 round trip)."""
  x = np.asarray(images_uint8, np.float32) / 127.5
  r = np.asarray(reconstructions_uint8, np.float32) / 127.5
  return float(np.abs(r - x).mean())


def predictions(predict, images_uint8):
  """Class ids of uint8 images from `predict` (uint8 images -> class ids)."""
  return np.asarray(predict(images_uint8))


def label_accuracy(predict, images_uint8, labels):
  """The fraction of images `predict` gives their label."""
  return float(np.mean(predictions(predict, images_uint8) == np.asarray(labels)))


def translation_grid(images, translations, reconstructions, per_row=8):
  """uint8 rows of `per_row` images: inputs, their translations, their reconstructions (one row
  triple per `per_row` inputs), for outputs.save_image_grid(..., ncols=per_row)."""
  n = len(images) - len(images) % per_row or len(images)
  rows = []
  for i in range(0, n, per_row):
    rows += [images[i:i + per_row], translations[i:i + per_row], reconstructions[i:i + per_row]]
  return np.concatenate(rows)
