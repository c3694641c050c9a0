#include "observability/http_server.h"

#include <spdlog/spdlog.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <nlohmann/json.hpp>
#include <optional>
#include <string_view>
#include <thread>

namespace rayk::observability {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

constexpr size_t kMaxHeaderBytes = 16 << 10;
constexpr size_t kMaxBodyBytes = 64 << 10;
constexpr auto kIdleTimeout = std::chrono::seconds(60);

using Routes = std::map<std::string, HttpRoute>;
using Apis = std::map<std::string, HttpApi>;

// Compares in time independent of where they differ.
bool SameSecret(std::string_view given, std::string_view secret) {
  if (given.size() != secret.size()) return false;
  unsigned char difference = 0;
  for (size_t i = 0; i < secret.size(); ++i) difference |= given[i] ^ secret[i];
  return difference == 0;
}

// The value of `name` in a query string "a=1&b=2" or a Cookie header
// "a=1; b=2" (`separator` '&' or ';'); nullopt if absent.
std::optional<std::string_view> Field(std::string_view text, std::string_view name,
                                      char separator) {
  while (!text.empty()) {
    size_t end = text.find(separator);
    std::string_view item = text.substr(0, end);
    while (item.starts_with(' ')) item.remove_prefix(1);
    if (item.size() > name.size() && item.starts_with(name) && item[name.size()] == '=') {
      return item.substr(name.size() + 1);
    }
    if (end == std::string_view::npos) break;
    text.remove_prefix(end + 1);
  }
  return std::nullopt;
}

constexpr char kTokenCookie[] = "rayk_token";

// Beast's string_view (Boost's, before 1.81) as the standard one.
template <class View>
std::string_view Std(View view) {
  return std::string_view(view.data(), view.size());
}

// One client connection: read a request, answer it, repeat while kept alive.
class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, const Routes& routes, const Apis& apis, const HttpAuth& auth)
      : stream_(std::move(socket)), routes_(routes), apis_(apis), auth_(auth) {}

  void Read() {
    parser_.emplace();
    parser_->header_limit(kMaxHeaderBytes);
    parser_->body_limit(kMaxBodyBytes);
    stream_.expires_after(kIdleTimeout);
    http::async_read(
        stream_, buffer_, *parser_,
        [self = shared_from_this()](beast::error_code ec, size_t) { self->OnRead(ec); });
  }

 private:
  void OnRead(beast::error_code ec) {
    if (ec == http::error::end_of_stream || ec == beast::error::timeout ||
        ec == asio::error::operation_aborted || ec == asio::error::connection_reset) {
      Close();
      return;
    }
    if (ec) {  // not HTTP, or over a limit: answer once and close
      Write(Plain(http::status::bad_request, 11, "bad request: " + ec.message() + "\n", false));
      return;
    }
    Write(Answer(parser_->get()));
  }

  http::response<http::string_body> Plain(http::status status, unsigned version, std::string body,
                                          bool keep_alive) {
    http::response<http::string_body> response{status, version};
    response.set(http::field::content_type, "text/plain; charset=utf-8");
    response.body() = std::move(body);
    response.keep_alive(keep_alive);
    response.prepare_payload();
    return response;
  }

  // An error about `path`: JSON under /api/, plain text elsewhere.
  http::response<http::string_body> Error(http::status status, unsigned version,
                                          const std::string& path, const std::string& message,
                                          bool keep_alive) {
    if (!path.starts_with("/api/")) return Plain(status, version, message + "\n", keep_alive);
    auto response = Plain(status, version, JsonError(message), keep_alive);
    response.set(http::field::content_type, "application/json");
    response.prepare_payload();
    return response;
  }

  static std::string JsonError(const std::string& message) {
    return nlohmann::json{{"error", message}}.dump(-1, ' ', false,
                                                   nlohmann::json::error_handler_t::replace) +
           "\n";
  }

  http::response<http::string_body> Answer(const http::request<http::string_body>& request) {
    std::string_view target = Std(request.target());
    std::string path(target.substr(0, target.find('?')));  // Prometheus may add query parameters
    auto route = routes_.find(path);
    const HttpApi* api = route == routes_.end() ? FindApi(path) : nullptr;
    if (route == routes_.end() && api == nullptr) {
      std::string known;
      for (const auto& [name, fn] : routes_) known += (known.empty() ? "" : ", ") + name;
      for (const auto& [prefix, fn] : apis_) known += (known.empty() ? "" : ", ") + prefix + "/...";
      return Error(http::status::not_found, request.version(), path,
                   "no such path: " + path + " (this server has " + known + ")",
                   request.keep_alive());
    }
    if (api == nullptr && request.method() != http::verb::get) {
      auto response =
          Error(http::status::method_not_allowed, request.version(), path,
                std::string(request.method_string()) + " is not allowed on " + path + "; use GET",
                request.keep_alive());
      response.set(http::field::allow, "GET");
      return response;
    }
    std::string query;
    std::optional<std::string_view> query_token;
    if (size_t q = target.find('?'); q != std::string_view::npos) {
      query = target.substr(q + 1);
      query_token = Field(target.substr(q + 1), "token", '&');
    }
    if (!auth_.secret.empty()) {
      if (query_token && !SameSecret(*query_token, auth_.secret)) {
        return Unauthorized(request, path, "the ?token= given is not this cluster's secret");
      }
      bool guarded = api != nullptr || auth_.guarded.count(path) > 0;
      if (guarded && !query_token && !Authorized(request)) {
        return Unauthorized(request, path, path + " needs the cluster secret");
      }
    }
    HttpResponse made =
        api != nullptr
            ? (*api)(HttpRequest{std::string(request.method_string()), path, query, request.body()})
            : route->second();
    http::response<http::string_body> response{static_cast<http::status>(made.status),
                                               request.version()};
    if (!auth_.secret.empty() && query_token) {
      response.set(http::field::set_cookie, std::string(kTokenCookie) + "=" + auth_.secret +
                                                "; Path=/; HttpOnly; SameSite=Strict");
    }
    response.set(http::field::content_type, made.content_type);
    response.set(http::field::cache_control, "no-store");  // live data; files of this version
    response.body() = std::move(made.body);
    response.keep_alive(request.keep_alive());
    response.prepare_payload();
    return response;
  }

  // The API owning `path`: the one whose prefix is `path` or a folder above it.
  const HttpApi* FindApi(const std::string& path) const {
    for (const auto& [prefix, api] : apis_) {
      if (path == prefix || (path.starts_with(prefix) && path[prefix.size()] == '/')) return &api;
    }
    return nullptr;
  }

  // Whether `request` shows the secret in its Authorization or Cookie header.
  bool Authorized(const http::request<http::string_body>& request) const {
    std::string_view authorization = Std(request[http::field::authorization]);
    if (authorization.starts_with("Bearer ") && SameSecret(authorization.substr(7), auth_.secret)) {
      return true;
    }
    auto cookie = Field(Std(request[http::field::cookie]), kTokenCookie, ';');
    return cookie && SameSecret(*cookie, auth_.secret);
  }

  http::response<http::string_body> Unauthorized(const http::request<http::string_body>& request,
                                                 const std::string& path, const std::string& why) {
    auto response = Error(http::status::unauthorized, request.version(), path,
                          why +
                              ": send 'Authorization: Bearer TOKEN', or open the dashboard "
                              "once as /?token=TOKEN (TOKEN: the cluster's auth_token file)",
                          request.keep_alive());
    response.set(http::field::www_authenticate, "Bearer");
    return response;
  }

  void Write(http::response<http::string_body> response) {
    response_ = std::move(response);
    http::async_write(stream_, response_,
                      [self = shared_from_this()](beast::error_code ec, size_t) {
                        if (ec || !self->response_.keep_alive()) {
                          self->Close();
                          return;
                        }
                        self->Read();
                      });
  }

  void Close() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
  }

  beast::tcp_stream stream_;
  const Routes& routes_;
  const Apis& apis_;
  const HttpAuth& auth_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  http::response<http::string_body> response_;
};

}  // namespace

