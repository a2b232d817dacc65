"""Generated documentation must match the code it is generated from."""

from __future__ import annotations

from growth.features.contract_docs import render_sources_markdown
from tests.conftest import ROOT


def test_sources_doc_is_generated_from_the_contracts():
    committed = (ROOT / "docs" / "sources.md").read_text()
    assert committed == render_sources_markdown(), "docs/sources.md is stale: run `growth docs`"


def test_features_doc_is_generated_from_the_registry():
    from growth.features.feature_docs import render_features_markdown

    committed = (ROOT / "docs" / "features.md").read_text()
    assert committed == render_features_markdown(), "docs/features.md is stale: run `growth docs`"
