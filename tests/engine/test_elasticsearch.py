"""The elasticsearch output through the real binary, against the tests' _bulk
endpoint (tests/elasticsearch/bulk_endpoint.py, which answers per item as
Elasticsearch documents it): our NDJSON against what Debian's
python3-elasticsearch client sends for the same documents, per-item
failures retried or dead-lettered with the reason, whole-request refusals
(413, 429, 503, malformed answers, an unreachable URL) survived with
nothing lost and nothing indexed twice, gzip and each kind of auth, and
daily indices from a timestamp field."""
import collections
import json
import pathlib
import subprocess
import urllib.request

import pytest

from conftest import free_port, lint, wait_for

ENDPOINT = pathlib.Path(__file__).resolve().parents[1] / "elasticsearch" / "bulk_endpoint.py"
PYTHON = "/usr/bin/python3"  # the one that sees Debian's python3-elasticsearch


class Endpoint:
    def __init__(self, *args):
        self.proc = subprocess.Popen([PYTHON, str(ENDPOINT), *args, "0"], stdout=subprocess.PIPE, text=True)
        port = self.proc.stdout.readline().strip()
        assert port.isdigit(), f"the bulk endpoint did not start: {port!r}"
        self.url = f"http://127.0.0.1:{port}"

    def get(self, path):
        with urllib.request.urlopen(self.url + path, timeout=10) as r:
            return json.loads(r.read())

    def post(self, path, body):
        req = urllib.request.Request(self.url + path, data=json.dumps(body).encode(), method="POST")
        with urllib.request.urlopen(req, timeout=10) as r:
            return json.loads(r.read())

    def docs(self, index=None):
        return [d for d in self.get("/_test/docs") if index is None or d["index"] == index]

    def stop(self):
        self.proc.terminate()
        self.proc.wait(10)


@pytest.fixture(scope="module")
def es():
    e = Endpoint()
    yield e
    e.stop()


def write_lines(path, docs):
    path.write_text("".join(json.dumps(d, separators=(",", ":"), ensure_ascii=False) + "\n" for d in docs))


# The documents go through the embedded queue, whose input keeps running
# (a file input alone would end the process at its end).
def config(url_list, output_fields, retry="{max_attempts: 6, initial: 10ms, max: 100ms}", batching=""):
    urls = ", ".join(f'"{u}"' for u in url_list)
    return f"""
admin: {{address: "{{admin}}"}}
data_dir: {{dir}}/data
pipelines:
  load:
    input: {{file: {{path: {{dir}}/in.jsonl}}}}
    output: {{queue: {{name: docs}}}}
  p:
    input: {{queue: {{name: docs}}}}
    output:
      elasticsearch: {{urls: [{urls}], {output_fields}}}
      retry: {retry}
{batching}      dead_letter: {{file: {{path: {{dir}}/dead.jsonl}}}}
"""


def run_to_end(sluice_factory, text, expect_indexed, es, index):
    s = sluice_factory(text).start()
    wait_for(lambda: len(es.docs(index)) >= expect_indexed, 60, f"{expect_indexed} documents indexed")
    return s


def dead(tmp_path):
    path = tmp_path / "dead.jsonl"
    return [json.loads(l) for l in path.read_text().splitlines()] if path.exists() else []


DOCS = [{"id": f"d{i}", "n": i, "text": "héllo \"wörld\" \u2028 ✓", "nested": {"a": [1, 2.5, None, True]}}
        for i in range(40)]


@pytest.mark.parametrize("action", ["index", "create", "update"])
def test_our_ndjson_is_what_the_python_client_sends(sluice_factory, tmp_path, action):
    es = Endpoint()
    try:
        # Elasticsearch's own Python client (7.17, Debian's) sends the same
        # documents first, through its bulk helper.
        script = f"""
import json, sys
from elasticsearch import Elasticsearch, helpers
docs = json.loads(sys.stdin.read())
def action(d):
    a = {{"_op_type": "{action}", "_index": "compare", "_id": d["id"], "routing": "r" + d["id"]}}
    if "{action}" == "update":
        a.update(doc=d, doc_as_upsert=True)
    else:
        a["_source"] = d
    return a
ok, errors = helpers.bulk(Elasticsearch(["{es.url}"]), (action(d) for d in docs))
print(ok, errors)
"""
        r = subprocess.run([PYTHON, "-c", script], input=json.dumps(DOCS), capture_output=True, text=True, timeout=60)
        assert r.returncode == 0 and r.stdout.split()[0] == str(len(DOCS)), r.stdout + r.stderr
        theirs = [q["body"] for q in es.get("/_test/requests")]
        es.post("/_test/reset", {})

        write_lines(tmp_path / "in.jsonl", DOCS)
        s = run_to_end(sluice_factory, config([es.url], f'index: compare, action: {action}, id: "{{{{id}}}}", '
                                                        'routing: "r{{id}}"'), len(DOCS), es, "compare")
        assert s.stop() == 0, s.log_text()
        ours = [q["body"] for q in es.get("/_test/requests")]
        assert all(q["headers"]["Content-Type"] == "application/x-ndjson" for q in es.get("/_test/requests"))
    finally:
        es.stop()
    their_lines, our_lines = "".join(theirs).split("\n")[:-1], "".join(ours).split("\n")[:-1]
    assert len(our_lines) == len(their_lines) == 2 * len(DOCS)
    # Action lines: the same JSON (the client writes _id before _index).
    assert [json.loads(l) for l in our_lines[0::2]] == [json.loads(l) for l in their_lines[0::2]]
    # Document lines: the same JSON, and for index/create the same bytes.
    assert [json.loads(l) for l in our_lines[1::2]] == [json.loads(l) for l in their_lines[1::2]]
    if action != "update":
        assert our_lines[1::2] == their_lines[1::2]


