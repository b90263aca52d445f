#include "apiserver/http_wire.h"

#include <gtest/gtest.h>

#include <boost/beast/http.hpp>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

namespace sampan::apiserver {
namespace {

using Message = http::response<http::string_body>;

// A reply built as the HTTPS responder builds it.
Message Build(int status, std::string content_type, std::string body,
              std::vector<std::pair<std::string, std::string>> headers, bool keep_alive) {
  Message res{static_cast<http::status>(status), 11};
  res.set(http::field::content_type, content_type);
  res.set(http::field::cache_control, "no-cache, private");
  for (auto& [k, v] : headers) res.set(k, v);
  res.keep_alive(keep_alive);
  res.body() = std::move(body);
  res.prepare_payload();
  return res;
}

// What Beast's serializer sends for it.
std::string Serialized(const Message& res, bool with_body) {
  std::ostringstream os;
  if (with_body) {
    os << res;
  } else {
    os << res.base();
  }
  return os.str();
}

TEST(HttpWireTest, SameBytesAsBeastsSerializer) {
  std::string big(200000, 'x');
  struct Case {
    int status;
    std::string content_type, body;
    std::vector<std::pair<std::string, std::string>> headers;
    bool keep_alive;
  };
  std::vector<Case> cases = {
      {201, "application/json", R"({"kind":"ConfigMap"})", {}, true},
      {200, "application/json", "", {}, true},
      {404, "application/json", "{}", {}, false},
      {422, "application/json", "{\"code\":422}", {{"Warning", "299 - \"one\""}}, true},
      // Repeated names: each set() replaces the earlier one, as with Beast.
      {200, "text/plain", "ok", {{"Warning", "299 - \"a\""}, {"warning", "299 - \"b\""}}, true},
      // A handler's own Content-Type replaces the first; values are trimmed.
      {200,
       "application/json",
       "x",
       {{"Content-Type", "  text/plain  "}, {"Vary", "Accept"}},
       false},
      {299, "application/json", "odd status", {}, true},  // no reason phrase known
      {500, "application/json", big, {{"Audit-Id", "abc"}}, true},
      {101, "application/json", "", {{"Upgrade", "websocket"}}, true},
  };
  for (auto& c : cases) {
    Message res = Build(c.status, c.content_type, c.body, c.headers, c.keep_alive);
    for (bool with_body : {true, false}) {
      SCOPED_TRACE(std::to_string(c.status) + (with_body ? " with body" : " header only"));
      EXPECT_EQ(ResponseWire(res, with_body), Serialized(res, with_body));
    }
  }
}

TEST(HttpWireTest, ChunkedGoesThroughTheSerializer) {
  Message res{http::status::ok, 11};
  res.set(http::field::content_type, "application/json");
  res.chunked(true);
  EXPECT_EQ(ResponseWire(res, false), Serialized(res, false));
}

}  // namespace
}  // namespace sampan::apiserver
