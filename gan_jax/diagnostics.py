"""Detectors of the GAN failure modes the seeds describe, as functions of logged metric histories.

  d_wins(d_loss, g_loss)         the discriminator wins: d_loss -> 0 while g_loss grows
  mode_collapse(diversity)       a fixed latent batch's samples collapse onto few points
  oscillation(series)            losses swing periodically instead of settling
  diagnose(history)              all of the above on {'d_loss', 'g_loss', 'diversity'} histories
                                 (or 'non_finite' when a loss blew up)

Histories are 1D sequences sampled at regular steps; the detectors look at the medians of their
tails (the last `tail` fraction), so an early transient or a late spike does not count. Thresholds
are arguments with defaults that separate the cases of tests/test_diagnostics.py and
experiments/diverge.py.
"""
import numpy as np


def sample_diversity(x):
  """Mean pairwise Euclidean distance of a batch (N, ...): ~0 when every sample is the same."""
  x = np.asarray(x, np.float64).reshape((len(x), -1))
  sq = np.sum(x * x, 1)
  d2 = np.maximum(sq[:, None] + sq[None, :] - 2.0 * x @ x.T, 0.0)
  n = len(x)
  return float(np.sqrt(d2).sum() / max(n * (n - 1), 1))


def _tail(series, tail):
  series = np.asarray(series, np.float64)
  return series[-max(2, int(round(len(series) * tail))):]


def d_wins(d_loss, g_loss, tail=0.25, d_loss_max=0.1, g_rise=0.5, g_high=3.0):
  """D's loss ends near 0 while G's loss ends `g_rise` above its first logged value or above
  `g_high` (3 = -log 0.05: D gives fakes < 5 %; D can win before the first log line).

  The rise is a difference, not a ratio, so it holds for the minimax loss too, whose G loss
  log(1 - D(G(z))) is negative and rises towards 0 as D wins (from -0.69 when D(G(z)) = 0.5).
  """
  d_end = np.median(_tail(d_loss, tail))
  g = np.asarray(g_loss, np.float64)
  g_end = np.median(_tail(g, tail))
  return bool(d_end < d_loss_max and (g_end - g[0] > g_rise or g_end > g_high))


def mode_collapse(diversity, reference=None, tail=0.25, ratio=0.3):
  """The tail's sample diversity falls below `ratio` times `reference` (the real data's diversity,
  or the run's own peak when None)."""
  diversity = np.asarray(diversity, np.float64)
  ref = diversity.max() if reference is None else reference
  return bool(np.median(_tail(diversity, tail)) < ratio * ref)


def oscillation(series, tail=0.5, min_cycles=3, rel_amplitude=0.2):
  """The tail swings around its trend at least `min_cycles` times with a peak-to-peak amplitude
  above `rel_amplitude` times its mean absolute level: a cycle, not noise around a settled value.

  The tail is smoothed (moving average over 5 points) so that logging noise makes no crossings.
  """
  x = _tail(series, tail)
  if len(x) < 10:
    return False
  smooth = np.convolve(x, np.ones(5) / 5, mode="valid")
  t = np.arange(len(smooth))
  detrended = smooth - np.polyval(np.polyfit(t, smooth, 1), t)
  signs = np.sign(detrended)
  signs = signs[signs != 0]
  crossings = int(np.sum(signs[1:] != signs[:-1]))
  amplitude = detrended.max() - detrended.min()
  level = np.mean(np.abs(x)) + 1e-8
  return bool(crossings >= 2 * min_cycles and amplitude > rel_amplitude * level)


def diagnose(history, reference_diversity=None):
  """Labels of the failure modes found in `history` ({'d_loss', 'g_loss', 'diversity'} lists)."""
  labels = []
  if not all(np.all(np.isfinite(history[k])) for k in ("d_loss", "g_loss")):
    return ["non_finite"]
  if d_wins(history["d_loss"], history["g_loss"]):
    labels.append("d_wins")
  if "diversity" in history and mode_collapse(history["diversity"], reference_diversity):
    labels.append("mode_collapse")
  if oscillation(history["d_loss"]) or oscillation(history["g_loss"]):
    labels.append("oscillation")
  return labels
