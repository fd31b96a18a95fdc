"""The shipped Grafana dashboard (deploy/grafana/sovra.json) queries only what Sovra's
/metrics exports: every metric name and every label in its PromQL (issue 22)."""

from __future__ import annotations

import json
import re
from pathlib import Path

from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from sovra.api import create_app
from sovra.instance import Instance
from sovra.keys.devmode import start_for_up

DASHBOARD = Path(__file__).parents[2] / "deploy" / "grafana" / "sovra.json"
# Labels Prometheus adds itself when it scrapes (instance, job) or that histograms carry.
_SCRAPE_LABELS = {"instance", "job", "le"}
_SUFFIXES = {"counter": ("_total", "_created"), "histogram": ("_bucket", "_sum", "_count",
                                                              "_created"),
             "gauge": ("",)}


def _exported(instance: Instance) -> tuple[set[str], set[str]]:
    """Sample names and label names a scrape of a real app yields."""
    start_for_up(instance.keys)
    client = TestClient(create_app(instance))
    assert client.get("/readyz").status_code == 200
    names: set[str] = set()
    labels: set[str] = set()
    for family in text_string_to_metric_families(client.get("/metrics").text):
        names.update(family.name + s for s in _SUFFIXES.get(family.type, ("",)))
        for sample in family.samples:
            names.add(sample.name)
            labels.update(sample.labels)
    return names, labels


def _queries() -> list[str]:
    dashboard = json.loads(DASHBOARD.read_text())
    return [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]


def test_every_metric_and_label_the_dashboard_queries_is_exported(instance: Instance
                                                                  ) -> None:
    names, labels = _exported(instance)
    queries = _queries()
    assert len(queries) >= 10
    used = {name for q in queries for name in re.findall(r"\bsovra_[a-z_]+\b", q)}
    assert used, "the dashboard queries no Sovra metric"
    assert used - names == set(), f"not exported: {sorted(used - names)}"
    grouped = {label.strip() for q in queries
               for group in re.findall(r"\bby \(([^)]*)\)", q) for label in group.split(",")}
    matched = {m for q in queries for m in re.findall(r"[{,]\s*([a-z_]+)\s*=~?", q)}
    assert (grouped | matched) - labels - _SCRAPE_LABELS == set()


def test_every_panel_follows_the_process_selector() -> None:
    for query in _queries():
        assert '{instance=~"$instance"}' in query, query
