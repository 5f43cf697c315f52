"""Bad input to every command ends as ``dysta <command>: error: ...`` (naming the subcommand, the
input and the fix) with exit status 2: never a traceback, never a silent success.

One table of cases per class of bad input (docs/errors.md lists the classes and what each gets).
Each case runs the command line in this process (``dysta_sw.cli.main``); the checks happen before
any long work, so the whole table takes seconds. ``benchmarks/bad_input_survey.py`` runs a longer
list, one ``dysta`` process per case.
"""

import json
import os

import pytest

from dysta_sw.cli import main
from dysta_sw.synthetic import generate_pack
from dysta_sw.trace import save_pack

BIG = str(10 ** 30)
QUICK = ["--seeds", "1", "--requests", "20", "--jobs", "1", "--scheduler", "fcfs"]


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """Good and bad packs and workloads: name -> path."""
    d = tmp_path_factory.mktemp("bad-input")
    save_pack(generate_pack(4, 1, "tiny", n_layers=3), d / "pack.csv")
    lines = (d / "pack.csv").read_text().splitlines(keepends=True)
    meta = json.loads(lines[1][len("# meta: "):])
    assert main(["workload", "export", "--scenario", "attnn", "--rate", "30", "--requests", "12", "-o",
                 str(d / "w.csv")]) == 0
    wlines = (d / "w.csv").read_text().splitlines(keepends=True)
    wmeta = json.loads(wlines[1][len("# meta: "):])

    def with_meta(src, m):
        return [src[0], "# meta: " + json.dumps(m) + "\n", *src[2:]]

    def cell(src, col, value, row=3):
        out = list(src)
        f = out[row].rstrip("\n").split(",")
        f[col] = value
        out[row] = ",".join(f) + "\n"
        return out

    first = lines[3].split(",")[0]
    scen = dict(meta["scenarios"])
    out = {
        # pack cells
        "pack_big_sample": cell(lines, 1, BIG), "pack_big_size": cell(lines, 5, BIG),
        "pack_inf_latency": cell(lines, 3, "1e400"), "pack_nan_density": cell(lines, 4, "nan"),
        "pack_huge_latency": [cell([ln], 3, "1e308", row=0)[0] if k >= 3 else ln for k, ln in enumerate(lines)],
        "pack_tiny_latency": cell(lines, 3, "1e-320"), "pack_split_case": cell(lines, 6, "CALIB"),
        "pack_float_layer": cell(lines, 2, "0.5"), "pack_bad_split": cell(lines, 6, "train"),
        "pack_extra_field": cell(lines, 6, "calib,9"),
        "pack_zero_density": [ln if ln.count(",") != 6 or not ln.split(",")[2] == "1" or not ln.startswith(first)
                              else cell([ln], 4, "0", row=0)[0] for ln in lines],
        # pack metadata of the wrong JSON type or value
        "pack_mp_list": with_meta(lines, {**meta, "model_patterns": list(meta["model_patterns"])}),
        "pack_scen_list": with_meta(lines, {**meta, "scenarios": ["attnn"]}),
        "pack_scen_str": with_meta(lines, {**meta, "scenarios": {"attnn": first}}),
        "pack_name_int": with_meta(lines, {**meta, "name": 7}),
        "pack_synthetic_str": with_meta(lines, {**meta, "synthetic": "no"}),
        "pack_meta_array": [lines[0], "# meta: [1]\n", *lines[2:]],
        # pack metadata against the rows
        "pack_empty_scenario": with_meta(lines, {**meta, "scenarios": {**scen, "attnn": []}}),
        "pack_scenario_twice": with_meta(lines, {**meta, "scenarios": {**scen,
                                                                        "attnn": scen["attnn"] + scen["attnn"][:1]}}),
        "pack_mp_rows_twice": lines + [ln for ln in lines[3:] if ln.startswith(first + ",")],
        "pack_last_sample_removed": lines[:-3],
        "pack_declared_no_rows": [ln for ln in lines if not ln.startswith(lines[-1].split(",")[0] + ",")],
        # pack structure and encoding
        "pack_no_rows": lines[:3], "pack_header_only": lines[:2], "empty": [],
        "pack_wrong_magic": ["# something v1\n", *lines[1:]],
        # workloads
        "wl_rate_str": with_meta(wlines, {**wmeta, "rate": "fast"}),
        "wl_seed_list": with_meta(wlines, {**wmeta, "seed": [1]}),
        "wl_scenario_list": with_meta(wlines, {**wmeta, "scenario": ["attnn"]}),
        "wl_requests_wrong": with_meta(wlines, {**wmeta, "requests": 999}),
        "wl_big_sample": cell(wlines, 3, BIG), "wl_big_priority": cell(wlines, 4, BIG),
        "wl_big_request": cell(wlines, 0, BIG), "wl_request_twice": cell(wlines, 0, "1"),
        "wl_inf_arrival": cell(wlines, 1, "1e400"), "wl_far_arrival": cell(cell(wlines, 1, "1e15", row=-1), 1,
                                                                            "0", row=3),
        "wl_unknown_mp": cell(wlines, 2, "nope/x/1"),
        # a deadline's tbar edited (or its number cut short): not the pack's mean isolated latency
        "wl_tbar_edited": cell(wlines, 5, "1e300"),
        "wl_tbar_cut": cell(wlines, 5, wlines[3].rstrip("\n").split(",")[5][:5]),
    }
    (d / "w_copy.csv").write_text((d / "w.csv").read_text())
    from dysta_sw.trace import shipped_packs
    paths = {"pack": str(d / "pack.csv"), "w": str(d / "w.csv"), "w_copy": str(d / "w_copy.csv"),
             "shipped": str(shipped_packs()["measured-v2"]), "dir": str(d), "missing": str(d / "no" / "x.csv"),
             "under_file": str(d / "pack.csv" / "x.csv")}
    for name, content in out.items():
        (d / f"{name}.csv").write_text("".join(content))
        paths[name] = str(d / f"{name}.csv")
    (d / "binary.csv").write_bytes(b"\x1f\x8b\x00\x01garbage")
    paths["binary"] = str(d / "binary.csv")
    os.mkfifo(d / "fifo")  # a pipe (like /dev/null, a device): renaming an output onto it would replace it
    os.symlink(d / "nowhere", d / "dangling")
    os.symlink(d / "loop2", d / "loop1")
    os.symlink(d / "loop1", d / "loop2")
    paths.update(fifo=str(d / "fifo"), dangling=str(d / "dangling"), loop=str(d / "loop1"),
                 newline=str(d / "no\nsuch" / "x.csv"))
    return paths


