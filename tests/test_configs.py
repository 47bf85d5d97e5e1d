"""Every shipped config: its networks and step at their real size, traced without compiling
(`jax.eval_shape`: shapes, dtypes, parameter counts), and the whole loop at tiny widths."""
import glob
import json
import os

import jax
import numpy as np
import pytest

from configs_testing import CONFIGS, CPU_VARIANTS, load_config, tiny, tiny_widths, with_offline_data
from gan_jax import checkpointing
from gan_jax import data
from gan_jax import families
from gan_jax import key_streams
from gan_jax import loop

# Parameter counts (trainable, every network) that a paper or its reference code gives.
PAPER_PARAMETERS = {
    # The TensorFlow DCGAN tutorial's networks (Dense 7x7x256, transposed convs 128/64/1; conv
    # 64/128, dense 1), as model.summary() counts them.
    "dcgan_mnist": {"g": 2_305_472, "d": 212_865},
}


def _trainable_parameters(net):
  return sum(int(np.prod(x.shape)) for x in jax.tree.leaves(net.params))


def traced_step(trainer, dataset):
  """The state's shapes and the shapes of each stage's step, (state, metrics), at the config's real
  size: traced, nothing compiled or run."""
  state = jax.eval_shape(trainer.init, jax.random.key(0))
  device_data, sample = data.feed.make_device_sampler(dataset, trainer.batch_rows, 0,
                                                      trainer.fields)
  batches = jax.eval_shape(lambda d, s: sample(d, s.step, 1), device_data, state)
  batch = jax.tree.map(lambda b: jax.ShapeDtypeStruct(b.shape[1:], b.dtype), batches)
  steps = [trainer.step] + [trainer.step_for_stage(s + 1) for s in range(len(trainer.stage_starts))]
  return state, [jax.eval_shape(step, state, batch, key_streams.step_key(jax.random.key(0), 0))
                 for step in steps]


@pytest.mark.parametrize("name", CONFIGS + list(CPU_VARIANTS))
def test_every_config_builds_at_its_real_size(name, tmp_path):
  config = with_offline_data(load_config(name), str(tmp_path / "images"))
  if config is None:
    pytest.skip(f"{name} reads TFDS (not prepared offline) or ../shared/data (not beside this "
                "checkout)")
  family = families.get(config.family)
  dataset = family.load_data(config)
  trainer = family.build(config, dataset)
  # A run that the tools can draw from has a sampler, and the other way round.
  assert (trainer.sampler is not None) == (family.TOOLS.sample or
                                           family.TOOLS.text_generator is not None)
  state, steps = traced_step(trainer, dataset)
  counts = {net_name: _trainable_parameters(net) for net_name, net in state.nets.items()}
  assert all(n > 0 for n in counts.values()), counts
  for net in state.nets.values():
    assert all(x.dtype == np.float32 for x in jax.tree.leaves(net.params))
  for new_state, metrics in steps:
    assert jax.tree.structure(new_state) == jax.tree.structure(state)
    assert jax.tree.leaves(new_state) == jax.tree.leaves(state)  # Shapes and dtypes kept.
    assert metrics and all(m.shape == () for m in jax.tree.leaves(metrics))
  assert counts == PAPER_PARAMETERS.get(name, counts)


@pytest.mark.slow  # 20 runs through the whole loop.
@pytest.mark.parametrize("name", CONFIGS + list(CPU_VARIANTS))
def test_every_config_trains_at_tiny_widths(name, tmp_path):
  """The whole loop (data, compile, steps, grid, TensorBoard, checkpoint) for every config's
  switches, its networks narrowed."""
  config = with_offline_data(tiny(tiny_widths(load_config(name))), str(tmp_path / "images"))
  if config is None:
    pytest.skip(f"{name} reads TFDS (not prepared offline) or ../shared/data (not beside this "
                "checkout)")
  workdir = str(tmp_path / "run")
  state = loop.train_and_evaluate(config, workdir)
  assert int(state.step) == 2
  assert os.path.exists(os.path.join(workdir, "config.json"))
  assert glob.glob(os.path.join(workdir, "samples_*.png"))
  assert glob.glob(os.path.join(workdir, "tensorboard", "**", "events.out.tfevents.*"),
                   recursive=True)
  with open(os.path.join(workdir, "metrics.jsonl")) as f:
    records = [json.loads(line) for line in f]
  losses = [r for r in records if any(k.endswith("loss") for k in r)]
  assert [r["step"] for r in losses] == [1, 2]
  assert all(np.isfinite(v) for r in losses for v in r.values())
  assert checkpointing.make_manager(workdir).latest_step() == 2
