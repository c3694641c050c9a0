// HttpServer: a small HTTP/1.1 server (Boost.Beast on Boost.Asio) for the
// head's endpoints, such as Prometheus's `/metrics` and the Jobs API.
//
// Each route maps an exact path to a function that makes the response body.
// Routes serve only GET: another method gets 405 (with `Allow: GET`), an
// unknown path 404, a request that does not parse 400. Under /api/ (the
// dashboard's JSON API) those errors are JSON too, {"error": "..."}, so
// that a script always gets JSON back. An API (`apis`, such as the Jobs
// API) owns a path prefix instead: every method on the prefix and every
// path below it goes to its handler, which sees the request and chooses the
// status; APIs always need the secret (below). Connections are kept
// alive as the client asks (Prometheus reuses one per target); a request
// whose header exceeds 16 KiB or whose body exceeds 64 KiB is refused, and a
// connection silent for 60 s is closed.
//
// Secret-guarded routes: started with a `secret` (the cluster secret), the
// server answers a guarded path only to a request that shows it, as
// `Authorization: Bearer SECRET`, or as the cookie `rayk_token=SECRET`. A
// browser gets that cookie by opening any path once with `?token=SECRET`
// (the server sets it, HttpOnly and SameSite=Strict), so a page's own
// requests carry it. Anything else gets 401 naming the ways; a wrong
// ?token= is refused on every path. Without a secret nothing is guarded.
// Every API path is guarded, as if listed in `guarded`.
//
// Thread-safety: routes are fixed at Start. The server runs one thread of
// its own, so route functions run there one at a time; they may block for
// a short while (the GCS's collects store statistics from raylets).
// Destroying the server closes the listener and every connection, then
// joins its thread.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>

#include "rayk/status.h"

namespace rayk::observability {

struct HttpResponse {
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
  int status = 200;
};
using HttpRoute = std::function<HttpResponse()>;

struct HttpRequest {
  std::string method;  // "GET", "POST" ...
  std::string path;    // without the query
  std::string query;   // after '?'; "" without one
  std::string body;
};
using HttpApi = std::function<HttpResponse(const HttpRequest&)>;

struct HttpAuth {
  std::string secret;             // "": no guard
  std::set<std::string> guarded;  // paths that need it
};

class HttpServer {
 public:
  // Listens on `host`:`port` (0: a free port) and serves `routes` by path
  // and `apis` by path prefix ("/api/jobs": itself and "/api/jobs/...").
  static Result<std::unique_ptr<HttpServer>> Start(const std::string& host, int port,
                                                   std::map<std::string, HttpRoute> routes,
                                                   HttpAuth auth = {},
                                                   std::map<std::string, HttpApi> apis = {});
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // The port it listens on.
  int port() const;

 private:
  struct State;
  explicit HttpServer(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

}  // namespace rayk::observability
