"""A local AWS for tests and benchmarks: moto's server, behind a small front.

:class:`AwsLab` starts moto's server mode (``ThreadedMotoServer``) on
127.0.0.1 and a front server on another free port, which is what boto3 is
pointed at (``api.base_url``).  The front forwards every request to moto over
real HTTP, and adds what moto lacks:

- the Price List API's ``GetProducts`` (moto has no pricing service), from a
  small catalogue, paginated, with its TERM_MATCH filters applied;
- throttling on demand: :meth:`AwsLab.throttle` makes the next N requests
  answer 503 ``RequestLimitExceeded`` as EC2 does;
- counts: the mutating requests that reached moto (``writes``), the pricing
  requests (``pricing_requests``) and every request (``requests``).

moto is a test dependency (``provisioning-provider-aws[test]``); nothing of
this module runs in ``prov`` itself.
"""

from __future__ import annotations

import http.client
import json
import socket
import subprocess
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs

__all__ = ["ACCESS_KEY", "CATALOGUE", "SECRET_KEY", "AwsLab"]

#: credentials moto accepts (it accepts any; these are what the tests use)
ACCESS_KEY = "AKIAPROVLAB000000000"
SECRET_KEY = "prov-lab-SECRET-canary-7d41c0-never-printed"  # noqa: S105 - the lab's, a canary

# hourly on-demand USD prices in us-east-1; other regions cost 10% more
CATALOGUE = {
    "t3.micro": 0.0104,
    "t3.small": 0.0208,
    "t3.medium": 0.0416,
    "m5.large": 0.096,
    "c5.large": 0.085,
    "r5.large": 0.126,
}
PRICED_REGIONS = ("us-east-1", "eu-west-1", "eu-central-1")
_READS = ("Describe", "Get", "List")
# set by the front itself, never copied from moto's answer
_HOP_HEADERS = {"content-length", "transfer-encoding", "connection", "date", "server"}


def _products() -> list[dict[str, Any]]:
    products = []
    for region in PRICED_REGIONS:
        factor = 1.0 if region == "us-east-1" else 1.1
        for instance_type, hourly in CATALOGUE.items():
            for os_name, extra in (("Linux", 0.0), ("Windows", 0.046)):
                sku = uuid.uuid5(uuid.NAMESPACE_URL, f"{region}/{instance_type}/{os_name}").hex
                products.append(
                    {
                        "product": {
                            "productFamily": "Compute Instance",
                            "sku": sku,
                            "attributes": {
                                "instanceType": instance_type,
                                "regionCode": region,
                                "operatingSystem": os_name,
                                "tenancy": "Shared",
                                "preInstalledSw": "NA",
                                "capacitystatus": "Used",
                                "licenseModel": "No License required",
                            },
                        },
                        "serviceCode": "AmazonEC2",
                        "terms": {
                            "OnDemand": {
                                f"{sku}.JRTCKXETXF": {
                                    "priceDimensions": {
                                        f"{sku}.JRTCKXETXF.6YS6EN2CT7": {
                                            "unit": "Hrs",
                                            "pricePerUnit": {
                                                "USD": f"{(hourly + extra) * factor:.6f}"
                                            },
                                        }
                                    }
                                }
                            }
                        },
                    }
                )
    return products


