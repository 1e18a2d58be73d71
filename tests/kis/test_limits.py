"""The rate limiter: never more than the limit in any 1-second window, and close to it."""
import threading

import pytest

from kis.limits import RateLimiter, limiter_for
from kis_fakes import FakeClock


def most_in_any_second(times: list[float]) -> int:
    times = sorted(times)
    best, j = 0, 0
    for i, t in enumerate(times):
        while times[j] <= t - 1.0:
            j += 1
        best = max(best, i - j + 1)
    return best


@pytest.mark.parametrize("rate", [1.0, 2.0, 18.0, 20.0])
def test_no_one_second_window_holds_more_calls_than_the_limit(rate):
    clock = FakeClock()
    limiter = RateLimiter(rate, clock=clock.monotonic, sleep=clock.sleep)
    times = []
    for _ in range(int(rate * 30)):
        limiter.acquire()
        times.append(clock.monotonic())
    assert most_in_any_second(times) <= rate
    achieved = (len(times) - 1) / (times[-1] - times[0])
    assert achieved >= 0.9 * rate


def test_a_late_wake_up_pushes_later_turns_back_instead_of_bunching_them():
    clock = FakeClock()

    def oversleep(seconds):
        clock.sleep(seconds + 0.2)

    limiter = RateLimiter(10, clock=clock.monotonic, sleep=oversleep)
    times = []
    for _ in range(5):
        limiter.acquire()
        times.append(clock.monotonic())
    gaps = [b - a for a, b in zip(times, times[1:])]
    assert min(gaps) >= limiter.interval


def test_penalize_holds_every_caller_back():
    clock = FakeClock()
    limiter = RateLimiter(18, clock=clock.monotonic, sleep=clock.sleep)
    limiter.acquire()
    limiter.penalize(2.0)
    limiter.acquire()
    assert clock.monotonic() >= 2.0


def test_threads_share_one_pace():
    """40 turns over 4 threads cannot take less than 39 intervals (real clock, about 0.2 s)."""
    import time

    limiter = RateLimiter(200.0)

    def work():
        for _ in range(10):
            limiter.acquire()

    threads = [threading.Thread(target=work) for _ in range(4)]
    started = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert time.monotonic() - started >= 39 * limiter.interval


def test_one_limiter_per_account_and_server_and_the_slower_rate_wins():
    a = limiter_for("real", "11111111-01", "https://x", 18.0)
    b = limiter_for("real", "11111111-01", "https://x", 1.0)
    c = limiter_for("mock", "11111111-01", "https://x", 1.0)
    assert a is b and a.rate == 1.0
    assert c is not a


def test_a_rate_that_is_not_positive_is_refused():
    with pytest.raises(ValueError):
        RateLimiter(0)


def test_two_processes_sharing_a_data_dir_take_turns(tmp_path):
    """Two limiters on one pace file stand for two processes: the second waits for the first's turn."""
    clock = FakeClock()
    path = tmp_path / "pace" / "real-11111111-01-x.turn"
    run = RateLimiter(1.0, clock=clock.monotonic, sleep=clock.sleep, shared_path=path)
    balance = RateLimiter(1.0, clock=clock.monotonic, sleep=clock.sleep, shared_path=path)
    times = []
    for limiter in (run, balance, run, balance):
        limiter.acquire()
        times.append(clock.monotonic())
    gaps = [b - a for a, b in zip(times, times[1:])]
    assert min(gaps) >= run.interval


def test_a_penalty_seen_by_one_process_holds_back_the_other(tmp_path):
    clock = FakeClock()
    path = tmp_path / "turn"
    run = RateLimiter(18.0, clock=clock.monotonic, sleep=clock.sleep, shared_path=path)
    balance = RateLimiter(18.0, clock=clock.monotonic, sleep=clock.sleep, shared_path=path)
    run.acquire()
    run.penalize(3.0)
    balance.acquire()
    assert clock.monotonic() >= 3.0


def test_a_turn_left_far_ahead_by_a_reboot_is_not_waited_for(tmp_path):
    clock = FakeClock()
    path = tmp_path / "turn"
    RateLimiter(1.0, clock=lambda: 10_000.0, sleep=clock.sleep, shared_path=path).acquire()
    RateLimiter(1.0, clock=clock.monotonic, sleep=clock.sleep, shared_path=path).acquire()
    assert clock.monotonic() == 0.0


def test_an_unwritable_data_dir_still_paces_this_process(tmp_path, caplog):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    clock = FakeClock()
    limiter = RateLimiter(1.0, clock=clock.monotonic, sleep=clock.sleep, shared_path=blocker / "pace" / "turn")
    limiter.acquire()
    limiter.acquire()
    assert clock.monotonic() >= limiter.interval
    assert "pacing this process alone" in caplog.text


def test_limiters_of_one_account_and_server_share_a_pace_file_in_the_data_dir(tmp_path):
    limiter = limiter_for("real", "22222222-01", "https://y:9443", 18.0, tmp_path)
    assert limiter.shared_path == tmp_path / "pace" / "real-22222222-01-y_9443.turn"
