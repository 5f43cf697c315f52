"""Trace packs and workload files: round trips, the shipped pack, and errors on malformed input."""

import gzip
import json

import numpy as np
import pytest

import helpers as h
from dysta_sw import workload as wl
from dysta_sw.errors import DystaInputError
from dysta_sw.synthetic import generate_pack
from dysta_sw.tables import ScenarioTables
from dysta_sw.trace import DEFAULT_PACK, load_pack, resolve_pack, save_pack


def small_pack():
    return h.pack(h.model_pattern("a/p/0.5", [[1.0, 2.0], [3.0, 4.0]], [[0.5, 0.25], [1.0, 0.0]], [10, 20],
                                  calib=[True, False]),
                  h.model_pattern("b/q/0.1", [[0.5]], [[0.75]], [7]))


def test_round_trip(tmp_path):
    p = small_pack()
    for name in ("t.csv", "t.csv.gz"):
        save_pack(p, tmp_path / name)
        q = load_pack(tmp_path / name)
        assert q.fingerprint == p.fingerprint
        a = q.model_patterns["a/p/0.5"]
        np.testing.assert_array_equal(a.lat, [[1.0, 2.0], [3.0, 4.0]])
        np.testing.assert_array_equal(a.calib, [True, False])
        # Statistics come from the calibration split only (sample 0).
        np.testing.assert_array_equal(a.lbar, [1.0, 2.0])
        np.testing.assert_array_equal(a.rbar, [3.0, 2.0, 0.0])
        assert q.synthetic


def test_shipped_pack_regenerates_identically():
    assert generate_pack().fingerprint == resolve_pack("synthetic-v1").fingerprint


def test_shipped_pack_shape():
    p = resolve_pack("synthetic-v1")
    assert p.synthetic
    assert len(p.scenario("attnn")) == 3 and len(p.scenario("cnn")) == 12
    layers = {mp.model: mp.n_layers for mp in p.model_patterns.values()}
    assert layers["bert"] == 12 and layers["resnet50"] == 54 and layers["vgg16"] == 16
    assert "SYNTHETIC" in p.provenance()


def test_generator_parameters_take_effect():
    base = generate_pack(8, seed=1)
    slow = generate_pack(8, seed=1, latency_scale=2.0)
    flat = generate_pack(8, seed=1, spread_scale=0.0, n_layers=5)
    name = "bert/sanger/0.002"
    assert slow.model_patterns[name].tiso_est == pytest.approx(2 * base.model_patterns[name].tiso_est)
    f = flat.model_patterns[name]
    assert f.n_layers == 5
    # Without spread every sample of a model-pattern has the same densities.
    assert np.allclose(f.rho, f.rho[0])
    with pytest.raises(DystaInputError, match="correlation"):
        generate_pack(8, correlation=1.5)


def write_lines(path, lines):
    path.write_text("\n".join(lines) + "\n")


def good_lines(tmp_path):
    save_pack(small_pack(), tmp_path / "good.csv")
    return (tmp_path / "good.csv").read_text().splitlines()


@pytest.mark.parametrize("line, cell, value, message", [
    (3, 3, "-1.0", "latency_s must be a positive"),
    (3, 4, "1.5", "density must lie in"),
    (3, 4, "abc", "density"),
    (4, 2, "2", "layer index 2 out of order"),
    (3, 5, "0", "output_size must be a positive"),
    (3, 6, "train", "split must be"),
])
def test_bad_trace_cells(tmp_path, line, cell, value, message):
    lines = good_lines(tmp_path)
    cells = lines[line].split(",")
    cells[cell] = value
    lines[line] = ",".join(cells)
    write_lines(tmp_path / "bad.csv", lines)
    with pytest.raises(DystaInputError, match=message) as e:
        load_pack(tmp_path / "bad.csv")
    assert "bad.csv" in str(e.value) and f"line {line + 1}" in str(e.value)


