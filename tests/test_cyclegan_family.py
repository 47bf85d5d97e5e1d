"""The CycleGAN family through the shared loop and its command-line tools: a tiny run resumes
exactly, the step's fields are the two domains only, bad input ends as one line."""
import json
import os
import shutil

import jax
import numpy as np
from PIL import Image
import pytest

from configs import cyclegan_digits
from gan_jax import families
from gan_jax import loop
from gan_jax.errors import UserError
from gan_jax.families.cyclegan import family



def make_folder(root, n, mode, size=8, seed=0, classes=("0", "1")):
  rs = np.random.RandomState(seed)
  for c in classes:
    os.makedirs(os.path.join(root, c), exist_ok=True)
    for i in range(n):
      shape = (size, size, 3) if mode == "RGB" else (size, size)
      Image.fromarray(rs.randint(0, 256, shape).astype(np.uint8), mode).save(
          os.path.join(root, c, f"{i}.png"))
  return str(root)


def tiny_config(tmp_path, steps=4):
  """Grey domain A, colour domain B (8 px, two classes each), the smallest networks."""
  config = cyclegan_digits.get_config()
  config.dataset.name = "unpaired"
  config.dataset.image_size = 0
  config.dataset.heldout = 2
  config.dataset.a.name = config.dataset.b.name = "image_folder"
  config.dataset.a.path = make_folder(tmp_path / "grey", 6, "L")
  config.dataset.b.path = make_folder(tmp_path / "colour", 5, "RGB", seed=1)
  config.model.update(g_width=4, g_blocks=1, d_width=4, d_layers=1)
  config.batch_size = 2
  config.pool_size = 3
  config.num_train_steps = steps
  for key in ("log_every_steps", "sample_every_steps", "checkpoint_every_steps",
              "eval_every_steps"):
    config[key] = 2
  config.eval.update(classifier=False, fid=False)
  return config


def test_the_dataset_feeds_two_domains_with_their_own_orders_and_keeps_labels_aside(tmp_path):
  config = tiny_config(tmp_path)
  dataset = family.load_data(config)
  assert set(dataset.arrays) == {"a", "b"} and dataset.groups == (("a",), ("b",))
  assert dataset.info.shapes == {"a": (8, 8, 3), "b": (8, 8, 3)}  # Grey A repeated to RGB.
  assert {"a_label", "b_label", "a_train_label", "b_train_label"} <= set(dataset.heldout)
  trainer = family.build(config, dataset)
  assert trainer.fields == ("a", "b") and trainer.batch_rows == 2


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
  """A tiny run of 4 steps: (its config, workdir, final state, a scratch folder)."""
  root = tmp_path_factory.mktemp("trained")
  config = tiny_config(root / "data")
  workdir = str(root / "run")
  state = loop.train_and_evaluate(config, workdir)
  return config, workdir, state, root


@pytest.mark.slow  # Two runs of a tiny model (~1 min on 2 cores).
def test_a_tiny_run_trains_and_resumes_exactly(trained):
  config, workdir, straight, root = trained
  # The same run, interrupted after its step-2 checkpoint, then resumed.
  resumed_dir = str(root / "resumed")
  shutil.copytree(workdir, resumed_dir)
  shutil.rmtree(os.path.join(resumed_dir, "checkpoints", "4"))
  resumed = loop.train_and_evaluate(config, resumed_dir)
  assert int(straight.step) == int(resumed.step) == 4
  # The four networks, their optimizer states and both image pools, bit for bit.
  trained_values = lambda s: {n: (net.params, net.opt_state) for n, net in s.nets.items()}
  jax.tree.map(np.testing.assert_array_equal, jax.device_get(trained_values(straight)),
               jax.device_get(trained_values(resumed)))
  jax.tree.map(np.testing.assert_array_equal, jax.device_get(straight.extras),
               jax.device_get(resumed.extras))
  assert int(straight.extras["pool_a"]["count"]) == 3  # Full: 4 steps of 2 fakes, pool of 3.
  assert os.path.exists(os.path.join(workdir, "samples_0000004.png"))
  with open(os.path.join(workdir, "metrics.jsonl")) as f:
    records = [json.loads(line) for line in f]
  evaluated = [r for r in records if "cycle_l1_a" in r]
  assert evaluated and all(np.isfinite(r["cycle_l1_a"]) for r in evaluated)
  assert os.listdir(os.path.join(workdir, "best_checkpoint"))


