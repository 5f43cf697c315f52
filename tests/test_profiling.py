"""Profiling (profiling/): pruning patterns, hooks, accelerator models and trace round trips.

Tiny models and a few samples; the masks and cycle counts are checked independently of the
code under test (from the weights themselves, conv2d, and counts worked out by hand).
"""

import math

import numpy as np
import pytest

import helpers
from dysta_sw.trace import TracePack, load_pack, save_pack

torch = helpers.require_module("torch", "pip install -e '.[profiling]'")

from torch import nn  # noqa: E402

from profiling import eyeriss, pruning, sanger  # noqa: E402
from profiling.profiler import CNNProfiler  # noqa: E402


class Tiny(nn.Module):
    """A stem, a grouped conv, a strided conv and a classifier."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.stem = nn.Conv2d(3, 8, 3, padding=1)
        self.a = nn.Conv2d(8, 16, 3, padding=1, groups=2)
        self.b = nn.Conv2d(16, 16, 3, stride=2, padding=1)
        self.fc = nn.Linear(16 * 4 * 4, 10)

    def dense_layers(self):
        return {"stem", "fc"}

    def forward(self, x):
        x = torch.relu(self.stem(x))
        x = torch.relu(self.a(x))
        x = torch.relu(self.b(x))
        return self.fc(x.flatten(1))


def zero_fraction(w):
    return float((w == 0).sum()) / w.numel()


def test_random_pruning_hits_the_rate_on_the_pruned_layers_only():
    m = Tiny()
    done = pruning.sparsify(m, "random", 0.7)
    assert set(done) == {"a", "b"}
    for name in ("a", "b"):
        w = getattr(m, name).weight
        assert zero_fraction(w) == pytest.approx(round(0.7 * w.numel()) / w.numel())
    assert zero_fraction(m.stem.weight) == 0 and zero_fraction(m.fc.weight) == 0


def test_nm_pruning_keeps_n_of_every_m_input_channels():
    m = Tiny()
    pruning.sparsify(m, "nm2:4", 0.5)
    w = m.b.weight.detach()  # (16, 16, 3, 3): blocks of 4 along the input channels
    blocks = (w != 0).permute(0, 2, 3, 1).reshape(16, 3, 3, 4, 4).sum(-1)
    assert torch.all(blocks == 2)
    # grouped conv a has 4 input channels per group: also pruned 2:4
    wa = (m.a.weight.detach() != 0).sum(1)
    assert torch.all(wa == 2)
    with pytest.raises(ValueError, match="fixes the rate at 0.5"):
        pruning.sparsify(Tiny(), "nm2:4", 0.6)


def test_channel_pruning_zeroes_whole_filters():
    m = Tiny()
    pruning.sparsify(m, "channel", 0.25)
    for name in ("a", "b"):
        w = getattr(m, name).weight.detach()
        dead = (w.flatten(1) == 0).all(1)
        assert int(dead.sum()) == round(0.25 * w.shape[0])
        assert zero_fraction(w) == pytest.approx(int(dead.sum()) / w.shape[0])


def test_bad_patterns():
    with pytest.raises(ValueError, match="unknown pattern"):
        pruning.check_pattern("blocky", 0.5)
    with pytest.raises(ValueError, match=r"\[0, 1\)"):
        pruning.check_pattern("random", 1.0)


@pytest.mark.parametrize("args, words", [
    (["--model", "resnet50", "--recipe", "no-such-recipe.yaml"], "recipe 'no-such-recipe.yaml' does not exist"),
    (["--model", "bert", "--recipe", "r.yaml"], "--recipe is for the CNNs"),
    (["--model", "resnet50", "--recipe", "r.yaml", "--pattern", "random", "--rate", "0.5"], "one or the other"),
    (["--model", "resnet50"], "give --pattern and --rate"),
    (["--model", "resnet50", "--pattern", "blocky", "--rate", "0.5"], "unknown pattern 'blocky'"),
])
def test_profile_command_errors_name_the_input(capsys, tmp_path, args, words):
    from dysta_sw.cli import main

    code = main(["profile", *args, "--samples", "2", "--out", str(tmp_path / "o.csv.gz")])
    err = capsys.readouterr().err
    assert code == 2 and words in err and "Traceback" not in err
    assert not (tmp_path / "o.csv.gz").exists()


@pytest.mark.parametrize("stride,padding,groups", [(1, 1, 1), (2, 1, 1), (1, 0, 2), (2, 2, 4)])
def test_effectual_macs_equal_a_convolution_of_the_masks(stride, padding, groups):
    g = torch.Generator().manual_seed(stride * 10 + groups)
    act = (torch.rand(2, 8, 9, 7, generator=g) > 0.4).float()
    wm = (torch.rand(8, 8 // groups, 3, 3, generator=g) > 0.5).float()
    work = eyeriss.unit_work(act, wm, stride=(stride, stride), padding=(padding, padding), groups=groups)
    ref = torch.nn.functional.conv2d(act, wm, stride=stride, padding=padding, groups=groups).sum(-1)
    assert torch.equal(work, ref)


def test_eyeriss_cycles_by_hand():
    hw = eyeriss.EyerissV2()
    assert hw.pes == 192
    # 200 units of 3 MACs each: PEs 0..7 get two units (6 MACs + 2 x 8 overhead = 22 cycles)
    work = torch.full((1, 200, 1), 3.0)
    assert eyeriss.compute_cycles(work, hw).item() == 22
    # 1000 non-zeros in, 10 weights, 500 out: 1500 + 15 + 750 bytes in one tile, 8 B/cycle
    assert eyeriss.memory_cycles(1000, 10_000, 10, 100, 500, 10_000, hw).item() == (1500 + 15 + 750) / 8
    # dense is cheaper than compressed when dense: 1000 elements, 900 non-zeros -> 1000 bytes
    assert eyeriss.memory_cycles(900, 1000, 0, 1, 0, 1, hw).item() == 1000 / 8
    assert eyeriss.layer_cycles(torch.tensor(5000.0), torch.tensor(300.0), hw).item() == 6000


def test_sanger_cycles_by_hand():
    hw = sanger.Sanger()
    assert sanger.dense_cycles(100, 64, 130, hw) == 2 * 3 * 64 + 128
    # rows of 70, 10 and 60 non-zeros: 70 -> 64 + 6; packed: [64], [6, 10], [60] -> 3 rows
    assert sanger.packed_rows([70, 10, 60]) == 3
    mask = np.zeros((1, 3, 80), bool)
    for i, r in enumerate((70, 10, 60)):
        mask[0, i, :r] = True
    cycles, balance = sanger.attention_cycles(mask, 32, hw)
    pred = math.ceil(sanger.dense_cycles(3, 32, 80, hw) / 4)
    assert cycles == 2 * 1 * 32 + math.ceil(140 / 64) + pred
    assert balance == pytest.approx(140 / (3 * 64))


def test_hooks_record_every_layer_once_in_execution_order():
    m = Tiny()
    pruning.sparsify(m, "random", 0.5)
    order = []
    handles = [mod.register_forward_hook(lambda mod, a, o, n=n: order.append(n))
               for n, mod in m.named_modules() if isinstance(mod, nn.Conv2d | nn.Linear)]
    prof = CNNProfiler(m)
    lat, rho, shape, names, eff = prof.run(torch.rand(3, 3, 8, 8))
    for h in handles:
        h.remove()
    assert names == order == ["stem", "a", "b", "fc"]
    assert lat.shape == rho.shape == (3, 4) and np.all(lat > 0) and np.all((rho >= 0) & (rho <= 1))
    assert shape.tolist() == [8 * 8 * 8, 16 * 8 * 8, 16 * 4 * 4, 10]
    # the effectual MACs of layer b are bounded by its dense MACs times its weight density
    assert np.all(eff[:, 2] <= 16 * 16 * 9 * 16 * 0.5 + 1e-9)


@pytest.mark.parametrize("extent", ["real", "padded"])
def test_attention_hooks_record_every_block_once_and_count_the_mask(extent):
    from profiling.profiler import AttentionProfiler
    from profiling.transformer import Geometry, SangerAttention, Transformer, init_random

    g = Geometry("tiny", 2, 16, 2, 32, decoder_layers=1, vocab=50, max_pos=32)
    net = init_random(Transformer(g, threshold=0.1), seed=3)
    order = []
    handles = [mod.register_forward_hook(lambda mod, a, o, n=n: order.append(n))
               for n, mod in net.named_modules() if isinstance(mod, nn.Linear | SangerAttention)]
    prof = AttentionProfiler(net, max_len=12, extent=extent)
    rows = []
    for n in (4, 8, 12):
        ids = torch.arange(1, n + 1)[None] % 50
        order.clear()
        lat, rho, shape, names = prof.run(ids)
        assert prof.calls[-len(order):] == order  # every Linear/attention module, once, in execution order
        masks = [(blk.attn.last_mask, blk.cross.last_mask if blk.cross is not None else None)
                 for _, blk in net.trace_blocks()]
        rows.append((n, lat, rho, masks))
    for h in handles:
        h.remove()
    assert names == ["blocks.0", "blocks.1", "dec_blocks.0"]
    # the monitor's buffer: heads x max_len^2 per attention module (self + cross in the decoder block)
    assert shape.tolist() == [2 * 144, 2 * 144, 2 * 2 * 144]
    for n, lat, rho, masks in rows:
        for k, (sm, cm) in enumerate(masks):
            kept = int(sm.sum()) + (int(cm.sum()) if cm is not None else 0)
            # real extent: heads x n x n per module (Sanger's overall-sparsity); padded: the buffer
            size = 2 * n * n * (1 if cm is None else 2) if extent == "real" else shape[k]
            assert sm.shape[-1] == n and rho[k] == pytest.approx(kept / size)
            c = sanger.block_cycles(n, 16, 32, 2, sm[0].numpy(), None if cm is None else cm[0].numpy(), n)
            assert lat[k] == pytest.approx(c["cycles"] / 1e9)
    assert all(a[1].sum() < b[1].sum() for a, b in zip(rows, rows[1:]))  # longer inputs take longer
    if extent == "padded":  # padding counts as pruned: the density grows with the length
        assert all(a[2].sum() < b[2].sum() for a, b in zip(rows, rows[1:]))
    with pytest.raises(ValueError, match="exceeds max_len"):
        prof.run(torch.ones(1, 13, dtype=torch.long))
    with pytest.raises(ValueError, match="density extent"):
        AttentionProfiler(net, max_len=12, extent="diagonal")


def test_artifact_eyeriss_cycles_by_hand():
    """The published artifact's cost model on layers worked out by hand (profiling.eyeriss docstring)."""
    ones = torch.ones(1, 4, 4, 4)
    w = torch.ones(2, 4, 3, 3)
    # C=4, 4x4, O=2, 3x3: C0 = 4, F0 = min(pow2floor(60000 // 384) = 128, 4) = 4, M0 = 2, and every
    # array dimension shrinks to 1 but S1 = 3. act_check = S1 * E * F0 = 3 * 4 * 4 = 48.
    # Valid MACs ('same' padding): taps per output row/column [2, 3, 3, 2] -> 10 x 10 x C 4 x O 2 = 800.
    # Non-empty 3-row windows: 4 per channel, 16; weight_check = 2 * S1 * 16 = 96.
    # floor((4 * 800 + 48 + 96) / 192) = floor(3344 / 192) = 17.
    assert eyeriss.artifact_cycles(ones, w).tolist() == [17.0]
    # One non-zero activation at (channel 0, row 1, column 2): 9 outputs x 2 channels = 18 valid MACs;
    # windows starting at rows 0 and 1 hold it: weight_check = 2 * 3 * 2 = 12; floor(132 / 192) = 0.
    one = torch.zeros(1, 4, 4, 4)
    one[0, 0, 1, 2] = 1
    assert eyeriss.artifact_cycles(one, w).tolist() == [0.0]
    batch = torch.cat([ones, one, ones])
    assert eyeriss.artifact_cycles(batch, w).tolist() == [17.0, 0.0, 17.0]
    # A Linear layer 32 -> 4 on all-ones: 128 valid MACs, C0 = 16, C1 = 2: act_check 2; 32 non-empty
    # rows: weight_check 64; floor((512 + 2 + 64) / 192) = 3.
    assert eyeriss.artifact_cycles(torch.ones(1, 32), torch.ones(4, 32)).tolist() == [3.0]


