"""The pure train step: what it updates, in what order, and that it learns."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from configs import default
from gan_jax import losses
from gan_jax.families.latent import models
from gan_jax.families.latent import step as ts


def _config(**overrides):
  c = default.get_config()
  c.model.name = "mlp"
  c.model.latent_dim = 8
  c.batch_size = 16
  for k, v in overrides.items():
    target = c
    *path, last = k.split(".")
    for p in path:
      target = target[p]
    target[last] = v
  return c


def _setup(config, shape=(2,), num_classes=0, real_mean=1.0):
  g, d = models.make_models(config.model, shape, num_classes)
  state = ts.init_state(config, g, d, jax.random.key(0), jnp.zeros((2,) + shape))
  step = jax.jit(ts.make_step(config, g, d))
  n = config.batch_size * config.n_critic
  batch = {"x": jax.random.normal(jax.random.key(7), (n,) + shape) * 0.5 + real_mean,
           "label": jnp.zeros((n,), jnp.int32)}
  return g, d, state, step, batch


def test_only_d_trains_d_loss_falls_and_g_is_frozen():
  c = _config(**{"g_optimizer.learning_rate": 0.0, "d_optimizer.learning_rate": 1e-3})
  _, _, state, step, batch = _setup(c, real_mean=4.0)  # Separable from the untrained fakes.
  g0 = state.nets["g"].params
  first = None
  for i in range(60):
    state, m = step(state, batch, jax.random.key(1))  # Same fakes each time: a fixed problem.
    first = first if first is not None else float(m["d_loss"])
  assert float(m["d_loss"]) < 0.5 * first
  assert float(m["d_acc_real"]) == 1.0 and float(m["d_acc_fake"]) == 1.0
  jax.tree.map(np.testing.assert_array_equal, g0, state.nets["g"].params)


def test_only_g_trains_g_loss_falls_and_d_is_frozen():
  c = _config(**{"g_optimizer.learning_rate": 1e-3, "d_optimizer.learning_rate": 0.0})
  _, _, state, step, batch = _setup(c)
  d0 = state.nets["d"].params
  losses_seen = []
  for i in range(60):
    state, m = step(state, batch, jax.random.key(1))
    losses_seen.append(float(m["g_loss"]))
  assert losses_seen[-1] < losses_seen[0] - 0.1
  jax.tree.map(np.testing.assert_array_equal, d0, state.nets["d"].params)


def test_generator_gradient_is_the_gradient_of_the_generator_loss():
  """The step reuses G's forward pass through jax.vjp; its update must equal plain jax.grad."""
  c = _config(**{"d_optimizer.learning_rate": 0.0, "g_optimizer.name": "sgd",
                 "g_optimizer.learning_rate": 0.1})
  g, d, state, step, batch = _setup(c)
  rng = jax.random.key(3)
  new_state, _ = step(state, batch, rng)
  # The step's random layout: split(rng, n_critic + 1)[-1] -> (z, dropout, G's dropout).
  z_rng = jax.random.split(jax.random.split(rng, 2)[-1], 3)[0]
  z, labels = ts.latent_and_labels(c, 0, z_rng, c.batch_size)

  def g_loss(p):
    fake = g.apply({"params": p}, z, labels)
    return losses.generator_loss("non_saturating", d.apply({"params": state.nets["d"].params}, fake))

  grads = jax.grad(g_loss)(state.nets["g"].params)
  expected = jax.tree.map(lambda p, gr: p - 0.1 * gr, state.nets["g"].params, grads)
  jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6),
               new_state.nets["g"].params, expected)


def test_n_critic_updates_d_n_times_per_g_update():
  c = _config(n_critic=3)
  _, _, state, step, batch = _setup(c)
  for i in range(2):
    state, m = step(state, batch, jax.random.key(i))
  count = lambda opt_state: int(opt_state.count)  # inject_hyperparams counts updates.
  assert count(state.nets["d"].opt_state) == 6
  assert count(state.nets["g"].opt_state) == 2
  assert int(state.step) == 2


