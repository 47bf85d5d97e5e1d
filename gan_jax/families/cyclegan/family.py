"""CycleGAN (Zhu et al. 2017): unpaired image-to-image translation between domains A and B.

Four networks: G_AB and G_BA (models.ResnetGenerator) and D_A and D_B (Pix2Pix's PatchGAN on an
image alone), trained by step.py's pure step on the fields 'a' and 'b' of data.py's two domains,
each shuffled on its own. The sample grid shows held-out images of both directions as
input | translation | reconstruction rows; metrics.py measures label preservation (CyCADA's
protocol), the cycle error and FID/KID against the target domain; `python -m gan_jax.translate
--direction=a2b|b2a` translates a user's own images with a trained run (`TOOLS.translator`).

Config fields (configs/cyclegan_digits.py, configs/cyclegan_cifar.py):
  dataset.*            data.py: a task, or two sources dataset.a / dataset.b
  model.g_width, g_blocks               the generators' c7s1-k width and residual blocks
  model.g_downsamplings                 their stride-2 steps (2, the paper's; fewer: appearance)
  model.d_width, d_layers, d_norm       the PatchGANs (d_norm: instance as the authors, or none)
  loss.name            least_squares (the paper's), or another gan_jax.losses name
  loss.cycle, identity the ablation switches (step.Options)
  loss.cycle_weight_a/b, identity_weight, d_loss_weight, pool_swap_prob   numbers in state.hparams
  loss.cycle_noise_std  Gaussian noise on translations before the way back (anti-steganography)
  pool_size, decay_steps                the image pool and the learning rate's linear decay
  eval.classifier, eval.fid             which in-loop metrics (label accuracy needs labels in both
                                        domains with the same classes)
"""
import functools
import hashlib

import numpy as np
from PIL import Image

from gan_jax import config_checks
from gan_jax import data
from gan_jax import families
from gan_jax import outputs
from gan_jax import state as state_lib
from gan_jax.errors import UserError
from gan_jax.families.cyclegan import data as cyclegan_data
from gan_jax.families.cyclegan import metrics
from gan_jax.families.cyclegan import models
from gan_jax.families.cyclegan import step as step_lib
from gan_jax.families.pix2pix.models import PatchDiscriminator

D_NORMS = ("instance", "none")  # Per-example norms: one D pass over real and fake is exact.
GRID_IMAGES = 8

# Value ranges of the family's own fields, checked before anything loads (the shared table covers
# the optimizers, every loss.*_weight and the loop's counts); the rest is checked in build.
CONFIG_CHECKS = (
    ("loss.cycle_weight_*", config_checks.at_least(0.0, "0 = off")),  # cycle_weight_a, _b.
    ("loss.cycle_noise_std", config_checks.at_least(0.0, "0 = off, the paper's cycle")),
    ("model.g_width", config_checks.count(1)),
    ("model.g_blocks", config_checks.count(0)),
    ("model.g_downsamplings", config_checks.count(0)),
    ("model.d_width", config_checks.count(1)),
    ("model.d_layers", config_checks.count(1)),
    ("pool_size", config_checks.count(0, "0 = no image pool")),
    ("pool_swap_prob", config_checks.unit(high_open=False)),
    ("decay_steps", config_checks.count(-1, "-1 = half of num_train_steps")),
    ("dataset.heldout", config_checks.count(0)),
)


def load_data(config):
  domains = cyclegan_data.load(config.dataset)
  a, b = domains.arrays["a"], domains.arrays["b"]
  class_names = domains.class_names[1] or domains.class_names[0]
  info = data.DatasetInfo(name=f"{domains.names[0]}<->{domains.names[1]}", kind="image",
                          shape=a.shape[1:], num_classes=len(class_names),
                          num_examples=len(a) + len(b), class_names=tuple(class_names),
                          shapes={"a": a.shape[1:], "b": b.shape[1:]})
  return data.Dataset(info, domains.arrays, groups=(("a",), ("b",)), heldout=domains.heldout)


def hparams(config):
  return step_lib.hparams_from_config(config)


def optimizers(config):
  """One optimizer per network: the authors' one Adam over both generators (and one over both
  discriminators) makes the same updates, Adam being elementwise."""
  g = lambda: state_lib.make_optimizer(config.g_optimizer, "g")
  d = lambda: state_lib.make_optimizer(config.d_optimizer, "d")
  return {"g_ab": g(), "g_ba": g(), "d_a": d(), "d_b": d()}


def options(config):
  return step_lib.Options.from_config(config)


