"""ansible.windows.setup: a realistic minimal set of Windows facts from the host's state."""

from __future__ import annotations

import datetime as dt
import hashlib

SPEC = {
    "options": {
        "gather_subset": {"type": "list", "elements": "str", "default": ["all"]},
        "gather_timeout": {"type": "int", "default": 10},
        "filter": {"type": "list", "elements": "str", "default": []},
        "fact_path": {"type": "path"},
    },
    "supports_check_mode": True,
}


def _facts(host: dict) -> dict:
    now = dt.datetime.now(dt.UTC)
    local = now.astimezone()
    boot = now - dt.timedelta(hours=26)
    mac = "00:15:5D:" + ":".join(
        hashlib.sha1(host["name"].encode()).hexdigest()[i : i + 2].upper() for i in (0, 2, 4)
    )
    ips = [host["ip"], host["ipv6"]]
    return {
        "ansible_architecture": "64-bit",
        "ansible_architecture2": "x86_64",
        "ansible_bios_date": "12/01/2006",
        "ansible_bios_version": "Hyper-V UEFI Release v4.1",
        "ansible_date_time": {
            "date": local.strftime("%Y-%m-%d"),
            "day": local.strftime("%d"),
            "epoch": str(now.timestamp()),
            "epoch_int": str(int(now.timestamp())),
            "hour": local.strftime("%H"),
            "iso8601": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "minute": local.strftime("%M"),
            "month": local.strftime("%m"),
            "second": local.strftime("%S"),
            "time": local.strftime("%H:%M:%S"),
            "tz": "UTC",
            "weekday": local.strftime("%A"),
            "year": local.strftime("%Y"),
        },
        "ansible_distribution": host["os_name"],
        "ansible_distribution_major_version": host["os_version"].split(".")[0],
        "ansible_distribution_version": host["os_version"],
        "ansible_domain": host["domain"],
        "ansible_fqdn": f"{host['computer_name'].lower()}.{host['domain']}",
        "ansible_hostname": host["computer_name"],
        "ansible_netbios_name": host["computer_name"],
        "ansible_interfaces": [
            {
                "connection_name": "Ethernet",
                "default_gateway": host["ip"].rsplit(".", 1)[0] + ".1",
                "dns_domain": host["domain"],
                "interface_index": 6,
                "interface_name": "Microsoft Hyper-V Network Adapter",
                "macaddress": mac,
                "mtu": 1500,
                "speed": 10000,
            }
        ],
        "ansible_ip_addresses": ips,
        "ansible_all_ipv4_addresses": [host["ip"]],
        "ansible_all_ipv6_addresses": [host["ipv6"]],
        "ansible_kernel": host["os_version"],
        "ansible_lastboot": boot.strftime("%Y-%m-%d %H:%M:%SZ"),
        "ansible_uptime_seconds": int((now - boot).total_seconds()),
        "ansible_machine_id": "S-1-5-21-" + str(int(hashlib.sha1(host["name"].encode()).hexdigest()[:8], 16)),
        "ansible_memtotal_mb": 8192,
        "ansible_memfree_mb": 4310,
        "ansible_os_family": "Windows",
        "ansible_os_installation_type": "Server",
        "ansible_os_name": host["os_name"],
        "ansible_os_product_type": "server",
        "ansible_owner_name": "labadmin",
        "ansible_owner_contact": "",
        "ansible_powershell_version": 5,
        "ansible_processor": ["GenuineIntel", "Intel(R) Xeon(R) CPU E5-2673 v4 @ 2.30GHz"],
        "ansible_processor_cores": 2,
        "ansible_processor_count": 1,
        "ansible_processor_threads_per_core": 1,
        "ansible_processor_vcpus": 2,
        "ansible_product_name": "Virtual Machine",
        "ansible_reboot_pending": False,
        "ansible_system": "Win32NT",
        "ansible_system_vendor": "Microsoft Corporation",
        "ansible_user_dir": "C:\\Users\\labadmin",
        "ansible_user_gecos": "",
        "ansible_user_id": "labadmin",
        "ansible_user_sid": "S-1-5-21-1004336348-1177238915-682003330-500",
        "ansible_virtualization_role": "guest",
        "ansible_virtualization_type": "Hyper-V",
        "ansible_windows_domain": host["domain"],
        "ansible_windows_domain_member": True,
        "ansible_windows_domain_role": "Member server",
        "ansible_env": {
            "COMPUTERNAME": host["computer_name"],
            "SystemRoot": "C:\\Windows",
            "TEMP": "C:\\Users\\labadmin\\AppData\\Local\\Temp",
            "USERNAME": "labadmin",
            "windir": "C:\\Windows",
        },
    }


def run(m) -> None:
    facts = _facts(m.host.state.read()["host"])
    patterns = [p for p in m.params["filter"] if p]
    if patterns:
        import fnmatch

        facts = {k: v for k, v in facts.items() if any(fnmatch.fnmatch(k, p) for p in patterns)}
    facts["module_setup"] = True
    facts["gather_subset"] = m.params["gather_subset"]
    m.result["ansible_facts"] = facts
