"""Running absl programs so that user mistakes end as one line on stderr, not a traceback."""
import sys

from absl import app

from gan_jax.errors import UserError

EXIT_USER_ERROR = 2
EXIT_TRAINING_FAILED = 3


def run(main):
  """app.run(main), mapping UserError (and bad flags/config files) to 'error: ...' and exit 2."""
  try:
    app.run(main, flags_parser=_parse_flags)
  except UserError as e:
    print(f"error: {e}", file=sys.stderr)
    return EXIT_USER_ERROR
  except Exception as e:  # pylint: disable=broad-except
    from gan_jax.loop import NonFiniteLossError  # pylint: disable=g-import-not-at-top
    if isinstance(e, NonFiniteLossError):
      print(f"error: {e}", file=sys.stderr)
      return EXIT_TRAINING_FAILED
    if "Failed loading config file" in str(e):  # ml_collections defers this to first use.
      print("error: " + " ".join(str(e).split()), file=sys.stderr)
      return EXIT_USER_ERROR
    raise
  return 0


def _parse_flags(argv):
  """absl's parser, but a bad flag or config override is one line instead of a traceback."""
  from absl import flags  # pylint: disable=g-import-not-at-top
  _make_configs_importable(argv)
  try:
    return flags.FLAGS(argv)
  except flags.Error as e:
    message = str(e).strip().splitlines()
    print(f"error: {message[-1] if message else e}", file=sys.stderr)
    sys.exit(EXIT_USER_ERROR)
  except (AttributeError, KeyError) as e:  # An override of a field the config does not have.
    name = str(e).strip("\"'")
    bad = [a.split("=", 1)[0] for a in argv
           if a.startswith("--config.") and name in a.split("=", 1)[0].split(".")]
    print(f"error: {bad[0] if bad else 'a --config.* override'}: the config has no field {name!r}",
          file=sys.stderr)
    sys.exit(EXIT_USER_ERROR)
  except Exception as e:  # Config files that fail to load or overrides of the wrong type.
    message = str(e).strip().splitlines()
    print(f"error: {type(e).__name__}: {message[-1] if message else e}", file=sys.stderr)
    sys.exit(EXIT_USER_ERROR)


def _make_configs_importable(argv):
  """Config files say `from configs import default`: put the folder holding `configs/` on the path,
  so they load from any working directory."""
  import os  # pylint: disable=g-import-not-at-top
  for arg in argv:
    if arg.startswith("--config="):
      path = arg.split("=", 1)[1].split(":", 1)[0]
      root = os.path.dirname(os.path.dirname(os.path.abspath(path)))
      if root not in sys.path:
        sys.path.insert(0, root)
