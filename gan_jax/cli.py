"""Running absl programs so that user mistakes end as one line on stderr, not a traceback.

`run(main)` parses the flags (a bad flag, config file or override is one `error:` line, exit 2),
then runs `main`: a UserError is one `error:` line and exit 2; a run stopped by a signal after
saving (signals.Stopped) is one line and its status (130 for Ctrl-C); Ctrl-C elsewhere is one line
and 130.

Every command line defines its flags in `define_flags(flag_values)`, called by its `__main__` block
(importing a tool defines no flag, so tools, tests and research code import each other freely).
`run_in_process(module, argv)` runs a tool's `main` with its own FlagValues, as the command line
would, and returns the exit status: tests and notebooks call the real entry point without a new
Python.
"""
import difflib
import functools
import os
import re
import sys
import warnings

from absl import app

from gan_jax.errors import NonFiniteLossError
from gan_jax.errors import UserError

EXIT_USER_ERROR = 2
EXIT_TRAINING_FAILED = 3
EXIT_INTERRUPTED = 130


def run(main, positional=False, argv=None, flag_values=None):
  """app.run(main), mapping UserError (and bad flags/config files) to 'error: ...' and exit 2.
  `positional`: arguments other than flags reach `main` (a tool name, as `gan_jax.explore mix`);
  without it they are refused. With `argv` (and the `flag_values` the tool's flags live in) the
  flags are parsed and `main` runs in this process without absl's app.run, which runs once per
  process; the exit status is returned, a bad flag's included."""
  from gan_jax import signals  # pylint: disable=g-import-not-at-top
  parse = functools.partial(_parse_flags, positional=positional, flag_values=flag_values)
  try:
    if argv is None:
      app.run(main, flags_parser=parse)
    else:
      main(parse(argv))
  except SystemExit as e:  # A bad flag (_fail), or a tool that exits with a status itself.
    if argv is None:
      raise
    return exit_status(e.code)
  except UserError as e:
    _quiet_shutdown()
    print(f"error: {e}", file=sys.stderr)
    return EXIT_USER_ERROR
  except signals.Stopped as e:
    print(str(e), file=sys.stderr)
    return e.exit_status
  except KeyboardInterrupt:
    print("interrupted (Ctrl-C); the last saved checkpoint, if any, is kept", file=sys.stderr)
    return EXIT_INTERRUPTED
  except Exception as e:  # pylint: disable=broad-except
    if isinstance(e, NonFiniteLossError):
      print(f"error: {e}", file=sys.stderr)
      return EXIT_TRAINING_FAILED
    if "Failed loading config file" in str(e):  # ml_collections defers this to first use.
      print(f"error: {_config_load_error(e)}", file=sys.stderr)
      return EXIT_USER_ERROR
    raise
  return 0


def note(line):
  """A line for the user that is not a result (what a tool is doing, a warning): on stderr, so that
  stdout holds the results only."""
  print(line, file=sys.stderr, flush=True)


def _quiet_shutdown():
  """After an error, the line we print is the only one: a restore that orbax abandoned leaves a
  tensorstore coroutine that Python reports as 'never awaited' when it is collected at exit."""
  warnings.filterwarnings("ignore", message=r"coroutine .* was never awaited",
                          category=RuntimeWarning)


def _fail(message):
  print(f"error: {message}", file=sys.stderr)
  sys.exit(EXIT_USER_ERROR)


def exit_status(code):
  """The status a process exits with for sys.exit(code): an int as it is, None 0, anything else
  (a message) 1."""
  return code if isinstance(code, int) else (0 if code is None else 1)


def run_in_process(module, argv):
  """Runs the command line `module` (gan_jax.main, gan_jax.sample, ...) on `argv` (without the
  program name) in this process, its flags defined afresh; returns its exit status."""
  from absl import flags  # pylint: disable=g-import-not-at-top
  flag_values = flags.FlagValues()
  full_argv = [module.__name__, *argv]
  saved = module.FLAGS, sys.argv
  # ml_collections reads `--config.*` overrides from sys.argv.
  module.FLAGS, sys.argv = flag_values, full_argv
  try:
    module.define_flags(flag_values)
    return run(module.main, positional=getattr(module, "POSITIONAL_ARGUMENTS", False),
               argv=full_argv, flag_values=flag_values)
  finally:
    module.FLAGS, sys.argv = saved


def _parse_flags(argv, positional=False, flag_values=None):
  """absl's parser, but a bad flag, config file or override is one line instead of a traceback."""
  from absl import flags  # pylint: disable=g-import-not-at-top
  flag_values = flags.FLAGS if flag_values is None else flag_values
  _check_config_files(argv)
  _make_configs_importable(argv)
  try:
    remaining = flag_values(argv)
  except flags.Error as e:
    message = str(e).strip().splitlines()
    _fail(message[-1] if message else e)
  except (AttributeError, KeyError) as e:  # An override of a field the config does not have.
    _fail(_unknown_field_message(e, argv))
  except Exception as e:  # pylint: disable=broad-except  # Config files that fail to load.
    message = str(e).strip().splitlines()
    _fail(f"{type(e).__name__}: {message[-1] if message else e}")
  if len(remaining) > 1 and not positional:
    extra = " ".join(repr(a) for a in remaining[1:])
    _fail(f"unexpected argument {extra}: every option is a --flag=value (see --help)")
  _check_tuple_overrides(flag_values, argv)
  return remaining


def _config_arguments(argv):
  """(flag text, file path) of each `--config=PATH[:ARG]` / `--config PATH[:ARG]` on the line."""
  for i, arg in enumerate(argv):
    if arg.startswith("--config="):
      value = arg.split("=", 1)[1]
    elif arg == "--config" and i + 1 < len(argv):
      value = argv[i + 1]
    else:
      continue
    yield f"--config={value}", value.split(":", 1)[0]


