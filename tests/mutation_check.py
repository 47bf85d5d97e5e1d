"""Mutation check: does the test suite catch real bugs?

    python tests/mutation_check.py [--only N|NAME,...] [--markdown FILE] [--no-baseline] [--list]
                                    [--verbose]

Copies the repository's files (those git tracks or would track) into a scratch folder once, then
for each mutation below applies one named one-line bug to the scratch copy, runs only the tests
that should catch it (`python -m pytest -q -x -p no:cacheprovider <node ids>`, cwd = the scratch
copy) and restores the file. A mutation is

  caught     the tests failed (pytest's exit status 1),
  survived   they passed (exit status 0): the suite misses that bug,
  error      anything else (no tests collected, a usage error, a timeout): not a catch.

The script exits non-zero unless every mutation is caught. Before the mutations it runs the same
tests on the unmutated copy (one pytest call; skip with --no-baseline): a test that fails there
would "catch" every bug, and a skipped one none, so both make the check exit non-zero.

Each mutation names its file, the exact text it replaces (which must occur exactly once in that
file, so that a refactor cannot silently turn a mutation into a no-op: the check then stops with
an error naming the mutation) and the replacement, all on one line. The scratch copy's code is what
the tests import, subprocesses included: PYTHONPATH is the scratch folder (ahead of the editable
install of the working tree), and no bytecode is written, so a mutated file is always compiled
afresh (a pyc of the same size and second would otherwise be reused). GAN_JAX_CACHE is one temporary
folder for all the runs (where tests/conftest.py does not set its own), the temporary files of the
tests go below the scratch folder, and the scratch copy's `.pytest_cache/xla` (tests/conftest.py's
XLA compilation cache, keyed by the program: a mutant compiles afresh) lasts for the whole check.
"""
import argparse
import dataclasses
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TIMEOUT_S = 900  # Per pytest call: a hung run is an error, not a catch.


@dataclasses.dataclass(frozen=True)
class Mutation:
  name: str
  path: str      # Relative to the repository root.
  original: str  # Exact text on one line, found exactly once in `path`.
  mutant: str    # What replaces it.
  tests: tuple   # pytest node ids that should catch it (the cheapest that do).


