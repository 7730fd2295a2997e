"""Fleet benchmark: wall time, module executions and WinRM commands per host, against the win_ping floor,
side by side at several fleet sizes and per-command costs, in one run.

For each fleet size (default 10 and 50 hosts, forks = hosts) and each cost of a WinRM command execution
(default 0, then the two realistic values below; `lab up --command-delay`), a fresh lab of the private-ca scenario
(127.0.0.0/8 only) runs:
  1. a fleet-wide win_ping (the floor: one module execution per host);
  2. playbooks/facts.yml and playbooks/compliance.yml (which fails the private-ca fleet's non-compliant hosts: expected);
  3. playbooks/remediate.yml with the lab's replacement PFX, mfa_tls_serial = hosts (one batch), twice:
     every host changes, then nothing changes.
At zero cost and the largest fleet, tls_probe over every endpoint in one `ansible localhost` call, beside a
bare ssl handshake loop and the probe engine in-process (bench/probe_throughput.py's functions).
Counters are the lab's ground truth (`lab state`), as deltas per host. Task times come from the bench-only
callback bench/callback_plugins/task_times.py. Every lab goes down at the end of its runs.
Usage: python bench/fleet.py [--hosts 10 50] [--delays 0 0.5 6] [--concurrency 16] [--keep]
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import yaml

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path[:0] = [str(BENCH), str(ROOT), str(ROOT / "tests")]

import probe_throughput  # noqa: E402  (puts the collection on sys.path too)

from tests.support.lab_harness import VENV_BIN, Lab, configuration, lab_cli, recap, start_lab  # noqa: E402

PLAYBOOKS = ROOT / "playbooks"
PLAYBOOK_TIMEOUT = 900  # seconds; every subprocess is bounded
PING = """---
- name: The floor, one module execution per host
  hosts: mfa_servers
  gather_facts: false
  tasks:
    - name: Ping
      ansible.windows.win_ping:
