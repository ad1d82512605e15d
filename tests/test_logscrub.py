"""The leak test: canary secrets logged every way a program logs never reach any handler's output."""

from __future__ import annotations

import io
import logging
import logging.config
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from claude_guard.logscrub import (
    RegisteringSecretSource,
    SecretRegistry,
    SecretScrubFilter,
    install_log_scrubbing,
    uninstall_log_scrubbing,
)
from claude_guard.secrets import EnvSecretSource, Secret
from claude_guard.testing import serve

# Obviously fake canaries, one per shape the scrubber must know without being told (the credential table),
# and one plain value it only knows because it was registered.
ANTHROPIC_CANARY = "sk-ant-api03-" + ("FAKE" * 24)[:93] + "AA"
ADMIN_CANARY = "sk-ant-admin01-" + "FAKE" * 8
CLIENT_KEY_CANARY = "cg_live_FAKEFAKEFAKEFAKE0000"
BEARER_TOKEN = "fake-bearer-canary-0000"
AWS_KEY_ID_CANARY = "AKIA" + "FAKEFAKEFAKEFAKE"
REGISTERED_CANARY = "fake-registered-canary-7Q"
CANARIES = (
    ANTHROPIC_CANARY,
    ADMIN_CANARY,
    CLIENT_KEY_CANARY,
    BEARER_TOKEN,
    AWS_KEY_ID_CANARY,
    REGISTERED_CANARY,
)
LEVELS = (logging.DEBUG, logging.INFO, logging.WARNING, logging.ERROR, logging.CRITICAL)


def assert_clean(text: str) -> None:
    for canary in CANARIES:
        assert canary not in text, f"leaked {canary[:12]}... in {text!r}"
    # A fragment long enough to be useful to anyone is as bad as the whole key.
    assert "FAKEFAKEFAKEFAKEFAKE" not in text


@pytest.fixture
def captured() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    """A logger of the test's own with a StringIO handler that formats everything, exceptions included."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))
    handler.setLevel(logging.DEBUG)
    log = logging.getLogger("claude_guard_test.scrub")
    log.setLevel(logging.DEBUG)
    log.addHandler(handler)
    log.propagate = False
    install_log_scrubbing(known=[Secret(REGISTERED_CANARY)], loggers=[log])
    try:
        yield log, stream
    finally:
        uninstall_log_scrubbing()
        log.removeHandler(handler)
        log.propagate = True


def _raise_with_key() -> None:
    raise ValueError(f"upstream rejected x-api-key {ANTHROPIC_CANARY}")


def _chain() -> None:
    try:
        try:
            _raise_with_key()
        except ValueError as inner:
            raise RuntimeError(f"while calling with Bearer {BEARER_TOKEN}") from inner
    except RuntimeError:
        # Implicit context on top of an explicit cause, and a note.
        error = KeyError(f"client key {CLIENT_KEY_CANARY} unknown")
        error.add_note(f"registered {REGISTERED_CANARY}")
        raise error  # noqa: B904 - the implicit context is what this test needs


@pytest.mark.parametrize("level", LEVELS, ids=[logging.getLevelName(level) for level in LEVELS])
def test_messages_and_arguments_at_every_level(
    captured: tuple[logging.Logger, io.StringIO], level: int
) -> None:
    log, stream = captured
    log.log(level, f"plain message with {ANTHROPIC_CANARY} and {REGISTERED_CANARY}")
    log.log(level, "percent args %s %r %s", CLIENT_KEY_CANARY, ADMIN_CANARY, f"Bearer {BEARER_TOKEN}")
    log.log(level, "dict args %(key)s / %(id)s", {"key": ANTHROPIC_CANARY, "id": AWS_KEY_ID_CANARY})
    log.log(level, "header Authorization: %s", "Bearer " + BEARER_TOKEN)
    log.log(level, "an object %s", {"headers": {"x-api-key": ANTHROPIC_CANARY}})
    log.log(level, Secret(ANTHROPIC_CANARY))
    log.log(level, "extra fields", extra={"api_key": REGISTERED_CANARY, "nested": {"k": [ADMIN_CANARY]}})
    out = stream.getvalue()
    assert out.count("\n") >= 7
    assert "**********" in out
    assert_clean(out)


@pytest.mark.parametrize("level", LEVELS, ids=[logging.getLevelName(level) for level in LEVELS])
def test_exceptions_and_tracebacks_at_every_level(
    captured: tuple[logging.Logger, io.StringIO], level: int
) -> None:
    log, stream = captured
    try:
        _chain()
    except KeyError:
        log.log(level, "failed with %s", ANTHROPIC_CANARY, exc_info=True)
    try:
        raise ExceptionGroup("several", [ValueError(ADMIN_CANARY), TypeError(f"Bearer {BEARER_TOKEN}")])
    except ExceptionGroup:
        log.log(level, "group", exc_info=True)
    log.log(level, "with a stack %s", CLIENT_KEY_CANARY, stack_info=True)
    out = stream.getvalue()
    assert "Traceback (most recent call last)" in out
    assert "The above exception was the direct cause" in out
    assert "During handling of the above exception" in out
    assert "Stack (most recent call last)" in out
    assert_clean(out)


def test_exception_is_formatted_once_and_later_handlers_see_the_clean_text(
    captured: tuple[logging.Logger, io.StringIO],
) -> None:
    log, stream = captured
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    keep = Keep()
    log.addHandler(keep)  # added after install: the logger's own filter still cleans the record first
    try:
        try:
            _raise_with_key()
        except ValueError:
            log.exception("boom")
    finally:
        log.removeHandler(keep)
    (record,) = records
    assert record.exc_info is None
    assert record.args is None
    assert record.exc_text is not None
    assert "ValueError" in record.exc_text
    assert_clean(record.exc_text + record.getMessage())
    assert_clean(stream.getvalue())


def test_propagated_records_are_cleaned_by_handler_filters() -> None:
    """A filter on the parent logger alone would miss a child's records; the one on its handler does not."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    parent = logging.getLogger("claude_guard_test.parent")
    parent.addHandler(handler)
    parent.setLevel(logging.DEBUG)
    parent.propagate = False
    child = logging.getLogger("claude_guard_test.parent.child")
    try:
        install_log_scrubbing(loggers=[parent])
        child.error("child says %s", ANTHROPIC_CANARY)
        assert "child says **********" in stream.getvalue()
        assert_clean(stream.getvalue())
    finally:
        uninstall_log_scrubbing()
        parent.removeHandler(handler)
        parent.propagate = True


