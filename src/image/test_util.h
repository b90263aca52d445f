// Test helpers (header-only; used by *_test.cc only): build tar layers and image archives
// in memory with libarchive, and temporary directories.
#pragma once

#include <archive.h>
#include <archive_entry.h>
#include <stdlib.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <string>
#include <vector>

#include "image/digest.h"
#include "image/fs_util.h"
#include "util/fs.h"
#include "util/temp_dir.h"

namespace sampan::image::testing {

struct Entry {
  std::string path;
  char type = 'f';   // f file, d dir, l symlink, h hardlink
  std::string data;  // file content, or link target
  int mode = 0644;
};

// A tar stream of `entries`, compressed with "gzip", "zstd" or "" (none).
inline std::string MakeTar(const std::vector<Entry>& entries, const std::string& filter = "") {
  archive* a = archive_write_new();
  archive_write_set_format_pax_restricted(a);
  if (filter == "gzip") archive_write_add_filter_gzip(a);
  if (filter == "zstd") archive_write_add_filter_zstd(a);
  archive_write_set_bytes_in_last_block(a, 1);
  std::string out;
  archive_write_open(
      a, &out, nullptr,
      [](archive*, void* client, const void* buf, size_t n) -> la_ssize_t {
        static_cast<std::string*>(client)->append(static_cast<const char*>(buf), n);
        return static_cast<la_ssize_t>(n);
      },
      nullptr);
  for (const auto& e : entries) {
    archive_entry* ae = archive_entry_new();
    archive_entry_set_pathname(ae, e.path.c_str());
    archive_entry_set_mtime(ae, 1000, 0);
    switch (e.type) {
      case 'd':
        archive_entry_set_filetype(ae, AE_IFDIR);
        archive_entry_set_perm(ae, e.mode == 0644 ? 0755 : e.mode);
        break;
      case 'l':
        archive_entry_set_filetype(ae, AE_IFLNK);
        archive_entry_set_symlink(ae, e.data.c_str());
        archive_entry_set_perm(ae, 0777);
        break;
      case 'h':
        archive_entry_set_filetype(ae, AE_IFREG);
        archive_entry_set_hardlink(ae, e.data.c_str());
        archive_entry_set_perm(ae, e.mode);
        break;
      default:
        archive_entry_set_filetype(ae, AE_IFREG);
        archive_entry_set_perm(ae, e.mode);
        archive_entry_set_size(ae, static_cast<la_int64_t>(e.data.size()));
    }
    archive_write_header(a, ae);
    if (e.type == 'f' && !e.data.empty()) archive_write_data(a, e.data.data(), e.data.size());
    archive_entry_free(ae);
  }
  archive_write_close(a);
  archive_write_free(a);
  return out;
}

// A unique temporary directory, removed by the destructor.
using TempDir = util::TempDir;

inline void WriteFile(const std::string& path, const std::string& data) {
  (void)fs::WriteFileAtomic(path, data);
}

// An image made of layer tars: its blobs and documents, ready to put in an archive.
struct TestImage {
  std::vector<std::string> layer_blobs;  // as stored (maybe compressed)
  std::vector<std::string> layer_types;
  std::vector<std::string> diff_ids;
  std::string config;
  std::string manifest;

