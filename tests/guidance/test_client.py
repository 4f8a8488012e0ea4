import json
import logging
import threading
import time

import pytest

from kinema.guidance import LLMConfig, LLMHTTPError, LLMTimeoutError, MalformedAnswerError, RefusalError
from kinema.guidance.answers import check_caption
from kinema.guidance.client import ChatClient, retry_after_s

from .conftest import Step, completion

KEY = "sk-test-SECRET-0123456789"
MOTION = "In the video, the character's initial pose is standing. Subsequently, it waves. Finally, it stops."
MESSAGES = [{"role": "user", "content": [{"type": "text", "text": "describe"}]}]


def client(server, tmp_path, **kw) -> ChatClient:
    cfg = dict(base_url=server.url, model="m", api_key=KEY, timeout_s=2.0, max_retries=2, backoff_s=0.01,
               max_backoff_s=0.05, cache_dir=tmp_path / "cache") | kw
    return ChatClient(LLMConfig(**cfg))


def motion(text: str) -> str:
    return check_caption("motion", text)


def test_ok_sends_model_messages_and_bearer_key(server, tmp_path):
    server.script(Step(completion(f"  {MOTION}\n")))
    assert client(server, tmp_path).complete(MESSAGES, motion) == MOTION
    assert server.count == 1
    assert server.requests[0]["model"] == "m" and server.requests[0]["messages"] == MESSAGES
    assert server.headers[0]["Authorization"] == f"Bearer {KEY}"


def test_500_then_success_retries(server, tmp_path):
    server.script(Step({"error": "boom"}, status=500), Step(completion(MOTION)))
    assert client(server, tmp_path).complete(MESSAGES, motion) == MOTION
    assert server.count == 2


def test_500_forever_gives_up_with_http_error(server, tmp_path):
    server.script(Step({"error": "boom"}, status=503))
    with pytest.raises(LLMHTTPError) as err:
        client(server, tmp_path, max_retries=1).complete(MESSAGES, motion)
    assert err.value.status == 503 and server.count == 2


@pytest.mark.parametrize("raw", [b'{"choices": [ this is not json', b"", b"\xff\xfe\x00garbage", b"[" * 100_000],
                         ids=["broken", "empty", "not utf-8", "nested too deep"])
def test_malformed_json_is_a_typed_error_without_retry(server, tmp_path, raw):
    server.script(Step(raw=raw))
    with pytest.raises(MalformedAnswerError, match="invalid JSON"):
        client(server, tmp_path).complete(MESSAGES, motion)
    assert server.count == 1


@pytest.mark.parametrize("body", [{"choices": []}, {"nothing": 1}, completion("   "), completion(MOTION, finish_reason="length"),
                                  None, "text", [1, 2], {"choices": "abc"}, {"choices": [{"message": "hi"}]},
                                  {"choices": [{"message": {"content": [{"type": "text", "text": 5}, "x", None]}}]},
                                  {"choices": [{"message": {"content": {"text": MOTION}}}]}])
def test_bad_response_shapes_are_malformed(server, tmp_path, body):
    server.script(Step(raw=json.dumps(body).encode()))
    with pytest.raises(MalformedAnswerError):
        client(server, tmp_path).complete(MESSAGES, motion)


def test_slow_answer_times_out_after_retries(server, tmp_path):
    server.script(Step(completion(MOTION), delay_s=1.0))
    start = time.monotonic()
    with pytest.raises(LLMTimeoutError):
        client(server, tmp_path, timeout_s=0.2, max_retries=1).complete(MESSAGES, motion)
    assert server.count == 2 and time.monotonic() - start < 0.9


def test_slow_then_fast_succeeds(server, tmp_path):
    server.script(Step(completion(MOTION), delay_s=0.6), Step(completion(MOTION)))
    assert client(server, tmp_path, timeout_s=0.2).complete(MESSAGES, motion) == MOTION
    assert server.count == 2


def test_429_honours_retry_after(server, tmp_path):
    server.script(Step({"error": "slow down"}, status=429, headers={"Retry-After": "1"}), Step(completion(MOTION)))
    start = time.monotonic()
    assert client(server, tmp_path).complete(MESSAGES, motion) == MOTION
    assert time.monotonic() - start >= 0.95 and server.count == 2


def test_429_with_too_long_retry_after_fails_at_once(server, tmp_path):
    server.script(Step({"error": "slow down"}, status=429, headers={"Retry-After": "3600"}))
    with pytest.raises(LLMHTTPError, match="3600"):
        client(server, tmp_path).complete(MESSAGES, motion)
    assert server.count == 1


