#include "image/reference.h"

#include <cctype>

#include "image/digest.h"

namespace sampan::image {
namespace {

bool IsLowerAlnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

// One path component: [a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*
bool ValidPathComponent(std::string_view c) {
  if (c.empty() || !IsLowerAlnum(c.front()) || !IsLowerAlnum(c.back())) return false;
  size_t i = 0;
  while (i < c.size()) {
    if (IsLowerAlnum(c[i])) {
      ++i;
      continue;
    }
    // A separator run: ".", "_", "__" or one or more "-".
    size_t j = i;
    if (c[i] == '.') {
      j = i + 1;
    } else if (c[i] == '_') {
      j = (i + 1 < c.size() && c[i + 1] == '_') ? i + 2 : i + 1;
    } else if (c[i] == '-') {
      while (j < c.size() && c[j] == '-') ++j;
    } else {
      return false;
    }
    if (j >= c.size() || !IsLowerAlnum(c[j])) return false;
    i = j;
  }
  return true;
}

// host[:port] where host is dot-separated labels of [A-Za-z0-9-] (or a bracketed IPv6 address).
bool ValidDomain(std::string_view d) {
  if (d.empty()) return false;
  std::string_view host = d;
  auto colon = d.rfind(':');
  if (!d.empty() && d.front() == '[') {
    auto close = d.find(']');
    if (close == std::string_view::npos) return false;
    host = d.substr(1, close - 1);
    std::string_view rest = d.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':' || rest.size() < 2) return false;
      for (char c : rest.substr(1))
        if (!std::isdigit(static_cast<unsigned char>(c))) return false;
    }
    for (char c : host)
      if (!(std::isxdigit(static_cast<unsigned char>(c)) || c == ':' || c == '.')) return false;
    return !host.empty();
  }
  if (colon != std::string_view::npos) {
    std::string_view port = d.substr(colon + 1);
    if (port.empty()) return false;
    for (char c : port)
      if (!std::isdigit(static_cast<unsigned char>(c))) return false;
    host = d.substr(0, colon);
  }
  if (host.empty()) return false;
  size_t start = 0;
  while (start <= host.size()) {
    size_t dot = host.find('.', start);
    std::string_view label =
        host.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
    if (label.empty() || label.front() == '-' || label.back() == '-') return false;
    for (char c : label)
      if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-')) return false;
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  return true;
}

// [\w][\w.-]{0,127}
bool ValidTag(std::string_view t) {
  if (t.empty() || t.size() > 128) return false;
  auto word = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; };
  if (!word(t.front())) return false;
  for (char c : t)
    if (!(word(c) || c == '.' || c == '-')) return false;
  return true;
}

Status Bad(std::string_view text, std::string_view why) {
  return Invalid("invalid reference format \"" + std::string(text) + "\": " + std::string(why));
}

}  // namespace

std::string Reference::String() const {
  if (!digest.empty()) return Name() + "@" + digest;
  return Name() + ":" + tag;
}

std::string Reference::Familiar() const {
  std::string name = Name();
  if (domain == kDefaultDomain) {
    name = path;
    if (name.rfind("library/", 0) == 0 && name.find('/', 8) == std::string::npos) {
      name = name.substr(8);
    }
  }
  if (!digest.empty()) return name + "@" + digest;
  return name + ":" + tag;
}

bool LooksLikeImageId(std::string_view text) {
  if (text.rfind("sha256:", 0) == 0) text.remove_prefix(7);
  if (text.size() < 12 || text.size() > 64) return false;
  for (char c : text)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

Result<Reference> ParseReference(std::string_view text) {
  if (text.empty()) return Bad(text, "empty");
  if (IsHex64(text)) {
    return Bad(text, "a 64-character hexadecimal string is an image ID, not a repository name");
  }
  Reference ref;
  std::string_view rest = text;
  if (auto at = rest.find('@'); at != std::string_view::npos) {
    ref.digest = std::string(rest.substr(at + 1));
    rest = rest.substr(0, at);
    if (Status st = ValidateDigest(ref.digest); !st.ok()) return Bad(text, st.message());
  }
  auto last_slash = rest.rfind('/');
  auto colon = rest.rfind(':');
  if (colon != std::string_view::npos &&
      (last_slash == std::string_view::npos || colon > last_slash)) {
    ref.tag = std::string(rest.substr(colon + 1));
    rest = rest.substr(0, colon);
    if (!ValidTag(ref.tag)) return Bad(text, "invalid tag \"" + ref.tag + "\"");
  }
  std::string_view remote = rest;
  auto slash = rest.find('/');
  if (slash == std::string_view::npos) {
    ref.domain = std::string(kDefaultDomain);
  } else {
    std::string_view first = rest.substr(0, slash);
    bool is_domain = first.find_first_of(".:") != std::string_view::npos || first == "localhost" ||
                     first.find_first_of("ABCDEFGHIJKLMNOPQRSTUVWXYZ") != std::string_view::npos;
    if (is_domain) {
      ref.domain = std::string(first);
      remote = rest.substr(slash + 1);
    } else {
      ref.domain = std::string(kDefaultDomain);
    }
  }
  if (ref.domain == "index.docker.io") ref.domain = std::string(kDefaultDomain);
  if (!ValidDomain(ref.domain)) return Bad(text, "invalid registry host \"" + ref.domain + "\"");
  ref.path = std::string(remote);
  if (ref.domain == kDefaultDomain && ref.path.find('/') == std::string::npos) {
    ref.path = "library/" + ref.path;
  }
  for (char c : ref.path) {
    if (c >= 'A' && c <= 'Z') return Bad(text, "repository name must be lowercase");
  }
  size_t start = 0;
  for (;;) {
    size_t end = ref.path.find('/', start);
    std::string_view comp = std::string_view(ref.path).substr(
        start, end == std::string::npos ? std::string::npos : end - start);
    if (!ValidPathComponent(comp)) {
      return Bad(text, "invalid repository path component \"" + std::string(comp) + "\"");
    }
    if (end == std::string::npos) break;
    start = end + 1;
  }
  if (ref.Name().size() > 255) return Bad(text, "repository name longer than 255 characters");
  if (!ref.digest.empty()) {
    ref.tag.clear();
  } else if (ref.tag.empty()) {
    ref.tag = "latest";
  }
  return ref;
}

}  // namespace sampan::image
