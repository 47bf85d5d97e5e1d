"""Prompts from the command line and prompt files, checked before any model is loaded."""
import pathlib

from gan_jax.errors import UserError


def read_prompts(prompts=(), prompts_file=None):
  """The prompts of `--prompt` flags, then the lines of `--prompts_file` (UTF-8, one per line; blank
  lines and lines starting with '#' are skipped). An empty prompt, an unreadable or non-UTF-8
  file, or no prompt at all is a UserError."""
  result = []
  for i, prompt in enumerate(prompts or (), 1):
    if not prompt.strip():
      raise UserError(f"--prompt number {i} is empty: give a sentence, e.g. --prompt \"a seven\"")
    result.append(" ".join(prompt.split()))
  if prompts_file:
    path = pathlib.Path(prompts_file).expanduser()
    try:
      raw = path.read_bytes()
    except OSError as e:
      raise UserError(f"--prompts_file={str(path)!r} cannot be read: {e.strerror or e}") from e
    try:
      text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
      line = raw[:e.start].count(b"\n") + 1
      raise UserError(f"--prompts_file={str(path)!r} is not UTF-8 text (line {line}, byte "
                      f"{e.start}); save it as UTF-8") from e
    lines = [" ".join(l.split()) for l in text.splitlines()]
    found = [l for l in lines if l and not l.startswith("#")]
    if not found:
      raise UserError(f"--prompts_file={str(path)!r} holds no prompts (one per line)")
    result.extend(found)
  if not result:
    raise UserError("no prompts: give --prompt \"a sentence\" (repeatable) or --prompts_file")
  return result
