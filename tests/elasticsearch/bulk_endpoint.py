#!/usr/bin/python3
"""A `_bulk` endpoint that answers as Elasticsearch does, for the tests.

Elasticsearch itself cannot run on this machine (no package runs a server
offline), so the tests talk to this: it parses each bulk request strictly
(NDJSON, newline-terminated, gzip when Content-Encoding says so), keeps the
documents per index, and answers per item the way the bulk API documents:
201/200 with `result`, 409 version_conflict_engine_exception for a `create`
of an existing id, 404 document_missing_exception for an `update` without
`doc_as_upsert`, and the shapes of Elasticsearch 7 and 8 and OpenSearch 1
and 2 (`--flavor`).

Faults, decided by the document (so a test says per message what happens):
  "es_fail": "mapping"   400 mapper_parsing_exception (a permanent item failure)
  "es_fail": "429"       429 es_rejected_execution_exception every time
  "es_fail": "429-once"  429 the first time this document is seen, then indexed
  "es_fail": "500-once"  500 the first time, then indexed
and for whole requests, by the control endpoints below: the next N bulk
requests answered with a status (429, 503, ...), and a largest body
(`--max-bytes`, like http.max_content_length: bigger ones get 413).

Control (not Elasticsearch's API):
  GET  /_test/docs       every document indexed, in arrival order:
                         [{"index", "id", "op", "source", "routing", "pipeline"}]
  GET  /_test/requests   the raw (decompressed) bulk bodies received, with
                         their headers: [{"path", "headers", "body"}]
  POST /_test/fault      {"status": 429, "count": 3}, or with "body": the next
                         answers are that raw body (a malformed or truncated
                         answer) with that status
  POST /_test/reset      forgets everything

Run: bulk_endpoint.py [--flavor es8] [--max-bytes N] [--basic user:pass]
     [--api-key KEY] [--bearer TOKEN] [port]; it prints the port it listens
     on (0: a free one), on 127.0.0.1.
"""

import argparse
import base64
import gzip
import itertools
import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

FLAVORS = {
    "es7": {"number": "7.17.0", "type": True, "product_header": True, "distribution": None},
    "es8": {"number": "8.11.0", "type": False, "product_header": True, "distribution": None},
    "opensearch1": {"number": "1.3.0", "type": True, "product_header": False, "distribution": "opensearch"},
    "opensearch2": {"number": "2.11.0", "type": False, "product_header": False, "distribution": "opensearch"},
}


class Store:
    def __init__(self):
        self.lock = threading.Lock()
        self.reset()

    def reset(self):
        self.indices = {}  # index -> {id: source}
        self.docs = []  # what was indexed, in order
        self.requests = []
        self.seen_once = set()  # documents whose "-once" fault was served
        self.faults = []  # statuses for the next bulk requests
        self.auto_id = itertools.count(1)


