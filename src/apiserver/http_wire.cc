#include "apiserver/http_wire.h"

#include <boost/asio/buffer.hpp>
#include <boost/beast/core/buffers_range.hpp>
#include <boost/beast/http/serializer.hpp>
#include <boost/beast/http/status.hpp>

namespace sampan::apiserver {

namespace asio = boost::asio;
namespace beast = boost::beast;

std::string ResponseWire(http::response<http::string_body>& res, bool with_body) {
  std::string out;
  if (res.chunked()) {
    http::response_serializer<http::string_body> sr{res};
    sr.split(!with_body);
    beast::error_code ec;
    do {
      sr.next(ec, [&](beast::error_code&, const auto& buffers) {
        size_t n = 0;
        for (asio::const_buffer b : beast::buffers_range_ref(buffers)) {
          out.append(static_cast<const char*>(b.data()), b.size());
          n += b.size();
        }
        sr.consume(n);
      });
    } while (!ec && !(with_body ? sr.is_done() : sr.is_header_done()));
    return out;
  }
  const unsigned version = res.version(), code = res.result_int();
  beast::string_view reason = res.reason();
  if (reason.empty()) reason = http::obsolete_reason(static_cast<http::status>(code));
  size_t size = 13 + reason.size() + 2 + 2 + (with_body ? res.body().size() : 0);
  for (const auto& f : res) size += f.name_string().size() + 2 + f.value().size() + 2;
  out.reserve(size);
  out += "HTTP/";
  out += static_cast<char>('0' + version / 10);
  out += '.';
  out += static_cast<char>('0' + version % 10);
  out += ' ';
  out += static_cast<char>('0' + code / 100);
  out += static_cast<char>('0' + code / 10 % 10);
  out += static_cast<char>('0' + code % 10);
  out += ' ';
  out.append(reason.data(), reason.size());
  out += "\r\n";
  for (const auto& f : res) {
    out.append(f.name_string().data(), f.name_string().size());
    out += ": ";
    out.append(f.value().data(), f.value().size());
    out += "\r\n";
  }
  out += "\r\n";
  if (with_body) out += res.body();
  return out;
}

}  // namespace sampan::apiserver