class AwsLab:
    """moto and its front on 127.0.0.1; a context manager that stops both."""

    def __init__(self, *, pricing_page_size: int = 5, own_process: bool = False) -> None:
        self.pricing_page_size = pricing_page_size
        #: moto in a process of its own (``python -m moto.server``) rather than a thread of
        #: this one: what a benchmark wants, so moto does not share the caller's GIL
        self.own_process = own_process
        self._process: subprocess.Popen[bytes] | None = None
        self.requests = 0
        self.writes = 0
        self.pricing_requests = 0
        self._throttled = 0
        self._lock = threading.Lock()
        self._products = _products()
        self._moto: Any = None
        self._front: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.moto_url = ""
        self.base_url = ""

    # -- life ------------------------------------------------------------------

    def start(self) -> AwsLab:
        import logging

        from moto.server import ThreadedMotoServer

        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's request log
        if self.own_process:
            host, port = self._start_process()
        else:
            self._moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
            self._moto.start()
            host, port = self._moto.get_host_and_port()
        self.moto_url = f"http://{host}:{port}"
        self._moto_address = (host, port)
        self.reset()
        self._front = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._front.daemon_threads = True
        self._thread = threading.Thread(target=self._front.serve_forever, daemon=True)
        self._thread.start()
        self.base_url = f"http://127.0.0.1:{self._front.server_address[1]}"
        return self

    def _start_process(self) -> tuple[str, int]:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = int(probe.getsockname()[1])
        self._process = subprocess.Popen(  # noqa: S603 - our interpreter, moto's server
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 60
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    return "127.0.0.1", port
            except OSError:
                if self._process.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(
                        f"moto's server did not listen on 127.0.0.1:{port}"
                    ) from None
                time.sleep(0.05)

    def stop(self) -> None:
        if self._process is not None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
            self._process = None
        if self._moto is not None:
            self._moto_request("POST", "/moto-api/reset-auth", b"inf", {})
        if self._front is not None:
            self._front.shutdown()
            self._front.server_close()
            self._front = None
        if self._moto is not None:
            self._moto.stop()
            self._moto = None

    def __enter__(self) -> AwsLab:  # noqa: PYI034 - Self needs Python 3.11
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    # -- control ---------------------------------------------------------------

    def reset(self) -> None:
        """Forget every resource moto holds (its state is per process, not per server),
        and stop checking credentials."""
        self._moto_request("POST", "/moto-api/reset-auth", b"inf", {})
        self._moto_request("POST", "/moto-api/reset", b"", {})
        with self._lock:
            self.requests = self.writes = self.pricing_requests = self._throttled = 0

    def authenticate(self) -> tuple[str, str]:
        """Make moto check credentials as AWS does (its IAM), until :meth:`reset`.

        Returns the access key id and secret of an IAM user allowed everything;
        any other key is refused (``InvalidClientTokenId``, ``AuthFailure``).
        """
        import boto3

        iam = boto3.client(
            "iam", region_name="us-east-1", endpoint_url=self.moto_url,
            aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY,
        )  # fmt: skip
        iam.create_user(UserName="prov-lab")
        iam.put_user_policy(
            UserName="prov-lab",
            PolicyName="everything",
            PolicyDocument=json.dumps(
                {"Version": "2012-10-17",
                 "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
            ),
        )  # fmt: skip
        key = iam.create_access_key(UserName="prov-lab")["AccessKey"]
        self._moto_request("POST", "/moto-api/reset-auth", b"0", {})
        return str(key["AccessKeyId"]), str(key["SecretAccessKey"])

    def throttle(self, count: int) -> None:
        """The next ``count`` requests (pricing excluded) answer 503 RequestLimitExceeded."""
        with self._lock:
            self._throttled = count

    # -- serving ---------------------------------------------------------------

    def _moto_request(
        self, method: str, path: str, body: bytes, headers: dict[str, str]
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        host, port = self._moto_address
        connection = http.client.HTTPConnection(host, port, timeout=60)
        try:
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            return response.status, response.getheaders(), response.read()
        finally:
            connection.close()

    def _answer(
        self, method: str, path: str, body: bytes, headers: dict[str, str]
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        target = headers.get("X-Amz-Target", headers.get("x-amz-target", ""))
        if target.startswith("AWSPriceListService."):
            return self._pricing(target.split(".", 1)[1], body)
        action = target.rpartition(".")[2] if target else _action(body, path)
        with self._lock:
            self.requests += 1
            if self._throttled > 0:
                self._throttled -= 1
                return _throttled()
            if action and not action.startswith(_READS):
                self.writes += 1
        forwarded = {k: v for k, v in headers.items() if k.lower() != "connection"}
        return self._moto_request(method, path, body, forwarded)

    def _pricing(self, operation: str, body: bytes) -> tuple[int, list[tuple[str, str]], bytes]:
        with self._lock:
            self.pricing_requests += 1
        if operation != "GetProducts":
            return _json(400, {"__type": "InvalidParameterException", "Message": operation})
        request = json.loads(body or b"{}")
        matches = [
            p
            for p in self._products
            if p["serviceCode"] == request.get("ServiceCode")
            and all(
                p["product"]["attributes"].get(f["Field"]) == f["Value"]
                for f in request.get("Filters", [])
                if f.get("Type") == "TERM_MATCH"
            )
        ]
        start = int(request.get("NextToken") or 0)
        size = min(int(request.get("MaxResults") or self.pricing_page_size), self.pricing_page_size)
        page = matches[start : start + size]
        answer: dict[str, Any] = {
            "FormatVersion": "aws_v1",
            "PriceList": [json.dumps(p) for p in page],
        }
        if start + size < len(matches):
            answer["NextToken"] = str(start + size)
        return _json(200, answer)


def _action(body: bytes, path: str) -> str:
    """The EC2/STS/SSM action of a request: ``Action=`` in a query body, or a JSON target."""
    try:
        form = parse_qs(body.decode("utf-8"))
    except UnicodeDecodeError:
        return ""
    if "Action" in form:
        return form["Action"][0]
    query = parse_qs(path.partition("?")[2])
    return query.get("Action", [""])[0]


def _throttled() -> tuple[int, list[tuple[str, str]], bytes]:
    xml = (
        '<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error>'
        "<Code>RequestLimitExceeded</Code><Message>Request limit exceeded.</Message>"
        f"</Error></Errors><RequestID>{uuid.uuid4()}</RequestID></Response>"
    ).encode()
    return 503, [("Content-Type", "text/xml")], xml


def _json(status: int, data: dict[str, Any]) -> tuple[int, list[tuple[str, str]], bytes]:
    body = json.dumps(data).encode()
    return status, [("Content-Type", "application/x-amz-json-1.1")], body


def _handler(lab: AwsLab) -> type[BaseHTTPRequestHandler]:
    class Front(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            headers = dict(self.headers.items())
            status, answer_headers, answer = lab._answer(self.command, self.path, body, headers)
            self.send_response(status)
            for key, value in answer_headers:
                if key.lower() not in {
                    "content-length",
                    "transfer-encoding",
                    "connection",
                    "date",
                    "server",
                }:
                    self.send_header(key, value)
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _serve  # noqa: N815

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            pass  # quiet: the tests read the counts, not a log

    return Front
