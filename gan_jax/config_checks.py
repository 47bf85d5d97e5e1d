"""Range checks of config values, as a table: a value outside its range is refused before anything
runs, with one line that names the key, the value and the allowed range.

    config_checks.check(config)                         # the shared rules (RULES)
    config_checks.check(config, extra=family.CHECKS)    # plus a family's own

A rule is (pattern, Range): `pattern` is an fnmatch pattern over the dotted keys of the config
("*_optimizer.learning_rate" matches g_optimizer.learning_rate, d_optimizer.learning_rate and any
other optimizer entry). Every rule whose pattern matches a key applies; a tuple value (layer
widths) is checked element by element; booleans and None are switches, never range-checked, and
anything else that is not a number is refused. Keys no rule matches are not checked here (their
users check names and structure: unknown model, loss or data set names).
"""
import dataclasses
import fnmatch
import math
import numbers

from gan_jax.errors import UserError

INF = math.inf


@dataclasses.dataclass(frozen=True)
class Range:
  """An interval of allowed numbers; `integer` also requires an int. `note` says what the value
  means when that helps (e.g. '0 = off')."""
  low: float = -INF
  high: float = INF
  low_open: bool = False
  high_open: bool = False
  integer: bool = False
  note: str = ""

  def contains(self, value):
    if self.integer and not _is_int(value):
      return False
    if not _is_number(value) or math.isnan(value):
      return False
    above = value > self.low if self.low_open else value >= self.low
    below = value < self.high if self.high_open else value <= self.high
    return above and below

  def describe(self):
    kind = "an integer" if self.integer else "a number"
    if self.high == INF:
      text = f"{kind} {'>' if self.low_open else '>='} {_fmt(self.low)}"
    elif self.low == -INF:
      text = f"{kind} {'<' if self.high_open else '<='} {_fmt(self.high)}"
    else:
      text = (f"{kind} in {'(' if self.low_open else '['}{_fmt(self.low)}, {_fmt(self.high)}"
              f"{')' if self.high_open else ']'}")
    return f"{text} ({self.note})" if self.note else text


def at_least(low, note=""):
  return Range(low=low, note=note)


def above(low, note=""):
  return Range(low=low, low_open=True, note=note)


def count(low=1, note=""):
  """An integer >= low (sizes, steps, counts)."""
  return Range(low=low, integer=True, note=note)


def unit(high_open=True, note=""):
  """[0, 1) (rates, decays, fractions of a target), or [0, 1] with high_open=False."""
  return Range(low=0.0, high=1.0, high_open=high_open, note=note)


