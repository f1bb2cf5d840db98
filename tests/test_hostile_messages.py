"""Messages another client writes into a Redis mailbox (malformed JSON, extra keys, deep
nesting, huge numbers, 1e999) are dropped and counted, never taken in or fatal; a
payload that the wire would refuse is refused when a message is built.

Decision (documented in :mod:`powergrid.messaging.base`): a mailbox is shared with
whoever can reach the server, so a message that is not in the wire form is dropped,
counted in ``Broker.dropped(agent)`` and in every agent's ``info["dropped_messages"]``;
the run goes on exactly as without it.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from test_messaging import REDIS_URL, need_redis

from powergrid.messaging import Message, RedisBroker
from rl_bridge import microgrids_v0

GOOD = Message("MG2", {"price": 42.0}, 0.0, recipient="MG1").to_json()
HOSTILE = {
    "malformed JSON": '{"sender": "x", ',
    "an extra key": GOOD[:-1] + ', "extra": 1}',
    "10^5-deep payload": GOOD.replace('"payload":{"price":42.0}',
                                      '"payload":{"a":' + "[" * 100_000 + "]" * 100_000 + "}"),
    "a 400-digit integer": GOOD.replace("42.0", "1" + "0" * 399),
    "1e999": GOOD.replace("42.0", "1e999"),
    "1 MB": GOOD.replace("42.0", json.dumps("x" * 1_000_000)),
    "not UTF-8": b"\xff\xfe" + GOOD.encode(),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_a_message_not_in_the_wire_form_is_refused_on_its_own(case: str) -> None:
    from powergrid.messaging import BrokerError

    with pytest.raises(BrokerError, match="malformed message on the wire"):
        Message.from_json(HOSTILE[case])


def test_a_payload_the_wire_refuses_cannot_be_built() -> None:
    with pytest.raises(ValueError, match="integer of 400 digits"):
        Message("MG2", {"price": 10**399}, 0.0, recipient="MG1")
    with pytest.raises(ValueError, match="nested"):
        deep: list = [1]
        for _ in range(20):
            deep = [deep]
        Message("MG2", {"a": deep}, 0.0, recipient="MG1")


def test_redis_drops_and_counts_what_another_client_pushes() -> None:
    need_redis()
    import redis

    with RedisBroker(REDIS_URL) as broker:
        raw = redis.Redis.from_url(REDIS_URL)
        key = f"powergrid:{broker.namespace}:mbox:MG1"
        for wire in HOSTILE.values():
            raw.rpush(key, wire)
        raw.rpush(key, GOOD)
        got = broker.receive("MG1")
        assert [m.payload for m in got] == [{"price": 42.0}]
        assert broker.dropped("MG1") == len(HOSTILE) and broker.dropped("MG2") == 0


def _episode(message_broker: str, vandal: bool) -> tuple[list[dict], list[dict]]:
    """Rewards and infos of one distributed p2p episode with fixed actions; with
    ``vandal``, another Redis client writes every hostile wire into MG1's mailbox before
    every step."""
    import redis

    env = microgrids_v0.parallel_env(centralized=False, protocol="p2p", train=False,
                                     message_broker=message_broker, max_episode_steps=6)
    raw = redis.Redis.from_url(REDIS_URL)
    rng = np.random.default_rng(4)
    rewards, infos = [], []
    try:
        env.reset(seed=0)
        while env.agents:
            if vandal:
                for key in raw.scan_iter("powergrid:*:keys"):
                    prefix = key.decode().rsplit(":", 1)[0]
                    for wire in HOSTILE.values():
                        raw.rpush(f"{prefix}:mbox:MG1", wire)
            actions = {a: rng.uniform(env.action_space(a).low, env.action_space(a).high)
                       .astype(np.float32) for a in env.agents}
            _, reward, _, _, info = env.step(actions)
            rewards.append(reward)
            infos.append(info)
    finally:
        env.close()
    return rewards, infos


def test_a_run_under_hostile_messages_equals_a_clean_run() -> None:
    need_redis()
    clean_rewards, clean_infos = _episode(REDIS_URL, vandal=False)
    rewards, infos = _episode(REDIS_URL, vandal=True)
    assert rewards == clean_rewards  # bit for bit: nothing of the junk was taken in
    assert [i["MG1"]["cost"] for i in infos] == [i["MG1"]["cost"] for i in clean_infos]
    dropped = [i["MG1"]["dropped_messages"] for i in infos]
    assert dropped[-1] >= len(HOSTILE) and dropped == sorted(dropped)
    assert all(i["MG2"]["dropped_messages"] == 0 for i in infos)
    assert all(i["MG1"]["dropped_messages"] == 0 for i in clean_infos)


def test_a_broker_that_dies_mid_run_is_one_line_exit_1_and_every_step_kept(tmp_path) -> None:
    need_redis()
    import shutil
    import subprocess
    import sys

    from test_faults import REPO_ROOT, csv_rows, free_port, wait_until

    port = free_port()
    server = subprocess.Popen([shutil.which("redis-server") or "redis-server", "--bind",
                               "127.0.0.1", "--port", str(port), "--save", "",
                               "--appendonly", "no"], stdout=subprocess.DEVNULL)
    out = tmp_path / "out"
    run = subprocess.Popen([sys.executable, "-m", "powergrid.cli", "run", "microgrids",
                            "--protocol", "p2p", "--distributed", "--message-broker",
                            f"redis://127.0.0.1:{port}/0", "--steps", "1500", "--quiet",
                            "--out", str(out)], cwd=REPO_ROOT, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE)
    try:
        wait_until(lambda: (out / "timeseries.csv").exists()
                   and csv_rows(out / "timeseries.csv") >= 3 or run.poll() is not None,
                   120, "rows of the run")
        assert run.poll() is None, run.communicate()[1].decode()[-2000:]
        server.kill()
        _, err = run.communicate(timeout=120)
    finally:
        server.kill()
        run.kill()
    lines = err.decode().strip().splitlines()
    assert run.returncode == 1 and len(lines) == 1, lines
    assert f"Redis broker at redis://127.0.0.1:{port}/0 is unavailable" in lines[0]
    data = (out / "timeseries.csv").read_bytes()
    assert data.endswith(b"\n")
    rows = data.count(b"\n") - 1
    summary = json.loads((out / "summary.json").read_text())
    assert summary["completed"] is False and summary["steps"] == rows >= 3
    assert "is unavailable" in summary["error"]
