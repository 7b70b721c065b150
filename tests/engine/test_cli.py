"""lint, docs and run as a user calls them: exit codes and output."""
from conftest import run_cli, count_lines

BAD = """pipelines:
  p:
    input:
      generate: {cuont: 5}
    output:
      drop: {}
      rate_limit: nope
"""


def test_lint_reports_every_error_with_position_and_exits_2(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(BAD)
    r = run_cli("lint", str(bad))
    assert r.returncode == 2
    assert r.stderr.splitlines() == [
        f"{bad}:4:18: error: unknown field 'cuont' in generate input; did you mean 'count'?",
        f"{bad}:7:19: error: rate limit 'nope' is not defined in rate_limits",
    ]


def test_lint_accepts_the_examples(tmp_path):
    import glob, os
    examples = sorted(glob.glob(os.path.join(os.path.dirname(__file__), "../../examples/*.yaml")))
    assert examples, "examples/ should hold at least one config"
    r = run_cli("lint", *examples)
    assert r.returncode == 0, r.stderr


def test_lint_missing_file(tmp_path):
    r = run_cli("lint", str(tmp_path / "none.yaml"))
    assert r.returncode == 2
    assert "cannot read file" in r.stderr


def test_run_with_bad_config_exits_2(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(BAD)
    r = run_cli("run", "-c", str(bad))
    assert r.returncode == 2
    assert "did you mean 'count'" in r.stderr


def test_bad_usage_exits_2_and_suggests_the_nearest_command_or_flag():
    assert run_cli("frobnicate").returncode == 2
    assert run_cli("run", "--no-such-flag").returncode == 2
    for args, hint in [(["alret"], "sluice: unknown 'alret'; did you mean 'alert'?"),
                       (["alert", "sned"], "sluice alert: unknown 'sned'; did you mean 'send'?"),
                       (["alert", "send", "--wiat", "--recipients", "x", "--body", "y"],
                        "sluice send: unknown '--wiat'; did you mean '--wait'?"),
                       (["run", "--log-levle", "debug"], "sluice run: unknown '--log-levle'; did you mean '--log-level'?")]:
        r = run_cli(*args)
        assert r.returncode == 2 and hint in r.stderr, (args, r.stderr)


def test_run_log_level_overrides_the_config(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("""
admin: {enabled: false}
log: {level: info}
pipelines:
  p:
    input: {generate: {count: 3}}
    output: {drop: {}}
""")
    assert "running 1 pipeline(s)" in run_cli("run", "-c", str(cfg)).stderr
    quiet = run_cli("run", "-c", str(cfg), "--log-level", "error")
    assert quiet.returncode == 0 and "running" not in quiet.stderr, quiet.stderr
    assert run_cli("run", "-c", str(cfg), "--log-level", "loud").returncode == 2


def test_docs_lists_components_and_unknown_topic_fails():
    r = run_cli("docs")
    assert r.returncode == 0
    for name in ["## generate (input)", "## queue (output)", "## mapping (processor)", "## rate_limits.<name>"]:
        assert name in r.stdout
    one = run_cli("docs", "filter")
    assert one.returncode == 0 and "## filter (processor)" in one.stdout and "## generate" not in one.stdout
    assert run_cli("docs", "kafka").returncode == 2


def test_finite_input_exits_zero_once_everything_is_acked(tmp_path):
    cfg = tmp_path / "c.yaml"
    out = tmp_path / "out.jsonl"
    cfg.write_text(f"""
admin: {{enabled: false}}
data_dir: {tmp_path}/data
pipelines:
  p:
    input: {{generate: {{count: 1234, template: '{{"n":{{{{seq}}}}}}'}}}}
    processors:
      - mapping: {{set: {{kind: test}}}}
      - filter: {{field: n, matches: '^[0-9]+$'}}
    output: {{file: {{path: {out}}}}}
""")
    r = run_cli("run", "-c", str(cfg))
    assert r.returncode == 0, r.stderr
    assert count_lines(out) == 1234


def test_a_finite_run_that_lost_messages_exits_3_with_the_reasons(tmp_path):
    """Every input exhausted, but the output refused some for good and no
    dead letter kept them: exit 3 and say how many and why, not 0."""
    import http.server
    import threading

    class Refuse(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            odd = self.path.endswith("odd")
            self.send_response(400 if odd else 200)
            self.end_headers()

        def log_message(self, *args):
            pass

    peer = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Refuse)
    threading.Thread(target=peer.serve_forever, daemon=True).start()
    cfg = tmp_path / "c.yaml"
    base = f"http://127.0.0.1:{peer.server_port}"
    cfg.write_text(f"""
admin: {{enabled: false}}
data_dir: {tmp_path}/data
pipelines:
  refused:
    input: {{generate: {{count: 7}}}}
    output: {{http_client: {{url: "{base}/odd"}}}}
  fine:
    input: {{generate: {{count: 5}}}}
    output: {{http_client: {{url: "{base}/even"}}}}
""")
    try:
        r = run_cli("run", "-c", str(cfg))
    finally:
        peer.shutdown()
    assert r.returncode == 3, (r.returncode, r.stderr[-1000:])
    assert "7 message(s) failed for good and no dead letter kept them; the first reasons:" in r.stderr, r.stderr
    assert "400" in r.stderr.split("the first reasons:")[1], r.stderr


def test_stdin_to_stdout_with_malformed_records(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("""
admin: {enabled: false}
pipelines:
  p:
    input: {stdin: {codec: json_lines}}
    processors:
      - filter: {field: keep, equals: "yes"}
    output: {stdout: {}}
""")
    r = run_cli("run", "-c", str(cfg), input_text='{"keep":"yes","n":1}\nnot json\n{"keep":"no"}\n{"keep":"yes","n":2}\n')
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == ['{"keep":"yes","n":1}', '{"keep":"yes","n":2}']
    assert "line 2: invalid JSON" in r.stderr


def output_bomb(levels):
    """An output whose 'then' and 'dead_letter' are both the output one level
    down, by alias: under 1 KB of YAML naming 2^levels outputs."""
    block = "{drop: {}}"
    for i in range(levels):
        block = f"{{drop: {{}}, then: &{chr(97 + i)} {block}, dead_letter: *{chr(97 + i)}}}"
    return f"pipelines:\n  p:\n    input: {{generate: {{count: 1}}}}\n    output: {block}\n"


def lint_with_peak_rss(path):
    """`sluice lint PATH`: (exit code, stderr, its peak RSS in MB). GNU time
    measures it: a child's own rusage from pytest would also count pytest's
    memory (exec keeps the parent's high-water mark after vfork)."""
    import subprocess
    from conftest import SLUICE
    r = subprocess.run(["/usr/bin/time", "-f", "peak-rss-kb %M", SLUICE, "lint", str(path)], capture_output=True,
                       text=True, timeout=60)  # a hang guard, not a timing assertion
    *lines, last = [line for line in r.stderr.rstrip("\n").split("\n") if not line.startswith("Command exited")]
    assert last.startswith("peak-rss-kb "), r.stderr[-500:]
    return r.returncode, "\n".join(lines), int(last.split()[1]) / 1024


def test_an_alias_bomb_of_outputs_fails_fast_in_bounded_memory(tmp_path):
    from conftest import SANITIZED
    bomb = tmp_path / "outputs.yaml"
    bomb.write_text(output_bomb(26))  # 2^26 outputs
    assert len(bomb.read_bytes()) < 1100
    code, err, peak_mb = lint_with_peak_rss(bomb)
    assert code == 2, err[-500:]
    assert "nests outputs more than 8 deep through 'then' and 'dead_letter'" in err, err[-1000:]
    assert len(err.splitlines()) <= 51, "at most 50 errors, then a count"
    if not SANITIZED:  # ASan's shadow memory is not the product's
        assert peak_mb < 100, f"lint peaked at {peak_mb:.0f} MB"

    # Shallow enough to nest, wide enough to be a bomb: stopped by the count.
    wide = tmp_path / "wide.yaml"
    wide.write_text(output_bomb(8).replace("  p:\n", "  p0:\n") + "".join(
        f"  p{i}: {{input: {{generate: {{count: 1}}}}, output: *h}}\n" for i in range(1, 40)))
    r = run_cli("lint", str(wide), timeout=60)
    assert r.returncode == 2 and "names more than 1000 outputs" in r.stderr, r.stderr[-1000:]


def test_hostile_configs_fail_cleanly(tmp_path):
    deep = tmp_path / "deep.yaml"
    deep.write_text("pipelines: " + "[" * 100000 + "]" * 100000 + "\n")
    r = run_cli("lint", str(deep), timeout=30)
    assert r.returncode == 2 and "invalid YAML" in r.stderr, r.stderr[-500:]

    # A "billion laughs" of aliases must not be expanded.
    lines = ["a: &a [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 12):
        p, c = chr(ord("a") + i - 1), chr(ord("a") + i)
        lines.append(f"{c}: &{c} [" + ", ".join([f"*{p}"] * 10) + "]")
    lines.append("pipelines: *l")
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text("\n".join(lines) + "\n")
    r = run_cli("lint", str(bomb), timeout=30)
    assert r.returncode == 2
    assert "bomb.yaml:1:1: error: unknown field 'a' in the config (fields: admin, data_dir, log, threads, " \
           "shutdown_timeout, alerts, ledger, rate_limits, resources, pipelines)" in r.stderr
    assert "'pipelines' must map pipeline names to pipelines" in r.stderr

    binary = tmp_path / "binary.yaml"
    binary.write_bytes(b"\x00\xff\xfe garbage \x01\x02")
    r = run_cli("lint", str(binary))
    assert r.returncode == 2 and "error:" in r.stderr


RUN_TIME_ERRORS = [
    # (the config's pipelines, what lint must say at which line:col)
    ("admin: {address: localhost}\n", "admin.address: address must be host:port"),
    ("p: {input: {http_server: {address: bogus}}, output: {drop: {}}}", "address must be host:port"),
    ("p: {input: {http_server: {address: '127.0.0.1:99999'}}, output: {drop: {}}}", "bad port"),
    ("p: {input: {http_server: {address: 'example.com:80'}}, output: {drop: {}}}", "must be an IP address"),
    ("p: {input: {http_server: {address: '127.0.0.1:0', path: no-slash}}, output: {drop: {}}}",
     "path must start with '/'"),
    ("p: {input: {generate: {count: 1}}, output: {twilio: {base_url: 'htp:/x', account_sid: AC" + "0" * 32 +
     ", auth_token: t, from: '+15005550006'}}}", "base_url must be an http(s) URL"),
    ("p: {input: {generate: {count: 1}}, output: {twilio: {account_sid: XYZ, auth_token: t, from: '+15005550006'}}}",
     "account_sid must be AC followed by 32 hex digits"),
    ("p: {input: {generate: {count: 1}}, output: {twilio_lookup: {account_sid: AC123, auth_token: t}}}",
     "account_sid must be AC followed by 32 hex digits"),
]


def test_lint_catches_what_run_refuses(tmp_path):
    for n, (text, expected) in enumerate(RUN_TIME_ERRORS):
        path = tmp_path / f"bad{n}.yaml"
        path.write_text(text if text.startswith("admin") else "pipelines:\n  " + text.replace("\n", "\n  ") + "\n")
        if text.startswith("admin"):
            path.write_text(text + "pipelines:\n  p: {input: {generate: {count: 1}}, output: {drop: {}}}\n")
        lint = run_cli("lint", str(path))
        assert lint.returncode == 2 and expected in lint.stderr and f"{path}:" in lint.stderr, (text, lint.stderr)
        run = run_cli("run", "-c", str(path), timeout=30)
        assert run.returncode == 2 and expected in run.stderr, (text, run.stderr)
