#!/usr/bin/python3
"""Builds an image archive from directory trees, offline and byte-for-byte reproducibly.

    mkimage.py --layer DIR [--layer DIR ...] --config CONFIG.json --name REF [--name REF ...]
               (--oci OUT.tar | --docker OUT.tar) [--compress gzip|zstd|none]

Each DIR becomes one layer (bottom first): entries sorted, owner 0:0, mtime $SOURCE_DATE_EPOCH
(default 0), compressed without timestamps. CONFIG.json holds the image config's "config"
object (Entrypoint, Cmd, Env, ...); architecture/os/rootfs/history are filled in here.
--oci writes an OCI image layout archive; --docker writes a `docker save` archive.
"""
import argparse, gzip, hashlib, io, json, os, stat, subprocess, sys, tarfile

EPOCH = int(os.environ.get("SOURCE_DATE_EPOCH", "0"))


def layer_tar(root):
    """An uncompressed tar of `root`'s contents, reproducible."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as tar:
        paths = []
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames.sort()
            for n in sorted(dirnames + filenames):
                paths.append(os.path.join(dirpath, n))
        for p in sorted(paths, key=lambda p: os.path.relpath(p, root)):
            rel = os.path.relpath(p, root)
            ti = tar.gettarinfo(p, arcname=rel)
            ti.uid = ti.gid = 0
            ti.uname = ti.gname = ""
            ti.mtime = EPOCH
            if ti.isfile():
                with open(p, "rb") as f:
                    tar.addfile(ti, f)
            else:
                tar.addfile(ti)
    return buf.getvalue()


def compress(data, how):
    if how == "gzip":
        out = io.BytesIO()
        with gzip.GzipFile(fileobj=out, mode="wb", compresslevel=9, mtime=0, filename="") as g:
            g.write(data)
        return out.getvalue(), "application/vnd.oci.image.layer.v1.tar+gzip"
    if how == "zstd":
        z = subprocess.run(["zstd", "-q", "-19", "-c"], input=data, stdout=subprocess.PIPE,
                           check=True).stdout
        return z, "application/vnd.oci.image.layer.v1.tar+zstd"
    return data, "application/vnd.oci.image.layer.v1.tar"


def sha(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


def dumps(obj):
    return json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()


def write_archive(path, files):
    """files: list of (name, bytes); directories are implied."""
    with open(path + ".tmp", "wb") as out:
        with tarfile.open(fileobj=out, mode="w", format=tarfile.GNU_FORMAT) as tar:
            dirs = set()
            for name, _ in files:
                parts = name.split("/")[:-1]
                for i in range(1, len(parts) + 1):
                    dirs.add("/".join(parts[:i]))
            for d in sorted(dirs):
                ti = tarfile.TarInfo(d)
                ti.type, ti.mode, ti.mtime = tarfile.DIRTYPE, 0o755, EPOCH
                tar.addfile(ti)
            for name, data in sorted(files):
                ti = tarfile.TarInfo(name)
                ti.size, ti.mode, ti.mtime = len(data), 0o644, EPOCH
                tar.addfile(ti, io.BytesIO(data))
    os.replace(path + ".tmp", path)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--layer", action="append", required=True)
    ap.add_argument("--config", required=True)
    ap.add_argument("--name", action="append", required=True)
    ap.add_argument("--oci")
    ap.add_argument("--docker")
    ap.add_argument("--compress", default="gzip", choices=["gzip", "zstd", "none"])
    ap.add_argument("--arch", default="amd64")
    a = ap.parse_args()

    with open(a.config) as f:
        cfg = json.load(f)
    tars = [layer_tar(d) for d in a.layer]
    config = {
        "architecture": a.arch,
        "os": "linux",
        "created": "1970-01-01T00:00:00Z",
        "config": cfg,
        "rootfs": {"type": "layers", "diff_ids": [sha(t) for t in tars]},
        "history": [{"created": "1970-01-01T00:00:00Z", "created_by": "mkimage.py " +
                     os.path.basename(d.rstrip("/"))} for d in a.layer],
    }
    config_blob = dumps(config)

    if a.oci:
        files = [("oci-layout", dumps({"imageLayoutVersion": "1.0.0"}))]
        layers = []
        for t in tars:
            blob, mt = compress(t, a.compress)
            layers.append({"mediaType": mt, "digest": sha(blob), "size": len(blob)})
            files.append(("blobs/sha256/" + sha(blob)[7:], blob))
        files.append(("blobs/sha256/" + sha(config_blob)[7:], config_blob))
        manifest = dumps({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                       "digest": sha(config_blob), "size": len(config_blob)},
            "layers": layers,
        })
        files.append(("blobs/sha256/" + sha(manifest)[7:], manifest))
        entries = []
        for n in a.name:
            tag = n.rsplit(":", 1)[1] if ":" in n.rsplit("/", 1)[-1] else "latest"
            entries.append({
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "digest": sha(manifest), "size": len(manifest),
                "platform": {"architecture": a.arch, "os": "linux"},
                "annotations": {"io.containerd.image.name": n,
                                "org.opencontainers.image.ref.name": tag},
            })
        index = dumps({"schemaVersion": 2,
                       "mediaType": "application/vnd.oci.image.index.v1+json",
                       "manifests": entries})
        files.append(("index.json", index))
        files = list({n: d for n, d in files}.items())
        write_archive(a.oci, files)
    if a.docker:
        cid = sha(config_blob)[7:]
        files = [(cid + ".json", config_blob)]
        paths = []
        for t in tars:
            lid = sha(t)[7:]
            files.append((lid + "/layer.tar", t))
            files.append((lid + "/VERSION", b"1.0"))
            paths.append(lid + "/layer.tar")
        files.append(("manifest.json", json.dumps(
            [{"Config": cid + ".json", "RepoTags": a.name, "Layers": paths}]).encode()))
        repos = {}
        for n in a.name:
            repo, tag = n.rsplit(":", 1)
            repos.setdefault(repo, {})[tag] = sha(tars[-1])[7:]
        files.append(("repositories", dumps(repos)))
        files = list({n: d for n, d in files}.items())
        write_archive(a.docker, files)


if __name__ == "__main__":
    main()