def run(capsys, argv):
    try:
        code = main(argv)
    except SystemExit as e:  # argparse's own checks (types, choices) exit with status 2
        code = e.code
    out, err = capsys.readouterr()
    return code, out, err


# (class of bad input, argv with {placeholders} for the files, what the message says)
CASES = [
    # numbers out of range, not finite, or too large to run
    ("number", ["bench", "--rate", "0", *QUICK], "argument --rate: expected a positive finite number"),
    ("number", ["bench", "--rate", "nan", *QUICK], "argument --rate"),
    ("number", ["bench", "--rate", "inf", *QUICK], "argument --rate"),
    ("number", ["bench", "--rate", "1e-12", *QUICK], "float64 time cannot resolve"),
    ("number", ["bench", "--slo", "-1", *QUICK], "argument --slo"),
    ("number", ["bench", "--slo", "nan", *QUICK], "argument --slo"),
    ("number", ["bench", "--seeds", BIG], "argument --seeds: expected a number of seeds from 1 to"),
    ("number", ["bench", "--requests", "1000000000000"], "argument --requests: expected a number of requests"),
    ("number", ["bench", "--jobs", "0"], "argument --jobs"),
    ("number", ["bench", "--beta", "nan", *QUICK], "argument --beta"),
    ("number", ["bench", "--eta", "-1", *QUICK], "argument --eta"),
    ("number", ["bench", "--last-n", BIG, *QUICK], "argument --last-n"),
    ("number", ["reproduce", "--out", "{dir}/r", "--requests", "1000000000000"], "argument --requests"),
    ("number", ["reproduce", "--out", "{dir}/r", "--seeds", "0"], "argument --seeds"),
    ("number", ["workload", "export", "--scenario", "attnn", "--rate", "30", "--seed", "-1", "-o", "{dir}/w2.csv"],
     "argument --seed: expected a seed"),
    ("number", ["workload", "export", "--scenario", "attnn", "--rate", "nan", "-o", "{dir}/w2.csv"], "argument --rate"),
    ("number", ["traces", "generate", "--latency-scale", "nan", "-o", "{dir}/g.csv"], "argument --latency-scale"),
    ("number", ["traces", "generate", "--latency-scale", "inf", "-o", "{dir}/g.csv"], "argument --latency-scale"),
    ("number", ["traces", "generate", "--correlation", "2", "-o", "{dir}/g.csv"], "argument --correlation"),
    ("number", ["traces", "generate", "--samples", "1", "-o", "{dir}/g.csv"], "argument --samples"),
    ("number", ["traces", "generate", "--layers", "0", "-o", "{dir}/g.csv"], "argument --layers"),
    ("number", ["hil", "--slo", "0"], "argument --slo"),
    ("number", ["hil", "--slo", "nan"], "argument --slo"),
    ("number", ["hil", "--slo", "-1"], "argument --slo"),
    ("number", ["hil", "--cycles-per-layer", "0"], "argument --cycles-per-layer"),
    ("number", ["hil", "--cycles-per-layer", "nan"], "argument --cycles-per-layer"),
    ("number", ["hil", "--cycles-per-layer", "1e9"], "from 1 to 1,000,000"),
    ("number", ["hil", "--rate", "-1"], "argument --rate"),
    ("number", ["hil", "--seed", "-1"], "argument --seed"),
    ("number", ["synth", "--freq", "nan"], "argument --freq"),
    ("number", ["profile", "--model", "resnet50", "--pattern", "random", "--rate", "nan", "--out", "{dir}/p.csv"],
     "--rate must be a finite number"),
    ("number", ["profile", "--model", "resnet50", "--pattern", "random", "--rate", "-1", "--out", "{dir}/p.csv"],
     "--rate -1: the fraction of weights pruned lies in [0, 1)"),
    ("number", ["profile", "--model", "bert", "--pattern", "sanger", "--rate", "2", "--out", "{dir}/p.csv"],
     "Sanger's threshold"),
    ("number", ["profile", "--model", "bert", "--pattern", "sanger", "--rate", "0.002", "--samples", "1",
                "--out", "{dir}/p.csv"], "argument --samples"),
    # hardware parameters: named by their flags, the right one
    ("hardware", ["verilog", "--value-width", "0", "-o", "{dir}/v.v"], "--value-width must be an integer from 1"),
    ("hardware", ["verilog", "--n-mp", "0", "-o", "{dir}/v.v"], "--n-mp must be"),
    ("hardware", ["verilog", "--depth", "3", "-o", "{dir}/v.v"], "--depth must be an integer from 8 to 512"),
    ("hardware", ["verilog", "--time-bits", "4", "-o", "{dir}/v.v"], "--time-bits must be"),
    ("hardware", ["verilog", "--stages", "x", "-o", "{dir}/v.v"], "--stages 'x'"),
    ("hardware", ["verilog", "--name", "bad name", "-o", "{dir}/v.v"], "is not a Verilog module name"),
    ("hardware", ["hw-latency", "--depth", "3", "--model-only"], "--depth must be an integer from 8 to 512"),
    ("hardware", ["hw-latency", "--queued", "100", "--model-only"], "--queued 100 is more than --depth 64"),
    ("hardware", ["hil", "--depth", "3"], "--depth must be an integer from 8 to 512"),
    ("hardware", ["board", "sim", "icebreaker", "--depth", "3"], "--depth must be"),
    ("hardware", ["board", "run", "icebreaker", "--port", "/dev/nonexistent"], "--port '/dev/nonexistent': no such"),
    ("hardware", ["verilog", "--name", "always", "-o", "{dir}/v.v"], "--name 'always' is a reserved word of Verilog"),
    ("hardware", ["board", "build", "icebreaker", "--clock", "inf", "--out", "{dir}/b"],
     "--clock 'inf': give a frequency in MHz"),
    # output paths
    ("output", ["bench", "--runs-csv", "{missing}", *QUICK], "does not exist; create it first"),
    ("output", ["bench", "--runs-csv", "{dir}", *QUICK], "is a directory; give a file name"),
    ("output", ["bench", "--runs-csv", "{under_file}", *QUICK], "is a file, not a directory"),
    ("output", ["bench", "--runs-csv", "", *QUICK], "--runs-csv is empty"),
    ("output", ["reproduce", "--out", ""], "--out is empty"),
    ("output", ["reproduce", "--out", "{pack}"], "is a file, not a directory"),
    ("output", ["reproduce", "--out", "{under_file}"], "is a file, not a directory"),
    ("output", ["workload", "export", "--scenario", "attnn", "--rate", "30", "-o", "{missing}"], "does not exist"),
    ("output", ["workload", "export", "--scenario", "attnn", "--rate", "30", "-o", "{dir}"], "is a directory"),
    ("output", ["traces", "generate", "-o", "{missing}"], "does not exist"),
    ("output", ["traces", "generate", "-o", ""], "--output is empty"),
    ("output", ["profile", "--model", "resnet50", "--pattern", "random", "--rate", "0.5", "--out", "{missing}"],
     "does not exist"),
    ("output", ["profile", "--model", "resnet50", "--pattern", "random", "--rate", "0.5", "--out", "{dir}"],
     "is a directory"),
    ("output", ["verilog", "-o", "{missing}"], "does not exist"),
    ("output", ["verilog", "-o", "{dir}"], "is a directory"),
    ("output", ["synth", "--out", "{pack}"], "is a file, not a directory"),
    ("output", ["bench", "--runs-csv", "{fifo}", *QUICK], "is a device or pipe, not a regular file"),
    ("output", ["traces", "generate", "-o", "{fifo}"], "is a device or pipe, not a regular file"),
    ("output", ["bench", "--runs-csv", "{loop}", *QUICK], "a symbolic link to nothing"),
    ("output", ["reproduce", "--out", "{dangling}"], "a symbolic link to nothing (its target is missing"),
    ("output", ["traces", "generate", "-o", "{newline}"], "does not exist"),  # one line: the path quoted
    ("output", ["bench", "--workload", "{w}", "--runs-csv", "{w}"], "is also the input --workload"),
    ("output", ["workload", "export", "--scenario", "attnn", "--rate", "30", "--traces", "{pack}", "-o", "{pack}"],
     "is also the input --traces"),
    ("output", ["board", "build", "icebreaker", "--out", ""], "--out is empty"),
    # options that contradict each other or repeat
    ("conflict", ["bench", "--workload", "{w}", "--rate", "30"], "--rate cannot be used with --workload"),
    ("conflict", ["bench", "--workload", "{w}", "--seeds", "3"], "--seeds cannot be used with --workload"),
    ("conflict", ["bench", "--workload", "{w}", "--requests", "10"], "--requests cannot be used with --workload"),
    ("conflict", ["bench", "--workload", "{w}", "--scenario", "cnn"], "--scenario cannot be used with --workload"),
    ("conflict", ["bench", "--workload", "{w}", "{w}"], "--workload lists"),
    ("conflict", ["bench", "--quick", *QUICK], "--quick only applies with --speed"),
    ("conflict", ["bench", "--speed", "--rate", "30"], "--speed runs its own fixed benchmark"),
    ("conflict", ["bench", "--scheduler", "dysta", "dysta", *QUICK[:-2]], "--scheduler lists 'dysta' twice"),
    ("conflict", ["bench", "--slo", "10", "10", *QUICK], "--slo lists 10.0 twice"),
    ("conflict", ["bench", "--scenario", "cnn", "cnn", *QUICK], "--scenario lists 'cnn' twice"),
    ("conflict", ["profile", "--model", "bert", "--pattern", "random", "--rate", "0.5", "--out", "{dir}/p.csv"],
     "takes --pattern sanger"),
    ("conflict", ["bench", "--rate", "30", "--load", "0.5", *QUICK], "--load sets the arrival rate, which --rate"),
    ("conflict", ["bench", "--workload", "{w}", "--load", "0.5"], "--load cannot be used with --workload"),
    ("conflict", ["bench", "--speed", "--format", "json"], "does not take --format"),
    ("conflict", ["bench", "--speed", "--beta", "0.5", "--profile", "reference"], "does not take --profile, --beta"),
    ("conflict", ["hw-latency", "--queued", "8", "8", "--model-only"], "--queued lists 8 twice"),
    ("conflict", ["verilog", "--stages", "mul=1,mul=2", "-o", "{dir}/v.v"], "lists 'mul' twice"),
    ("conflict", ["synth", "--check"], "--check only applies with --goals"),
    ("conflict", ["synth", "--depths", "8"], "--depths only applies with --sweep"),
    ("conflict", ["synth", "--cluster", "tcp://host:8786"], "--cluster only applies with --sweep"),
    ("conflict", ["synth", "--goals", "--sweep"], "--goals measures every goal on the installed design and does "
     "not take --sweep"),
    ("conflict", ["synth", "--force"], "--force only applies with --out"),
    ("conflict", ["profile", "--model", "resnet50", "--pattern", "random", "--rate", "0.5", "--max-len", "64",
                  "--out", "{dir}/p.csv"], "--max-len is for the attention models"),
    ("conflict", ["profile", "--model", "bert", "--pattern", "sanger", "--rate", "0.002", "--resolution", "64",
                  "--out", "{dir}/p.csv"], "--resolution is for the CNNs"),
    ("conflict", ["profile", "--model", "resnet50", "--pattern", "dense", "--rate", "0.5", "--out", "{dir}/p.csv"],
     "--pattern dense prunes no weights"),
    # cluster addresses, checked before any work (Dask would fail deep inside, after a timeout)
    ("cluster", ["bench", "--cluster", "tcp://host:notaport", *QUICK], "has a port that is not a number"),
    ("cluster", ["bench", "--cluster", "", *QUICK], "--cluster is empty"),
    ("cluster", ["reproduce", "--out", "{dir}/r", "--cluster", "tcp://:8786"], "(from --cluster) has no host"),
    ("cluster", ["synth", "--sweep", "--cluster", "tcp://host:99999"], "has a port that is not a number"),
    # names that do not exist
    ("name", ["bench", "--scheduler", "nosuch", *QUICK[:-2]], "unknown scheduler 'nosuch'"),
    # options the command does not have: named by that command, not by ``dysta``
    ("option", ["bench", "-o", "x.csv", *QUICK], "unrecognized arguments: -o x.csv"),
    ("option", ["traces", "validate", "--bogus", "{pack}"], "unrecognized arguments: --bogus"),
    ("option", ["reproduce", "--out", "{dir}/r", "--quick", "stray"], "unrecognized arguments: stray"),
    ("name", ["bench", "--traces", "nopack", *QUICK], "unknown trace pack 'nopack'"),
    ("name", ["bench", "--traces", "", *QUICK], "--traces is empty"),
    ("name", ["bench", "--traces", "{dir}", *QUICK], "unknown trace pack"),
    ("name", ["traces", "generate", "--name", "a b", "-o", "{dir}/g.csv"], "a pack name is letters"),
    ("name", ["bench", "--workload", "{missing}"], "does not exist"),
    ("name", ["traces", "validate", "{dir}"], "is a directory, not a file"),
    ("name", ["bench", "--scenario", "cnn", "--traces", "{pack_empty_scenario}", *QUICK], "lists no model-pattern"),
    ("name", ["traces", "show", ""], "the pack is empty"),
    ("name", ["traces", "validate", ""], "a file name is empty"),
    ("name", ["traces", "validate", "{fifo}"], "is a device or pipe, not a trace pack file"),
    ("name", ["bench", "--workload", ""], "--workload is empty"),
    ("name", ["bench", "--workload", "{w}", "{w_copy}"], "would be averaged as one seed"),
    ("name", ["traces", "generate", "--samples", "2", "-o", "{shipped}"], "is the shipped trace pack 'measured-v2'"),
    ("name", ["synth", "--sweep", "--depths", "8,64,8", "--no-pnr"], "lists 8 more than once"),
    ("name", ["synth", "--sweep", "--fmts", "fp16,fp16", "--no-pnr"], "lists fp16 more than once"),
    ("number", ["verilog", "--stages", "65", "-o", "{dir}/v.v"], "from 0 to 64, not 65"),
    ("number", ["hw-latency", "--model-only", "--stages", "mul=100000"], "from 0 to 64, not 100000"),
    # trace packs: cells, metadata, metadata against the rows, structure
    ("pack", ["traces", "validate", "{pack_big_sample}"], "sample 1000000000000000000000000000000 is too large"),
    ("pack", ["traces", "validate", "{pack_big_size}"], "output_size 1000000000000000000000000000000 is too large"),
    ("pack", ["traces", "validate", "{pack_inf_latency}"], "latency_s must be a positive finite"),
    ("pack", ["traces", "validate", "{pack_nan_density}"], "density must lie in [0, 1]"),
    ("pack", ["traces", "show", "{pack_huge_latency}"], "latency_s must lie from 1e-15 to 1e+09 s"),
    ("pack", ["bench", "--traces", "{pack_huge_latency}", *QUICK], "latency_s must lie from 1e-15 to 1e+09 s"),
    ("pack", ["traces", "validate", "{pack_tiny_latency}"], "latency_s must lie from 1e-15 to 1e+09 s"),
    ("pack", ["traces", "validate", "{pack_split_case}"], "split must be 'calib' or 'test', not 'CALIB'"),
    ("pack", ["traces", "validate", "{pack_float_layer}"], "layer '0.5' is not an integer"),
    ("pack", ["traces", "validate", "{pack_bad_split}"], "split must be 'calib' or 'test'"),
    ("pack", ["traces", "validate", "{pack_extra_field}"], "8 fields, expected 7"),
    ("pack", ["traces", "validate", "{pack_zero_density}"], "layer 1 has density 0 in every calibration sample"),
    ("pack", ["traces", "validate", "{pack_mp_list}"], "\"model_patterns\" must be an object"),
    ("pack", ["traces", "validate", "{pack_scen_list}"], "\"scenarios\" must be a non-empty object"),
    ("pack", ["traces", "validate", "{pack_scen_str}"], "must list its model-patterns' names"),
    ("pack", ["traces", "validate", "{pack_name_int}"], "\"name\" must be a non-empty string"),
    ("pack", ["traces", "validate", "{pack_synthetic_str}"], "\"synthetic\" must be true or false"),
    ("pack", ["traces", "validate", "{pack_meta_array}"], "metadata must be a JSON object"),
    ("pack", ["traces", "validate", "{pack_empty_scenario}"], "scenario 'attnn' lists no model-pattern"),
    ("pack", ["traces", "validate", "{pack_scenario_twice}"], "twice (it would draw twice as many requests)"),
    ("pack", ["traces", "validate", "{pack_mp_rows_twice}"], "is listed again"),
    ("pack", ["traces", "validate", "{pack_last_sample_removed}"], "has 3 samples but the pack's generator.n_samples"),
    ("pack", ["traces", "validate", "{pack_declared_no_rows}"], "which has no rows in the file"),
    ("pack", ["traces", "validate", "{pack_no_rows}"], "has a header but no data rows"),
    ("pack", ["traces", "validate", "{pack_header_only}"], "missing the column header"),
    ("pack", ["traces", "validate", "{empty}"], "line 1: expected '# dysta-trace-pack v1'"),
    ("pack", ["traces", "validate", "{pack_wrong_magic}"], "this is not a dysta-trace-pack file"),
    ("pack", ["traces", "validate", "{binary}"], "corrupt or truncated gzip data"),
    ("pack", ["traces", "show", "{pack_mp_rows_twice}"], "is listed again"),
    ("pack", ["bench", "--traces", "{pack_big_size}", *QUICK], "is too large"),
    # workload files
    ("workload", ["bench", "--workload", "{wl_rate_str}"], "\"rate\" must be a number, not \"fast\""),
    ("workload", ["bench", "--workload", "{wl_seed_list}"], "\"seed\" must be an integer, not [1]"),
    ("workload", ["bench", "--workload", "{wl_scenario_list}"], "\"scenario\" must be a string"),
    ("workload", ["bench", "--workload", "{wl_requests_wrong}"], "the metadata says 999 requests"),
    ("workload", ["bench", "--workload", "{wl_big_sample}"], "sample 1000000000000000000000000000000 is too large"),
    ("workload", ["bench", "--workload", "{wl_big_priority}"], "priority 1000000000000000000000000000000 is too large"),
    ("workload", ["bench", "--workload", "{wl_big_request}"], "request 1000000000000000000000000000000 is too large"),
    ("workload", ["bench", "--workload", "{wl_request_twice}"], "request id listed twice"),
    ("workload", ["bench", "--workload", "{wl_inf_arrival}"], "arrival_s must be a finite time"),
    ("workload", ["bench", "--workload", "{wl_far_arrival}"], "float64 time steps by"),
    ("workload", ["bench", "--workload", "{wl_unknown_mp}"], "model-pattern 'nope/x/1' is not in scenario"),
    ("workload", ["bench", "--workload", "{pack}"], "this is not a dysta-workload file"),
    ("workload", ["bench", "--workload", "{wl_tbar_edited}"], "tbar_model_s 1e+300 is not the mean isolated latency"),
    ("workload", ["bench", "--workload", "{wl_tbar_cut}"], "the file was edited or cut"),
]

