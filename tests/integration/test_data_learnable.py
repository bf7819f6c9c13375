"""The data is learnable and data-aware: a small CNN on train_batches reaches high accuracy; on the
colour-decisive task RGB beats grayscale. Also the real photos (caltech101_5class) load when present."""
from pathlib import Path

import numpy as np
import pytest

from dnasgen.candidate import DataConfig
from dnasgen.data import normalize, open_dataset
from dnasgen.spec import load_spec

torch = pytest.importorskip("torch")
ROOT = Path(__file__).resolve().parents[2]
CALTECH = ROOT.parent / "shared" / "data" / "caltech101_5class"


def _spec(tmp_path, dataset_yaml, classes="[distractor, target]"):
    text = (ROOT / "specs" / "quickstart.yaml").read_text()
    head, rest = text.split("task:", 1)
    tail = rest[rest.index("\nsensor:"):]
    path = tmp_path / "spec.yaml"
    path.write_text(f"{head}task:\n  classes: {classes}\n\ndataset:\n{dataset_yaml}\n{tail}")
    return load_spec(path)


def _train_eval(bundle, data, epochs=4):
    torch.manual_seed(0)
    c = data.channels
    net = torch.nn.Sequential(
        torch.nn.Conv2d(c, 16, 3, 2, 1), torch.nn.BatchNorm2d(16), torch.nn.ReLU(),
        torch.nn.Conv2d(16, 32, 3, 2, 1), torch.nn.BatchNorm2d(32), torch.nn.ReLU(),
        torch.nn.Conv2d(32, 32, 3, 2, 1), torch.nn.BatchNorm2d(32), torch.nn.ReLU(),
        torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(), torch.nn.Linear(32, len(bundle.classes)))
    opt = torch.optim.Adam(net.parameters(), 3e-3)
    for epoch in range(epochs):
        for xb, yb in bundle.train_batches(data, 64, seed=0, epoch=epoch):
            x = torch.from_numpy(normalize(xb)).permute(0, 3, 1, 2)
            loss = torch.nn.functional.cross_entropy(net(x), torch.from_numpy(yb))
            opt.zero_grad()
            loss.backward()
            opt.step()
    x, y = bundle.arrays("val", data)
    net.eval()
    with torch.no_grad():
        pred = net(torch.from_numpy(normalize(x)).permute(0, 3, 1, 2)).argmax(1).numpy()
    return float((pred == y).mean())


def test_synthetic_large_is_learnable_and_colour_decides(tmp_path):
    torch.set_num_threads(1)
    ds = ("  source: synthetic\n  seed: 0\n  image_size: 96\n  color_decisive: true\n  object_size: large\n"
          "  samples: {train: 1536, val: 300, test: 50}")
    bundle = open_dataset(_spec(tmp_path, ds), tmp_path / "cache")
    rgb = _train_eval(bundle, DataConfig(32, "rgb"))
    gray = _train_eval(bundle, DataConfig(32, "grayscale"), epochs=2)
    print(f"colour-decisive synthetic @32px: rgb {rgb:.3f}, grayscale {gray:.3f}")
    # equal luminance: grayscale stays near chance (0.5); margins, not absolute figures
    assert rgb >= 0.5 + 0.25 and rgb - gray >= 0.2, (rgb, gray)


@pytest.mark.skipif(not CALTECH.is_dir(), reason=f"real photos not present at {CALTECH}")
def test_caltech_photos_load_through_the_sensor(tmp_path):
    classes = "[Faces_easy, airplanes, Motorbikes, Leopards, watch]"
    ds = f"  source: image_folder\n  path: {CALTECH}\n  max_per_class: 30"
    bundle = open_dataset(_spec(tmp_path, ds, classes), tmp_path / "cache")
    x, y = bundle.arrays("val", DataConfig(40, "grayscale"))
    assert x.shape == (150, 40, 40, 1) and np.bincount(y).tolist() == [30] * 5
    assert 40 < x.mean() < 220 and x.std() > 20          # real image content, not blank
    assert sum(len(bundle.source(s)[1]) for s in ("train", "test")) == 150