def make_models(model_config, shapes, axis_name=None):
  """{'g_ab', 'g_ba', 'd_a', 'd_b'} -> flax modules for domains of `shapes` {'a', 'b'}."""
  norm = model_config.get("d_norm", "instance")
  if norm not in D_NORMS:
    raise UserError(f"model.d_norm={norm!r} is not supported by cyclegan; allowed: "
                    f"{', '.join(D_NORMS)} (the authors' CycleGAN uses instance norm)")
  sizes = dict(g_downsamplings=2)  # Older runs' configs lack the field: the paper's 2.
  for key in ("g_width", "g_blocks", "g_downsamplings", "d_width", "d_layers"):
    sizes[key] = value = model_config.get(key, sizes.get(key))
    least = 0 if key in ("g_blocks", "g_downsamplings") else 1
    if not isinstance(value, int) or value < least:
      raise UserError(f"model.{key}={value!r} must be an integer >= {least}")
  downsamplings = sizes["g_downsamplings"]
  for which, shape in shapes.items():
    models.check_image_size(shape, f"dataset.{which}", downsamplings)
  generator = lambda channels: models.ResnetGenerator(
      channels=channels, width=model_config.g_width, num_blocks=model_config.g_blocks,
      downsamplings=downsamplings)
  discriminator = lambda: PatchDiscriminator(width=model_config.d_width,
                                             n_layers=model_config.d_layers, norm=norm,
                                             axis_name=axis_name)
  return {"g_ab": generator(shapes["b"][-1]), "g_ba": generator(shapes["a"][-1]),
          "d_a": discriminator(), "d_b": discriminator()}


def build(config, dataset, axis_name=None):
  shapes = {k: tuple(v) for k, v in dataset.info.shapes.items()}
  opts = options(config)
  if opts.identity and shapes["a"][-1] != shapes["b"][-1]:
    raise UserError(f"loss.identity=True needs domains of one channel count (A has "
                    f"{shapes['a'][-1]}, B {shapes['b'][-1]}): set loss.identity=False")
  nets = make_models(config.model, shapes, axis_name)
  txs, numbers = optimizers(config), hparams(config)
  translate = metrics.make_translate(nets)
  grid_inputs = _grid_inputs(dataset)

  def visualize(state, path, title):
    del title
    rows = []
    for direction, x in grid_inputs.items():
      y, r = metrics.translate_all(translate, state.nets, x, direction)
      rows.append(metrics.translation_grid(x, y, r, per_row=len(x)))
    outputs.save_image_grid(path, np.concatenate(rows), ncols=len(grid_inputs["a2b"]))

  return families.Trainer(
      init=lambda rng: step_lib.init_state(rng, nets, txs, numbers, opts, shapes),
      step=step_lib.make_step(opts, nets, axis_name),
      fields=step_lib.FIELDS,
      batch_rows=config.batch_size,
      visualize=visualize,
      make_evaluator=lambda workdir: make_evaluator(config, dataset, translate),
      check_evaluation=lambda: check_evaluation(dataset),
      best_metric=best_metric(config, dataset),
      networks=nets)


def _grid_inputs(dataset):
  """The fixed images of the sample grid: the first held-out images of each domain (training
  images when nothing is held out)."""
  held = dataset.heldout or {}
  pick = lambda w: (held[w] if len(held.get(w, ())) else dataset.arrays[w])[:GRID_IMAGES]
  return {"a2b": pick("a"), "b2a": pick("b")}


def labelled(dataset):
  """Whether label preservation can be measured: both domains labelled with one class set."""
  held = dataset.heldout or {}
  have = lambda w: len(held.get(f"{w}_label", ())) and (held[f"{w}_label"] >= 0).all() and (
      held[f"{w}_train_label"] >= 0).all()
  from gan_jax import classifier  # pylint: disable=g-import-not-at-top
  return bool(have("a") and have("b") and 1 < dataset.info.num_classes <= classifier.NUM_CLASSES)


def best_metric(config, dataset):
  evaluation = config.get("eval", {})
  if evaluation.get("classifier", True) and labelled(dataset):
    return "label_error"
  if evaluation.get("fid", False):
    return "fid_a2b"
  return "cycle_l1"


def check_translation(config, direction):
  """python -m gan_jax.translate's check before the run is restored: a CycleGAN run translates
  both ways (G_AB for 'a2b', G_BA for 'b2a'); anything else is one line."""
  del config
  metrics.check_direction(direction)