SUBCOMMANDS = {"workload": 2, "traces": 2, "board": 2}


def _command(argv) -> str:
    return "dysta " + " ".join(argv[:SUBCOMMANDS.get(argv[0], 1)])


@pytest.mark.parametrize("kind, argv, message", CASES, ids=[f"{c[0]}:{' '.join(c[1][:4])}" for c in CASES])
def test_bad_input_is_refused_by_name(capsys, files, kind, argv, message):
    if argv[0] in ("verilog", "hw-latency", "hil", "synth", "board"):
        pytest.importorskip("amaranth")
    argv = [a.format(**files) for a in argv]
    code, out, err = run(capsys, argv)
    assert "Traceback" not in err
    assert code == 2, f"exit {code}: {out[-300:]}{err[-300:]}"
    last = err.strip().splitlines()[-1]
    assert last.startswith(f"{_command(argv)}: error: "), last
    assert message in last


def test_cluster_address_from_the_environment_is_checked(capsys, monkeypatch):
    monkeypatch.setenv("DYSTA_CLUSTER", "tcp://host:notaport")
    code, out, err = run(capsys, ["bench", *QUICK])
    assert code == 2 and "Traceback" not in err
    assert err.strip().splitlines()[-1].startswith("dysta bench: error: cluster address tcp://host:notaport (from "
                                                   "DYSTA_CLUSTER) has a port that is not a number from 1 to 65535")


