// expect: a middleware takes (aio::http::request&, const aio::http::handler& next)
// A middleware written as a handler: it cannot call the next one.
#include <aio/http/server.hpp>

int main() {
    aio::http::application app;
    app.add_middleware([](aio::http::request&) { return aio::http::response::text("hi"); });
}
