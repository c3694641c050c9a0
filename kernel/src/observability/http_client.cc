#include "observability/http_client.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>

namespace rayk::observability {

HttpResult HttpCall(const std::string& host, int port, const std::string& method,
                    const std::string& target, const HttpHeaders& headers,
                    const std::string& body) {
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
    request.body() = body;
    request.prepare_payload();
    http::write(stream, request);
    beast::flat_buffer buffer;
    http::response_parser<http::string_body> parser;
    parser.body_limit(64 << 20);  // a job's log comes in pieces far below this
    http::read(stream, buffer, parser);
    auto& response = parser.get();
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

HttpResult HttpGet(const std::string& address, const std::string& target,
                   const HttpHeaders& headers) {
  auto colon = address.rfind(':');
  return HttpCall(address.substr(0, colon), std::stoi(address.substr(colon + 1)), "GET", target,
                  headers);
}

}  // namespace rayk::observability
