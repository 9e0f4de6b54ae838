"""Named versions and differences between versions, from the CLI on a real KB."""

from __future__ import annotations

import json
import shutil

import lancedb

from .conftest import SAMPLES


def test_tag_query_by_tag_and_diff(tmp_path, cli):
    docs = tmp_path / "docs"
    docs.mkdir()
    for name in ("harbor_q3_2026_results.pdf", "northwind_field_manual.pdf"):
        shutil.copy(SAMPLES / name, docs)
    kb = tmp_path / "kb"
    assert cli("ingest", docs, "--kb", kb, "--no-progress").exit_code == 0
    (docs / "harbor_q3_2026_results.pdf").unlink()
    shutil.copy(SAMPLES / "xinghe_travel_policy_zh.pdf", docs)
    assert cli("ingest", docs, "--kb", kb, "--no-progress").exit_code == 0

    tagged = cli("tag", "1", "before-policy", "--kb", kb)
    assert tagged.exit_code == 0 and "tagged KB version 1 as 'before-policy'" in tagged.output
    assert "before-policy" in next(line for line in cli("versions", "--kb", kb).output.splitlines() if " 1 " in line)
    # The tag is also a LanceDB tag on the table version that KB version 1 pins.
    table = lancedb.connect(str(kb / "lancedb")).open_table("chunks")
    assert "before-policy" in table.tags.list()

    old = json.loads(cli("query", "share buyback", "--kb", kb, "--version", "before-policy", "--json").output)
    assert old[0]["source"] == "harbor_q3_2026_results.pdf" and old[0]["kb_version"] == 1
    new = json.loads(cli("query", "share buyback", "--kb", kb, "--json").output)
    assert all(hit["source"] != "harbor_q3_2026_results.pdf" for hit in new)

    diff = json.loads(cli("diff", "before-policy", "2", "--kb", kb, "--json").output)
    changes = {f["relpath"]: f["change"] for f in diff["files"]}
    assert changes == {"harbor_q3_2026_results.pdf": "removed", "xinghe_travel_policy_zh.pdf": "added"}
    assert diff["unchanged"] == 1 and diff["chunks_after"] - diff["chunks_before"] == (
        diff["files"][1]["chunks_after"] - diff["files"][0]["chunks_before"]
    )

    refused = cli("tag", "2", "before-policy", "--kb", kb)
    assert refused.exit_code == 4 and "--move" in refused.output
    assert cli("tag", "2", "before-policy", "--kb", kb, "--move").exit_code == 0
    assert cli("tag", "2", "kb-v7", "--kb", kb).exit_code == 4  # reserved for kbbuild's own tags
    missing = cli("query", "x", "--kb", kb, "--version", "nope")
    assert missing.exit_code == 4 and "no KB version is tagged 'nope'" in missing.output