def test_artifact_eyeriss_counts_a_strided_layer_at_stride_one():
    """The artifact's valid MACs ignore the stride: a strided layer costs what the stride-1 layer does,
    while the profiler's valid MACs of the real layer are those of the strided convolution."""
    from profiling.profiler import _real_valid_macs

    torch.manual_seed(1)
    act = (torch.rand(2, 8, 16, 16) < 0.5).float()
    wm = (torch.rand(16, 8, 3, 3) < 0.5).float()
    valid, full = eyeriss.artifact_valid_macs(act, wm)
    expect = torch.nn.functional.conv2d(act, wm, padding=1).flatten(1).sum(1).double()
    assert torch.equal(valid, expect)
    geo = {"stride": (2, 2), "padding": (1, 1), "dilation": (1, 1), "groups": 1}
    real = _real_valid_macs(act, wm, geo, full)
    assert torch.equal(real, torch.nn.functional.conv2d(act, wm, stride=2, padding=1).flatten(1).sum(1).double())
    assert torch.all(real < valid)
    geo = {"stride": (2, 2), "padding": (0, 0), "dilation": (1, 1), "groups": 1}  # not 'same': recomputed
    assert torch.equal(_real_valid_macs(act, wm, geo, full),
                       torch.nn.functional.conv2d(act, wm, stride=2).flatten(1).sum(1).double())