def prepare(restored, images, direction):
  """A user's images (uint8 HWC, any sizes, grey or colour) as the run's source domain holds them:
  resized as its data were (to the domain's side, inside its margin), grey repeated to RGB or
  colour made grey to match its channels."""
  source = metrics.check_direction(direction)[0]
  height, width, channels = restored.dataset.info.shapes[source]
  margin = max(0, int(cyclegan_data.domain_configs(restored.config.dataset)["ab".index(source)]
                      .get("margin", 0)))
  out = []
  for image in images:
    img = Image.fromarray(image[..., 0] if image.shape[-1] == 1 else image)
    img = img.convert("L" if channels == 1 else "RGB")
    inner = (width - 2 * margin, height - 2 * margin)
    if img.size != inner:
      img = img.resize(inner, Image.BICUBIC)
    x = np.asarray(img, np.uint8).reshape(inner[1], inner[0], channels)
    out.append(np.pad(x, ((margin, margin), (margin, margin), (0, 0))))
  return np.stack(out)


@functools.cache  # One compiled function per pair of generators: translate runs once per batch.
def _generators_translate(g_ab, g_ba):
  return metrics.make_translate({"g_ab": g_ab, "g_ba": g_ba})


def _translate_prepared(restored, images, direction):
  networks = restored.trainer.networks
  return metrics.translate_all(_generators_translate(networks["g_ab"], networks["g_ba"]),
                               restored.state.nets, prepare(restored, images, direction), direction)


def translate(restored, images, direction, rng):
  """python -m gan_jax.translate's hook: uint8 HWC images -> their translations (uint8 NHWC) by
  G_AB ('a2b') or G_BA ('b2a'). CycleGAN's generators are deterministic: `rng` is unused."""
  del rng
  return _translate_prepared(restored, images, direction)[0]


def translation_columns(restored, images, translations, direction, rng):
  """The translate tool's grid columns: input (as the generator sees it) | translation |
  reconstruction (the other generator applied to the translation)."""
  del translations, rng
  y, r = _translate_prepared(restored, images, direction)
  return [prepare(restored, images, direction), y, r]


def check_evaluation(dataset):
  """In-loop evaluation measures held-out images of both domains."""
  held = dataset.heldout or {}
  if not len(held.get("a", ())) or not len(held.get("b", ())):
    raise UserError("in-loop evaluation needs held-out images: set dataset.heldout > 0 (or "
                    "eval_every_steps=0)")


def make_evaluator(config, dataset, translate_fn):
  """evaluate(state, step) -> metrics.py's measurements of both directions on held-out images."""
  check_evaluation(dataset)
  held = dataset.heldout
  evaluation = config.get("eval", {})
  classifiers = {}
  if evaluation.get("classifier", True) and labelled(dataset):
    for w in "ab":
      classifiers[w] = domain_classifier(dataset, w, evaluation.get("classifier_augment", True))
  fid = _make_fid(config, dataset) if evaluation.get("fid", False) else None
  real_acc = {w: metrics.label_accuracy(c, held[w], held[f"{w}_label"])
              for w, c in classifiers.items()}
  # The baseline a translation must beat: the target's classifier on the source images as they are
  # (where the domains' images have one shape).
  untranslated_acc = {
      direction: metrics.label_accuracy(classifiers[target], held[source], held[f"{source}_label"])
      for direction, (source, target, _, _) in metrics.DIRECTIONS.items()
      if classifiers and held[source].shape[1:] == held[target].shape[1:]}

  def evaluate(state, step):
    del step
    out = {}
    for direction, (source, target, _, _) in metrics.DIRECTIONS.items():
      y, r = metrics.translate_all(translate_fn, state.nets, held[source], direction)
      out[f"cycle_l1_{source}"] = metrics.cycle_l1(held[source], r)
      if classifiers:
        labels = held[f"{source}_label"]
        translated_right = metrics.predictions(classifiers[target], y) == labels
        back_right = metrics.predictions(classifiers[source], r) == labels
        out[f"label_acc_{direction}"] = float(translated_right.mean())
        out[f"recon_acc_{direction}"] = float(back_right.mean())
        # The class changed on the way out but came back: information hidden in the translation
        # ("a master of steganography", Chu et al. 2017), the failure the cycle loss cannot see.
        out[f"hidden_{direction}"] = float((~translated_right & back_right).mean())
        out[f"real_acc_{target}"] = real_acc[target]
        if direction in untranslated_acc:
          out[f"untranslated_acc_{direction}"] = untranslated_acc[direction]
      if fid:
        out.update({f"{k}_{direction}": v for k, v in fid(target, y).items()})
    if classifiers:
      out["label_error"] = 1.0 - (out["label_acc_a2b"] + out["label_acc_b2a"]) / 2
    else:
      out["cycle_l1"] = (out["cycle_l1_a"] + out["cycle_l1_b"]) / 2
    return out
  return evaluate


