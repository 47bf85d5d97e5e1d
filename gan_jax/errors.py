"""The one exception type for user mistakes: `main` prints it as a single line."""


class UserError(Exception):
  """Bad input from the user (config value, path, file): the message names the value and what is
  allowed."""
