"""Sentence-encoder throughput: our Flax all-MiniLM-L6-v2 vs sentence-transformers' PyTorch model.

    python experiments/bench_text_encoder.py [--num=2048] [--batch_size=64] [--out=FILE.json]

Both encode the same captions (the digit captions the text2image family trains on, a few words
each) in the same process, batch by batch; each is timed after a warm-up pass (compilation for ours,
first-call allocation for torch), best of `--repeats`. Also prints the largest difference between
the two embeddings. Needs sentence-transformers (the `test` extra).
"""
import argparse
import json
import os
import platform
import time

import jax
import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def captions(num, seed=0):
  # pylint: disable-next=g-import-not-at-top
  from gan_jax.families.text2image import captions as captions_lib
  rng = np.random.default_rng(seed)
  names = captions_lib.DIGITS.attributes
  return [captions_lib.caption(captions_lib.DIGITS, "train", rng, int(rng.integers(10)),
                               {n: int(rng.integers(-1, 2)) for n in names})
          for _ in range(num)]


def best_time(fn, repeats):
  times = []
  for _ in range(repeats):
    start = time.perf_counter()
    fn()
    times.append(time.perf_counter() - start)
  return min(times)


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--num", type=int, default=2048)
  parser.add_argument("--batch_size", type=int, default=64)
  parser.add_argument("--repeats", type=int, default=3)
  parser.add_argument("--out", default="")
  args = parser.parse_args()

  import torch  # pylint: disable=g-import-not-at-top
  from sentence_transformers import SentenceTransformer  # pylint: disable=g-import-not-at-top
  from gan_jax import text_encoder  # pylint: disable=g-import-not-at-top

  sentences = captions(args.num)
  ours = text_encoder.load()
  reference = SentenceTransformer(str(text_encoder.model_dir()), device="cpu")
  encode_ours = lambda: ours.encode(sentences, batch_size=args.batch_size)
  encode_torch = lambda: reference.encode(sentences, batch_size=args.batch_size,
                                          convert_to_numpy=True)
  ours_out, torch_out = encode_ours(), encode_torch()  # Warm-up (and compilation).
  t_ours = best_time(encode_ours, args.repeats)
  with torch.inference_mode():
    t_torch = best_time(encode_torch, args.repeats)
  result = {
      "sentences": args.num, "batch_size": args.batch_size,
      "mean_tokens": float(np.mean([len(i) for i in ours.tokenize(sentences)[0]])),
      "ours_sentences_per_s": args.num / t_ours,
      "sentence_transformers_sentences_per_s": args.num / t_torch,
      "speedup": t_torch / t_ours,
      "max_abs_difference": float(np.abs(ours_out - torch_out).max()),
      "device": str(jax.devices()[0].device_kind), "backend": jax.default_backend(),
      "cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads(),
      "jax": jax.__version__, "torch": torch.__version__, "machine": platform.machine(),
  }
  print(json.dumps(result, indent=1))
  if args.out:
    with open(args.out, "w") as f:
      json.dump(result, f, indent=1)


if __name__ == "__main__":
  main()
