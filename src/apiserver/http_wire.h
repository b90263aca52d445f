// The bytes of an HTTP response as they go on the wire (internal to http_server.cc; declared
// here for its test).
#pragma once

#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <string>

namespace sampan::apiserver {

namespace http = boost::beast::http;

// The header of `res` and, when `with_body`, its body after it: exactly what Beast's serializer
// (http::async_write) sends for it (status line, each field as "name: value", a blank line), but
// written out directly, which costs a fraction of the serializer's buffer-sequence machinery.
// Small replies then go in one buffer, so in one TLS record and one send. A chunked message (none
// is: prepare_payload gives every reply a length) goes through the serializer.
std::string ResponseWire(http::response<http::string_body>& res, bool with_body);

}  // namespace sampan::apiserver