@pytest.mark.slow  # Restores the tiny run in a subprocess (~30 s).
def test_translate_cli_round_trip(trained, tmp_path, run_cli):
  _, workdir, _, _ = trained
  inputs = tmp_path / "mine"
  inputs.mkdir()
  rs = np.random.RandomState(3)
  for i in range(3):  # Colour images of another size than the run's 8 px.
    Image.fromarray(rs.randint(0, 256, (10, 12, 3)).astype(np.uint8)).save(inputs / f"p{i}.png")
  out, grid = tmp_path / "out.npz", tmp_path / "grid.png"
  result = run_cli("gan_jax.translate", f"--workdir={workdir}", f"--input={inputs}",
                   f"--output={out}", f"--grid={grid}", "--direction=b2a", "--batch_size=2")
  assert result.returncode == 0, result.stderr
  with np.load(out) as z:
    images, names = z["images"], list(z["names"])
  assert images.shape == (3, 8, 8, 3) and images.dtype == np.uint8
  assert names == ["p0", "p1", "p2"]
  # The same translations in process, from the restored run.
  restored = loop.restore(workdir)
  decoded = [np.asarray(Image.open(inputs / f"p{i}.png")) for i in range(3)]
  translator = family.TOOLS.translator
  mine = translator.translate(restored, decoded, "b2a", None)
  np.testing.assert_array_equal(images, mine)
  columns = translator.columns(restored, decoded[:2], mine[:2], "b2a", None)
  assert [c.shape for c in columns] == [(2, 8, 8, 3)] * 3
  assert Image.open(grid).size[0] > Image.open(grid).size[1] / 2  # Three columns, three rows.
  # An unknown direction: one line, exit 2, nothing written.
  bad = run_cli("gan_jax.translate", f"--workdir={workdir}", f"--input={inputs}",
                f"--output={tmp_path / 'bad.npz'}", "--direction=a2c")
  assert bad.returncode == 2
  assert bad.stderr.strip().splitlines() == [
      "error: --direction='a2c' is unknown; allowed: a2b, b2a"]
  assert not (tmp_path / "bad.npz").exists()


def test_one_folder_for_both_domains_is_one_line_and_writes_nothing(tmp_path, run_cli):
  folder = make_folder(tmp_path / "both", 3, "RGB")
  workdir = tmp_path / "run"
  out = run_cli("gan_jax.main", "--config=configs/cyclegan_digits.py", f"--workdir={workdir}",
                "--config.dataset.name=unpaired", "--config.dataset.a.name=image_folder",
                "--config.dataset.b.name=image_folder", f"--config.dataset.a.path={folder}",
                f"--config.dataset.b.path={folder}")
  assert out.returncode == 2, out.stderr
  lines = out.stderr.strip().splitlines()
  assert len(lines) == 1 and lines[0].startswith("error: dataset.a and dataset.b are the same")
  assert not workdir.exists()


def test_an_empty_domain_is_one_line_and_writes_nothing(tmp_path, run_cli):
  good = make_folder(tmp_path / "good", 3, "RGB")
  (tmp_path / "empty").mkdir()
  workdir = tmp_path / "run"
  out = run_cli("gan_jax.main", "--config=configs/cyclegan_digits.py", f"--workdir={workdir}",
                "--config.dataset.name=unpaired", "--config.dataset.a.name=image_folder",
                "--config.dataset.b.name=image_folder", f"--config.dataset.a.path={good}",
                f"--config.dataset.b.path={tmp_path / 'empty'}")
  assert out.returncode == 2, out.stderr
  lines = out.stderr.strip().splitlines()
  assert len(lines) == 1 and "dataset.b" in lines[0] and "holds no images" in lines[0], lines
  assert not workdir.exists()


def test_the_family_is_registered():
  assert families.get("cyclegan") is family


def test_domain_classifiers_train_augmented_unless_told(monkeypatch):
  """The recipe each domain's classifier gets: writer augmentation by default for grey digits, the
  plain recipe for colour domains and with augment=False."""
  from gan_jax import classifier  # pylint: disable=g-import-not-at-top
  recipes = []

  def fake_train(images, labels, source, recipe=None, log=print):
    recipes.append(recipe)
    return classifier.DigitClassifier(None, None, 1.0, 1, source)
  monkeypatch.setattr(classifier, "load_or_train", fake_train)
  grey = np.zeros((4, 8, 8, 3), np.uint8)  # Colour channels that are equal: a grey domain.
  colour = grey.copy()
  colour[..., 0] = 9
  labels = {"a_train_label": np.arange(4), "b_train_label": np.arange(4)}
  dataset = type("D", (), dict(arrays={"a": grey, "b": colour}, heldout=labels,
                               info=type("I", (), {"name": "t"})))
  family.domain_classifier(dataset, "a")
  family.domain_classifier(dataset, "b")
  family.domain_classifier(dataset, "a", augment=False)
  assert recipes[0] == {"channels": 1, "steps": 5_000, "augment": classifier.WRITER_AUGMENT}
  assert recipes[1] == {"channels": 3}
  assert recipes[2] == {"channels": 1}


