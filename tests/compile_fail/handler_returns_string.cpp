// expect: returns aio::http::response: return aio::http::response::text(...) for a text body
// A handler that returns std::string: aio does not guess a content type, the handler says
// which (docs/reference/http-server.md, "Handlers").
#include <aio/http/server.hpp>

#include <string>

int main() {
    aio::http::application app;
    app.add_get("/", [](aio::http::request&) { return std::string("hi"); });
}