def test_artifact_cost_model_in_the_profiler():
    """On the artifact's model every layer's latency is artifact_cycles / 200 MHz of its masks."""
    m = Tiny()
    pruning.sparsify(m, "random", 0.5)
    seen = {}
    handles = [getattr(m, n).register_forward_hook(lambda mod, a, o, n=n: seen.__setitem__(n, a[0].clone()))
               for n in ("stem", "a", "b", "fc")]
    prof = CNNProfiler(m, eyeriss.EyerissV2Artifact())
    lat, rho, shape, names, eff = prof.run(torch.rand(2, 3, 8, 8) - 0.3)
    for h in handles:
        h.remove()
    for k, n in enumerate(names):
        layer = getattr(m, n)
        act = (seen[n] != 0).float()
        cyc = eyeriss.artifact_cycles(act, (layer.weight != 0).float(), getattr(layer, "groups", 1))
        np.testing.assert_allclose(lat[:, k], cyc.numpy() / 200e6, rtol=1e-12)
    assert prof.dense_macs["b"] == 16 * 16 * 9 * 4 * 4


def test_artifact_sanger_formula_by_hand():
    # s = 0.25, b = 0.5, L = 512: rows = 1024; linear = 6 * 512 * 768^2 / 2048e9 = 884.736 us;
    # proj = 2 * 512 * 768^2 / 1e9 / 4096 = 147.456 us; attention = 16 * (832 + 1088) * 8 cycles = 245.76 us.
    assert sanger.artifact_latency(0.25, 0.5) == pytest.approx(884.736e-6 + 147.456e-6 + 245.76e-6, rel=1e-12)
    mask = np.zeros((1, 3, 3), bool)
    mask[0, 0] = True  # row 0 keeps 3, row 1 keeps 1, row 2 nothing (an all-zero vector, skipped)
    mask[0, 1, 0] = True
    assert sanger.artifact_load_balance(mask, 3, 3, 64) == pytest.approx(4 / 32 / 2)
    assert sanger.artifact_load_balance(mask, 3, 3, 64, pes=2) == pytest.approx(2 / 3)