def test_a_pack_slower_than_the_hardware_counter_holds_is_named(capsys, tmp_path):
    """A pack whose layers last so long that the time quantum outgrows the cycle counter: the error
    names the pack's time scale, not the internal time_shift."""
    save_pack(generate_pack(2, 1, "slow", n_layers=3, latency_scale=1e9), tmp_path / "slow.csv")
    code, out, err = run(capsys, ["bench", "--traces", str(tmp_path / "slow.csv"), *QUICK[:-1], "dysta-hw-fp16"])
    assert code == 2 and "Traceback" not in err
    last = err.strip().splitlines()[-1]
    assert "the trace pack's layers are" in last and "48-bit cycle counter" in last and "time_shift" not in last


def test_generated_packs_load_at_every_latency_scale(tmp_path):
    """traces generate at the smallest and largest --latency-scale writes packs dysta loads
    (latencies below a microsecond keep their significant digits instead of rounding to zero)."""
    from dysta_sw.trace import load_pack
    for scale in (1e-9, 1e9):
        path = tmp_path / f"g{scale:g}.csv"
        assert main(["traces", "generate", "--samples", "2", "--latency-scale", str(scale), "-o", str(path)]) == 0
        pack = load_pack(path)
        assert min(float(mp.lat.min()) for mp in pack.model_patterns.values()) > 0