MUTATIONS = (
    Mutation(
        "GP sign flipped (the critic maximises the gradient penalty)",
        "gan_jax/families/latent/step.py",
        'loss = loss + hparams["gp_weight"] * penalty',
        'loss = loss - hparams["gp_weight"] * penalty',
        ("tests/test_train_step.py::"
         "test_gradient_penalty_enters_the_critic_update_with_its_weight",)),
    Mutation(
        "EMA update skipped (G's average never moves)",
        "gan_jax/families/latent/step.py",
        "  if not s.opts.ema:",
        "  if True:",
        ("tests/test_stability.py::test_ema_update_rule",)),
    Mutation(
        "step RNG not folded with the step (every step draws the same noise)",
        "gan_jax/key_streams.py",
        "return jax.random.fold_in(root, step)",
        "return root",
        ("tests/test_key_streams.py::test_a_call_of_steps_uses_the_key_of_each_step",)),
    Mutation(
        "resume restores the oldest checkpoint, not the latest",
        "gan_jax/checkpointing.py",
        "steps = sorted(manager.all_steps(), reverse=True)",
        "steps = sorted(manager.all_steps())",
        ("tests/test_checkpointing.py::test_a_reading_tool_creates_nothing",)),
    Mutation(
        "data order ignores the seed",
        "gan_jax/data/feed.py",
        "root = jax.random.key(seed)",
        "root = jax.random.key(0)",
        ("tests/test_data.py::test_device_sampler_pure_and_epoch_permutation",)),
    Mutation(
        "pmap gradient summed over devices, not averaged (no per-device copy of the parameters)",
        "gan_jax/families/latent/step.py",
        "  return parallel.per_device(s.axis_name, params)",
        "  return params",
        ("tests/test_parallel.py::test_pmap_averages_gradients_over_devices",)),
    Mutation(
        "FID covariance eigenvectors transposed (V1 V2^T for V1^T V2)",
        "gan_jax/fid/distance.py",
        "cross = r1[:, None] * (v1.T @ v2) * r2[None, :]",
        "cross = r1[:, None] * (v1 @ v2.T) * r2[None, :]",
        ("tests/test_fid_math.py::test_frechet_matches_scipy_sqrtm",)),
    Mutation(
        "CycleGAN backward cycle term dropped from G's loss",
        "gan_jax/families/cyclegan/step.py",
        'total += hp["cycle_weight_b"] * terms["cycle_b"]',
        "pass",
        ("tests/test_cyclegan_parts.py::test_step_losses_are_the_authors_objective_by_hand",)),
    Mutation(
        "StyleGAN lazy-R1 interval ignored (R1 on every step)",
        "gan_jax/families/stylegan/step.py",
        "state = every(cfg.r1_interval, functools.partial(d_reg, s), state, real, real_labels)",
        "state = d_reg(s, state, real, real_labels)",
        ("tests/test_stylegan_step.py::test_regularisers_run_only_on_their_steps",)),
    Mutation(
        "text2image mismatch term dropped from D's loss",
        "gan_jax/families/text2image/losses.py",
        "loss = real + (1.0 - mismatch_weight) * fake + mismatch_weight * mismatch",
        "loss = real + (1.0 - mismatch_weight) * fake",
        ("tests/test_text2image.py::test_hinge_terms",)),
    Mutation(
        "user error raised as a plain ValueError (a traceback) by the config checks",
        "gan_jax/config_checks.py",
        'raise UserError(f"{key}={_show(value)} is out of range; allowed: {allowed.describe()}")',
        'raise ValueError(f"{key}={_show(value)} is out of range; allowed: {allowed.describe()}")',
        ("tests/test_config_checks.py::test_values_out_of_range_are_refused_with_the_range",)),
    Mutation(
        "user error re-raised by cli.run (a traceback, not one line and exit 2)",
        "gan_jax/cli.py",
        "    _quiet_shutdown()",
        "    raise",
        ("tests/test_stylegan_family.py::test_bad_value_through_main_is_one_line_and_exit_2",)),
    Mutation(
        "checkpoint written non-atomically (in place: a half-written step counts as a checkpoint)",
        "gan_jax/checkpointing.py",
        "options = dict(enable_async_checkpointing=False)",
        "options = dict(enable_async_checkpointing=False, atomicity_options=ocp.options."
        "AtomicityOptions('commit_file', allow_legacy_atomic_rename=True))",
        ("tests/test_checkpointing.py::"
         "test_an_array_write_that_fails_is_one_error_and_keeps_the_earlier_checkpoints",)),
    Mutation(
        "Pix2Pix L1 weight ignored",
        "gan_jax/families/pix2pix/step.py",
        'loss = h["l1_weight"] * l1',
        "loss = l1",
        ("tests/test_pix2pix_step.py::test_l1_term_and_halved_d_loss_have_their_known_values",)),
    Mutation(
        "spectral norm's power iteration skipped",
        "gan_jax/families/latent/models.py",
        "return lambda x: sn(x, update_stats=train)",
        "return lambda x: sn(x, update_stats=False)",
        ("tests/test_stability.py::test_spectral_norm_top_singular_value_is_one",)),
    Mutation(
        "label smoothing applied to the fakes' targets too",
        "gan_jax/losses.py",
        "fake = label_noise * u_fake",
        "fake = label_smoothing + label_noise * u_fake",
        ("tests/test_stability.py::test_discriminator_targets",)),
)