  static TestImage Make(const std::vector<std::string>& plain_layers,
                        const std::string& filter = "gzip", const std::string& arch = "amd64",
                        const std::string& extra_config = "") {
    namespace json = boost::json;
    TestImage img;
    json::array diff_ids, layers;
    for (const auto& plain : plain_layers) {
      std::string blob = plain;
      std::string type = "application/vnd.oci.image.layer.v1.tar";
      if (filter == "gzip" || filter == "zstd") {
        // Re-compress the plain tar: MakeTar with a filter wrote a fresh archive, so wrap
        // the bytes with libarchive's raw writer instead.
        archive* a = archive_write_new();
        archive_write_set_format_raw(a);
        if (filter == "gzip")
          archive_write_add_filter_gzip(a);
        else
          archive_write_add_filter_zstd(a);
        archive_write_set_bytes_in_last_block(a, 1);
        std::string out;
        archive_write_open(
            a, &out, nullptr,
            [](archive*, void* client, const void* buf, size_t n) -> la_ssize_t {
              static_cast<std::string*>(client)->append(static_cast<const char*>(buf), n);
              return static_cast<la_ssize_t>(n);
            },
            nullptr);
        archive_entry* ae = archive_entry_new();
        archive_entry_set_filetype(ae, AE_IFREG);
        archive_entry_set_pathname(ae, "layer");
        archive_write_header(a, ae);
        archive_write_data(a, plain.data(), plain.size());
        archive_entry_free(ae);
        archive_write_close(a);
        archive_write_free(a);
        blob = out;
        type += filter == "gzip" ? "+gzip" : "+zstd";
      }
      img.layer_blobs.push_back(blob);
      img.layer_types.push_back(type);
      img.diff_ids.push_back(DigestOf(plain));
      diff_ids.emplace_back(img.diff_ids.back());
      json::object l;
      l["mediaType"] = type;
      l["digest"] = DigestOf(blob);
      l["size"] = blob.size();
      layers.push_back(std::move(l));
    }
    img.config = R"({"architecture":")" + arch +
                 R"(","os":"linux","config":{"Cmd":["/bin/sh"],"Env":["PATH=/bin"],)"
                 R"("ExposedPorts":{"8080/tcp":{}},"WorkingDir":"/srv","User":"1000:1000")" +
                 extra_config + R"(},"rootfs":{"type":"layers","diff_ids":)" +
                 json::serialize(diff_ids) + "}}";
    json::object cfg;
    cfg["mediaType"] = "application/vnd.oci.image.config.v1+json";
    cfg["digest"] = DigestOf(img.config);
    cfg["size"] = img.config.size();
    json::object m;
    m["schemaVersion"] = 2;
    m["mediaType"] = "application/vnd.oci.image.manifest.v1+json";
    m["config"] = std::move(cfg);
    m["layers"] = std::move(layers);
    img.manifest = json::serialize(m);
    return img;
  }

  // An OCI image layout archive with this image under `name`.
  std::string OciArchive(const std::string& name) const {
    std::vector<Entry> files;
    files.push_back({"oci-layout", 'f', R"({"imageLayoutVersion":"1.0.0"})"});
    files.push_back(
        {"index.json", 'f',
         R"({"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":")" +
             DigestOf(manifest) + R"(","size":)" + std::to_string(manifest.size()) +
             R"(,"annotations":{"org.opencontainers.image.ref.name":")" + name + R"("}}]})"});
    files.push_back({"blobs/sha256/" + std::string(DigestHex(DigestOf(manifest))), 'f', manifest});
    files.push_back({"blobs/sha256/" + std::string(DigestHex(DigestOf(config))), 'f', config});
    for (const auto& b : layer_blobs) {
      files.push_back({"blobs/sha256/" + std::string(DigestHex(DigestOf(b))), 'f', b});
    }
    return MakeTar(files);
  }

  // A `docker save` archive (uncompressed layer.tar files are what docker writes; the
  // layer blobs are used as they are).
  std::string DockerArchive(const std::string& repo_tag) const {
    std::vector<Entry> files;
    std::string cid(DigestHex(DigestOf(config)));
    files.push_back({cid + ".json", 'f', config});
    std::string layers;
    for (size_t i = 0; i < layer_blobs.size(); ++i) {
      std::string dir = "layer" + std::to_string(i);
      files.push_back({dir + "/layer.tar", 'f', layer_blobs[i]});
      if (!layers.empty()) layers += ",";
      layers += "\"" + dir + "/layer.tar\"";
    }
    files.push_back({"manifest.json", 'f',
                     R"([{"Config":")" + cid + R"(.json","RepoTags":[")" + repo_tag +
                         R"("],"Layers":[)" + layers + "]}]"});
    return MakeTar(files);
  }
};

}  // namespace sampan::image::testing