def test_synth_goals_takes_its_own_options(capsys, monkeypatch):
    """--check, --no-sim and --cached go with --goals (they reach the goal context); --check exits
    with status 1 while a goal is unmet, 0 when every one is met. The goal rows are stood in for
    here (measuring them synthesizes designs: tests/test_synth.py)."""
    pytest.importorskip("amaranth")
    from dysta_hw import goals

    seen, verdict = [], {}

    def table(ctx):
        seen.append(ctx)
        return [{"goal": "a", "target": "1", "measured": "1", "met": "yes", "note": ""},
                {"goal": "b", "target": "2", "measured": "3", "met": verdict["b"], "note": ""}]

    monkeypatch.setattr(goals, "goal_table", table)
    for verdict["b"], status in (("NO", 1), ("n/a", 1), ("yes", 0)):
        code, out, err = run(capsys, ["synth", "--goals", "--check", "--no-sim", "--cached"])
        assert "Traceback" not in err and "only applies" not in err
        assert code == status and "Goals of the hardware scheduler" in out
    assert all(ctx.cache_only and not ctx.simulate for ctx in seen) and len(seen) == 3
    code, out, err = run(capsys, ["synth", "--goals", "--no-sim"])
    assert code == 0  # without --check the verdicts do not set the status


def test_cache_directory_that_is_a_file_is_named(capsys, monkeypatch, tmp_path):
    (tmp_path / "afile").write_text("")
    monkeypatch.setenv("DYSTA_CACHE_DIR", str(tmp_path / "afile"))
    from dysta_sw import tools
    from dysta_sw.errors import DystaInputError
    with pytest.raises(DystaInputError, match="DYSTA_CACHE_DIR=.* is not a directory"):
        tools.cache_dir("verilator")


