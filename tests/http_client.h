// HttpCall: one HTTP/1.1 request with Boost.Beast, for tests of the HTTP
// endpoints rayk serves (the head's /metrics) and of the servers they start
// (Prometheus's API). Each call opens its own connection and closes it.
#pragma once

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <string>
#include <utility>
#include <vector>

namespace rayk::testing {

struct HttpResult {
  int status = 0;     // 0: no answer (error says why)
  std::string error;  // the connection's failure
  std::string body;
  std::string allow;         // the Allow header
  std::string content_type;  // the Content-Type header
  std::string set_cookie;    // the Set-Cookie header
};

using HttpHeaders = std::vector<std::pair<std::string, std::string>>;

// `method` is "GET", "POST" ...; `target` the path with its query.
inline HttpResult HttpCall(const std::string& host, int port, const std::string& method,
                           const std::string& target, const HttpHeaders& headers = {}) {
  namespace beast = boost::beast;
  namespace http = beast::http;
  using tcp = boost::asio::ip::tcp;
  HttpResult result;
  try {
    boost::asio::io_context io;
    tcp::resolver resolver(io);
    beast::tcp_stream stream(io);
    stream.expires_after(std::chrono::seconds(30));
    stream.connect(resolver.resolve(host, std::to_string(port)));
    http::request<http::string_body> request{http::string_to_verb(method), target, 11};
    request.set(http::field::host, host);
    for (const auto& [name, value] : headers) request.set(name, value);
    request.prepare_payload();
    http::write(stream, request);
    beast::flat_buffer buffer;
    http::response<http::string_body> response;
    http::read(stream, buffer, response);
    result.status = response.result_int();
    result.body = response.body();
    result.allow = std::string(response[http::field::allow]);
    result.content_type = std::string(response[http::field::content_type]);
    result.set_cookie = std::string(response[http::field::set_cookie]);
    beast::error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
  } catch (const std::exception& e) {
    result.error = e.what();
  }
  return result;
}

// GET http://ADDRESS/TARGET, ADDRESS being HOST:PORT.
inline HttpResult HttpGet(const std::string& address, const std::string& target,
                          const HttpHeaders& headers = {}) {
  auto colon = address.rfind(':');
  return HttpCall(address.substr(0, colon), std::stoi(address.substr(colon + 1)), "GET", target,
                  headers);
}

}  // namespace rayk::testing
