"""old_format.py REPO_DB: rewrite a repository as mvm wrote it at schema 7,
before one-chunk entries and folder trees: every version's files in one
tree of encoding version 1, a manifest
object for every file, the stage without its one_chunk column. Versions,
refs and HEAD are rewritten to the new tree ids (their ids change); the
replaced trees and versions are removed. For tests of opening old
repositories; the audit log is left as it was.
"""
import hashlib
import json
import sqlite3
import struct
import sys

db = sqlite3.connect(sys.argv[1])


def varint(data, pos):
    value = shift = 0
    while True:
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return value, pos


def tree_entries(data, prefix=b""):
    """The files of a version-2 tree and its folders, with full paths."""
    version, count = struct.unpack_from("<II", data, 4)
    assert data[:4] == b"MVMT" and version == 2, "expects a version-2 tree"
    pos, prev, out = 12, b"", []
    for _ in range(count):
        shared, pos = varint(data, pos)
        length, pos = varint(data, pos)
        name = prev[:shared] + data[pos:pos + length]
        pos += length
        flags = data[pos]
        oid = data[pos + 1:pos + 33]
        size, pos = varint(data, pos + 33)
        if flags & 4:
            sub = db.execute("SELECT data FROM objects WHERE id = ?", (oid,)).fetchone()[0]
            out += tree_entries(bytes(sub), prefix + name + b"/")
        else:
            out.append((prefix + name, 0o755 if flags & 1 else 0o644, oid, size, flags & 2))
        prev = name
    return out


def put(kind, data):
    oid = hashlib.sha256(data).digest()
    db.execute("INSERT OR IGNORE INTO objects(id, type, data) VALUES(?, ?, ?)", (oid, kind, data))
    return oid


def manifest_of_chunk(sha, size):
    chunks = struct.pack("<I", 1) + sha + struct.pack("<I", size) if size else struct.pack("<I", 0)
    return put(1, b"MVMF" + struct.pack("<IIQ", 1, 0, size) + sha + chunks + struct.pack("<I", 0))


def old_tree(data):
    body = b""
    entries = tree_entries(data)
    for path, mode, oid, size, one_chunk in entries:
        if one_chunk:
            oid = manifest_of_chunk(oid, size)
        body += struct.pack("<H", len(path)) + path + struct.pack("<I", mode) + oid + struct.pack("<Q", size)
    return put(2, b"MVMT" + struct.pack("<II", 1, len(entries)) + body)


versions = {bytes(r[0]): bytes(r[1]) for r in db.execute("SELECT id, data FROM objects WHERE type = 3")}
folder_trees = [bytes(r[0]) for r in db.execute("SELECT id FROM objects WHERE type = 2")]
new_ids = {}


def convert(vid):
    if vid not in new_ids:
        v = json.loads(versions[vid])
        v["parents"] = [convert(bytes.fromhex(p)).hex() for p in v["parents"]]
        tree = bytes(db.execute("SELECT data FROM objects WHERE id = ?", (bytes.fromhex(v["tree"]),)).fetchone()[0])
        v["tree"] = old_tree(tree).hex()
        new_ids[vid] = put(3, json.dumps(v, sort_keys=True, separators=(",", ":")).encode())
    return new_ids[vid]


for vid in list(versions):
    convert(vid)
for oid in folder_trees:
    db.execute("DELETE FROM objects WHERE id = ?", (oid,))
for old, new in new_ids.items():
    db.execute("DELETE FROM objects WHERE id = ?", (old,))
    db.execute("UPDATE refs SET target = ? WHERE target = ?", (new, old))
    db.execute("UPDATE meta SET value = ? WHERE key = 'HEAD' AND value = ?", (new.hex(), old.hex()))
    db.execute("UPDATE version_info SET version = ? WHERE version = ?", (new, old))
for path, oid, size in db.execute("SELECT path, manifest, size FROM stage WHERE one_chunk").fetchall():
    db.execute("UPDATE stage SET manifest = ? WHERE path = ?", (manifest_of_chunk(bytes(oid), size), path))
db.executescript("ALTER TABLE stage DROP COLUMN one_chunk; PRAGMA user_version = 7;")
db.commit()