def test_retry_after_parsing():
    assert retry_after_s("2") == 2.0 and retry_after_s(None) is None and retry_after_s("soon") is None
    assert 0 <= retry_after_s("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0  # a date in the past: retry now


@pytest.mark.parametrize("body", [completion("", refusal="I can't help with that."),
                                  completion(MOTION, finish_reason="content_filter"),
                                  completion("I'm sorry, but I can't describe this video.")])
def test_refusals_are_typed_and_not_cached(server, tmp_path, body):
    server.script(Step(body))
    c = client(server, tmp_path)
    for _ in range(2):
        with pytest.raises(RefusalError):
            c.complete(MESSAGES, motion)
    assert server.count == 2
    assert not list((tmp_path / "cache").rglob("*.json"))


def test_wrong_format_is_malformed_and_not_cached(server, tmp_path):
    server.script(Step(completion("- the person waves\n- then stops")), Step(completion("The person waves.")))
    c = client(server, tmp_path)
    for _ in range(2):
        with pytest.raises(MalformedAnswerError):
            c.complete(MESSAGES, motion)
    assert server.count == 2


def test_cache_hit_skips_the_network(server, tmp_path):
    server.script(Step(completion(MOTION)))
    c = client(server, tmp_path)
    assert c.complete(MESSAGES, motion) == MOTION
    assert client(server, tmp_path).complete(MESSAGES, motion) == MOTION  # a fresh client, same cache directory
    assert server.count == 1
    other = [{"role": "user", "content": [{"type": "text", "text": "describe again"}]}]
    c.complete(other, motion)
    assert server.count == 2
    entries = list((tmp_path / "cache").rglob("*.json"))
    assert len(entries) == 2 and all(e.parent.name == e.stem[:2] for e in entries)
    assert {json.loads(e.read_text())["answer"] for e in entries} == {MOTION}


def test_no_cache_dir_always_asks(server, tmp_path):
    server.script(Step(completion(MOTION)))
    c = client(server, tmp_path, cache_dir=None)
    c.complete(MESSAGES, motion), c.complete(MESSAGES, motion)
    assert server.count == 2


def test_key_never_in_logs_errors_cache_or_repr(server, tmp_path, caplog):
    caplog.set_level(logging.DEBUG, logger="kinema.guidance")
    server.script(Step({"error": "x"}, status=500), Step(completion(MOTION)))
    c = client(server, tmp_path)
    c.complete(MESSAGES, motion)
    c.complete(MESSAGES, motion)
    server.answer = lambda body: Step({"error": f"bad key Bearer {KEY}"}, status=401)  # a server that echoes the key
    with pytest.raises(LLMHTTPError) as err:
        c.complete([{"role": "user", "content": "x"}], motion)
    assert err.value.status == 401 and "***" in str(err.value)
    assert "retry" in caplog.text
    for text in (caplog.text, str(err.value), repr(c.config), *(p.read_text() for p in (tmp_path / "cache").rglob("*") if p.is_file())):
        assert KEY not in text


def test_concurrency_limit(server, tmp_path):
    server.script(Step(completion(MOTION), delay_s=0.15))
    c = client(server, tmp_path, concurrency=2, cache_dir=None)
    threads = [threading.Thread(target=c.complete, args=(MESSAGES, motion)) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert server.count == 6 and server.max_in_flight == 2


def test_missing_endpoint_is_an_input_error():
    from kinema.errors import KinemaInputError

    with pytest.raises(KinemaInputError, match="KINEMA_LLM_BASE_URL"):
        ChatClient(LLMConfig(base_url="", model="m"))
    with pytest.raises(KinemaInputError, match="http"):
        ChatClient(LLMConfig(base_url="localhost:8000", model="m"))


@pytest.mark.parametrize("url", ["http://localhost:80a0/v1", "http://localhost:99999/v1", "http:///v1", "http://local host/v1",
                                 "http://localhost:8000/v1\n"])
def test_unusable_base_url_is_an_input_error(url):
    from kinema.errors import KinemaInputError

    with pytest.raises(KinemaInputError, match="base URL"):
        ChatClient(LLMConfig(base_url=url, model="m"))


@pytest.mark.parametrize("key", [KEY + "\n", "sk-\u2019quoted", "sk-a\rb"])
def test_key_that_no_header_can_carry_is_an_input_error_that_hides_it(key):
    from kinema.errors import KinemaInputError

    with pytest.raises(KinemaInputError, match="API key") as err:
        ChatClient(LLMConfig(base_url="http://localhost:8000/v1", model="m", api_key=key))
    assert key.strip() not in str(err.value)