def test_install_is_idempotent_picks_up_new_handlers_and_uninstalls() -> None:
    log = logging.getLogger("claude_guard_test.idempotent")
    first, second = logging.NullHandler(), logging.NullHandler()
    log.addHandler(first)
    try:
        a = install_log_scrubbing(loggers=[log])
        b = install_log_scrubbing(loggers=[log])
        assert a is b
        assert log.filters.count(a) == 1
        assert first.filters.count(a) == 1
        log.addHandler(second)
        install_log_scrubbing(loggers=[log])
        assert second.filters == [a]
        uninstall_log_scrubbing()
        assert a not in log.filters
        assert not first.filters
        assert not second.filters
    finally:
        uninstall_log_scrubbing()
        log.removeHandler(first)
        log.removeHandler(second)


def test_default_install_covers_root_uvicorn_claude_guard_httpx_anthropic() -> None:
    scrubber = install_log_scrubbing()
    try:
        for name in ("", "uvicorn", "uvicorn.error", "uvicorn.access", "claude_guard", "httpx", "anthropic"):
            target = logging.getLogger(name or None)
            assert scrubber in target.filters
            for handler in target.handlers:
                assert scrubber in handler.filters
    finally:
        uninstall_log_scrubbing()


def test_a_record_that_cannot_be_scrubbed_is_withheld_not_dropped(
    captured: tuple[logging.Logger, io.StringIO],
) -> None:
    log, stream = captured

    class Unprintable:
        def __str__(self) -> str:
            raise RuntimeError(ANTHROPIC_CANARY)

    log.error(Unprintable())
    log.error("wrong arity %s %s", ANTHROPIC_CANARY)
    out = stream.getvalue()
    assert "withheld" in out
    assert out.count("\n") == 2
    assert_clean(out)


def test_registry_and_registering_source() -> None:
    registry = SecretRegistry(capacity=2)
    registry.add(Secret("fake-one-0000"))
    registry.add(Secret("fake-one-0000"))
    registry.add(Secret("fake-two-0000"))
    registry.add(Secret("fake-three-0000"))
    assert len(registry) == 2
    with pytest.raises(TypeError):
        registry.add("plain string")  # type: ignore[arg-type]
    scrubber = SecretScrubFilter(registry=registry)
    record = logging.LogRecord(
        "x", logging.INFO, __file__, 1, "%s %s", ("fake-three-0000", "fake-one-0000"), None
    )
    scrubber.filter(record)
    assert record.getMessage() == "********** fake-one-0000"  # the oldest was forgotten