def test_profiled_cnn_round_trips_through_the_loader(tmp_path):
    from profiling import pack

    mp = pack.profile_cnn("mobilenet", "nm2:4", 0.5, 3, resolution=32, seed=1, progress=False)
    assert mp.n_samples == 3 and np.all(np.isfinite(mp.lat)) and np.all(mp.lat > 0)
    tp = TracePack(name="t", meta={"synthetic": False}, model_patterns={mp.name: mp}, scenarios={"cnn": [mp.name]})
    save_pack(tp, tmp_path / "t.csv.gz")
    back = load_pack(tmp_path / "t.csv.gz")
    got = back.model_patterns[mp.name]
    assert np.allclose(got.lat, mp.lat, rtol=1e-6) and np.allclose(got.rho, mp.rho, rtol=1e-6)


def test_profile_command_on_the_artifact_cost_model(tmp_path, capsys):
    """``dysta profile --cost-model artifact`` records the cost model and the valid-MAC counts."""
    from dysta_sw.cli import main

    out = tmp_path / "m.csv.gz"
    code = main(["profile", "--model", "mobilenet", "--pattern", "nm2:4", "--rate", "0.5", "--samples", "3",
                 "--resolution", "32", "--cost-model", "artifact", "--no-progress", "--out", str(out)])
    assert code == 0 and "mobilenet/nm2:4/0.5" in capsys.readouterr().out
    mp = load_pack(out).model_patterns["mobilenet/nm2:4/0.5"]
    assert mp.meta["cost_model"] == "artifact" and mp.meta["accelerator_model"]["pes"] == 192
    frac = np.array(mp.meta["valid_macs"]["network_fraction"])
    assert frac.shape == (3,) and np.all((frac > 0) & (frac < 1))
    assert mp.meta["valid_macs"]["fig3_layers"] == [1, 2, 3, 4, 5, 6]  # MobileNet: every layer a Conv2d
    assert not list(tmp_path.glob("*.tmp*"))