def test_metrics_and_determinism():
  c = _config(n_critic=2, **{"loss.name": "wasserstein", "loss.gp_weight": 10.0})
  _, _, state, step, batch = _setup(c)
  a, ma = step(state, batch, jax.random.key(5))
  b, mb = step(state, batch, jax.random.key(5))
  jax.tree.map(np.testing.assert_array_equal, a, b)
  for key in ("d_loss", "g_loss", "d_real", "d_fake", "d_acc_real", "d_acc_fake",
              "d_grad_norm", "g_grad_norm", "gradient_penalty"):
    assert np.isfinite(float(ma[key])), key
  assert 0.0 <= float(ma["d_acc_real"]) <= 1.0


def test_weight_clipping_bounds_critic_parameters():
  c = _config(**{"loss.name": "wasserstein", "loss.clip_value": 0.01,
                 "d_optimizer.learning_rate": 0.1})
  _, _, state, step, batch = _setup(c)
  state, _ = step(state, batch, jax.random.key(0))
  assert max(float(jnp.abs(p).max()) for p in jax.tree.leaves(state.nets["d"].params)) <= 0.01 + 1e-7


def test_conditional_dcgan_step_runs_and_updates_batch_stats():
  c = _config(**{"model.name": "dcgan28", "model.conditional": True, "model.latent_dim": 16})
  c.batch_size = 4
  _, _, state, step, batch = _setup(c, (28, 28, 1), num_classes=10)
  new_state, m = step(state, batch, jax.random.key(0))
  assert np.isfinite(float(m["g_loss"]))
  before = jax.tree.leaves(state.nets["g"].collections["batch_stats"])
  after = jax.tree.leaves(new_state.nets["g"].collections["batch_stats"])
  assert any(not np.allclose(x, y) for x, y in zip(before, after))


def test_initial_weights_do_not_reuse_the_first_steps_keys():
  # Step s draws from fold_in(root, s) == split(root, n)[s]: the init keys must not be those.
  config = _config()
  g, d = models.make_models(config.model, (2,), 0)
  root = jax.random.key(0)
  state = ts.init_state(config, g, d, root, jnp.zeros((2, 2)))
  for s in range(3):
    step_key = jax.random.fold_in(root, s)
    from_step_key = g.init(step_key, *ts.latent_and_labels(config, 0, step_key, 2), train=False)
    assert not jax.tree.all(jax.tree.map(np.array_equal, state.nets["g"].params,
                                         from_step_key["params"]))


def test_gradient_penalty_enters_the_critic_update_with_its_weight():
  """A linear critic D(x) = w.x + b has ||grad_x D|| = ||w|| at every point, so its WGAN-GP is
  (||w|| - 1)^2 whatever the interpolates. With SGD, a gp_weight of lam instead of 0 (the same
  program, the same keys) moves w by -lr * lam * 2 (||w|| - 1) w / ||w|| more, and b no more."""
  lr, lam = 0.01, 10.0
  c = _config(**{"loss.name": "wasserstein", "loss.gp_weight": lam, "model.d_hidden": (),
                 "d_optimizer.name": "sgd", "d_optimizer.learning_rate": lr})
  _, _, state, step, batch = _setup(c)
  w = jnp.array([[3.0], [4.0]])  # ||w|| = 5: the penalty is 16, its gradient 1.6 w.
  d = state.nets["d"]
  state = state.replace(nets={**state.nets, "d": d.replace(
      params={"Dense_0": {"kernel": w, "bias": jnp.zeros((1,))}})})
  rng = jax.random.key(2)
  with_gp, metrics = step(state, batch, rng)
  without_gp, _ = step(state.replace(hparams={**state.hparams, "gp_weight": jnp.float32(0.0)}),
                       batch, rng)
  assert float(metrics["gradient_penalty"]) == pytest.approx(16.0, rel=1e-5)
  moved = lambda s, name: np.asarray(s.nets["d"].params["Dense_0"][name])
  np.testing.assert_allclose(moved(with_gp, "kernel") - moved(without_gp, "kernel"),
                             -lr * lam * 2 * (5.0 - 1.0) * np.asarray(w) / 5.0, rtol=1e-4)
  np.testing.assert_allclose(moved(with_gp, "bias"), moved(without_gp, "bias"), atol=1e-7)