async def test_registering_source_makes_rotated_values_known() -> None:
    registry = SecretRegistry()
    source = RegisteringSecretSource(EnvSecretSource("K", {"K": "fake-rotated-value-0000"}), registry)
    await source.get()
    assert [s.get_secret_value() for s in registry.snapshot()] == ["fake-rotated-value-0000"]
    source.invalidate()  # the wrapped source has none: a no-op


def test_uvicorn_logging_config_keeps_working_and_is_clean() -> None:
    """uvicorn's own dictConfig, its DefaultFormatter and its AccessFormatter (which unpacks args)."""
    uvicorn_config = pytest.importorskip("uvicorn.config")
    names = ("uvicorn", "uvicorn.error", "uvicorn.access")
    saved = {name: logging.getLogger(name) for name in names}
    state = {n: (lg.handlers[:], lg.filters[:], lg.level, lg.propagate) for n, lg in saved.items()}
    logging.config.dictConfig(uvicorn_config.LOGGING_CONFIG)
    stream = io.StringIO()
    try:
        for name in names:
            for handler in logging.getLogger(name).handlers:
                assert isinstance(handler, logging.StreamHandler)
                handler.setStream(stream)
        install_log_scrubbing(known=[Secret(REGISTERED_CANARY)])
        logging.getLogger("uvicorn.error").error("bad header Bearer %s", BEARER_TOKEN)
        try:
            _raise_with_key()
        except ValueError:
            logging.getLogger("uvicorn.error").exception("Exception in ASGI application")
        logging.getLogger("uvicorn.access").info(
            '%s - "%s %s HTTP/%s" %d',
            "127.0.0.1:5000",
            "GET",
            f"/v1/models?key={ANTHROPIC_CANARY}&t={REGISTERED_CANARY}",
            "1.1",
            200,
        )
        out = stream.getvalue()
        assert "Exception in ASGI application" in out
        assert '"GET /v1/models?key=**********&t=********** HTTP/1.1" 200' in out
        assert_clean(out)
    finally:
        uninstall_log_scrubbing()
        for name, (handlers, filters, level, propagate) in state.items():
            logger = logging.getLogger(name)
            logger.handlers[:] = handlers
            logger.filters[:] = filters
            logger.setLevel(level)
            logger.propagate = propagate


@pytest.mark.server
def test_a_real_server_traceback_through_uvicorn_is_clean() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    root = logging.getLogger()
    root.addHandler(handler)
    old_level = root.level
    root.setLevel(logging.DEBUG)

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        logging.getLogger("claude_guard").info("about to call with %s", ANTHROPIC_CANARY)
        raise RuntimeError(f"upstream refused {ANTHROPIC_CANARY} (registered {REGISTERED_CANARY})")

    try:
        install_log_scrubbing(known=[Secret(REGISTERED_CANARY)])
        with serve(app) as server:
            response = httpx.get(f"{server.url}/boom?token={CLIENT_KEY_CANARY}")
        assert response.status_code == 500
        out = stream.getvalue()
        assert "Exception in ASGI application" in out
        assert "RuntimeError: upstream refused **********" in out
        assert_clean(out)
    finally:
        uninstall_log_scrubbing()
        root.removeHandler(handler)
        root.setLevel(old_level)


def test_every_format_of_the_credential_table_is_masked_in_records(
    captured: tuple[logging.Logger, io.StringIO],
) -> None:
    import random

    from data.secrets_corpus import CREDENTIAL_GENERATORS

    log, stream = captured
    scrubber = install_log_scrubbing(loggers=[log])
    try:
        values = []
        for row_id, generate in CREDENTIAL_GENERATORS.items():
            value, carrier = generate(random.Random(f"log:{row_id}"))
            values.append(value)
            log.error("calling %s failed", carrier, extra={"detail": {"cfg": carrier}})
            try:
                raise RuntimeError(f"bad config {carrier}")
            except RuntimeError:
                log.exception("boom")
        out = stream.getvalue()
        assert scrubber is not None
        for value in values:
            assert value not in out
            for line in value.splitlines():
                assert len(line) < 12 or line not in out
    finally:
        uninstall_log_scrubbing()
