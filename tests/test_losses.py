"""Losses against hand-computed values, and stability for large logits."""
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gan_jax import losses
from gan_jax.errors import UserError

R = jnp.array([2.0, -1.0])   # real logits
F = jnp.array([0.5, -3.0])   # fake logits


def _log_sigmoid(x):
  return math.log(1.0 / (1.0 + math.exp(-x)))


def test_bce_discriminator_loss_by_hand():
  expected = -np.mean([_log_sigmoid(2.0), _log_sigmoid(-1.0)]) - np.mean(
      [math.log(1 - 1 / (1 + math.exp(-0.5))), math.log(1 - 1 / (1 + math.exp(3.0)))])
  for name in ("minimax", "non_saturating"):
    assert float(losses.discriminator_loss(name, R, F)) == pytest.approx(expected, rel=1e-6)


def test_one_sided_label_smoothing_by_hand():
  t = 0.9
  real = -np.mean([t * _log_sigmoid(v) + (1 - t) * _log_sigmoid(-v) for v in (2.0, -1.0)])
  fake = -np.mean([_log_sigmoid(-v) for v in (0.5, -3.0)])
  got = losses.discriminator_loss("non_saturating", R, F, real_target=t)
  assert float(got) == pytest.approx(real + fake, rel=1e-6)


def test_generator_losses_by_hand():
  minimax = np.mean([math.log(1 - 1 / (1 + math.exp(-v))) for v in (0.5, -3.0)])
  non_sat = -np.mean([_log_sigmoid(v) for v in (0.5, -3.0)])
  assert float(losses.generator_loss("minimax", F)) == pytest.approx(minimax, rel=1e-6)
  assert float(losses.generator_loss("non_saturating", F)) == pytest.approx(non_sat, rel=1e-6)
  assert float(losses.generator_loss("wasserstein", F)) == pytest.approx(1.25)
  assert float(losses.generator_loss("hinge", F)) == pytest.approx(1.25)
  assert float(losses.generator_loss("least_squares", F)) == pytest.approx(
      0.5 * np.mean([(0.5 - 1) ** 2, (-3 - 1) ** 2]))


def test_critic_losses_by_hand():
  assert float(losses.discriminator_loss("wasserstein", R, F)) == pytest.approx(-1.25 - 0.5)
  # hinge: mean(relu(1 - r)) + mean(relu(1 + f)) = mean(0, 2) + mean(1.5, 0)
  assert float(losses.discriminator_loss("hinge", R, F)) == pytest.approx(1.0 + 0.75)
  ls = 0.5 * (np.mean([(2 - 1) ** 2, (-1 - 1) ** 2]) + np.mean([0.25, 9.0]))
  assert float(losses.discriminator_loss("least_squares", R, F)) == pytest.approx(ls)


@pytest.mark.parametrize("name", list(losses.LOSSES))
def test_large_logits_give_finite_losses_and_gradients(name):
  big = jnp.array([1e4, -1e4, 80.0, -80.0])
  d_loss, d_grad = jax.value_and_grad(
      lambda r, f: losses.discriminator_loss(name, r, f), argnums=(0, 1))(big, -big)
  g_loss, g_grad = jax.value_and_grad(lambda f: losses.generator_loss(name, f))(big)
  for v in (d_loss, g_loss, *d_grad, g_grad):
    assert np.all(np.isfinite(np.asarray(v)))
  if name == "non_saturating":
    # A confident D (fake logit -1e4) must still give G a gradient of -1/n (no saturation);
    # a fooled D (fake logit 1e4) gives none.
    grad = jax.grad(lambda f: losses.generator_loss(name, f))(-big)
    assert float(grad[0]) == pytest.approx(-0.25) and float(grad[1]) == pytest.approx(0.0)


def test_minimax_saturates_where_non_saturating_does_not():
  confident = jnp.array([-10.0])  # D is sure the fake is fake.
  g_mm = jax.grad(lambda f: losses.generator_loss("minimax", f))(confident)
  g_ns = jax.grad(lambda f: losses.generator_loss("non_saturating", f))(confident)
  assert abs(float(g_mm[0])) < 1e-4 < abs(float(g_ns[0]))


def test_unknown_loss_is_a_user_error():
  with pytest.raises(UserError, match="loss.name='foo' is unknown; allowed: minimax"):
    losses.check_loss_name("foo")


def test_target_options_with_a_critic_loss_are_refused():
  losses.check_target_options({"name": "non_saturating", "label_smoothing": 0.1})
  losses.check_target_options({"name": "hinge", "label_smoothing": 0.0})
  with pytest.raises(UserError, match=r"loss.label_smoothing=0.1 has no effect with "
                     r"loss.name='hinge'"):
    losses.check_target_options({"name": "hinge", "label_smoothing": 0.1})
  with pytest.raises(UserError, match=r"loss.label_flip_prob=0.05 .*'wasserstein'"):
    losses.check_target_options({"name": "wasserstein", "label_flip_prob": 0.05})
