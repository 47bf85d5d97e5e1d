"""The exceptions the command line prints as a single line (gan_jax.cli): a user's mistake, and a
run that stopped on non-finite numbers."""


class UserError(Exception):
  """Bad input from the user (config value, path, file): the message names the value and what is
  allowed."""


class NonFiniteLossError(RuntimeError):
  """Training produced NaN/Inf; the last good checkpoint is kept."""
