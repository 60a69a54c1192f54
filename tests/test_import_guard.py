"""The import deadline, the markers of imports that ended their process, and result bounds."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time

import pytest

from provisioning_core import ExtensionManager, PluginCallError, ProviderSettings, hookimpl
from provisioning_core.extensions import MAX_RESULT_ITEMS
from provisioning_core.import_guard import (
    ImportLedger,
    ImportTimedOut,
    import_with_deadline,
    still_importing,
)
from provisioning_core.models import DiscoveredExtension
from tests.test_extensions import RequiredHooks

FOUND = DiscoveredExtension(
    kind="provider",
    name="gone",
    version="1.0.0",
    source="entry-point",
    target="gone_module",
    distribution="gone-dist",
)


def test_a_deadline_abandons_a_looping_import_and_stops_its_loop():
    stopped = threading.Event()

    def load():
        try:
            while True:
                pass
        finally:
            stopped.set()

    started = time.monotonic()
    with pytest.raises(ImportTimedOut):
        import_with_deadline(load, 0.2, "loop_target")
    assert time.monotonic() - started < 5
    # the loop is in Python code: the exception raised in its thread ends it
    assert stopped.wait(5)
    for _ in range(100):
        if not still_importing("loop_target"):
            break
        time.sleep(0.05)
    assert not still_importing("loop_target")


def test_without_a_deadline_the_import_runs_in_the_calling_thread():
    assert import_with_deadline(threading.current_thread, None, "t") is threading.current_thread()
    assert import_with_deadline(lambda: 42, 5, "t") == 42
    with pytest.raises(SystemExit):
        import_with_deadline(lambda: sys.exit(3), 5, "t")


def test_a_marker_left_by_a_dead_process_becomes_a_verdict(tmp_path):
    ledger = ImportLedger(tmp_path)
    with ledger.importing(FOUND):
        assert len(list((tmp_path / "importing").iterdir())) == 1
        assert ledger.verdict(FOUND) is None  # our own import, still in flight
    assert list((tmp_path / "importing").iterdir()) == []
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    pid = int(dead.stdout)
    marker = {
        "key": "provider\0gone\x001.0.0\0gone_module",
        "kind": "provider",
        "name": "gone",
        "version": "1.0.0",
        "distribution": "gone-dist",
        "pid": pid,
        "at": time.time(),
    }
    (tmp_path / "importing" / f"{pid}-1.json").write_text(json.dumps(marker))
    verdict = ledger.verdict(FOUND)
    assert verdict is not None
    assert verdict.source == "earlier run"
    assert f"(pid {pid}) ended before the import finished" in verdict.what
    assert list((tmp_path / "importing").iterdir()) == []
    ledger.clear(FOUND)
    assert ledger.verdict(FOUND) is None
    ledger.record(FOUND, "exited with code 3 while importing")
    assert ImportLedger(tmp_path).verdict(FOUND).what == "exited with code 3 while importing"
    assert os.getpid()  # the ledger never touched a live process


class Flooding(RequiredHooks):
    @hookimpl
    def list_servers(self):
        yield {"id": "1", "hostname": "h", "status": "running"}

    @hookimpl
    def get_plans(self):
        return [{"name": "p"}] * (MAX_RESULT_ITEMS + 1)

    @hookimpl
    def get_zones(self):
        return iter([{"name": "z"}])


@pytest.mark.parametrize(
    ("hook", "said"),
    [
        ("list_servers", "list_servers returned a generator instead of list[Server]"),
        ("get_plans", f"get_plans returned {MAX_RESULT_ITEMS + 1:,} items, more than the"),
        ("get_zones", "get_zones returned an iterator (list_iterator) instead of list[Zone]"),
    ],
)
def test_generators_and_oversized_results_are_refused_unread(hook, said):
    manager = ExtensionManager.make_test_instance({("provider", "flood"): Flooding})
    ext = manager.load_extension("provider", "flood")
    with pytest.raises(PluginCallError) as err:
        ext.call(hook, settings=ProviderSettings("flood"))
    assert said in err.value.message
    assert "provider 'flood'" in err.value.message