@pytest.mark.parametrize("flavor", ["es7", "es8", "opensearch1", "opensearch2"])
def test_item_failures_are_retried_or_dead_lettered_with_the_reason(sluice_factory, tmp_path, flavor):
    es = Endpoint("--flavor", flavor)
    try:
        docs = []
        for i in range(300):
            d = {"id": f"d{i}", "n": i}
            if i % 10 == 0:
                d["es_fail"] = "mapping"
            elif i % 7 == 0:
                d["es_fail"] = "429-once"
            elif i % 11 == 0:
                d["es_fail"] = "500-once"
            docs.append(d)
        write_lines(tmp_path / "in.jsonl", docs)
        good = [d["id"] for d in docs if d.get("es_fail") != "mapping"]
        s = run_to_end(sluice_factory, config([es.url], 'index: items, id: "{{id}}"'), len(good), es, "items")
        wait_for(lambda: len(dead(tmp_path)) >= 30, 30, "30 documents dead-lettered")
        rejected = s.metric("sluice_elasticsearch_items_total", outcome="reject")
        retried = s.metric("sluice_elasticsearch_items_total", outcome="retry")
        assert s.stop() == 0, s.log_text()
        indexed = [d["id"] for d in es.docs("items")]
    finally:
        es.stop()
    assert collections.Counter(indexed) == collections.Counter(good), "each good document indexed once"
    assert sorted(d["n"] for d in dead(tmp_path)) == list(range(0, 300, 10))
    assert rejected == 30
    assert retried == sum(1 for d in docs if d.get("es_fail", "").endswith("-once"))
    log = s.log_text()
    assert "mapper_parsing_exception" in log, log


def test_whole_request_refusals_back_off_split_and_fail_over(sluice_factory, tmp_path):
    # Bodies over 4,000 bytes are refused (413); the first URL never
    # answers; then 429, 503, a truncated answer and a proxy's HTML page.
    es = Endpoint("--max-bytes", "4000")
    try:
        for fault in [{"status": 429, "count": 2}, {"status": 503}, {"status": 200, "body": '{"took":1,"items":['},
                      {"status": 502, "body": "<html>bad gateway</html>"}]:
            es.post("/_test/fault", fault)
        docs = [{"id": f"d{i}", "pad": "x" * 40} for i in range(500)]
        write_lines(tmp_path / "in.jsonl", docs)
        dead_url = f"http://127.0.0.1:{free_port()}"
        s = run_to_end(sluice_factory, config([dead_url, es.url], 'index: whole, id: "{{id}}"',
                                              retry="{max_attempts: 20, initial: 10ms, max: 100ms}"), 500, es, "whole")
        split = s.metric("sluice_elasticsearch_requests_total", answer="413")
        throttled = s.metric("sluice_elasticsearch_requests_total", answer="429")
        unreached = s.metric("sluice_elasticsearch_requests_total", answer="none")
        assert s.stop() == 0, s.log_text()
        indexed = [d["id"] for d in es.docs("whole")]
        sizes = [len(q["body"]) for q in es.get("/_test/requests")]
    finally:
        es.stop()
    assert sorted(indexed) == sorted(d["id"] for d in docs) and len(indexed) == 500, "all indexed, once each"
    assert dead(tmp_path) == []
    assert split >= 1 and throttled >= 2 and unreached == 0, (split, throttled, unreached)
    assert max(sizes) <= 4000
    log = s.log_text()
    assert "trying " + es.url in log, log