def test_output_in_a_directory_that_takes_no_files_is_named(capsys):
    if not os.path.isdir("/proc"):
        pytest.skip("no /proc on this system")
    code, out, err = run(capsys, ["traces", "generate", "--samples", "2", "-o", "/proc/x.csv"])
    assert code == 2 and "Traceback" not in err
    assert "--output /proc/x.csv: cannot create a file in the directory '/proc'" in err


def test_a_trace_that_cannot_be_read_is_named(capsys, tmp_path, monkeypatch):
    """A read that fails with an OSError carrying no file name (EIO, as /proc/self/mem gives) names
    the trace file, not only the system's message."""
    import builtins
    import errno

    path = tmp_path / "pack.csv"
    save_pack(generate_pack(2, 1, "tiny", n_layers=2), path)
    real_open = builtins.open

    def failing_open(file, *args, **kw):
        if str(file) == str(path):
            raise OSError(errno.EIO, os.strerror(errno.EIO))
        return real_open(file, *args, **kw)

    monkeypatch.setattr(builtins, "open", failing_open)
    code, out, err = run(capsys, ["traces", "validate", str(path)])
    assert code == 2 and "Traceback" not in err
    assert f"{path}: cannot be read (Input/output error)" in err


def test_every_class_is_documented():
    from pathlib import Path

    doc = (Path(__file__).parent.parent / "docs" / "errors.md").read_text()
    for kind in dict.fromkeys(c[0] for c in CASES):
        assert f"| {kind} |" in doc
