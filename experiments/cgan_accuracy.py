"""Conditioning accuracy of a conditional GAN: trains configs/cgan_mnist.py, then a small CNN
classifier on the same labelled data, and reports how often the classifier assigns each generated
sample the label it was generated for.

  python experiments/cgan_accuracy.py --workdir=/tmp/cgan [--conditioning=concat|projection]
      [--steps=4000] [--samples_per_class=500] [--out=experiments/results]

Writes cgan_accuracy_<conditioning>.json and a PNG of ten samples per class (one class per row).
The classifier holds out 10 % of the data to report its own accuracy, so the number can be trusted.
"""
import argparse
import json
import os
import sys
import time

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from configs import cgan_mnist  # pylint: disable=g-import-not-at-top
from gan_jax import data
from gan_jax import outputs
from gan_jax import sample as sample_lib
from gan_jax import loop


class Classifier(nn.Module):
  """Two conv layers and a dense layer: ~99 % on MNIST, enough to judge digits."""
  num_classes: int = 10

  @nn.compact
  def __call__(self, x, train=False):
    for features in (32, 64):
      x = nn.max_pool(nn.relu(nn.Conv(features, (3, 3))(x)), (2, 2), (2, 2))
    x = nn.Dropout(0.3, deterministic=not train)(x.reshape((x.shape[0], -1)))
    return nn.Dense(self.num_classes)(nn.relu(nn.Dense(128)(x)))


def to_float(x_uint8):
  return (np.asarray(x_uint8, np.float32) - 127.5) / 127.5  # The pipeline's [-1, 1] scaling.


def train_classifier(x, y, steps=1_500, batch_size=128, seed=0):
  """Returns (predict(x) -> labels, held-out accuracy)."""
  rs = np.random.default_rng(seed)
  perm = rs.permutation(len(x))
  n_val = len(x) // 10
  val, tr = perm[:n_val], perm[n_val:]
  model = Classifier()
  params = model.init(jax.random.key(seed), jnp.zeros((1,) + x.shape[1:]))["params"]
  tx = optax.adam(1e-3)
  opt_state = tx.init(params)
  x_tr, y_tr = jnp.asarray(x[tr]), jnp.asarray(y[tr])

  @jax.jit
  def step(params, opt_state, key):
    idx_key, drop_key, shift_key = jax.random.split(key, 3)
    idx = jax.random.randint(idx_key, (batch_size,), 0, len(tr))
    # Random shifts of up to 2 pixels: a classifier robust to the GAN's small misalignments.
    shift = jax.random.randint(shift_key, (2,), -2, 3)
    xb = jnp.roll(x_tr[idx], shift, axis=(1, 2))

    def loss_fn(p):
      logits = model.apply({"params": p}, xb, train=True, rngs={"dropout": drop_key})
      return optax.softmax_cross_entropy_with_integer_labels(logits, y_tr[idx]).mean()
    grads = jax.grad(loss_fn)(params)
    updates, opt_state = tx.update(grads, opt_state)
    return optax.apply_updates(params, updates), opt_state

  for i in range(steps):
    params, opt_state = step(params, opt_state, jax.random.key(i))
  predict = jax.jit(lambda v: jnp.argmax(model.apply({"params": params}, v), -1))
  acc = float(np.mean(np.asarray(predict(jnp.asarray(x[val]))) == y[val]))
  return predict, acc


def main():
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--workdir", required=True)
  parser.add_argument("--conditioning", default="concat", choices=("concat", "projection"))
  parser.add_argument("--steps", type=int, default=0, help="Generator steps (0: the config's).")
  parser.add_argument("--model", default="", help="Override model.name (e.g. mlp on a CPU).")
  parser.add_argument("--samples_per_class", type=int, default=500)
  parser.add_argument("--classifier_steps", type=int, default=1_500)
  parser.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "results"))
  args = parser.parse_args()
  config = cgan_mnist.get_config()
  config.model.d_conditioning = args.conditioning
  if args.steps:
    config.num_train_steps = args.steps
  if args.model:
    config.model.name = args.model
  start = time.time()
  loop.train_and_evaluate(config, args.workdir)
  gan_seconds = time.time() - start

  arrays = data.load(config.dataset).arrays
  x, y = to_float(arrays["x"]), np.asarray(arrays["label"])
  predict, classifier_acc = train_classifier(x, y, args.classifier_steps)

  per_class, rows = [], []
  restored = loop.restore(args.workdir)
  for label in range(10):
    samples, _ = sample_lib.generate(restored, args.samples_per_class, label, seed=label)
    pred = np.asarray(predict(jnp.asarray(to_float(samples))))
    per_class.append(float(np.mean(pred == label)))
    rows.append(samples[:10])
  result = {
      "config": "configs/cgan_mnist.py", "model": config.model.name,
      "d_conditioning": args.conditioning,
      "generator_steps": config.num_train_steps, "dataset": config.dataset.name,
      "conditioning_accuracy": float(np.mean(per_class)),
      "per_class_accuracy": per_class, "classifier_heldout_accuracy": classifier_acc,
      "samples_per_class": args.samples_per_class,
      "classifier_steps": args.classifier_steps, "gan_train_seconds": round(gan_seconds, 1),
      "device": jax.devices()[0].device_kind,
  }
  os.makedirs(args.out, exist_ok=True)
  tag = f"{config.model.name}_{args.conditioning}"
  with open(os.path.join(args.out, f"cgan_accuracy_{tag}.json"), "w") as f:
    json.dump(result, f, indent=2)
  outputs.save_image_grid(os.path.join(args.out, f"cgan_samples_{tag}.png"),
                          np.concatenate(rows), ncols=10)
  print(json.dumps(result, indent=2))


if __name__ == "__main__":
  main()