def copy_repository(dest):
  """The working tree's files that git tracks or would track (not the ignored ones: .venv,
  caches, workdirs), as they are now, edits included, into `dest`."""
  files = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                         cwd=ROOT, capture_output=True, check=True, text=True).stdout.split("\0")
  for rel in filter(None, files):
    src = os.path.join(ROOT, rel)
    if not os.path.isfile(src):  # Deleted in the working tree, or a submodule.
      continue
    os.makedirs(os.path.dirname(os.path.join(dest, rel)), exist_ok=True)
    shutil.copy2(src, os.path.join(dest, rel))


def environment(scratch, work):
  """The tests' environment: the scratch copy first on the path (its subprocesses inherit it), no
  bytecode, one cache folder, and temporary files (pytest's tmp_path, the test session's folders)
  inside `work`, removed with it."""
  path = os.pathsep.join(filter(None, (scratch, os.environ.get("PYTHONPATH"))))
  env = dict(os.environ, PYTHONPATH=path, PYTHONDONTWRITEBYTECODE="1",
             GAN_JAX_CACHE=os.path.join(work, "cache"), TMPDIR=os.path.join(work, "tmp"))
  env.setdefault("JAX_PLATFORMS", "cpu")
  return env


def check_imports(scratch, env):
  """The scratch copy's gan_jax and configs are the ones imported there, not the working tree's
  (gan_jax is installed in editable mode from the working tree)."""
  out = subprocess.run([sys.executable, "-c", "import gan_jax, configs; print(gan_jax.__file__); "
                        "print(configs.__file__)"], cwd=scratch, env=env, capture_output=True,
                       text=True, check=True).stdout.split()
  for path in out:
    if not os.path.realpath(path).startswith(os.path.realpath(scratch) + os.sep):
      raise SystemExit(f"mutation check: the scratch copy imports {path}, not its own code")


def mutated_source(source, mutation):
  """`source` with the mutation applied; SystemExit (naming the mutation) unless it is a one-line
  change of text that occurs exactly once."""
  problem = None
  count = source.count(mutation.original)
  if "\n" in mutation.original or "\n" in mutation.mutant:
    problem = "is not a one-line change"
  elif mutation.original == mutation.mutant:
    problem = "changes nothing"
  elif count != 1:
    problem = (f"expects {mutation.original!r} exactly once in {mutation.path}, found it {count} "
               "times; update the mutation to the code")
  if problem:
    raise SystemExit(f"mutation check: mutation {mutation.name!r} {problem}")
  return source.replace(mutation.original, mutation.mutant, 1)


def run_pytest(scratch, env, tests):
  """(exit status, seconds, failing node ids, end of the output) of one pytest call in the
  scratch copy."""
  started = time.time()
  try:
    out = subprocess.run([sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider",
                          *tests], cwd=scratch, env=env, capture_output=True, text=True,
                         timeout=TIMEOUT_S)
    status, text = out.returncode, out.stdout + out.stderr
  except subprocess.TimeoutExpired as e:
    output = e.stdout or ""
    status = "timeout"
    text = output.decode(errors="replace") if isinstance(output, bytes) else output
  failed = re.findall(r"^(?:FAILED|ERROR) (.+?)(?: - .*)?$", text, re.M)
  return status, time.time() - started, failed, text[-3000:]


def markdown(rows, summary):
  lines = ["| Mutation | File | Test that caught it | Result | Seconds |", "|---|---|---|---|---:|"]
  code = lambda names: ", ".join(f"`{t}`".replace("|", "\\|") for t in names)
  for m, result, failed, seconds in rows:
    tests = code(failed or m.tests) if result == "caught" else f"none (ran {code(m.tests)})"
    lines.append(f"| {m.name} | `{m.path}` | {tests} | {result} | {seconds:.0f} |")
  return "\n".join(lines) + f"\n\n{summary}\n"