def test_bad_trace_structure(tmp_path):
    lines = good_lines(tmp_path)
    write_lines(tmp_path / "noheader.csv", lines[1:])
    with pytest.raises(DystaInputError, match="noheader.csv"):
        load_pack(tmp_path / "noheader.csv")
    write_lines(tmp_path / "v9.csv", [lines[0].replace("v1", "v9")] + lines[1:])
    with pytest.raises(DystaInputError, match="v9.csv"):
        load_pack(tmp_path / "v9.csv")
    # Second sample of a/p/0.5 loses its last layer: inconsistent layer counts.
    rows = [ln for ln in lines if not ln.startswith("a/p/0.5,1,1,")]
    write_lines(tmp_path / "short.csv", rows)
    with pytest.raises(DystaInputError, match="layers but the first sample has"):
        load_pack(tmp_path / "short.csv")
    meta = json.loads(lines[1].split(":", 1)[1])
    del meta["model_patterns"]["b/q/0.1"]
    write_lines(tmp_path / "undeclared.csv", [lines[0], "# meta: " + json.dumps(meta)] + lines[2:])
    with pytest.raises(DystaInputError, match="not declared"):
        load_pack(tmp_path / "undeclared.csv")
    with pytest.raises(DystaInputError, match="does not exist"):
        load_pack(tmp_path / "missing.csv")
    (tmp_path / "broken.csv.gz").write_bytes(gzip.compress(b"garbage\n")[:10])
    with pytest.raises(DystaInputError, match="broken.csv.gz"):
        load_pack(tmp_path / "broken.csv.gz")


def test_unknown_pack_name():
    with pytest.raises(DystaInputError, match="unknown trace pack 'nope'.*synthetic-v1"):
        resolve_pack("nope")


# ----------------------------------------------------------------------------- workloads

@pytest.fixture(scope="module")
def attnn():
    pack = resolve_pack(None)
    return pack, ScenarioTables.build(pack, "attnn")


def test_workload_generation_spec(attnn):
    pack, tab = attnn
    w = wl.generate(tab, 30.0, 20000, 7, pack)
    gaps = np.diff(np.concatenate([[0], w.arrival]))
    assert gaps.mean() == pytest.approx(1 / 30, rel=0.03)  # Poisson at 30/s
    assert set(np.unique(w.priority)) == {1, 3, 9}
    assert np.bincount(w.mp).min() > 20000 / 3 * 0.95  # uniform model-pattern
    # Samples cover all samples of the model-pattern (not a handful, unlike the published artifact).
    assert len(np.unique(w.sample[w.mp == 0])) == tab.n_samples[0]
    # Common random numbers: a different rate only rescales the arrivals.
    w2 = wl.generate(tab, 15.0, 20000, 7, pack)
    np.testing.assert_allclose(w2.arrival, 2 * w.arrival)
    np.testing.assert_array_equal(w2.mp, w.mp)
    np.testing.assert_array_equal(w2.sample, w.sample)
    # Deadline = arrival + M x mean isolated latency of the model over all patterns and samples.
    bert = tab.names.index("bert/sanger/0.002")
    mean_iso = pack.model_patterns["bert/sanger/0.002"].tiso.mean()
    i = int(np.flatnonzero(w.mp == bert)[0])
    assert w.deadlines(10.0)[i] == pytest.approx(w.arrival[i] + 10 * mean_iso)


def test_workload_round_trip(tmp_path, attnn):
    pack, tab = attnn
    w = wl.generate(tab, 30.0, 50, 3, pack)
    wl.save(w, tab, tmp_path / "w.csv")
    v = wl.load(tmp_path / "w.csv", tab, pack)
    for k in ("arrival", "mp", "sample", "priority", "tbar"):
        np.testing.assert_array_equal(getattr(v, k), getattr(w, k))
    assert v.meta["rate"] == 30.0 and v.meta["seed"] == 3


@pytest.mark.parametrize("col, value, message", [
    (1, "-1", "arrival_s must be"),
    (2, "nomodel/x/1", "is not in scenario"),
    (3, "100000", "sample is out of range"),
    (4, "0", "priority must be"),
    (5, "nan", "tbar_model_s must be"),
])
def test_bad_workload(tmp_path, attnn, col, value, message):
    pack, tab = attnn
    wl.save(wl.generate(tab, 30.0, 5, 0, pack), tab, tmp_path / "w.csv")
    lines = (tmp_path / "w.csv").read_text().splitlines()
    cells = lines[4].split(",")
    cells[col] = value
    lines[4] = ",".join(cells)
    write_lines(tmp_path / "bad.csv", lines)
    with pytest.raises(DystaInputError, match=message) as e:
        wl.load(tmp_path / "bad.csv", tab, pack)
    assert "bad.csv" in str(e.value) and "line 5" in str(e.value)


def test_workload_from_other_pack_is_rejected(tmp_path, attnn):
    pack, tab = attnn
    wl.save(wl.generate(tab, 30.0, 5, 0, pack), tab, tmp_path / "w.csv")
    other = generate_pack(8, seed=5, name="other")
    with pytest.raises(DystaInputError, match="same pack"):
        wl.load(tmp_path / "w.csv", ScenarioTables.build(other, "attnn"), other)


