"""Ray's side of bench/scale.sh: the probes of bench/scale_bench.cc with Ray's
Python API, the same sizes, on a local Ray started by ray.init().

    python3 bench/scale_ray.py [queued_tasks] [large_object_gib]

Prints one "probe<TAB>value" line per figure. Each probe is bounded by
PROBE_TIMEOUT seconds (SIGALRM); Ray is shut down on the way out, and
bench/scale.sh runs `ray stop` after it whatever happened.
"""

import gc
import os
import signal
import sys
import time

import numpy as np
import ray

PROBE_TIMEOUT = 600


class ProbeTimeout(Exception):
    pass


def on_alarm(signum, frame):
    raise ProbeTimeout(f"no answer within {PROBE_TIMEOUT} s")


def line(probe, value):
    print(f"{probe}\t{value}", flush=True)


def gib(nbytes):
    return f"{nbytes / 2**30:.2f} GiB"


def status_bytes(pid, field):
    with open(f"/proc/{pid}/status") as status:
        for text in status:
            if text.startswith(field + ":"):
                return int(text.split()[1]) * 1024
    return -1


def reset_peak(pid):
    """Peak RSS counts from here on: clear_refs's 5 resets VmHWM to the current RSS."""
    gc.collect()
    with open(f"/proc/{pid}/clear_refs", "w") as f:
        f.write("5")


def find_raylet():
    """The local raylet: this driver's child named raylet."""
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        comm = stat[stat.index("(") + 1 : stat.rindex(")")]
        ppid = int(stat[stat.rindex(")") + 2 :].split()[1])
        if comm == "raylet" and ppid == os.getpid():
            return int(entry)
    return 0


def probe(name, body):
    signal.alarm(PROBE_TIMEOUT)
    try:
        body()
    except Exception as e:  # a timeout or a failure becomes the probe's line
        line(name, f"FAILED: {type(e).__name__}: {e}")
    finally:
        signal.alarm(0)


@ray.remote
def sum_args(*args):
    return sum(args)


@ray.remote(num_returns=3000)
def many_lists():
    return tuple(list(range(10000)) for _ in range(3000))


@ray.remote
def trivial():
    return 0


def many_args():
    refs = [ray.put(i) for i in range(10000)]
    start = time.perf_counter()
    total = ray.get(sum_args.remote(*refs))
    seconds = time.perf_counter() - start
    assert total == 10000 * 9999 // 2, total
    line("many_args", f"{seconds:.3f} s")


def many_returns():
    start = time.perf_counter()
    refs = many_lists.remote()
    expected = list(range(10000))
    for ref in refs:
        assert ray.get(ref) == expected
    line("many_returns", f"{time.perf_counter() - start:.3f} s")


def get_10k_refs():
    expected = np.arange(10000, dtype=np.int64)
    start = time.perf_counter()
    refs = [ray.put(expected) for _ in range(10000)]
    put = time.perf_counter() - start
    start = time.perf_counter()
    values = ray.get(refs)
    get = time.perf_counter() - start
    for value in values:
        assert (value == expected).all()
    line("get_10k_refs", f"{get:.3f} s (the puts before: {put:.3f} s)")


def queued_tasks(count, raylet):
    reset_peak(os.getpid())
    if raylet:
        reset_peak(raylet)
    start = time.perf_counter()
    refs = [trivial.remote() for _ in range(count)]
    submit = time.perf_counter() - start
    values = ray.get(refs)
    total = time.perf_counter() - start
    assert len(values) == count
    line("queued_tasks", f"{count} in {total:.3f} s (submit {submit:.3f} s)")
    driver_peak = status_bytes(os.getpid(), "VmHWM")
    raylet_peak = status_bytes(raylet, "VmHWM") if raylet else -1
    line("queued_driver_peak_rss", gib(driver_peak))
    line("queued_raylet_peak_rss", gib(raylet_peak) if raylet else "raylet not found")
    line("queued_sum_peak_rss", gib(driver_peak + raylet_peak))


def large_object(nbytes):
    with open("/proc/meminfo") as f:
        available = next(int(t.split()[1]) * 1024 for t in f if t.startswith("MemAvailable:"))
    shm = os.statvfs("/dev/shm")
    shm_free = shm.f_bavail * shm.f_frsize
    need = 2 * nbytes + 2**30
    if available < need or shm_free < nbytes + 2**28:
        line(
            "large_object",
            f"SKIPPED: this machine cannot hold a {gib(nbytes)} object: {gib(available)} of "
            f"memory available (need {gib(need)}), {gib(shm_free)} free in /dev/shm "
            f"(need {gib(nbytes + 2**28)})",
        )
        return
    reset_peak(os.getpid())
    source = np.ones(nbytes, dtype=np.int8)  # real bytes, faulted in before the clock starts
    start = time.perf_counter()
    ref = ray.put(source)
    put = time.perf_counter() - start
    del source
    start = time.perf_counter()
    view = ray.get(ref)  # numpy arrays come back as a zero-copy view
    assert view.size == nbytes and view[-1] == 1
    get = time.perf_counter() - start
    del view
    line("large_object_put", f"{put:.3f} s ({gib(nbytes)})")
    line("large_object_getview", f"{get:.3f} s")
    line("large_object_get", "- (Ray's get of an array is the zero-copy view)")
    line("large_object_driver_peak_rss", gib(status_bytes(os.getpid(), "VmHWM")))


def main():
    queued = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    large_gib = int(sys.argv[2]) if len(sys.argv) > 2 else 4
    signal.signal(signal.SIGALRM, on_alarm)
    # The store must hold the large object beside what the earlier probes left.
    ray.init(object_store_memory=(large_gib + 2) * 2**30, include_dashboard=False)
    try:
        raylet = find_raylet()
        probe("many_args", many_args)
        probe("many_returns", many_returns)
        probe("get_10k_refs", get_10k_refs)
        probe("queued_tasks", lambda: queued_tasks(queued, raylet))
        probe("large_object", lambda: large_object(large_gib << 30))
    finally:
        ray.shutdown()


if __name__ == "__main__":
    main()
