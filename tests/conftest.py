"""Root test configuration: fixtures that start and clean the real services.

tests.support.env must be imported first: it fixes the environment (fresh database, S3 and fake
WeChat ports) before any backend module reads its settings.
"""

import tests.support.env  # noqa: F401  (side effect: environment)

pytest_plugins = ["tests.support.wechat", "tests.support.services", "tests.support.api", "tests.support.workers"]


def pytest_configure(config):
    config.addinivalue_line("markers", "moves_clock: judges the whole database at a moved clock (retention); run last")


def pytest_collection_modifyitems(session, config, items):
    """Tests that move the clock for every record (the retention job, issue 23) run after all the others."""
    items.sort(key=lambda item: item.get_closest_marker("moves_clock") is not None)


def pytest_sessionfinish(session, exitstatus):
    """Fail the run if the strict fake WeChat refused a send or content check that no test asked for, or
    would refuse any message a producer stored in this run (replayed at the end: tests/support/services.py)."""
    import pytest

    from tests.support.wechat import AUDIT

    pii = AUDIT.get("pii") or []  # issue 23: unmasked personal values in the run's logs or webhook bodies
    if pii:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.write_sep("=", f"{len(pii)} unmasked personal value(s) in logs or webhook bodies", red=True)
            for finding in pii[:20]:
                reporter.write_line(finding)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
    unasked = (AUDIT.get("unasked") or []) + (AUDIT.get("stored_refused") or [])
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None and AUDIT.get("replayed"):
        counts = ", ".join(f"{r['template']} {r['messages']}" for r in AUDIT["replayed"])
        reporter.write_line(f"stored messages replayed to a strict fake WeChat (distinct, by template): {counts}")
    if unasked:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.write_sep("=", f"strict fake WeChat refused {len(unasked)} call(s) no test asked for", red=True)
            for refusal in unasked[:20]:
                reporter.write_line(str(refusal))
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
