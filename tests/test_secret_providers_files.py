"""A key in a mounted file, rotated the way the kubelet rotates a Secret volume: a new timestamped directory,
then an atomic swap of the ``..data`` symlink. The source must see the swap without a restart, and without
reading the file on every request.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from claude_guard import ClaudeGuard, GuardSettings
from claude_guard.secret_providers import MountedSecretFileSource, describe_source, source_from_env
from claude_guard.testing import FakeClaude, serve

KEY_ONE = "sk-ant-fake-k8s-one-0000"
KEY_TWO = "sk-ant-fake-k8s-two-0000"  # same length as KEY_ONE: size alone cannot tell them apart


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class SecretVolume:
    """A directory laid out as the kubelet's atomic writer does it."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.generation = 0

    def publish(self, **files: str) -> None:
        self.generation += 1
        stamp = f"..2026_12_01_10_00_{self.generation:02d}.{os.getpid()}"
        folder = self.root / stamp
        folder.mkdir()
        for name, content in files.items():
            (folder / name).write_text(content)
        old = os.readlink(self.root / "..data") if (self.root / "..data").is_symlink() else None
        (self.root / "..data_tmp").symlink_to(stamp)
        os.replace(self.root / "..data_tmp", self.root / "..data")  # the atomic swap
        for name in files:
            link = self.root / name
            if not link.is_symlink():
                link.symlink_to(f"..data/{name}")
        if old is not None:
            for child in (self.root / old).iterdir():
                child.unlink()
            (self.root / old).rmdir()


@pytest.fixture
def volume(tmp_path: Path) -> SecretVolume:
    vol = SecretVolume(tmp_path / "claude")
    vol.root.mkdir()
    vol.publish(api_key=KEY_ONE + "\n")
    return vol


async def test_the_data_symlink_swap_is_picked_up_without_restart(volume: SecretVolume) -> None:
    clock = FakeClock()
    source = MountedSecretFileSource(
        volume.root / "api_key", variable="CLAUDE_API_KEY_FILE", watch_interval=1.0, ttl=3600, clock=clock
    )
    assert (await source.get()).get_secret_value() == KEY_ONE
    volume.publish(api_key=KEY_TWO + "\n")
    # Within the watch interval the cached value is served: no stat, no read per request.
    clock.now += 0.5
    assert (await source.get()).get_secret_value() == KEY_ONE
    clock.now += 0.5
    assert (await source.get()).get_secret_value() == KEY_TWO
    status = describe_source(source)
    assert dict(status.details) == {"path": str(volume.root / "api_key"), "kubernetes_volume": "yes"}


async def test_unchanged_file_is_not_read_again_until_ttl(
    volume: SecretVolume, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = FakeClock()
    source = MountedSecretFileSource(volume.root / "api_key", watch_interval=0, ttl=60, jitter=0, clock=clock)
    reads = 0
    original = Path.read_text

    def counting(self: Path, *args: object, **kwargs: object) -> str:
        nonlocal reads
        reads += 1
        return original(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Path, "read_text", counting)
    for _ in range(5):
        assert (await source.get()).get_secret_value() == KEY_ONE
    assert reads == 0  # read once at construction (before the counter), identity unchanged since
    clock.now += 60
    await source.get()
    assert reads == 1


async def test_a_rewritten_plain_file_and_a_missing_one(tmp_path: Path) -> None:
    path = tmp_path / "key"
    path.write_text(KEY_ONE)
    source = MountedSecretFileSource(path, watch_interval=0)
    assert (await source.get()).get_secret_value() == KEY_ONE
    path.write_text(KEY_TWO)  # a Docker secret or an agent sink rewritten in place
    assert (await source.get()).get_secret_value() == KEY_TWO
    path.unlink()  # briefly missing during a swap: the last good value stays
    assert (await source.get()).get_secret_value() == KEY_TWO
    path.write_text(KEY_ONE)
    assert (await source.get()).get_secret_value() == KEY_ONE
    assert describe_source(source).details[1] == ("kubernetes_volume", "no")


async def test_the_gateway_forwards_the_rotated_key_from_the_volume(volume: SecretVolume) -> None:
    settings = GuardSettings.from_env({"CLAUDE_API_KEY_FILE": str(volume.root / "api_key")})
    source = settings.api_key_source
    assert isinstance(source, MountedSecretFileSource)
    source.watch_interval = 0
    guard = ClaudeGuard(settings=settings)
    with serve(FakeClaude(api_key=KEY_ONE)) as first, serve(FakeClaude(api_key=KEY_TWO)) as second:
        upstream = guard.upstream
        try:
            upstream.base_url = first.url
            response = await upstream.send("/v1/messages", b'{"model":"claude-sonnet-4-6"}', {})
            await response.aclose()
            assert (await upstream.key()).get_secret_value() == KEY_ONE
            volume.publish(api_key=KEY_TWO)
            upstream.base_url = second.url
            response = await upstream.send("/v1/messages", b'{"model":"claude-sonnet-4-6"}', {})
            await response.aclose()
            assert response.status_code != 401
            assert (await upstream.key()).get_secret_value() == KEY_TWO
        finally:
            await guard.aclose()


def test_the_env_var_form_is_an_env_source_and_the_volume_form_a_file_source(volume: SecretVolume) -> None:
    # env: valueFrom.secretKeyRef (read once: a rotation needs a restart); volume: re-read when swapped.
    assert describe_source(source_from_env({"CLAUDE_API_KEY": KEY_ONE})).kind == "env"
    assert (
        describe_source(source_from_env({"CLAUDE_API_KEY_FILE": str(volume.root / "api_key")})).kind == "file"
    )