"""
LOOPBACK = ipaddress.ip_network("127.0.0.0/8")
# Seconds one module execution costs on a Windows host (docs/windows-model.md 8.5): no firm measurement
# exists, so two: a tuned host ("low hundreds of milliseconds" per task, ansible/ansible#58259, plus the
# WinRM round trips) and a stock one (~6 s per task before that tuning, same source).
REALISTIC_DELAYS = (0.5, 6.0)


@dataclass
class Run:
    name: str
    seconds: float
    modules: dict[str, int] = field(default_factory=dict)  # host -> module executions (delta)
    commands: dict[str, int] = field(default_factory=dict)  # host -> WinRM commands (delta)
    by_module: dict[str, int] = field(default_factory=dict)  # module -> executions, fleet-wide
    changed_hosts: list[str] = field(default_factory=list)  # hosts whose configuration changed
    tasks: list[dict] = field(default_factory=list)
    rc: int | None = None
    note: str = ""
    target: str = ""
    verdict: str = ""  # met | MISSED | (empty: reference)
    ratio: float | None = None


def snapshot(lab: Lab) -> dict:
    out = lab_cli("state", "--dir", str(lab.dir), timeout=120)
    if out.returncode != 0:
        raise RuntimeError(f"lab state failed: {out.stderr}")
    return json.loads(out.stdout)


def deltas(run: Run, before: dict, after: dict) -> None:
    for host, now in after.items():
        was = before[host]["counters"]
        modules = {m: c - was["modules"].get(m, 0) for m, c in now["counters"]["modules"].items()}
        modules = {m: c for m, c in modules.items() if c}
        run.modules[host] = sum(modules.values())
        run.commands[host] = now["counters"]["winrm_commands"] - was["winrm_commands"]
        for module, count in modules.items():
            run.by_module[module] = run.by_module.get(module, 0) + count
        if configuration(now) != configuration(before[host]):
            run.changed_hosts.append(host)


def playbook(lab: Lab, work: Path, name: str, path: Path, forks: int, *extra: str) -> Run:
    times = work / "task-times.json"
    times.unlink(missing_ok=True)
    env = lab.env() | {
        "ANSIBLE_CALLBACK_PLUGINS": str(BENCH / "callback_plugins"),
        "ANSIBLE_CALLBACKS_ENABLED": "task_times",
        "MFA_TLS_BENCH_TASK_TIMES": str(times),
    }
    cmd = [str(VENV_BIN / "ansible-playbook"), "-i", str(lab.inventory), str(path), "--forks", str(forks)]
    before = snapshot(lab)
    start = time.perf_counter()
    out = subprocess.run(
        [*cmd, *extra],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=env,
        timeout=PLAYBOOK_TIMEOUT,
        check=False,
    )
    run = Run(name, time.perf_counter() - start, rc=out.returncode)
    deltas(run, before, snapshot(lab))
    slug = "".join(c if c.isalnum() else "-" for c in name).strip("-")
    (work / f"{slug}.log").write_text(out.stdout + out.stderr)
    if times.exists():
        run.tasks = json.loads(times.read_text())
    totals: dict[str, int] = {}
    for counts in recap(out.stdout).values():
        for key in ("ok", "changed", "failed", "unreachable", "skipped"):
            totals[key] = totals.get(key, 0) + counts.get(key, 0)
    run.note = " ".join(f"{k}={v}" for k, v in totals.items())
    return run


def spread(values: list[int]) -> str:
    if not values:
        return "-"
    low, high = min(values), max(values)
    return f"{low}" if low == high else f"{low}-{high} (mean {statistics.mean(values):.2f})"


def report(run: Run, floor: float | None) -> None:
    if floor and run.ratio is None:
        run.ratio = run.seconds / floor
    ratio = f"{run.ratio:.2f}x" if run.ratio is not None else "-"
    if run.rc is None:  # the probe runs: throughput against the bare handshake loop
        print(f"\n== {run.name}: {run.seconds:.2f} s wall, {ratio} the bare loop's throughput")
    else:
        print(f"\n== {run.name}: {run.seconds:.2f} s wall, {ratio} the floor, rc {run.rc}")
    if run.modules:
        hosts = len(run.modules)
        print(f"   module executions per host: {spread(list(run.modules.values()))}")
        by_module = ", ".join(f"{m} {c / hosts:.2f}" for m, c in sorted(run.by_module.items()))
        print(f"     by module (fleet total / hosts): {by_module or 'none'}")
        print(f"   WinRM commands per host: {spread(list(run.commands.values()))}")
        if run.changed_hosts or run.name.startswith("remediate"):
            changed = set(run.changed_hosts)
            moved = [run.modules[h] for h in run.modules if h in changed]
            still = [run.modules[h] for h in run.modules if h not in changed]
            print(
                f"   hosts changed: {len(moved)} (module executions {spread(moved)}); "
                f"unchanged: {len(still)} (module executions {spread(still)})"
            )
    if run.note:
        print(f"   {run.note}")
    if run.tasks:
        print(f"   tasks ({len(run.tasks)} incl. play starts), seconds from each start to the next:")
        for task in run.tasks:
            print(f"     {task['seconds']:6.2f}  {task['task'][:100]}")


def judge(
    run: Run, limit_ratio: float | None, limit_changed: int, limit_unchanged: int | None = None
) -> None:
    """Targets of issue 15: module executions per host (hosts that change / do not) and the wall ratio."""
    changed = set(run.changed_hosts)
    moved = [run.modules[h] for h in run.modules if h in changed]
    still = [run.modules[h] for h in run.modules if h not in changed]
    parts, ok = [], True
    if limit_unchanged is None:  # a read: every host alike
        parts.append(f"<= {limit_changed} exec/host")
        ok = max(run.modules.values()) <= limit_changed
    else:
        parts.append(f"<= {limit_changed} exec/host changed, <= {limit_unchanged} unchanged")
        ok = (not moved or max(moved) <= limit_changed) and (not still or max(still) <= limit_unchanged)
    if limit_ratio is not None and run.ratio is not None:
        parts.append(f"<= {limit_ratio:g}x floor")
        ok = ok and run.ratio <= limit_ratio
    run.target = ", ".join(parts)
    run.verdict = "met" if ok else "MISSED"


def fleet_endpoints(report_dir: Path, hosts: list[str]) -> list[dict]:
    """Every endpoint of the fleet as the reviews in the reports list it, as tls_probe targets (127/8 only)."""
    targets = []
    for host in hosts:
        review = json.loads((report_dir / "hosts" / f"{host}.json").read_text())
        for endpoint in review.get("endpoints", []):
            address = endpoint.get("address") or ""
            if ipaddress.ip_address(address.rsplit(":", 1)[0].strip("[]")) not in LOOPBACK:
                raise RuntimeError(f"{host}: endpoint {endpoint['url']} has no 127/8 address ({address!r})")
            targets.append(
                {
                    "url": endpoint["url"],
                    "address": address,
                    "check_http_status": endpoint.get("component") is not None,
                }
            )
    return targets


def probe_runs(lab: Lab, work: Path, concurrency: int) -> list[Run]:
    from urllib.parse import urlsplit

    targets = fleet_endpoints(work / "reports", lab.hosts())
    roots = Path(
        yaml.safe_load(lab.inventory.read_text())["all"]["children"]["mfa_servers"]["vars"][
            "mfa_tls_trust_bundle"
        ]
    )
    n = len(targets)
    names = [urlsplit(t["url"]).hostname for t in targets]
    addresses = [t["address"] for t in targets]
    bare = probe_throughput.bare_loop(addresses, names)
    in_process, results = probe_throughput.engine_targets(targets, roots, concurrency)
    env = lab.env()
    startup_start = time.perf_counter()
    subprocess.run(
        [str(VENV_BIN / "ansible"), "localhost", "-m", "ansible.builtin.ping"],
        cwd=ROOT,
        capture_output=True,
        env=env,
        timeout=PLAYBOOK_TIMEOUT,
        check=True,
    )
    startup = time.perf_counter() - startup_start
    through_ansible, stdout = probe_throughput.module_targets(targets, roots, concurrency, env=env)
    answer = json.loads(stdout.split("=>", 1)[1])  # "localhost | SUCCESS => {...}"
    module_results = answer.get("results", [])
    trusted = sum(1 for r in module_results if r["trusted"])
    engine_trusted = sum(1 for r in results if r["trusted"])
    runs = [
        Run(
            "bare ssl handshake loop",
            bare,
            note=f"{n} endpoints sequential, {n / bare:.1f} endpoints/s",
            ratio=1.0,
        ),
        Run(
            "tls_probe engine in-process",
            in_process,
            note=f"concurrency {concurrency}, {n / in_process:.1f} endpoints/s, trusted {engine_trusted}/{n}",
            ratio=bare / in_process,
        ),
        Run(
            "tls_probe (ansible -m, one call)",
            through_ansible,
            note=(
                f"concurrency {concurrency}, {n / through_ansible:.1f} endpoints/s, trusted {trusted}/{n}; "
                f"`ansible localhost -m ping` alone takes {startup:.2f} s, so the module itself "
                f"~{max(through_ansible - startup, 0.001):.2f} s = "
                f"{bare / max(through_ansible - startup, 0.001):.2f}x the bare loop"
            ),
            ratio=bare / through_ansible,
        ),
    ]
    for run in runs[1:]:
        run.target = ">= 0.5x bare throughput"
        run.verdict = "met" if run.ratio >= 0.5 else "MISSED"
    return runs


# Wall-time targets (x the win_ping floor) at a realistic per-command delay, 50 hosts (issue 15); at zero delay
# only reads have one. None: counts only.
REALISTIC_LIMITS = {
    "facts.yml": 1.3,
    "compliance.yml": 1.3,
    "remediate (changes)": 3.5,
    "remediate (idempotent)": 1.5,
}
ZERO_LIMITS = {"facts.yml": 2.0, "compliance.yml": 2.0}


def fleet_runs(lab: Lab, work: Path, forks: int, hosts: int, limits: dict[str, float]) -> list[Run]:
    """The floor, facts, compliance and two remediations against one fresh lab, judged against `limits`."""
    reports = work / "reports"
    (work / "ping.yml").write_text(PING)
    floor_run = playbook(lab, work, "win_ping (floor)", work / "ping.yml", forks)
    floor = floor_run.seconds
    report(floor_run, floor)
    runs = [floor_run]
    for name, path in (
        ("facts.yml", PLAYBOOKS / "facts.yml"),
        ("compliance.yml", PLAYBOOKS / "compliance.yml"),
    ):
        run = playbook(lab, work, name, path, forks, "-e", f"mfa_tls_report_dir={reports}")
        if name == "compliance.yml":
            run.note += " (failed = non-compliant private-ca hosts, expected before remediation)"
        report(run, floor)
        judge(run, limits.get(name), 1)
        runs.append(run)
    password = (lab.dir / "certs" / "replacement.pass").read_text().strip()
    variables = json.dumps(
        {
            "mfa_tls_pfx_path": str(lab.dir / "certs" / "replacement.pfx"),
            "mfa_tls_pfx_password": password,
            "mfa_tls_serial": hosts,
        }
    )
    for name in ("remediate (changes)", "remediate (idempotent)"):
        run = playbook(lab, work, name, PLAYBOOKS / "remediate.yml", forks, "-e", variables)
        report(run, floor)
        judge(run, limits.get(name), 3, 1)
        runs.append(run)
    return runs


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--hosts", type=int, nargs="+", default=[10, 50], help="fleet sizes (forks = hosts)")
    parser.add_argument(
        "--delays",
        type=float,
        nargs="+",
        default=[0.0, *REALISTIC_DELAYS],
        help="seconds per WinRM command execution (lab up --command-delay); 0 = the controller alone",
    )
    parser.add_argument("--concurrency", type=int, default=16, help="tls_probe concurrency")
    parser.add_argument("--keep", action="store_true", help="keep the work folder (logs, reports)")
    options = parser.parse_args()
    if not all(1 <= n <= 250 for n in options.hosts):
        parser.error("--hosts must be 1..250")

    # SIGTERM/SIGHUP end the bench through `finally`, which brings the lab down.
    def stop(signum, _frame):
        raise SystemExit(128 + signum)

    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, stop)

    work_root = Path(tempfile.mkdtemp(prefix="mfa-tls-fleet-bench-"))
    load_start = os.getloadavg()
    print(f"controller: {os.cpu_count()} CPUs, load average {load_start[0]:.2f} at start")
    table: dict[tuple[int, float], list[Run]] = {}
    probes: list[Run] = []
    try:
        for hosts in options.hosts:
            for delay in options.delays:
                work = work_root / f"{hosts}-hosts-{delay:g}s"
                work.mkdir()
                started = time.perf_counter()
                lab = start_lab(work / "lab", hosts, "private-ca", command_delay=delay)
                print(
                    f"\n#### {hosts} hosts, {delay:g} s per WinRM command: lab up in "
                    f"{time.perf_counter() - started:.1f} s; forks {hosts}, mfa_tls_serial {hosts}"
                )
                try:
                    limits = ZERO_LIMITS if delay == 0 else REALISTIC_LIMITS
                    table[(hosts, delay)] = fleet_runs(lab, work, hosts, hosts, limits)
                    if delay == 0 and hosts == max(options.hosts):
                        for run in probe_runs(lab, work, options.concurrency):
                            report(run, None)
                            probes.append(run)
                finally:
                    down = lab_cli("down", "--dir", str(work / "lab"), timeout=120)
                    print(down.stdout.strip() or down.stderr.strip())
    finally:
        if options.keep:
            print(f"work folder kept: {work_root}")
        else:
            shutil.rmtree(work_root, ignore_errors=True)

    print(
        f"\nSUMMARY (load average {load_start[0]:.2f} -> {os.getloadavg()[0]:.2f}); wall s (x the win_ping floor)"
    )
    combos = list(table)
    header = "".join(f"{f'{h} hosts {d:g} s':>22}" for h, d in combos)
    print(f"{'run':<26}{header}  {'exec/host':>12} {'winrm/host':>12}")
    names = [run.name for run in table[combos[0]]]
    for index, name in enumerate(names):
        cells = []
        for combo in combos:
            run = table[combo][index]
            ratio = f"({run.ratio:.2f}x)" if run.ratio is not None else "(1.00x)"
            cells.append(f"{run.seconds:>12.2f} {ratio:>9}")
        last = table[combos[-1]][index]
        print(
            f"{name:<26}{''.join(cells)}  {spread(list(last.modules.values())):>12} "
            f"{spread(list(last.commands.values())):>12}"
        )
    print("\nTARGETS")
    for (hosts, delay), runs in table.items():
        for run in runs:
            if run.verdict:
                print(f"  {hosts} hosts, {delay:g} s: {run.name:<24} {run.target}: {run.verdict}")
    for run in probes:
        print(f"  probe: {run.name:<32} {run.seconds:6.2f} s, {run.ratio:.2f}x bare; {run.note}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
