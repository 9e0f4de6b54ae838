"""Differences between two KB versions, from their manifests alone (no table reads)."""

from __future__ import annotations

from kbbuild.records import FileChange, FileRecord, FileStatus, Manifest, VersionDiff


def _present(manifest: Manifest) -> dict[str, FileRecord]:
    """Files whose content is in the version: ingested now or carried over unchanged."""
    return {
        f.relpath: f for f in manifest.files if f.status in (FileStatus.INGESTED, FileStatus.UNCHANGED) and f.sha256
    }


def diff_versions(old: Manifest, new: Manifest) -> VersionDiff:
    before, after = _present(old), _present(new)
    changes: list[FileChange] = []
    unchanged = 0
    for relpath in sorted(before.keys() | after.keys()):
        a, b = before.get(relpath), after.get(relpath)
        if a and b and a.sha256 == b.sha256:
            unchanged += 1
            continue
        kind = "added" if a is None else "removed" if b is None else "changed"
        changes.append(
            FileChange(
                relpath=relpath, change=kind, chunks_before=a.chunks if a else 0, chunks_after=b.chunks if b else 0
            )
        )
    return VersionDiff(
        old=old.kb_version,
        new=new.kb_version,
        files=changes,
        added=sum(c.change == "added" for c in changes),
        changed=sum(c.change == "changed" for c in changes),
        removed=sum(c.change == "removed" for c in changes),
        unchanged=unchanged,
        chunks_before=old.counts.chunks_total,
        chunks_after=new.counts.chunks_total,
    )