@pytest.mark.parametrize("auth", ["basic", "api_key", "bearer"])
def test_gzip_and_each_kind_of_auth(sluice_factory, tmp_path, auth):
    server_flag, field = {
        "basic": (["--basic", "elastic:s3cret"], "basic_auth: {username: elastic, password: s3cret}"),
        "api_key": (["--api-key", "VnVhQ2ZHY0JDZGJrUW0tZTVhT3g6dWkybHAyYXhUTm1zeWFrdzl0dk5udw=="],
                    'api_key: "VnVhQ2ZHY0JDZGJrUW0tZTVhT3g6dWkybHAyYXhUTm1zeWFrdzl0dk5udw=="'),
        "bearer": (["--bearer", "tok-123"], "bearer_token: tok-123"),
    }[auth]
    es = Endpoint(*server_flag)
    try:
        docs = [{"id": f"d{i}", "msg": "repeated text " * 20} for i in range(200)]
        write_lines(tmp_path / "in.jsonl", docs)
        s = run_to_end(sluice_factory, config([es.url], f'index: auth, compression: gzip, {field}'), 200, es, "auth")
        assert s.stop() == 0, s.log_text()
        requests = es.get("/_test/requests")
        assert all(q["headers"].get("Content-Encoding") == "gzip" for q in requests)
        assert sorted(d["source"]["id"] for d in es.docs("auth")) == sorted(d["id"] for d in docs)
    finally:
        es.stop()


def test_refused_credentials_are_retried_and_said_not_dead_lettered(sluice_factory, tmp_path):
    es = Endpoint("--api-key", "right")
    try:
        write_lines(tmp_path / "in.jsonl", [{"id": "a"}, {"id": "b"}])
        s = sluice_factory(config([es.url], 'index: auth, api_key: wrong',
                                  retry="{max_attempts: 1000, initial: 50ms, max: 200ms}")).start()
        wait_for(lambda: "refused the credentials (HTTP 401)" in s.log_text(), 20, "the refusal logged")
        assert s.metric("sluice_elasticsearch_requests_total", answer="4xx") >= 1
        assert s.stop() == 0, s.log_text()
        assert es.docs() == [] and dead(tmp_path) == []
    finally:
        es.stop()


def test_daily_indices_from_a_timestamp_field(sluice_factory, tmp_path, es):
    docs = [{"id": "a", "ts": "2026-11-30T23:59:59Z"}, {"id": "b", "ts": "2026-12-01T00:00:00Z"},
            {"id": "c", "ts": "2026-12-01T01:30:00+02:00"}, {"id": "d", "ts": 1764633600000},
            {"id": "e", "ts": "last tuesday"}, {"id": "f"}]
    write_lines(tmp_path / "in.jsonl", docs + ["not an object"])
    with open(tmp_path / "in.jsonl", "a") as f:
        f.write("this is not JSON\n")
    s = sluice_factory(config([es.url], 'index: "daily-%Y.%m.%d", timestamp_field: ts')).start()
    dead_lines = lambda: (tmp_path / "dead.jsonl").read_text().splitlines() if (tmp_path / "dead.jsonl").exists() else []
    wait_for(lambda: len(dead_lines()) + len(es.docs()) >= 8, 30, "every document indexed or dead-lettered")
    assert s.stop() == 0, s.log_text()
    assert {d["source"]["id"]: d["index"] for d in es.docs()} == {
        "a": "daily-2026.11.30", "b": "daily-2026.12.01", "c": "daily-2026.11.30", "d": "daily-2025.12.02"}
    assert sorted(dead_lines()) == sorted(['{"id":"e","ts":"last tuesday"}', '{"id":"f"}', '"not an object"',
                                           "this is not JSON"])
    log = s.log_text()
    assert "timestamp_field ts is absent or not a time" in log, log


@pytest.mark.parametrize("field, message", [
    ('index: "logs-%s"', "'%s' at character 6 is not a date specifier"),
    ("index: x, action: update", "action: update needs an `id` template"),
    ("index: x, api_key: k, bearer_token: t", "use one of basic_auth, api_key and bearer_token"),
    ("index: x, compression: brotli", "brotli"),
    ("index: x, max_batch: 0", "max_batch"),
])
def test_lint_refuses_what_the_output_cannot_do(tmp_path, field, message):
    r = lint(config(["http://127.0.0.1:9200"], field), tmp_path)
    assert r.returncode == 2 and message in r.stderr, r.stderr


def test_lint_refuses_urls_that_are_not_urls(tmp_path):
    for urls in (["es1:9200"], ["ftp://es1"], []):
        r = lint(config(urls, "index: x"), tmp_path)
        assert r.returncode == 2 and "urls" in r.stderr, (urls, r.stderr)