def main():
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  parser.add_argument("--only", default="",
                      help="comma-separated mutation numbers (as --list shows) or name substrings")
  parser.add_argument("--markdown", default="", help="write the table to this file")
  parser.add_argument("--no-baseline", action="store_true",
                      help="skip running the tests on the unmutated copy first")
  parser.add_argument("--list", action="store_true", help="list the mutations and exit")
  parser.add_argument("--verbose", action="store_true",
                      help="print the end of pytest's output for caught mutations too")
  args = parser.parse_args()
  chosen = list(MUTATIONS)
  if args.only:
    wanted = [w.strip() for w in args.only.split(",") if w.strip()]
    chosen = [m for i, m in enumerate(MUTATIONS, 1)
              if any(w == str(i) if w.isdigit() else w.lower() in m.name.lower()
                     for w in wanted)]
    if not chosen:
      raise SystemExit(f"--only={args.only}: no mutation matches")
  if args.list:
    for i, m in enumerate(MUTATIONS, 1):
      print(f"{i:2d}. {m.name}\n    {m.path}: {m.original!r} -> {m.mutant!r}\n    "
            + " ".join(m.tests))
    return 0

  started = time.time()
  work = tempfile.mkdtemp(prefix="gan_jax_mutation_")
  try:
    # The repository under its own folder name with the data beside it (../shared), as in the
    # working tree: configs and tests find data relative to the repository.
    scratch = os.path.join(work, os.path.basename(ROOT))
    copy_repository(scratch)
    shared = os.path.join(os.path.dirname(ROOT), "shared")
    if os.path.isdir(shared):
      os.symlink(shared, os.path.join(work, "shared"))
    env = environment(scratch, work)
    for folder in (env["GAN_JAX_CACHE"], env["TMPDIR"]):
      os.makedirs(folder)
    check_imports(scratch, env)
    sources = {}
    for m in chosen:  # Every mutation applies, before anything runs.
      if m.path not in sources:
        with open(os.path.join(scratch, m.path)) as f:
          sources[m.path] = f.read()
      mutated_source(sources[m.path], m)
    print(f"scratch copy: {scratch}", flush=True)

    baseline = ""
    if not args.no_baseline:
      tests = list(dict.fromkeys(t for m in chosen for t in m.tests))
      status, seconds, _, tail = run_pytest(scratch, env, tests)
      skipped = re.search(r"\d+ skipped", tail)
      print(f"baseline: the {len(tests)} tests on the unmutated code: exit status {status} in "
            f"{seconds:.0f} s", flush=True)
      if status != 0 or skipped:
        print(tail)
        print("mutation check: the tests do not all pass on the unmutated code"
              + (f" ({skipped.group(0)})" if skipped else "") + "; fix that first")
        return 1
      baseline = f", {seconds:.0f} s of them the baseline (the tests on the unmutated code)"

    rows = []
    for i, m in enumerate(chosen, 1):
      path = os.path.join(scratch, m.path)
      with open(path, "w") as f:
        f.write(mutated_source(sources[m.path], m))
      try:
        status, seconds, failed, tail = run_pytest(scratch, env, m.tests)
      finally:
        with open(path, "w") as f:
          f.write(sources[m.path])
      result = {0: "survived", 1: "caught"}.get(status, f"error (exit status {status})")
      rows.append((m, result, failed, seconds))
      print(f"[{i}/{len(chosen)}] {result:8s} {seconds:4.0f} s  {m.name}"
            + (f"  <- {', '.join(failed)}" if failed else ""), flush=True)
      if result != "caught" or args.verbose:
        print(tail, flush=True)
  finally:
    shutil.rmtree(work, ignore_errors=True)

  bad = [m.name for m, result, _, _ in rows if result != "caught"]
  summary = (f"{len(rows) - len(bad)} of {len(rows)} mutations caught in "
             f"{time.time() - started:.0f} s{baseline}.")
  print()
  print(markdown(rows, summary))
  if args.markdown:
    with open(args.markdown, "w") as f:
      f.write(markdown(rows, summary))
  if bad:
    print("not caught: " + "; ".join(bad))
    return 1
  return 0


if __name__ == "__main__":
  sys.exit(main())
