"""Survey of the ``dysta`` command line under bad input: runs every case of a long list as a user would
(a separate ``dysta`` process each) and classifies the outcome.

    python benchmarks/bad_input_survey.py [--only WORD] [--timeout S] [--verbose]

Classes: ``clean`` (exit 2, one ``dysta <command>: error: ...`` line naming the subcommand, no
traceback), ``traceback``, ``accepted`` (exit 0 or a timeout: the bad input was not refused),
``other`` (any other exit status or message format). Prints one line per case that is not clean
and the count per class. The fast tier's table of cases is ``tests/test_bad_input.py``; this list
is longer and also runs the commands of the extras (hardware, boards, profiling) when installed.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

BIG = str(10 ** 30)


def _pack_lines(d: Path) -> list[str]:
    small = d / "small.csv"
    if not small.exists():
        subprocess.run([sys.executable, "-m", "dysta_sw.cli", "traces", "generate", "--samples", "4", "--layers", "3",
                        "-o", str(small)], check=True, capture_output=True)
    return small.read_text().splitlines(keepends=True)


def _meta(lines):
    return json.loads(lines[1][len("# meta: "):])


def _with_meta(lines, meta):
    return [lines[0], "# meta: " + json.dumps(meta) + "\n", *lines[2:]]


def make_files(d: Path) -> dict[str, str]:
    """Bad (and a few good) input files; returns name -> path."""
    lines = _pack_lines(d)
    meta = _meta(lines)
    first_mp = lines[3].split(",")[0]
    files: dict[str, list[str] | bytes] = {}

    def field(row_lines, col, value, row=3):
        out = list(row_lines)
        f = out[row].rstrip("\n").split(",")
        f[col] = value
        out[row] = ",".join(f) + "\n"
        return out

    files["pack_big_sample"] = field(lines, 1, BIG)
    files["pack_big_layer"] = field(lines, 2, BIG)
    files["pack_big_size"] = field(lines, 5, BIG)
    files["pack_inf_latency"] = field(lines, 3, "1e400")
    files["pack_nan_density"] = field(lines, 4, "nan")
    files["pack_neg_sample"] = field(lines, 1, "-1")
    files["pack_float_sample"] = field(lines, 1, "0.5")
    files["pack_bad_split"] = field(lines, 6, "train")
    files["pack_meta_mp_list"] = _with_meta(lines, {**meta, "model_patterns": list(meta["model_patterns"])})
    files["pack_meta_scen_list"] = _with_meta(lines, {**meta, "scenarios": ["attnn"]})
    files["pack_meta_scen_str"] = _with_meta(lines, {**meta, "scenarios": {"attnn": first_mp}})
    files["pack_meta_name_int"] = _with_meta(lines, {**meta, "name": 7})
    files["pack_meta_synthetic_str"] = _with_meta(lines, {**meta, "synthetic": "no"})
    files["pack_meta_mp_meta_list"] = _with_meta(lines, {**meta, "model_patterns": {
        k: [] for k in meta["model_patterns"]}})
    files["pack_empty_scenario"] = _with_meta(lines, {**meta, "scenarios": {**meta["scenarios"], "attnn": []}})
    sc = dict(meta["scenarios"])
    sc["attnn"] = sc["attnn"] + sc["attnn"][:1]
    files["pack_dup_in_scenario"] = _with_meta(lines, {**meta, "scenarios": sc})
    files["pack_scenario_names_unknown"] = _with_meta(lines, {**meta, "scenarios": {
        **meta["scenarios"], "attnn": ["nope/x/1"]}})
    # the last sample of the last model-pattern removed (its metadata says 4 samples)
    body = [ln for ln in lines[3:]]
    n_layers = 3
    files["pack_last_sample_removed"] = lines[:3] + body[:-n_layers]
    # a model-pattern's rows in two blocks (listed twice)
    mp_rows = [ln for ln in body if ln.startswith(first_mp + ",")]
    files["pack_mp_rows_twice"] = lines + mp_rows
    # a layer row missing in the middle
    files["pack_layer_missing"] = lines[:4] + lines[5:]
    files["pack_no_rows"] = lines[:3]
    files["pack_header_only"] = lines[:2]
    files["pack_wrong_columns"] = [lines[0], lines[1], "a,b,c\n", *lines[3:]]
    files["pack_extra_field"] = field(lines, 6, "calib,9")
    files["pack_empty_mp_name"] = field(lines, 0, "")
    files["pack_meta_not_json"] = [lines[0], "# meta: {nope\n", *lines[2:]]
    files["pack_meta_array"] = [lines[0], "# meta: [1]\n", *lines[2:]]
    files["pack_meta_missing_scen"] = _with_meta(lines, {k: v for k, v in meta.items() if k != "scenarios"})
    files["pack_wrong_magic"] = ["# something else v1\n", *lines[1:]]
    files["pack_v2"] = ["# dysta-trace-pack v2\n", *lines[1:]]
    files["empty_file"] = []
    files["pack_binary"] = b"\x00\x01\x02\xff\xfe" * 100
    text = "".join(lines).encode()
    files["pack_truncated_gz"] = gzip.compress(text)[:200]
    files["pack_bad_utf8_late"] = text + b"\xff\xfe,0,0,1,1,1,calib\n"
    files["pack_ok"] = lines
    # workloads
    wpath = d / "w_ok.csv"
    subprocess.run([sys.executable, "-m", "dysta_sw.cli", "workload", "export", "--scenario", "attnn", "--rate", "30",
                    "--requests", "20", "-o", str(wpath)], check=True, capture_output=True)
    wl = wpath.read_text().splitlines(keepends=True)
    wmeta = _meta(wl)
    files["wl_rate_str"] = _with_meta(wl, {**wmeta, "rate": "fast"})
    files["wl_seed_list"] = _with_meta(wl, {**wmeta, "seed": [1]})
    files["wl_scenario_list"] = _with_meta(wl, {**wmeta, "scenario": ["attnn"]})
    files["wl_scenario_missing"] = _with_meta(wl, {k: v for k, v in wmeta.items() if k != "scenario"})
    files["wl_rate_neg"] = _with_meta(wl, {**wmeta, "rate": -3})
    files["wl_requests_wrong"] = _with_meta(wl, {**wmeta, "requests": 999})
    files["wl_fingerprint_other"] = _with_meta(wl, {**wmeta, "pack_fingerprint": "0" * 16})
    files["wl_big_sample"] = field(wl, 3, BIG)
    files["wl_big_priority"] = field(wl, 4, BIG)
    files["wl_big_request"] = field(wl, 0, BIG)
    files["wl_inf_arrival"] = field(wl, 1, "1e400")
    files["wl_unknown_mp"] = field(wl, 2, "nope/x/1")
    files["wl_no_rows"] = wl[:3]
    files["wl_request_ids_dup"] = field(wl, 0, "1", row=3)
    files["wl_tbar_edited"] = field(wl, 5, "1e300")
    files["wl_tbar_cut"] = field(wl, 5, wl[3].rstrip("\n").split(",")[5][:5])
    files["wl_ok"] = wl
    out = {}
    for name, content in files.items():
        p = d / f"{name}.csv"
        if isinstance(content, bytes):
            p.write_bytes(content)
        else:
            p.write_text("".join(content))
        out[name] = str(p)
    out["dir"] = str(d / "adir")
    os.makedirs(out["dir"], exist_ok=True)
    out["missing_dir_file"] = str(d / "nodir" / "x.csv")
    out["file_as_dir"] = str(d / "pack_ok.csv" / "sub")
    os.mkfifo(d / "fifo")
    os.symlink(d / "nowhere", d / "dangling")
    out.update(fifo=str(d / "fifo"), dangling=str(d / "dangling"), newline=str(d / "no\nsuch" / "x.csv"))
    return out


def cases(f: dict[str, str]) -> list[tuple[str, list[str]]]:
    """(label, argv) of every bad input tried."""
    quick = ["--seeds", "1", "--requests", "20", "--jobs", "1", "--scheduler", "fcfs"]
    c: list[tuple[str, list[str]]] = []
    add = c.append
    # bench numbers
    # (--rate 1e300 and --slo 1e300 are valid: every request arrives at once / no deadline is missed)
    for v in ("1e-12", "0", "-1", "nan", "inf", "1e-300"):
        add((f"bench --rate {v}", ["bench", "--rate", v, *quick]))
    for v in ("0", "-1", "nan", "inf", "-inf"):
        add((f"bench --slo {v}", ["bench", "--slo", v, *quick]))
    for v in ("0", "-1", BIG, "1.5", "x"):
        add((f"bench --seeds {v}", ["bench", "--seeds", v, "--requests", "20", "--jobs", "1"]))
    for v in ("1000000000000", "0", BIG, "1e3"):
        add((f"bench --requests {v}", ["bench", "--requests", v, "--seeds", "1", "--jobs", "1"]))
    for v in ("0", "-2", BIG):
        add((f"bench --jobs {v}", ["bench", "--jobs", v, "--seeds", "1", "--requests", "20"]))
    for opt, vals in (("--beta", ("nan", "inf", "-1")), ("--eta", ("nan", "inf", "-1")),
                      ("--alpha", ("nan", "inf", "-1")), ("--last-n", ("0", "-1", BIG))):
        for v in vals:
            add((f"bench {opt} {v}", ["bench", opt, v, *quick[:-2], "--scheduler", "dysta", "sdrm3"]))
    add(("bench --scheduler nope", ["bench", "--scheduler", "nope", *quick[:-2]]))
    add(("bench --scheduler dysta dysta", ["bench", *quick[:-2], "--scheduler", "dysta", "dysta"]))
    add(("bench --scenario attnn attnn", ["bench", "--scenario", "attnn", "attnn", *quick]))
    add(("bench --slo 10 10", ["bench", "--slo", "10", "10", *quick]))
    add(("bench --rate 30 30", ["bench", "--rate", "30", "30", *quick]))
    add(("bench --traces nope", ["bench", "--traces", "nope", *quick]))
    add(("bench --traces DIR", ["bench", "--traces", f["dir"], *quick]))
    add(("bench --traces ''", ["bench", "--traces", "", *quick]))
    add(("bench --runs-csv missing dir", ["bench", "--runs-csv", f["missing_dir_file"], *quick]))
    add(("bench --runs-csv DIR", ["bench", "--runs-csv", f["dir"], *quick]))
    add(("bench --runs-csv under a file", ["bench", "--runs-csv", f["file_as_dir"], *quick]))
    add(("bench --runs-csv ''", ["bench", "--runs-csv", "", *quick]))
    add(("bench --cluster bad", ["bench", "--cluster", "bad", *quick]))
    add(("bench --cluster ''", ["bench", "--cluster", "", *quick]))
    add(("bench --cluster tcp://host:notaport", ["bench", "--cluster", "tcp://host:notaport", *quick]))
    add(("bench --cluster tcp://:8786", ["bench", "--cluster", "tcp://:8786", *quick]))
    add(("bench --runs-csv FIFO", ["bench", "--runs-csv", f["fifo"], *quick]))
    add(("bench --runs-csv dangling link", ["bench", "--runs-csv", f["dangling"], *quick]))
    add(("bench --runs-csv = --workload", ["bench", "--workload", f["wl_ok"], "--runs-csv", f["wl_ok"], "--jobs", "1",
                                          "--scheduler", "fcfs"]))
    add(("bench --rate with --load", ["bench", "--rate", "30", "--load", "0.5", *quick]))
    add(("bench --workload with --load", ["bench", "--workload", f["wl_ok"], "--load", "0.5", "--jobs", "1"]))
    add(("bench --speed --format json", ["bench", "--speed", "--format", "json", "--quick"]))
    add(("bench --speed --beta 0.5", ["bench", "--speed", "--beta", "0.5", "--quick"]))
    add(("bench --workload ''", ["bench", "--workload", "", "--jobs", "1"]))
    add(("bench --quick without --speed", ["bench", "--quick", *quick]))
    add(("bench --no-reproduce without --speed", ["bench", "--no-reproduce", *quick]))
    add(("bench --speed --workload", ["bench", "--speed", "--workload", f["wl_ok"]]))
    add(("bench --speed --rate", ["bench", "--speed", "--rate", "30"]))
    for opt in (["--rate", "30"], ["--seeds", "3"], ["--requests", "10"], ["--scenario", "cnn"]):
        add((f"bench --workload with {opt[0]}", ["bench", "--workload", f["wl_ok"], *opt, "--jobs", "1",
                                                 "--scheduler", "fcfs"]))
    add(("bench --workload twice", ["bench", "--workload", f["wl_ok"], f["wl_ok"], "--jobs", "1", "--scheduler",
                                    "fcfs"]))
    add(("bench --workload missing", ["bench", "--workload", f["missing_dir_file"], "--jobs", "1"]))
    add(("bench --workload DIR", ["bench", "--workload", f["dir"], "--jobs", "1"]))
    for name in [k for k in f if k.startswith("wl_") and k != "wl_ok"]:
        add((f"bench --workload {name}", ["bench", "--workload", f[name], "--jobs", "1", "--scheduler", "fcfs"]))
    add(("bench --workload a trace pack", ["bench", "--workload", f["pack_ok"], "--jobs", "1"]))
    for name in [k for k in f if k.startswith(("pack_", "empty_")) and k != "pack_ok"]:
        add((f"traces validate {name}", ["traces", "validate", f[name]]))
    for name in ("pack_big_size", "pack_empty_scenario", "pack_dup_in_scenario", "pack_meta_mp_list",
                 "pack_last_sample_removed"):
        add((f"bench --traces {name}", ["bench", "--traces", f[name], *quick]))
        add((f"traces show {name}", ["traces", "show", f[name]]))
    add(("traces validate DIR", ["traces", "validate", f["dir"]]))
    add(("traces validate ''", ["traces", "validate", ""]))
    add(("traces validate FIFO", ["traces", "validate", f["fifo"]]))
    add(("traces show ''", ["traces", "show", ""]))
    add(("traces show nope", ["traces", "show", "nope"]))
    # reproduce
    rq = ["--quick", "--seeds", "1", "--requests", "20", "--jobs", "1"]
    add(("reproduce --out ''", ["reproduce", "--out", "", *rq]))
    add(("reproduce --out FILE", ["reproduce", "--out", f["pack_ok"], *rq]))
    add(("reproduce --out under a file", ["reproduce", "--out", f["file_as_dir"], *rq]))
    add(("reproduce --out dangling link", ["reproduce", "--out", f["dangling"], *rq]))
    add(("reproduce --seeds 0", ["reproduce", "--out", f["dir"] + "/r", "--quick", "--seeds", "0"]))
    add(("reproduce --requests 10^12", ["reproduce", "--out", f["dir"] + "/r", "--quick", "--requests",
                                        "1000000000000"]))
    add(("reproduce --traces nope", ["reproduce", "--out", f["dir"] + "/r", *rq, "--traces", "nope"]))
    add(("reproduce --beta nan", ["reproduce", "--out", f["dir"] + "/r", *rq, "--beta", "nan"]))
    add(("reproduce --traces empty scenario", ["reproduce", "--out", f["dir"] + "/r", *rq, "--traces",
                                              f["pack_empty_scenario"]]))
    # workload export
    we = ["workload", "export", "--scenario", "attnn", "--rate", "30", "--requests", "10"]
    add(("workload export -o missing dir", [*we, "-o", f["missing_dir_file"]]))
    add(("workload export -o DIR", [*we, "-o", f["dir"]]))
    add(("workload export -o ''", [*we, "-o", ""]))
    add(("workload export -o under a file", [*we, "-o", f["file_as_dir"]]))
    add(("workload export -o FIFO", [*we, "-o", f["fifo"]]))
    add(("workload export -o = --traces", [*we, "--traces", f["pack_ok"], "-o", f["pack_ok"]]))
    for v in ("nan", "0", "-1", "inf", "1e-12"):
        add((f"workload export --rate {v}", ["workload", "export", "--scenario", "attnn", "--rate", v,
                                             "--requests", "10", "-o", f["dir"] + "/w.csv"]))
    for v in ("-1", BIG):
        add((f"workload export --seed {v}", [*we, "--seed", v, "-o", f["dir"] + "/w.csv"]))
    add(("workload export --requests 10^12", ["workload", "export", "--scenario", "attnn", "--rate", "30",
                                              "--requests", "1000000000000", "-o", f["dir"] + "/w.csv"]))
    add(("workload export --traces pack without cnn", ["workload", "export", "--scenario", "cnn", "--rate", "3",
                                                       "--requests", "10", "--traces", f["pack_empty_scenario"],
                                                       "-o", f["dir"] + "/w.csv"]))
    # traces generate
    tg = ["traces", "generate", "--samples", "4", "--layers", "3"]
    add(("traces generate -o missing dir", [*tg, "-o", f["missing_dir_file"]]))
    add(("traces generate -o DIR", [*tg, "-o", f["dir"]]))
    add(("traces generate -o ''", [*tg, "-o", ""]))
    add(("traces generate -o path with a newline", [*tg, "-o", f["newline"]]))
    for opt, vals in (("--latency-scale", ("nan", "inf", "0", "-1", "1e300", "1e-300")),
                      ("--spread-scale", ("nan", "inf", "-1")),
                      ("--correlation", ("nan", "2", "-0.5")), ("--layers", ("0", "-1", "1000000000")),
                      ("--samples", ("0", "1", "-1", "1000000000000")), ("--seed", ("-1", BIG)),
                      ("--name", ("", "a b", "a\nb"))):
        for v in vals:
            args = ["traces", "generate", "--samples", "4", "--layers", "3", opt, v, "-o", f["dir"] + "/g.csv"]
            add((f"traces generate {opt} {v!r}", args))
    # profile
    pr = ["profile", "--model", "resnet50", "--pattern", "random", "--rate", "0.5", "--samples", "2",
          "--resolution", "32"]
    add(("profile --samples 1", ["profile", "--model", "resnet50", "--pattern", "random", "--rate", "0.5",
                                 "--samples", "1", "--out", f["dir"] + "/p.csv"]))
    for v in ("nan", "-1", "2", "inf"):
        add((f"profile --rate {v}", ["profile", "--model", "resnet50", "--pattern", "random", "--rate", v,
                                     "--samples", "2", "--resolution", "32", "--out", f["dir"] + "/p.csv"]))
        add((f"profile bert --rate {v}", ["profile", "--model", "bert", "--pattern", "sanger", "--rate", v,
                                          "--samples", "2", "--out", f["dir"] + "/p.csv"]))
    add(("profile --out missing dir", [*pr, "--out", f["missing_dir_file"]]))
    add(("profile --out DIR", [*pr, "--out", f["dir"]]))
    add(("profile --out ''", [*pr, "--out", ""]))
    add(("profile --resolution 0", [*pr[:-2], "--resolution", "0", "--out", f["dir"] + "/p.csv"]))
    add(("profile --max-len 0", ["profile", "--model", "bert", "--pattern", "sanger", "--rate", "0.002",
                                 "--samples", "2", "--max-len", "0", "--out", f["dir"] + "/p.csv"]))
    add(("profile --pattern nope", ["profile", "--model", "resnet50", "--pattern", "nope", "--rate", "0.5",
                                    "--samples", "2", "--out", f["dir"] + "/p.csv"]))
    add(("profile --recipe missing", ["profile", "--model", "resnet50", "--recipe", f["missing_dir_file"],
                                      "--samples", "2", "--out", f["dir"] + "/p.csv"]))
    add(("profile --max-len for a CNN", [*pr, "--max-len", "64", "--out", f["dir"] + "/p.csv"]))
    add(("profile --pattern dense --rate 0.5", ["profile", "--model", "resnet50", "--pattern", "dense", "--rate", "0.5",
                                                "--samples", "2", "--out", f["dir"] + "/p.csv"]))
    add(("profile no --pattern", ["profile", "--model", "resnet50", "--samples", "2", "--out", f["dir"] + "/p.csv"]))
    # verilog
    add(("verilog --name 'bad name'", ["verilog", "--name", "bad name", "-o", f["dir"] + "/v.v"]))
    add(("verilog --name ''", ["verilog", "--name", "", "-o", f["dir"] + "/v.v"]))
    for opt, vals in (("--depth", ("3", "0", "-8", "1024")), ("--value-width", ("0", "-1")), ("--lanes", ("0",)),
                      ("--n-mp", ("0",)), ("--max-layers", ("0",)), ("--tag-bits", ("0",)),
                      ("--time-bits", ("0", "4")), ("--time-shift", ("-1", "100")),
                      ("--stages", ("x", "mul=-1", "foo=2", "-1"))):
        for v in vals:
            add((f"verilog {opt} {v}", ["verilog", opt, v, "-o", f["dir"] + "/v.v"]))
    add(("verilog -o missing dir", ["verilog", "-o", f["missing_dir_file"]]))
    add(("verilog -o DIR", ["verilog", "-o", f["dir"]]))
    add(("verilog -o ''", ["verilog", "-o", ""]))
    add(("verilog -o FIFO", ["verilog", "-o", f["fifo"]]))
    add(("verilog --name always", ["verilog", "--name", "always", "-o", f["dir"] + "/v.v"]))
    add(("verilog --stages mul=1,mul=2", ["verilog", "--stages", "mul=1,mul=2", "-o", f["dir"] + "/v.v"]))
    # hw-latency
    add(("hw-latency --depth 3", ["hw-latency", "--depth", "3", "--model-only"]))
    add(("hw-latency --depth 0", ["hw-latency", "--depth", "0", "--model-only"]))
    add(("hw-latency --queued 100", ["hw-latency", "--queued", "100", "--model-only"]))
    add(("hw-latency --stages x", ["hw-latency", "--stages", "x", "--model-only"]))
    add(("hw-latency --queued 8 8", ["hw-latency", "--queued", "8", "8", "--model-only"]))
    # hil
    hl = ["hil", "--requests", "8", "--backend", "amaranth"]
    for v in ("0", "nan", "-1", "inf"):
        add((f"hil --slo {v}", [*hl, "--slo", v]))
        add((f"hil --cycles-per-layer {v}", [*hl, "--cycles-per-layer", v]))
        add((f"hil --rate {v}", [*hl, "--rate", v]))
    add(("hil --seed -1", [*hl, "--seed", "-1"]))
    add(("hil --depth 3", [*hl, "--depth", "3"]))
    add(("hil --requests 10^12", ["hil", "--requests", "1000000000000", "--backend", "amaranth"]))
    add(("hil --traces bad", [*hl, "--traces", f["pack_big_size"]]))
    add(("hil --eta nan", [*hl, "--eta", "nan"]))
    # synth
    for v in ("0", "nan", "-1", "inf"):
        add((f"synth --freq {v}", ["synth", "--freq", v, "--no-pnr"]))
    add(("synth --depths 3", ["synth", "--sweep", "--depths", "3"]))
    add(("synth --fmts x", ["synth", "--sweep", "--fmts", "x"]))
    add(("synth --depth 3", ["synth", "--depth", "3"]))
    add(("synth --out FILE", ["synth", "--out", f["pack_ok"]]))
    add(("synth --jobs 0", ["synth", "--sweep", "--jobs", "0"]))
    add(("synth --check without --goals", ["synth", "--check"]))
    add(("synth --depths without --sweep", ["synth", "--depths", "8"]))
    add(("synth --goals --sweep", ["synth", "--goals", "--sweep"]))
    add(("synth --force without --out", ["synth", "--force"]))
    add(("synth --sweep --cluster tcp://host:99999", ["synth", "--sweep", "--cluster", "tcp://host:99999"]))
    # board
    add(("board run --port /dev/nonexistent", ["board", "run", "icebreaker", "--port", "/dev/nonexistent"]))
    add(("board run --port ''", ["board", "run", "icebreaker", "--port", ""]))
    add(("board run --baud 0", ["board", "run", "icebreaker", "--port", "/dev/nonexistent", "--baud", "0"]))
    add(("board sim --depth 3", ["board", "sim", "icebreaker", "--depth", "3"]))
    add(("board sim --requests 0", ["board", "sim", "icebreaker", "--requests", "0"]))
    add(("board sim --requests -1", ["board", "sim", "icebreaker", "--requests", "-1"]))
    add(("board build --out FILE", ["board", "build", "icebreaker", "--out", f["pack_ok"]]))
    add(("board build --baud 0", ["board", "build", "icebreaker", "--baud", "0", "--out", f["dir"] + "/b"]))
    add(("board build --out ''", ["board", "build", "icebreaker", "--out", ""]))
    add(("board build --clock inf", ["board", "build", "icebreaker", "--clock", "inf", "--out", f["dir"] + "/b"]))
    add(("board build --baud -1", ["board", "build", "icebreaker", "--baud", "-1", "--out", f["dir"] + "/b"]))
    return c


def classify(argv, proc) -> tuple[str, str]:
    err = proc.stderr
    words = [a for a in argv[:2] if a in SUBCOMMANDS]
    if words and words[0] in ("bench", "reproduce", "profile", "verilog", "hw-latency", "hil", "synth"):
        words = words[:1]
    expect = f"dysta {' '.join(words)}: error: "
    if "Traceback (most recent call last)" in err:
        return "traceback", err.strip().splitlines()[-1]
    if proc.returncode == 0:
        return "accepted", (proc.stdout.strip().splitlines() or [""])[-1][:120]
    last = (err.strip().splitlines() or [""])[-1]
    if proc.returncode == 2 and last.startswith(expect):
        return "clean", last
    return "other", f"exit {proc.returncode}: {last}"


SUBCOMMANDS = {"bench", "reproduce", "workload", "export", "traces", "list", "show", "validate", "generate",
               "profile", "verilog", "hw-latency", "hil", "synth", "board", "build", "sim", "run"}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", default=None, help="run the cases whose label contains this")
    ap.add_argument("--timeout", type=float, default=120.0)
    ap.add_argument("--verbose", action="store_true", help="print every case")
    a = ap.parse_args(argv)
    d = Path(tempfile.mkdtemp(prefix="dysta-survey-"))
    counts: dict[str, int] = {}
    try:
        files = make_files(d)
        todo = [c for c in cases(files) if a.only is None or a.only in c[0]]
        dysta = [sys.executable, "-m", "dysta_sw.cli"]
        for label, args in todo:
            try:
                proc = subprocess.run([*dysta, *args], capture_output=True, text=True, timeout=a.timeout, cwd=d,
                                      env={**os.environ, "DYSTA_CLUSTER": ""})
                kind, msg = classify(args, proc)
            except subprocess.TimeoutExpired:
                kind, msg = "accepted", f"still running after {a.timeout:g} s"
            counts[kind] = counts.get(kind, 0) + 1
            if kind != "clean" or a.verbose:
                print(f"{kind:9s} {label}: {msg}", flush=True)
        print(f"{len(todo)} cases: " + ", ".join(f"{counts.get(k, 0)} {k}" for k in
                                                 ("clean", "traceback", "accepted", "other")))
    finally:
        shutil.rmtree(d, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