# The rules of the shared loop and of the latent family (configs/default.py, configs/stability.py).
RULES = (
    # Optimizers: any `*_optimizer` entry (g_optimizer, d_optimizer, a family's e_optimizer ...).
    ("*_optimizer.learning_rate", above(0.0)),
    ("*_optimizer.b1", unit()),
    ("*_optimizer.b2", unit()),
    ("*_optimizer.eps", at_least(0.0)),
    ("*_optimizer.eps_root", at_least(0.0)),
    ("*_optimizer.momentum", unit(note="0 = none")),
    ("*_optimizer.decay", unit()),  # RMSProp's squared-gradient average.
    ("ema.decay", unit(note="0 = no EMA")),
    ("ema.start_step", count(0)),
    # Regularization rates and penalty weights.
    ("*dropout", unit()),       # Rates (model.d_dropout); not counts such as dropout_blocks.
    ("*dropout_rate", unit()),
    ("loss.label_smoothing", unit()),
    ("loss.label_noise", unit(high_open=False)),
    ("loss.label_flip_prob", unit(high_open=False)),
    ("loss.*_weight", at_least(0.0, "0 = off")),
    ("loss.lambda*", at_least(0.0, "0 = off")),
    ("loss.gp_weight", at_least(0.0, "0 = off")),
    ("loss.r1_gamma", at_least(0.0, "0 = off")),
    ("loss.clip_value", at_least(0.0, "0 = off")),
    ("loss.instance_noise", at_least(0.0, "0 = off")),
    ("loss.instance_noise_steps", count(0, "0 = constant")),
    ("replay.size", count(0, "0 = off")),
    ("replay.fraction", unit(high_open=False)),
    ("unrolled_steps", count(0, "0 = off")),
    # Model sizes.
    ("model.latent_dim", count(1)),
    ("model.*_hidden", count(1)),  # Each layer's width (an empty tuple: no hidden layer).
    ("model.pack", count(1)),
    ("model.minibatch_kernels", count(0, "0 = off")),
    ("model.minibatch_kernel_dim", count(1)),
    ("model.maxout_pieces", count(1)),
    ("model.channel_multiplier", above(0.0, "1 = the paper's widths")),
    # Data.
    ("dataset.num_examples", count(0, "0 = fresh samples every step, for 2D mixtures")),
    ("dataset.image_size", count(0, "0 = keep")),
    ("dataset.max_device_bytes", count(0)),
    # The loop.
    ("batch_size", count(1)),
    ("n_critic", count(1)),
    ("steps_per_call", count(1)),
    ("num_train_steps", count(0)),
    ("log_every_steps", count(1)),
    ("keep_checkpoints", count(1)),
    ("num_grid_samples", count(1)),
    ("mode_eval_samples", count(1)),
    ("sample_every_steps", count(0, "0 = never")),
    ("checkpoint_every_steps", count(0, "0 = never")),
    ("eval_every_steps", count(0, "0 = never")),
    # In-loop FID.
    ("fid.num_samples", count(2)),
    ("fid.batch_size", count(1)),
    ("fid.ref_num_samples", count(0, "0 = all")),
    ("fid.kid_num_features", count(2)),
    ("fid.kid_subset_size", count(2)),
    ("fid.kid_subsets", count(1)),
    ("fid.input_size", count(75)),
)


def check(config, extra=()):
  """Raises UserError for the first value outside its range (rules: RULES, then `extra`)."""
  rules = tuple(RULES) + tuple(extra)
  for key, value in flatten(config):
    for pattern, allowed in rules:
      if fnmatch.fnmatchcase(key, pattern):
        _check_value(key, value, allowed)


def check_decay_steps(key, steps, num_train_steps):
  """A learning rate's decay over the run's last `steps` steps (CycleGAN's decay_steps, Pix2Pix's
  lr_schedule.decay_steps) must fit in the run; -1, half of it, is resolved by the caller."""
  if not 0 <= steps <= num_train_steps:
    raise UserError(f"{key}={steps} must be between 0 and num_train_steps={num_train_steps} (or "
                    "-1: half of it)")


def flatten(config, prefix=""):
  """(dotted key, value) of every leaf of a ConfigDict or nested dict."""
  items = config.items() if hasattr(config, "items") else ()
  for name, value in items:
    key = f"{prefix}{name}"
    if hasattr(value, "items"):
      yield from flatten(value, key + ".")
    else:
      yield key, value


def _check_value(key, value, allowed):
  if value is None or isinstance(value, bool):  # Unset, or a switch: not a number to range-check.
    return
  if isinstance(value, (tuple, list)):
    for i, element in enumerate(value):
      if not allowed.contains(element):
        raise UserError(f"{key}={_show(value)}: entry {i} ({element!r}) is out of range; "
                        f"allowed: {allowed.describe()} each")
  elif not allowed.contains(value):
    raise UserError(f"{key}={_show(value)} is out of range; allowed: {allowed.describe()}")


def _is_number(value):
  return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _is_int(value):
  return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _fmt(x):
  return str(int(x)) if float(x).is_integer() else repr(float(x))


def _show(value):
  if isinstance(value, (tuple, list)):
    return "(" + ",".join(map(str, value)) + ("," if len(value) == 1 else "") + ")"
  return repr(value) if isinstance(value, str) else str(value)