def domain_classifier(dataset, which, augment=True):
  """predict(uint8 images) -> class ids: gan_jax.classifier's CNN trained on domain `which`'s
  labelled training images (cached; it reports its accuracy on a tenth of them it did not train
  on), in colour when the domain is colour.

  With `augment`, a grey domain's classifier trains on its digits slanted, stretched, wobbled and
  drawn with other pen widths, for 5,000 steps: it has to read the translations of another
  domain's writers. Without it, the classifier of scikit-learn's 13 writers read held-out MNIST
  rendered exactly as those digits were scanned at 61-65 %, with it at 83-85 %. Colour domains
  (digits blended into photos) train plain: warped, their classifier read its own held-out images
  at 82 % instead of 93 % (experiments/results/cyclegan.md)."""
  from gan_jax import classifier  # pylint: disable=g-import-not-at-top
  images = dataset.arrays[which]
  colour = images.shape[-1] == 3 and bool((images[..., :1] != images[..., 1:]).any())
  recipe = {"channels": 3 if colour else 1}
  if augment and not colour:
    recipe.update(augment=classifier.WRITER_AUGMENT, steps=5_000)
  trained = classifier.load_or_train(
      images, dataset.heldout[f"{which}_train_label"],
      f"domain {which.upper()} ({dataset.info.name})", recipe=recipe)
  print(f"classifier of domain {which.upper()}: {100 * trained.heldout_accuracy:.2f} % on "
        f"{trained.heldout_count} of its training images it did not train on", flush=True)
  return lambda x: trained.probs(x).argmax(1)


def _content_key(images):
  """A short hash of an image array: names what a cached classifier or FID statistic is of."""
  return hashlib.sha1(np.ascontiguousarray(images).tobytes()).hexdigest()[:12]


def _make_fid(config, dataset):
  """fid(target, translations_uint8) -> {'fid', 'kid'} of the first fid.num_samples translations
  against fid.ref_num_samples training images of the target domain (data.feed.reference_subset,
  as the latent family draws its reference; their Inception statistics computed once and cached).
  KID (unbiased) suits the small held-out sets; FID's bias grows as the sets shrink, so compare
  FIDs at equal sizes only."""
  from gan_jax.fid import distance  # pylint: disable=g-import-not-at-top
  from gan_jax.fid import evaluator  # pylint: disable=g-import-not-at-top
  from gan_jax.fid import statistics  # pylint: disable=g-import-not-at-top
  from gan_jax.fid import weights  # pylint: disable=g-import-not-at-top
  fid_config = config.fid
  model, variables, weights_id = evaluator.load_model(fid_config.get("weights_path", ""),
                                                      fid_config.get("precision", "auto"))
  kwargs = dict(model=model, variables=variables, batch_size=fid_config.get("batch_size", 250),
                resize=fid_config.get("resize", "tf1"))
  num_ref = int(fid_config.get("ref_num_samples", 0)) or None  # 0: every training image.
  num_fake = int(fid_config.get("num_samples", 0)) or None      # 0: every held-out image.
  references = {}

  def reference(target):
    if target not in references:
      images = data.feed.reference_subset(dataset.arrays[target], num_ref)
      path = statistics.reference_cache_path(
          f"cyclegan-{target}-{_content_key(images)}", len(images), kwargs["resize"], weights_id,
          weights.cache_dir())
      if statistics.is_stats_file(path):
        mu, sigma, extra = statistics.load_stats(path)
      else:
        print(f"FID reference statistics of domain {target.upper()} ({len(images)} images, "
              f"cached as {path})", flush=True)
        mu, sigma, extra = evaluator.compute_stats(images, keep_features=len(images), **kwargs)
        statistics.save_stats(path, mu, sigma, **extra)
      references[target] = (mu, sigma, extra["features"])
    return references[target]

  def fid(target, translations):
    translations = translations[:num_fake]
    mu_r, sigma_r, feats_r = reference(target)
    mu, sigma, extra = evaluator.compute_stats(translations, keep_features=len(translations),
                                               **kwargs)
    kid, _ = distance.kernel_inception_distance(
        extra["features"], feats_r, num_subsets=100,
        subset_size=min(1000, len(translations), len(feats_r)))
    return {"fid": float(distance.frechet_distance(mu, sigma, mu_r, sigma_r)), "kid": float(kid)}
  return fid


TOOLS = families.Tools(translator=families.Translator(
    check=check_translation, translate=translate, columns=translation_columns))
