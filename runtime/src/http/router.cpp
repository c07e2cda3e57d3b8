// The HTTP server's routes and its application (aiohttp's web.Application): patterns,
// matching, middlewares, lifecycle hooks and storage.
#include "server_state.hpp"

#include <algorithm>

namespace aio::http {

namespace detail {

namespace {

std::vector<segment> parse_pattern(std::string_view path) {
    if (path.empty() || path.front() != '/') {
        throw value_error("http::application: route path '" + std::string(path) +
                          "' must start with '/'");
    }
    std::vector<segment> out;
    std::string_view rest = path.substr(1);
    for (;;) {
        std::size_t slash = rest.find('/');
        std::string_view part = rest.substr(0, slash);
        segment s;
        if (!part.empty() && part.front() == '{') {
            if (part.back() != '}' || part.size() < 3) {
                throw value_error("http::application: route path '" + std::string(path) +
                                  "': a parameter is written {name} or {name:*}, one whole "
                                  "segment");
            }
            std::string_view inner = part.substr(1, part.size() - 2);
            s.kind = segment::param;
            if (inner.size() > 2 && inner.substr(inner.size() - 2) == ":*") {
                s.kind = segment::tail;
                inner.remove_suffix(2);
                if (slash != std::string_view::npos) {
                    throw value_error("http::application: route path '" + std::string(path) +
                                      "': {" + std::string(inner) +
                                      ":*} matches the rest of the path and must come last");
                }
            }
            if (inner.empty() || inner.find_first_of("{}:/") != std::string_view::npos) {
                throw value_error("http::application: route path '" + std::string(path) +
                                  "': bad parameter name '" + std::string(inner) + "'");
            }
            s.text = std::string(inner);
        } else {
            if (part.find_first_of("{}") != std::string_view::npos) {
                throw value_error("http::application: route path '" + std::string(path) +
                                  "': '{' and '}' are only allowed around a whole segment");
            }
            s.text = std::string(part);
        }
        out.push_back(std::move(s));
        if (slash == std::string_view::npos) {
            break;
        }
        rest = rest.substr(slash + 1);
    }
    return out;
}

// Matches `path` ("/a/b") against the route's segments; fills `params` on success.
bool match_path(const route& r, std::string_view path,
                std::vector<std::pair<std::string, std::string>>* params) {
    std::string_view rest = path.substr(1);
    for (std::size_t i = 0; i < r.segments.size(); ++i) {
        const segment& seg = r.segments[i];
        if (seg.kind == segment::tail) {
            if (params != nullptr) {
                params->emplace_back(seg.text, std::string(rest));
            }
            return true;
        }
        std::size_t slash = rest.find('/');
        bool last_in_path = slash == std::string_view::npos;
        std::string_view part = rest.substr(0, slash);
        if (seg.kind == segment::literal) {
            if (part != seg.text) {
                return false;
            }
        } else {
            if (part.empty()) {
                return false;
            }
            if (params != nullptr) {
                params->emplace_back(seg.text, std::string(part));
            }
        }
        bool last_in_route = i + 1 == r.segments.size();
        if (last_in_route || last_in_path) {
            return last_in_route && last_in_path;
        }
        rest = rest.substr(slash + 1);
    }
    return false;
}

bool method_matches(const route& r, std::string_view method) {
    return r.method == "*" || r.method == method || (method == "HEAD" && r.method == "GET");
}

}  // namespace

response router::handle(request& req, request_data& d) const {
    std::string allowed;
    for (const route& r : routes) {
        if (!match_path(r, d.path, nullptr)) {
            continue;
        }
        if (method_matches(r, d.method)) {
            d.matched = &r;
            d.match.clear();
            match_path(r, d.path, &d.match);
            return r.fn(req);
        }
        std::string m = r.method == "GET" ? "GET, HEAD" : r.method;
        if (allowed.find(m) == std::string::npos) {
            allowed += allowed.empty() ? m : ", " + m;
        }
    }
    if (!allowed.empty()) {
        throw http_error(405, {}, {{"Allow", allowed}});
    }
    throw http_error(404);
}

}  // namespace detail

// ---------------------------------------------------------------------------------------
// application

application::application()
    : router_(std::make_unique<detail::router>()) {
}
application::~application() = default;

void application::require_unfrozen(const char* what) const {
    if (frozen_) {
        throw usage_error(std::string(what) +
                          ": the application is being served; add routes and middlewares "
                          "before starting it");
    }
}

void application::add_route(std::string_view method, std::string_view path, handler h) {
    require_unfrozen("http::application::add_route");
    if (method.empty() || (method != "*" && !std::all_of(method.begin(), method.end(), [](char c) {
                               return c >= 'A' && c <= 'Z';
                           }))) {
        throw value_error("http::application::add_route: method '" + std::string(method) +
                          "' should be an upper-case HTTP method (\"GET\", \"POST\", ...) or "
                          "\"*\"");
    }
    if (!h) {
        throw value_error("http::application::add_route: empty handler for " + std::string(method) +
                          " " + std::string(path));
    }
    detail::route r;
    r.method = std::string(method);
    r.pattern = std::string(path);
    r.segments = detail::parse_pattern(path);
    r.fn = std::move(h);
    router_->routes.push_back(std::move(r));
}

void application::add_get(std::string_view path, handler h) {
    add_route("GET", path, std::move(h));
}
void application::add_post(std::string_view path, handler h) {
    add_route("POST", path, std::move(h));
}
void application::add_put(std::string_view path, handler h) {
    add_route("PUT", path, std::move(h));
}
void application::add_delete(std::string_view path, handler h) {
    add_route("DELETE", path, std::move(h));
}
void application::add_patch(std::string_view path, handler h) {
    add_route("PATCH", path, std::move(h));
}

void application::add_middleware(middleware m) {
    require_unfrozen("http::application::add_middleware");
    if (!m) {
        throw value_error("http::application::add_middleware: empty middleware");
    }
    middlewares_.push_back(std::move(m));
}

response application::dispatch(request& req) const {
    if (chain_) {
        return chain_(req);
    }
    // Not served (a test calling dispatch directly): middlewares applied on the fly.
    handler h = [r = router_.get()](request& q) { return r->handle(q, *q.d_); };
    for (auto it = middlewares_.rbegin(); it != middlewares_.rend(); ++it) {
        h = [m = *it, next = std::move(h)](request& q) { return m(q, next); };
    }
    return h(req);
}

void application::missing_key(const std::string& name) {
    throw usage_error("http::application::get: no value stored under key '" + name +
                      "' (set it first, e.g. in an on_startup hook)");
}

void application::wrong_type(const std::string& name) {
    throw usage_error("http::application::get: the value under key '" + name +
                      "' has another type than the key's");
}

}  // namespace aio::http
