"""greenml.testing.fakeserver, the base of every test double: served over real HTTP(S) on
127.0.0.1, its faults, delays and call log are what the doubles' tests rely on."""

from __future__ import annotations

import http.client
import json
import ssl
import threading
from email.message import Message
from typing import Any

import pytest

from greenml.testing.fakeserver import FakeServer, Reply, split_target

#: Longer than any test may take: a held reply that is not released fails the test.
FOREVER_S = 600.0
#: Generous bound for what should be immediate, on a loaded machine.
SOON_S = 30.0


class Echo(FakeServer):
    """A tiny double: logs each call, fails where a rule says, holds where a delay says."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.logged = threading.Event()

    def handle(self, verb: str, target: str, headers: Message, body: bytes) -> Reply:
        path, query = split_target(target)
        call = self.record({"method": verb, "path": path, "query": query, "body": body,
                            "token": headers.get("x-token"), "status": None,
                            "outcome": "answered"})
        self.logged.set()
        key = {"method": verb, "path": path}
        fault = self.fire("error", key)
        if fault is not None:
            status, answer = fault.status, {"error": fault.detail["code"]}
            call["outcome"] = "injected"
        else:
            status, answer = 200, {"path": path, "body": body.decode()}
        with self.lock:
            call["status"] = status
        self.hold_reply(key)
        if verb == "PUT":
            raise RuntimeError("this double has a bug")
        return status, {"Content-Type": "application/json"}, json.dumps(answer).encode()


def ask(fake: FakeServer, verb: str = "GET", target: str = "/thing", body: bytes = b"",
        headers: dict[str, str] | None = None, context: ssl.SSLContext | None = None
        ) -> tuple[int, Any]:
    if context is None:
        conn = http.client.HTTPConnection("127.0.0.1", fake.port, timeout=SOON_S)
    else:
        conn = http.client.HTTPSConnection("127.0.0.1", fake.port, timeout=SOON_S,
                                           context=context)
    try:
        conn.request(verb, target, body=body or None, headers=headers or {})
        reply = conn.getresponse()
        data = reply.read()
        return reply.status, (json.loads(data) if data.startswith(b"{") else data)
    finally:
        conn.close()


@pytest.fixture
def echo():
    with Echo() as fake:
        yield fake


def test_calls_are_logged_in_order_as_copies(echo) -> None:
    assert ask(echo, "POST", "/a?x=1&y=", b"hi", {"X-Token": "t1"}) == (
        200, {"path": "/a", "body": "hi"})
    assert ask(echo, "GET", "/b")[0] == 200
    first, second = echo.calls()
    assert (first["method"], first["path"], first["query"], first["body"]) == (
        "POST", "/a", {"x": "1", "y": ""}, b"hi")
    assert first["token"] == "t1", "headers read case-insensitively"
    assert (first["status"], first["outcome"]) == (200, "answered")
    assert [c["path"] for c in echo.calls(method="GET")] == ["/b"]
    echo.calls()[0]["path"] = "changed"
    assert echo.calls()[0]["path"] == "/a", "calls() hands out copies"


def test_an_injected_fault_answers_n_times_after_some_then_stops(echo) -> None:
    echo.add_rule("error", {"method": "POST", "path": None}, times=2, after=1, status=503,
                  code="Busy")
    statuses = [ask(echo, "POST", f"/{i}")[0] for i in range(5)]
    assert statuses == [200, 503, 503, 200, 200]
    assert ask(echo, "GET", "/other")[0] == 200
    assert [c["outcome"] for c in echo.calls(method="POST")] == [
        "answered", "injected", "injected", "answered", "answered"]
    assert echo.rules("error") == [], "a spent rule is gone"
    assert ask(echo, "POST", "/x", headers={})[1] == {"path": "/x", "body": ""}


def test_a_fault_for_every_call_lasts_until_cleared(echo) -> None:
    echo.add_rule("error", {"path": "/down"}, times=None, status=500, code="Down")
    assert [ask(echo, "GET", "/down")[0] for _ in range(3)] == [500, 500, 500]
    assert ask(echo, "GET", "/up")[0] == 200
    echo.clear_faults()
    assert ask(echo, "GET", "/down")[0] == 200
    assert len(echo.calls()) == 5, "clearing faults keeps the log"


def test_times_must_be_positive(echo) -> None:
    with pytest.raises(ValueError, match="times"):
        echo.add_rule("error", times=0)


def held_request(fake: Echo, target: str = "/slow") -> tuple[threading.Thread, list[Any]]:
    """A request whose reply the fake holds ``FOREVER_S``; returns once the fake has it."""
    fake.add_rule("delay", {"path": target}, seconds=FOREVER_S)
    answers: list[Any] = []
    thread = threading.Thread(target=lambda: answers.append(ask(fake, "GET", target)),
                              daemon=True)
    fake.logged.clear()
    thread.start()
    assert fake.logged.wait(SOON_S), "the fake received the request"
    return thread, answers


@pytest.mark.parametrize("release", ["reset", "clear_faults", "stop"])
def test_a_held_reply_is_released_at_once(release) -> None:
    fake = Echo().start()
    try:
        thread, answers = held_request(fake)
        assert answers == [] and fake.calls()[0]["status"] == 200, "its effect came first"
        getattr(fake, release)()
        thread.join(SOON_S)
        assert not thread.is_alive() and answers == [(200, {"path": "/slow", "body": ""})]
    finally:
        fake.stop()


def test_a_delay_holds_only_matching_calls_and_reset_forgets_everything(echo) -> None:
    thread, _ = held_request(echo, "/slow")
    assert ask(echo, "GET", "/fast")[0] == 200, "other calls are not held"
    echo.reset()
    thread.join(SOON_S)
    assert not thread.is_alive()
    assert echo.calls() == [] and echo.rules("delay") == []
    assert echo.pause(0) is False, "released replies do not release later ones"


def test_a_broken_double_answers_500_with_its_traceback(echo) -> None:
    status, body = ask(echo, "PUT", "/bug")
    assert status == 500 and b"this double has a bug" in body
    assert ask(echo)[0] == 200, "and keeps serving"


def test_a_chunked_request_body_is_read_whole(echo) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", echo.port, timeout=SOON_S)
    conn.request("POST", "/chunks", body=iter([b"ab", b"cde"]), encode_chunked=True,
                 headers={"Transfer-Encoding": "chunked"})
    assert json.loads(conn.getresponse().read()) == {"path": "/chunks", "body": "abcde"}
    conn.request("GET", "/again")  # the same kept-alive connection
    assert conn.getresponse().status == 200
    conn.close()


def test_tls_serves_a_client_that_trusts_the_certificate(tmp_path) -> None:
    with Echo(tls=True) as fake:
        assert fake.url.startswith("https://127.0.0.1:") and fake.ca_bundle is not None
        trusting = ssl.create_default_context(cafile=str(fake.ca_bundle))
        assert ask(fake, context=trusting) == (200, {"path": "/thing", "body": ""})
        with pytest.raises(ssl.SSLCertVerificationError):
            ask(fake, context=ssl.create_default_context())
        assert ask(fake, context=trusting)[0] == 200, "a failed handshake hurts nobody else"
    with Echo() as plain:
        ca = plain.use_tls(tmp_path)  # switched on while serving, as the carbon tests do
        assert ca.parent == tmp_path and plain.url.startswith("https://")
        assert ask(plain, context=ssl.create_default_context(cafile=str(ca)))[0] == 200


def test_stop_then_start_serves_again_on_a_new_port() -> None:
    fake = Echo().start()
    fake.stop()
    with pytest.raises(RuntimeError, match="start"):
        fake.url  # noqa: B018 - the property raises
    with fake:
        assert ask(fake)[0] == 200
