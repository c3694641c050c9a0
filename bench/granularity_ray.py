"""Ray's side of bench/granularity.sh: bench/granularity.cc with Ray's Python
API. For each task length G, N = ideal * cpus / G tasks that each burn G
microseconds of CPU (thread CPU time) on a local Ray of `cpus` CPUs, all
submitted, then got in one ray.get; efficiency = ideal / measured seconds.

    python3 bench/granularity_ray.py [ideal_seconds] [cpus] [lengths_us...]

Prints the same tab-separated lines as build/bin/granularity.
"""

import os
import resource
import sys
import time

import ray


@ray.remote
def burn(us):
    end = time.thread_time_ns() + us * 1000
    while time.thread_time_ns() < end:
        pass
    return us


def process_cpu_seconds():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def machine_busy_seconds():
    with open("/proc/stat") as stat:
        fields = [int(x) for x in stat.readline().split()[1:8]]
    user, nice, system, _idle, _iowait, irq, softirq = fields
    return (user + nice + system + irq + softirq) / os.sysconf("SC_CLK_TCK")


def run_all(tasks, length_us):
    done = ray.get([burn.remote(length_us) for _ in range(tasks)])
    if sum(done) != tasks * length_us:
        sys.exit(f"granularity_ray: the tasks returned {sum(done)} us in all, "
                 f"not {tasks * length_us}")


def main():
    ideal = float(sys.argv[1]) if len(sys.argv) > 1 else 5.0
    cpus = int(sys.argv[2]) if len(sys.argv) > 2 else 2
    lengths = [int(x) for x in sys.argv[3:]] or [100, 1000, 10000]
    ray.init(num_cpus=cpus, include_dashboard=False)
    try:
        # Workers started and code shipped: not part of any figure.
        run_all(4 * cpus, 1000)
        print("length_us\ttasks\tseconds\tefficiency\tdriver_cpus\tmachine_cpus", flush=True)
        for length in lengths:
            tasks = int(ideal * 1e6 * cpus / length)
            driver_before = process_cpu_seconds()
            machine_before = machine_busy_seconds()
            start = time.perf_counter()
            run_all(tasks, length)
            seconds = time.perf_counter() - start
            driver = process_cpu_seconds() - driver_before
            machine = machine_busy_seconds() - machine_before
            print(f"{length}\t{tasks}\t{seconds:.3f}\t{ideal / seconds:.3f}\t"
                  f"{driver / seconds:.2f}\t{machine / seconds:.2f}", flush=True)
    finally:
        ray.shutdown()


if __name__ == "__main__":
    main()
