"""A fault-injecting HTTP proxy for the cloud tests: it stands between `mpe cloud` and a
real server (moto's S3, `mpe mediaconvert serve`) and answers chosen requests with the
errors AWS gives under load or refusal, so that retries and failure paths run against
real services.

    python faults.py PORT UPSTREAM LOG RULES_JSON

RULES_JSON is a list of rules; the first that matches a request applies:

    {"method": "PUT", "query": "partNumber=2", "path": "/raw/",
     "status": 503, "code": "SlowDown", "times": 1,
     "delay": 0.3, "after": false, "format": "xml"}

- method/path/query: the request's method, and substrings of its path and query.
- status/code: answer this HTTP status with this error code (S3's XML error document,
  or with "format": "json" MediaConvert's JSON body and x-amzn-ErrorType header).
- times: how many matching requests get the fault (absent: all of them).
- after: forward the request first and replace the answer (a lost response: the
  server did the work, the client never heard).
- delay: seconds to hold the request before anything else (to make parallel requests
  overlap).

Every request is logged to LOG as a JSON line: method, path, query, the status sent
back, the checksum headers, and how many requests were in flight when it arrived.
"""

import http.client
import json
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PORT, UPSTREAM, LOG, RULES = int(sys.argv[1]), sys.argv[2], sys.argv[3], json.loads(sys.argv[4])
UP = urllib.parse.urlsplit(UPSTREAM)
LOCK = threading.Lock()
STATE = {"inflight": 0}
HOP = {"connection", "keep-alive", "transfer-encoding", "proxy-connection", "upgrade", "te"}
# Set by send_response itself; forwarding the upstream's would send them twice.
OWN = {"date", "server"}


def matching(method, path, query):
    with LOCK:
        for rule in RULES:
            if rule.get("method", method) != method:
                continue
            if rule.get("path", "") not in path or rule.get("query", "") not in query:
                continue
            if "times" in rule:
                if rule["times"] <= 0:
                    continue
                rule["times"] -= 1
            return dict(rule)
    return None


class Proxy(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            data = b""
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                if size == 0:
                    break
                data += self.rfile.read(size + 2)[:-2]
            # Trailers, if any, then the empty line that ends the body.
            while self.rfile.readline().strip():
                pass
            return data
        return self.rfile.read(int(self.headers.get("Content-Length", 0) or 0))

    def forward(self, data):
        conn = http.client.HTTPConnection(UP.hostname, UP.port, timeout=120)
        conn.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
        for k, v in self.headers.items():
            if k.lower() not in HOP and k.lower() != "content-length":
                conn.putheader(k, v)
        conn.putheader("Content-Length", str(len(data)))
        conn.endheaders()
        if data:
            conn.send(data)
        resp = conn.getresponse()
        payload = resp.read()
        conn.close()
        # A HEAD answer keeps the object's Content-Length, with no body.
        keep = HOP | OWN if self.command == "HEAD" else HOP | OWN | {"content-length"}
        return resp.status, [(k, v) for k, v in resp.getheaders() if k.lower() not in keep], payload

    def fault(self, rule):
        code = rule.get("code", "InternalError")
        message = "injected by the test proxy"
        if rule.get("format") == "json":
            payload = json.dumps({"message": message}).encode()
            headers = [("Content-Type", "application/json"), ("x-amzn-ErrorType", code)]
        else:
            payload = (
                '<?xml version="1.0" encoding="UTF-8"?>\n'
                f"<Error><Code>{code}</Code><Message>{message}</Message>"
                "<RequestId>proxy</RequestId></Error>"
            ).encode()
            headers = [("Content-Type", "application/xml")]
        return rule["status"], headers, payload

    def handle_any(self):
        with LOCK:
            STATE["inflight"] += 1
            inflight = STATE["inflight"]
        try:
            path, _, query = self.path.partition("?")
            data = self.body()
            rule = matching(self.command, path, query)
            if rule and rule.get("delay"):
                time.sleep(rule["delay"])
            if rule and "status" in rule and not rule.get("after"):
                status, headers, payload = self.fault(rule)
            else:
                try:
                    status, headers, payload = self.forward(data)
                except OSError as e:
                    status, headers = 502, [("Content-Type", "text/plain")]
                    payload = f"upstream unreachable: {e}".encode()
                if rule and "status" in rule:
                    status, headers, payload = self.fault(rule)
            entry = {
                "method": self.command,
                "path": path,
                "query": query,
                "status": status,
                "inflight": inflight,
                "checksum": self.headers.get("x-amz-checksum-crc32"),
                "trailer": self.headers.get("x-amz-trailer"),
                "sse": self.headers.get("x-amz-server-side-encryption"),
            }
            with LOCK, open(LOG, "a") as log:
                log.write(json.dumps(entry) + "\n")
            self.send_response(status)
            for k, v in headers:
                self.send_header(k, v)
            if self.command != "HEAD" or not any(k.lower() == "content-length" for k, _ in headers):
                self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(payload)
        finally:
            with LOCK:
                STATE["inflight"] -= 1

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = handle_any


if __name__ == "__main__":
    ThreadingHTTPServer(("127.0.0.1", PORT), Proxy).serve_forever()