def error(type_, reason, status):
    cause = {"type": type_, "reason": reason}
    return {"error": {"root_cause": [cause], **cause}, "status": status}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    store = Store()
    options = None

    def log_message(self, *args):
        pass

    def send_json(self, status, body):
        self.send_raw(status, json.dumps(body).encode())

    def send_raw(self, status, data):
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=UTF-8")
        self.send_header("Content-Length", str(len(data)))
        if FLAVORS[self.options.flavor]["product_header"]:
            self.send_header("X-Elastic-Product", "Elasticsearch")
        self.end_headers()
        self.wfile.write(data)

    def read_body(self):
        length = int(self.headers.get("Content-Length", "0"))
        return self.rfile.read(length) if length else b""

    def authorised(self):
        o = self.options
        wanted = []
        if o.basic:
            wanted.append("Basic " + base64.b64encode(o.basic.encode()).decode())
        if o.api_key:
            wanted.append("ApiKey " + o.api_key)
        if o.bearer:
            wanted.append("Bearer " + o.bearer)
        if not wanted or self.headers.get("Authorization") in wanted:
            return True
        self.send_json(401, error("security_exception", "missing authentication credentials for REST request", 401))
        return False

    def do_GET(self):
        path = urlparse(self.path).path
        s = self.store
        if path == "/_test/docs":
            with s.lock:
                return self.send_json(200, s.docs)
        if path == "/_test/requests":
            with s.lock:
                return self.send_json(200, s.requests)
        if not self.authorised():
            return
        if path == "/":
            f = FLAVORS[self.options.flavor]
            version = {"number": f["number"], "build_flavor": "default", "lucene_version": "9.8.0"}
            if f["distribution"]:
                version["distribution"] = f["distribution"]
            return self.send_json(200, {"name": "bulk-endpoint", "cluster_name": "sluice-tests",
                                        "version": version, "tagline": "You Know, for Search"})
        self.send_json(404, error("resource_not_found_exception", f"no handler for {path}", 404))

    def do_HEAD(self):
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_POST(self):
        url = urlparse(self.path)
        s = self.store
        body = self.read_body()
        if url.path == "/_test/reset":
            with s.lock:
                s.reset()
            return self.send_json(200, {})
        if url.path == "/_test/fault":
            f = json.loads(body)
            with s.lock:
                s.faults += [f] * f.get("count", 1)
            return self.send_json(200, {})
        parts = url.path.strip("/").split("/")
        if parts[-1] != "_bulk" or len(parts) > 2:
            return self.send_json(404, error("resource_not_found_exception", f"no handler for {url.path}", 404))
        if not self.authorised():
            return
        if len(body) > self.options.max_bytes:
            return self.send_json(413, error("content_too_long_exception", "request body is too large", 413))
        if self.headers.get("Content-Encoding") == "gzip":
            try:
                body = gzip.decompress(body)
            except OSError as e:
                return self.send_json(400, error("parse_exception", f"bad gzip body: {e}", 400))
        with s.lock:
            s.requests.append({"path": self.path, "headers": dict(self.headers.items()), "body": body.decode()})
            if s.faults:
                fault = s.faults.pop(0)
                status = fault["status"]
                if "body" in fault:
                    return self.send_raw(status, fault["body"].encode())
                kind = "es_rejected_execution_exception" if status == 429 else "unavailable_shards_exception"
                return self.send_json(status, error(kind, f"injected whole-request {status}", status))
        content_type = self.headers.get("Content-Type", "")
        if not content_type.startswith(("application/x-ndjson", "application/json")):
            return self.send_json(406, error("media_type_header_exception",
                                             f"Content-Type header [{content_type}] is not supported", 406))
        default_index = parts[0] if len(parts) == 2 else None
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        try:
            answer = self.bulk(body.decode(), default_index, query)
        except ValueError as e:
            return self.send_json(400, error("illegal_argument_exception", str(e), 400))
        self.send_json(200, answer)

    def bulk(self, text, default_index, query):
        if text and not text.endswith("\n"):
            raise ValueError("The bulk request must be terminated by a newline [\\n]")
        lines = text.split("\n")[:-1]
        operations = []
        i = 0
        while i < len(lines):
            try:
                action = json.loads(lines[i])
            except json.JSONDecodeError as e:
                raise ValueError(f"Malformed action/metadata line [{i + 1}]: {e}")
            if not isinstance(action, dict) or len(action) != 1:
                raise ValueError(f"Malformed action/metadata line [{i + 1}], expected a single action")
            (op, meta), = action.items()
            if op not in ("index", "create", "update", "delete"):
                raise ValueError(f"Action/metadata line [{i + 1}] contains an unknown parameter [{op}]")
            source = None
            if op != "delete":
                if i + 1 >= len(lines):
                    raise ValueError(f"Validation Failed: 1: no requests added; line [{i + 1}] has no source")
                try:
                    source = json.loads(lines[i + 1])
                except json.JSONDecodeError as e:
                    raise ValueError(f"Malformed source line [{i + 2}]: {e}")
                i += 1
            operations.append((op, meta, source))
            i += 1
        items = []
        with self.store.lock:
            for op, meta, source in operations:
                items.append({op: self.apply(op, meta, source, default_index, query)})
        errors = any("error" in next(iter(item.values())) for item in items)
        return {"took": 1, "errors": errors, "items": items}

    def apply(self, op, meta, source, default_index, query):
        s = self.store
        index = meta.get("_index", default_index)
        doc_id = meta.get("_id")
        item = {"_index": index, "_id": doc_id}
        if FLAVORS[self.options.flavor]["type"]:
            item["_type"] = "_doc"

        def fail(status, type_, reason):
            item.update({"status": status, "error": {"type": type_, "reason": reason, "index": index}})
            return item

        if index is None:
            return fail(400, "action_request_validation_exception", "Validation Failed: 1: index is missing;")
        document = source.get("doc", source) if op == "update" and isinstance(source, dict) else source
        if not isinstance(document, dict) and op != "delete":
            return fail(400, "mapper_parsing_exception", "failed to parse: the source is not an object")
        fault = document.get("es_fail") if isinstance(document, dict) else None
        key = (index, doc_id, json.dumps(document, sort_keys=True))
        if fault == "mapping":
            return fail(400, "mapper_parsing_exception",
                        "failed to parse field [es_fail] of type [long] in document with id '%s'" % doc_id)
        if fault == "429" or (fault == "429-once" and key not in s.seen_once):
            s.seen_once.add(key)
            return fail(429, "es_rejected_execution_exception",
                        "rejected execution of coordinating operation [queue capacity = 200]")
        if fault == "500-once" and key not in s.seen_once:
            s.seen_once.add(key)
            return fail(500, "node_not_connected_exception", "the primary shard's node left the cluster")
        docs = s.indices.setdefault(index, {})
        if doc_id is None:
            if op in ("update", "delete"):
                return fail(400, "action_request_validation_exception", "Validation Failed: 1: id is missing;")
            doc_id = item["_id"] = f"auto-{next(s.auto_id)}"
        exists = doc_id in docs
        if op == "create" and exists:
            return fail(409, "version_conflict_engine_exception",
                        f"[{doc_id}]: version conflict, document already exists (current version [1])")
        if op == "update":
            if not exists and not source.get("doc_as_upsert"):
                return fail(404, "document_missing_exception", f"[{doc_id}]: document missing")
            merged = dict(docs.get(doc_id, {}))
            merged.update(source.get("doc", {}))
            document = merged
        if op == "delete":
            docs.pop(doc_id, None)
            result, status = ("deleted", 200) if exists else ("not_found", 404)
        else:
            docs[doc_id] = document
            result, status = ("updated", 200) if exists else ("created", 201)
            s.docs.append({"index": index, "id": doc_id, "op": op, "source": document,
                           "routing": meta.get("routing", query.get("routing")),
                           "pipeline": meta.get("pipeline", query.get("pipeline"))})
        item.update({"_version": 1, "result": result, "status": status,
                     "_shards": {"total": 2, "successful": 1, "failed": 0}, "_seq_no": len(s.docs),
                     "_primary_term": 1})
        return item


def main():
    p = argparse.ArgumentParser()
    p.add_argument("port", nargs="?", type=int, default=0)
    p.add_argument("--flavor", choices=sorted(FLAVORS), default="es8")
    p.add_argument("--max-bytes", type=int, default=100 << 20)
    p.add_argument("--basic")
    p.add_argument("--api-key")
    p.add_argument("--bearer")
    Handler.options = p.parse_args()
    server = ThreadingHTTPServer(("127.0.0.1", Handler.options.port), Handler)
    server.daemon_threads = True
    print(server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