def _check_config_files(argv):
  """A config path that is not a file: one line naming it (and the nearest config file)."""
  for text, path in _config_arguments(argv):
    if os.path.isfile(path):
      continue
    folder = os.path.dirname(path) or "."
    hint = ""
    if os.path.isdir(folder):
      near = difflib.get_close_matches(os.path.basename(path), sorted(
          f for f in os.listdir(folder) if f.endswith(".py")), n=1)
      if near:
        hint = f"; did you mean {os.path.join(os.path.dirname(path), near[0])!r}?"
    what = "is a directory, not a config file" if os.path.isdir(path) else "does not exist"
    _fail(f"{text}: {path!r} {what}{hint}")


def _config_load_error(e):
  """One line from ml_collections' 'Failed loading config file ... Attempted [...]' chain."""
  text = " ".join(str(e).split())
  reason = re.search(r"\[Errno \d+\] ([^\[]+)$", text)
  return (f"cannot load the config file: {reason.group(1).strip()}" if reason
          else text.split("Attempted")[0].strip())


def _unknown_field_message(e, argv):
  """`--config.batchsize: no field 'batchsize'; did you mean 'batch_size'?` from the KeyError that
  ml_collections raises (possibly wrapped in an AttributeError, its text escaped twice)."""
  inner = e
  while isinstance(inner, (AttributeError, KeyError)) and inner.args and isinstance(
      inner.args[0], BaseException):
    inner = inner.args[0]
  text = str(inner.args[0]) if inner.args else str(inner)
  quoted = re.findall(r"'([A-Za-z0-9_]+)'", text)
  name = quoted[0] if quoted else text.strip("\"'")
  suggestion = re.search(r'Did you mean "([A-Za-z0-9_]+)"', text)
  flags_named = [a.split("=", 1)[0] for a in argv
                 if a.startswith("--config.") and name in a.split("=", 1)[0].split(".")]
  where = flags_named[0] if flags_named else "a --config.* override"
  hint = f"; did you mean {suggestion.group(1)!r}?" if suggestion else ""
  return f"{where}: no field {name!r}{hint}"


def _number_kind(values):
  """'integers', 'numbers' or None (not a tuple of numbers) for a tuple's default."""
  if not values or any(isinstance(v, bool) or not isinstance(v, (int, float)) for v in values):
    return None
  return "integers" if all(isinstance(v, int) for v in values) else "numbers"


def _check_tuple_overrides(flag_values, argv):
  """A tuple field of numbers (layer widths) overridden with a non-number (`abc`, `(64,abc)`):
  ml_collections keeps it as a string; refuse it here, naming the entry."""
  from ml_collections.config_flags import tuple_parser  # pylint: disable=g-import-not-at-top
  for name in list(flag_values):
    flag = flag_values[name]
    if not (flag.present and isinstance(flag.parser, tuple_parser.TupleParser)):
      continue
    kind = _number_kind(tuple(flag.default or ()))
    if kind is None:
      continue
    for entry in flag.value or ():
      ok = (isinstance(entry, int) if kind == "integers" else isinstance(entry, (int, float)))
      if not ok or isinstance(entry, bool):
        given = [a.split("=", 1)[1] for a in argv if a.startswith(f"--{name}=")]
        shown = given[-1] if given else ",".join(map(str, flag.value))
        example = "(" + ", ".join(map(str, flag.default)) + ")"
        if isinstance(entry, str):  # Not Python literals at all: kept as one string.
          _fail(f"--{name}={shown}: not a tuple of {kind}; expected e.g. {example}")
        what = "an integer" if kind == "integers" else "a number"
        _fail(f"--{name}={shown}: {entry!r} is not {what}; expected a tuple of {kind}, e.g. "
              f"{example}")


def _make_configs_importable(argv):
  """Config files say `from configs import default`: put the folder holding `configs/` on the path,
  so they load from any working directory."""
  for _, path in _config_arguments(argv):
    root = os.path.dirname(os.path.dirname(os.path.abspath(path)))
    if root not in sys.path:
      sys.path.insert(0, root)


def config_from_flag(config_flag):
  """The config of `--config=FILE[:ARG] --config.a.b=v ...`, where `--config.dataset.name=X` means
  the same model as `FILE:X`.

  A config's argument picks defaults that depend on the data (gan_mlp's latent size and batch for
  2D mixtures, for instance); overriding only the name would keep the other data set's defaults.
  So when FILE builds a config for X, the config is rebuilt that way and every override reapplied.
  """
  import importlib.util  # pylint: disable=g-import-not-at-top
  from ml_collections import config_flags  # pylint: disable=g-import-not-at-top
  config = config_flag.value
  overrides = config_flags.get_override_values(config_flag)
  name = overrides.get("dataset.name")
  if name is None:
    return config
  path, _, arg = config_flags.get_config_filename(config_flag).partition(":")
  spec = importlib.util.spec_from_file_location("_config_for_data", path)
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  build = lambda a: module.get_config(a) if a else module.get_config()
  try:
    chosen = build(arg).dataset.name
    parts = [p for p in arg.split(",") if p] if arg else []
    parts = [name if p == chosen else p for p in parts] if chosen in parts else [name] + parts
    rebuilt = build(",".join(parts))
  except Exception:  # pylint: disable=broad-except
    return config  # The file takes no data set argument: the plain override stands.
  if rebuilt.get("dataset", {}).get("name") != name:
    return config
  rebuilt.update_from_flattened_dict(overrides)
  rebuilt.lock()
  return rebuilt
