"""Captions written from each image's label and measured attributes (attributes.py).

A caption is a template filled with a class noun (or numeral), the adjectives and phrases of the
image's attribute levels (lower / upper third of its class: -1 / +1) and an article:

  digits   "a thick seven leaning right", "the digit 7", "a small handwritten two"
  objects  "a red car on a dark background", "a photo of an automobile", "a blue ship"

Every word list has training entries and held-out entries (templates, class synonyms, attribute
synonyms) that no training caption uses: prompts built from the held-out lists ("the number seven",
"7", "a skinny seven", "an aircraft") measure whether the model follows phrasings it never saw.

Captions are reproducible: image i's captions are drawn from numpy's PCG64 seeded with (seed, i)
only, so they do not depend on the rest of the data set or on the order of computation.
"""
import dataclasses
import re

import numpy as np

from gan_jax.families.text2image import attributes

DIGIT_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship",
                   "truck")


@dataclasses.dataclass(frozen=True)
class Phrasing:
  """The words of one split (training captions or held-out prompts).

  Templates are filled with {a} (the article of what follows, with a space), {adjs} (the chosen
  adjectives, each followed by a space), {noun}, {num} (the class numeral) and {post} (the chosen
  phrases, each preceded by a space).
  """
  templates: tuple[str, ...]
  nouns: tuple[tuple[str, ...], ...]                # Per class, its synonyms.
  adjectives: dict[str, dict[int, tuple[str, ...]]]  # Attribute -> level -> synonyms.
  phrases: dict[str, dict[int, tuple[str, ...]]]     # Attribute -> level -> synonyms.


@dataclasses.dataclass(frozen=True)
class Vocabulary:
  """What a data set's captions can say: attribute names, both splits, and how often an
  attribute level is mentioned (its words are optional: a caption may leave it to the noise)."""
  name: str
  attributes: tuple[str, ...]
  train: Phrasing
  heldout: Phrasing
  mention: dict[str, dict[int, float]]  # Attribute -> level -> probability of being described.

  def phrasing(self, split):
    if split not in ("train", "heldout"):
      raise ValueError(f"split {split!r} is not 'train' or 'heldout'")
    return self.train if split == "train" else self.heldout


DIGITS = Vocabulary(
    name="digits",
    attributes=("thickness", "size", "slant"),
    train=Phrasing(
        templates=("{a}{adjs}{noun}{post}",
                   "{a}{adjs}{num}{post}",
                   "{a}{adjs}handwritten {noun}{post}",
                   "{a}{adjs}digit {num}{post}",
                   "the digit {num}{post}",
                   "an image of {a}{adjs}{noun}{post}"),
        nouns=tuple((w,) for w in DIGIT_WORDS),
        adjectives={"thickness": {-1: ("thin", "fine", "delicate"), 1: ("thick", "bold", "heavy")},
                    "size": {-1: ("small", "little"), 1: ("large", "big")}},
        phrases={"slant": {-1: ("leaning left", "slanted to the left", "tilted to the left"),
                           0: ("standing upright", "standing straight"),
                           1: ("leaning right", "slanted to the right", "tilted to the right")}}),
    heldout=Phrasing(
        templates=("the number {noun}{post}", "{num}", "a drawing of {a}{adjs}{noun}{post}"),
        nouns=tuple((w,) for w in DIGIT_WORDS),
        adjectives={"thickness": {-1: ("skinny",), 1: ("fat",)},
                    "size": {-1: ("tiny",), 1: ("huge",)}},
        phrases={"slant": {-1: ("sloping left",), 0: ("perfectly vertical",),
                           1: ("sloping right",)}}),
    mention={"thickness": {-1: 0.6, 1: 0.6}, "size": {-1: 0.4, 1: 0.4},
             "slant": {-1: 0.6, 0: 0.3, 1: 0.6}})

_COLOURS_TRAIN = {i: ((n,) if n != "grey" else ("grey", "gray"))
                  for i, n in enumerate(attributes.COLOUR_NAMES)}
_COLOURS_HELDOUT = {attributes.COLOUR_NAMES.index(n): (w,) for n, w in
                    (("red", "scarlet"), ("blue", "azure"), ("green", "emerald"),
                     ("yellow", "golden"), ("white", "snow-white"), ("black", "jet-black"))}