def test_label_metrics_count_flips_and_hidden_labels(tmp_path, monkeypatch):
  """The evaluator's bookkeeping on known predictions: each image's class is written in its first
  pixel, the 'classifiers' read it back, and the 'generators' are replaced by known outputs."""
  config = tiny_config(tmp_path)
  config.dataset.heldout = 4
  config.eval.classifier = True
  dataset = family.load_data(config)
  held = dataset.heldout
  assert len(held["a"]) == len(held["b"]) == 4
  for w in "ab":
    held[w][:, 0, 0, 0] = held[f"{w}_label"]
  read = lambda x: np.asarray(x)[:, 0, 0, 0].astype(int)
  monkeypatch.setattr(family, "domain_classifier", lambda dataset, which, augment: read)
  monkeypatch.setattr(family, "labelled", lambda dataset: True)

  def fake_translate_all(translate, nets, images, direction, batch_size=250):
    labels = read(images)
    y, r = images.copy(), images.copy()
    if direction == "a2b":  # Translations: 1st wrong; reconstructions: 1st right again.
      y[0, 0, 0, 0] = 1 - labels[0]
    else:  # 1st and 2nd translations wrong, 2nd also wrong when reconstructed.
      y[:2, 0, 0, 0] = 1 - labels[:2]
      r[1, 0, 0, 0] = 1 - labels[1]
    return y, r
  monkeypatch.setattr(family.metrics, "translate_all", fake_translate_all)
  evaluate = family.make_evaluator(config, dataset, translate_fn=None)
  out = evaluate(state=type("S", (), {"nets": None})(), step=0)
  assert out["label_acc_a2b"] == 0.75 and out["recon_acc_a2b"] == 1.0
  assert out["hidden_a2b"] == 0.25
  assert out["label_acc_b2a"] == 0.5 and out["recon_acc_b2a"] == 0.75
  assert out["hidden_b2a"] == 0.25
  assert out["real_acc_a"] == out["real_acc_b"] == 1.0
  assert out["untranslated_acc_a2b"] == out["untranslated_acc_b2a"] == 1.0  # Sources as they are.
  assert out["label_error"] == pytest.approx(1 - (0.75 + 0.5) / 2)


def test_every_weight_is_sweepable_and_switches_split_the_sweep():
  from gan_jax import sweep  # pylint: disable=g-import-not-at-top
  from gan_jax import sweep_spec  # pylint: disable=g-import-not-at-top
  config = cyclegan_digits.get_config()
  numeric = ["loss.cycle_weight_a", "loss.cycle_weight_b", "loss.identity_weight",
             "loss.cycle_noise_std",
             "loss.d_loss_weight", "pool_swap_prob", "g_optimizer.learning_rate",
             "d_optimizer.b1", "seed"]
  spec = sweep_spec.zipit([sweep_spec.sweep(k, [0.25, 0.5] if k != "seed" else [0, 1])
                           for k in numeric])
  assert sorted(sweep.vmapped_keys(config, spec)) == sorted(numeric)
  assert len(sweep.plan(config, spec)) == 1  # One program for both members.
  switches = sweep_spec.sweep("loss.identity", [True, False])
  assert len(sweep.plan(config, switches)) == 2  # The identity terms change the program.


@pytest.mark.parametrize("key,value,message", [
    ("pool_size", -1, "pool_size=-1 is out of range; allowed: an integer >= 0 (0 = no image pool)"),
    ("pool_swap_prob", 1.5, "pool_swap_prob=1.5 is out of range; allowed: a number in [0, 1]"),
    ("model.g_blocks", 2.5, "model.g_blocks=2.5 is out of range; allowed: an integer >= 0"),
    ("model.g_downsamplings", -1,
     "model.g_downsamplings=-1 is out of range; allowed: an integer >= 0"),
    ("loss.cycle_weight_a", -10.0, "loss.cycle_weight_a=-10.0 is out of range"),
    ("loss.identity_weight", -0.5, "loss.identity_weight=-0.5 is out of range"),
    ("loss.cycle_noise_std", -0.1, "loss.cycle_noise_std=-0.1 is out of range"),
    ("g_optimizer.learning_rate", 0.0, "g_optimizer.learning_rate=0.0 is out of range"),
])
def test_value_ranges_are_checked_before_anything_runs(key, value, message):
  """The family's CONFIG_CHECKS and the shared table, as the loop applies them."""
  config = cyclegan_digits.get_config()
  node = config
  *path, name = key.split(".")
  for part in path:
    node = node[part]
  with node.ignore_type():
    node[name] = value
  loop.validate_config(cyclegan_digits.get_config())  # The config as shipped passes.
  with pytest.raises(UserError) as error:
    loop.validate_config(config)
  assert str(error.value).startswith(message), str(error.value)


def test_missing_fid_weights_are_refused_before_a_run_with_in_loop_fid_writes(tmp_path,
                                                                              monkeypatch):
  """The best checkpoint by `fid_a2b` needs the Inception weights: checked before anything is
  written, as for the latent family's `fid`."""
  from gan_jax.fid import evaluator  # pylint: disable=g-import-not-at-top
  config = tiny_config(tmp_path)
  config.eval.fid = True
  dataset = family.load_data(config)
  program = loop.build(config, dataset)
  assert program.trainer.best_metric == "fid_a2b"
  monkeypatch.setattr(evaluator.weights_lib, "packaged_weights_path", lambda: None)
  monkeypatch.setattr(evaluator.weights_lib, "cache_dir", lambda: str(tmp_path / "no_cache"))
  with pytest.raises(UserError, match="FID Inception weights not found"):
    loop.check_before_writing(config, dataset, program.trainer)
  config.eval.fid = False  # Without in-loop FID nothing is needed.
  loop.check_before_writing(config, dataset, loop.build(config, dataset).trainer)