def test_decreasing_arrivals_rejected(tmp_path, attnn):
    pack, tab = attnn
    wl.save(wl.generate(tab, 30.0, 5, 0, pack), tab, tmp_path / "w.csv")
    lines = (tmp_path / "w.csv").read_text().splitlines()
    lines[3], lines[4] = lines[4], lines[3]
    write_lines(tmp_path / "bad.csv", lines)
    with pytest.raises(DystaInputError, match="must not decrease"):
        wl.load(tmp_path / "bad.csv", tab, pack)


@pytest.mark.parametrize("rate, n", [(-1.0, 10), (0.0, 10), (float("nan"), 10), (30.0, 0)])
def test_impossible_workload_parameters(attnn, rate, n):
    pack, tab = attnn
    with pytest.raises(DystaInputError, match="--rate|--requests"):
        wl.generate(tab, rate, n, 0, pack)


def test_shipped_measured_pack():
    """measured-v1 (profiling/, nox -s pack -- --name measured-v1): every model-pattern of both
    scenarios, >= 100 samples, a calibration split, low-light CNN inputs, and metadata that says
    what is trained and what random."""
    p = resolve_pack("measured-v1")
    assert not p.synthetic and "measured" in p.provenance()
    assert len(p.scenario("attnn")) == 3 and len(p.scenario("cnn")) == 12
    for name, mp in p.model_patterns.items():
        assert mp.n_samples >= 100 and 0 < mp.calib.sum() < mp.n_samples, name
        assert np.all(mp.lat > 0) and np.all((mp.rho >= 0) & (mp.rho <= 1)), name
        trained = mp.meta["weights"].startswith("TRAINED")
        assert trained == (mp.meta["model"] == "bert"), name
        if name in p.scenario("cnn"):
            assert mp.meta["inputs"]["low_light_samples"] >= 20, name


def test_shipped_measured_v2_pack():
    """measured-v2 (nox -s pack), the default: BERT-base on SQuAD-like inputs up to 384 tokens,
    BART at Sanger's threshold 0.01 and GPT-2 on sentence pairs up to 128 tokens, density over the
    real extent; CNNs at 224 px (SSD 300) on the artifact's Eyeriss-V2 cost model, with the valid-MAC
    counts Table 2 and Fig. 3 need; every weight random, and the metadata says so."""
    p = resolve_pack("measured-v2")
    assert DEFAULT_PACK == "measured-v2"
    assert not p.synthetic and p.meta["cost_model"] == {"cnn": "artifact", "attnn": "ours"}
    assert sorted(p.scenarios["attnn"]) == ["bart/sanger/0.01", "bert/sanger/0.002", "gpt2/sanger/0.002"]
    assert len(p.scenario("cnn")) == 12
    for name, mp in p.model_patterns.items():
        assert mp.n_samples >= 100 and 0 < mp.calib.sum() < mp.n_samples, name
        assert np.all(mp.lat > 0) and np.all((mp.rho >= 0) & (mp.rho <= 1)), name
        assert mp.meta["weights"].startswith("RANDOM"), name
    bert = p.model_patterns["bert/sanger/0.002"]
    assert bert.meta["geometry"]["name"] == "bert-base" and bert.n_layers == 12
    lengths = {n: np.array(p.model_patterns[n].meta["inputs"]["seq_lengths"]) for n in p.scenarios["attnn"]}
    assert lengths["bert/sanger/0.002"].max() <= 384 and lengths["bert/sanger/0.002"].mean() > 120
    assert all(lengths[n].max() <= 128 for n in ("bart/sanger/0.01", "gpt2/sanger/0.002"))
    for n in p.scenarios["attnn"]:
        assert p.model_patterns[n].meta["profile"]["extent"] == "real"
    for n in p.scenarios["cnn"]:
        mp = p.model_patterns[n]
        assert mp.meta["cost_model"] == "artifact", n
        assert mp.meta["inputs"]["resolution"] == (300 if mp.model == "ssd" else 224), n
        assert mp.meta["inputs"]["low_light_samples"] >= 20, n
        frac = np.array(mp.meta["valid_macs"]["network_fraction"])
        assert frac.shape == (mp.n_samples,) and np.all((frac > 0) & (frac < 1)), n
        assert np.array(mp.meta["valid_macs"]["fig3_mac_sparsity"]).shape == (mp.n_samples, 6), n
