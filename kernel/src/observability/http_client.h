// HttpCall: one HTTP/1.1 request with Boost.Beast, for clients of the HTTP
// endpoints rayk serves (`rayk job` and the Jobs API, tests of /metrics and
// the dashboard) and of servers tests start (Prometheus's API). Each call
// opens its own connection and closes it. Thread-safe: calls share nothing.
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace rayk::observability {

struct HttpResult {
  int status = 0;     // 0: no answer (error says why)
  std::string error;  // the connection's failure
  std::string body;
  std::string allow;         // the Allow header
  std::string content_type;  // the Content-Type header
  std::string set_cookie;    // the Set-Cookie header
};

using HttpHeaders = std::vector<std::pair<std::string, std::string>>;

// `method` is "GET", "POST" ...; `target` the path with its query; `body`
// is sent as it is (set Content-Type among the headers).
HttpResult HttpCall(const std::string& host, int port, const std::string& method,
                    const std::string& target, const HttpHeaders& headers = {},
                    const std::string& body = "");

// GET http://ADDRESS/TARGET, ADDRESS being HOST:PORT.
HttpResult HttpGet(const std::string& address, const std::string& target,
                   const HttpHeaders& headers = {});

}  // namespace rayk::observability