struct HttpServer::State {
  Routes routes;
  Apis apis;
  HttpAuth auth;
  asio::io_context io{1};
  tcp::acceptor acceptor{io};
  std::thread thread;

  void Accept() {
    acceptor.async_accept(asio::make_strand(io), [this](beast::error_code ec, tcp::socket socket) {
      if (ec == asio::error::operation_aborted) return;
      if (!ec) std::make_shared<Session>(std::move(socket), routes, apis, auth)->Read();
      Accept();
    });
  }
};

HttpServer::HttpServer(std::unique_ptr<State> state) : state_(std::move(state)) {}

Result<std::unique_ptr<HttpServer>> HttpServer::Start(const std::string& host, int port,
                                                      std::map<std::string, HttpRoute> routes,
                                                      HttpAuth auth,
                                                      std::map<std::string, HttpApi> apis) {
  auto state = std::make_unique<State>();
  state->routes = std::move(routes);
  state->apis = std::move(apis);
  state->auth = std::move(auth);
  beast::error_code ec;
  auto address = asio::ip::make_address(host, ec);
  if (ec) return Status::InvalidArgument("HTTP server: '" + host + "' is not an IP address");
  tcp::endpoint endpoint(address, static_cast<uint16_t>(port));
  state->acceptor.open(endpoint.protocol(), ec);
  if (!ec) state->acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) state->acceptor.bind(endpoint, ec);
  if (!ec) state->acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return Status::Unavailable("HTTP server: cannot listen on " + host + ":" +
                               std::to_string(port) + ": " + ec.message() +
                               (port != 0 ? "; choose another port, or 0 for any free one" : ""));
  }
  State* raw = state.get();
  raw->Accept();
  raw->thread = std::thread([raw] { raw->io.run(); });
  return std::unique_ptr<HttpServer>(new HttpServer(std::move(state)));
}

HttpServer::~HttpServer() {
  // Stopping the context drops every pending operation, and with them the
  // sessions they hold, once the thread has returned.
  state_->io.stop();
  if (state_->thread.joinable()) state_->thread.join();
}

int HttpServer::port() const { return state_->acceptor.local_endpoint().port(); }

}  // namespace rayk::observability