def assert_regenerated(mp, shipped, k):
    """The first ``k`` samples of a regenerated model-pattern against the shipped ones.

    Cross-CPU float rounding (thread count, instruction set) may flip a near-zero activation or a
    Q/K entry at a 4-bit rounding boundary, which flips attention-mask entries: regenerating
    measured-v1's MiniLM on two other machines moved 26 of 600 BERT latencies, by at most 3.7e-5
    relative, and 103 of 600 densities, by at most 7.7e-4 relative (up to 249 of the 786,432 mask
    entries a layer's monitor counts); one flipped activation moved a 900-cycle MobileNet layer on
    the artifact's model by one cycle (its cycle count is truncated to an integer). Shapes are
    exact. A real change (threshold, inputs, weights, cost model) moves them by percents.
    """
    np.testing.assert_allclose(mp.lat[:k], shipped.lat[:k], rtol=1e-4, atol=2 / 200e6)  # or 2 cycles
    np.testing.assert_allclose(mp.tiso[:k], shipped.tiso[:k], rtol=1e-4)
    np.testing.assert_allclose(mp.rho[:k].mean(1), shipped.rho[:k].mean(1), rtol=1e-3)
    np.testing.assert_allclose(mp.rho[:k], shipped.rho[:k], rtol=1e-2)
    assert np.array_equal(mp.shape, shipped.shape)


@pytest.mark.profiling
@pytest.mark.parametrize("name", ["bert/sanger/0.002", "mobilenet/channel/0.5"])
def test_shipped_v1_rows_come_from_the_profiler(name):
    """Two model-patterns of the shipped measured-v1, profiled again from their seeds (the trained
    MiniLM on docstrings, density over the padded extent, 24 samples; a pruned MobileNet at 128 px on
    our model, all 100): the same rows and split, within the float-rounding tolerance of
    :func:`assert_regenerated`."""
    from dysta_sw.trace import resolve_pack
    from profiling import pack

    shipped = resolve_pack("measured-v1").model_patterns[name]
    gen = shipped.meta["inputs"]
    model, pattern, rate = name.split("/")
    if pattern == "sanger":
        mp = pack.profile_attention(model, 24, threshold=float(rate), seed=gen["seed"],
                                    max_len=gen["max_len"], text="docstrings", extent="padded")
    else:
        mp = pack.profile_cnn(model, pattern, float(rate), shipped.n_samples, resolution=gen["resolution"],
                              seed=gen["seed"])
        assert np.array_equal(mp.calib, shipped.calib)
    assert mp.name == name
    assert_regenerated(mp, shipped, mp.n_samples)


@pytest.mark.profiling
@pytest.mark.parametrize("name, n", [("bert/sanger/0.002", 6), ("gpt2/sanger/0.002", 8),
                                     ("mobilenet/channel/0.5", 8)])
def test_shipped_v2_rows_come_from_the_profiler(name, n):
    """The first samples of shipped measured-v2 model-patterns, profiled again from the recipe in
    their metadata (BERT-base on SQuAD-like inputs; GPT-2 on sentence pairs; MobileNet at 224 px on
    the artifact's cost model)."""
    from dysta_sw.trace import resolve_pack
    from profiling import pack

    shipped = resolve_pack("measured-v2").model_patterns[name]
    mp = pack.regenerate(shipped.meta, n)
    assert mp.name == name
    # CNNs: the last quarter of a short run is low-light, unlike the pack's first samples
    k = n - round(n * pack.LOW_LIGHT_FRACTION) if "resolution" in mp.meta["profile"] else n
    assert_regenerated(mp, shipped, k)
