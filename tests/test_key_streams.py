"""The run's random streams: step s of a run draws its noise from fold_in(key(seed), s), so every
step has its own noise and a resumed run draws what the uninterrupted one drew."""
import jax
import numpy as np

from configs import default, gan_mlp
from gan_jax import data
from gan_jax import loop


def test_a_call_of_steps_uses_the_key_of_each_step():
  """Three steps in one compiled call of the loop equal the family's step applied three times by
  hand, step s with the batch of step s and the key fold_in(key(seed), s)."""
  config = gan_mlp.get_config("ring8")
  config.seed = 3
  config.batch_size = 16
  config.model.g_hidden = config.model.d_hidden = (16,)
  # SGD with large steps: an update is proportional to its gradient, so other noise shows.
  config.g_optimizer = default.optimizer("sgd", 0.1)
  config.d_optimizer = default.optimizer("sgd", 0.1)
  dataset = data.load(config.dataset)
  program = loop.build(config, dataset, devices=jax.devices()[:1])
  trainer = program.trainer
  device_data, sample = data.feed.make_device_sampler(dataset, trainer.batch_rows, config.seed,
                                                      trainer.fields)
  step = jax.jit(trainer.step)
  by_hand = program.state
  for s in range(3):
    by_hand, _ = step(by_hand, sample(device_data, s), jax.random.fold_in(jax.random.key(3), s))
  expected = jax.device_get((by_hand.nets["g"].params, by_hand.nets["d"].params))
  state, _ = program.call(program.state, 3)  # Donates program.state: it comes last.
  assert int(state.step) == 3
  got = jax.device_get((state.nets["g"].params, state.nets["d"].params))
  for a, b in zip(jax.tree.leaves(expected), jax.tree.leaves(got)):
    np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-6)