OBJECTS = Vocabulary(
    name="cifar10",
    attributes=("colour", "brightness"),
    train=Phrasing(
        templates=("{a}{adjs}{noun}{post}",
                   "a photo of {a}{adjs}{noun}{post}",
                   "an image of {a}{adjs}{noun}{post}",
                   "a small picture of {a}{adjs}{noun}{post}"),
        nouns=(("airplane", "plane", "aeroplane"), ("car", "automobile"), ("bird", "songbird"),
               ("cat", "kitten"), ("deer", "stag"), ("dog", "puppy"), ("frog", "toad"),
               ("horse", "pony"), ("ship", "boat"), ("truck", "lorry")),
        adjectives={"colour": _COLOURS_TRAIN},
        phrases={"brightness": {-1: ("on a dark background", "against a dim background"),
                                1: ("on a bright background", "against a light background")}}),
    heldout=Phrasing(
        templates=("a picture showing {a}{adjs}{noun}{post}", "there is {a}{adjs}{noun}{post}"),
        nouns=(("aircraft",), ("auto",), ("fowl",), ("kitty",), ("fawn",), ("hound",),
               ("bullfrog",), ("stallion",), ("vessel",), ("pickup",)),
        adjectives={"colour": {**_COLOURS_TRAIN, **_COLOURS_HELDOUT}},
        phrases={"brightness": {-1: ("in front of a shadowy backdrop",),
                                1: ("in front of a pale backdrop",)}}),
    # Hues are named more often than white, grey and black (CIFAR-10's pale photographs).
    mention={"colour": {i: (0.7 if i in attributes.CHROMATIC else 0.3)
                        for i in range(len(attributes.COLOUR_NAMES))},
             "brightness": {-1: 0.5, 1: 0.5}})

VOCABULARIES = {"digits": DIGITS, "cifar10": OBJECTS}


def article(text):
  """'a ' or 'an ' for the word starting `text` ("an eight", "an 8", "a one", "a 1")."""
  first = text.split(" ", 1)[0].lower()
  vowel_sound = (first[:1] in "aeiou" and not first.startswith(("one", "uni", "eu"))) or (
      first[:1] == "8" or first in ("11", "18"))
  return "an " if vowel_sound else "a "


def fill(template, noun, numeral, adjectives=(), phrases=()):
  """One caption from a template and chosen words (see Phrasing)."""
  adjs = "".join(a + " " for a in adjectives)
  post = "".join(" " + p for p in phrases)
  head = template.split("{a}", 1)
  if len(head) == 2:  # The article agrees with whatever follows it.
    rest = head[1].format(adjs=adjs, noun=noun, num=numeral, post=post)
    return head[0].format(noun=noun, num=numeral) + article(rest) + rest
  return template.format(adjs=adjs, noun=noun, num=numeral, post=post)


def caption(vocabulary, split, rng, label, levels):
  """One caption of an image of class `label` whose attribute levels are `levels` ({name: level};
  levels with no words are never mentioned), drawn with `rng` (numpy Generator)."""
  words = vocabulary.phrasing(split)
  template = words.templates[rng.integers(len(words.templates))]
  noun_choices = words.nouns[label]
  noun = noun_choices[rng.integers(len(noun_choices))]
  numeral = str(label)
  chosen = {"adjectives": [], "phrases": []}
  for name in vocabulary.attributes:
    level = int(levels[name])
    mention = rng.random() < vocabulary.mention[name].get(level, 0.0)
    for kind, table in (("adjectives", words.adjectives), ("phrases", words.phrases)):
      options = table.get(name, {}).get(level, ())
      if mention and options:
        chosen[kind].append(options[rng.integers(len(options))])
  return fill(template, noun, numeral, chosen["adjectives"], chosen["phrases"])


def image_captions(vocabulary, seed, index, label, levels, num_captions, split="train"):
  """The `num_captions` captions of image `index`: a function of (seed, index, label, levels)."""
  rng = np.random.default_rng((int(seed), int(index)))
  return [caption(vocabulary, split, rng, int(label), levels) for _ in range(num_captions)]


def attribute_levels(vocabulary, images, labels):
  """{attribute: int (N,) level} measured on uint8 NHWC `images` (levels within each class)."""
  if vocabulary.name == "digits":
    measured = attributes.digit_attributes(images)
    return {name: attributes.levels(measured[name], labels) for name in vocabulary.attributes}
  measured = attributes.colour_attributes(images)
  # The background's brightness in thirds of the whole set; the colour is a name already.
  return {"colour": measured["colour"],
          "brightness": attributes.levels(measured["brightness"], None)}


def dataset_captions(vocabulary, images, labels, seed, num_captions, split="train"):
  """(N lists of `num_captions` captions, {attribute: (N,) levels}) for a labelled image set."""
  levels = attribute_levels(vocabulary, images, labels)
  texts = [image_captions(vocabulary, seed, i, labels[i], {k: v[i] for k, v in levels.items()},
                          num_captions, split)
           for i in range(len(labels))]
  return texts, levels


def heldout_markers(vocabulary):
  """Words and patterns that only held-out phrasings use (a training caption containing one would
  leak the evaluation phrasings into training)."""
  train, held = vocabulary.train, vocabulary.heldout
  train_words = {w for c in train.nouns for w in c}
  train_words |= {w for t in (train.adjectives, train.phrases) for lv in t.values()
                  for ws in lv.values() for w in ws}
  markers = {w for c in held.nouns for w in c}
  markers |= {w for t in (held.adjectives, held.phrases) for lv in t.values()
              for ws in lv.values() for w in ws}
  markers -= train_words
  # The templates' fixed words ("the number", "a drawing of", "a picture showing").
  for template in held.templates:
    fixed = re.sub(r"\{[a-z]+\}", "|", template).split("|")
    markers |= {f.strip() for f in fixed if len(f.strip()) > 2}
  return sorted(markers)
