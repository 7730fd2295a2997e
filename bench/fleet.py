"""Fleet benchmark: wall time, module executions and WinRM commands per host, against the win_ping floor.

Starts a lab of N emulated hosts (seed scenario, 127.0.0.0/8 only) and runs, with the same forks:
  1. a fleet-wide win_ping (the floor), then win_ping followed by five no-op controller tasks (a reference
     for Ansible's own cost of one task on every host);
  2. playbooks/facts.yml;
  3. playbooks/compliance.yml (fails the seed's non-compliant hosts: expected, recorded);
  4. playbooks/remediate.yml with the lab's replacement PFX, mfa_tls_serial = N (one batch), twice;
  5. tls_probe over every endpoint of the fleet in one `ansible localhost` call, beside a bare ssl
     handshake loop and the probe engine in-process (bench/probe_throughput.py's functions).
Counters are the lab's ground truth (`lab state`), as deltas per host. Task times come from the
bench-only callback bench/callback_plugins/task_times.py. The lab always goes down at the end.
Usage: python bench/fleet.py [--hosts 50] [--forks 50] [--concurrency 16]
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

from lab_harness import VENV_BIN, Lab, configuration, lab_cli, recap, start_lab  # noqa: E402

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
NOOP_TASKS = 5
LOOPBACK = ipaddress.ip_network("127.0.0.0/8")
PING_NOOP = PING + "".join(
    f"""    - name: No-op controller task {n}
      ansible.builtin.assert:
        that: true
        quiet: true
"""
    for n in range(1, NOOP_TASKS + 1)
)


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


def judge_playbook(run: Run, limit_modules: int, limit_ratio: float) -> None:
    worst = max(run.modules.values())
    run.target = f"<= {limit_modules} exec/host, <= {limit_ratio:g}x floor"
    run.verdict = "met" if worst <= limit_modules and run.ratio <= limit_ratio else "MISSED"


def judge_remediate(run: Run) -> None:
    changed = set(run.changed_hosts)
    moved = [run.modules[h] for h in run.modules if h in changed]
    still = [run.modules[h] for h in run.modules if h not in changed]
    run.target = "<= 4 exec/host changed, <= 2 unchanged"
    ok = (not moved or max(moved) <= 4) and (not still or max(still) <= 2)
    run.verdict = "met" if ok and run.rc == 0 else "MISSED"


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


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--hosts", type=int, default=50)
    parser.add_argument("--forks", type=int, default=50)
    parser.add_argument("--concurrency", type=int, default=16, help="tls_probe concurrency")
    parser.add_argument("--keep", action="store_true", help="keep the work folder (logs, reports)")
    options = parser.parse_args()
    if not 1 <= options.hosts <= 250:
        parser.error("--hosts must be 1..250")

    # SIGTERM/SIGHUP end the bench through `finally`, which brings the lab down.
    def stop(signum, _frame):
        raise SystemExit(128 + signum)

    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, stop)

    work = Path(tempfile.mkdtemp(prefix="mfa-tls-fleet-bench-"))
    lab_dir = work / "lab"
    runs: list[Run] = []
    load_start = os.getloadavg()
    try:
        started = time.perf_counter()
        lab = start_lab(lab_dir, options.hosts, "seed")
        print(
            f"lab: {options.hosts} hosts (seed scenario) up in {time.perf_counter() - started:.1f} s; "
            f"forks {options.forks} for every run; remediate with mfa_tls_serial={options.hosts} (one batch)"
        )
        print(f"controller: {os.cpu_count()} CPUs, load average {load_start[0]:.2f} at start")
        (work / "ping.yml").write_text(PING)
        (work / "ping-noop.yml").write_text(PING_NOOP)
        reports = work / "reports"
        floor_run = playbook(lab, work, "win_ping (floor)", work / "ping.yml", options.forks)
        floor = floor_run.seconds
        report(floor_run, floor)
        runs.append(floor_run)

        noop = playbook(
            lab,
            work,
            f"win_ping + {NOOP_TASKS} no-op tasks (reference)",
            work / "ping-noop.yml",
            options.forks,
        )
        report(noop, floor)
        runs.append(noop)

        facts = playbook(
            lab,
            work,
            "facts.yml",
            PLAYBOOKS / "facts.yml",
            options.forks,
            "-e",
            f"mfa_tls_report_dir={reports}",
        )
        report(facts, floor)
        judge_playbook(facts, 2, 2)
        runs.append(facts)

        compliance = playbook(
            lab,
            work,
            "compliance.yml",
            PLAYBOOKS / "compliance.yml",
            options.forks,
            "-e",
            f"mfa_tls_report_dir={reports}",
        )
        compliance.note += " (failed = non-compliant seed hosts, expected before remediation)"
        report(compliance, floor)
        judge_playbook(compliance, 2, 2)
        runs.append(compliance)

        password = (lab.dir / "certs" / "replacement.pass").read_text().strip()
        variables = json.dumps(
            {
                "mfa_tls_pfx_path": str(lab.dir / "certs" / "replacement.pfx"),
                "mfa_tls_pfx_password": password,
                "mfa_tls_serial": options.hosts,
            }
        )
        for label in ("remediate.yml (1st)", "remediate.yml (2nd, idempotent)"):
            run = playbook(lab, work, label, PLAYBOOKS / "remediate.yml", options.forks, "-e", variables)
            report(run, floor)
            judge_remediate(run)
            runs.append(run)

        for run in probe_runs(lab, work, options.concurrency):
            report(run, None)
            runs.append(run)
    finally:
        down = lab_cli("down", "--dir", str(lab_dir), timeout=120)
        print(f"\n{down.stdout.strip() or down.stderr.strip()}")
        if options.keep:
            print(f"work folder kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)

    print(
        f"\nSUMMARY: {options.hosts} hosts, forks {options.forks}, mfa_tls_serial {options.hosts}, "
        f"load average {load_start[0]:.2f} -> {os.getloadavg()[0]:.2f}"
    )
    for run in runs:
        per_host = (
            f"exec/host {spread(list(run.modules.values())):>22}  winrm/host {spread(list(run.commands.values())):>22}"
            if run.modules
            else f"{'':>65}"
        )
        ratio = f"{run.ratio:5.2f}x" if run.ratio is not None else "     -"
        vs = "bare" if "probe" in run.name or "bare" in run.name else "floor"
        verdict = f"  target {run.target}: {run.verdict}" if run.verdict else ""
        print(f"{run.name:<38} {run.seconds:7.2f} s  {ratio} {vs:<5} {per_host}{verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
