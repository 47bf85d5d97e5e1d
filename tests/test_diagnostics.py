"""Failure-mode detectors on constructed histories with known answers."""
import numpy as np

from gan_jax import diagnostics

T = np.arange(400)


def test_sample_diversity_known_values():
  assert diagnostics.sample_diversity(np.ones((5, 3))) == 0.0
  # Two points at distance 5: every ordered pair has distance 5.
  assert abs(diagnostics.sample_diversity(np.array([[0.0, 0.0], [3.0, 4.0]])) - 5.0) < 1e-9


def test_d_wins():
  d_loss = np.exp(-T / 30.0) + 0.01
  g_loss = 1.0 + T / 50.0
  assert diagnostics.d_wins(d_loss, g_loss)
  # A healthy run: both losses hover around their equilibrium values.
  rs = np.random.default_rng(0)
  assert not diagnostics.d_wins(1.3 + 0.05 * rs.standard_normal(400),
                                0.8 + 0.05 * rs.standard_normal(400))
  # D's loss falls but G's does not grow: not "D wins".
  assert not diagnostics.d_wins(d_loss, np.ones(400))
  # D wins before the first log line: G's loss is high from the start, with a late spike in D's.
  spiky = np.where(T > 380, 2.0, 0.01)
  assert diagnostics.d_wins(spiky, np.full(400, 12.0))


def test_d_wins_with_the_minimax_loss():
  # Minimax G loss log(1 - D(G(z))) is negative: D winning moves it from -0.69 up towards 0.
  d_fake = 0.5 * np.exp(-T / 40.0) + 0.005
  assert diagnostics.d_wins(np.exp(-T / 30.0) + 0.01, np.log1p(-d_fake))
  rs = np.random.default_rng(0)
  healthy_d_fake = 0.4 + 0.05 * rs.standard_normal(400)
  assert not diagnostics.d_wins(1.3 + 0.05 * rs.standard_normal(400), np.log1p(-healthy_d_fake))


def test_mode_collapse():
  healthy = 1.0 + 0.02 * np.sin(T)
  collapsing = np.concatenate([np.ones(200), np.linspace(1.0, 0.05, 100), np.full(100, 0.05)])
  assert not diagnostics.mode_collapse(healthy)
  assert diagnostics.mode_collapse(collapsing)
  # Against the real data's diversity: samples that never spread out also count.
  assert diagnostics.mode_collapse(np.full(400, 0.1), reference=1.0)


def test_oscillation():
  assert diagnostics.oscillation(1.0 + 0.5 * np.sin(2 * np.pi * T / 40))
  rs = np.random.default_rng(0)
  assert not diagnostics.oscillation(1.0 + 0.01 * rs.standard_normal(400))  # Noise, settled.
  assert not diagnostics.oscillation(np.linspace(2.0, 1.0, 400))             # Monotone.


def test_diagnose_combines():
  history = {"d_loss": np.exp(-T / 30.0) + 0.01, "g_loss": 1.0 + T / 50.0,
             "diversity": np.concatenate([np.ones(200), np.full(200, 0.01)])}
  assert diagnostics.diagnose(history) == ["d_wins", "mode_collapse"]
