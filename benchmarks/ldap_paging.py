"""Listing every account of an LDAP directory: the connector's stream vs its list vs bare ldap3.

    .venv/bin/python benchmarks/ldap_paging.py [--sizes 1000,5000] [--rounds 3] [--page 500]

Setup (not timed): a slapd of its own (tests/ldap_server.py) holding N inetOrgPerson entries.
Timed, per round and size, each over the whole directory with the paged-results control:

* ``iter``: ``LdapConnector.iter_accounts()`` consumed one account at a time (nothing kept);
* ``list``: ``LdapConnector.list_accounts()`` (every account kept);
* ``bare``: ldap3's own ``paged_search`` generator with the same attributes, no mapping.

Prints seconds (min/median/max), the ratio iter / bare, and the peak Python memory
(tracemalloc, a separate pass) of iter and list, which shows whether the stream stays flat.
"""

import argparse
import statistics
import sys
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from connectors.ldap import LdapConnector  # noqa: E402
from tests.ldap_server import (  # noqa: E402
    SERVICE_DN,
    SERVICE_PASSWORD,
    SUFFIX,
    SlapdProcess,
    slapd_binary,
)


def load(server: SlapdProcess, base: str, n: int) -> None:
    with server.admin() as conn:
        conn.add(base, ["organizationalUnit"], {"ou": base.split(",")[0][3:]})
        for i in range(n):
            uid = f"user{i:06}"
            attributes = {"cn": f"User {i}", "sn": f"{i}", "mail": f"{uid}@example.test"}
            conn.add(f"uid={uid},{base}", ["inetOrgPerson"], attributes)


def connector(server: SlapdProcess, base: str, page: int) -> LdapConnector:
    settings = {
        "type": "ldap",
        "url": server.url,
        "bind_dn": SERVICE_DN,
        "bind_password": SERVICE_PASSWORD,
        "base_dn": base,
        "page_size": page,
    }
    return LdapConnector(settings)


def run_iter(ldap: LdapConnector) -> int:
    return sum(1 for _ in ldap.iter_accounts())


def run_list(ldap: LdapConnector) -> int:
    return len(ldap.list_accounts())


def run_bare(ldap: LdapConnector) -> int:
    pages = ldap._conn().extend.standard.paged_search(
        ldap.settings.base_dn,
        "(objectClass=inetOrgPerson)",
        attributes=ldap.mapping.read_attributes(),
        paged_size=ldap.settings.page_size,
        generator=True,
    )
    return sum(1 for e in pages if e["type"] == "searchResEntry")


def timed(run, ldap) -> tuple[float, int]:
    start = time.perf_counter()
    count = run(ldap)
    return time.perf_counter() - start, count


def peak(run, ldap) -> int:
    tracemalloc.start()
    run(ldap)
    _, top = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return top


def spread(values) -> str:
    return f"{min(values):.3f}/{statistics.median(values):.3f}/{max(values):.3f}"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="1000,5000")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--page", type=int, default=500)
    args = parser.parse_args()
    binary = slapd_binary()
    if binary is None:
        sys.exit("slapd is not installed (apt-get install slapd)")
    server = SlapdProcess(binary)
    try:
        server.start()
        server.seed()
        print("N | iter s | list s | bare s | iter/bare | iter peak KiB | list peak KiB")
        for n in (int(size) for size in args.sizes.split(",")):
            base = f"ou=n{n},{SUFFIX}"
            load(server, base, n)
            with connector(server, base, args.page) as ldap:
                times: dict[str, list[float]] = {"iter": [], "list": [], "bare": []}
                for _ in range(args.rounds):  # interleaved, so load changes hit all three
                    for name, run in (("bare", run_bare), ("iter", run_iter), ("list", run_list)):
                        seconds, count = timed(run, ldap)
                        assert count == n, (name, count)
                        times[name].append(seconds)
                ratios = [i / b for i, b in zip(times["iter"], times["bare"], strict=True)]
                iter_peak, list_peak = peak(run_iter, ldap), peak(run_list, ldap)
            print(
                f"{n} | {spread(times['iter'])} | {spread(times['list'])} | "
                f"{spread(times['bare'])} | {spread(ratios)} | "
                f"{iter_peak // 1024} | {list_peak // 1024}"
            )
    finally:
        server.close()


if __name__ == "__main__":
    main()
